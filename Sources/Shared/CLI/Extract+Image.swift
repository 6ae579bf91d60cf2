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

/// Everything `extract image` needs, filled from the flags.
package struct ImageFeatureOptions {
    package var imagePath: String
    package var weightsPath: String
    package var outputPath: String
    package var dtype: HDF5DType
    package var resize: Int?
}

package enum ImageFeatures {
    /// Largest input side (and area: maxSide²) the backbone is run on: at 4096×4096 the first stage's 4C-wide
    /// activations alone take 1.5 GiB for the tiny model.
    package static let maxSide = 4096

    /// Reads the image, runs the backbone (BLAS on all cores) and writes the HDF5 file atomically; returns a summary line.
    package static func extract(_ o: ImageFeatureOptions) throws -> String {
        let image = try ImageIO.readRGB(o.imagePath)
        var width = image.width, height = image.height
        guard o.resize != nil || width * height <= maxSide * maxSide else {
            throw DinoSegError(file: o.imagePath, "image is \(width)×\(height), more than the \(maxSide)×\(maxSide) pixels supported (use --resize)")
        }
        var rgb: [Float]
        if let side = o.resize {
            // From the bytes: a large photo is never held as floats.
            rgb = [Float](repeating: 0, count: side * side * 3)
            resizeBilinear(src: image.pixels, inH: height, inW: width, channels: 3, dst: &rgb, outH: side, outW: side)
            width = side; height = side
        } else {
            rgb = image.pixels.map(Float.init)
        }
        guard width >= 32, height >= 32 else {
            throw DinoSegError(file: o.imagePath, "image is \(width)×\(height); the backbone needs at least 32×32 (use --resize)")
        }

        let backbone = try BackboneLoader.load(o.weightsPath)
        var input = [Float](repeating: 0, count: rgb.count)
        ConvNeXtInput.normalize(rgb: rgb, pixels: width * height, output: &input)
        let stages = Array(backbone.stageChannels.indices)
        let maps = backbone.forward(image: input, height: height, width: width, stages: stages)
        try checkFinite(maps, stages: stages, image: o.imagePath)
        try write(maps, to: o.outputPath, dtype: o.dtype, attributes: [
            "model": backbone.name, "weights_sha256": backbone.weightsSHA256, "image": o.imagePath, "layout": "NHWC",
        ], sizes: ["input_height": height, "input_width": width])
        let shapes = maps.map { "[1, \($0.height), \($0.width), \($0.channels)]" }.joined(separator: " ")
        return "\(o.outputPath): \(backbone.name) features of \(o.imagePath) (\(width)×\(height)), \(o.dtype.rawValue): \(shapes)"
    }

    /// Writes datasets stage0 … stageN as [1, H, W, C] with file attributes; the file appears only when complete.
    package static func write(_ maps: [FeatureMap], to path: String, dtype: HDF5DType,
                             attributes: [String: String], sizes: [String: Int]) throws {
        try AtomicWrite.withTemporary(for: path) { tmp in
            let file = try HDF5File.create(tmp)
            for (s, m) in maps.enumerated() {
                let ds = try file.createDataset("stage\(s)", dtype: dtype, shape: [1, m.height, m.width, m.channels])
                try ds.writeFloats(rows: 0, m.data)
            }
            for (k, v) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(k, string: v) }
            for (k, v) in sizes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(k, int: v) }
            try file.close()
        }
    }
}
