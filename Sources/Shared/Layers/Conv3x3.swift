import DinoSegKernels
// 3×3 convolution, padding 1, stride 1, channels-last, via im2col + GEMM one image at a time (the column buffer of
// one image is reused, so memory does not grow with the batch). Backward recomputes the columns instead of keeping them.
//
//   inp     [n, h, w, cin]
//   weight  [9·cin, cout]   row (ky·3 + kx)·cin + ci  (PyTorch [cout, cin, 3, 3] permuted; converted on save/load)
//   bias    [cout] or nil
//   out     [n, h, w, cout]
//   scratch [h·w·9·cin]     column buffer

package enum Conv3x3 {
    package static func scratchCount(h: Int, w: Int, cin: Int) -> Int { h * w * 9 * cin }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, h: Int, w: Int, cin: Int, cout: Int,
                               scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let hw = h * w
        for b in 0..<n {
            im2col3x3(image: inp + b * hw * cin, h: h, w: w, c: cin, cols: scratch, threads: threads)
            let o = out + b * hw * cout
            if let bias { for p in 0..<hw { (o + p * cout).update(from: bias, count: cout) } }
            matmul(m: hw, n: cout, k: 9 * cin, a: scratch, lda: 9 * cin, b: weight, ldb: cout,
                  beta: bias == nil ? 0 : 1, c: o, ldc: cout)
        }
    }

    /// dweight += colsᵀ · dout;  dbias += Σ dout;  dinp += col2im(dout · weightᵀ) (skipped when dinp is nil).
    package static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, cin: Int, cout: Int,
                                scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let hw = h * w
        if let dbias { addColumnSums(dout, rows: n * hw, cols: cout, into: dbias) }
        for b in 0..<n {
            let g = dout + b * hw * cout
            im2col3x3(image: inp + b * hw * cin, h: h, w: w, c: cin, cols: scratch, threads: threads)
            matmul(transA: true, m: 9 * cin, n: cout, k: hw, a: scratch, lda: 9 * cin, b: g, ldb: cout,
                  beta: 1, c: dweight, ldc: cout)
            if let dinp {
                matmul(transB: true, m: hw, n: 9 * cin, k: cout, a: g, lda: cout, b: weight, ldb: cout,
                      beta: 0, c: scratch, ldc: 9 * cin)
                col2im3x3(cols: scratch, h: h, w: w, c: cin, image: dinp + b * hw * cin, threads: threads)
            }
        }
    }
}
