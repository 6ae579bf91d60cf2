import ArgumentParser
import DinoSegData
import DinoSegCache

/// The range of every numeric flag, in one place. Flags are untrusted input: each command's (or option group's)
/// `validate()` checks its numbers here before anything is sized, allocated or looped over, so a huge, negative or
/// non-finite value is refused with one line (exit code 64) instead of trapping on an overflow, exhausting memory or
/// running for ever. Each bound says what it protects; README "Bad input" lists them.
enum FlagBounds {
    // MARK: Parallelism

    /// Threads of one process (BLAS, the heads' loops, data loading): each has its own stack and scratch
    /// (ThreadScratch), so a typo must not become millions of them.
    static let threads = 1...1024
    /// Extraction workers: each runs its own backbone and holds its activations (hundreds of MB at 224×224).
    static let workers = 1...256
    /// Images or windows per backbone call (extraction workers, `extract bench`): activations grow with it.
    static let backboneBatch = 1...256

    // MARK: Images and windows

    /// Sides the backbone runs on (`--resize`, `--long-side`, `--resolution`, synthetic images): at 4096×4096 the
    /// tiny model's first stage alone takes 1.5 GiB (ImageFeatures.maxSide).
    static let imageSide = 32...ImageFeatures.maxSide
    /// Training crops and evaluation windows (the cache readers' CacheLimits.crops).
    static let crop = CacheLimits.crops
    /// Pixels of all evaluation windows of one image: their stage features are held together (Predictor, the val
    /// cache readers), 11.25 floats per window pixel for the tiny model and 22.5 for the large one, so 2²⁵ pixels
    /// are 1.5–3 GiB: whole mode at long side 4096 with flip fits, `--stride 1` at long side 512 (83 521 windows) does not.
    static let maxWindowPixels = 1 << 25

    // MARK: Datasets and caches

    /// Augmented views per training image (each is a full pass of the backbone over the dataset).
    static let views = 1...TrainExtractionOptions.maxViews
    /// Samples or images per shard file.
    static let shardSize = 1...1_000_000
    /// `extract preview`: images and views per image, all tiled into one contact sheet held in memory
    /// (64 × 16 views: a 14 600 × 7 300 pixel sheet, 320 MB).
    static let previewImages = 1...64
    static let previewViews = 1...16
    /// `extract synth`: images per split (each is written to disk; 10⁵ are already several GB of JPEGs and labels).
    static let syntheticImages = 0...100_000
    /// `extract synth`: image sides (a synthetic image is rendered in memory at this size).
    static let syntheticSide = 8...ImageFeatures.maxSide

    // MARK: Training

    /// Epochs: 200× the published 50; steps (epochs × batches per epoch) stay far from overflow.
    static let epochs = 1...10_000
    /// Training batch: BatchNorm needs two values per channel; the activations kept for backward grow linearly with
    /// it, and 1024 is 32× the published batch (`headtrain bench` prints the activation memory per sample).
    static let trainBatch = 2...1024
    /// FPN width: the 3×3 fuse convolution holds 9·w² weights, three copies with gradient and momentum: 7 GiB at 8192.
    static let fpnWidth = 4...8192
    /// Base learning rate: beyond 10 plain SGD diverges in the first steps.
    static let learningRate: ClosedRange<Double> = 1e-8...10
    static let momentum: Range<Float> = 0..<1
    /// Weight decay: 1 already shrinks every weight by lr per step; larger values only zero the network.
    static let weightDecay: ClosedRange<Float> = 0...1
    /// Epochs between evaluations (0: only at the end).
    static let evalEvery = 0...epochs.upperBound
    /// Example predictions in the sweep report (each embeds four PNGs in report.html).
    static let examples = 0...64
    /// Bottleneck blocks per ResNet stage (ResNet-152 has 36 in its third).
    static let blocks = 1...64

    // MARK: Benchmarks

    /// Timed steps, images and repetitions of the benchmarks: enough for any measurement, not for a hang.
    static let benchSteps = 1...10_000
    static let benchImages = 1...100_000
    static let benchRepeats = 1...100

    // MARK: Checks

    /// Throws "--flag must be in A...B (got V)" unless `value` lies in `range` (NaN never does).
    static func check<T: Comparable>(_ value: T, in range: ClosedRange<T>, _ flag: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))")
        }
    }

    /// Throws "--flag must be in [A, B) (got V)" unless `value` lies in `range`.
    static func check<T: Comparable>(_ value: T, in range: Range<T>, _ flag: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be in [\(range.lowerBound), \(range.upperBound)) (got \(value))")
        }
    }

    /// Optional flags are checked when given.
    static func check<T: Comparable>(_ value: T?, in range: ClosedRange<T>, _ flag: String) throws {
        if let value { try check(value, in: range, flag) }
    }

    /// Every item of a comma-separated list.
    static func check<T: Comparable>(_ values: [T], in range: ClosedRange<T>, _ flag: String) throws {
        for v in values where !range.contains(v) {
            throw ValidationError("\(flag) items must be in \(range.lowerBound)...\(range.upperBound) (got \(v))")
        }
    }

    /// Windows and window pixels of the largest image the protocol evaluates (a square one at the long side),
    /// counted without listing the windows (`--stride 1` at long side 4096 would be 15 million of them).
    static func windowLoad(_ p: EvalProtocol) -> (windows: Int, pixels: Int) {
        let side = max(p.longSide, p.crop), copies = p.flip ? 2 : 1
        guard p.mode == .slide else { return (copies, copies * side * side) }
        let perSide = (side - p.crop + p.stride - 1) / p.stride + 1
        let windows = perSide * perSide * copies
        return (windows, windows * p.crop * p.crop)
    }

    /// The flags of an evaluation protocol (--long-side, --crop, --stride) one by one, then all windows of one image
    /// together.
    static func check(_ p: EvalProtocol) throws {
        try check(p.longSide, in: imageSide, "--long-side")
        try check(p.crop, in: crop, "--crop")
        try check(p.stride, in: 1...p.crop, "--stride")
        try checkWindows(p)
    }

    /// The protocol's sizes (checked one by one before) together: all windows of one image within maxWindowPixels.
    static func checkWindows(_ p: EvalProtocol) throws {
        let (windows, pixels) = windowLoad(p)
        guard pixels <= maxWindowPixels else {
            throw ValidationError("--long-side \(p.longSide), --stride \(p.stride) and window \(p.crop) make \(windows) windows "
                                  + "(\(pixels) pixels) per image, more than the \(maxWindowPixels) window pixels whose features fit in memory")
        }
    }
}
