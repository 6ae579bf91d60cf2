import Foundation

// The processes of one job (data-parallel training, sweeps spread over processes). A plain run is one process
// (`SingleProcess`: every collective is the identity); under `mpirun`/`srun` it is `MPICommunicator`. Training code
// has one path and calls the collectives unconditionally.

package protocol Communicator: AnyObject {
    /// This process, 0..<size; rank 0 writes logs, checkpoints and reports.
    var rank: Int { get }
    var size: Int { get }
    /// In place, element-wise sum over all processes (every process gets the same result).
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Every process ends with root's bytes (the other processes' `buffer` must have the same size).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Root receives every process's bytes (any sizes) in rank order; the others get [].
    func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]
    func barrier() throws
    /// Ends the whole job after an error on this process (a single process just returns).
    func abort(code: Int32)
    /// The processes of the same `color` as one communicator, ranked by `key` (every process must call it).
    func split(color: Int, key: Int) throws -> Communicator
}

/// One process: the collectives leave their buffers as they are.
package final class SingleProcess: Communicator {
    package init() {}
    package var rank: Int { 0 }
    package var size: Int { 1 }
    package func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    package func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    package func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    package func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]] { [bytes] }
    package func barrier() throws {}
    package func abort(code: Int32) {}
}

extension Communicator {
    package var isRoot: Bool { rank == 0 }

    /// Root's value of a Codable on every process.
    package func broadcast<T: Codable>(_ value: T, root: Int = 0) throws -> T {
        guard size > 1 else { return value }
        var bytes = rank == root ? [UInt8](try JSONEncoder().encode(value)) : []
        var count = UInt64(bytes.count)
        try withUnsafeMutableBytes(of: &count) { try broadcast($0, root: root) }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    /// Root's contents of a float buffer on every process.
    package func broadcast(_ pointer: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) throws {
        try broadcast(UnsafeMutableRawBufferPointer(start: pointer, count: count * MemoryLayout<Float>.stride), root: root)
    }

    /// True on every process when `ok` is true on every process; after a local failure the others learn of it here
    /// instead of waiting forever in the next collective.
    package func allSucceeded(_ ok: Bool) throws -> Bool {
        var flag = [ok ? 0.0 : 1.0]
        try flag.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        return flag[0] == 0
    }

    /// Samples start..<end of a global batch of `count` handled by this process: a fixed split, as even as possible,
    /// lower ranks first.
    package func share(of count: Int) -> Range<Int> {
        (count * rank / size)..<(count * (rank + 1) / size)
    }

    /// Runs a command body; under a launcher an error on any process ends the whole job (MPI_Abort) after printing
    /// it, so the other processes do not wait forever in a collective. A single process just rethrows.
    package func endingJobOnError<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            guard size > 1 else { throw error }
            FileHandle.standardError.write(Data("Error (rank \(rank) of \(size)): \(error)\n".utf8))
            abort(code: 1)
            throw error
        }
    }
}

/// The communicator of this process: MPI when a launcher started it, else a single process.
package enum Distributed {
    /// Environment variables that Open MPI's mpirun, Slurm's srun (PMI-2 / PMIx) or MPICH's hydra set per process.
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"]

    package static var isLaunched: Bool {
        let env = ProcessInfo.processInfo.environment
        return launcherVariables.contains { env[$0] != nil }
    }

    /// The number of processes the launcher started (from its environment, without initialising MPI); 1 without one.
    package static var launchedProcessCount: Int {
        let env = ProcessInfo.processInfo.environment
        let size = env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"] ?? (env["PMIX_RANK"] != nil ? env["SLURM_STEP_NUM_TASKS"] : nil)
        return size.flatMap { Int($0) } ?? 1
    }

    nonisolated(unsafe) private static var shared: Communicator?

    /// Initialises MPI on first use when launched by mpirun/srun; never otherwise (a plain run does not need it).
    package static func world() throws -> Communicator {
        if let c = shared { return c }
        let c: Communicator = isLaunched ? try MPICommunicator() : SingleProcess()
        shared = c
        return c
    }
}

/// Sums buffers of Double over the processes training one global batch (BatchNorm statistics, loss counts).
package typealias SumReduction = (UnsafeMutableBufferPointer<Double>) -> Void

/// This process's part of a global batch in data-parallel training: samples offset..<offset+count of `globalCount`,
/// and the reduction that turns per-process sums into sums over the global batch.
package struct BatchShard {
    package var offset: Int
    package var globalCount: Int
    package var sum: SumReduction

    package init(offset: Int, globalCount: Int, sum: @escaping SumReduction) {
        self.offset = offset; self.globalCount = globalCount; self.sum = sum
    }
}

extension SingleProcess {
    /// One process splits into itself.
    package func split(color: Int, key: Int) throws -> Communicator { self }
}
