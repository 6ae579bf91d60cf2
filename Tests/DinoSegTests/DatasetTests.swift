import XCTest
@testable import Shared

final class DatasetTests: XCTestCase {
    func smallSynth(_ dir: String, train: Int = 3, val: Int = 2, seed: UInt64 = 5) throws -> SyntheticDatasetConfig {
        try writeSyntheticData(to: dir, train: train, val: val, seed: seed, sides: 40...90)
    }

    func testSyntheticDatasetLayoutDeterminismAndLabels() throws {
        let dir = try makeTempDir("synth")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try smallSynth(dir)
        let ds = try SegmentationDataset(root: dir, list: "train")
        XCTAssertEqual(ds.samples.map(\.id), ["synth_train_00000", "synth_train_00001", "synth_train_00002"])
        XCTAssertEqual(ds.samples[0].labelPath, dir + "/SegmentationClass/synth_train_00000.png")
        try ds.checkFilesExist()
        var seen = Set<UInt8>()
        for s in ds.samples {
            let (img, lab) = try loadSample(s)
            XCTAssertTrue((40...90).contains(img.width) && (40...90).contains(img.height))
            seen.formUnion(lab.pixels)
        }
        XCTAssertTrue(seen.contains(0) && seen.contains(255), "seed 5: background and void present, saw \(seen.sorted())")
        XCTAssertTrue(seen.isSubset(of: Set(([0, 255] + c.objectClasses).map { UInt8($0) })), "seed 5: \(seen.sorted())")
        // Same seed → same pixels; another seed → different.
        let image = Data(SyntheticDataset.render(split: 0, index: 1, config: c).0.pixels)
        XCTAssertNil(byteDifference(Data(SyntheticDataset.render(split: 0, index: 1, config: c).0.pixels), image), "seed 5: train image 1 rendered twice")
        var other = c; other.seed = 6
        XCTAssertNotNil(byteDifference(Data(SyntheticDataset.render(split: 0, index: 1, config: other).0.pixels), image),
                        "seeds 5 and 6 render the same train image 1")
        XCTAssertEqual(try SegmentationDataset(root: dir, list: "val").samples.count, 2)
    }

    func testPairListsAndBadInputsNameTheFile() throws {
        let dir = try makeTempDir("badin")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try smallSynth(dir, train: 2, val: 0)
        let pairs = "JPEGImages/synth_train_00000.jpg SegmentationClass/synth_train_00000.png\n\n"
            + "JPEGImages/synth_train_00001.jpg SegmentationClass/synth_train_00001.png\n"
        try pairs.write(toFile: dir + "/pairs.txt", atomically: true, encoding: .utf8)
        let ds = try SegmentationDataset(root: dir, list: dir + "/pairs.txt")
        XCTAssertEqual(ds.samples.map(\.id), ["synth_train_00000", "synth_train_00001"])
        XCTAssertEqual(ds.samples[1].imagePath, dir + "/JPEGImages/synth_train_00001.jpg")

        // Missing list entries.
        try "synth_train_00000\nnope_1\n".write(toFile: dir + "/missing.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SegmentationDataset(root: dir, list: dir + "/missing.txt").checkFilesExist()) {
            XCTAssertTrue("\($0)".contains("missing.txt: 2 listed file(s) missing: \(dir)/JPEGImages/nope_1.jpg"), "\($0)")
        }
        XCTAssertThrowsError(try SegmentationDataset(root: dir, list: "nolist")) { XCTAssertTrue("\($0)".contains("list file not found")) }

        // Label value 37 and size mismatch.
        let s = ds.samples[0]
        let (img, lab) = try loadSample(s)
        var bad = lab
        bad.pixels[5] = 37
        try ImageIO.writeLabelPNG(bad, to: s.labelPath)
        XCTAssertThrowsError(try loadSample(s)) { XCTAssertEqual("\($0)", "\(s.labelPath): label value 37 (expected 0–20 or 255)") }
        try ImageIO.writeLabelPNG(LabelImage(width: img.width + 1, height: img.height, pixels: [UInt8](repeating: 0, count: (img.width + 1) * img.height)), to: s.labelPath)
        XCTAssertThrowsError(try loadSample(s)) {
            XCTAssertEqual("\($0)", "\(s.labelPath): label is \(img.width + 1)x\(img.height) but its image is \(img.width)x\(img.height)")
        }
    }
}
