// im2col / col2im for 3×3 convolutions with padding 1 and stride 1 on one channels-last image.
//
//   image: [h, w, c]      cols: [h·w, 9·c], row p = y·w + x, column (ky·3 + kx)·c + ci
//   cols[p, (ky·3+kx)·c + ci] = image[y + ky − 1, x + kx − 1, ci]   (0 outside the image)
//
// The channel runs are contiguous in both layouts, so each tap is one block copy (or add).

/// Fills `cols` from `image` (rows of the output split across `threads`).
package func im2col3x3(image: UnsafePointer<Float>, h: Int, w: Int, c: Int,
                      cols: UnsafeMutablePointer<Float>, threads: Int = 1) {
    let rowLen = 9 * c
    Parallel.forRanges(h, parts: threads) { ys in
        for y in ys {
            for x in 0..<w {
                let dst = cols + (y * w + x) * rowLen
                for ky in 0..<3 {
                    let sy = y + ky - 1
                    for kx in 0..<3 {
                        let sx = x + kx - 1
                        let d = dst + (ky * 3 + kx) * c
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

/// Adds every column entry back onto the image pixel it was copied from (the adjoint of `im2col3x3`).
/// Output rows are split across threads; each image row gathers from the three column rows that read it, so
/// no two threads write the same pixel.
package func col2im3x3(cols: UnsafePointer<Float>, h: Int, w: Int, c: Int,
                      image: UnsafeMutablePointer<Float>, threads: Int = 1) {
    let rowLen = 9 * c
    Parallel.forRanges(h, parts: threads) { ys in
        for sy in ys {
            for sx in 0..<w {
                let dst = image + (sy * w + sx) * c
                for ky in 0..<3 {
                    let y = sy - ky + 1
                    if y < 0 || y >= h { continue }
                    for kx in 0..<3 {
                        let x = sx - kx + 1
                        if x < 0 || x >= w { continue }
                        let src = cols + (y * w + x) * rowLen + (ky * 3 + kx) * c
                        for k in 0..<c { dst[k] += src[k] }
                    }
                }
            }
        }
    }
}

/// Direct 3×3 convolution (pad 1) of one image, Double accumulation: the reference the GEMM paths are tested against.
///   image [h, w, cin], weight [(ky·3+kx)·cin + ci, cout], out [h, w, cout]
package func conv3x3Naive(image: UnsafePointer<Float>, h: Int, w: Int, cin: Int,
                         weight: UnsafePointer<Float>, cout: Int, out: UnsafeMutablePointer<Float>) {
    for y in 0..<h {
        for x in 0..<w {
            for co in 0..<cout {
                var s = 0.0
                for ky in 0..<3 {
                    let sy = y + ky - 1
                    if sy < 0 || sy >= h { continue }
                    for kx in 0..<3 {
                        let sx = x + kx - 1
                        if sx < 0 || sx >= w { continue }
                        for ci in 0..<cin {
                            s += Double(image[(sy * w + sx) * cin + ci]) * Double(weight[((ky * 3 + kx) * cin + ci) * cout + co])
                        }
                    }
                }
                out[(y * w + x) * cout + co] = Float(s)
            }
        }
    }
}
