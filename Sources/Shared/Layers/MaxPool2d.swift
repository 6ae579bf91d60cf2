import DinoSegKernels
// Max pooling k×k with stride and padding (PyTorch MaxPool2d; padded cells never win), channels-last.
//
//   inp    [n, h, w, c]
//   out    [n, oh, ow, c]   oh = (h + 2·pad − k) / stride + 1
//   argmax [n, oh, ow, c]   filled by forward: the winning input pixel y·w + x (the first one on ties, as PyTorch)

package enum MaxPool2d {
    package static func outSize(_ size: Int, kernel: Int, stride: Int, pad: Int) -> Int { (size + 2 * pad - kernel) / stride + 1 }

    package static func forward(out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>, inp: UnsafePointer<Float>,
                               n: Int, h: Int, w: Int, c: Int, kernel: Int = 3, stride: Int = 2, pad: Int = 1, threads: Int = 1) {
        let oh = outSize(h, kernel: kernel, stride: stride, pad: pad), ow = outSize(w, kernel: kernel, stride: stride, pad: pad)
        Parallel.forRanges(n * oh, parts: threads) { rows in
            for r in rows {
                let b = r / oh, oy = r % oh
                let y0 = max(0, oy * stride - pad), y1 = min(h, oy * stride - pad + kernel)
                for ox in 0..<ow {
                    let x0 = max(0, ox * stride - pad), x1 = min(w, ox * stride - pad + kernel)
                    let o = out + ((b * oh + oy) * ow + ox) * c, a = argmax + ((b * oh + oy) * ow + ox) * c
                    o.update(repeating: -.infinity, count: c)
                    a.update(repeating: -1, count: c)
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let src = inp + ((b * h + y) * w + x) * c, pos = Int32(y * w + x)
                            for j in 0..<c where src[j] > o[j] || a[j] < 0 { o[j] = src[j]; a[j] = pos }
                        }
                    }
                }
            }
        }
    }

    /// dinp += dout routed to each window's winner (images split across threads: windows only overlap within one).
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                                n: Int, h: Int, w: Int, c: Int, oh: Int, ow: Int, threads: Int = 1) {
        Parallel.forEach(n, threads: threads) { b in
            let d = dinp + b * h * w * c
            for p in 0..<(oh * ow) {
                let g = dout + (b * oh * ow + p) * c, a = argmax + (b * oh * ow + p) * c
                for j in 0..<c { d[Int(a[j]) * c + j] += g[j] }
            }
        }
    }
}
