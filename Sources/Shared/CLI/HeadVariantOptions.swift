import ArgumentParser
import DinoSegModels

/// Which head to build (FPN width and output stride, with or without FPN / PPM), shared by `headtrain train` and
/// `headtrain bench`.
package struct HeadVariantOptions: ParsableArguments {
    @Option(name: .customLong("fpn-width"), help: "FPN channel width.") package var fpnWidth: Int = 1024
    @Option(name: .customLong("output-stride"), help: "FPN output stride: 8 (F1..F3) or 4 (F0..F3).") package var outputStride: Int = 8
    @Flag(name: .customLong("no-fpn"), help: "No FPN: the head runs on stage 3.") package var noFPN = false
    @Flag(name: .customLong("no-ppm"), help: "No pyramid pooling module.") package var noPPM = false
    package init() {}

    package func validate() throws {
        guard outputStride == 4 || outputStride == 8 else { throw ValidationError("--output-stride must be 4 or 8") }
        try FlagBounds.check(fpnWidth, in: FlagBounds.fpnWidth, "--fpn-width")
    }

    package func headConfig(stageChannels: [Int]) -> HeadConfig {
        HeadConfig(stageChannels: stageChannels, fpnWidth: fpnWidth, outputStride: outputStride, useFPN: !noFPN, usePPM: !noPPM)
    }
}
