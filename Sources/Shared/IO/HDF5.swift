// A small HDF5 wrapper: files, chunked N-d datasets read/written in slabs along the first dimension, string and
// integer attributes. The only Swift file that imports CHDF5.
//
// Float16 datasets are stored as IEEE binary16 little-endian (numpy float16 for h5py); conversion happens here in
// Swift (Float16), not in HDF5's slow soft converter. Debian's serial HDF5 is not thread-safe, so every call into the
// library holds one process-wide lock.
import Foundation
import CHDF5

package enum HDF5DType: String, Codable, CaseIterable {
    case f16, f32, u8, i32, i64

    /// Bytes per element in the file.
    package var size: Int {
        switch self {
        case .f16: return 2
        case .f32, .i32: return 4
        case .u8: return 1
        case .i64: return 8
        }
    }

    var fileType: hid_t {
        _ = hdf5Lock
        switch self {
        case .f16: return chdf5_ieee_f16le()
        case .f32: return chdf5_native_float()
        case .u8: return chdf5_native_uint8()
        case .i32: return chdf5_native_int32()
        case .i64: return chdf5_native_int64()
        }
    }

    init?(typeID t: hid_t) {
        let cls = H5Tget_class(t), size = H5Tget_size(t)
        switch (cls, size) {
        case (H5T_FLOAT, 2): self = .f16
        case (H5T_FLOAT, 4): self = .f32
        case (H5T_INTEGER, 1) where H5Tget_sign(t) == H5T_SGN_NONE: self = .u8
        case (H5T_INTEGER, 4) where H5Tget_sign(t) == H5T_SGN_2: self = .i32
        case (H5T_INTEGER, 8) where H5Tget_sign(t) == H5T_SGN_2: self = .i64
        default: return nil
        }
    }
}

/// The element types datasets are read as: Float (from f16 or f32 datasets) and the integer types labels and indices
/// are stored as, each from its own dataset type only.
package protocol HDF5Element: Numeric {
    /// The dataset element types that read as this type.
    static var storedAs: [HDF5DType] { get }
}
extension Float: HDF5Element { package static var storedAs: [HDF5DType] { [.f16, .f32] } }
extension UInt8: HDF5Element { package static var storedAs: [HDF5DType] { [.u8] } }
extension Int32: HDF5Element { package static var storedAs: [HDF5DType] { [.i32] } }
extension Int64: HDF5Element { package static var storedAs: [HDF5DType] { [.i64] } }

/// The element types features are stored as (the integer types hold labels and indices, never features).
package enum FeatureDType: String, CaseIterable {
    case f16, f32
    package var storage: HDF5DType { self == .f16 ? .f16 : .f32 }
}

/// Serialises all HDF5 calls (the serial library keeps global state).
let hdf5Lock: NSRecursiveLock = {
    // No library shutdown at exit: every file is closed explicitly, and a file whose close failed (disk full) keeps
    // an id whose object HDF5 has already freed, which its exit-time cleanup would close a second time and crash on.
    _ = H5dont_atexit()
    _ = H5open()
    chdf5_silence_errors()
    _ = chdf5_ieee_f16le()  // builds the shared type once, before any thread can race on it
    return NSRecursiveLock()
}()

@inline(__always) func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    chdf5_silence_errors()  // per thread in Debian's (thread-safe) build: reader threads would print HDF5's stack
    return try body()
}

private let accessReadOnly: UInt32 = 0, accessReadWrite: UInt32 = 1, accessTruncate: UInt32 = 2
private let unlimitedSize = hsize_t.max

/// File access: closing the file also closes its datasets, so a closed file is really closed (and unlocked).
private func strongCloseAccess() -> hid_t {
    let fapl = H5Pcreate(H5P_CLS_FILE_ACCESS_ID_g)
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)
    return fapl
}

/// Dataset access without HDF5's per-dataset chunk cache: samples are one chunk each and read or written whole, once,
/// so caching only copies them (and, with many shards open, would hold ~1 MiB per dataset).
private func noChunkCacheAccess() -> hid_t {
    let dapl = H5Pcreate(H5P_CLS_DATASET_ACCESS_ID_g)
    H5Pset_chunk_cache(dapl, -1, 0, -1)
    return dapl
}

