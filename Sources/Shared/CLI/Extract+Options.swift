import ArgumentParser
import Foundation

extension HDF5DType: ExpressibleByArgument {}
extension ValMode: ExpressibleByArgument {}

/// Dataset selection shared by the extract subcommands.
public struct DatasetOptions: ParsableArguments {
    @Option(name: .long, help: "Dataset root (VOC layout: JPEGImages/, SegmentationClass[Aug]/, ImageSets/Segmentation/).")
    var data: String
    @Option(name: .long, help: "Split list: a path, or a name such as train meaning ROOT/ImageSets/Segmentation/train.txt. Lines are ids or 'image label' pairs.")
    var list: String
    @Option(name: .long, help: "Use only the first N images of the list.")
    var limit: Int?
    public init() {}

    public func validate() throws {
        if let l = limit, l <= 0 { throw ValidationError("--limit must be positive") }
    }
}

/// How features are written, shared by `extract train` and `extract val`.
public struct CacheWriteOptions: ParsableArguments {
    @Option(name: .long, help: "Backbone weights: a directory with config.json + model.safetensors, or a .safetensors file.")
    var weights: String
    @Option(name: .long, help: "Output cache directory, e.g. cache/voc-tiny.")
    var out: String
    @Option(name: .long, help: "Backbone stages to store, comma-separated.")
    var stages: String = "0,1,2,3"
    @Option(name: .long, help: "Feature precision on disk (f16 | f32).")
    var dtype: HDF5DType = .f16
    @Option(name: .long, help: "Samples per shard (train) or images per shard (val). Default 256 / 64.")
    var shardSize: Int?
    @Option(name: .long, help: "Worker threads, one per core (each runs the backbone single-threaded).")
    var workers: Int = Parallel.defaultThreads
    @Option(name: .long, help: "Images (train) or windows (val) per backbone call in each worker.")
    var batch: Int = 4
    @Flag(name: .long, help: "Skip unreadable or invalid images (logged, and listed in the manifest) instead of stopping.")
    var skipBad = false
    @Option(name: .long, help: .hidden) var stopAfterShards: Int?
    public init() {}

    var stageList: [Int] { stages.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    public func validate() throws {
        let parsed = stages.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil && (0...3).contains($0!) }), Set(stageList).count == stageList.count else {
            throw ValidationError("--stages must be distinct numbers in 0...3, e.g. 0,1,2,3 (got '\(stages)')")
        }
        guard batch >= 1 else { throw ValidationError("--batch must be ≥ 1") }
        guard workers >= 1 else { throw ValidationError("--workers must be ≥ 1") }
        if let s = shardSize, s < 1 { throw ValidationError("--shard-size must be ≥ 1") }
        // N copies would each extract everything into the same directory.
        if Distributed.launchedProcessCount > 1 {
            throw ValidationError("extract runs as one process (it uses every core through --workers); start it without mpirun/srun (or with one task)")
        }
    }
}
