import Foundation

/// Trains a head on a training source into a run directory:
///   config.json        resolved head + training configuration
///   log.txt            human lines (also printed); log.jsonl: one JSON object per step (and per evaluation)
///   metrics.json, confusion.csv, eval-history.json   evaluations during training (see TrainingValidation)
///   last.safetensors   checkpoint (atomic), updated at epoch ends, every `checkpointEvery` steps and on stop
///   epoch-NNN.safetensors  per-epoch checkpoints when asked for
/// Data-parallel (`communicator` of several processes): every process reads its share of each global batch, BatchNorm
/// and the loss use sums over the global batch, gradients are summed before the SGD step, so the processes train the
/// model one process would; rank 0 alone writes the run directory and evaluates, and its checkpoint is what all start from.
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
    /// The processes training together (one by default).
    public var communicator: Communicator = SingleProcess()
    /// Seconds spent in the gradient allreduce of the last step (0 for one process).
    private var allreduceSeconds = 0.0

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
        let comm = communicator, isRoot = comm.isRoot
        guard options.batch >= comm.size else {
            throw DinoSegError("batch \(options.batch) is smaller than the \(comm.size) processes sharing it; use a --batch of at least \(comm.size)")
        }
        let fm = FileManager.default
        if isRoot && !resume && fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: runDirectory, "already holds a checkpoint; use --resume to continue it or choose another --run")
        }
        if isRoot && resume && !fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: checkpointPath, "no checkpoint to resume from")
        }
        if isRoot {
            do { try fm.createDirectory(atPath: runDirectory, withIntermediateDirectories: true) } catch {
                throw DinoSegError(file: runDirectory, "cannot create the run directory (\(error.localizedDescription))")
            }
        }

        setBLASThreads(options.threads)
        let head = try SegmentationHead(config: headConfig, seed: options.seed, threads: options.threads)
        self.head = head
        var progress = TrainProgress(step: 0, epoch: 0, batchInEpoch: 0, seed: options.seed, maxIter: maxIter, batchSize: options.batch)
        if resume && isRoot {
            guard let stored = try HeadCheckpoint.load(checkpointPath, into: head) else {
                throw DinoSegError(file: checkpointPath, "has no training progress (not a training checkpoint)")
            }
            guard stored.seed == options.seed, stored.maxIter == maxIter, stored.batchSize == options.batch else {
                throw DinoSegError(file: checkpointPath, "was trained with seed \(stored.seed), batch \(stored.batchSize), \(stored.maxIter) iterations; this run asks for seed \(options.seed), batch \(options.batch), \(maxIter) iterations (pass the original --seed/--batch/--epochs)")
            }
            progress = stored
        }
        let part = comm.share(of: options.batch)
        if comm.size > 1 {
            progress = try DataParallelStart.synchronise(head, progress: progress, over: comm)
            head.shard = BatchShard(offset: part.lowerBound, globalCount: options.batch) { buffer in
                do { try comm.allreduceSum(buffer) } catch { DataParallelStart.fail(error, comm) }
            }
        }

        let log: TrainingLog
        if isRoot {
            try writeConfig(stepsPerEpoch: stepsPerEpoch, maxIter: maxIter)
            log = try TrainingLog(directory: runDirectory, truncateFromStep: resume ? progress.step : 0, output: output)
        } else {
            log = TrainingLog()
        }
        let processes = comm.size > 1 ? ", \(comm.size) processes × \(options.threads) threads (\(options.batch / comm.size)–\((options.batch + comm.size - 1) / comm.size) samples each)" : ", \(options.threads) threads"
        log.human("training \(headConfig.variantName) on \(source.name): \(source.samplesPerEpoch) samples/epoch, batch \(options.batch), \(stepsPerEpoch) steps/epoch, \(options.epochs) epochs (\(maxIter) steps), lr \(options.lr) poly \(options.power), momentum \(options.momentum), weight decay \(options.weightDecay), seed \(options.seed)\(processes)\(resume ? ", resuming at step \(progress.step) (epoch \(progress.epoch + 1), batch \(progress.batchInEpoch))" : "")")

        var losses: [Double] = []
        var lastLoss = Double.nan
        var stopped = false
        let sessionStart = Date()
        var stepsThisSession = 0
        var intervalLoss = 0.0, intervalSteps = 0
        var dataWait = 0.0, evalSeconds = 0.0
        var evalHistory = validation == nil || !isRoot ? [] : TrainingValidation.history(in: runDirectory, upToStep: progress.step)
        let save = { (path: String) in if isRoot { try HeadCheckpoint.save(head, to: path, progress: progress) } }
        // Every process stops at the same step (a stop requested on any of them counts for all).
        let stopRequested = { try !comm.allSucceeded(!StopSignal.isRequested) || (self.options.stopAfterSteps.map { stepsThisSession >= $0 } ?? false) }
        // The next epoch's stream is opened while the last step of an epoch runs, so its first batches are read
        // during that step and the epoch-end checkpoint instead of at the start of the next epoch.
        var upcoming: (epoch: Int, next: () throws -> HeadTrainBatch?)?
        training: while progress.epoch < options.epochs {
            let next: () throws -> HeadTrainBatch?
            if let u = upcoming, u.epoch == progress.epoch, progress.batchInEpoch == 0 {
                next = u.next
            } else {
                next = try source.batches(epoch: progress.epoch, seed: options.seed, batchSize: options.batch,
                                          startBatch: progress.batchInEpoch, stages: headConfig.requiredStages, part: part)
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
                                                                       stages: headConfig.requiredStages, part: part))
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
                                     Double(head.workspace.bytes) / 1_048_576, part.count,
                                     Double(head.workspace.bytes) / 1_048_576 / Double(part.count), head.params.count))
                }
                losses.append(loss)
                lastLoss = loss
                intervalLoss += loss; intervalSteps += 1
                let elapsed = Date().timeIntervalSince(sessionStart)
                let training = elapsed - evalSeconds  // rate, ETA and data wait exclude evaluations
                let rate = Double(stepsThisSession * options.batch) / max(training, 1e-9)
                let eta = training / Double(stepsThisSession) * Double(maxIter - progress.step)
                var fields: [String: Any] = ["step": progress.step, "epoch": progress.epoch + 1, "batch": progress.batchInEpoch,
                                             "loss": loss, "lr": lr, "samples_per_second": rate, "eta_seconds": eta,
                                             "elapsed_seconds": elapsed, "data_wait_seconds": waited]
                if comm.size > 1 {
                    fields["allreduce_seconds"] = allreduceSeconds
                    fields["allreduce_bytes"] = head.params.count * MemoryLayout<Float>.size
                }
                try log.step(fields)
                if progress.step % options.logInterval == 0 || progress.step == maxIter {
                    log.human(String(format: "epoch %d/%d step %d/%d  loss %.4f (mean of last %d: %.4f)  lr %.6f  %.1f samples/s  data wait %.1f%%  ETA %@",
                                     progress.epoch + 1, options.epochs, progress.step, maxIter, loss, intervalSteps,
                                     intervalLoss / Double(intervalSteps), lr, rate, 100 * dataWait / max(training, 1e-9),
                                     Self.duration(eta)))
                    intervalLoss = 0; intervalSteps = 0
                }
                let interrupted = try stopRequested()
                if progress.batchInEpoch >= stepsPerEpoch { break }
                if interrupted {
                    try save(checkpointPath)
                    log.human("stopped at step \(progress.step); saved \(checkpointPath) (continue with --resume)")
                    stopped = true
                    break training
                }
                if options.checkpointEvery > 0 && progress.step % options.checkpointEvery == 0 {
                    try save(checkpointPath)
                }
            }
            let finishedEpoch = progress.epoch
            progress.epoch += 1
            progress.batchInEpoch = 0
            try save(checkpointPath)
            if options.keepEpochCheckpoints {
                try save(runDirectory + String(format: "/epoch-%03d.safetensors", finishedEpoch + 1))
            }
            log.human("epoch \(finishedEpoch + 1)/\(options.epochs) done (step \(progress.step)); saved \(checkpointPath)")
            if let v = validation, isRoot, v.isDue(afterEpoch: finishedEpoch + 1, of: options.epochs) {
                let evalStart = Date()
                defer { evalSeconds += Date().timeIntervalSince(evalStart) }
                (lastEvaluation, evalHistory) = try v.evaluate(head, epoch: finishedEpoch + 1, step: progress.step,
                                                               checkpoint: checkpointPath, runDirectory: runDirectory,
                                                               history: evalHistory, log: log)
            }
            if try stopRequested() {
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
            if communicator.size > 1 {
                // Each process's gradient is its share of the global batch's (the loss is already the global mean).
                let start = DispatchTime.now().uptimeNanoseconds
                try communicator.allreduceSum(UnsafeMutableBufferPointer(start: head.params.grads, count: head.params.count))
                allreduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
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
        }
        let resolved = Resolved(head: headConfig, variant: headConfig.variantName, train: options, cache: source.name,
                                samplesPerEpoch: source.samplesPerEpoch, stepsPerEpoch: stepsPerEpoch, maxIter: maxIter)
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
