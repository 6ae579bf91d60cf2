import Foundation
import DinoSegCore
import DinoSegModels
import DinoSegData
import DinoSegBackbone
import DinoSegEval

// The baseline under the DINOv3 heads' evaluation protocol: the protocol's windows of the normalised canvas play the
// role of "stage 0 features", and the PSPNet maps them to logits at window size. The shared Evaluator, Predictor and
// SlidingWindowEval then do the merging, flips, metrics and PNGs exactly as for the heads.

/// PSPNet in eval mode (running BN statistics, no dropout, no aux) on image windows given as stage 0.
package struct PSPNetWindowLogits: WindowLogits {
    package let network: PSPNet
    package init(_ network: PSPNet) { self.network = network }

    package var classes: Int { network.config.numClasses }
    package var requiredStages: [Int] { [0] }

    package func logits(stages: [Int: UnsafePointer<Float>], shapes: [Int: (h: Int, w: Int, c: Int)], batch: Int,
                       outHeight: Int, outWidth: Int) -> [Float] {
        let s = shapes[0]!
        precondition(s.c == 3 && s.h == outHeight && s.w == outWidth, "PSPNet windows are images at the output size")
        // A few windows per forward pass bound the memory (eval-mode BatchNorm treats every window on its own, so
        // the logits do not depend on the grouping).
        var out: [Float] = []
        out.reserveCapacity(batch * s.h * s.w * classes)
        var start = 0
        while start < batch {
            let n = min(windowsPerPass, batch - start)
            let saved = network.forward(images: stages[0]! + start * s.h * s.w * 3, n: n, h: s.h, w: s.w, training: false)
            let up = saved.cls.upsampled
            out += UnsafeBufferPointer(start: up.data, count: up.count)
            start += n
        }
        return out
    }

    /// Windows per forward pass.
    package var windowsPerPass = 2
}

/// The protocol's windows of one photo as the PSPNet's input ("features" of an identity backbone).
package struct ImageWindows: EvalFeatures {
    package var id: String
    package var geometry: EvalGeometry
    package var labelPixels: [UInt8]
    package var evalWindows: [EvalWindow]
    package var stageFeatures: [Int: [Float]]
    package var stageShapesPerWindow: [Int: (h: Int, w: Int, c: Int)]

    package init(id: String, photo: RGBImage, label: [UInt8], evalProtocol p: EvalProtocol) {
        let g = p.geometry(height: photo.height, width: photo.width)
        let canvas = EvalInput.canvas(rgb: photo.pixels, geometry: g)
        let windows = p.windows(g)
        let (winH, winW) = p.windowSize(g)
        var batch: [Float] = []
        batch.reserveCapacity(windows.count * winH * winW * 3)
        for w in windows {
            batch += EvalInput.window(canvas, canvasHeight: g.paddedHeight, canvasWidth: g.paddedWidth, channels: 3,
                                      y: w.y, x: w.x, h: winH, w: winW, flipped: w.flipped)
        }
        self.id = id; self.geometry = g; self.labelPixels = label; self.evalWindows = windows
        stageFeatures = [0: batch]
        stageShapesPerWindow = [0: (winH, winW, 3)]
    }
}

/// The identity "backbone" for `Predictor.segment`: stage 0 is the normalised window itself.
package final class ImageWindowBackbone: FeatureBackbone {
    package init() {}
    package var name: String { "images" }
    package var stageChannels: [Int] { [3] }
    package var stageStrides: [Int] { [1] }
    package var weightsSHA256: String { "" }
    package func forward(image: UnsafePointer<Float>, height: Int, width: Int, stages: [Int]) -> [FeatureMap] {
        [FeatureMap(height: height, width: width, channels: 3, data: Array(UnsafeBufferPointer(start: image, count: height * width * 3)))]
    }
}

package enum BaselineEval {
    /// The network of a baseline checkpoint (eval mode) and its training step.
    package static func load(_ path: String, threads: Int) throws -> (network: PSPNet, step: Int?) {
        let config = try PSPNetCheckpoint.config(of: path)
        let net = try PSPNet(config: config, threads: threads)
        let progress = try PSPNetCheckpoint.load(path, into: net)
        return (net, progress?.step)
    }

    /// Evaluates on a dataset list (images and labels read from disk), one image at a time; the result records the
    /// list's images (EvalData).
    package static func evaluate(_ net: PSPNet, dataset: SegmentationDataset, evalProtocol: EvalProtocol, checkpointStep: Int?,
                                checkpoint: String?, progress: ((Int, Int) -> Void)? = nil,
                                onImage: ((EvalFeatures, [UInt8]) -> Void)? = nil) throws -> EvalResult {
        try evaluate(PSPNetWindowLogits(net), dataset: dataset, evalProtocol: evalProtocol, checkpointStep: checkpointStep,
                     checkpoint: checkpoint, progress: progress, onImage: onImage)
    }

    /// The same for the network's eval-mode logits on image windows (evaluation during training).
    package static func evaluate(_ logits: WindowLogits, dataset: SegmentationDataset, evalProtocol: EvalProtocol,
                                checkpointStep: Int?, checkpoint: String?, progress: ((Int, Int) -> Void)? = nil,
                                onImage: ((EvalFeatures, [UInt8]) -> Void)? = nil) throws -> EvalResult {
        var i = 0
        var result = try Evaluator.evaluate(logits, next: {
            guard i < dataset.samples.count else { return nil }
            let sample = dataset.samples[i]
            let (photo, label) = try dataset.load(sample)
            i += 1
            progress?(i, dataset.samples.count)
            return ImageWindows(id: sample.id, photo: photo, label: label.pixels, evalProtocol: evalProtocol)
        }, evalProtocol: evalProtocol, checkpointStep: checkpointStep, checkpoint: checkpoint, backboneNote: nil, onImage: onImage)
        // Which images these are, so a sweep can put the result beside DINOv3 rows of the same val set (BaselineRun).
        result.data = EvalData(imageIDs: dataset.samples.map(\.id), list: dataset.listPath)
        if dataset.description != .voc { result.dataset = dataset.description }
        return result
    }
}
