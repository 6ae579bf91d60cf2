import XCTest
@testable import DinoSegCore

final class ImageIOTests: XCTestCase {
    func testPNGRoundTripRGBGreyAndPalette() throws {
        let dir = try tempDir("imgio")
        let rgb = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
        try ImageIO.writePNG(rgb, to: dir + "/a.png")
        XCTAssertEqual(try ImageIO.readRGB(dir + "/a.png"), rgb)

        try ImageIO.writeGreyPNG([0, 50, 100, 255], width: 2, height: 2, to: dir + "/g.png")
        XCTAssertEqual(try ImageIO.readRGB(dir + "/g.png").pixels, [0, 0, 0, 50, 50, 50, 100, 100, 100, 255, 255, 255])
        XCTAssertEqual(try ImageIO.readLabel(dir + "/g.png").pixels, [0, 50, 100, 255])

        // Palette labels read back as raw indices, not colours.
        let label = LabelImage(width: 4, height: 1, pixels: [0, 1, 15, 255])
        try ImageIO.writeLabelPNG(label, to: dir + "/l.png")
        XCTAssertEqual(try ImageIO.readLabel(dir + "/l.png"), label)
        XCTAssertEqual(try ImageIO.readRGB(dir + "/l.png").pixels, [0, 0, 0, 128, 0, 0, 192, 128, 128, 224, 224, 192])
        // A colour PNG is not a label.
        XCTAssertThrowsError(try ImageIO.readLabel(dir + "/a.png")) { XCTAssertTrue("\($0)".contains("a.png")) }
    }

    func testJPEGRoundTripAndTruncation() throws {
        let dir = try tempDir("jpeg")
        var px = [UInt8](repeating: 0, count: 32 * 24 * 3)
        for i in 0..<(32 * 24) { px[3 * i] = 200; px[3 * i + 1] = UInt8(i % 32 * 4); px[3 * i + 2] = 40 }
        let img = RGBImage(width: 32, height: 24, pixels: px)
        let path = dir + "/x.jpg"
        try ImageIO.writeJPEG(img, to: path, quality: 95)
        let back = try ImageIO.readRGB(path)
        XCTAssertEqual(back.width, 32); XCTAssertEqual(back.height, 24)
        let maxDiff = zip(back.pixels, img.pixels).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThan(maxDiff, 12, "JPEG q95 round trip differs by \(maxDiff)")

        // Truncated: the error names the file and says what is wrong.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ImageIO.readRGB(path)) {
            XCTAssertTrue("\($0)".hasPrefix(path + ": truncated or corrupt JPEG"), "\($0)")
        }
        XCTAssertThrowsError(try ImageIO.readRGB(dir + "/missing.jpg")) { XCTAssertTrue("\($0)".contains("file not found")) }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir + "/t.jpg"))
        XCTAssertThrowsError(try ImageIO.readRGB(dir + "/t.jpg")) { XCTAssertTrue("\($0)".contains("not a JPEG or PNG")) }
        // Nothing but the written files remain (atomic writes leave no temporaries).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["t.jpg", "x.jpg"])
    }

    func testColouriseAndOverlay() throws {
        let label = LabelImage(width: 2, height: 1, pixels: [1, 255])
        XCTAssertEqual(ImageIO.colourise(label).pixels, [128, 0, 0, 224, 224, 192])
        let photo = RGBImage(width: 2, height: 1, pixels: [0, 100, 200, 10, 20, 30])
        let o = try ImageIO.overlay(label, on: photo, alpha: 0.5)
        XCTAssertEqual(o.pixels, [64, 50, 100, 10, 20, 30])
    }
}
