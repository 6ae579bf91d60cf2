import Foundation
import DinoSegCore
import DinoSegKernels

// Softmax cross-entropy per pixel with an ignore label (nn.CrossEntropyLoss(ignore_index=255), mean reduction over
// the pixels that are not ignored).
//
//   logits [pixels, k]   labels [pixels] (UInt8; VOC.ignoreLabel = 255 is ignored)   probs [pixels, k] saved by forward (may alias logits)
//
// With no valid pixel the loss is 0 and the gradient is 0. A label that is neither a class index nor 255 stops the
// program (precondition in forward): it would index outside the row.

package enum SoftmaxCrossEntropy {
    /// Returns (mean loss, number of valid pixels); fills probs.
    package static func forward(probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                               labels: UnsafePointer<UInt8>, pixels: Int, k: Int, threads: Int = 1) -> (loss: Double, valid: Int) {
        let parts = max(1, threads)
        var sums = [Double](repeating: 0, count: parts), counts = [Int](repeating: 0, count: parts)
        sums.withUnsafeMutableBufferPointer { s in counts.withUnsafeMutableBufferPointer { cnt in
            let sp = s.baseAddress!, cp = cnt.baseAddress!
            Parallel.forEach(parts, threads: parts) { t in
                let lo = pixels * t / parts, hi = pixels * (t + 1) / parts
                var acc = 0.0, valid = 0
                for p in lo..<hi {
                    let z = logits + p * k, q = probs + p * k
                    let y = labels[p]
                    // Caches are checked when read; this keeps a bad label from indexing outside the row.
                    precondition(y == VOC.ignoreLabel || Int(y) < k, "label \(y) at pixel \(p) is neither a class index below \(k) nor 255")
                    let zy = y != VOC.ignoreLabel ? z[Int(y)] : 0   // read before q (which may alias z) is written
                    var m = z[0]
                    for j in 1..<k { m = max(m, z[j]) }
                    var sum: Float = 0
                    for j in 0..<k { let e = expf(z[j] - m); q[j] = e; sum += e }
                    let inv = 1 / sum
                    for j in 0..<k { q[j] *= inv }
                    if y != VOC.ignoreLabel {
                        acc += Double(m - zy) + Double(logf(sum))
                        valid += 1
                    }
                }
                sp[t] = acc; cp[t] = valid
            }
        } }
        let valid = counts.reduce(0, +)
        return (valid > 0 ? sums.reduce(0, +) / Double(valid) : 0, valid)
    }

    /// Reference (tests only): dlogits += (probs − onehot(label)) / valid for non-ignored pixels. Training uses
    /// `backwardInPlace`, which writes the same gradient over the probabilities.
    package static func backward(dlogits: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>,
                                labels: UnsafePointer<UInt8>, pixels: Int, k: Int, valid: Int, threads: Int = 1) {
        guard valid > 0 else { return }
        let scale = 1 / Float(valid)
        Parallel.forRanges(pixels, parts: max(1, threads)) { range in
            for p in range {
                let y = labels[p]
                if y == VOC.ignoreLabel { continue }
                let q = probs + p * k, d = dlogits + p * k
                for j in 0..<k { d[j] += q[j] * scale }
                d[Int(y)] -= scale
            }
        }
    }

    /// The same gradient written over `probs` (no separate buffer to clear): probs ← (probs − onehot)/valid on
    /// labelled pixels, 0 on ignored ones. Used by the training step, where probs are not needed afterwards.
    package static func backwardInPlace(probs: UnsafeMutablePointer<Float>, labels: UnsafePointer<UInt8>, pixels: Int, k: Int,
                                       valid: Int, threads: Int = 1) {
        let scale: Float = valid > 0 ? 1 / Float(valid) : 0
        Parallel.forRanges(pixels, parts: max(1, threads)) { range in
            for p in range {
                let y = labels[p], d = probs + p * k
                if y == VOC.ignoreLabel {
                    d.update(repeating: 0, count: k)
                } else {
                    for j in 0..<k { d[j] *= scale }
                    d[Int(y)] -= scale
                }
            }
        }
    }
}
