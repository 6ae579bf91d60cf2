import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegEval
import DinoSegPipeline

/// `headtrain train`: trains a head on a feature cache into a run directory (see HeadTrainer).
package struct HeadTrainTrain: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an FPN/PPM/classifier head on a train feature cache (SGD, poly lr), resumable.")

    @Option(help: "Train feature cache directory (from `extract train`).") package var cache: String
    @Option(name: .customLong("run"), help: "Run directory (config.json, log.txt, log.jsonl, last.safetensors).")
    package var runDirectory: String
    @OptionGroup package var variant: HeadVariantOptions
    @OptionGroup package var training: TrainOptionGroup
    @Flag(help: "Continue the run in --run from its last.safetensors (same flags as the original run).") package var resume = false
    @Option(name: .customLong("val-cache"), help: "Val feature cache: evaluate on it every --eval-every epochs and at the end (metrics.json, confusion.csv, eval-history.json in the run).")
    package var valCache: String?
    @Option(name: .customLong("eval-every"), help: "With --val-cache: evaluate every N epochs (0: only at the end).")
    package var evalEvery: Int = 5

    package init() {}

    package func validate() throws {
        try FlagBounds.check(evalEvery, in: FlagBounds.evalEvery, "--eval-every")
    }

    package func run() throws {
        // Under mpirun/srun: one process per rank, data-parallel (see HeadTrainer); otherwise one process.
        let world = try Distributed.world()
        try world.endingJobOnError { try train(world) }
    }

    func train(_ world: Communicator) throws {
        let source = try CacheTrainingSource(directory: cache)
        var head = variant.headConfig(stageChannels: source.stageChannels)
        head.numClasses = source.reader.manifest.config.datasetDescription.classCount   // the cache's dataset decides
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
package struct TrainOptionGroup: ParsableArguments {
    /// The two sets of defaults, made once: the parser builds this group many times per command line, and each
    /// TrainOptions() asks the system for the processor count.
    static let heads = TrainOptions(), baseline = TrainOptions.baseline

    @Option(help: "Epochs (heads: epoch e reads view e mod K of every image).") var epochs = TrainOptionGroup.heads.epochs
    @Option(help: "Batch size (the last partial batch of an epoch is dropped). (default: \(TrainOptionGroup.heads.batch); baseline train: \(TrainOptionGroup.baseline.batch))")
    var batch: Int?
    @Option(help: "Base learning rate (poly schedule, power 0.9; the baseline's PPM, classifier and aux use 10×).")
    var lr = TrainOptionGroup.heads.lr
    @Option(help: "SGD momentum.") var momentum = TrainOptionGroup.heads.momentum
    @Option(name: .customLong("weight-decay"), help: "Weight decay on every parameter.") var weightDecay = TrainOptionGroup.heads.weightDecay
    @Option(help: "Seed for initialisation, shuffling, augmentation and dropout.") var seed = TrainOptionGroup.heads.seed
    @Option(help: "Threads (BLAS, data loading and the network's own loops).") var threads = TrainOptionGroup.heads.threads
    @Option(name: .customLong("log-interval"), help: "Steps between human log lines.") var logInterval = TrainOptionGroup.heads.logInterval
    @Option(name: .customLong("checkpoint-every"),
            help: "Also save last.safetensors every N steps (0: epoch ends only). (default: \(TrainOptionGroup.heads.checkpointEvery); baseline train: \(TrainOptionGroup.baseline.checkpointEvery))")
    var checkpointEvery: Int?
    @Flag(name: .customLong("keep-epoch-checkpoints"), help: "Keep epoch-NNN.safetensors for every epoch.")
    var keepEpochCheckpoints = false
    @OptionGroup var precision: PrecisionOptions

    package init() {}

    /// The heads' options (defaults: TrainOptions()); throws when the machine cannot run the requested precision.
    package func options() throws -> TrainOptions { try options(defaults: TrainOptions()) }

    /// The flags over `defaults` (a flag not given keeps the default's value).
    package func options(defaults: TrainOptions) throws -> TrainOptions {
        var o = defaults
        o.precision = try precision.resolved()
        o.epochs = epochs; o.batch = batch ?? defaults.batch; o.lr = lr; o.momentum = momentum; o.weightDecay = weightDecay
        o.seed = seed; o.threads = threads; o.logInterval = logInterval; o.checkpointEvery = checkpointEvery ?? defaults.checkpointEvery
        o.keepEpochCheckpoints = keepEpochCheckpoints
        return o
    }

    package func validate() throws {
        try FlagBounds.check(epochs, in: FlagBounds.epochs, "--epochs")
        // At least 2: BatchNorm needs more than one value per channel.
        try FlagBounds.check(batch, in: FlagBounds.trainBatch, "--batch")
        try FlagBounds.check(lr, in: FlagBounds.learningRate, "--lr")
        try FlagBounds.check(momentum, in: FlagBounds.momentum, "--momentum")
        try FlagBounds.check(weightDecay, in: FlagBounds.weightDecay, "--weight-decay")
        try FlagBounds.check(threads, in: FlagBounds.threads, "--threads")
        // Both only compare against the step counter, so any count is safe.
        try FlagBounds.check(logInterval, in: 1...Int.max, "--log-interval")
        try FlagBounds.check(checkpointEvery, in: 0...Int.max, "--checkpoint-every")
    }
}
