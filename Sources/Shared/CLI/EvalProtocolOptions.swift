import ArgumentParser
import DinoSegCore
import DinoSegData

extension EvalMode: ExpressibleByArgument {}

/// Flags that choose the evaluation protocol for commands that run the backbone themselves (`predict`, baseline
/// `eval`); a flag not given keeps the protocol of the checkpoint's dataset (VOC: slide 224×224 windows, stride 150,
/// flip, long side 512, as published).
package struct EvalProtocolOptions: ParsableArguments {
    @Option(name: .long, help: "slide (windows at the stride) or whole (one pass on the padded image).") var mode: EvalMode?
    @Flag(name: .long, help: "Do not average with the horizontally flipped window.") var noFlip = false
    @Option(name: .long, help: "Long side the image is resized to before windowing (default: the dataset's; VOC 512).") var longSide: Int?
    @Option(name: .long, help: "Window size (default 224; the crop the head was trained on).") var crop: Int?
    @Option(name: .long, help: "Window stride in slide mode (default: the dataset's; VOC 150).") var stride: Int?

    package init() {}

    package func validate() throws {
        try FlagBounds.check(longSide, in: FlagBounds.imageSide, "--long-side")
        try FlagBounds.check(crop, in: FlagBounds.crop, "--crop")
        try FlagBounds.check(stride, in: 1...(crop ?? FlagBounds.crop.upperBound), "--stride")
        // The dataset's protocol is known once the checkpoint is read (evalProtocol(for:) checks it then); the flags
        // over VOC's protocol are checked now, before anything is loaded.
        _ = try evalProtocol(for: .voc)
    }

    /// The protocol of `dataset`'s users with the flags given applied.
    package func evalProtocol(for dataset: DatasetDescription) throws -> EvalProtocol {
        var p = DatasetLayouts.evalProtocol(for: dataset)
        if let mode { p.mode = mode }
        if noFlip { p.flip = false }
        if let longSide { p.longSide = longSide }
        if let crop { p.crop = crop }
        if let stride { p.stride = stride }
        guard p.stride <= p.crop else { throw ValidationError("--stride \(p.stride) is larger than the window \(p.crop)") }
        try FlagBounds.checkWindows(p)
        return p
    }
}
