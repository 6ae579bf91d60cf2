import DinoSegKernels
// Bilinear resize with align_corners = true (F.interpolate(..., mode="bilinear", align_corners=True), which semseg's
// PSPNet uses for its pyramid branches and its logits): output pixel o reads source o·(in − 1)/(out − 1).
//
//   inp [n, inH, inW, c]   out [n, outH, outW, c]

package enum BilinearResizeAlignCorners {
    /// Source index pair and weight of the second one for output index o (PyTorch computes the scale in Float).
    @inline(__always) static func source(_ o: Int, inSize: Int, outSize: Int) -> (Int, Int, Float) {
        let scale: Float = outSize > 1 ? Float(inSize - 1) / Float(outSize - 1) : 0
        let s = scale * Float(o)
        let i0 = min(Int(s), inSize - 1)
        let i1 = min(i0 + 1, inSize - 1)
        return (i0, i1, s - Float(i0))
    }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int, threads: Int = 1) {
        let xs = (0..<outW).map { source($0, inSize: inW, outSize: outW) }
        Parallel.forRanges(n * outH, parts: threads) { rows in
            for r in rows {
                let b = r / outH, (y0, y1, ly) = source(r % outH, inSize: inH, outSize: outH)
                let row0 = inp + (b * inH + y0) * inW * c, row1 = inp + (b * inH + y1) * inW * c
                for (ox, (x0, x1, lx)) in xs.enumerated() {
                    let o = out + (r * outW + ox) * c
                    let w00 = (1 - ly) * (1 - lx), w01 = (1 - ly) * lx, w10 = ly * (1 - lx), w11 = ly * lx
                    let a = row0 + x0 * c, bb = row0 + x1 * c, cc = row1 + x0 * c, d = row1 + x1 * c
                    for j in 0..<c { o[j] = w00 * a[j] + w01 * bb[j] + w10 * cc[j] + w11 * d[j] }
                }
            }
        }
    }

    /// dinp += adjoint(dout) (images split across threads).
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int, threads: Int = 1) {
        let xs = (0..<outW).map { source($0, inSize: inW, outSize: outW) }
        Parallel.forEach(n, threads: threads) { b in
            for oy in 0..<outH {
                let (y0, y1, ly) = source(oy, inSize: inH, outSize: outH)
                let row0 = dinp + (b * inH + y0) * inW * c, row1 = dinp + (b * inH + y1) * inW * c
                for (ox, (x0, x1, lx)) in xs.enumerated() {
                    let g = dout + ((b * outH + oy) * outW + ox) * c
                    let w00 = (1 - ly) * (1 - lx), w01 = (1 - ly) * lx, w10 = ly * (1 - lx), w11 = ly * lx
                    let a = row0 + x0 * c, bb = row0 + x1 * c, cc = row1 + x0 * c, d = row1 + x1 * c
                    for j in 0..<c {
                        let v = g[j]
                        a[j] += w00 * v; bb[j] += w01 * v; cc[j] += w10 * v; d[j] += w11 * v
                    }
                }
            }
        }
    }
}
