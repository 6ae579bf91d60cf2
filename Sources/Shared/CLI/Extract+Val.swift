import ArgumentParser
import Foundation
import DinoSegData
import DinoSegCache

/// `extract val`: evaluation windows (docs/DESIGN.md §5) → HDF5 shards with geometry and original labels.
package struct ExtractVal: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "val",
        abstract: "Extract backbone features of the evaluation windows (long side 512, 224 windows, stride 150) into a shard cache.",
        discussion: "Re-running the same command resumes: finished shards are verified and kept. Ctrl-C or SIGTERM stops after the current shard. Under mpirun/srun the processes share the shards.")

    @OptionGroup var dataset: DatasetOptions
    @OptionGroup var cache: CacheWriteOptions
    @Option(name: .long, help: "slide: 224x224 windows at the stride; whole: one pass on the padded image.") var mode: EvalMode = .slide
    @Flag(name: .long, help: "Also store the features of each horizontally flipped window.") var flip = false
    @Option(name: .long, help: "Resize so the long side is this many pixels.") var longSide: Int = 512
    @Option(name: .long, help: "Window stride (slide mode).") var stride: Int = 150

    package init() {}

    package func validate() throws {
        try FlagBounds.check(longSide, in: FlagBounds.imageSide, "--long-side")
        try FlagBounds.check(stride, in: 1...224, "--stride")   // at most the window size
        try FlagBounds.checkWindows(EvalProtocol(mode: mode, flip: flip, crop: 224, stride: stride, longSide: longSide))
    }

    var options: ValExtractionOptions {
        var o = ValExtractionOptions(dataRoot: dataset.data, list: dataset.list, out: cache.out)
        o.mode = mode; o.flip = flip; o.longSide = longSide; o.stride = stride
        o.stages = cache.stages.stages; o.dtype = cache.dtype.storage; o.shardSize = cache.shardSize ?? 64
        o.workers = cache.workers; o.batch = cache.batch; o.limit = dataset.limit; o.skipBad = cache.skipBad
        return o
    }

    package func run() throws {
        try cache.extract { backbone, world in try ValExtraction.run(options, backbone: backbone, communicator: world) }
    }
}
