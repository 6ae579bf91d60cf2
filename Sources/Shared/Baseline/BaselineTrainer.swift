import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegNN

/// Everything a baseline run is trained with, saved as RUN/config.json.
package struct BaselineSettings: Codable, Equatable {
    package var network: PSPNetConfig
    package var train: TrainOptions
    package var crop: Int
    /// Learning-rate factor of ppm/cls/aux over the backbone (semseg: 10).
    package var headLRFactor: Double = 10
    package var dataRoot: String
    package var list: String
    /// ImageNet weights the backbone started from (nil: random initialisation).
    package var weights: String?

    package init(network: PSPNetConfig, train: TrainOptions, crop: Int, dataRoot: String, list: String, weights: String?) {
        self.network = network; self.train = train; self.crop = crop; self.dataRoot = dataRoot; self.list = list; self.weights = weights
    }
}

/// What a baseline run's config.json records of the settings a resume must keep (the network is checked against the
/// checkpoint; only these fields are read, so a config.json written before a later field was added still reads).
struct RecordedBaseline: Decodable {
    var train: TrainOptions
    var crop: Int
    var dataRoot: String
    var list: String
    var weights: String?

    /// "name recorded → asked" for every setting `asked` changes: seed, batch and optimisation, the crop, the data it
    /// trains on, and the ImageNet weights it started from (unused by a resume, but config.json must keep recording them).
    func changes(to asked: BaselineSettings) -> [String] {
        train.optimisationChanges(to: asked.train, seedAndBatch: true)
            + [settingChange("--crop", crop, asked.crop), pathChange("--data", dataRoot, asked.dataRoot),
               pathChange("--list", list, asked.list), pathChange("--weights", weights, asked.weights)].compactMap { $0 }
    }
}

