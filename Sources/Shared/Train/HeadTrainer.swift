import Foundation
import DinoSegCore
import DinoSegNN
import DinoSegKernels
import DinoSegCache
import DinoSegModels
import DinoSegEval

/// Trains a head on a training source (cached features) into a run directory: the training task of TrainingLoop
/// (which owns the run directory, the loop, data parallelism and evaluation during training). config.json records the
/// head, the options, the cache and its features; checkpoints carry the backbone's weight digest.
package final class HeadTrainer: TrainingSessionState<SegmentationHead>, TrainingSession {
    package let headConfig: HeadConfig
    package let options: TrainOptions
    package let source: HeadTrainingSource

    package init(head: HeadConfig, options: TrainOptions, source: HeadTrainingSource, runDirectory: String, resume: Bool,
                output: @escaping (String) -> Void = printFlushed) {
        self.headConfig = head; self.options = options; self.source = source
        super.init(runDirectory: runDirectory, resume: resume, output: output)
    }

    // MARK: TrainingTask

    package var dataName: String { source.name }
    package var samplesPerEpoch: Int { source.samplesPerEpoch }
    package var sampleWord: String { "samples" }
    package var summary: String { "\(headConfig.variantName) on \(source.name)" }
    package var settingsNote: String { "" }

    package func checkInputs() throws {
        try headConfig.validate()
        try source.check(fits: headConfig)
    }

    /// Refuses a resume that would continue the run with other optimisation settings or on other features than its
    /// config.json records.
    package func checkResume(run: String) throws {
        guard let recorded = try RecordedTraining.read(run: run) else { return }
        try RunRecord.checkResume(run, changes: recorded.differences(from: options, cache: source.name, features: source.features,
                                                                          dataset: source.dataset))
    }

    package func makeNetwork(fresh: Bool) throws -> (network: SegmentationHead, note: String?) {
        (try SegmentationHead(config: headConfig, seed: options.seed, threads: options.threads), nil)
    }

    package func load(_ path: String, into head: SegmentationHead) throws -> TrainProgress? {
        try HeadCheckpoint.load(path, into: head)
    }

    package func save(_ head: SegmentationHead, to path: String, progress: TrainProgress) throws {
        let backbone = source.features.map { [HeadCheckpoint.backboneKey: $0.weightsSHA256] } ?? [:]
        try HeadCheckpoint.save(head, to: path, progress: progress,
                                extraMetadata: backbone.merging(try CheckpointDataset.metadata(source.dataset)) { a, _ in a })
    }

    package func configuration(stepsPerEpoch: Int, maxIter: Int) throws -> Data {
        struct Resolved: Codable {
            var head: HeadConfig
            var variant: String, cache: String
            var train: TrainOptions
            var samplesPerEpoch: Int, stepsPerEpoch: Int, maxIter: Int
            var machine: MachineInfo
            var features: FeatureIdentity?
            var dataset: DatasetDescription?
        }
        return try runConfigurationJSON(Resolved(head: headConfig, variant: headConfig.variantName, cache: source.name, train: options,
                                                 samplesPerEpoch: source.samplesPerEpoch, stepsPerEpoch: stepsPerEpoch,
                                                 maxIter: maxIter, machine: .current, features: source.features,
                                                 dataset: source.dataset))
    }

    package func batches(stepsPerEpoch: Int, part: Range<Int>) -> EpochBatches {
        EpochBatches(source: source, seed: options.seed, batchSize: options.batch, epochs: options.epochs,
                     stepsPerEpoch: stepsPerEpoch, stages: headConfig.requiredStages, part: part)
    }

    package func lossAndGradients(_ head: SegmentationHead, batch: TrainBatch, dropoutSeed: UInt64) throws -> StepLoss {
        // The head reads the batch's own arrays (no copy); backward uses them too, so it runs inside the closure.
        withStagePointers(batch.stages, stages: headConfig.requiredStages) { pointers in
            let activations = head.forward(stages: pointers, shapes: batch.stageShapes, batch: batch.count, training: true,
                                           dropoutSeed: dropoutSeed)
            return batch.labels.withUnsafeBufferPointer { labels in
                let loss = head.loss(activations, labels: labels.baseAddress!, labelHeight: batch.labelHeight,
                                     labelWidth: batch.labelWidth)
                if loss.loss.isFinite { head.backward(saved: activations, loss: loss) }
                return StepLoss(loss: loss.loss, activationBytes: head.activationBytes)
            }
        }
    }

    package func update(_ head: SegmentationHead, lr: Double) {
        head.sgdStep(lr: Float(lr), momentum: options.momentum, weightDecay: options.weightDecay)
    }
}

extension SegmentationHead: TrainableNetwork {
    package var evaluationLogits: WindowLogits { self }
}
