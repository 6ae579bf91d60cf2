import CMPI
import Foundation

/// MPI_COMM_WORLD through the CMPI shim (the only file importing it). Created once per process by
/// `Distributed.world()` when a launcher started it; MPI is finalised when the process exits normally.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int

    init() throws {
        var r: Int32 = 0, s: Int32 = 0
        let rc = cmpi_init(&r, &s)
        guard rc == 0 else { throw DinoSegError("MPI_Init failed: \(String(cString: cmpi_error_string(rc)))") }
        rank = Int(r); size = Int(s)
        // Every process reaches a normal exit together (collectives keep them in step), so finalising there is safe;
        // errors end the job through abort(code:) instead.
        atexit { _ = cmpi_finalize() }
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw DinoSegError("MPI \(what) failed on rank \(rank): \(String(cString: cmpi_error_string(rc)))") }
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_allreduce_sum_float(p, buffer.count), "allreduce")
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_allreduce_sum_double(p, buffer.count), "allreduce")
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_broadcast(p, buffer.count, Int32(root)), "broadcast")
    }

    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]] {
        // Sizes first, then every part padded to the largest.
        var mine = UInt64(bytes.count)
        var sizes = [UInt64](repeating: 0, count: rank == root ? size : 1)
        try sizes.withUnsafeMutableBytes { out in
            try check(cmpi_gather(&mine, 8, out.baseAddress!, Int32(root)), "gather")
        }
        var largest = sizes.max() ?? 0
        try withUnsafeMutableBytes(of: &largest) { try broadcast($0, root: root) }
        let width = Int(largest)
        let padded = bytes + [UInt8](repeating: 0, count: width - bytes.count)
        var all = [UInt8](repeating: 0, count: rank == root ? size * width : 1)
        try padded.withUnsafeBytes { send in try all.withUnsafeMutableBytes { out in
            try check(cmpi_gather(send.baseAddress ?? UnsafeRawPointer(out.baseAddress!), width, out.baseAddress!,
                                  Int32(root)), "gather")
        } }
        guard rank == root else { return [] }
        return (0..<size).map { Array(all[($0 * width)..<($0 * width + Int(sizes[$0]))]) }
    }

    public func barrier() throws { try check(cmpi_barrier(), "barrier") }

    public func abort(code: Int32) { cmpi_abort(code) }
}

// MARK: sub-communicators

extension MPICommunicator {
    /// Processes of the same `color` form one communicator, ordered by `key` (MPI_Comm_split; every process calls it).
    public func split(color: Int, key: Int) throws -> Communicator {
        try MPISubCommunicator(parent: 0, color: color, key: key)
    }
}

/// A part of MPI_COMM_WORLD made by `split` (e.g. the ranks training one sweep job together): the same collectives,
/// among its processes only. An error still ends the whole job.
public final class MPISubCommunicator: Communicator {
    public let rank: Int
    public let size: Int
    private let handle: Int32

    init(parent: Int32, color: Int, key: Int) throws {
        var h: Int32 = 0, r: Int32 = 0, s: Int32 = 0
        let rc = cmpi_comm_split(parent, Int32(color), Int32(key), &h, &r, &s)
        guard rc == 0 else { throw DinoSegError("MPI_Comm_split failed: \(String(cString: cmpi_error_string(rc)))") }
        handle = h; rank = Int(r); size = Int(s)
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw DinoSegError("MPI \(what) failed on rank \(rank) of a group of \(size): \(String(cString: cmpi_error_string(rc)))") }
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        try MPISubCommunicator(parent: handle, color: color, key: key)
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_comm_allreduce_sum_float(handle, p, buffer.count), "allreduce")
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_comm_allreduce_sum_double(handle, p, buffer.count), "allreduce")
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_comm_broadcast(handle, p, buffer.count, Int32(root)), "broadcast")
    }

    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]] {
        // As MPICommunicator.gather: sizes first, then every part padded to the largest.
        var mine = UInt64(bytes.count)
        var sizes = [UInt64](repeating: 0, count: rank == root ? size : 1)
        try sizes.withUnsafeMutableBytes { out in
            try check(cmpi_comm_gather(handle, &mine, 8, out.baseAddress!, Int32(root)), "gather")
        }
        var largest = sizes.max() ?? 0
        try withUnsafeMutableBytes(of: &largest) { try broadcast($0, root: root) }
        let width = Int(largest)
        let padded = bytes + [UInt8](repeating: 0, count: width - bytes.count)
        var all = [UInt8](repeating: 0, count: rank == root ? size * width : 1)
        try padded.withUnsafeBytes { send in try all.withUnsafeMutableBytes { out in
            try check(cmpi_comm_gather(handle, send.baseAddress ?? UnsafeRawPointer(out.baseAddress!), width, out.baseAddress!,
                                       Int32(root)), "gather")
        } }
        guard rank == root else { return [] }
        return (0..<size).map { Array(all[($0 * width)..<($0 * width + Int(sizes[$0]))]) }
    }

    public func barrier() throws { try check(cmpi_comm_barrier(handle), "barrier") }

    public func abort(code: Int32) { cmpi_abort(code) }
}
