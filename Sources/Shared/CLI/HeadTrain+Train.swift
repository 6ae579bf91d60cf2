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
    @Option(help: "Epochs (epoch e reads view e mod K of every image).") public var epochs: Int = 50
    @Option(help: "Batch size (the last partial batch of an epoch is dropped).") public var batch: Int = 32
    @Option(help: "Base learning rate (poly schedule, power 0.9).") public var lr: Double = 0.01
    @Option(help: "SGD momentum.") public var momentum: Float = 0.9
    @Option(name: .customLong("weight-decay"), help: "Weight decay on every parameter.") public var weightDecay: Float = 1e-4
    @Option(help: "Seed for initialisation, shuffling and dropout.") public var seed: UInt64 = 0
    @Option(help: "Threads (BLAS and the head's own loops).") public var threads: Int = Parallel.defaultThreads
    @Option(name: .customLong("log-interval"), help: "Steps between human log lines.") public var logInterval: Int = 20
    @Option(name: .customLong("checkpoint-every"), help: "Also save last.safetensors every N steps (0: epoch ends only).")
    public var checkpointEvery: Int = 200
    @Flag(name: .customLong("keep-epoch-checkpoints"), help: "Keep epoch-NNN.safetensors for every epoch.")
    public var keepEpochCheckpoints = false
    @Flag(help: "Continue the run in --run from its last.safetensors (same flags as the original run).") public var resume = false
    @Option(name: .customLong("val-cache"), help: "Val feature cache: evaluate on it every --eval-every epochs and at the end (metrics.json, confusion.csv, eval-history.json in the run).")
    public var valCache: String?
    @Option(name: .customLong("eval-every"), help: "With --val-cache: evaluate every N epochs (0: only at the end).")
    public var evalEvery: Int = 5

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard batch >= 2 else { throw ValidationError("--batch must be at least 2 (BatchNorm needs more than one value per channel)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must be non-negative") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard logInterval >= 1 else { throw ValidationError("--log-interval must be at least 1") }
        guard evalEvery >= 0 else { throw ValidationError("--eval-every must be non-negative") }
        guard checkpointEvery >= 0 else { throw ValidationError("--checkpoint-every must be non-negative") }
    }

    public func run() throws {
        // Under mpirun/srun: one process per rank, data-parallel (see HeadTrainer); otherwise one process.
        let world = try Distributed.world()
        try world.endingJobOnError { try train(world) }
    }

    func train(_ world: Communicator) throws {
        let source = try CacheTrainingSource(directory: cache)
        let head = variant.headConfig(stageChannels: source.stageChannels)
        var options = TrainOptions()
        options.epochs = epochs; options.batch = batch; options.lr = lr; options.momentum = momentum
        options.weightDecay = weightDecay; options.seed = seed; options.threads = threads
        options.logInterval = logInterval; options.checkpointEvery = checkpointEvery
        options.keepEpochCheckpoints = keepEpochCheckpoints
        StopSignal.install()
        // A Ctrl-C stop saves last.safetensors and ends normally (exit 0); --resume continues it.
        let trainer = HeadTrainer(head: head, options: options, source: source, runDirectory: runDirectory, resume: resume)
        trainer.communicator = world
        if let valCache, world.isRoot {
            // Evaluated in place after every --eval-every epochs and after the last one (see TrainingValidation).
            let (eval, _) = try ValCacheEval.settings(directory: valCache)
            trainer.validation = TrainingValidation(settings: eval, every: evalEvery)
        }
        _ = try trainer.run()
        if let result = trainer.lastEvaluation { print(result.report) }
    }
}
