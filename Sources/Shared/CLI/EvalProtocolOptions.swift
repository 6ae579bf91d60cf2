import ArgumentParser
import DinoSegData

extension EvalMode: ExpressibleByArgument {}

/// Flags that choose the evaluation protocol for commands that run the backbone themselves (`headtrain predict`).
package struct EvalProtocolOptions: ParsableArguments {
    @Option(name: .long, help: "slide (224×224 windows, stride 150, as published) or whole (one pass on the padded image).")
    var mode: EvalMode = .slide
    @Flag(name: .long, help: "Do not average with the horizontally flipped window.") var noFlip = false
    @Option(name: .long, help: "Long side the image is resized to before windowing.") var longSide: Int = 512
    @Option(name: .long, help: "Window size (the crop the head was trained on).") var crop: Int = 224
    @Option(name: .long, help: "Window stride in slide mode.") var stride: Int = 150

    package init() {}

    package func validate() throws { try FlagBounds.check(evalProtocol) }

    package var evalProtocol: EvalProtocol {
        EvalProtocol(mode: mode, flip: !noFlip, crop: crop, stride: stride, longSide: longSide)
    }
}
