import Foundation
import DinoSegKernels

// Turning per-window logits into a full-resolution prediction (docs/DESIGN.md §5, semseg's scale_process):
//
//   for every window (and its horizontal flip): softmax over classes, flip back, add into a padded-size canvas and
//   count the windows covering each pixel → divide → cut the padding → bilinear resize to the original size → argmax.
//
// A window and its flipped twin each add once, so dividing by the count averages the pair first and the overlapping
// positions second — the same numbers as semseg's (softmax + flipped softmax) / 2 per window.
//
// Layouts: logits of one window [height, width, classes]; canvas [paddedHeight, paddedWidth, classes]; all NHWC.

/// In-place softmax over the last axis of [pixels, classes].
package func softmaxRows(_ p: UnsafeMutablePointer<Float>, pixels: Int, classes: Int) {
    for i in 0..<pixels {
        let row = p + i * classes
        var m = row[0]
        for k in 1..<classes where row[k] > m { m = row[k] }
        var s: Float = 0
        for k in 0..<classes { let e = expf(row[k] - m); row[k] = e; s += e }
        let inv = 1 / s
        for k in 0..<classes { row[k] *= inv }
    }
}

/// Sum of window probabilities over the padded canvas, with the number of windows covering each pixel.
package struct ProbabilityCanvas {
    package let height: Int, width: Int, classes: Int
    package private(set) var sum: [Float]
    package private(set) var count: [Float]

    package init(height: Int, width: Int, classes: Int) {
        self.height = height; self.width = width; self.classes = classes
        sum = [Float](repeating: 0, count: height * width * classes)
        count = [Float](repeating: 0, count: height * width)
    }

    /// Adds probabilities [winH, winW, classes] of the window whose top-left corner is (y, x); a flipped window's
    /// column c lands on canvas column x + winW − 1 − c.
    package mutating func add(probabilities prob: UnsafePointer<Float>, y: Int, x: Int, winH: Int, winW: Int,
                             flipped: Bool) {
        precondition(y >= 0 && x >= 0 && y + winH <= height && x + winW <= width,
                     "window \(winH)x\(winW) at (\(y),\(x)) outside the \(height)x\(width) canvas")
        let k = classes, w = width
        sum.withUnsafeMutableBufferPointer { s in
            count.withUnsafeMutableBufferPointer { n in
                // Raw pointers in the per-pixel loop: the precondition above bounds every index, and checked
                // subscripts here cost a few percent of an evaluation.
                let (sums, counts) = (s.baseAddress!, n.baseAddress!)
                forEachWindowPixel(y: y, x: x, h: winH, w: winW, canvasWidth: w, flipped: flipped) { cp, wp in
                    let dst = sums + cp * k, src = prob + wp * k
                    for j in 0..<k { dst[j] += src[j] }
                    counts[cp] += 1
                }
            }
        }
    }

    /// Average probabilities; pixels no window covered stay 0.
    package func averaged() -> [Float] {
        var out = sum
        let k = classes
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<(height * width) where count[i] > 0 {
                let inv = 1 / count[i]
                for j in 0..<k { o[i * k + j] *= inv }
            }
        }
        return out
    }
}

/// Copies the rows top..<top+h and columns left..<left+w of an NHWC map [height, width, channels].
package func cropMap(_ src: [Float], height: Int, width: Int, channels: Int,
                    top: Int, left: Int, h: Int, w: Int) -> [Float] {
    precondition(top >= 0 && left >= 0 && top + h <= height && left + w <= width, "crop outside the map")
    var out = [Float](repeating: 0, count: h * w * channels)
    let rowLen = w * channels
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<h {
                let from = s.baseAddress! + ((top + r) * width + left) * channels
                (o.baseAddress! + r * rowLen).update(from: from, count: rowLen)
            }
        }
    }
    return out
}

/// Index of the largest value per pixel (first one on ties, like numpy/torch argmax).
package func argmaxClasses(_ p: [Float], pixels: Int, classes: Int) -> [UInt8] {
    precondition(classes <= 256 && p.count == pixels * classes)
    var out = [UInt8](repeating: 0, count: pixels)
    p.withUnsafeBufferPointer { s in
        for i in 0..<pixels {
            let row = s.baseAddress! + i * classes
            var best = 0
            for k in 1..<classes where row[k] > row[best] { best = k }
            out[i] = UInt8(best)
        }
    }
    return out
}

