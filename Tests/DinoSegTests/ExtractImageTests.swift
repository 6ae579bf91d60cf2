import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCLI

/// `extract image` end to end: PNG/JPEG in, HDF5 stage maps out, equal to the backbone's own forward pass.
final class ExtractImageTests: XCTestCase {
    private var goldenDir: String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/golden-small").path }

    private func randomImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        return RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    func testImageFeaturesMatchForward() throws {
        let dir = try tempDir("img")
        let image = randomImage(width: 101, height: 70, seed: 5)  // not multiples of 32: floor division
        try ImageIO.writePNG(image, to: dir + "/a.png")
        let backbone = try ConvNeXtBackbone(weightsPath: goldenDir)
        var input = [Float](repeating: 0, count: image.pixels.count)
        ConvNeXtInput.normalize(rgb: image.pixels, pixels: 101 * 70, output: &input)
        let ref = backbone.forward(image: input, height: 70, width: 101, stages: [0, 1, 2, 3])
        XCTAssertEqual(ref.map { [$0.height, $0.width] }, [[17, 25], [8, 12], [4, 6], [2, 3]])

        try runCommand(ExtractCommand.self, ["image", dir + "/a.png", "--weights", goldenDir, "--out", dir + "/a.h5"])
        let f = try HDF5File.open(dir + "/a.h5")
        for s in 0..<4 {
            let ds = try f.dataset("stage\(s)")
            XCTAssertEqual(ds.shape, [1, ref[s].height, ref[s].width, ref[s].channels])
            XCTAssertEqual(ds.dtype, .f32)
            assertClose(try ds.read(Float.self), ref[s].data, rtol: 0, shape: ds.shape, seed: 5, what: "a.h5 stage \(s) vs forward")
        }
        XCTAssertEqual(try f.stringAttribute("weights_sha256"), backbone.weightsSHA256)
        XCTAssertEqual(try f.intAttribute("input_width"), 101)
        try f.close()

        // --half stores float16; --resize resizes to N×N first.
        try runCommand(ExtractCommand.self, ["image", dir + "/a.png", "--weights", goldenDir + "/model.safetensors", "--out", dir + "/b.h5", "--half", "--resize", "64"])
        let g = try HDF5File.open(dir + "/b.h5")
        let s0 = try g.dataset("stage0")
        XCTAssertEqual(s0.dtype, .f16)
        XCTAssertEqual(s0.shape, [1, 16, 16, 16])
        var resized = [Float](repeating: 0, count: 64 * 64 * 3)
        resizeBilinear(src: image.pixels.map(Float.init), inH: 70, inW: 101, channels: 3, dst: &resized, outH: 64, outW: 64)
        ConvNeXtInput.normalize(rgb: resized, pixels: 64 * 64, output: &resized)
        let ref64 = backbone.forward(image: resized, height: 64, width: 64, stages: [0])[0].data
        let got = try s0.read(Float.self)
        assertClose(got, ref64.map { Float(Float16($0)) }, rtol: 0, shape: s0.shape, seed: 5, what: "b.h5 stage 0 vs forward rounded to f16")
        try g.close()
    }

    func testBadImages() throws {
        let dir = try tempDir("img")
        func fails(_ args: [String], _ part: String, line: UInt = #line) {
            XCTAssertThrowsError(try runCommand(ExtractCommand.self, args), line: line) { XCTAssertTrue("\($0)".contains(part), "'\($0)' lacks '\(part)'", line: line) }
        }
        try Data("not an image at all".utf8).write(to: URL(fileURLWithPath: dir + "/bad.png"))
        fails(["image", dir + "/bad.png", "--weights", goldenDir, "--out", dir + "/x.h5"], "bad.png")
        try ImageIO.writeJPEG(randomImage(width: 64, height: 64, seed: 6), to: dir + "/t.jpg")
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: dir + "/t.jpg"))
        try jpeg.prefix(jpeg.count / 3).write(to: URL(fileURLWithPath: dir + "/t.jpg"))
        fails(["image", dir + "/t.jpg", "--weights", goldenDir, "--out", dir + "/x.h5"], "t.jpg")
        try ImageIO.writePNG(randomImage(width: 20, height: 40, seed: 7), to: dir + "/small.png")
        fails(["image", dir + "/small.png", "--weights", goldenDir, "--out", dir + "/x.h5"], "at least 32×32")
        fails(["image", dir + "/missing.png", "--weights", goldenDir, "--out", dir + "/x.h5"], "missing.png")
        try ImageIO.writePNG(randomImage(width: 40, height: 40, seed: 8), to: dir + "/ok.png")
        fails(["image", dir + "/ok.png", "--weights", dir + "/no-weights", "--out", dir + "/x.h5"], "no-weights")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.h5"), "no output on failure")
    }
}
