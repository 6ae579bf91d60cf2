import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone
import DinoSegModels

// Segmenting new photos (`headtrain predict`): the evaluation protocol (docs/DESIGN.md §5) with the backbone in the loop.
// photo → resized, normalised, padded canvas → windows (and flips) → backbone stages → head logits → merged
// probabilities → argmax at the photo's size.

package enum Predictor {
    /// Stage features of all windows, batched per stage: [windows, h, w, c].
    package static func windowFeatures(canvas: [Float], geometry g: EvalGeometry, windows: [EvalWindow],
                                      winH: Int, winW: Int, backbone: FeatureBackbone, stages: [Int],
                                      threads: Int) -> (features: [Int: [Float]], shapes: [Int: (h: Int, w: Int, c: Int)]) {
        var maps = [[FeatureMap]](repeating: [], count: windows.count)
        // Each window is an independent backbone call (the protocol allows concurrent forwards).
        maps.withUnsafeMutableBufferPointer { out in
            let slots = out
            Parallel.forEach(windows.count, threads: threads) { i in
                let w = windows[i]
                let crop = EvalInput.window(canvas, canvasHeight: g.paddedHeight, canvasWidth: g.paddedWidth,
                                            channels: 3, y: w.y, x: w.x, h: winH, w: winW, flipped: w.flipped)
                slots[i] = crop.withUnsafeBufferPointer {
                    backbone.forward(image: $0.baseAddress!, height: winH, width: winW, stages: stages)
                }
            }
        }
        var features: [Int: [Float]] = [:], shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
        for (j, s) in stages.enumerated() {
            let first = maps[0][j]
            shapes[s] = (first.height, first.width, first.channels)
            var batch: [Float] = []
            batch.reserveCapacity(windows.count * first.data.count)
            for m in maps { batch += m[j].data }
            features[s] = batch
        }
        return (features, shapes)
    }

    /// Class index per pixel of `photo`.
    package static func segment(_ photo: RGBImage, backbone: FeatureBackbone, head: WindowLogits,
                               evalProtocol p: EvalProtocol, threads: Int = Parallel.defaultThreads) -> LabelImage {
        let g = p.geometry(height: photo.height, width: photo.width)
        let canvas = EvalInput.canvas(rgb: photo.pixels, geometry: g)
        let windows = p.windows(g)
        let (winH, winW) = p.windowSize(g)
        let (features, shapes) = windowFeatures(canvas: canvas, geometry: g, windows: windows, winH: winH, winW: winW,
                                                backbone: backbone, stages: head.requiredStages, threads: threads)
        let logits = withStagePointers(features, stages: head.requiredStages) { ptrs in
            head.logits(stages: ptrs, shapes: shapes, batch: windows.count, outHeight: winH, outWidth: winW)
        }
        let pred = SlidingWindowEval.predict(geometry: g, windows: windows, winH: winH, winW: winW,
                                             classes: head.classes, logits: logits)
        return LabelImage(width: photo.width, height: photo.height, pixels: pred)
    }

    /// The files written per photo: NAME + each suffix.
    static let outputSuffixes = [".png", "_colour.png", "_overlay.png"]

    /// Creates and checks `dir` and returns the output name of every photo (OutputCheck.uniqueStems): done before the
    /// first photo is segmented.
    package static func prepareOutputs(for photos: [String], in dir: String) throws -> [String] {
        try OutputCheck.writableDirectory(dir, what: "output directory")
        return OutputCheck.uniqueStems(inputs: photos, suffixes: outputSuffixes, in: dir)
    }

    /// Writes NAME.png (class indices, single channel), NAME_colour.png (the dataset's palette) and NAME_overlay.png.
    package static func writeOutputs(_ label: LabelImage, photo: RGBImage, name: String, to dir: String,
                                     dataset: DatasetDescription) throws -> [String] {
        let paths = outputSuffixes.map { dir + "/" + name + $0 }
        try ImageIO.writeGreyPNG(label.pixels, width: label.width, height: label.height, to: paths[0])
        try ImageIO.writePNG(ImageIO.colourise(label, dataset: dataset), to: paths[1])
        try ImageIO.writePNG(ImageIO.overlay(label, on: photo, dataset: dataset), to: paths[2])
        return paths
    }
}
