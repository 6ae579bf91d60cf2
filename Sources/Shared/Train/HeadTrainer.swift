import Foundation

/// Trains a head on a training source into a run directory:
///   config.json        resolved head + training configuration
///   log.txt            human lines (also printed); log.jsonl: one JSON object per step (and per evaluation)
///   metrics.json, confusion.csv, eval-history.json   evaluations during training (see TrainingValidation)
///   last.safetensors   checkpoint (atomic), updated at epoch ends, every `checkpointEvery` steps and on stop
///   epoch-NNN.safetensors  per-epoch checkpoints when asked for
public final class HeadTrainer {
    public struct Summary {
        public var stepsDone: Int
        public var maxIter: Int
        public var lastLoss: Double
        public var stoppedEarly: Bool
        public var losses: [Double]    // this session's per-step losses
    }

    public let headConfig: HeadConfig
    public let options: TrainOptions
    public let source: HeadTrainingSource
    public let runDirectory: String
    public let resume: Bool
    public let output: (String) -> Void
    public private(set) var head: SegmentationHead?
    /// Evaluation on a val cache during training (nil: none).
    public var validation: TrainingValidation?
    /// The latest evaluation of this session (with `validation`).
    public private(set) var lastEvaluation: EvalResult?

    public init(head: HeadConfig, options: TrainOptions, source: HeadTrainingSource, runDirectory: String, resume: Bool,
                output: @escaping (String) -> Void = { print($0); fflush(stdout) }) {
        self.headConfig = head; self.options = options; self.source = source
        self.runDirectory = runDirectory; self.resume = resume; self.output = output
    }

    var checkpointPath: String { runDirectory + "/last.safetensors" }

