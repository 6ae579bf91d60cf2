import Foundation
import DinoSegCore
import DinoSegModels
import DinoSegKernels
import DinoSegNN
import DinoSegEval

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
    /// The dataset the classifier is trained for (nil: VOC).
    package var dataset: DatasetDescription?

    package init(network: PSPNetConfig, train: TrainOptions, crop: Int, dataRoot: String, list: String, weights: String?,
                 dataset: DatasetDescription? = nil) {
        self.network = network; self.train = train; self.crop = crop; self.dataRoot = dataRoot; self.list = list; self.weights = weights
        self.dataset = dataset == .voc ? nil : dataset
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
    var dataset: DatasetDescription?

    /// "name recorded → asked" for every setting `asked` changes: seed, batch and optimisation, the crop, the data it
    /// trains on, and the ImageNet weights it started from (unused by a resume, but config.json must keep recording them).
    func changes(to asked: BaselineSettings) -> [String] {
        train.optimisationChanges(to: asked.train, seedAndBatch: true)
            + [settingChange("--crop", crop, asked.crop), pathChange("--data", dataRoot, asked.dataRoot),
               pathChange("--list", list, asked.list), pathChange("--weights", weights, asked.weights),
               settingChange("dataset", (dataset ?? .voc).name, (asked.dataset ?? .voc).name)].compactMap { $0 }
    }
}

extension BaselineSettings {
    /// The ImageNet weights a resumed run keeps recording when `--weights` is not given again: a resume loads the
    /// checkpoint, not the weights, so the flag may be left out; the run's config.json still names where it started.
    package static func resumedWeights(run: String, asked: String?) throws -> String? {
        guard asked == nil else { return asked }
        return try RunRecord.read(RecordedBaseline.self, run: run)?.weights
    }
}

/// Trains the ResNet PSPNet end to end from images into a run directory: the training task of TrainingLoop, so with
/// `headtrain train`'s conventions (config.json, log.txt / log.jsonl, last.safetensors at epoch ends, every
/// `checkpointEvery` steps and on Ctrl-C, exact resume, a stop on a non-finite loss), data parallelism under mpirun
/// (SyncBN: BatchNorm statistics of the global batch; rank 0 alone writes) and evaluation during training.
package final class BaselineTrainer: TrainingSessionState<PSPNet>, TrainingSession {
    package let settings: BaselineSettings
    package let data: BaselineData

    package init(settings: BaselineSettings, data: BaselineData, runDirectory: String, resume: Bool,
                output: @escaping (String) -> Void = printFlushed) {
        self.settings = settings; self.data = data
        super.init(runDirectory: runDirectory, resume: resume, output: output)
    }

    package var checkpointPath: String { runDirectory + "/last.safetensors" }

    // MARK: TrainingTask

    package var options: TrainOptions { settings.train }
    package var dataName: String { data.dataset.listPath }
    package var samplesPerEpoch: Int { data.count }
    package var sampleWord: String { "images" }
    package var summary: String { "baseline \(settings.network.summary) on \(data.dataset.listPath), crop \(settings.crop)" }
    package var settingsNote: String { " (×\(settings.headLRFactor) for ppm/cls/aux)" }

    package func checkInputs() throws {}

    package func checkResume(run: String) throws {
        guard let recorded = try RunRecord.read(RecordedBaseline.self, run: run) else { return }
        try RunRecord.checkResume(run, changes: recorded.changes(to: settings))
    }

    /// A new run's backbone starts from the ImageNet weights when given.
    package func makeNetwork(fresh: Bool) throws -> (network: PSPNet, note: String?) {
        let net = try PSPNet(config: settings.network, seed: options.seed, threads: options.threads)
        guard fresh else { return (net, nil) }
        guard let w = settings.weights else { return (net, "random initialisation") }
        return (net, "backbone from \(w) (\(try PSPNetCheckpoint.loadBackbone(w, into: net)))")
    }

    package func load(_ path: String, into net: PSPNet) throws -> TrainProgress? {
        try PSPNetCheckpoint.load(path, into: net)
    }

    package func save(_ net: PSPNet, to path: String, progress: TrainProgress) throws {
        try PSPNetCheckpoint.save(net, to: path, progress: progress, extraMetadata: try CheckpointDataset.metadata(settings.dataset))
    }

    package func configuration(stepsPerEpoch: Int, maxIter: Int) throws -> Data {
        try runConfigurationJSON(settings)
    }

    package func batches(stepsPerEpoch: Int, part: Range<Int>) -> BaselineBatches {
        BaselineBatches(data: data, seed: options.seed, batchSize: options.batch, stepsPerEpoch: stepsPerEpoch,
                        threads: options.threads, part: part)
    }

    package func lossAndGradients(_ net: PSPNet, batch: BaselineBatches.Batch, dropoutSeed: UInt64) throws -> StepLoss {
        let crop = settings.crop
        let saved = batch.images.withUnsafeBufferPointer {
            net.forward(images: $0.baseAddress!, n: batch.count, h: crop, w: crop, training: true, dropoutSeed: dropoutSeed)
        }
        let loss = batch.labels.withUnsafeBufferPointer { net.loss(saved, labels: $0.baseAddress!) }
        if loss.total.isFinite { net.backward(saved: saved) }
        return StepLoss(loss: loss.total, parts: [("main_loss", loss.main), ("aux_loss", loss.aux)], activationBytes: saved.bytes)
    }

    /// semseg's two parameter groups: the backbone at `lr`, ppm/cls/aux at `headLRFactor` × `lr`.
    package func update(_ net: PSPNet, lr: Double) {
        net.sgdStep(lr: Float(lr), headLR: Float(lr * settings.headLRFactor), momentum: options.momentum,
                    weightDecay: options.weightDecay)
    }
}

/// This process's part of every batch of the baseline, augmented on the fly (any batch is rebuilt from its position).
package struct BaselineBatches: TrainingBatches {
    package struct Batch {
        package var images: [Float]
        package var labels: [UInt8]
        package var count: Int
    }

    let data: BaselineData
    let seed: UInt64, batchSize: Int, stepsPerEpoch: Int, threads: Int
    let part: Range<Int>
    package private(set) var lastWait = 0.0

    package mutating func next(at progress: TrainProgress) throws -> Batch? {
        guard progress.batchInEpoch < stepsPerEpoch else { return nil }
        let start = DispatchTime.now().uptimeNanoseconds
        let (images, labels) = try data.batch(epoch: progress.epoch, index: progress.batchInEpoch, batchSize: batchSize,
                                              seed: seed, threads: threads, part: part)
        lastWait = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Batch(images: images, labels: labels, count: part.count)
    }
}

extension PSPNet: TrainableNetwork {
    package var evaluationLogits: WindowLogits { PSPNetWindowLogits(self) }
}
