// General convolution: kernel k×k, stride, zero padding, dilation, channels-last, via
// im2col + GEMM one image at a time (the column buffer of one image is reused). A 1×1 stride-1 convolution is one
// GEMM over all pixels. Backward recomputes the columns instead of keeping them.
//
//   inp     [n, h, w, cin]
//   weight  [k·k·cin, cout]   row (ky·k + kx)·cin + ci  (PyTorch [cout, cin, k, k] permuted; converted on save/load)
//   bias    [cout] or nil
//   out     [n, oh, ow, cout]  oh = geometry.outSize(h)
//   scratch [oh·ow·k·k·cin]   column buffer (unused by pointwise convolutions)

public enum Conv2d {
    public static func scratchCount(h: Int, w: Int, cin: Int, geometry g: ConvGeometry) -> Int {
        g.isPointwise ? 0 : g.outSize(h) * g.outSize(w) * g.taps * cin
    }

    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry,
                               scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let oh = g.outSize(h), ow = g.outSize(w), ohw = oh * ow, kc = g.taps * cin
        if let bias { for p in 0..<(n * ohw) { (out + p * cout).update(from: bias, count: cout) } }
        let beta: Float = bias == nil ? 0 : 1
        if g.isPointwise {
            matmul(m: n * ohw, n: cout, k: cin, a: inp, lda: cin, b: weight, ldb: cout, beta: beta, c: out, ldc: cout)
            return
        }
        for b in 0..<n {
            im2col(image: inp + b * h * w * cin, h: h, w: w, c: cin, geometry: g, cols: scratch, threads: threads)
            matmul(m: ohw, n: cout, k: kc, a: scratch, lda: kc, b: weight, ldb: cout, beta: beta,
                  c: out + b * ohw * cout, ldc: cout)
        }
    }

    /// dweight += colsᵀ · dout;  dbias += Σ dout;  dinp += col2im(dout · weightᵀ) (skipped when dinp is nil).
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry,
                                scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let oh = g.outSize(h), ow = g.outSize(w), ohw = oh * ow, kc = g.taps * cin
        if let dbias { addColumnSums(dout, rows: n * ohw, cols: cout, into: dbias) }
        if g.isPointwise {
            matmul(transA: true, m: cin, n: cout, k: n * ohw, a: inp, lda: cin, b: dout, ldb: cout, beta: 1, c: dweight, ldc: cout)
            if let dinp {
                matmul(transB: true, m: n * ohw, n: cin, k: cout, a: dout, lda: cout, b: weight, ldb: cout, beta: 1, c: dinp, ldc: cin)
            }
            return
        }
        for b in 0..<n {
            let gout = dout + b * ohw * cout
            im2col(image: inp + b * h * w * cin, h: h, w: w, c: cin, geometry: g, cols: scratch, threads: threads)
            matmul(transA: true, m: kc, n: cout, k: ohw, a: scratch, lda: kc, b: gout, ldb: cout, beta: 1, c: dweight, ldc: cout)
            if let dinp {
                matmul(transB: true, m: ohw, n: kc, k: cout, a: gout, lda: cout, b: weight, ldb: cout, beta: 0, c: scratch, ldc: kc)
                col2im(cols: scratch, h: h, w: w, c: cin, geometry: g, image: dinp + b * h * w * cin, threads: threads)
            }
        }
    }
}