/// An open HDF5 file; closed on `close()` or deinit. Closing first closes the file's datasets (their ids become -1,
/// so nothing ever passes a stale id to the library), also when the close itself fails (disk full).
package final class HDF5File: HDF5AttributeCarrier {
    package let path: String
    private(set) var id: hid_t
    private struct WeakDataset { weak var value: HDF5Dataset? }
    private var datasets: [WeakDataset] = []

    private init(path: String, id: hid_t) { self.path = path; self.id = id }

    /// Creates (or truncates) a file.
    package static func create(_ path: String) throws -> HDF5File {
        try withHDF5 {
            let fapl = strongCloseAccess()
            defer { H5Pclose(fapl) }
            let id = H5Fcreate(path, accessTruncate, 0, fapl)
            if id < 0 { throw DinoSegError(file: path, "cannot create HDF5 file (directory missing or not writable?)") }
            return HDF5File(path: path, id: id)
        }
    }

    package static func open(_ path: String, writable: Bool = false) throws -> HDF5File {
        try withHDF5 {
            guard FileManager.default.fileExists(atPath: path) else { throw DinoSegError(file: path, "file not found") }
            let fapl = strongCloseAccess()
            defer { H5Pclose(fapl) }
            let id = H5Fopen(path, writable ? accessReadWrite : accessReadOnly, fapl)
            if id < 0 { throw DinoSegError(file: path, "not a readable HDF5 file (truncated or corrupt?)") }
            return HDF5File(path: path, id: id)
        }
    }

    /// Flushes and closes; errors (e.g. disk full while flushing) are reported. Safe to call more than once.
    package func close() throws {
        try withHDF5 {
            guard id >= 0 else { return }
            var ok = true
            for d in datasets { if let d = d.value, !d.closeID() { ok = false } }
            datasets = []
            if H5Fflush(id, H5F_SCOPE_LOCAL) < 0 { ok = false }
            if H5Fclose(id) < 0 { ok = false }
            id = -1
            if !ok { throw DinoSegError(file: path, "cannot finish writing HDF5 file (disk full?)") }
        }
    }

    deinit { try? close() }

    /// Registers a dataset so `close()` closes it first.
    private func track(_ d: HDF5Dataset) -> HDF5Dataset {
        datasets.removeAll { $0.value == nil }
        datasets.append(WeakDataset(value: d))
        return d
    }

    private func requireOpen() throws {
        if id < 0 { throw DinoSegError(file: path, "HDF5 file is already closed") }
    }

    /// Creates a chunked dataset. `chunk` defaults to one row of the first dimension (one sample per chunk).
    /// With `extendable`, the first dimension can grow later (`HDF5Dataset.extend`).
    package func createDataset(_ name: String, dtype: HDF5DType, shape: [Int], chunk: [Int]? = nil,
                              extendable: Bool = false) throws -> HDF5Dataset {
        try withHDF5 {
            try requireOpen()
            precondition(!shape.isEmpty)
            var dims = shape.map { hsize_t($0) }
            var maxDims = dims
            if extendable { maxDims[0] = unlimitedSize }
            var chunkDims = (chunk ?? ([1] + shape.dropFirst())).map { hsize_t(max(1, $0)) }
            let space = H5Screate_simple(Int32(dims.count), &dims, &maxDims)
            defer { H5Sclose(space) }
            let plist = H5Pcreate(H5P_CLS_DATASET_CREATE_ID_g)
            defer { H5Pclose(plist) }
            H5Pset_chunk(plist, Int32(chunkDims.count), &chunkDims)
            H5Pset_obj_track_times(plist, false)  // no timestamps: the same content gives the same bytes (and checksum)
            let dapl = noChunkCacheAccess()
            defer { H5Pclose(dapl) }
            let ds = H5Dcreate2(id, name, dtype.fileType, space, 0, plist, dapl)
            if ds < 0 { throw DinoSegError(file: path, "cannot create dataset '\(name)' \(shape) (disk full or name taken?)") }
            return track(HDF5Dataset(file: self, name: name, id: ds, dtype: dtype, shape: shape))
        }
    }

    package func dataset(_ name: String) throws -> HDF5Dataset {
        try withHDF5 {
            try requireOpen()
            guard H5Lexists(id, name, 0) > 0 else { throw DinoSegError(file: path, "missing dataset '\(name)'") }
            let dapl = noChunkCacheAccess()
            defer { H5Pclose(dapl) }
            let ds = H5Dopen2(id, name, dapl)
            if ds < 0 { throw DinoSegError(file: path, "cannot open dataset '\(name)'") }
            let t = H5Dget_type(ds)
            defer { H5Tclose(t) }
            guard let dtype = HDF5DType(typeID: t) else {
                H5Dclose(ds)
                throw DinoSegError(file: path, "dataset '\(name)' has an unsupported element type")
            }
            let space = H5Dget_space(ds)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            // Shapes come from an untrusted file: an array of rank 1...8, every size below 2^40 and the total too.
            guard (1...8).contains(rank) else {
                H5Dclose(ds)
                throw DinoSegError(file: path, "dataset '\(name)' has rank \(rank), expected an array")
            }
            var dims = [hsize_t](repeating: 0, count: rank)
            H5Sget_simple_extent_dims(space, &dims, nil)
            var total: UInt64 = 1, overflow = false
            for d in dims where !overflow { (total, overflow) = total.multipliedReportingOverflow(by: max(1, UInt64(d))) }
            guard !overflow, total < 1 << 40, dims.dropFirst().allSatisfy({ $0 > 0 }) else {
                H5Dclose(ds)
                throw DinoSegError(file: path, "dataset '\(name)' has an impossible shape \(dims)")
            }
            // DinoSeg writes chunked, unfiltered datasets only. libhdf5 1.10 trusts the sizes in compact and
            // contiguous layout messages (a corrupt one made it copy from a wild pointer), and filters are code paths
            // nothing here needs: refuse both.
            let dcpl = H5Dget_create_plist(ds)
            defer { H5Pclose(dcpl) }
            var chunk = [hsize_t](repeating: 0, count: rank)
            guard H5Pget_layout(dcpl) == H5D_CHUNKED, H5Pget_nfilters(dcpl) == 0,
                  H5Pget_chunk(dcpl, Int32(rank), &chunk) == Int32(rank),
                  chunk.allSatisfy({ $0 > 0 && $0 < 1 << 31 }) else {
                H5Dclose(ds)
                throw DinoSegError(file: path, "dataset '\(name)' is not stored the way DinoSeg writes it (chunked, unfiltered)")
            }
            return track(HDF5Dataset(file: self, name: name, id: ds, dtype: dtype, shape: dims.map { Int($0) }))
        }
    }

    /// Names of the datasets (and groups) at the root, sorted.
    package func datasetNames() -> [String] {
        withHDF5 {
            var info = H5G_info_t()
            guard id >= 0, H5Gget_info(id, &info) >= 0 else { return [] }
            var names: [String] = []
            for i in 0..<info.nlinks {
                let n = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, 0)
                guard n >= 0 else { continue }
                var buf = [CChar](repeating: 0, count: Int(n) + 1)
                H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(n) + 1, 0)
                names.append(String(cString: buf))
            }
            return names.sorted()
        }
    }

    /// The attributes' location: the open file, named by its path.
    package func attributeLocation() throws -> (id: hid_t, context: String) {
        try requireOpen()
        return (id, path)
    }
}

