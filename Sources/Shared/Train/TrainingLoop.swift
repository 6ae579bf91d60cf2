import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegNN
import DinoSegEval

/// The one training loop (heads and the PSPNet baseline alike), over a run directory:
///   config.json        the task's resolved configuration
///   log.txt            human lines (also printed); log.jsonl: one JSON object per step (and per evaluation)
///   metrics.json, confusion.csv, eval-history.json   evaluations during training (see TrainingValidation)
///   last.safetensors   checkpoint (atomic), updated at epoch ends, every `checkpointEvery` steps and on stop
///   epoch-NNN.safetensors  per-epoch checkpoints when asked for
/// The directory is locked for the session (DirectoryLock); a resume is checked against config.json and the
/// checkpoint's progress before anything is rewritten.
/// Data-parallel (`communicator` of several processes): every process reads its share of each global batch, BatchNorm
/// and the loss use sums over the global batch, gradients are summed before the SGD step, so the processes train the
/// model one process would; rank 0 alone writes the run directory and evaluates, and its checkpoint is what all start from.
final class TrainingLoop<Task: TrainingTask> {
    let task: Task
    let runDirectory: String
    let resume: Bool
    let communicator: Communicator
    let validation: TrainingValidation?
    let output: (String) -> Void
    private(set) var network: Task.Network?
    /// The latest evaluation of this session (with `validation`).
    private(set) var lastEvaluation: EvalResult?
    /// Seconds spent in the gradient all-reduce of the last step (0 for one process).
    private var allreduceSeconds = 0.0

    init(task: Task, runDirectory: String, resume: Bool, communicator: Communicator, validation: TrainingValidation?,
         output: @escaping (String) -> Void) {
        self.task = task; self.runDirectory = runDirectory; self.resume = resume; self.communicator = communicator
        self.validation = validation; self.output = output
    }

    var options: TrainOptions { task.options }
    var checkpointPath: String { runDirectory + "/last.safetensors" }

    /// Trains with the BLAS on `options.threads` threads (restored afterwards).
    func run() throws -> TrainingSummary {
        try withBLASThreads(options.threads) { try withPrecision(options.precision) { try loop() } }
    }

