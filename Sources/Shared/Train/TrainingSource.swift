import Foundation
import DinoSegCore
import DinoSegNN
import DinoSegCache
import DinoSegModels

// What the trainer needs from a feature cache: batches (TrainBatch: stage features, NHWC, with their label crops),
// shuffled per epoch, resumable at a batch index.

/// The batches of consecutive epochs of a source, from any (epoch, batch) on. The next epoch's stream is opened while
/// the last step of an epoch runs, so its first batches are read during that step and the epoch-end checkpoint instead
/// of at the start of the next epoch.
package struct EpochBatches: TrainingBatches {
    let source: HeadTrainingSource
    let seed: UInt64, batchSize: Int, epochs: Int, stepsPerEpoch: Int, stages: [Int]
    /// The positions of every batch this process reads (data-parallel training; all of them by default).
    let part: Range<Int>
    private var current: (epoch: Int, next: () throws -> TrainBatch?)?
    private var upcoming: (epoch: Int, next: () throws -> TrainBatch?)?
    /// Seconds the last `next` waited for its batch.
    package private(set) var lastWait = 0.0

    init(source: HeadTrainingSource, seed: UInt64, batchSize: Int, epochs: Int, stepsPerEpoch: Int, stages: [Int],
         part: Range<Int>? = nil) {
        self.source = source; self.seed = seed; self.batchSize = batchSize; self.epochs = epochs
        self.stepsPerEpoch = stepsPerEpoch; self.stages = stages; self.part = part ?? 0..<batchSize
    }

    /// The batch at `progress`, or nil when its epoch has no more batches.
    package mutating func next(at progress: TrainProgress) throws -> TrainBatch? {
        if current?.epoch != progress.epoch {
            if let u = upcoming, u.epoch == progress.epoch, progress.batchInEpoch == 0 {
                current = u
            } else {
                current = (progress.epoch, try source.batches(epoch: progress.epoch, seed: seed, batchSize: batchSize,
                                                              startBatch: progress.batchInEpoch, stages: stages, part: part))
            }
            upcoming = nil
        }
        let start = DispatchTime.now().uptimeNanoseconds
        guard let batch = try current!.next() else { return nil }
        lastWait = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if progress.batchInEpoch + 1 == stepsPerEpoch && progress.epoch + 1 < epochs {
            upcoming = (progress.epoch + 1, try source.batches(epoch: progress.epoch + 1, seed: seed, batchSize: batchSize,
                                                                startBatch: 0, stages: stages, part: part))
        }
        return batch
    }
}

package protocol HeadTrainingSource {
    /// A human name for messages (the cache directory).
    var name: String { get }
    /// Channels of stages 0...3 of the backbone the features come from.
    var stageChannels: [Int] { get }
    /// Stages stored in the cache.
    var availableStages: [Int] { get }
    /// Samples in one epoch (each epoch reads one view of every image).
    var samplesPerEpoch: Int { get }
    /// Full batches of epoch `epoch` from batch index `startBatch` on (the last partial batch is dropped); the order
    /// depends only on (seed, epoch). Only positions `part` of each batch are read (data-parallel training: this
    /// process's share; 0..<batchSize: all of it).
    func batches(epoch: Int, seed: UInt64, batchSize: Int, startBatch: Int, stages: [Int],
                 part: Range<Int>) throws -> () throws -> TrainBatch?
    /// The cache and backbone the features come from (nil: no manifest, e.g. features in memory).
    var features: FeatureIdentity? { get }
    /// The dataset the labels belong to (nil: not recorded, e.g. features in memory).
    var dataset: DatasetDescription? { get }
}

extension HeadTrainingSource {
    package var features: FeatureIdentity? { nil }
    package var dataset: DatasetDescription? { nil }

    /// Whole batches.
    package func batches(epoch: Int, seed: UInt64, batchSize: Int, startBatch: Int, stages: [Int]) throws -> () throws -> TrainBatch? {
        try batches(epoch: epoch, seed: seed, batchSize: batchSize, startBatch: startBatch, stages: stages, part: 0..<batchSize)
    }

    /// Refuses a source that cannot feed the head, with a hint.
    package func check(fits head: HeadConfig) throws {
        let missing = head.requiredStages.filter { !availableStages.contains($0) }
        if !missing.isEmpty {
            let hint = head.useFPN && head.outputStride == 4 && missing == [0]
                ? "use --output-stride 8 (needs stages 1-3) or extract the cache with stage 0"
                : "extract the cache with stages \(head.requiredStages.map(String.init).joined(separator: ","))"
            throw DinoSegError(file: name, "the cache has stages \(availableStages) but \(head.variantName) needs stage \(missing.map(String.init).joined(separator: ",")); \(hint)")
        }
        if let dataset, dataset.classCount != head.numClasses {
            throw DinoSegError(file: name, "holds dataset \"\(dataset.name)\" with \(dataset.classCount) classes but the head has \(head.numClasses)")
        }
        for s in head.requiredStages where stageChannels[s] != head.stageChannels[s] {
            throw DinoSegError(file: name, "stage \(s) has \(stageChannels[s]) channels but the head expects \(head.stageChannels[s])")
        }
    }
}

/// Samples held in memory (tests and small synthetic caches): `views[v][i]` is view v of image i; epoch e uses view
/// e mod K, in an order shuffled by (seed, epoch).
package final class InMemoryTrainingSource: HeadTrainingSource {
    package struct Sample {
        package var stages: [Int: [Float]]   // [h, w, c] each
        package var labels: [UInt8]
        package init(stages: [Int: [Float]], labels: [UInt8]) { self.stages = stages; self.labels = labels }
    }

    package let name: String
    package let stageChannels: [Int]
    package let availableStages: [Int]
    package let stageSizes: [Int: (h: Int, w: Int)]
    package let labelHeight: Int, labelWidth: Int
    package let views: [[Sample]]
    /// The labels' dataset, when the caller knows it (checked against the head's class count).
    package var dataset: DatasetDescription? = nil

    package init(name: String, stageChannels: [Int], stageSizes: [Int: (h: Int, w: Int)], labelHeight: Int, labelWidth: Int,
                views: [[Sample]]) {
        self.name = name; self.stageChannels = stageChannels; self.stageSizes = stageSizes
        self.availableStages = stageSizes.keys.sorted()
        self.labelHeight = labelHeight; self.labelWidth = labelWidth; self.views = views
    }

    package var samplesPerEpoch: Int { views.first?.count ?? 0 }

    package func batches(epoch: Int, seed: UInt64, batchSize: Int, startBatch: Int, stages: [Int],
                        part: Range<Int>) throws -> () throws -> TrainBatch? {
        let samples = views[epoch % views.count]
        var order = Array(samples.indices)
        var rng = SplitMix64(seed: seed, 11, epoch)
        order.shuffle(using: &rng)
        let batchCount = samples.count / batchSize
        var next = startBatch
        return { [self] in
            guard next < batchCount else { return nil }
            let picked = order[(next * batchSize + part.lowerBound)..<(next * batchSize + part.upperBound)]
            next += 1
            var feats: [Int: [Float]] = [:], shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
            for s in stages {
                feats[s] = picked.flatMap { samples[$0].stages[s]! }
                shapes[s] = (stageSizes[s]!.h, stageSizes[s]!.w, stageChannels[s])
            }
            return TrainBatch(count: picked.count, stages: feats, stageShapes: shapes, labels: picked.flatMap { samples[$0].labels },
                              labelHeight: labelHeight, labelWidth: labelWidth, imageIndices: Array(picked))
        }
    }
}
