import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegData

final class SupportTests: XCTestCase {
    func testVOCPalette() {
        let p = VOC.palette
        XCTAssertEqual(Array(p[3..<6]), [128, 0, 0])
        XCTAssertEqual(Array(p[6..<9]), [0, 128, 0])
        XCTAssertEqual(Array(p[15 * 3..<15 * 3 + 3]), [192, 128, 128])  // person
        XCTAssertEqual(Array(p[255 * 3..<255 * 3 + 3]), [224, 224, 192])
    }

    func testSafetensorsRoundTrip() throws {
        let dir = URL(fileURLWithPath: try tempDir("safetensors-roundtrip"))
        let path = dir.appendingPathComponent("t.safetensors").path
        try SafetensorsFile.write(path: path, floats: [("b.w", [2, 3], [1, 2, 3, 4, 5, 6]), ("a", [1], [-1.5])],
                                  integers: [("step", [1], [42])], metadata: ["format": "pt"])
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.names, ["a", "b.w", "step"])
        assertClose(try f.floats("b.w"), [1, 2, 3, 4, 5, 6] as [Float], rtol: 0, shape: [2, 3], seed: nil, what: "tensor b.w read back")
        XCTAssertEqual(f.tensors["b.w"]?.shape, [2, 3])
        XCTAssertEqual(try f.integers("step"), [42])
        XCTAssertEqual(f.metadata["format"], "pt")
        XCTAssertThrowsError(try f.floats("missing")) { XCTAssertTrue("\($0)".contains("missing tensor 'missing'")) }
        // Truncation is detected and named.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 4).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafetensorsFile(path: path)) { XCTAssertTrue("\($0)".contains("truncated")) }
    }
}

final class GeometryTests: XCTestCase {
    func testWindowStartsLastAligned() {
        XCTAssertEqual(SlidingWindow.starts(length: 224), [0])
        XCTAssertEqual(SlidingWindow.starts(length: 512), [0, 150, 288])
        XCTAssertEqual(SlidingWindow.starts(length: 374), [0, 150])
        XCTAssertEqual(SlidingWindow.starts(length: 375), [0, 150, 151])
        XCTAssertEqual(SlidingWindow.windows(height: 224, width: 512).map { [$0.y, $0.x] }, [[0, 0], [0, 150], [0, 288]])
    }

    func testEvalGeometry() {
        let g = EvalGeometry(height: 375, width: 500)
        XCTAssertEqual([g.resizedHeight, g.resizedWidth, g.paddedHeight, g.paddedWidth], [384, 512, 384, 512])
        let thin = EvalGeometry(height: 100, width: 500)
        XCTAssertEqual([thin.resizedHeight, thin.paddedHeight, thin.padTop], [102, 224, 61])
    }

    /// Bilinear resize against values computed with torch.nn.functional.interpolate(align_corners=False).
    func testBilinearMatchesPyTorch() {
        // 1×1×2×3 input [[0,1,2],[3,4,5]] resized to 3×4.
        let src: [Float] = [0, 1, 2, 3, 4, 5]
        var dst = [Float](repeating: 0, count: 12)
        resizeBilinear(src: src, inH: 2, inW: 3, channels: 1, dst: &dst, outH: 3, outW: 4)
        let torch: [Float] = [0.0, 0.625, 1.375, 2.0, 1.5, 2.125, 2.875, 3.5, 3.0, 3.625, 4.375, 5.0]
        assertClose(dst, torch, rtol: 0, atol: 1e-6, shape: [3, 4], seed: nil, what: "bilinear 2x3 → 3x4 vs torch")
    }
}
