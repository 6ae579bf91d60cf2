import ArgumentParser
import Foundation

/// `headtrain train`: trains a head on a feature cache into a run directory (see HeadTrainer).
public struct HeadTrainTrain: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an FPN/PPM/classifier head on a train feature cache (SGD, poly lr), resumable.")

    @Option(help: "Train feature cache directory (from `extract train`).") public var cache: String
    @Option(name: .customLong("run"), help: "Run directory (config.json, log.txt, log.jsonl, last.safetensors).")
    public var runDirectory: String
    @OptionGroup public var variant: HeadVariantOptions
    @OptionGroup public var training: TrainOptionGroup
    @Flag(help: "Continue the run in --run from its last.safetensors (same flags as the original run).") public var resume = false
    @Option(name: .customLong("val-cache"), help: "Val feature cache: evaluate on it every --eval-every epochs and at the end (metrics.json, confusion.csv, eval-history.json in the run).")
    public var valCache: String?
    @Option(name: .customLong("eval-every"), help: "With --val-cache: evaluate every N epochs (0: only at the end).")
    public var evalEvery: Int = 5

    public init() {}

    public func validate() throws {
        guard evalEvery >= 0 else { throw ValidationError("--eval-every must be non-negative") }
    }

    public func run() throws {
        // Under mpirun/srun: one process per rank, data-parallel (see HeadTrainer); otherwise one process.
        let world = try Distributed.world()
        try world.endingJobOnError { try train(world) }
    }

    func train(_ world: Communicator) throws {
        let source = try CacheTrainingSource(directory: cache)
        let head = variant.headConfig(stageChannels: source.stageChannels)
        try training.precision.activate()
        let options = try training.options()
        StopSignal.install()
        // A Ctrl-C stop saves last.safetensors and ends normally (exit 0); --resume continues it.
        let trainer = HeadTrainer(head: head, options: options, source: source, runDirectory: runDirectory, resume: resume)
        trainer.communicator = world
        if let valCache, world.isRoot {
            // Evaluated in place after every --eval-every epochs and after the last one (see TrainingValidation).
            let (eval, manifest) = try ValCacheEval.settings(directory: valCache)
            // The head reads the val features with the train cache's channel counts: another backbone is refused.
            try manifest.checkSameBackbone(asTrain: source.reader.manifest, path: valCache, trainPath: cache)
            trainer.validation = TrainingValidation(settings: eval, every: evalEvery)
        }
        _ = try trainer.run()
        if let result = trainer.lastEvaluation { print(result.report) }
    }
}

/// The optimisation flags of `headtrain train`, `headtrain sweep` and `headtrain baseline train`, filling one
/// TrainOptions. The heads' defaults are TrainOptions' own; the baseline starts from `TrainOptions.baseline`
/// (semseg's batch 16), so the two flags whose defaults differ are optional here and say both defaults.
public struct TrainOptionGroup: ParsableArguments {
    @Option(help: "Epochs (heads: epoch e reads view e mod K of every image).") var epochs = TrainOptions().epochs
    @Option(help: "Batch size (the last partial batch of an epoch is dropped). (default: \(TrainOptions().batch); baseline train: \(TrainOptions.baseline.batch))")
    var batch: Int?
    @Option(help: "Base learning rate (poly schedule, power 0.9; the baseline's PPM, classifier and aux use 10×).")
    var lr = TrainOptions().lr
    @Option(help: "SGD momentum.") var momentum = TrainOptions().momentum
    @Option(name: .customLong("weight-decay"), help: "Weight decay on every parameter.") var weightDecay = TrainOptions().weightDecay
    @Option(help: "Seed for initialisation, shuffling, augmentation and dropout.") var seed = TrainOptions().seed
    @Option(help: "Threads (BLAS, data loading and the network's own loops).") var threads = TrainOptions().threads
    @Option(name: .customLong("log-interval"), help: "Steps between human log lines.") var logInterval = TrainOptions().logInterval
    @Option(name: .customLong("checkpoint-every"),
            help: "Also save last.safetensors every N steps (0: epoch ends only). (default: \(TrainOptions().checkpointEvery); baseline train: \(TrainOptions.baseline.checkpointEvery))")
    var checkpointEvery: Int?
    @Flag(name: .customLong("keep-epoch-checkpoints"), help: "Keep epoch-NNN.safetensors for every epoch.")
    var keepEpochCheckpoints = false
    @OptionGroup var precision: PrecisionOptions

    public init() {}

    /// The heads' options (defaults: TrainOptions()); throws when the machine cannot run the requested precision.
    public func options() throws -> TrainOptions { try options(defaults: TrainOptions()) }

    /// The flags over `defaults` (a flag not given keeps the default's value).
    public func options(defaults: TrainOptions) throws -> TrainOptions {
        var o = defaults
        o.precision = try precision.resolved()
        o.epochs = epochs; o.batch = batch ?? defaults.batch; o.lr = lr; o.momentum = momentum; o.weightDecay = weightDecay
        o.seed = seed; o.threads = threads; o.logInterval = logInterval; o.checkpointEvery = checkpointEvery ?? defaults.checkpointEvery
        o.keepEpochCheckpoints = keepEpochCheckpoints
        return o
    }

    public func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard (batch ?? 2) >= 2 else { throw ValidationError("--batch must be at least 2 (BatchNorm needs more than one value per channel)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must be non-negative") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard logInterval >= 1 else { throw ValidationError("--log-interval must be at least 1") }
        guard (checkpointEvery ?? 0) >= 0 else { throw ValidationError("--checkpoint-every must be non-negative") }
    }
}
