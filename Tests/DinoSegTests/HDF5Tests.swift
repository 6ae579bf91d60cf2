import XCTest
@testable import DinoSegCore

final class HDF5Tests: XCTestCase {
    func testRoundTripAllTypesAndAttributes() throws {
        let dir = try tempDir("h5")
        let path = dir + "/t.h5"
        let f = try HDF5File.create(path)
        let a = try f.createDataset("a16", dtype: .f16, shape: [3, 2, 2])
        let values: [Float] = (0..<12).map { Float($0) * 0.5 - 2 }
        try a.writeFloats(rows: 0, Array(values[0..<4]))
        try a.writeFloats(rows: 1, Array(values[4..<12]))
        try a.setAttribute("note", string: "héllo")
        let b = try f.createDataset("b32", dtype: .f32, shape: [2, 3])
        try b.writeFloats(rows: 0, [1.25, -3, 1e-8, 4, 5, 6])
        let u = try f.createDataset("u", dtype: .u8, shape: [4], chunk: [4])
        try u.writeUInt8(rows: 0, [0, 7, 255, 3])
        let i = try f.createDataset("i", dtype: .i32, shape: [2, 2])
        try i.writeInt32(rows: 0, [Int32(-1), 2, 3, Int32.max])
        let l = try f.createDataset("l", dtype: .i64, shape: [0], chunk: [1024], extendable: true)
        try l.extend(rows: 3)
        try l.writeInt64(rows: 0, [Int64(1) << 40, -5, 0])
        try f.setAttribute("manifest", string: "{\"x\":1}")
        try f.setAttribute("count", int: 42)
        try f.close()

        let g = try HDF5File.open(path)
        XCTAssertEqual(g.datasetNames(), ["a16", "b32", "i", "l", "u"])
        let a2 = try g.dataset("a16")
        XCTAssertEqual(a2.dtype, .f16); XCTAssertEqual(a2.shape, [3, 2, 2])
        assertClose(try a2.read(Float.self), values, rtol: 0, shape: [3, 2, 2], seed: nil, what: "f16 dataset a16")  // multiples of 0.5 are exact in f16
        assertClose(try a2.read(Float.self, rows: 2, count: 1), values[8..<12], rtol: 0, seed: nil, what: "row 2 of a16")
        XCTAssertEqual(try a2.stringAttribute("note"), "héllo")
        assertClose(try g.dataset("b32").read(Float.self), [1.25, -3, 1e-8, 4, 5, 6] as [Float], rtol: 0, shape: [2, 3], seed: nil, what: "f32 dataset b32")
        XCTAssertEqual(try g.dataset("u").read(UInt8.self), [0, 7, 255, 3])
        XCTAssertEqual(try g.dataset("i").read(Int32.self), [-1, 2, 3, Int32.max])
        XCTAssertEqual(try g.dataset("l").read(Int64.self), [Int64(1) << 40, -5, 0])
        XCTAssertEqual(try g.stringAttribute("manifest"), "{\"x\":1}")
        XCTAssertEqual(try g.intAttribute("count"), 42)
        XCTAssertThrowsError(try g.dataset("nope")) { XCTAssertEqual("\($0)", "\(path): missing dataset 'nope'") }
        XCTAssertThrowsError(try g.dataset("u").read(Float.self)) { XCTAssertTrue("\($0)".contains("dataset 'u'")) }
        XCTAssertThrowsError(try a2.read(Float.self, rows: 2, count: 2)) { XCTAssertTrue("\($0)".contains("outside")) }
        try g.close()

        // h5py sees numpy float16 and the string attribute as str.
        if let out = try runPythonWithH5py("""
            import h5py
            f = h5py.File('\(path)', 'r')
            print(f['a16'].dtype, f['a16'].shape, f['a16'][1, 0, 1], f['u'].dtype, f['l'].dtype, f.attrs['manifest'], f.attrs['count'])
            """) {
            XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "float16 (3, 2, 2) 0.5 uint8 int64 {\"x\":1} 42")
        }

        // A truncated file is refused with its name.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 3).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try { let h = try HDF5File.open(path); _ = try h.dataset("a16").read(Float.self) }()) {
            XCTAssertTrue("\($0)".hasPrefix(path), "\($0)")
        }
    }
}