/// One dataset of an open file. Slabs are whole rows of the first dimension: rows start..<start+count.
package final class HDF5Dataset: HDF5AttributeCarrier {
    package let file: HDF5File
    package let name: String
    package let dtype: HDF5DType
    package private(set) var shape: [Int]
    private var id: hid_t

    init(file: HDF5File, name: String, id: hid_t, dtype: HDF5DType, shape: [Int]) {
        self.file = file; self.name = name; self.id = id; self.dtype = dtype; self.shape = shape
    }

    deinit { _ = closeID() }

    /// Closes the dataset's id (once); false when the library reports an error (e.g. a chunk it cannot write).
    @discardableResult
    func closeID() -> Bool {
        withHDF5 {
            guard id >= 0 else { return true }
            let rc = H5Dclose(id)
            id = -1
            return rc >= 0
        }
    }

    private func requireOpen() throws {
        if id < 0 { throw DinoSegError("\(where_): dataset is closed (its file was closed)") }
    }

    /// Elements in one row (product of all dimensions but the first).
    package var rowElements: Int { shape.dropFirst().reduce(1, *) }
    private var where_: String { "\(file.path): dataset '\(name)'" }

    /// Grows the first dimension to `rows` (dataset must have been created `extendable`).
    package func extend(rows: Int) throws {
        try withHDF5 {
            try requireOpen()
            var dims = shape.map { hsize_t($0) }
            dims[0] = hsize_t(rows)
            if H5Dset_extent(id, &dims) < 0 { throw DinoSegError("\(where_): cannot extend to \(rows) rows") }
            shape[0] = rows
        }
    }

    // MARK: writing

    package func writeFloats(rows start: Int, _ values: UnsafeBufferPointer<Float>) throws {
        switch dtype {
        case .f32: try writeRaw(rows: start, values.count, UnsafeRawPointer(values.baseAddress!), memType: chdf5_native_float())
        case .f16:
            var half = [Float16](repeating: 0, count: values.count)
            for i in 0..<values.count { half[i] = Float16(values[i]) }
            try half.withUnsafeBytes { try writeRaw(rows: start, values.count, $0.baseAddress!, memType: chdf5_ieee_f16le()) }
        default: throw DinoSegError("\(where_): cannot write floats to a \(dtype) dataset")
        }
    }
    package func writeFloats(rows start: Int, _ values: [Float]) throws {
        try values.withUnsafeBufferPointer { try writeFloats(rows: start, $0) }
    }
    package func writeUInt8(rows start: Int, _ values: [UInt8]) throws {
        try requireType(.u8)
        try values.withUnsafeBytes { try writeRaw(rows: start, values.count, $0.baseAddress!, memType: chdf5_native_uint8()) }
    }
    package func writeInt32(rows start: Int, _ values: [Int32]) throws {
        try requireType(.i32)
        try values.withUnsafeBytes { try writeRaw(rows: start, values.count, $0.baseAddress!, memType: chdf5_native_int32()) }
    }
    package func writeInt64(rows start: Int, _ values: [Int64]) throws {
        try requireType(.i64)
        try values.withUnsafeBytes { try writeRaw(rows: start, values.count, $0.baseAddress!, memType: chdf5_native_int64()) }
    }

    // MARK: reading

    /// Reads rows start..<start+count (all remaining rows by default) as `T`, e.g. `try labels.read(UInt8.self)`.
    package func read<T: HDF5Element>(_ type: T.Type, rows start: Int = 0, count: Int? = nil) throws -> [T] {
        try requireReadable(as: T.self)
        let c = try checkedRows(start, count)
        var out = [T](repeating: .zero, count: c * rowElements)
        try out.withUnsafeMutableBufferPointer { try read(rows: start, count: c, into: $0) }
        return out
    }

    /// Reads rows start..<start+count into `out` (count · rowElements values). f16 is converted to Float here.
    package func read<T: HDF5Element>(rows start: Int, count: Int, into out: UnsafeMutableBufferPointer<T>) throws {
        try requireReadable(as: T.self)
        let n = try checkedRows(start, count) * rowElements
        guard out.count == n else {
            throw DinoSegError("\(where_): \(count) row(s) of shape \(Array(shape.dropFirst())) hold \(n) values, expected \(out.count)")
        }
        let raw = UnsafeMutableRawPointer(out.baseAddress!)
        if dtype == .f16 {
            // Only Float reads f16 (HDF5Element.storedAs); converted here, not in HDF5's slow soft converter.
            precondition(T.self == Float.self, "f16 datasets are read as Float")
            var half = [Float16](repeating: 0, count: n)
            try half.withUnsafeMutableBytes { try readRaw(rows: start, count, $0.baseAddress!, memType: chdf5_ieee_f16le()) }
            let floats = raw.assumingMemoryBound(to: Float.self)
            half.withUnsafeBufferPointer { h in
                for i in 0..<n { floats[i] = Float(h[i]) }
            }
        } else {
            // Every other stored type is read as itself: the file's type is the memory type.
            precondition(MemoryLayout<T>.stride == dtype.size, "\(T.self) does not match \(dtype)")
            try readRaw(rows: start, count, raw, memType: dtype.fileType)
        }
    }

    /// The attributes' location: the open dataset, named by its file and name.
    package func attributeLocation() throws -> (id: hid_t, context: String) {
        try requireOpen()
        return (id, where_)
    }

    // MARK: internals

    /// The row count to read from `start` (all remaining rows by default), checked against the shape before
    /// anything is allocated: a count from a corrupt file must not size an array.
    private func checkedRows(_ start: Int, _ count: Int?) throws -> Int {
        let c = count ?? shape[0] - start
        guard start >= 0, c >= 0, start <= shape[0], c <= shape[0] - start else {
            throw DinoSegError("\(where_): rows \(start)..<\(start &+ c) outside 0..<\(shape[0])")
        }
        // 2^31 values (8 GiB of Float) is far beyond any read DinoSeg makes; a corrupt shape must not allocate it.
        let (values, overflow) = c.multipliedReportingOverflow(by: rowElements)
        guard !overflow, values <= 1 << 31 else {
            throw DinoSegError("\(where_): reading \(c) rows of shape \(Array(shape.dropFirst())) is implausibly large (corrupt file?)")
        }
        return c
    }

    private func requireType(_ t: HDF5DType) throws {
        if dtype != t { throw DinoSegError("\(where_): element type is \(dtype), expected \(t)") }
    }

    private func requireReadable<T: HDF5Element>(as _: T.Type) throws {
        guard T.storedAs.contains(dtype) else {
            throw DinoSegError("\(where_): element type is \(dtype), cannot be read as \(T.self) (expected \(T.storedAs.map(\.rawValue).joined(separator: " or ")))")
        }
    }

    /// Selects rows start..<start+count in the file and a matching contiguous memory space.
    private func withSlab(_ start: Int, _ count: Int, _ body: (hid_t, hid_t) -> herr_t) throws -> herr_t {
        try requireOpen()
        guard start >= 0, count >= 0, start <= shape[0], count <= shape[0] - start else {
            throw DinoSegError("\(where_): rows \(start)..<\(start &+ count) outside 0..<\(shape[0])")
        }
        var offset = [hsize_t](repeating: 0, count: shape.count)
        offset[0] = hsize_t(start)
        var counts = shape.map { hsize_t($0) }
        counts[0] = hsize_t(count)
        let fileSpace = H5Dget_space(id)
        defer { H5Sclose(fileSpace) }
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &counts, nil)
        let memSpace = H5Screate_simple(Int32(counts.count), &counts, nil)
        defer { H5Sclose(memSpace) }
        return body(memSpace, fileSpace)
    }

    private func writeRaw(rows start: Int, _ elements: Int, _ buffer: UnsafeRawPointer, memType: hid_t) throws {
        try withHDF5 {
            guard rowElements > 0, elements % rowElements == 0 else {
                throw DinoSegError("\(where_): \(elements) values are not whole rows of \(rowElements)")
            }
            let rc = try withSlab(start, elements / rowElements) { mem, fs in H5Dwrite(id, memType, mem, fs, 0, buffer) }
            if rc < 0 { throw DinoSegError("\(where_): write failed (disk full?)") }
        }
    }

    private func readRaw(rows start: Int, _ count: Int, _ buffer: UnsafeMutableRawPointer, memType: hid_t) throws {
        try withHDF5 {
            let rc = try withSlab(start, count) { mem, fs in H5Dread(id, memType, mem, fs, 0, buffer) }
            if rc < 0 { throw DinoSegError("\(where_): read failed (truncated or corrupt file?)") }
        }
    }
}

