import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegNN
import DinoSegCache
import DinoSegModels
import DinoSegEval

/// Trains a head on a training source into a run directory:
///   config.json        resolved head + training configuration
///   log.txt            human lines (also printed); log.jsonl: one JSON object per step (and per evaluation)
///   metrics.json, confusion.csv, eval-history.json   evaluations during training (see TrainingValidation)
///   last.safetensors   checkpoint (atomic), updated at epoch ends, every `checkpointEvery` steps and on stop
///   epoch-NNN.safetensors  per-epoch checkpoints when asked for
/// Data-parallel (`communicator` of several processes): every process reads its share of each global batch, BatchNorm
/// and the loss use sums over the global batch, gradients are summed before the SGD step, so the processes train the
/// model one process would; rank 0 alone writes the run directory and evaluates, and its checkpoint is what all start from.
package final class HeadTrainer {
    package struct Summary {
        package var stepsDone: Int
        package var maxIter: Int
        package var lastLoss: Double
        package var stoppedEarly: Bool
        package var losses: [Double]    // this session's per-step losses
        /// Seconds spent evaluating (with `validation`).
        package var evalSeconds: Double
    }

    package let headConfig: HeadConfig
    package let options: TrainOptions
    package let source: HeadTrainingSource
    package let runDirectory: String
    package let resume: Bool
    package let output: (String) -> Void
    package private(set) var head: SegmentationHead?
    /// Evaluation on a val cache during training (nil: none).
    package var validation: TrainingValidation?
    /// The latest evaluation of this session (with `validation`).
    package private(set) var lastEvaluation: EvalResult?
    /// The processes training together (one by default).
    package var communicator: Communicator = SingleProcess()
    /// Seconds spent in the gradient allreduce of the last step (0 for one process).
    private var allreduceSeconds = 0.0

    package init(head: HeadConfig, options: TrainOptions, source: HeadTrainingSource, runDirectory: String, resume: Bool,
                output: @escaping (String) -> Void = { print($0); fflush(stdout) }) {
        self.headConfig = head; self.options = options; self.source = source
        self.runDirectory = runDirectory; self.resume = resume; self.output = output
    }

    var checkpointPath: String { runDirectory + "/last.safetensors" }

    /// Trains with the BLAS on `options.threads` threads (restored afterwards).
    package func run() throws -> Summary {
        try withBLASThreads(options.threads) { try withPrecision(options.precision) { try loop() } }
    }

    /// The training loop: batch → learning rate → step → log → checkpoint → evaluation, until the last epoch or a stop.
    private func loop() throws -> Summary {
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
                if try stopRequested(session) {
                    if session.progress.epoch < options.epochs { session.stop("stopped at step \(session.progress.step) (continue with --resume)") }
                    break
                }
            } else if try stopRequested(session) {
                try save(session, to: checkpointPath)
                session.stop("stopped at step \(session.progress.step); saved \(checkpointPath) (continue with --resume)")
                break
            } else if options.checkpointEvery > 0 && session.progress.step % options.checkpointEvery == 0 {
                try save(session, to: checkpointPath)
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
        /// The run directory's lock (rank 0), released when the session ends.
        let lock: DirectoryLock?

        var stepsThisSession: Int { losses.count }

        mutating func advance(loss: Double) throws {
            // A finite loss can still come with an SGD step that overflowed the weights: checked too, so that the
            // checkpoint saved after this step (and called good below) never holds them.
            let what = !loss.isFinite ? "loss became \(loss)" : !head.params.valuesAreFinite ? "weights became non-finite" : nil
            if let what {
                let saved = FileManager.default.fileExists(atPath: checkpointPath) ? "" : " (none was saved yet)"
                throw DinoSegError(file: runDirectory, "\(what) at step \(progress.step + 1) (epoch \(progress.epoch + 1)); stopped. The last good checkpoint is \(checkpointPath)\(saved); try a lower --lr")
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
        let comm = communicator, isRoot = comm.isRoot
        guard options.batch >= comm.size else {
            throw DinoSegError("batch \(options.batch) is smaller than the \(comm.size) processes sharing it; use a --batch of at least \(comm.size)")
        }
        // Only rank 0 needs the run directory (the others take its state, see DataParallelStart); it holds the
        // directory's lock for the whole session, and checks the checkpoint under it.
        let fm = FileManager.default
        if isRoot && resume && !fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: checkpointPath, "no checkpoint to resume from")
        }
        var lock: DirectoryLock? = nil
        if isRoot {
            try FileSystem.createDirectory(runDirectory, what: "run directory")
            lock = try DirectoryLock(directory: runDirectory, what: "run directory")
        }
        if isRoot && !resume && fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: runDirectory, "already holds a checkpoint; use --resume to continue it or choose another --run")
        }
        if isRoot && resume && !fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: checkpointPath, "no checkpoint to resume from")
        }
        if isRoot && resume { try checkSameTraining() }

        let head = try SegmentationHead(config: headConfig, seed: options.seed, threads: options.threads)
        self.head = head
        var progress = TrainProgress(step: 0, epoch: 0, batchInEpoch: 0, seed: options.seed, maxIter: maxIter, batchSize: options.batch,
                                     precision: options.precision)
        if resume && isRoot {
            guard let stored = try HeadCheckpoint.load(checkpointPath, into: head) else {
                throw DinoSegError(file: checkpointPath, "has no training progress (not a training checkpoint)")
            }
            try stored.checkResumable(checkpointPath, seed: options.seed, maxIter: maxIter, batchSize: options.batch,
                                      precision: options.precision, stepsPerEpoch: stepsPerEpoch)
            progress = stored
        }
        let part = comm.share(of: options.batch)
        if comm.size > 1 {
            progress = try DataParallelStart.synchronise(head, progress: progress, over: comm)
            head.shard = BatchShard(offset: part.lowerBound, globalCount: options.batch) { buffer in
                do { try comm.allreduceSum(buffer) } catch { DataParallelStart.fail(error, comm) }
            }
        }

        let history = validation == nil || !isRoot ? [] : TrainingValidation.history(in: runDirectory, upToStep: progress.step)
        let log: TrainingLog
        if isRoot {
            try writeConfig(stepsPerEpoch: stepsPerEpoch, maxIter: maxIter)
            log = try TrainingLog(directory: runDirectory, truncateFromStep: resume ? progress.step : 0,
                                  keepEvalSteps: validation == nil ? nil : Set(history.map(\.step)), output: output)
        } else {
            log = TrainingLog()
        }
        let processes = comm.size > 1 ? ", \(comm.size) processes × \(options.threads) threads (\(options.batch / comm.size)–\((options.batch + comm.size - 1) / comm.size) samples each)" : ", \(options.threads) threads"
        log.human("training \(headConfig.variantName) on \(source.name): \(source.samplesPerEpoch) samples/epoch, batch \(options.batch), \(stepsPerEpoch) steps/epoch, \(options.epochs) epochs (\(maxIter) steps), lr \(options.lr) poly \(options.power), momentum \(options.momentum), weight decay \(options.weightDecay), seed \(options.seed), precision \(PrecisionChoice.describe(activeEngine))\(processes)\(resume ? ", resuming at step \(progress.step) (epoch \(progress.epoch + 1), batch \(progress.batchInEpoch))" : "")")
        let batches = EpochBatches(source: source, seed: options.seed, batchSize: options.batch, epochs: options.epochs,
                                   stepsPerEpoch: stepsPerEpoch, stages: headConfig.requiredStages, part: part)
        return Session(head: head, log: log, stepsPerEpoch: stepsPerEpoch, maxIter: maxIter, progress: progress,
                       batches: batches, evalHistory: history, checkpointPath: checkpointPath,
                       runDirectory: runDirectory, lock: lock)
    }

    /// Refuses a resume that would continue the run with other optimisation settings or on other features than its
    /// config.json records (config.json is rewritten on resume, so it must stay the record of the whole run).
    private func checkSameTraining() throws {
        guard let recorded = try RecordedTraining.read(run: runDirectory) else { return }
        try RunRecord.checkResume(runDirectory, changes: recorded.differences(from: options, cache: source.name, features: source.features))
    }

    /// A JSON line for every step; a human line every `logInterval` steps (and the activation memory after the first).
    private func log(_ s: inout Session, loss: Double, lr: Double) throws {
        let p = s.progress, head = s.head
        if s.stepsThisSession == 1 {
            s.log.human(String(format: "activation memory: %.1f MiB for a batch of %d (%.1f MiB per sample); %d parameters",
                               Double(head.activationBytes) / 1_048_576, s.batches.part.count,
                               Double(head.activationBytes) / 1_048_576 / Double(s.batches.part.count), head.params.count))
        }
        s.interval.loss += loss; s.interval.steps += 1
        let elapsed = Date().timeIntervalSince(s.started)
        let training = elapsed - s.evalSeconds  // rate, ETA and data wait exclude evaluations
        let rate = Double(s.stepsThisSession * options.batch) / max(training, 1e-9)
        let eta = training / Double(s.stepsThisSession) * Double(s.maxIter - p.step)
        var fields: [String: Any] = ["step": p.step, "epoch": p.epoch + 1, "batch": p.batchInEpoch, "loss": loss, "lr": lr,
                                     "samples_per_second": rate, "eta_seconds": eta, "elapsed_seconds": elapsed,
                                     "data_wait_seconds": s.batches.lastWait, "train_seconds": s.log.earlierTrainSeconds + training]
        if communicator.size > 1 {
            fields["allreduce_seconds"] = allreduceSeconds
            fields["allreduce_bytes"] = head.params.count * MemoryLayout<Float>.size
        }
        try s.log.step(fields)
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
        try save(s, to: checkpointPath)
        if options.keepEpochCheckpoints {
            try save(s, to: runDirectory + String(format: "/epoch-%03d.safetensors", finished))
        }
        s.log.human("epoch \(finished)/\(options.epochs) done (step \(s.progress.step)); saved \(checkpointPath)")
    }

    /// Evaluates on the val cache after the epochs `validation` asks for (its time is kept out of the rate and ETA).
    private func evaluateIfDue(_ s: inout Session, afterEpoch epoch: Int) throws {
        guard let v = validation, communicator.isRoot, v.isDue(afterEpoch: epoch, of: options.epochs) else { return }
        let evalStart = Date()
        defer { s.evalSeconds += Date().timeIntervalSince(evalStart) }
        (lastEvaluation, s.evalHistory) = try v.evaluate(s.head, epoch: epoch, step: s.progress.step, checkpoint: checkpointPath,
                                                         runDirectory: runDirectory, history: s.evalHistory, log: s.log)
    }

    /// A kill during an evaluation leaves the epoch-end checkpoint it evaluated without its record: redo it from the
    /// checkpoint (the same weights and BN statistics as the head it was interrupted on).
    private func redoInterruptedEvaluation(_ s: inout Session) throws {
        let p = s.progress
        guard let v = validation, communicator.isRoot, resume, p.batchInEpoch == 0, p.epoch > 0, v.isDue(afterEpoch: p.epoch, of: options.epochs),
              !s.evalHistory.contains(where: { $0.step == p.step }) else { return }
        s.log.human("the evaluation after epoch \(p.epoch) (step \(p.step)) was not recorded (interrupted); evaluating the checkpoint")
        try evaluateIfDue(&s, afterEpoch: p.epoch)
    }

    /// Ctrl-C, or `stopAfterSteps` steps done in this session. Every process stops at the same step: a stop
    /// requested on any of them counts for all.
    private func stopRequested(_ s: Session) throws -> Bool {
        try !communicator.allSucceeded(!StopSignal.isRequested) || (options.stopAfterSteps.map { s.stepsThisSession >= $0 } ?? false)
    }

    /// Saves a checkpoint of the session's head and progress (rank 0 alone writes).
    private func save(_ s: Session, to path: String) throws {
        guard communicator.isRoot else { return }
        let backbone = source.features.map { [HeadCheckpoint.backboneKey: $0.weightsSHA256] } ?? [:]
        try HeadCheckpoint.save(s.head, to: path, progress: s.progress, extraMetadata: backbone)
    }

    /// One optimisation step; returns the batch loss.
    func step(_ head: SegmentationHead, batch: TrainBatch, lr: Double, dropoutSeed: UInt64) throws -> Double {
        // The head reads the batch's own arrays (no copy); backward uses them too, so it runs inside the closure.
        try withStagePointers(batch.stages, stages: headConfig.requiredStages) { pointers in
            head.params.zeroGrads()
            let activations = head.forward(stages: pointers, shapes: batch.stageShapes, batch: batch.count, training: true,
                                           dropoutSeed: dropoutSeed)
            return try batch.labels.withUnsafeBufferPointer { labels in
                let loss = head.loss(activations, labels: labels.baseAddress!, labelHeight: batch.labelHeight,
                                     labelWidth: batch.labelWidth)
                guard loss.loss.isFinite else { return loss.loss }
                head.backward(saved: activations, loss: loss)
                if communicator.size > 1 {
                    // Each process's gradient is its share of the global batch's (the loss is already the global mean).
                    let start = DispatchTime.now().uptimeNanoseconds
                    try communicator.allreduceSum(UnsafeMutableBufferPointer(start: head.params.grads, count: head.params.count))
                    allreduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                }
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
            var features: FeatureIdentity?
        }
        let resolved = Resolved(head: headConfig, variant: headConfig.variantName, train: options, cache: source.name,
                                samplesPerEpoch: source.samplesPerEpoch, stepsPerEpoch: stepsPerEpoch, maxIter: maxIter,
                                machine: .current, features: source.features)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(resolved)
        output(String(decoding: data, as: UTF8.self))
        try AtomicWrite.write(data, to: runDirectory + "/config.json")
    }
}
