// The manifest of a feature cache: `cache/NAME/manifest.json` beside `shard-00000.h5`, `shard-00001.h5`, …
// It records how the features were made (so a resumed or reused cache is known to match) and every finished shard
// with its sample count and SHA-256. Each shard also carries the manifest's configuration (everything but the shard
// table, which would have to contain the shard's own checksum) as the HDF5 attribute `manifest`, and its own entry
// (without the checksum) as the attribute `shard`.
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone

package enum CacheKind: String, Codable { case train, val }

/// The backbone as the manifest records it. `hiddenSizes` and `stageStrides` are its stage channels and strides;
/// `stageGeometry` states them as the cache uses them (nil in manifests written before it was recorded).
package struct CacheBackboneInfo: Codable, Equatable {
    package var name: String
    package var hiddenSizes: [Int]
    package var depths: [Int]
    package var stageStrides: [Int]
    package var weightsSHA256: String
    package var stageGeometry: [StageGeometry]?
    package init(name: String, hiddenSizes: [Int], depths: [Int], stageStrides: [Int], weightsSHA256: String,
                 stageGeometry: [StageGeometry]? = nil) {
        self.name = name; self.hiddenSizes = hiddenSizes; self.depths = depths
        self.stageStrides = stageStrides; self.weightsSHA256 = weightsSHA256; self.stageGeometry = stageGeometry
    }

    /// Channels and stride per stage: as recorded, or for an older manifest derived from the recorded channels and
    /// strides (the one place that does; checkConsistency makes both agree when both are present).
    package var geometry: [StageGeometry] { stageGeometry ?? derivedGeometry }

    /// The geometry implied by `hiddenSizes` and `stageStrides`.
    var derivedGeometry: [StageGeometry] {
        zip(hiddenSizes, stageStrides).map { StageGeometry(channels: $0, stride: $1) }
    }
}

/// Everything that determines the cache's content. Two runs with equal configurations write identical shards.
package struct CacheConfig: Codable, Equatable {
    package var formatVersion = 1
    package var kind: CacheKind
    package var backbone: CacheBackboneInfo
    package var mean: [Float] = VOC.mean
    package var std: [Float] = VOC.std
    package var crop = 224
    package var stages: [Int]
    package var dtype: HDF5DType
    /// Train: the augmentation recipe; val: "none".
    package var augmentation: String
    package var seed: UInt64
    /// Train: views per image (K); val: 1.
    package var views: Int
    package var dataRoot: String
    package var listFile: String
    /// Images taken from the list (after --limit).
    package var imageCount: Int
    /// Train: samples per shard; val: images per shard.
    package var shardSize: Int
    package var skipBad: Bool
    /// Train: images, val: windows per backbone call (`--batch`). Whether a batch changes the last bits of a feature
    /// depends on the BLAS kernel, so a resumed extraction keeps the recorded value. nil in manifests written before
    /// it was recorded.
    package var batch: Int?
    /// Val only: the evaluation protocol the windows were cut with (nil for train caches).
    package var evalProtocol: EvalProtocol?
    /// The backbone's matrix-multiply precision; nil in manifests written before it was recorded (fp32). Features are
    /// stored as `dtype` either way.
    package var precision: Precision?
    /// What the labels mean; nil (and absent from the JSON, so older caches keep their digest) for VOC.
    package var dataset: DatasetDescription? = nil

    /// The cache's dataset: the recorded description, or VOC for a cache without one.
    package var datasetDescription: DatasetDescription { dataset ?? .voc }

    /// Field-by-field differences "name: old → new" (for the refusal message on resume). `batch` is not among them:
    /// a resume reuses the recorded one (see `CacheDirectory.resume`).
    package func differences(from other: CacheConfig) -> [String] {
        func diff<T: Equatable>(_ name: String, _ a: T, _ b: T) -> String? { a == b ? nil : "\(name): \(a) → \(b)" }
        let d: [String?] = [
            diff("format", other.formatVersion, formatVersion), diff("kind", other.kind.rawValue, kind.rawValue),
            diff("backbone", other.backbone.name, backbone.name),
            diff("weights SHA-256", other.backbone.weightsSHA256, backbone.weightsSHA256),
            diff("hidden sizes", other.backbone.hiddenSizes, backbone.hiddenSizes), diff("depths", other.backbone.depths, backbone.depths),
            diff("stage strides", other.backbone.stageStrides, backbone.stageStrides),
            diff("mean", other.mean, mean), diff("std", other.std, std), diff("crop", other.crop, crop),
            diff("stages", other.stages, stages), diff("dtype", other.dtype.rawValue, dtype.rawValue),
            diff("augmentation", other.augmentation, augmentation), diff("seed", other.seed, seed),
            diff("views", other.views, views), diff("data", other.dataRoot, dataRoot), diff("list", other.listFile, listFile),
            diff("images", other.imageCount, imageCount), diff("shard size", other.shardSize, shardSize),
            diff("skip-bad", other.skipBad, skipBad),
            diff("evaluation protocol", other.evalProtocol?.description ?? "-", evalProtocol?.description ?? "-"),
            other.datasetDescription == datasetDescription ? nil
                : "dataset: \(other.datasetDescription.name) (\(other.datasetDescription.classCount) classes) → \(datasetDescription.name) (\(datasetDescription.classCount) classes)",
        ]
        return d.compactMap { $0 }
    }
}