/// A file or dataset carrying scalar attributes: the accessors, each on the open HDF5 id, naming the owner in errors.
package protocol HDF5AttributeCarrier {
    /// The open id (throws when closed) and how errors name the owner.
    func attributeLocation() throws -> (id: hid_t, context: String)
}

extension HDF5AttributeCarrier {
    package func setAttribute(_ name: String, string value: String) throws {
        try withHDF5 { let at = try attributeLocation(); try HDF5Attributes.setString(on: at.id, name, value, context: at.context) }
    }
    package func setAttribute(_ name: String, int value: Int) throws {
        try withHDF5 { let at = try attributeLocation(); try HDF5Attributes.setInt(on: at.id, name, value, context: at.context) }
    }
    package func stringAttribute(_ name: String) throws -> String {
        try withHDF5 { let at = try attributeLocation(); return try HDF5Attributes.string(on: at.id, name, context: at.context) }
    }
    package func intAttribute(_ name: String) throws -> Int {
        try withHDF5 { let at = try attributeLocation(); return try HDF5Attributes.int(on: at.id, name, context: at.context) }
    }
}

/// Scalar attributes on a file or dataset. Strings are fixed-length UTF-8 (h5py returns them as bytes). Variable-length
/// strings are neither written nor read: their bytes live in HDF5's global heap, and libhdf5 1.10 trusts the lengths
/// stored there, so a corrupt shard crashed or hung it inside H5Aread (found by the shard fuzzers).
enum HDF5Attributes {
    static func setString(on loc: hid_t, _ name: String, _ value: String, context: String) throws {
        try withHDF5 {
            if H5Aexists(loc, name) > 0 { H5Adelete(loc, name) }
            let type = H5Tcopy(chdf5_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, value.utf8.count + 1)   // with its terminating NUL
            H5Tset_strpad(type, H5T_STR_NULLTERM)
            H5Tset_cset(type, H5T_CSET_UTF8)
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            let attr = H5Acreate2(loc, name, type, space, 0, 0)
            if attr < 0 { throw DinoSegError("\(context): cannot create attribute '\(name)'") }
            defer { H5Aclose(attr) }
            let rc: herr_t = value.withCString { H5Awrite(attr, type, $0) }
            if rc < 0 { throw DinoSegError("\(context): cannot write attribute '\(name)'") }
        }
    }

