import CMPI
import Foundation

/// An MPI communicator through the CMPI shim (the only file importing it): MPI_COMM_WORLD, made once per process by
/// `Distributed.world()` when a launcher started it, or a part of it made by `split` (e.g. the ranks training one
/// sweep job together). MPI is finalised when the process exits normally; an error on any communicator ends the job.
package final class MPICommunicator: Communicator {
    package let rank: Int
    package let size: Int
    /// The shim's handle: 0 is MPI_COMM_WORLD.
    private let handle: Int32

    /// MPI_COMM_WORLD.
    init() throws {
        var r: Int32 = 0, s: Int32 = 0
        let rc = cmpi_init(&r, &s)
        guard rc == 0 else { throw DinoSegError("MPI_Init failed: \(String(cString: cmpi_error_string(rc)))") }
        handle = 0; rank = Int(r); size = Int(s)
        // Every process reaches a normal exit together (collectives keep them in step), so finalising there is safe;
        // errors end the job through abort(code:) instead.
        atexit { _ = cmpi_finalize() }
    }

    private init(parent: Int32, color: Int, key: Int) throws {
        var h: Int32 = 0, r: Int32 = 0, s: Int32 = 0
        let rc = cmpi_comm_split(parent, Int32(color), Int32(key), &h, &r, &s)
        guard rc == 0 else { throw DinoSegError("MPI_Comm_split failed: \(String(cString: cmpi_error_string(rc)))") }
        handle = h; rank = Int(r); size = Int(s)
    }

    /// Processes of the same `color` form one communicator, ordered by `key` (MPI_Comm_split; every process calls it).
    package func split(color: Int, key: Int) throws -> Communicator {
        try MPICommunicator(parent: handle, color: color, key: key)
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else {
            let group = handle == 0 ? "" : " of a group of \(size)"
            throw DinoSegError("MPI \(what) failed on rank \(rank)\(group): \(String(cString: cmpi_error_string(rc)))")
        }
    }

    package func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_allreduce_sum_float(handle, p, buffer.count), "allreduce")
    }

    package func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_allreduce_sum_double(handle, p, buffer.count), "allreduce")
    }

    package func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(cmpi_broadcast(handle, p, buffer.count, Int32(root)), "broadcast")
    }

    package func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]] {
        // Sizes first, then every part padded to the largest.
        var mine = UInt64(bytes.count)
        var sizes = [UInt64](repeating: 0, count: rank == root ? size : 1)
        try sizes.withUnsafeMutableBytes { out in
            try check(cmpi_gather(handle, &mine, 8, out.baseAddress!, Int32(root)), "gather")
        }
        var largest = sizes.max() ?? 0
        try withUnsafeMutableBytes(of: &largest) { try broadcast($0, root: root) }
        let width = Int(largest)
        let padded = bytes + [UInt8](repeating: 0, count: width - bytes.count)
        var all = [UInt8](repeating: 0, count: rank == root ? size * width : 1)
        try padded.withUnsafeBytes { send in try all.withUnsafeMutableBytes { out in
            try check(cmpi_gather(handle, send.baseAddress ?? UnsafeRawPointer(out.baseAddress!), width, out.baseAddress!,
                                  Int32(root)), "gather")
        } }
        guard rank == root else { return [] }
        return (0..<size).map { Array(all[($0 * width)..<($0 * width + Int(sizes[$0]))]) }
    }

    package func barrier() throws { try check(cmpi_barrier(handle), "barrier") }

    package func abort(code: Int32) { cmpi_abort(code) }
}
