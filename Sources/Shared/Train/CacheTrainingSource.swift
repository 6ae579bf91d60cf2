import DinoSegCore
import DinoSegCache
/// A train feature cache (written by `extract`) as a training source, read through the data module's
/// `TrainCacheReader` (background prefetch, shuffled shard order then shuffle within a buffer).
package final class CacheTrainingSource: HeadTrainingSource {
    package let reader: TrainCacheReader
    package let name: String
    package let features: FeatureIdentity?

    package init(directory: String) throws {
        reader = try TrainCacheReader(directory: directory)   // refuses anything but a complete train cache
        name = directory
        features = reader.manifest.featureIdentity
    }

    package var stageChannels: [Int] { reader.manifest.config.backbone.hiddenSizes }
    package var availableStages: [Int] { reader.manifest.stages }
    package var dataset: DatasetDescription? { reader.manifest.config.datasetDescription }
    package var samplesPerEpoch: Int { reader.samplesPerEpoch() }

    package func batches(epoch: Int, seed: UInt64, batchSize: Int, startBatch: Int, stages: [Int],
                        part: Range<Int>) throws -> () throws -> TrainBatch? {
        let stream = reader.batches(epoch: epoch, seed: seed, batchSize: batchSize, startBatch: startBatch, stages: stages,
                                    part: part)
        return stream.nextBatch
    }
}
