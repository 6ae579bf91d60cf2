import Foundation
import DinoSegCore
import DinoSegKernels

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
