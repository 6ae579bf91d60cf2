import Foundation
import DinoSegCore
import DinoSegNN

/// The start of data-parallel training: rank 0 alone reads the run directory (a fresh network or its checkpoint), and
/// every other process takes its weights, momentum, BatchNorm statistics and data position from there. So the run
/// directory only has to exist where rank 0 runs, and a checkpoint resumes with any number of processes.
enum DataParallelStart {
    private struct State: Codable {
        var progress: TrainProgress
        var batchesTracked: [String: Int64]
    }

    static func synchronise(_ network: TrainableNetwork, progress: TrainProgress, over comm: Communicator) throws -> TrainProgress {
        let state = try comm.broadcast(State(progress: progress, batchesTracked: network.batchesTracked))
        network.batchesTracked = state.batchesTracked
        try comm.broadcast(network.params.values, count: network.params.count)
        try comm.broadcast(network.params.momentum, count: network.params.count)
        try comm.broadcast(network.stats.values, count: network.stats.count)
        return state.progress
    }

    /// A collective inside a layer failed (the network went away): nothing sensible is left to do on any process.
    static func fail(_ error: Error, _ comm: Communicator) -> Never {
        FileHandle.standardError.write(Data("Error (rank \(comm.rank) of \(comm.size)): \(error)\n".utf8))
        comm.abort(code: 1)
        exit(1)
    }
}
