import DinoSegKernels
// Nearest-neighbour resize to a given size (F.interpolate(size=..., mode="nearest")), as the FPN top-down path uses;
// for the usual 2× case each source pixel feeds a 2×2 block.
//
//   inp [n, inH, inW, c]   out [n, outH, outW, c]
//
// forward can accumulate (out += up(inp)) so the FPN top-down sum needs no extra buffer.

package enum NearestUpsample {
    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int, accumulate: Bool) {
        let xs = (0..<outW).map { nearestSourceIndex($0, inSize: inW, outSize: outW) }
        for b in 0..<n {
            for oy in 0..<outH {
                let sy = nearestSourceIndex(oy, inSize: inH, outSize: outH)
                for ox in 0..<outW {
                    let s = inp + ((b * inH + sy) * inW + xs[ox]) * c
                    let d = out + ((b * outH + oy) * outW + ox) * c
                    if accumulate { for k in 0..<c { d[k] += s[k] } } else { d.update(from: s, count: c) }
                }
            }
        }
    }

    /// dinp += Σ over the output pixels that copied each input pixel.
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int) {
        let xs = (0..<outW).map { nearestSourceIndex($0, inSize: inW, outSize: outW) }
        for b in 0..<n {
            for oy in 0..<outH {
                let sy = nearestSourceIndex(oy, inSize: inH, outSize: outH)
                for ox in 0..<outW {
                    let d = dinp + ((b * inH + sy) * inW + xs[ox]) * c
                    let g = dout + ((b * outH + oy) * outW + ox) * c
                    for k in 0..<c { d[k] += g[k] }
                }
            }
        }
    }
}
