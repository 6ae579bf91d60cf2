// `extract image`'s work: one photo through the backbone at its own size (or --resize), every stage output written
// to one HDF5 file. The command (CLI/Extract+Image.swift) only parses flags into ImageFeatureOptions.
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone

/// Everything `extract image` needs, filled from the flags.
package struct ImageFeatureOptions {
    package var imagePath: String
    package var weightsPath: String
    package var outputPath: String
    package var dtype: HDF5DType
    package var resize: Int?

    package init(imagePath: String, weightsPath: String, outputPath: String, dtype: HDF5DType, resize: Int?) {
        self.imagePath = imagePath; self.weightsPath = weightsPath; self.outputPath = outputPath
        self.dtype = dtype; self.resize = resize
    }
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
