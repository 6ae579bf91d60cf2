import Foundation
import DinoSegCore
import DinoSegKernels

/// The one way a trained network becomes a safetensors checkpoint (heads and the baseline alike): every parameter in
/// PyTorch layout under its state_dict name, with its SGD momentum as `optimizer.momentum.<name>` when `progress` is
/// given (a resumable checkpoint), the BatchNorm running statistics and `num_batches_tracked`; metadata "format",
/// "config" (the network's config as JSON) and "progress".
package enum CheckpointWriter {
    package static func write<Config: Encodable>(params p: ParameterArena, stats: ParameterArena, batchesTracked: [String: Int64],
                                         format: String, config: Config, progress: TrainProgress?,
                                         extraMetadata: [String: String], to path: String) throws {
        var floats: [(name: String, shape: [Int], values: [Float])] = []
        for v in p.views {
            floats.append((v.name, v.torchShape, p.torchLayout(p.values, view: v)))
            if progress != nil { floats.append(("optimizer.momentum.\(v.name)", v.torchShape, p.torchLayout(p.momentum, view: v))) }
        }
        for v in stats.views { floats.append((v.name, v.torchShape, stats.torchLayout(stats.values, view: v))) }
        let ints = batchesTracked.map { (name: "\($0.key).num_batches_tracked", shape: [Int](), values: [$0.value]) }
        var meta = extraMetadata
        meta["format"] = format
        meta["config"] = try metadataJSON(config)
        if let progress { meta["progress"] = try metadataJSON(progress) }
        try SafetensorsFile.write(path: path, floats: floats, integers: ints, metadata: meta)
    }

    /// Sorted keys: the same network and progress give the same bytes (JSONEncoder's order follows a hash otherwise).
    static func metadataJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Where a training run is: enough to continue it exactly. Random streams (shuffle, dropout) are derived from
/// (seed, epoch, step), so seed + position is the whole RNG state.
package struct TrainProgress: Codable, Equatable, Sendable {
    /// Optimizer steps done so far (= the poly schedule's iteration k of the next step).
    package var step: Int
    /// Epoch and batch index within it of the next batch to train on.
    package var epoch: Int
    package var batchInEpoch: Int
    package var seed: UInt64
    package var maxIter: Int
    package var batchSize: Int
    /// The matrix multiplies' precision; nil in checkpoints written before precisions existed (= fp32).
    package var precision: Precision?

    package init(step: Int, epoch: Int, batchInEpoch: Int, seed: UInt64, maxIter: Int, batchSize: Int,
                precision: Precision = .fp32) {
        self.step = step; self.epoch = epoch; self.batchInEpoch = batchInEpoch; self.seed = seed; self.maxIter = maxIter
        self.batchSize = batchSize; self.precision = precision
    }

    /// Throws, naming `checkpoint`, when a resumed run asks for other settings than the ones this progress was made with,
    /// or when the progress is not a position of that run (`stepsPerEpoch` batches an epoch).
    package func checkResumable(_ checkpoint: String, seed: UInt64, maxIter: Int, batchSize: Int, precision: Precision,
                               stepsPerEpoch: Int) throws {
        guard self.seed == seed, self.maxIter == maxIter, self.batchSize == batchSize else {
            throw DinoSegError(file: checkpoint, "was trained with seed \(self.seed), batch \(self.batchSize), \(self.maxIter) iterations; this run asks for seed \(seed), batch \(batchSize), \(maxIter) iterations (pass the original --seed/--batch/--epochs)")
        }
        let stored = self.precision ?? .fp32
        guard stored == precision else {
            throw DinoSegError(file: checkpoint, "was trained in \(stored); this run asks for \(precision) (continue it with --precision \(stored), or start a new --run in \(precision))")
        }
        try checkPosition(checkpoint, stepsPerEpoch: stepsPerEpoch)
    }

    /// The trainer resumes at (epoch, batch) and counts steps from `step`: a negative index crashes it, and any other
    /// inconsistent triple skips or repeats batches. A saved position always has batch < stepsPerEpoch and
    /// step = epoch × stepsPerEpoch + batch ≤ maxIter.
    func checkPosition(_ checkpoint: String, stepsPerEpoch: Int) throws {
        let epochs = stepsPerEpoch > 0 ? maxIter / stepsPerEpoch : 0
        guard step >= 0, epoch >= 0, batchInEpoch >= 0, batchInEpoch < stepsPerEpoch, epoch <= epochs,
              step == epoch * stepsPerEpoch + batchInEpoch, step <= maxIter else {
            throw DinoSegError(file: checkpoint, "corrupt training progress: step \(step), epoch \(epoch), batch \(batchInEpoch) is not a position of a run of \(epochs) epochs of \(stepsPerEpoch) steps")
        }
    }
}
