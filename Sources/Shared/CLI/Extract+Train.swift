import ArgumentParser
import Foundation
import DinoSegCache

/// `extract train`: K augmented views per image → view-grouped HDF5 shards.
package struct ExtractTrain: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Extract backbone features of K augmented 224x224 views per training image into a resumable shard cache.",
        discussion: "Re-running the same command resumes: finished shards are verified and kept. Ctrl-C or SIGTERM stops after the current shard. Under mpirun/srun the processes share the shards.")

    @OptionGroup var dataset: DatasetOptions
    @OptionGroup var cache: CacheWriteOptions
    @Option(name: .long, help: "Augmented views per image (epoch e of training uses view e mod K).") var views: Int = 1
    @Option(name: .long, help: "Seed of the augmentation (each (seed, image, view) is replayable).") var seed: UInt64 = 0
    @Option(name: .long, help: "Resize photos to this long side before the random scale (default: the dataset's; VOC keeps the photo's size; ADE20K 640, Cityscapes 1024).")
    var trainLongSide: Int?

    package init() {}

    package func validate() throws {
        try FlagBounds.check(views, in: FlagBounds.views, "--views")
        try FlagBounds.check(trainLongSide, in: FlagBounds.imageSide, "--train-long-side")
    }

    func options() throws -> TrainExtractionOptions {
        var o = TrainExtractionOptions(dataRoot: dataset.data, list: dataset.list, out: cache.out)
        o.views = views; o.stages = cache.stages.stages; o.dtype = cache.dtype.storage; o.shardSize = cache.shardSize ?? 256
        o.workers = cache.workers; o.batch = cache.batch; o.seed = seed; o.limit = dataset.limit; o.layout = dataset.layout; o.layoutOptions = dataset.layoutOptions; o.skipBad = cache.skipBad
        o.recipe.longSide = try trainLongSide ?? dataset.layoutType().trainLongSide
        return o
    }

    package func run() throws {
        try cache.extract { backbone, world in try TrainExtraction.run(try options(), backbone: backbone, communicator: world) }
    }
}
