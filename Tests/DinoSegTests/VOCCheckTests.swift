import XCTest
@testable import DinoSegData

final class VOCCheckTests: XCTestCase {
    func touch(_ path: String) { _ = FileManager.default.createFile(atPath: path, contents: Data()) }

    func testBuildsTrainAugAndChecksSplits() throws {
        let root = try tempDir("voc")
        let fm = FileManager.default
        for d in ["JPEGImages", "SegmentationClass", "SegmentationClassAug", "ImageSets/Segmentation", "benchmark_RELEASE/dataset"] {
            try fm.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
        let all = ["a", "b", "c", "d", "e", "f"]
        for id in all { touch("\(root)/JPEGImages/\(id).jpg"); touch("\(root)/SegmentationClassAug/\(id).png") }
        for id in ["a", "b", "e"] { touch("\(root)/SegmentationClass/\(id).png") }
        try "a\nb\n".write(toFile: "\(root)/ImageSets/Segmentation/train.txt", atomically: true, encoding: .utf8)
        try "e\n".write(toFile: "\(root)/ImageSets/Segmentation/val.txt", atomically: true, encoding: .utf8)

        // No SBD lists yet: says what to download.
        var r = VOCCheck.run(root: root, expectedTrainAug: 4, expectedVal: 1)
        XCTAssertTrue(r.problems.contains { $0.contains("benchmark.tgz") }, "\(r.problems)")

        // SBD train {c, d, e}, val {b, f}: train_aug = {a, b} ∪ {c, d, e} ∪ {b, f} − {e} = a b c d f.
        try "c\nd\ne\n".write(toFile: "\(root)/benchmark_RELEASE/dataset/train.txt", atomically: true, encoding: .utf8)
        try "b\nf\n".write(toFile: "\(root)/benchmark_RELEASE/dataset/val.txt", atomically: true, encoding: .utf8)
        r = VOCCheck.run(root: root, expectedTrainAug: 5, expectedVal: 1)
        XCTAssertEqual(r.problems, [])
        XCTAssertEqual(try String(contentsOfFile: "\(root)/ImageSets/Segmentation/train_aug.txt", encoding: .utf8), "a\nb\nc\nd\nf\n")

        // Default expectations (10582 / 1449) are reported as mismatches; a missing Aug label is named.
        try fm.removeItem(atPath: "\(root)/SegmentationClassAug/d.png")
        r = VOCCheck.run(root: root)
        XCTAssertTrue(r.problems.contains { $0.contains("5 ids, expected 10582") })
        XCTAssertTrue(r.problems.contains { $0.contains("1 ids, expected 1449") })
        XCTAssertTrue(r.problems.contains { $0.contains("labels missing in SegmentationClassAug (e.g. d.png)") }, "\(r.problems)")
        XCTAssertTrue(VOCCheck.run(root: root + "/nope").problems[0].contains("VOCtrainval_11-May-2012.tar"))
    }
}
