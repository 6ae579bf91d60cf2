/// A train feature cache (written by `extract`) as a training source, read through the data module's
/// `TrainCacheReader` (background prefetch, shuffled shard order then shuffle within a buffer).
public final class CacheTrainingSource: HeadTrainingSource {
    public let reader: TrainCacheReader
    public let name: String
    public let features: FeatureIdentity?

    public init(directory: String) throws {
        reader = try TrainCacheReader(directory: directory)   // refuses anything but a complete train cache
        name = directory
        features = reader.manifest.featureIdentity
    }

    public var stageChannels: [Int] { reader.manifest.config.backbone.hiddenSizes }
    public var availableStages: [Int] { reader.manifest.stages }
    public var samplesPerEpoch: Int { reader.samplesPerEpoch() }

    public func batches(epoch: Int, seed: UInt64, batchSize: Int, startBatch: Int, stages: [Int],
                        part: Range<Int>) throws -> () throws -> TrainBatch? {
        let stream = reader.batches(epoch: epoch, seed: seed, batchSize: batchSize, startBatch: startBatch, stages: stages,
                                    part: part)
        return stream.nextBatch
    }
}
