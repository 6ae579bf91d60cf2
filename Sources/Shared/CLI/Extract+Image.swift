import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone
import DinoSegCache

/// `extract image`: the four stage outputs of one image → HDF5 datasets stage0 … stage3, each [1, H, W, C] (NHWC).
package struct ExtractImage: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Compute the backbone's stage 0–3 feature maps of one JPEG/PNG image and write them to an HDF5 file.")

    @Argument(help: "Input image (JPEG or PNG, RGB or grey).")
    var path: String
    @Option(help: "Weights: directory with config.json + model.safetensors, or a .safetensors file.")
    var weights: String
    @Option(help: "Output HDF5 file.")
    var out: String
    @Flag(help: "Store float16 instead of float32.")
    var half = false
    @Option(help: "Resize the image to N×N (bilinear) first; default: use it at its own size.")
    var resize: Int?

    @OptionGroup var precisionOptions: PrecisionOptions
    package init() {}

    package func validate() throws {
        // At least the backbone's total stride, at most what its activations fit in memory for.
        try FlagBounds.check(resize, in: FlagBounds.imageSide, "--resize")
    }

    package func run() throws {
        try precisionOptions.activate()
        let options = ImageFeatureOptions(imagePath: path, weightsPath: weights, outputPath: out,
                                          dtype: half ? .f16 : .f32, resize: resize)
        let summary = try ImageFeatures.extract(options)
        print(summary)
    }
}