package enum SlidingWindowEval {
    /// Averaged probabilities of the windows on the resized image [resizedHeight, resizedWidth, classes] (the padding
    /// cut off), `logits` = [windows.count, winH, winW, classes] in the order of `windows`. Its size is set by the
    /// protocol's long side, not by the photo.
    static func resizedProbabilities(geometry g: EvalGeometry, windows: [EvalWindow], winH: Int, winW: Int,
                                     classes: Int, logits: [Float]) -> [Float] {
        let perWindow = winH * winW * classes
        precondition(logits.count == windows.count * perWindow,
                     "got \(logits.count) logits for \(windows.count) windows of \(winH)x\(winW)x\(classes)")
        var canvas = ProbabilityCanvas(height: g.paddedHeight, width: g.paddedWidth, classes: classes)
        var prob = [Float](repeating: 0, count: perWindow)
        for (i, win) in windows.enumerated() {
            prob.withUnsafeMutableBufferPointer { p in
                logits.withUnsafeBufferPointer { l in
                    p.baseAddress!.update(from: l.baseAddress! + i * perWindow, count: perWindow)
                }
                softmaxRows(p.baseAddress!, pixels: winH * winW, classes: classes)
                canvas.add(probabilities: p.baseAddress!, y: win.y, x: win.x, winH: winH, winW: winW,
                           flipped: win.flipped)
            }
        }
        return cropMap(canvas.averaged(), height: g.paddedHeight, width: g.paddedWidth, channels: classes,
                       top: g.padTop, left: g.padLeft, h: g.resizedHeight, w: g.resizedWidth)
    }

    /// Probability map at the original image size [originalHeight, originalWidth, classes]: 4·classes bytes per photo
    /// pixel, so only for tests and small images; `predict` never builds it.
    static func probabilities(geometry g: EvalGeometry, windows: [EvalWindow], winH: Int, winW: Int,
                              classes: Int, logits: [Float]) -> [Float] {
        let resized = resizedProbabilities(geometry: g, windows: windows, winH: winH, winW: winW, classes: classes, logits: logits)
        if g.resizedHeight == g.originalHeight && g.resizedWidth == g.originalWidth { return resized }
        var out = [Float](repeating: 0, count: g.originalHeight * g.originalWidth * classes)
        resized.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                resizeBilinear(src: s.baseAddress!, inH: g.resizedHeight, inW: g.resizedWidth, channels: classes,
                               dst: o.baseAddress!, outH: g.originalHeight, outW: g.originalWidth)
            }
        }
        return out
    }

    /// Class index per original pixel [originalHeight, originalWidth]: the resized probabilities are upsampled one
    /// output row at a time and reduced to their argmax, so memory beyond the protocol's canvas is one row of
    /// probabilities and the byte mask (the same numbers as argmax over `probabilities`).
    package static func predict(geometry g: EvalGeometry, windows: [EvalWindow], winH: Int, winW: Int,
                               classes: Int, logits: [Float]) -> [UInt8] {
        let p = resizedProbabilities(geometry: g, windows: windows, winH: winH, winW: winW, classes: classes, logits: logits)
        if g.resizedHeight == g.originalHeight && g.resizedWidth == g.originalWidth {
            return argmaxClasses(p, pixels: g.originalHeight * g.originalWidth, classes: classes)
        }
        let outH = g.originalHeight, outW = g.originalWidth
        let taps = (BilinearTaps(inSize: g.resizedHeight, outSize: outH), BilinearTaps(inSize: g.resizedWidth, outSize: outW))
        var out = [UInt8](repeating: 0, count: outH * outW)
        var row = [Float](repeating: 0, count: outW * classes)
        p.withUnsafeBufferPointer { s in
            row.withUnsafeMutableBufferPointer { r in
                out.withUnsafeMutableBufferPointer { o in
                    for y in 0..<outH {
                        resizeBilinearRow(src: s.baseAddress!, inW: g.resizedWidth, channels: classes, taps: taps, row: y,
                                          dst: r.baseAddress!)
                        argmaxRow(r.baseAddress!, pixels: outW, classes: classes, into: o.baseAddress! + y * outW)
                    }
                }
            }
        }
        return out
    }

    /// argmax over `classes` for `pixels` consecutive pixels (first one on ties, as `argmaxClasses`).
    @inline(__always)
    static func argmaxRow(_ p: UnsafePointer<Float>, pixels: Int, classes: Int, into out: UnsafeMutablePointer<UInt8>) {
        for i in 0..<pixels {
            let row = p + i * classes
            var best = 0
            for k in 1..<classes where row[k] > row[best] { best = k }
            out[i] = UInt8(best)
        }
    }
}
