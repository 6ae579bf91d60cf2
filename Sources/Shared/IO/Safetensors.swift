import Foundation

/// The safetensors format: 8-byte little-endian header length, a JSON header mapping names to
/// {dtype, shape, data_offsets}, then the raw little-endian tensor bytes. Used for backbone weights (read) and head
/// checkpoints (read and write).
package struct SafetensorsFile {
    package enum DType: String { case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", u8 = "U8" }

    package struct TensorInfo {
        package var dtype: DType
        package var shape: [Int]
        package var range: Range<Int>   // byte range inside the data section
        package var count: Int { shape.reduce(1, *) }
    }

    package let path: String
    package let tensors: [String: TensorInfo]
    package let metadata: [String: String]
    private let bytes: Data
    private let dataStart: Int

    package var names: [String] { tensors.keys.sorted() }

    package init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw DinoSegError(file: path, "file not found") }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw DinoSegError(file: path, "cannot read file")
        }
        guard data.count >= 8 else { throw DinoSegError(file: path, "truncated safetensors file (\(data.count) bytes, no header)") }
        let headerLen = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard headerLen <= 100_000_000, 8 + Int(headerLen) <= data.count else {
            throw DinoSegError(file: path, "truncated or corrupt safetensors file (header length \(headerLen), file size \(data.count))")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(headerLen)))
        guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw DinoSegError(file: path, "corrupt safetensors header (not a JSON object)")
        }
        let dataStart = 8 + Int(headerLen)
        let dataLength = data.count - dataStart
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in json.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else {
                    throw DinoSegError(file: path, "corrupt safetensors header: '__metadata__' is not a map of strings")
                }
                metadata = m
                continue
            }
            tensors[name] = try SafetensorsFile.entry(name, value, dataLength: dataLength, path: path)
        }
        // The format forbids overlaps and holes: the tensors tile the data section exactly.
        var end = 0
        for (name, info) in tensors.sorted(by: { ($0.value.range.lowerBound, $0.key) < ($1.value.range.lowerBound, $1.key) }) {
            if info.range.lowerBound < end {
                throw DinoSegError(file: path, "tensor '\(name)' (bytes \(info.range)) overlaps the previous tensor, which ends at byte \(end)")
            }
            if info.range.lowerBound > end {
                throw DinoSegError(file: path, "tensor '\(name)' starts at byte \(info.range.lowerBound) but the previous tensor ends at byte \(end) (holes are not allowed)")
            }
            end = info.range.upperBound
        }
        if end != dataLength {
            throw DinoSegError(file: path, "the tensors cover \(end) bytes but the data section has \(dataLength) (truncated, or trailing bytes)")
        }
        self.tensors = tensors
        self.metadata = metadata
        self.bytes = data
        self.dataStart = dataStart
    }

    /// One header entry {dtype, shape, data_offsets}, checked: known dtype, non-negative shape and offsets, offsets
    /// inside the data section, byte length = elements × dtype size (all without integer overflow).
    static func entry(_ name: String, _ value: Any, dataLength: Int, path: String) throws -> TensorInfo {
        func bad(_ problem: String) -> DinoSegError { DinoSegError(file: path, "tensor '\(name)': \(problem)") }
        guard let entry = value as? [String: Any], let dt = entry["dtype"] as? String,
              let shape = entry["shape"] as? [Int], let offs = entry["data_offsets"] as? [Int], offs.count == 2 else {
            throw bad("corrupt header entry (expected dtype, shape and two data_offsets)")
        }
        guard let dtype = DType(rawValue: dt) else { throw bad("unsupported dtype \(dt) (supported: F32, F16, BF16)") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("negative dimension in shape \(shape)") }
        guard offs[0] >= 0, offs[1] >= 0 else { throw bad("negative data_offsets \(offs)") }
        guard offs[0] <= offs[1] else { throw bad("data_offsets \(offs) end before they start") }
        guard offs[1] <= dataLength else {
            throw bad("data ends at byte \(offs[1]) of the data section, which has \(dataLength) bytes (truncated file?)")
        }
        var elements = 1, overflow = false
        for d in shape where !overflow { (elements, overflow) = elements.multipliedReportingOverflow(by: d) }
        let (bytes, o2) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, !o2, bytes == offs[1] - offs[0] else {
            throw bad("shape \(shape) of \(dt) needs \(overflow || o2 ? "too many" : String(bytes)) bytes but data_offsets \(offs) hold \(offs[1] - offs[0])")
        }
        return TensorInfo(dtype: dtype, shape: shape, range: offs[0]..<offs[1])
    }

    /// The tensor converted to Float32 (F32, F16 and BF16 are accepted).
    package func floats(_ name: String) throws -> [Float] {
        guard let info = tensors[name] else { throw DinoSegError(file: path, "missing tensor '\(name)'") }
        var out = [Float](repeating: 0, count: info.count)
        let n = info.count
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress! + dataStart + info.range.lowerBound
            switch info.dtype {
            case .f32:
                out.withUnsafeMutableBytes { dst in dst.copyMemory(from: UnsafeRawBufferPointer(start: base, count: n * 4)) }
            case .f16:
                for i in 0..<n { out[i] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                for i in 0..<n { out[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
            case .f64:
                for i in 0..<n { out[i] = Float(base.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            default:
                throw DinoSegError(file: path, "tensor '\(name)' has dtype \(info.dtype.rawValue), expected a float type")
            }
        }
        return out
    }

    /// The tensor as Int64 (I64 and I32 are accepted), for integer state in checkpoints.
    package func integers(_ name: String) throws -> [Int64] {
        guard let info = tensors[name] else { throw DinoSegError(file: path, "missing tensor '\(name)'") }
        return bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Int64] in
            let base = raw.baseAddress! + dataStart + info.range.lowerBound
            switch info.dtype {
            case .i64: return (0..<info.count).map { base.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
            case .i32: return (0..<info.count).map { Int64(base.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
            case .u8: return (0..<info.count).map { Int64(base.load(fromByteOffset: $0, as: UInt8.self)) }
            default: return []
            }
        }
    }

    /// Serialises float32 and int64 tensors (names sorted, as PyTorch's safetensors does) and writes atomically.
    package static func write(path: String, floats: [(name: String, shape: [Int], values: [Float])],
                             integers: [(name: String, shape: [Int], values: [Int64])] = [],
                             metadata: [String: String] = [:]) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var body = Data()
        var entries: [(String, [Int], DType, Data)] = []
        for t in floats {
            precondition(t.shape.reduce(1, *) == t.values.count, "shape \(t.shape) does not match \(t.values.count) values for \(t.name)")
            entries.append((t.name, t.shape, .f32, t.values.withUnsafeBytes { Data($0) }))
        }
        for t in integers {
            precondition(t.shape.reduce(1, *) == t.values.count, "shape \(t.shape) does not match \(t.values.count) values for \(t.name)")
            entries.append((t.name, t.shape, .i64, t.values.withUnsafeBytes { Data($0) }))
        }
        for (name, shape, dtype, data) in entries.sorted(by: { $0.0 < $1.0 }) {
            header[name] = ["dtype": dtype.rawValue, "shape": shape, "data_offsets": [body.count, body.count + data.count]]
            body.append(data)
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerData.count % 8 != 0 { headerData.append(0x20) }  // pad with spaces to keep tensors aligned
        var file = Data()
        var len = UInt64(headerData.count).littleEndian
        file.append(Data(bytes: &len, count: 8))
        file.append(headerData)
        file.append(body)
        try AtomicWrite.write(file, to: path)
    }
}

extension SafetensorsFile.DType {
    package var byteSize: Int {
        switch self { case .f32, .i32: return 4; case .f16, .bf16: return 2; case .f64, .i64: return 8; case .u8: return 1 }
    }
}
