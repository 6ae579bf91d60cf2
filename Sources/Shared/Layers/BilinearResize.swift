import DinoSegKernels
// Bilinear resize of a batch of channels-last maps (F.interpolate, mode bilinear, align_corners = false), built on
// the per-image kernels in Kernels/Resize.swift.
//
//   inp [n, inH, inW, c]   out [n, outH, outW, c]

package enum BilinearResize {
    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int, threads: Int = 1) {
        Parallel.forEach(n, threads: threads) { b in
            resizeBilinear(src: inp + b * inH * inW * c, inH: inH, inW: inW, channels: c,
                           dst: out + b * outH * outW * c, outH: outH, outW: outW)
        }
    }

    /// dinp += adjoint(dout)
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                n: Int, inH: Int, inW: Int, c: Int, outH: Int, outW: Int, threads: Int = 1) {
        Parallel.forEach(n, threads: threads) { b in
            resizeBilinearBackward(dDst: dout + b * outH * outW * c, outH: outH, outW: outW, channels: c,
                                   dSrc: dinp + b * inH * inW * c, inH: inH, inW: inW)
        }
    }
}
