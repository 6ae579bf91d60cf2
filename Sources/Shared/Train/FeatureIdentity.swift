import Foundation
import DinoSegCore
import DinoSegCache
import DinoSegModels

// Which features a head was trained on, recorded where the head goes (config.json of the run, the checkpoint's
// metadata) so that a resume, an evaluation, a prediction or a sweep rerun can refuse features, weights or settings
// other than the ones the head was made with, instead of continuing or labelling silently.

/// The cache's content (a digest of its manifest: configuration, images, shard checksums) and the backbone weights.
package struct FeatureIdentity: Codable, Equatable, Sendable {
    package var cacheDigest: String
    package var weightsSHA256: String
}

extension CacheManifest {
    /// SHA-256 of what determines the features: the configuration, the image ids and every shard's checksum (not the
    /// machines that ran the extraction). A moved cache keeps it; another cache, or the same one re-extracted
    /// differently, does not.
    package var contentDigest: String {
        struct Content: Encodable { var config: CacheConfig; var imageIDs: [String]; var shards: [String] }
        let content = Content(config: config, imageIDs: imageIDs, shards: shards.map(\.sha256))
        return SHA256.hex(of: (try? CacheManifest.encode(content)) ?? Data())
    }

    var featureIdentity: FeatureIdentity {
        FeatureIdentity(cacheDigest: contentDigest, weightsSHA256: config.backbone.weightsSHA256)
    }

    /// Refuses a val cache (`self`, at `path`) of another dataset, or whose features come from another backbone, than `train`'s.
    package func checkSameBackbone(asTrain train: CacheManifest, path: String, trainPath: String) throws {
        try config.datasetDescription.checkSame(as: train.config.datasetDescription, path: path, otherPath: trainPath)
        guard config.backbone.hiddenSizes == train.config.backbone.hiddenSizes else {
            throw DinoSegError(file: path, "features have stage channels \(config.backbone.hiddenSizes), the train cache \(trainPath) has \(train.config.backbone.hiddenSizes)")
        }
        guard config.backbone.weightsSHA256 == train.config.backbone.weightsSHA256 else {
            throw DinoSegError(file: path, "was extracted with other backbone weights than \(trainPath) (SHA-256 \(config.backbone.weightsSHA256.prefix(12))… vs \(train.config.backbone.weightsSHA256.prefix(12))…)")
        }
    }
}

extension HeadCheckpoint {
    /// Metadata key of the SHA-256 of the backbone weights whose features trained the head.
    static let backboneKey = "backbone_weights_sha256"

    /// The backbone weights' SHA-256 a checkpoint records (nil: trained on features without a manifest, or written
    /// before it was recorded).
    static func backboneWeightsSHA256(of path: String) throws -> String? {
        try SafetensorsFile(path: path).metadata[backboneKey]
    }

    /// Refuses features or weights (`what`, e.g. the val cache or the --weights file) of another backbone than the
    /// one the checkpoint's head was trained on.
    package static func checkBackbone(_ checkpoint: String, weightsSHA256: String, what: String) throws {
        guard let recorded = try backboneWeightsSHA256(of: checkpoint), recorded != weightsSHA256 else { return }
        throw DinoSegError(file: what, "comes from other backbone weights (SHA-256 \(weightsSHA256.prefix(12))…) than the head in \(checkpoint) was trained on (\(recorded.prefix(12))…)")
    }
}

/// What a head run's config.json records of its first session, read back when it is resumed.
struct RecordedTraining: Decodable {
    var train: TrainOptions
    var cache: String
    var features: FeatureIdentity?
    /// nil in a config.json written before datasets were recorded: VOC.
    var dataset: DatasetDescription?

    /// The run's config.json, or nil when there is none (a run interrupted before writing it).
    static func read(run: String) throws -> RecordedTraining? { try RunRecord.read(RecordedTraining.self, run: run) }

    /// "name recorded → asked" for every optimisation setting or feature source that a resume would change (and
    /// with `seedAndBatch`, as a sweep rerun asks, the seed and batch; a resume checks those against the checkpoint).
    func differences(from options: TrainOptions, cache: String, features: FeatureIdentity?, dataset: DatasetDescription? = nil,
                     seedAndBatch: Bool = false) -> [String] {
        var d = train.optimisationChanges(to: options, seedAndBatch: seedAndBatch)
        let trained = self.dataset ?? .voc, asked = dataset ?? .voc
        if trained != asked { d.append("dataset \(trained.name) → \(asked.name)") }
        if let recorded = self.features, let features, recorded.cacheDigest != features.cacheDigest {
            d.append("--cache \(self.cache) → \(cache) (other features)")
        }
        return d
    }

    /// The seed, batch, optimisation settings and features a sweep job was trained with, against the sweep's.
    func sweepDifferences(from options: TrainOptions, cache: String, features: FeatureIdentity?) -> [String] {
        differences(from: options, cache: cache, features: features, seedAndBatch: true)
    }
}
