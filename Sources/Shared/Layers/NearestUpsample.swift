import DinoSegKernels
// Nearest-neighbour resize to a given size (F.interpolate(size=..., mode="nearest")), as the FPN top-down path uses;
// for the usual 2× case each source pixel feeds a 2×2 block.
//
//   inp [n, inH, inW, c]   out [n, outH, outW, c]
//
// forward can accumulate (out += up(inp)) so the FPN top-down sum needs no extra buffer.

package enum NearestUpsample {
    /// Calls body(input pixel, output pixel) for every output pixel and the input pixel it copies: the one mapping
    /// forward reads along and backward scatters back along.
    @inline(__always)
    static func forEachPixel(n: Int, inH: Int, inW: Int, outH: Int, outW: Int, _ body: (Int, Int) -> Void) {
        let xs = (0..<outW).map { nearestSourceIndex($0, inSize: inW, outSize: outW) }
        for b in 0..<n {
            for oy in 0..<outH {
                let sy = nearestSourceIndex(oy, inSize: inH, outSize: outH)
                for ox in 0..<outW { body((b * inH + sy) * inW + xs[ox], (b * outH + oy) * outW + ox) }
            }
        }
    }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int, accumulate: Bool) {
        forEachPixel(n: n, inH: inH, inW: inW, outH: outH, outW: outW) { i, o in
            let s = inp + i * c, d = out + o * c
            if accumulate { for k in 0..<c { d[k] += s[k] } } else { d.update(from: s, count: c) }
        }
    }

    /// dinp += Σ over the output pixels that copied each input pixel.
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int) {
        forEachPixel(n: n, inH: inH, inW: inW, outH: outH, outW: outW) { i, o in
            let d = dinp + i * c, g = dout + o * c
            for k in 0..<c { d[k] += g[k] }
        }
    }
}
