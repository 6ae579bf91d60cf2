import Foundation
import DinoSegCore
import DinoSegData
import DinoSegModels

// Evaluation of a head on cached val windows (docs/DESIGN.md §5): per image, run the head on all of its windows at once,
// merge them into a full-resolution prediction, and add it to a confusion matrix. Only one image is held at a time.

/// Stage features of one val image's windows, as a val cache delivers them.
package protocol EvalFeatures {
    var id: String { get }
    var geometry: EvalGeometry { get }
    /// Ground truth at the original size [originalHeight, originalWidth]; 255 = void.
    var labelPixels: [UInt8] { get }
    /// Windows in the order of the batched stage features.
    var evalWindows: [EvalWindow] { get }
    /// Stage index → NHWC features of all windows [windows, h, w, c].
    var stageFeatures: [Int: [Float]] { get }
    /// Stage index → per-window spatial shape and channels.
    var stageShapesPerWindow: [Int: (h: Int, w: Int, c: Int)] { get }
}

/// Anything that maps window features to eval-mode logits [batch, outH, outW, classes] (the trained head; a fake in
/// tests).
package protocol WindowLogits {
    var classes: Int { get }
    var requiredStages: [Int] { get }
    func logits(stages: [Int: UnsafePointer<Float>], shapes: [Int: (h: Int, w: Int, c: Int)], batch: Int,
                outHeight: Int, outWidth: Int) -> [Float]
}

extension SegmentationHead: WindowLogits {
    package var classes: Int { config.numClasses }
    package var requiredStages: [Int] { config.requiredStages }
}

package enum Evaluator {
    /// Logits of all windows of one image, at window resolution.
    package static func windowLogits(_ head: WindowLogits, features f: EvalFeatures, winH: Int, winW: Int) throws -> [Float] {
        let n = f.evalWindows.count
        var shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
        for s in head.requiredStages {
            guard let shape = f.stageShapesPerWindow[s], let data = f.stageFeatures[s] else {
                throw DinoSegError("val image \(f.id): the cache has no stage \(s), which the head needs")
            }
            guard data.count == n * shape.h * shape.w * shape.c else {
                throw DinoSegError("val image \(f.id): stage \(s) holds \(data.count) values, expected \(n)×\(shape.h)×\(shape.w)×\(shape.c)")
            }
            shapes[s] = shape
        }
        return withStagePointers(f.stageFeatures, stages: head.requiredStages) { ptrs in
            head.logits(stages: ptrs, shapes: shapes, batch: n, outHeight: winH, outWidth: winW)
        }
    }

    /// Full-resolution prediction [originalHeight, originalWidth] for one image.
    package static func predict(_ head: WindowLogits, features f: EvalFeatures, evalProtocol: EvalProtocol) throws -> [UInt8] {
        let g = f.geometry
        let (winH, winW) = evalProtocol.windowSize(g)
        // The merge writes through raw pointers into the canvas: its geometry and every window must fit.
        guard g.resizedHeight >= 1, g.resizedWidth >= 1, g.padTop >= 0, g.padLeft >= 0,
              g.padTop + g.resizedHeight <= g.paddedHeight, g.padLeft + g.resizedWidth <= g.paddedWidth,
              g.originalHeight >= 1, g.originalWidth >= 1 else {
            throw DinoSegError("val image \(f.id): inconsistent geometry \(g)")
        }
        if let w = f.evalWindows.first(where: { $0.y < 0 || $0.x < 0 || $0.y + winH > g.paddedHeight || $0.x + winW > g.paddedWidth }) {
            throw DinoSegError("val image \(f.id): window \(winH)x\(winW) at (\(w.y), \(w.x)) lies outside the \(g.paddedHeight)x\(g.paddedWidth) canvas")
        }
        let logits = try windowLogits(head, features: f, winH: winH, winW: winW)
        return SlidingWindowEval.predict(geometry: f.geometry, windows: f.evalWindows, winH: winH, winW: winW,
                                         classes: head.classes, logits: logits)
    }

    /// Streams `images` through the head. `onImage` sees every prediction (for examples in reports).
    package static func evaluate<S: Sequence>(_ head: WindowLogits, images: S, evalProtocol: EvalProtocol,
                                             checkpointStep: Int?, checkpoint: String?, backboneNote: String?,
                                             onImage: ((EvalFeatures, [UInt8]) -> Void)? = nil) throws -> EvalResult
    where S.Element == EvalFeatures {
        var it = images.makeIterator()
        return try evaluate(head, next: { it.next() }, evalProtocol: evalProtocol, checkpointStep: checkpointStep,
                            checkpoint: checkpoint, backboneNote: backboneNote, onImage: onImage)
    }

    /// Pulls images from `next` until it returns nil (a cache reader), holding one image at a time.
    package static func evaluate(_ head: WindowLogits, next: () throws -> EvalFeatures?, evalProtocol: EvalProtocol,
                                checkpointStep: Int?, checkpoint: String?, backboneNote: String?,
                                onImage: ((EvalFeatures, [UInt8]) -> Void)? = nil) throws -> EvalResult {
        let start = Date()
        var confusion = ConfusionMatrix(classes: head.classes)
        var count = 0
        while let f = try next() {
            let g = f.geometry
            guard f.labelPixels.count == g.originalHeight * g.originalWidth else {
                throw DinoSegError("val image \(f.id): label has \(f.labelPixels.count) pixels, expected \(g.originalHeight)×\(g.originalWidth)")
            }
            let pred = try predict(head, features: f, evalProtocol: evalProtocol)
            confusion.add(prediction: pred, label: f.labelPixels)
            onImage?(f, pred)
            count += 1
        }
        if count == 0 { throw DinoSegError("no val images to evaluate") }
        return EvalResult(evalProtocol: evalProtocol, checkpointStep: checkpointStep, checkpoint: checkpoint,
                          images: count, confusion: confusion, backboneNote: backboneNote,
                          seconds: Date().timeIntervalSince(start))
    }
}