    /// batch → learning rate → step → log → checkpoint → evaluation, until the last epoch or a stop.
    private func loop() throws -> TrainingSummary {
        var session = try start()
        try redoInterruptedEvaluation(&session)
        while session.progress.epoch < options.epochs {
            let batch = try session.batches.next(at: session.progress)
            if let batch {
                let lr = polyLearningRate(base: options.lr, iteration: session.progress.step, maxIter: session.maxIter,
                                          power: options.power)
                let loss = try step(session.network, batch: batch, lr: lr,
                                    dropoutSeed: SplitMix64(seed: options.seed, 13, session.progress.step).state)
                try session.advance(loss: loss.loss, dataWait: session.batches.lastWait)
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
        return TrainingSummary(stepsDone: session.progress.step, maxIter: session.maxIter, lastLoss: session.losses.last ?? .nan,
                               stoppedEarly: session.stopped, losses: session.losses, evalSeconds: session.evalSeconds)
    }

    /// What one call of `run` carries from step to step.
    struct Session {
        let network: Task.Network
        let log: TrainingLog
        let stepsPerEpoch: Int, maxIter: Int
        var progress: TrainProgress
        var batches: Task.Batches
        /// Samples this process reads of each batch.
        let part: Range<Int>
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

        mutating func advance(loss: Double, dataWait wait: Double) throws {
            // A finite loss can still come with an SGD step that overflowed the weights: checked too, so that the
            // checkpoint saved after this step (and called good below) never holds them.
            let what = !loss.isFinite ? "loss became \(loss)" : !network.params.valuesAreFinite ? "weights became non-finite" : nil
            if let what {
                let saved = FileManager.default.fileExists(atPath: checkpointPath) ? "" : " (none was saved yet)"
                throw DinoSegError(file: runDirectory, "\(what) at step \(progress.step + 1) (epoch \(progress.epoch + 1)); stopped. The last good checkpoint is \(checkpointPath)\(saved); try a lower --lr")
            }
            progress.step += 1
            progress.batchInEpoch += 1
            losses.append(loss)
            dataWait += wait
        }

        mutating func stop(_ message: String) {
            log.human(message)
            stopped = true
        }
    }

    /// Checks the run directory, builds (or resumes) the network, writes config.json and opens the logs.
    private func start() throws -> Session {
        try task.checkInputs()
        let stepsPerEpoch = task.samplesPerEpoch / options.batch
        guard stepsPerEpoch > 0 else {
            throw DinoSegError(file: task.dataName, "\(task.samplesPerEpoch) \(task.sampleWord) are fewer than one batch of \(options.batch)")
        }
        let maxIter = options.epochs * stepsPerEpoch
        let comm = communicator, isRoot = comm.isRoot
        guard options.batch >= comm.size else {
            throw DinoSegError("batch \(options.batch) is smaller than the \(comm.size) processes sharing it; use a --batch of at least \(comm.size)")
        }
        // Only rank 0 needs the run directory (the others take its state, see DataParallelStart); it holds the
        // directory's lock for the whole session, and checks the checkpoint under it.
        let lock = isRoot ? try openRunDirectory() : nil
        let (network, note) = try task.makeNetwork(fresh: !resume)
        self.network = network
        var progress = TrainProgress(step: 0, epoch: 0, batchInEpoch: 0, seed: options.seed, maxIter: maxIter, batchSize: options.batch,
                                     precision: options.precision)
        if resume && isRoot { progress = try resumedProgress(network, stepsPerEpoch: stepsPerEpoch, maxIter: maxIter) }
        let part = comm.share(of: options.batch)
        if comm.size > 1 {
            progress = try DataParallelStart.synchronise(network, progress: progress, over: comm)
            network.shard = BatchShard(offset: part.lowerBound, globalCount: options.batch) { buffer in
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
        log.human(startLine(stepsPerEpoch: stepsPerEpoch, maxIter: maxIter, progress: progress, weights: resume ? nil : note))
        return Session(network: network, log: log, stepsPerEpoch: stepsPerEpoch, maxIter: maxIter, progress: progress,
                       batches: task.batches(stepsPerEpoch: stepsPerEpoch, part: part), part: part, evalHistory: history,
                       checkpointPath: checkpointPath, runDirectory: runDirectory, lock: lock)
    }

    /// Creates and locks the run directory; refuses a new run over a checkpoint, a resume without one, and a resume
    /// with other settings than config.json records (before it is rewritten: it must stay the record of the whole run).
    private func openRunDirectory() throws -> DirectoryLock {
        let fm = FileManager.default
        if resume && !fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: checkpointPath, "no checkpoint to resume from")
        }
        try FileSystem.createDirectory(runDirectory, what: "run directory")
        let lock = try DirectoryLock(directory: runDirectory, what: "run directory")
        if !resume && fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: runDirectory, "already holds a checkpoint; use --resume to continue it or choose another --run")
        }
        // Checked again under the lock: another process may have removed it meanwhile.
        if resume && !fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: checkpointPath, "no checkpoint to resume from")
        }
        if resume { try task.checkResume(run: runDirectory) }
        return lock
    }

    /// The checkpoint's weights and progress, refused unless it is a position of this run.
    private func resumedProgress(_ network: Task.Network, stepsPerEpoch: Int, maxIter: Int) throws -> TrainProgress {
        guard let stored = try task.load(checkpointPath, into: network) else {
            throw DinoSegError(file: checkpointPath, "has no training progress (not a training checkpoint)")
        }
        try stored.checkResumable(checkpointPath, seed: options.seed, maxIter: maxIter, batchSize: options.batch,
                                  precision: options.precision, stepsPerEpoch: stepsPerEpoch)
        return stored
    }

    private func startLine(stepsPerEpoch: Int, maxIter: Int, progress: TrainProgress, weights: String?) -> String {
        let comm = communicator
        let processes = comm.size > 1 ? ", \(comm.size) processes × \(options.threads) threads (\(options.batch / comm.size)–\((options.batch + comm.size - 1) / comm.size) \(task.sampleWord) each)" : ", \(options.threads) threads"
        let resuming = resume ? ", resuming at step \(progress.step) (epoch \(progress.epoch + 1), batch \(progress.batchInEpoch))" : ""
        return "training \(task.summary): \(task.samplesPerEpoch) \(task.sampleWord)/epoch, batch \(options.batch), \(stepsPerEpoch) steps/epoch, \(options.epochs) epochs (\(maxIter) steps), lr \(options.lr)\(task.settingsNote) poly \(options.power), momentum \(options.momentum), weight decay \(options.weightDecay), seed \(options.seed), precision \(PrecisionChoice.describe(activeEngine))\(processes)\(weights.map { "; \($0)" } ?? "")\(resuming)"
    }

    /// One optimisation step: loss and gradients of this process's share, their sum over the processes, SGD.
    private func step(_ network: Task.Network, batch: Task.Batches.Batch, lr: Double, dropoutSeed: UInt64) throws -> StepLoss {
        network.params.zeroGrads()
        let loss = try task.lossAndGradients(network, batch: batch, dropoutSeed: dropoutSeed)
        // A non-finite loss stops the run (Session.advance) before any update; the loss is the global batch's, so
        // every process stops at the same step.
        guard loss.loss.isFinite else { return loss }
        if communicator.size > 1 {
            // Each process's gradient is its share of the global batch's (the loss is already the global mean).
            let start = DispatchTime.now().uptimeNanoseconds
            try communicator.allreduceSum(UnsafeMutableBufferPointer(start: network.params.grads, count: network.params.count))
            allreduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        task.update(network, lr: lr)
        return loss
    }

    /// A JSON line for every step; a human line every `logInterval` steps (and the activation memory after the first).
    private func log(_ s: inout Session, loss: StepLoss, lr: Double) throws {
        let p = s.progress, perProcess = s.part.count
        if s.stepsThisSession == 1 {
            let mib = Double(loss.activationBytes) / 1_048_576
            s.log.human(String(format: "activation memory: %.1f MiB for a batch of %d (%.1f MiB per sample); %d parameters",
                               mib, perProcess, mib / Double(perProcess), s.network.params.count))
        }
        s.interval.loss += loss.loss; s.interval.steps += 1
        let elapsed = Date().timeIntervalSince(s.started)
        let training = elapsed - s.evalSeconds  // rate, ETA and data wait exclude evaluations
        let rate = Double(s.stepsThisSession * options.batch) / max(training, 1e-9)
        let eta = training / Double(s.stepsThisSession) * Double(s.maxIter - p.step)
        var fields: [String: Any] = ["step": p.step, "epoch": p.epoch + 1, "batch": p.batchInEpoch, "loss": loss.loss, "lr": lr,
                                     "samples_per_second": rate, "eta_seconds": eta, "elapsed_seconds": elapsed,
                                     "data_wait_seconds": s.batches.lastWait, "train_seconds": s.log.earlierTrainSeconds + training]
        for part in loss.parts { fields[part.name] = part.value }
        if communicator.size > 1 {
            fields["allreduce_seconds"] = allreduceSeconds
            fields["allreduce_bytes"] = s.network.params.count * MemoryLayout<Float>.size
        }
        try s.log.step(fields)
        if p.step % options.logInterval == 0 || p.step == s.maxIter {
            let parts = loss.parts.map { String(format: "%@ %.4f; ", $0.name, $0.value) }.joined()
            s.log.human(String(format: "epoch %d/%d step %d/%d  loss %.4f (%@mean of last %d: %.4f)  lr %.6f  %.1f %@/s  data wait %.1f%%  ETA %@",
                               p.epoch + 1, options.epochs, p.step, s.maxIter, loss.loss, parts, s.interval.steps,
                               s.interval.loss / Double(s.interval.steps), lr, rate, task.sampleWord,
                               100 * s.dataWait / max(training, 1e-9), formatDuration(eta)))
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

    /// Evaluates after the epochs `validation` asks for (rank 0; its time is kept out of the rate and ETA).
    private func evaluateIfDue(_ s: inout Session, afterEpoch epoch: Int) throws {
        guard let v = validation, communicator.isRoot, v.isDue(afterEpoch: epoch, of: options.epochs) else { return }
        let evalStart = Date()
        defer { s.evalSeconds += Date().timeIntervalSince(evalStart) }
        (lastEvaluation, s.evalHistory) = try v.evaluate(s.network.evaluationLogits, epoch: epoch, step: s.progress.step,
                                                         checkpoint: checkpointPath, runDirectory: runDirectory,
                                                         history: s.evalHistory, log: s.log)
    }

    /// A kill during an evaluation leaves the epoch-end checkpoint it evaluated without its record: redo it from the
    /// checkpoint (the same weights and BN statistics as the network it was interrupted on).
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

    /// Saves a checkpoint of the session's network and progress (rank 0 alone writes).
    private func save(_ s: Session, to path: String) throws {
        guard communicator.isRoot else { return }
        try task.save(s.network, to: path, progress: s.progress)
    }

    /// config.json (printed too).
    private func writeConfig(stepsPerEpoch: Int, maxIter: Int) throws {
        let data = try task.configuration(stepsPerEpoch: stepsPerEpoch, maxIter: maxIter)
        output(String(decoding: data, as: UTF8.self))
        try AtomicWrite.write(data, to: runDirectory + "/config.json")
    }
}

/// config.json's encoding: readable, and the same bytes for the same configuration.
func runConfigurationJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(value)
}
