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
    @Option(name: .long, help: "slide: 224x224 windows at the stride; whole: one pass on the padded image (default: the dataset's protocol).") var mode: EvalMode?
    @Flag(name: .long, help: "Also store the features of each horizontally flipped window.") var flip = false
    @Option(name: .long, help: "Resize so the long side is this many pixels (default: the dataset's protocol; VOC 512).") var longSide: Int?
    @Option(name: .long, help: "Window stride, slide mode (default: the dataset's protocol; VOC 150).") var stride: Int?

    package init() {}

    package func validate() throws {
        try FlagBounds.check(longSide, in: FlagBounds.imageSide, "--long-side")
        try FlagBounds.check(stride, in: 1...224, "--stride")   // at most the window size
    }

    /// The dataset's protocol with the flags given applied; `extract val` stores flipped windows only with --flip.
    func evalProtocol() throws -> EvalProtocol {
        var p = try dataset.layoutType().evalProtocol
        p.flip = flip
        if let mode { p.mode = mode }
        if let longSide { p.longSide = longSide }
        if let stride { p.stride = stride }
        try FlagBounds.checkWindows(p)
        return p
    }

    func options() throws -> ValExtractionOptions {
        var o = ValExtractionOptions(dataRoot: dataset.data, list: dataset.list, out: cache.out)
        let p = try evalProtocol()
        o.mode = p.mode; o.flip = p.flip; o.longSide = p.longSide; o.stride = p.stride
        o.layout = dataset.layout; o.layoutOptions = dataset.layoutOptions
        o.stages = cache.stages.stages; o.dtype = cache.dtype.storage; o.shardSize = cache.shardSize ?? 64
        o.workers = cache.workers; o.batch = cache.batch; o.limit = dataset.limit; o.skipBad = cache.skipBad
        return o
    }

    package func run() throws {
        try cache.extract { backbone, world in try ValExtraction.run(try options(), backbone: backbone, communicator: world) }
    }
}