/// Trains the ResNet PSPNet end to end from images into a run directory, with `headtrain train`'s conventions:
/// config.json, log.txt / log.jsonl (one JSON object per step), last.safetensors (atomic; at epoch ends, every
/// `checkpointEvery` steps and on Ctrl-C), exact resume from (seed, epoch, batch), a stop on a non-finite loss.
package final class BaselineTrainer {
    package struct Summary {
        package var stepsDone: Int
        package var maxIter: Int
        package var losses: [Double]
        package var stoppedEarly: Bool
    }

    package let settings: BaselineSettings
    package let data: BaselineData
    package let runDirectory: String
    package let resume: Bool
    package let output: (String) -> Void
    package private(set) var network: PSPNet?

    package init(settings: BaselineSettings, data: BaselineData, runDirectory: String, resume: Bool,
                output: @escaping (String) -> Void = { print($0); fflush(stdout) }) {
        self.settings = settings; self.data = data; self.runDirectory = runDirectory; self.resume = resume; self.output = output
    }

    package var checkpointPath: String { runDirectory + "/last.safetensors" }

    /// Trains with the BLAS on `settings.train.threads` threads (restored afterwards).
    package func run() throws -> Summary {
        try withBLASThreads(settings.train.threads) { try withPrecision(settings.train.precision) { try train() } }
    }

    private func train() throws -> Summary {
        let opts = settings.train
        let stepsPerEpoch = data.count / opts.batch
        guard stepsPerEpoch > 0 else {
            throw DinoSegError(file: data.dataset.listPath, "\(data.count) images are fewer than one batch of \(opts.batch)")
        }
        let maxIter = opts.epochs * stepsPerEpoch
        let fm = FileManager.default
        if resume && !fm.fileExists(atPath: checkpointPath) { throw DinoSegError(file: checkpointPath, "no checkpoint to resume from") }
        do { try fm.createDirectory(atPath: runDirectory, withIntermediateDirectories: true) } catch {
            throw DinoSegError(file: runDirectory, "cannot create the run directory (\(error.localizedDescription))")
        }
        // Held until training returns; the checkpoint checks are made under it.
        let lock = try DirectoryLock(directory: runDirectory, what: "run directory")
        defer { lock.release() }
        if !resume && fm.fileExists(atPath: checkpointPath) {
            throw DinoSegError(file: runDirectory, "already holds a checkpoint; use --resume to continue it or choose another --run")
        }
        // Before config.json is rewritten below: it must stay the record of the whole run.
        if resume, let recorded = try RunRecord.read(RecordedBaseline.self, run: runDirectory) {
            try RunRecord.checkResume(runDirectory, changes: recorded.changes(to: settings))
        }
        let net = try PSPNet(config: settings.network, seed: opts.seed, threads: opts.threads)
        network = net
        var progress = TrainProgress(step: 0, epoch: 0, batchInEpoch: 0, seed: opts.seed, maxIter: maxIter, batchSize: opts.batch,
                                     precision: opts.precision)
        var weightsNote = "random initialisation"
        if resume {
            guard let stored = try PSPNetCheckpoint.load(checkpointPath, into: net) else {
                throw DinoSegError(file: checkpointPath, "has no training progress (not a training checkpoint)")
            }
            try stored.checkResumable(checkpointPath, seed: opts.seed, maxIter: maxIter, batchSize: opts.batch,
                                      precision: opts.precision, stepsPerEpoch: stepsPerEpoch)
            progress = stored
            weightsNote = "resumed from \(checkpointPath)"
        } else if let w = settings.weights {
            weightsNote = "backbone from \(w) (\(try PSPNetCheckpoint.loadBackbone(w, into: net)))"
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configData = try enc.encode(settings)
        output(String(decoding: configData, as: UTF8.self))
        try AtomicWrite.write(configData, to: runDirectory + "/config.json")

        let log = try TrainingLog(directory: runDirectory, truncateFromStep: resume ? progress.step : 0, output: output)
        log.human("training baseline \(settings.network.summary) on \(data.dataset.listPath): \(data.count) images, crop \(settings.crop), batch \(opts.batch), \(stepsPerEpoch) steps/epoch, \(opts.epochs) epochs (\(maxIter) steps), lr \(opts.lr) (×\(settings.headLRFactor) for ppm/cls/aux) poly \(opts.power), momentum \(opts.momentum), weight decay \(opts.weightDecay), seed \(opts.seed), precision \(PrecisionChoice.describe(activeEngine)), \(opts.threads) threads; \(weightsNote)\(resume ? ", resuming at step \(progress.step)" : "")")

        var losses: [Double] = []
        var stopped = false
        let start = Date()
        var stepsThisSession = 0, dataWait = 0.0
        var intervalLoss = 0.0, intervalSteps = 0
        let crop = settings.crop
        training: while progress.epoch < opts.epochs {
            while progress.batchInEpoch < stepsPerEpoch {
                let t0 = Date()
                let (images, labels) = try data.batch(epoch: progress.epoch, index: progress.batchInEpoch, batchSize: opts.batch,
                                                      seed: opts.seed, threads: opts.threads)
                let waited = Date().timeIntervalSince(t0)
                dataWait += waited
                let lr = polyLearningRate(base: opts.lr, iteration: progress.step, maxIter: maxIter, power: opts.power)
                net.params.zeroGrads()
                let saved = net.forward(images: images, n: opts.batch, h: crop, w: crop, training: true,
                                        dropoutSeed: SplitMix64(seed: opts.seed, 13, progress.step).state)
                let loss = labels.withUnsafeBufferPointer { net.loss(saved, labels: $0.baseAddress!) }
                guard loss.total.isFinite else {
                    throw DinoSegError(file: runDirectory, "loss became \(loss.total) at step \(progress.step + 1) (epoch \(progress.epoch + 1)); stopped. The last good checkpoint is \(checkpointPath)\(fm.fileExists(atPath: checkpointPath) ? "" : " (none was saved yet)"); try a lower --lr")
                }
                net.backward(saved: saved)
                net.sgdStep(lr: Float(lr), headLR: Float(lr * settings.headLRFactor), momentum: opts.momentum, weightDecay: opts.weightDecay)
                // An overflowed step is stopped before a checkpoint can keep it (a loaded checkpoint is checked too).
                guard net.params.valuesAreFinite else {
                    throw DinoSegError(file: runDirectory, "weights became non-finite at step \(progress.step + 1) (epoch \(progress.epoch + 1)); stopped. The last good checkpoint is \(checkpointPath)\(fm.fileExists(atPath: checkpointPath) ? "" : " (none was saved yet)"); try a lower --lr")
                }
                if stepsThisSession == 0 {
                    log.human(String(format: "activation memory: %.1f MiB for a batch of %d; %d parameters",
                                     Double(saved.bytes) / 1_048_576, opts.batch, net.params.count))
                }
                progress.step += 1
                progress.batchInEpoch += 1
                stepsThisSession += 1
                losses.append(loss.total)
                intervalLoss += loss.total; intervalSteps += 1
                let elapsed = Date().timeIntervalSince(start)
                let rate = Double(stepsThisSession * opts.batch) / max(elapsed, 1e-9)
                let eta = elapsed / Double(stepsThisSession) * Double(maxIter - progress.step)
                try log.step(["step": progress.step, "epoch": progress.epoch + 1, "batch": progress.batchInEpoch, "loss": loss.total,
                              "main_loss": loss.main, "aux_loss": loss.aux, "lr": lr, "samples_per_second": rate, "eta_seconds": eta,
                              "elapsed_seconds": elapsed, "data_wait_seconds": waited])
                if progress.step % opts.logInterval == 0 || progress.step == maxIter || stepsThisSession == 1 {
                    log.human(String(format: "epoch %d/%d step %d/%d  loss %.4f (main %.4f aux %.4f; mean of last %d: %.4f)  lr %.6f  %.2f images/s  data %.0f%%  ETA %@",
                                     progress.epoch + 1, opts.epochs, progress.step, maxIter, loss.total, loss.main, loss.aux,
                                     intervalSteps, intervalLoss / Double(intervalSteps), lr, rate, 100 * dataWait / max(elapsed, 1e-9),
                                     formatDuration(eta)))
                    intervalLoss = 0; intervalSteps = 0
                }
                if progress.batchInEpoch >= stepsPerEpoch { break }
                if StopSignal.isRequested || (opts.stopAfterSteps.map { stepsThisSession >= $0 } ?? false) {
                    try PSPNetCheckpoint.save(net, to: checkpointPath, progress: progress)
                    log.human("stopped at step \(progress.step); saved \(checkpointPath) (continue with --resume)")
                    stopped = true
                    break training
                }
                if opts.checkpointEvery > 0 && progress.step % opts.checkpointEvery == 0 {
                    try PSPNetCheckpoint.save(net, to: checkpointPath, progress: progress)
                }
            }
            progress.epoch += 1
            progress.batchInEpoch = 0
            try PSPNetCheckpoint.save(net, to: checkpointPath, progress: progress)
            if opts.keepEpochCheckpoints {
                try PSPNetCheckpoint.save(net, to: runDirectory + String(format: "/epoch-%03d.safetensors", progress.epoch), progress: progress)
            }
            log.human("epoch \(progress.epoch)/\(opts.epochs) done (step \(progress.step)); saved \(checkpointPath)")
            if progress.epoch < opts.epochs && (StopSignal.isRequested || (opts.stopAfterSteps.map { stepsThisSession >= $0 } ?? false)) {
                log.human("stopped at step \(progress.step) (continue with --resume)")
                stopped = true
                break
            }
        }
        if !stopped { log.human("finished \(progress.step) steps; final checkpoint \(checkpointPath)") }
        return Summary(stepsDone: progress.step, maxIter: maxIter, losses: losses, stoppedEarly: stopped)
    }
}