    static func setInt(on loc: hid_t, _ name: String, _ value: Int, context: String) throws {
        try withHDF5 {
            if H5Aexists(loc, name) > 0 { H5Adelete(loc, name) }
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            let attr = H5Acreate2(loc, name, chdf5_native_int64(), space, 0, 0)
            if attr < 0 { throw DinoSegError("\(context): cannot create attribute '\(name)'") }
            defer { H5Aclose(attr) }
            var v = Int64(value)
            if H5Awrite(attr, chdf5_native_int64(), &v) < 0 { throw DinoSegError("\(context): cannot write attribute '\(name)'") }
        }
    }

    static func string(on loc: hid_t, _ name: String, context: String) throws -> String {
        try withHDF5 {
            guard H5Aexists(loc, name) > 0 else { throw DinoSegError("\(context): missing attribute '\(name)'") }
            let attr = try openScalarAttribute(loc, name, context: context)
            defer { H5Aclose(attr) }
            let fileType = H5Aget_type(attr)
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else { throw DinoSegError("\(context): attribute '\(name)' is not a string") }
            guard H5Tis_variable_str(fileType) == 0 else {
                throw DinoSegError("\(context): attribute '\(name)' is a variable-length string, which DinoSeg does not read (libhdf5 can crash on a corrupt one); files written before DinoSeg stored fixed-length strings must be written again (for a cache: extract it again)")
            }
            let size = H5Tget_size(fileType)
            guard size > 0, size < 1 << 24 else { throw DinoSegError("\(context): attribute '\(name)' has an impossible size \(size)") }
            var buf = [CChar](repeating: 0, count: size + 1)
            if H5Aread(attr, fileType, &buf) < 0 { throw DinoSegError("\(context): cannot read attribute '\(name)'") }
            return String(cString: buf)
        }
    }

    /// Opens an attribute holding exactly one value (reading an array into one value would overrun it).
    static func openScalarAttribute(_ loc: hid_t, _ name: String, context: String) throws -> hid_t {
        let attr = H5Aopen(loc, name, 0)
        if attr < 0 { throw DinoSegError("\(context): cannot open attribute '\(name)'") }
        let space = H5Aget_space(attr)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_npoints(space) == 1 else {
            H5Aclose(attr)
            throw DinoSegError("\(context): attribute '\(name)' is not a single value")
        }
        return attr
    }

    static func int(on loc: hid_t, _ name: String, context: String) throws -> Int {
        try withHDF5 {
            guard H5Aexists(loc, name) > 0 else { throw DinoSegError("\(context): missing attribute '\(name)'") }
            let attr = try openScalarAttribute(loc, name, context: context)
            defer { H5Aclose(attr) }
            var v: Int64 = 0
            if H5Aread(attr, chdf5_native_int64(), &v) < 0 { throw DinoSegError("\(context): cannot read attribute '\(name)'") }
            return Int(v)
        }
    }
}
