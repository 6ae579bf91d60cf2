import XCTest
@testable import DinoSegCore
@testable import DinoSegCLI

/// The data subcommands end to end through their argument parsing.
final class ExtractDataCLITests: XCTestCase {
    func testSynthPreviewCheckVOCAndVerify() throws {
        let tmp = try tempDir("cli")
        var synth = try ExtractSynth.parseAsRoot(["--out", tmp + "/d", "--train", "3", "--val", "1", "--seed", "2",
                                                  "--classes", "3", "--min-side", "50", "--max-side", "80"])
        try synth.run()
        XCTAssertEqual(try String(contentsOfFile: tmp + "/d/ImageSets/Segmentation/val.txt", encoding: .utf8), "synth_val_00000\n")
        let labels = try (0..<3).map { try ImageIO.readLabel(tmp + "/d/SegmentationClass/synth_train_0000\($0).png") }
        let values = Set(labels.flatMap(\.pixels))
        XCTAssertTrue(values.isSubset(of: [0, 1, 7, 14, 255]), "seed 2, classes 3: \(values.sorted())")

        var preview = try ExtractPreview.parseAsRoot(["--data", tmp + "/d", "--list", "train", "--views", "2", "--count", "2",
                                                      "--out", tmp + "/p"])
        try preview.run()
        let sheet = try ImageIO.readRGB(tmp + "/p/contact-sheet.png")
        XCTAssertEqual([sheet.width, sheet.height], [4 * 224 + 5 * 4, 2 * 224 + 3 * 4])
        let crop = try ImageIO.readRGB(tmp + "/p/synth_train_00001-view1.png")
        XCTAssertEqual([crop.width, crop.height], [224, 224])
        // The sheet's second row, first tile is that image's view 0 crop.
        let v0 = try ImageIO.readRGB(tmp + "/p/synth_train_00001-view0.png")
        XCTAssertEqual(Array(sheet.pixels[((4 + 224 + 4) * sheet.width + 4) * 3..<((4 + 224 + 4) * sheet.width + 4) * 3 + 3]),
                       Array(v0.pixels[0..<3]))

        XCTAssertThrowsError(try { var c = try ExtractCheckVOC.parseAsRoot([tmp + "/d", "--dry-run"]); try c.run() }()) {
            XCTAssertTrue("\($0)".contains("problem(s) found"), "\($0)")
        }
        XCTAssertThrowsError(try { var c = try ExtractVerify.parseAsRoot([tmp + "/p"]); try c.run() }()) {
            XCTAssertTrue("\($0)".contains("no cache manifest here"), "\($0)")
        }
        XCTAssertThrowsError(try ExtractTrain.parseAsRoot(["--data", tmp + "/d", "--list", "train", "--weights", "w", "--out", "o",
                                                           "--stages", "0,5"])) {
            XCTAssertTrue(ExtractTrain.message(for: $0).contains("--stages"), ExtractTrain.message(for: $0))
        }
    }
}
