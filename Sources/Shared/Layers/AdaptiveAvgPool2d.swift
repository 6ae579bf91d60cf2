// Adaptive average pooling to bins×bins (PyTorch AdaptiveAvgPool2d): output cell i covers input rows
// floor(i·h/bins) ..< ceil((i+1)·h/bins), likewise columns; cells may overlap when h is not a multiple of bins.
//
//   inp [n, h, w, c]   out [n, bins, bins, c]

package enum AdaptiveAvgPool2d {
    @inline(__always) static func start(_ i: Int, _ size: Int, _ bins: Int) -> Int { (i * size) / bins }
    @inline(__always) static func end(_ i: Int, _ size: Int, _ bins: Int) -> Int { ((i + 1) * size + bins - 1) / bins }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               n: Int, h: Int, w: Int, c: Int, bins: Int) {
        for b in 0..<n {
            for i in 0..<bins {
                let y0 = start(i, h, bins), y1 = end(i, h, bins)
                for j in 0..<bins {
                    let x0 = start(j, w, bins), x1 = end(j, w, bins)
                    let o = out + ((b * bins + i) * bins + j) * c
                    o.update(repeating: 0, count: c)
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let src = inp + ((b * h + y) * w + x) * c
                            for k in 0..<c { o[k] += src[k] }
                        }
                    }
                    let scale = 1 / Float((y1 - y0) * (x1 - x0))
                    for k in 0..<c { o[k] *= scale }
                }
            }
        }
    }

    /// dinp += dout spread evenly over each cell's window.
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, c: Int, bins: Int) {
        for b in 0..<n {
            for i in 0..<bins {
                let y0 = start(i, h, bins), y1 = end(i, h, bins)
                for j in 0..<bins {
                    let x0 = start(j, w, bins), x1 = end(j, w, bins)
                    let g = dout + ((b * bins + i) * bins + j) * c
                    let scale = 1 / Float((y1 - y0) * (x1 - x0))
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let d = dinp + ((b * h + y) * w + x) * c
                            for k in 0..<c { d[k] += g[k] * scale }
                        }
                    }
                }
            }
        }
    }
}
