import Foundation
import DinoSegCore

/// The one way a safetensors checkpoint (CheckpointWriter's layout) goes back into a network's arenas, for heads and
/// the baseline alike: parameters and BatchNorm statistics by state_dict name (PyTorch layout → stored layout), refused
/// when missing, mis-shaped, non-finite or a negative variance; `num_batches_tracked` when present; SGD momentum
/// (`optimizer.momentum.<name>`) when present; the training progress from the metadata.
package enum CheckpointReader {
    /// The network state a checkpoint fills.
    package struct Target {
        package var params: ParameterArena
        package var stats: ParameterArena
        package var batchesTracked: [String: Int64]

        package init(params: ParameterArena, stats: ParameterArena, batchesTracked: [String: Int64]) {
            self.params = params; self.stats = stats; self.batchesTracked = batchesTracked
        }
    }

    /// Loads parameters, statistics and momentum; returns the batch counts read (or kept) and the stored progress
    /// (nil: the checkpoint has none, e.g. an exported one).
    package static func load(_ file: SafetensorsFile, into target: Target) throws -> (batchesTracked: [String: Int64], progress: TrainProgress?) {
        let tracked = try loadState(file, into: target)
        try loadMomentum(file, into: target.params)
        return (tracked, try progress(file))
    }

    /// Loads every parameter and statistic named `rename(name)` (default `prefix + name`); `only` restricts to some
    /// names (a pretrained backbone). Returns `batchesTracked` with the counts the file has.
    package static func loadState(_ file: SafetensorsFile, prefix: String = "", into target: Target,
                                  only: ((String) -> Bool)? = nil, rename: ((String) -> String)? = nil) throws -> [String: Int64] {
        let source = rename ?? { prefix + $0 }
        for arena in [target.params, target.stats] {
            for v in arena.views where only?(v.name) ?? true {
                let values = try tensor(file, source(v.name), shape: v.torchShape)
                values.withUnsafeBufferPointer { arena.fromTorchLayout($0.baseAddress!, into: arena.values + v.offset, view: v) }
            }
        }
        // Names in the message are the arena's (the prefix only applies when no rename is given).
        try checkFinite(file.path, [target.params, target.stats], prefix: rename == nil ? prefix : "", only: only)
        var tracked = target.batchesTracked
        for key in tracked.keys where only?(key) ?? true {
            let name = source(key + ".num_batches_tracked")
            if file.tensors[name] != nil { tracked[key] = try file.integers(name).first ?? 0 }
        }
        return tracked
    }

    /// SGD momentum of every parameter the file has it for.
    static func loadMomentum(_ file: SafetensorsFile, into params: ParameterArena) throws {
        for v in params.views where file.tensors["optimizer.momentum.\(v.name)"] != nil {
            let m = try tensor(file, "optimizer.momentum.\(v.name)", shape: v.torchShape)
            m.withUnsafeBufferPointer { params.fromTorchLayout($0.baseAddress!, into: params.momentum + v.offset, view: v) }
        }
    }

    /// The metadata's training progress (nil: none).
    static func progress(_ file: SafetensorsFile) throws -> TrainProgress? {
        guard let json = file.metadata["progress"] else { return nil }
        guard let progress = try? JSONDecoder().decode(TrainProgress.self, from: Data(json.utf8)) else {
            throw DinoSegError(file: file.path, "corrupt training progress in the metadata")
        }
        return progress
    }

    /// A NaN or infinite weight, or a negative BatchNorm variance (a square root of it normalises), would give
    /// predictions and metrics that mean nothing; such a checkpoint is refused by name.
    package static func checkFinite(_ path: String, _ arenas: [ParameterArena], prefix: String, only: ((String) -> Bool)? = nil) throws {
        for arena in arenas {
            for v in arena.views where only?(v.name) ?? true {
                let values = UnsafeBufferPointer(start: arena.values + v.offset, count: v.count)
                if let bad = values.first(where: { !$0.isFinite }) {
                    throw DinoSegError(file: path, "tensor '\(prefix + v.name)' holds \(bad); the checkpoint is unusable")
                }
                if v.name.hasSuffix("running_var"), let negative = values.first(where: { $0 < 0 }) {
                    throw DinoSegError(file: path, "tensor '\(prefix + v.name)' holds the negative variance \(negative); the checkpoint is unusable")
                }
            }
        }
    }

    /// A float tensor of the expected shape, refused by name otherwise.
    static func tensor(_ file: SafetensorsFile, _ name: String, shape: [Int]) throws -> [Float] {
        guard let info = file.tensors[name] else {
            throw DinoSegError(file: file.path, "missing tensor '\(name)' (expected shape \(shape))")
        }
        guard info.shape == shape else {
            throw DinoSegError(file: file.path, "tensor '\(name)' has shape \(info.shape), expected \(shape)")
        }
        return try file.floats(name)
    }
}
