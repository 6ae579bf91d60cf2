// Adaptive average pooling to bins×bins (PyTorch AdaptiveAvgPool2d): output cell i covers input rows
// floor(i·h/bins) ..< ceil((i+1)·h/bins), likewise columns; cells may overlap when h is not a multiple of bins.
//
//   inp [n, h, w, c]   out [n, bins, bins, c]

package enum AdaptiveAvgPool2d {
    @inline(__always) static func start(_ i: Int, _ size: Int, _ bins: Int) -> Int { (i * size) / bins }
    @inline(__always) static func end(_ i: Int, _ size: Int, _ bins: Int) -> Int { ((i + 1) * size + bins - 1) / bins }

    /// Calls body(output cell, the input pixels of its window, 1 / their count) for every cell, in order; cells and
    /// pixels are indices of [n, bins, bins] and [n, h, w].
    @inline(__always)
    static func forEachCell(n: Int, h: Int, w: Int, bins: Int, _ body: (Int, [Int], Float) -> Void) {
        for b in 0..<n {
            for i in 0..<bins {
                let ys = start(i, h, bins)..<end(i, h, bins)
                for j in 0..<bins {
                    let xs = start(j, w, bins)..<end(j, w, bins)
                    let pixels = ys.flatMap { y in xs.map { x in (b * h + y) * w + x } }
                    body((b * bins + i) * bins + j, pixels, 1 / Float(pixels.count))
                }
            }
        }
    }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               n: Int, h: Int, w: Int, c: Int, bins: Int) {
        forEachCell(n: n, h: h, w: w, bins: bins) { cell, pixels, scale in
            let o = out + cell * c
            o.update(repeating: 0, count: c)
            for p in pixels {
                let src = inp + p * c
                for k in 0..<c { o[k] += src[k] }
            }
            for k in 0..<c { o[k] *= scale }
        }
    }

    /// dinp += dout spread evenly over each cell's window.
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, c: Int, bins: Int) {
        forEachCell(n: n, h: h, w: w, bins: bins) { cell, pixels, scale in
            let g = dout + cell * c
            for p in pixels {
                let d = dinp + p * c
                for k in 0..<c { d[k] += g[k] * scale }
            }
        }
    }
}