package struct CacheShardEntry: Codable, Equatable {
    package var index: Int
    package var file: String
    /// Train: the view all samples of this shard belong to; val: 0.
    package var view: Int
    /// Rows in the shard (train: samples = images; val: windows).
    package var samples: Int
    /// Images in the shard (train: = samples).
    package var images: Int
    package var bytes: Int
    package var sha256: String
}

package struct CacheManifest: Codable, Equatable {
    package var config: CacheConfig
    /// Ids of all images of the list (index = image index used in the shards).
    package var imageIDs: [String]
    /// Finished shards, by index.
    package var shards: [CacheShardEntry]
    /// Planned shard count; the cache is complete when every planned shard is finished.
    package var plannedShards: Int
    /// Images skipped with --skip-bad, "id: reason".
    package var skipped: [String]
    /// The machines (CPU and BLAS) that ran this extraction, in order of first use. Informational only: the features of a
    /// configuration are valid on any machine, but another BLAS kernel may change their last bits. Absent in
    /// manifests written before it was recorded.
    package var machines: [MachineInfo]? = nil
    /// Per image, the SHA-256 of its photo and label when extracted (SourceFingerprint); absent in older manifests.
    package var sources: [String]? = nil
    package var complete: Bool { shards.count == plannedShards }

    package var kind: CacheKind { config.kind }
    package var stages: [Int] { config.stages }
    package var views: Int { config.views }

    package static let fileName = "manifest.json"

    /// Reads and checks (`checkConsistency`) the manifest of a cache directory.
    package static func load(directory: String) throws -> CacheManifest {
        let path = "\(directory)/\(fileName)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DinoSegError(file: path, "no cache manifest here (run `extract train` or `extract val` to create the cache)")
        }
        let m: CacheManifest
        do { m = try JSONDecoder().decode(CacheManifest.self, from: data) } catch {
            throw DinoSegError(file: path, "unreadable cache manifest (\(error))")
        }
        try m.checkConsistency(path: path)
        try m.config.dataset?.validate(source: path)
        return m
    }

    package func save(directory: String) throws {
        try AtomicWrite.write(try CacheManifest.encode(self), to: "\(directory)/\(CacheManifest.fileName)")
    }

    package static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(value)
    }

    package static func shardFileName(_ index: Int) -> String { String(format: "shard-%05d.h5", index) }

    /// Channels of stage k.
    package func channels(stage k: Int) -> Int { config.backbone.geometry[k].channels }
    /// Spatial size of stage k for an input side of `pixels` (floor division, as the backbone).
    package func stageSide(_ k: Int, pixels: Int) -> Int { config.backbone.geometry[k].side(pixels) }
    /// Spatial size of stage k for a crop × crop input.
    package func trainStageSize(stage k: Int) -> Int { stageSide(k, pixels: config.crop) }
}
