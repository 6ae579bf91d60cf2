import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegData
import DinoSegKernels
import DinoSegBackbone
import DinoSegCache

extension FeatureDType: ExpressibleByArgument {}

/// `--stages 1,2,3`: distinct backbone stages in 0...3, parsed once.
package struct StageList: ExpressibleByArgument, Equatable {
    package var stages: [Int]

    package init(_ stages: [Int]) { self.stages = stages }

    package init?(argument: String) {
        let parsed = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0.map { (0...3).contains($0) } ?? false }) else { return nil }
        let stages = parsed.map { $0! }
        guard Set(stages).count == stages.count else { return nil }
        self.stages = stages
    }

    package var defaultValueDescription: String { stages.map(String.init).joined(separator: ",") }
}

/// Dataset selection shared by the extract subcommands.
package struct DatasetOptions: ParsableArguments {
    @Option(name: .long, help: "Dataset root, in one of the layouts of --layout (detected).")
    var data: String
    @Option(name: .long, help: "Split: a split name such as train or val (what it means is the layout's; VOC: ROOT/ImageSets/Segmentation/train.txt), or a list file's path (with a '/' or ending in .txt). Lines are ids or 'image label' pairs.")
    var list: String
    @Option(name: .long, help: ArgumentHelp("Dataset layout: \(DatasetLayouts.names.joined(separator: ", ")) (default: detected from ROOT).", valueName: "layout"))
    var layout: String?
    @Option(name: .long, help: "Folder layout without split lists: the fraction of images that form the val split.")
    var valFraction = LayoutOptions().valFraction
    @Option(name: .long, help: "Folder layout without split lists: the seed of the train/val split.")
    var splitSeed = LayoutOptions().splitSeed
    @Option(name: .long, help: "Use only the first N images of the list.")
    var limit: Int?
    package init() {}

    package func validate() throws {
        // Only a prefix of the list is taken, so any positive count is safe.
        try FlagBounds.check(limit, in: 1...Int.max, "--limit")
        if let layout, !DatasetLayouts.names.contains(layout) {
            throw ValidationError("--layout \(layout): known layouts are \(DatasetLayouts.names.joined(separator: ", "))")
        }
        guard valFraction > 0, valFraction < 1 else { throw ValidationError("--val-fraction must be in (0, 1), got \(valFraction)") }
    }

    var layoutOptions: LayoutOptions {
        var o = LayoutOptions()
        o.valFraction = valFraction; o.splitSeed = splitSeed
        return o
    }

    /// The layout of the dataset, whose statics give the defaults of the protocol and augmentation flags.
    func layoutType() throws -> DatasetLayout.Type {
        type(of: try DatasetLayouts.open(root: data, name: layout, options: layoutOptions))
    }
}

/// How features are written, shared by `extract train` and `extract val`.
package struct CacheWriteOptions: ParsableArguments {
    @Option(name: .long, help: "Backbone weights: a directory with config.json + model.safetensors, or a .safetensors file.")
    var weights: String
    @Option(name: .long, help: "Output cache directory, e.g. cache/voc-tiny.")
    var out: String
    @Option(name: .long, help: "Backbone stages to store: distinct numbers in 0...3, comma-separated.")
    var stages = StageList([0, 1, 2, 3])
    @Option(name: .long, help: "Feature storage on disk (any --precision).")
    var dtype: FeatureDType = .f16
    @Option(name: .long, help: "Samples per shard (train) or images per shard (val). Default 256 / 64.")
    var shardSize: Int?
    @Option(name: .long, help: "Worker threads in each process, one per core (each runs the backbone single-threaded); under mpirun, the cores of one process.")
    var workers: Int = Parallel.defaultThreads
    @Option(name: .long, help: "Images (train) or windows (val) per backbone call in each worker.")
    var batch: Int = 4
    @Flag(name: .long, help: "Skip unreadable or invalid images (logged, and listed in the manifest) instead of stopping.")
    var skipBad = false
    @OptionGroup var precision: PrecisionOptions
    package init() {}

    package func validate() throws {
        try FlagBounds.check(batch, in: FlagBounds.backboneBatch, "--batch")
        try FlagBounds.check(workers, in: FlagBounds.workers, "--workers")
        try FlagBounds.check(shardSize, in: FlagBounds.shardSize, "--shard-size")
    }

    /// Runs an extraction as one process, or as one of the processes of mpirun/srun, which share the shards (an error
    /// on any process prints it and ends the job). Ctrl-C or SIGTERM stops cleanly after the current shard.
    func extract(_ body: (_ backbone: FeatureBackbone, _ world: Communicator) throws -> CacheManifest) throws {
        let world = try Distributed.world()
        try precision.activate()
        StopSignal.install()
        let manifest = try world.endingJobOnError { try body(try BackboneLoader.load(weights), world) }
        guard manifest.complete else {
            // Every process has the same manifest; rank 0 says it once.
            guard world.isRoot else { throw ExitCode.failure }
            throw DinoSegError(file: out, "stopped with \(manifest.shards.count) of \(manifest.plannedShards) shards done; re-run the same command to resume")
        }
    }
}
