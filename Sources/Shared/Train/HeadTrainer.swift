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
        /// Seconds spent evaluating (with `validation`).
        public var evalSeconds: Double
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

    /// The training loop: batch → learning rate → step → log → checkpoint → evaluation, until the last epoch or a stop.
    public func run() throws -> Summary {
        var session = try start()
        try redoInterruptedEvaluation(&session)
        while session.progress.epoch < options.epochs {
            let batch = try session.batches.next(at: session.progress)
            if let batch {
                let lr = polyLearningRate(base: options.lr, iteration: session.progress.step, maxIter: session.maxIter,
                                          power: options.power)
                let loss = try step(session.head, batch: batch, lr: lr,
                                    dropoutSeed: SplitMix64(seed: options.seed, 13, session.progress.step).state)
                try session.advance(loss: loss)
                try log(&session, loss: loss, lr: lr)
            }
            let epochEnded = batch == nil || session.progress.batchInEpoch >= session.stepsPerEpoch
            if epochEnded {
                try endEpoch(&session)
                try evaluateIfDue(&session, afterEpoch: session.progress.epoch)
                if stopRequested(session) {
                    if session.progress.epoch < options.epochs { session.stop("stopped at step \(session.progress.step) (continue with --resume)") }
                    break
                }
            } else if stopRequested(session) {
                try HeadCheckpoint.save(session.head, to: checkpointPath, progress: session.progress)
                session.stop("stopped at step \(session.progress.step); saved \(checkpointPath) (continue with --resume)")
                break
            } else if options.checkpointEvery > 0 && session.progress.step % options.checkpointEvery == 0 {
                try HeadCheckpoint.save(session.head, to: checkpointPath, progress: session.progress)
            }
        }
        if !session.stopped { session.log.human("finished \(session.progress.step) steps; final checkpoint \(checkpointPath)") }
        return Summary(stepsDone: session.progress.step, maxIter: session.maxIter, lastLoss: session.losses.last ?? .nan,
                       stoppedEarly: session.stopped, losses: session.losses, evalSeconds: session.evalSeconds)
    }

    /// What one call of `run` carries from step to step.
    struct Session {
        let head: SegmentationHead
        let log: TrainingLog
        let stepsPerEpoch: Int, maxIter: Int
        var progress: TrainProgress
        var batches: EpochBatches
        var losses: [Double] = []
        var stopped = false
        let started = Date()
        var evalSeconds = 0.0, dataWait = 0.0
        var interval = (loss: 0.0, steps: 0)
        var evalHistory: [EpochEval]
        let checkpointPath: String, runDirectory: String

        var stepsThisSession: Int { losses.count }

        mutating func advance(loss: Double) throws {
            guard loss.isFinite else {
                let saved = FileManager.default.fileExists(atPath: checkpointPath) ? "" : " (none was saved yet)"
                throw DinoSegError(file: runDirectory, "loss became \(loss) at step \(progress.step + 1) (epoch \(progress.epoch + 1)); stopped. The last good checkpoint is \(checkpointPath)\(saved); try a lower --lr")
            }
            progress.step += 1
            progress.batchInEpoch += 1
            losses.append(loss)
            dataWait += batches.lastWait
        }

        mutating func stop(_ message: String) {
            log.human(message)
            stopped = true
        }
    }

    /// Checks the run directory, builds (or resumes) the head, writes config.json and opens the logs.
    private func start() throws -> Session {
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
        let history = validation == nil ? [] : TrainingValidation.history(in: runDirectory, upToStep: progress.step)
        let log = try TrainingLog(directory: runDirectory, truncateFromStep: resume ? progress.step : 0,
                                  keepEvalSteps: validation == nil ? nil : Set(history.map(\.step)), output: output)
        log.human("training \(headConfig.variantName) on \(source.name): \(source.samplesPerEpoch) samples/epoch, batch \(options.batch), \(stepsPerEpoch) steps/epoch, \(options.epochs) epochs (\(maxIter) steps), lr \(options.lr) poly \(options.power), momentum \(options.momentum), weight decay \(options.weightDecay), seed \(options.seed), \(options.threads) threads\(resume ? ", resuming at step \(progress.step) (epoch \(progress.epoch + 1), batch \(progress.batchInEpoch))" : "")")
        let batches = EpochBatches(source: source, seed: options.seed, batchSize: options.batch, epochs: options.epochs,
                                   stepsPerEpoch: stepsPerEpoch, stages: headConfig.requiredStages)
        return Session(head: head, log: log, stepsPerEpoch: stepsPerEpoch, maxIter: maxIter, progress: progress,
                       batches: batches, evalHistory: history, checkpointPath: checkpointPath,
                       runDirectory: runDirectory)
    }

    /// A JSON line for every step; a human line every `logInterval` steps (and the activation memory after the first).
    private func log(_ s: inout Session, loss: Double, lr: Double) throws {
        let p = s.progress, head = s.head
        if s.stepsThisSession == 1 {
            s.log.human(String(format: "activation memory: %.1f MiB for a batch of %d (%.1f MiB per sample); %d parameters",
                               Double(head.activationBytes) / 1_048_576, options.batch,
                               Double(head.activationBytes) / 1_048_576 / Double(options.batch), head.params.count))
        }
        s.interval.loss += loss; s.interval.steps += 1
        let elapsed = Date().timeIntervalSince(s.started)
        let training = elapsed - s.evalSeconds  // rate, ETA and data wait exclude evaluations
        let rate = Double(s.stepsThisSession * options.batch) / max(training, 1e-9)
        let eta = training / Double(s.stepsThisSession) * Double(s.maxIter - p.step)
        try s.log.step(["step": p.step, "epoch": p.epoch + 1, "batch": p.batchInEpoch, "loss": loss, "lr": lr,
                        "samples_per_second": rate, "eta_seconds": eta, "elapsed_seconds": elapsed,
                        "data_wait_seconds": s.batches.lastWait, "train_seconds": s.log.earlierTrainSeconds + training])
        if p.step % options.logInterval == 0 || p.step == s.maxIter {
            s.log.human(String(format: "epoch %d/%d step %d/%d  loss %.4f (mean of last %d: %.4f)  lr %.6f  %.1f samples/s  data wait %.1f%%  ETA %@",
                               p.epoch + 1, options.epochs, p.step, s.maxIter, loss, s.interval.steps,
                               s.interval.loss / Double(s.interval.steps), lr, rate, 100 * s.dataWait / max(training, 1e-9),
                               formatDuration(eta)))
            s.interval = (0, 0)
        }
    }

    /// Moves to the next epoch and saves last.safetensors (and epoch-NNN.safetensors when asked for).
    private func endEpoch(_ s: inout Session) throws {
        let finished = s.progress.epoch + 1
        s.progress.epoch += 1
        s.progress.batchInEpoch = 0
        try HeadCheckpoint.save(s.head, to: checkpointPath, progress: s.progress)
        if options.keepEpochCheckpoints {
            try HeadCheckpoint.save(s.head, to: runDirectory + String(format: "/epoch-%03d.safetensors", finished), progress: s.progress)
        }
        s.log.human("epoch \(finished)/\(options.epochs) done (step \(s.progress.step)); saved \(checkpointPath)")
    }

    /// Evaluates on the val cache after the epochs `validation` asks for (its time is kept out of the rate and ETA).
    private func evaluateIfDue(_ s: inout Session, afterEpoch epoch: Int) throws {
        guard let v = validation, v.isDue(afterEpoch: epoch, of: options.epochs) else { return }
        let evalStart = Date()
        defer { s.evalSeconds += Date().timeIntervalSince(evalStart) }
        (lastEvaluation, s.evalHistory) = try v.evaluate(s.head, epoch: epoch, step: s.progress.step, checkpoint: checkpointPath,
                                                         runDirectory: runDirectory, history: s.evalHistory, log: s.log)
    }

    /// A kill during an evaluation leaves the epoch-end checkpoint it evaluated without its record: redo it from the
    /// checkpoint (the same weights and BN statistics as the head it was interrupted on).
    private func redoInterruptedEvaluation(_ s: inout Session) throws {
        let p = s.progress
        guard let v = validation, resume, p.batchInEpoch == 0, p.epoch > 0, v.isDue(afterEpoch: p.epoch, of: options.epochs),
              !s.evalHistory.contains(where: { $0.step == p.step }) else { return }
        s.log.human("the evaluation after epoch \(p.epoch) (step \(p.step)) was not recorded (interrupted); evaluating the checkpoint")
        try evaluateIfDue(&s, afterEpoch: p.epoch)
    }

    /// Ctrl-C, or `stopAfterSteps` steps done in this session.
    private func stopRequested(_ s: Session) -> Bool {
        StopSignal.isRequested || (options.stopAfterSteps.map { s.stepsThisSession >= $0 } ?? false)
    }

    /// One optimisation step; returns the batch loss.
    func step(_ head: SegmentationHead, batch: HeadTrainBatch, lr: Double, dropoutSeed: UInt64) throws -> Double {
        // The head reads the batch's own arrays (no copy); backward uses them too, so it runs inside the closure.
        withStagePointers(batch.stages, stages: headConfig.requiredStages) { pointers in
            head.params.zeroGrads()
            let activations = head.forward(stages: pointers, shapes: batch.stageShapes, batch: batch.count, training: true,
                                           dropoutSeed: dropoutSeed)
            return batch.labels.withUnsafeBufferPointer { labels in
                let loss = head.loss(activations, labels: labels.baseAddress!, labelHeight: batch.labelHeight,
                                     labelWidth: batch.labelWidth)
                guard loss.loss.isFinite else { return loss.loss }
                head.backward(saved: activations, loss: loss)
                head.sgdStep(lr: Float(lr), momentum: options.momentum, weightDecay: options.weightDecay)
                return loss.loss
            }
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
}
