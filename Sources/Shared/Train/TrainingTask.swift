import Foundation
import DinoSegCore
import DinoSegNN
import DinoSegEval

// What the one training loop (TrainingLoop) needs from a kind of training: a network whose parameters live in one
// flat arena, batches from a position on, forward + loss + backward, the SGD step, and the run's records (checkpoint
// format, config.json, the resume check). Heads on cached features (HeadTrainer) and the PSPNet baseline on images
// (BaselineTrainer) are the two tasks.

/// A network the loop trains: every trainable parameter (value, gradient, SGD momentum) in one flat arena, the
/// BatchNorm running statistics in another.
package protocol TrainableNetwork: AnyObject {
    var params: ParameterArena { get }
    var stats: ParameterArena { get }
    /// `num_batches_tracked` per BatchNorm.
    var batchesTracked: [String: Int64] { get set }
    /// Data-parallel training: this process's part of the global batch, whose BatchNorm statistics, dropout masks and
    /// loss are those of the whole batch (nil: this batch is all).
    var shard: BatchShard? { get set }
    /// The network in eval mode on evaluation windows (evaluation during training).
    var evaluationLogits: WindowLogits { get }
}

/// The batches one process trains on, epoch after epoch, from any (epoch, batch) on.
package protocol TrainingBatches {
    associatedtype Batch
    /// The batch at `progress`, or nil when its epoch has no more batches.
    mutating func next(at progress: TrainProgress) throws -> Batch?
    /// Seconds the last `next` waited for its batch.
    var lastWait: Double { get }
}

/// What one forward pass measured.
package struct StepLoss {
    /// The loss the gradients are of (the mean over the global batch).
    package var loss: Double
    /// Parts of it logged beside it (the baseline: main and auxiliary loss), in order.
    package var parts: [(name: String, value: Double)] = []
    /// Bytes of activations the pass kept (reported after the first step).
    package var activationBytes: Int
}

/// One kind of training. All work besides these calls (run directory, lock, resume, schedule, gradient all-reduce,
/// logs, checkpoints, evaluation, stops) is TrainingLoop's.
package protocol TrainingTask: AnyObject {
    associatedtype Network: TrainableNetwork
    associatedtype Batches: TrainingBatches

    var options: TrainOptions { get }
    /// The training data as messages name it (a cache directory, an image list).
    var dataName: String { get }
    /// Samples in one epoch (the last partial batch is dropped).
    var samplesPerEpoch: Int { get }
    /// "samples" or "images", for the log.
    var sampleWord: String { get }

    /// Checks made before the run directory is touched (the data fits the network).
    func checkInputs() throws
    /// Refuses a resume of `run` asking for other settings than its config.json records (before it is rewritten).
    func checkResume(run: String) throws
    /// A network initialised from `options.seed`; with `fresh` (not a resume) also with its starting weights. The
    /// note says where the weights come from (nil: nothing to say).
    func makeNetwork(fresh: Bool) throws -> (network: Network, note: String?)
    /// Loads a checkpoint of this task's network (weights, statistics, momentum); nil when it has no progress.
    func load(_ path: String, into network: Network) throws -> TrainProgress?
    func save(_ network: Network, to path: String, progress: TrainProgress) throws
    /// config.json: the resolved configuration of the run.
    func configuration(stepsPerEpoch: Int, maxIter: Int) throws -> Data
    /// What is trained on what, for the start line ("training fpn on CACHE").
    var summary: String { get }
    /// Extra settings for the start line (the baseline's crop and head learning rate), or "".
    var settingsNote: String { get }
    func batches(stepsPerEpoch: Int, part: Range<Int>) -> Batches
    /// Zeroed gradients are filled with those of the loss on `batch` (not when the loss is not finite).
    func lossAndGradients(_ network: Network, batch: Batches.Batch, dropoutSeed: UInt64) throws -> StepLoss
    /// The SGD step at learning rate `lr` (parameter groups may scale it).
    func update(_ network: Network, lr: Double)
}

/// What a training session did.
package struct TrainingSummary {
    package var stepsDone: Int
    package var maxIter: Int
    package var lastLoss: Double
    package var stoppedEarly: Bool
    /// This session's per-step losses.
    package var losses: [Double]
    /// Seconds spent evaluating (with a validation).
    package var evalSeconds: Double
}