    public func run() throws -> Summary {
        try headConfig.validate()
        try source.check(fits: headConfig)
        let stepsPerEpoch = source.samplesPerEpoch / options.batch
        guard stepsPerEpoch > 0 else {
            throw DinoSegError(file: source.name, "\(source.samplesPerEpoch) samples are fewer than one batch of \(options.batch)")
        }
        let maxIter = options.epochs * stepsPerEpoch
        let fm = FileManager.default
        if !resume && fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: runDirectory, "already holds a checkpoint; use --resume to continue it or choose another --run")
        }
        if resume && !fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: checkpointPath, "no checkpoint to resume from")
        }
        try FileSystem.createDirectory(runDirectory, what: "run directory")

        setBLASThreads(options.threads)
        let head = try SegmentationHead(config: headConfig, seed: options.seed, threads: options.threads)
        self.head = head
        var progress = TrainProgress(step: 0, epoch: 0, batchInEpoch: 0, seed: options.seed, maxIter: maxIter, batchSize: options.batch)
        if resume {
            guard let stored = try HeadCheckpoint.load(checkpointPath, into: head) else {
                throw DinoSegError(file: checkpointPath, "has no training progress (not a training checkpoint)")
            }
            guard stored.seed == options.seed, stored.maxIter == maxIter, stored.batchSize == options.batch else {
                throw DinoSegError(file: checkpointPath, "was trained with seed \(stored.seed), batch \(stored.batchSize), \(stored.maxIter) iterations; this run asks for seed \(options.seed), batch \(options.batch), \(maxIter) iterations (pass the original --seed/--batch/--epochs)")
            }
            progress = stored
        }

        try writeConfig(stepsPerEpoch: stepsPerEpoch, maxIter: maxIter)
        var evalHistory = validation == nil ? [] : TrainingValidation.history(in: runDirectory, upToStep: progress.step)
        let log = try TrainingLog(directory: runDirectory, truncateFromStep: resume ? progress.step : 0,
                                  keepEvalSteps: validation == nil ? nil : Set(evalHistory.map(\.step)), output: output)
        log.human("training \(headConfig.variantName) on \(source.name): \(source.samplesPerEpoch) samples/epoch, batch \(options.batch), \(stepsPerEpoch) steps/epoch, \(options.epochs) epochs (\(maxIter) steps), lr \(options.lr) poly \(options.power), momentum \(options.momentum), weight decay \(options.weightDecay), seed \(options.seed), \(options.threads) threads\(resume ? ", resuming at step \(progress.step) (epoch \(progress.epoch + 1), batch \(progress.batchInEpoch))" : "")")

        var losses: [Double] = []
        var lastLoss = Double.nan
        var stopped = false
        let sessionStart = Date()
        var stepsThisSession = 0
        var intervalLoss = 0.0, intervalSteps = 0
        var dataWait = 0.0, evalSeconds = 0.0
        // A kill during an evaluation leaves the epoch-end checkpoint it evaluated without its record: redo it from
        // the checkpoint (the same weights and BN statistics as the head it was interrupted on).
        if let v = validation, resume, progress.batchInEpoch == 0, progress.epoch > 0,
           v.isDue(afterEpoch: progress.epoch, of: options.epochs), !evalHistory.contains(where: { $0.step == progress.step }) {
            log.human("the evaluation after epoch \(progress.epoch) (step \(progress.step)) was not recorded (interrupted); evaluating the checkpoint")
            let evalStart = Date()
            (lastEvaluation, evalHistory) = try v.evaluate(head, epoch: progress.epoch, step: progress.step, checkpoint: checkpointPath,
                                                           runDirectory: runDirectory, history: evalHistory, log: log)
            evalSeconds += Date().timeIntervalSince(evalStart)
        }
        // The next epoch's stream is opened while the last step of an epoch runs, so its first batches are read
        // during that step and the epoch-end checkpoint instead of at the start of the next epoch.
        var upcoming: (epoch: Int, next: () throws -> HeadTrainBatch?)?
        training: while progress.epoch < options.epochs {
            let next: () throws -> HeadTrainBatch?
            if let u = upcoming, u.epoch == progress.epoch, progress.batchInEpoch == 0 {
                next = u.next
            } else {
                next = try source.batches(epoch: progress.epoch, seed: options.seed, batchSize: options.batch,
                                          startBatch: progress.batchInEpoch, stages: headConfig.requiredStages)
            }
            upcoming = nil
            while progress.batchInEpoch < stepsPerEpoch {
                let waitStart = DispatchTime.now().uptimeNanoseconds
                guard let batch = try next() else { break }
                let waited = Double(DispatchTime.now().uptimeNanoseconds - waitStart) / 1e9
                dataWait += waited
                if progress.batchInEpoch + 1 == stepsPerEpoch && progress.epoch + 1 < options.epochs {
                    upcoming = (progress.epoch + 1, try source.batches(epoch: progress.epoch + 1, seed: options.seed,
                                                                       batchSize: options.batch, startBatch: 0,
                                                                       stages: headConfig.requiredStages))
                }
                let lr = polyLearningRate(base: options.lr, iteration: progress.step, maxIter: maxIter, power: options.power)
                let loss = try step(head, batch: batch, lr: lr, dropoutSeed: SplitMix64(seed: options.seed, 13, progress.step).state)
                guard loss.isFinite else {
                    throw DinoSegError(file: runDirectory, "loss became \(loss) at step \(progress.step + 1) (epoch \(progress.epoch + 1)); stopped. The last good checkpoint is \(checkpointPath)\(fm.fileExists(atPath: checkpointPath) ? "" : " (none was saved yet)"); try a lower --lr")
                }
                progress.step += 1
                progress.batchInEpoch += 1
                stepsThisSession += 1
                if stepsThisSession == 1 {
                    log.human(String(format: "activation memory: %.1f MiB for a batch of %d (%.1f MiB per sample); %d parameters",
                                     Double(head.workspace.bytes) / 1_048_576, options.batch,
                                     Double(head.workspace.bytes) / 1_048_576 / Double(options.batch), head.params.count))
                }
                losses.append(loss)
                lastLoss = loss
                intervalLoss += loss; intervalSteps += 1
                let elapsed = Date().timeIntervalSince(sessionStart)
                let training = elapsed - evalSeconds  // rate, ETA and data wait exclude evaluations
                let rate = Double(stepsThisSession * options.batch) / max(training, 1e-9)
                let eta = training / Double(stepsThisSession) * Double(maxIter - progress.step)
                try log.step(["step": progress.step, "epoch": progress.epoch + 1, "batch": progress.batchInEpoch, "loss": loss, "lr": lr,
                              "samples_per_second": rate, "eta_seconds": eta, "elapsed_seconds": elapsed,
                              "data_wait_seconds": waited, "train_seconds": log.earlierTrainSeconds + training])
                if progress.step % options.logInterval == 0 || progress.step == maxIter {
                    log.human(String(format: "epoch %d/%d step %d/%d  loss %.4f (mean of last %d: %.4f)  lr %.6f  %.1f samples/s  data wait %.1f%%  ETA %@",
                                     progress.epoch + 1, options.epochs, progress.step, maxIter, loss, intervalSteps,
                                     intervalLoss / Double(intervalSteps), lr, rate, 100 * dataWait / max(training, 1e-9),
                                     Self.duration(eta)))
                    intervalLoss = 0; intervalSteps = 0
                }
                let interrupted = StopSignal.isRequested || (options.stopAfterSteps.map { stepsThisSession >= $0 } ?? false)
                if progress.batchInEpoch >= stepsPerEpoch { break }
                if interrupted {
                    try HeadCheckpoint.save(head, to: checkpointPath, progress: progress)
                    log.human("stopped at step \(progress.step); saved \(checkpointPath) (continue with --resume)")
                    stopped = true
                    break training
                }
                if options.checkpointEvery > 0 && progress.step % options.checkpointEvery == 0 {
                    try HeadCheckpoint.save(head, to: checkpointPath, progress: progress)
                }
            }
            let finishedEpoch = progress.epoch
            progress.epoch += 1
            progress.batchInEpoch = 0
            try HeadCheckpoint.save(head, to: checkpointPath, progress: progress)
            if options.keepEpochCheckpoints {
                try HeadCheckpoint.save(head, to: runDirectory + String(format: "/epoch-%03d.safetensors", finishedEpoch + 1), progress: progress)
            }
            log.human("epoch \(finishedEpoch + 1)/\(options.epochs) done (step \(progress.step)); saved \(checkpointPath)")
            if let v = validation, v.isDue(afterEpoch: finishedEpoch + 1, of: options.epochs) {
                let evalStart = Date()
                defer { evalSeconds += Date().timeIntervalSince(evalStart) }
                (lastEvaluation, evalHistory) = try v.evaluate(head, epoch: finishedEpoch + 1, step: progress.step,
                                                               checkpoint: checkpointPath, runDirectory: runDirectory,
                                                               history: evalHistory, log: log)
            }
            if StopSignal.isRequested || (options.stopAfterSteps.map { stepsThisSession >= $0 } ?? false) {
                if progress.epoch < options.epochs {
                    log.human("stopped at step \(progress.step) (continue with --resume)")
                    stopped = true
                }
                break
            }
        }
        if !stopped { log.human("finished \(progress.step) steps; final checkpoint \(checkpointPath)") }
        return Summary(stepsDone: progress.step, maxIter: maxIter, lastLoss: lastLoss, stoppedEarly: stopped, losses: losses)
    }

    /// One optimisation step; returns the batch loss.
    func step(_ head: SegmentationHead, batch: HeadTrainBatch, lr: Double, dropoutSeed: UInt64) throws -> Double {
        // The head reads the batch's own arrays (no copy); backward uses them too, so it runs inside the closure.
        try withStagePointers(batch.stages, keys: batch.stages.keys.sorted()[...]) { pointers in
            head.params.zeroGrads()
            head.forward(stages: pointers, shapes: batch.stageShapes, batch: batch.count, training: true,
                         dropoutSeed: dropoutSeed)
            let loss = batch.labels.withUnsafeBufferPointer {
                head.loss(labels: $0.baseAddress!, labelHeight: batch.labelHeight, labelWidth: batch.labelWidth).loss
            }
            guard loss.isFinite else { return loss }
            head.backward()
            head.sgdStep(lr: Float(lr), momentum: options.momentum, weightDecay: options.weightDecay)
            return loss
        }
    }

    /// Calls `body` with pointers to the arrays of `stages` (for the keys `keys`), valid for the whole call.
    private func withStagePointers<R>(_ stages: [Int: [Float]], keys: ArraySlice<Int>, pointers: [Int: UnsafePointer<Float>] = [:],
                                      _ body: ([Int: UnsafePointer<Float>]) throws -> R) throws -> R {
        guard let k = keys.first else { return try body(pointers) }
        return try stages[k]!.withUnsafeBufferPointer { buffer in
            var more = pointers
            more[k] = buffer.baseAddress!
            return try withStagePointers(stages, keys: keys.dropFirst(), pointers: more, body)
        }
    }

    func writeConfig(stepsPerEpoch: Int, maxIter: Int) throws {
        struct Resolved: Codable {
            var head: HeadConfig
            var variant: String
            var train: TrainOptions
            var cache: String
            var samplesPerEpoch: Int
            var stepsPerEpoch: Int
            var maxIter: Int
            var machine: MachineInfo
        }
        let resolved = Resolved(head: headConfig, variant: headConfig.variantName, train: options, cache: source.name,
                                samplesPerEpoch: source.samplesPerEpoch, stepsPerEpoch: stepsPerEpoch, maxIter: maxIter,
                                machine: .current)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(resolved)
        output(String(decoding: data, as: UTF8.self))
        try AtomicWrite.write(data, to: runDirectory + "/config.json")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
