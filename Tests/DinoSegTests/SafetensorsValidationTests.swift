import XCTest
@testable import DinoSegCore

/// Hostile safetensors headers: every one is refused with one line naming the file and the tensor.
final class SafetensorsValidationTests: XCTestCase {
    /// A file from a literal header and a data section of `dataBytes` bytes.
    static func file(header: String, dataBytes: Int, headerLength: UInt64? = nil) -> Data {
        var json = Data(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var len = (headerLength ?? UInt64(json.count)).littleEndian
        var out = Data(bytes: &len, count: 8)
        out.append(json)
        out.append(Data((0..<dataBytes).map { UInt8($0 & 0x7F) }))
        return out
    }

    func testBadHeadersAreRefusedWithTheTensorName() throws {
        let dir = try tempDir("safetensors")
        let cases: [(String, String, Int, UInt64?, String)] = [
            ("negative", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, 8, nil,
             "tensor 'a': negative data_offsets [-8, 0]"),
            ("overlap", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, nil,
             "tensor 'b' (bytes 4..<12) overlaps the previous tensor, which ends at byte 8"),
            ("beyond", #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8, nil,
             "tensor 'a': data ends at byte 16 of the data section, which has 8 bytes (truncated file?)"),
            ("hole", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, 12, nil,
             "tensor 'b' starts at byte 8 but the previous tensor ends at byte 4 (holes are not allowed)"),
            ("trailing", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 12, nil,
             "the tensors cover 4 bytes but the data section has 12 (truncated, or trailing bytes)"),
            ("mismatch", #"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, 8, nil,
             "tensor 'a': shape [3] of F16 needs 6 bytes but data_offsets [0, 8] hold 8"),
            ("reversed", #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, 8, nil,
             "tensor 'a': data_offsets [8, 0] end before they start"),
            ("negshape", #"{"a":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}"#, 8, nil,
             "tensor 'a': negative dimension in shape [-2, -1]"),
            ("hugeshape", #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, 8, nil,
             "tensor 'a': shape [4294967296, 4294967296] of F32 needs too many bytes but data_offsets [0, 8] hold 8"),
            ("headerlen", #"{}"#, 8, UInt64.max,
             "truncated or corrupt safetensors file (header length 18446744073709551615, file size 24)"),
            ("notjson", "[1,2]", 0, nil, "corrupt safetensors header (not a JSON object)"),
            ("entry", #"{"a":{"dtype":"F32","shape":"x","data_offsets":[0,0]}}"#, 0, nil,
             "tensor 'a': corrupt header entry (expected dtype, shape and two data_offsets)"),
        ]
        for (name, header, bytes, headerLength, expected) in cases {
            let path = "\(dir)/\(name).safetensors"
            try Self.file(header: header, dataBytes: bytes, headerLength: headerLength).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SafetensorsFile(path: path), name) {
                XCTAssertEqual("\($0)", "\(path): \(expected)", name)
            }
        }
        // A valid file with adjacent tensors (in any key order) and an empty tensor is accepted.
        let good = "\(dir)/good.safetensors"
        try Self.file(header: #"{"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#,
                      dataBytes: 8).write(to: URL(fileURLWithPath: good))
        let st = try SafetensorsFile(path: good)
        XCTAssertEqual(st.names, ["a", "e", "z"])
        XCTAssertEqual(try st.floats("e"), [])
    }
}
