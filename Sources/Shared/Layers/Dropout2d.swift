import DinoSegCore
// Channel dropout (PyTorch Dropout2d, training only): each (sample, channel) is zeroed with probability p, the
// kept ones are scaled by 1/(1 − p).
//
//   inp, out [n, hw, c]
//   mask     [n, c]    filled by forward (0 or 1/(1 − p)); a seeded generator makes it replayable

package enum Dropout2d {
    package static func makeMask(_ mask: UnsafeMutablePointer<Float>, n: Int, c: Int, p: Float, rng: inout SplitMix64) {
        let keep = 1 / (1 - p)
        for i in 0..<(n * c) { mask[i] = p > 0 && rng.nextFloat() < p ? 0 : keep }
    }

    /// Calls body(offset of a pixel's channels, its sample's mask) for every pixel.
    @inline(__always)
    static func forEachPixel(mask: UnsafePointer<Float>, n: Int, hw: Int, c: Int,
                             _ body: (Int, UnsafePointer<Float>) -> Void) {
        for b in 0..<n {
            for p in 0..<hw { body((b * hw + p) * c, mask + b * c) }
        }
    }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               mask: UnsafePointer<Float>, n: Int, hw: Int, c: Int) {
        forEachPixel(mask: mask, n: n, hw: hw, c: c) { o, m in
            for j in 0..<c { out[o + j] = inp[o + j] * m[j] }
        }
    }

    /// dinp += dout · mask
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                mask: UnsafePointer<Float>, n: Int, hw: Int, c: Int) {
        forEachPixel(mask: mask, n: n, hw: hw, c: c) { o, m in
            for j in 0..<c { dinp[o + j] += dout[o + j] * m[j] }
        }
    }
}
