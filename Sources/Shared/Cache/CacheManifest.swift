// The manifest of a feature cache: `cache/NAME/manifest.json` beside `shard-00000.h5`, `shard-00001.h5`, …
// It records how the features were made (so a resumed or reused cache is known to match) and every finished shard
// with its sample count and SHA-256. Each shard also carries the manifest's configuration (everything but the shard
// table, which would have to contain the shard's own checksum) as the HDF5 attribute `manifest`, and its own entry
// (without the checksum) as the attribute `shard`.
import Foundation

public enum CacheKind: String, Codable { case train, val }

public struct CacheBackboneInfo: Codable, Equatable {
    public var name: String
    public var hiddenSizes: [Int]
    public var depths: [Int]
    public var stageStrides: [Int]
    public var weightsSHA256: String
    public init(name: String, hiddenSizes: [Int], depths: [Int], stageStrides: [Int], weightsSHA256: String) {
        self.name = name; self.hiddenSizes = hiddenSizes; self.depths = depths
        self.stageStrides = stageStrides; self.weightsSHA256 = weightsSHA256
    }
}

/// Everything that determines the cache's content. Two runs with equal configurations write identical shards.
public struct CacheConfig: Codable, Equatable {
    public var formatVersion = 1
    public var kind: CacheKind
    public var backbone: CacheBackboneInfo
    public var mean: [Float] = VOC.mean
    public var std: [Float] = VOC.std
    public var crop = 224
    public var stages: [Int]
    public var dtype: HDF5DType
    /// Train: the augmentation recipe; val: "none".
    public var augmentation: String
    public var seed: UInt64
    /// Train: views per image (K); val: 1.
    public var views: Int
    public var dataRoot: String
    public var listFile: String
    /// Images taken from the list (after --limit).
    public var imageCount: Int
    /// Train: samples per shard; val: images per shard.
    public var shardSize: Int
    public var skipBad: Bool
    /// Train: images, val: windows per backbone call (`--batch`). Whether a batch changes the last bits of a feature
    /// depends on the BLAS kernel, so a resumed extraction keeps the recorded value. nil in manifests written before
    /// it was recorded.
    public var batch: Int?
    /// Val only: the evaluation protocol the windows were cut with (nil for train caches).
    public var evalProtocol: EvalProtocol?
    /// The backbone's matrix-multiply precision; nil in manifests written before it was recorded (fp32). Features are
    /// stored as `dtype` either way.
    public var precision: Precision?

    /// Field-by-field differences "name: old → new" (for the refusal message on resume). `batch` is not among them:
    /// a resume reuses the recorded one (see `CacheDirectory.resume`).
    public func differences(from other: CacheConfig) -> [String] {
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
        ]
        return d.compactMap { $0 }
    }
}

public struct CacheShardEntry: Codable, Equatable {
    public var index: Int
    public var file: String
    /// Train: the view all samples of this shard belong to; val: 0.
    public var view: Int
    /// Rows in the shard (train: samples = images; val: windows).
    public var samples: Int
    /// Images in the shard (train: = samples).
    public var images: Int
    public var bytes: Int
    public var sha256: String
}

public struct CacheManifest: Codable, Equatable {
    public var config: CacheConfig
    /// Ids of all images of the list (index = image index used in the shards).
    public var imageIDs: [String]
    /// Finished shards, by index.
    public var shards: [CacheShardEntry]
    /// Planned shard count; the cache is complete when every planned shard is finished.
    public var plannedShards: Int
    /// Images skipped with --skip-bad, "id: reason".
    public var skipped: [String]
    /// The machines (CPU and BLAS) that ran this extraction, in order of first use. Informational only: the features of a
    /// configuration are valid on any machine, but another BLAS kernel may change their last bits. Absent in
    /// manifests written before it was recorded.
    public var machines: [MachineInfo]? = nil
    /// Per image, the SHA-256 of its photo and label when extracted (SourceFingerprint); absent in older manifests.
    public var sources: [String]? = nil
    public var complete: Bool { shards.count == plannedShards }

    public var kind: CacheKind { config.kind }
    public var stages: [Int] { config.stages }
    public var views: Int { config.views }

    public static let fileName = "manifest.json"

    /// Reads and checks (`checkConsistency`) the manifest of a cache directory.
    public static func load(directory: String) throws -> CacheManifest {
        let path = "\(directory)/\(fileName)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DinoSegError(file: path, "no cache manifest here (run `extract train` or `extract val` to create the cache)")
        }
        let m: CacheManifest
        do { m = try JSONDecoder().decode(CacheManifest.self, from: data) } catch {
            throw DinoSegError(file: path, "unreadable cache manifest (\(error))")
        }
        try m.checkConsistency(path: path)
        return m
    }

    public func save(directory: String) throws {
        try AtomicWrite.write(try CacheManifest.encode(self), to: "\(directory)/\(CacheManifest.fileName)")
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(value)
    }

    public static func shardFileName(_ index: Int) -> String { String(format: "shard-%05d.h5", index) }

    /// Channels of stage k.
    public func channels(stage k: Int) -> Int { config.backbone.hiddenSizes[k] }
    /// Spatial size of stage k for a crop × crop input (floor division, as the backbone).
    public func trainStageSize(stage k: Int) -> Int {
        stageSize(config.crop, stage: k)
    }
}
