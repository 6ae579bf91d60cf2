import XCTest
@testable import Shared

final class SupportTests: XCTestCase {
    func testVOCPalette() {
        let p = VOC.palette
        XCTAssertEqual(Array(p[3..<6]), [128, 0, 0])
        XCTAssertEqual(Array(p[6..<9]), [0, 128, 0])
        XCTAssertEqual(Array(p[15 * 3..<15 * 3 + 3]), [192, 128, 128])  // person
        XCTAssertEqual(Array(p[255 * 3..<255 * 3 + 3]), [224, 224, 192])
    }

    func testSafetensorsRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dinoseg-st-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("t.safetensors").path
        try SafetensorsFile.write(path: path, floats: [("b.w", [2, 3], [1, 2, 3, 4, 5, 6]), ("a", [1], [-1.5])],
                                  integers: [("step", [1], [42])], metadata: ["format": "pt"])
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.names, ["a", "b.w", "step"])
        XCTAssertEqual(try f.floats("b.w"), [1, 2, 3, 4, 5, 6])
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
