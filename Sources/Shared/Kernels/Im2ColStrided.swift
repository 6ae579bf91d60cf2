// im2col / col2im for a general convolution (kernel kh×kw, stride, zero padding, dilation) on one channels-last image.
//
//   image: [h, w, c]      cols: [oh·ow, kh·kw·c], row p = oy·ow + ox, column (ky·kw + kx)·c + ci
//   cols[p, (ky·kw+kx)·c + ci] = image[oy·stride − pad + ky·dil, ox·stride − pad + kx·dil, ci]   (0 outside)
//   oh = (h + 2·pad − dil·(kh − 1) − 1) / stride + 1, likewise ow.

/// The geometry of one convolution: kernel, stride, padding, dilation (the same along both axes).
package struct ConvGeometry: Equatable, Codable, Sendable {
    package var kernel: Int
    package var stride: Int
    package var pad: Int
    package var dilation: Int

    package init(kernel: Int, stride: Int = 1, pad: Int = 0, dilation: Int = 1) {
        self.kernel = kernel; self.stride = stride; self.pad = pad; self.dilation = dilation
    }

    package func outSize(_ size: Int) -> Int { (size + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1 }
    package var taps: Int { kernel * kernel }
    /// A 1×1 stride-1 convolution reads its input as the column matrix (no im2col).
    package var isPointwise: Bool { kernel == 1 && stride == 1 && pad == 0 }
}

/// Fills `cols` from `image` (output rows split across `threads`).
package func im2col(image: UnsafePointer<Float>, h: Int, w: Int, c: Int, geometry g: ConvGeometry,
                   cols: UnsafeMutablePointer<Float>, threads: Int = 1) {
    let oh = g.outSize(h), ow = g.outSize(w), k = g.kernel, rowLen = g.taps * c
    Parallel.forRanges(oh, parts: threads) { ys in
        for oy in ys {
            for ox in 0..<ow {
                let dst = cols + (oy * ow + ox) * rowLen
                for ky in 0..<k {
                    let sy = oy * g.stride - g.pad + ky * g.dilation
                    for kx in 0..<k {
                        let sx = ox * g.stride - g.pad + kx * g.dilation
                        let d = dst + (ky * k + kx) * c
                        if sy < 0 || sy >= h || sx < 0 || sx >= w {
                            d.update(repeating: 0, count: c)
                        } else {
                            d.update(from: image + (sy * w + sx) * c, count: c)
                        }
                    }
                }
            }
        }
    }
}

/// Adds every column entry back onto the image pixel it was copied from (the adjoint of `im2col`). Image rows are
/// split across threads and each pixel gathers from the column rows that read it, so no two threads write one pixel.
package func col2im(cols: UnsafePointer<Float>, h: Int, w: Int, c: Int, geometry g: ConvGeometry,
                   image: UnsafeMutablePointer<Float>, threads: Int = 1) {
    let oh = g.outSize(h), ow = g.outSize(w), k = g.kernel, rowLen = g.taps * c
    Parallel.forRanges(h, parts: threads) { ys in
        for sy in ys {
            for sx in 0..<w {
                let dst = image + (sy * w + sx) * c
                for ky in 0..<k {
                    let ty = sy + g.pad - ky * g.dilation
                    if ty < 0 || ty % g.stride != 0 { continue }
                    let oy = ty / g.stride
                    if oy >= oh { continue }
                    for kx in 0..<k {
                        let tx = sx + g.pad - kx * g.dilation
                        if tx < 0 || tx % g.stride != 0 { continue }
                        let ox = tx / g.stride
                        if ox >= ow { continue }
                        let src = cols + (oy * ow + ox) * rowLen + (ky * k + kx) * c
                        for j in 0..<c { dst[j] += src[j] }
                    }
                }
            }
        }
    }
}

/// Direct convolution of one image with Double accumulation: the reference for the im2col + GEMM path.
///   image [h, w, cin], weight [(ky·k+kx)·cin + ci, cout], out [oh, ow, cout]
package func conv2dNaive(image: UnsafePointer<Float>, h: Int, w: Int, cin: Int, geometry g: ConvGeometry,
                        weight: UnsafePointer<Float>, cout: Int, out: UnsafeMutablePointer<Float>) {
    let oh = g.outSize(h), ow = g.outSize(w), k = g.kernel
    for oy in 0..<oh {
        for ox in 0..<ow {
            for co in 0..<cout {
                var s = 0.0
                for ky in 0..<k {
                    let sy = oy * g.stride - g.pad + ky * g.dilation
                    if sy < 0 || sy >= h { continue }
                    for kx in 0..<k {
                        let sx = ox * g.stride - g.pad + kx * g.dilation
                        if sx < 0 || sx >= w { continue }
                        for ci in 0..<cin {
                            s += Double(image[(sy * w + sx) * cin + ci]) * Double(weight[((ky * k + kx) * cin + ci) * cout + co])
                        }
                    }
                }
                out[(oy * ow + ox) * cout + co] = Float(s)
            }
        }
    }
}
