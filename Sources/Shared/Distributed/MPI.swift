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
