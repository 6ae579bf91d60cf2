import DinoSegKernels
// 1×1 convolution on channels-last maps = one matrix multiply over all pixels.
//
//   inp    [rows, cin]      rows = N·H·W
//   weight [cin, cout]      (PyTorch's [cout, cin, 1, 1] transposed; converted on checkpoint save/load)
//   bias   [cout] or nil
//   out    [rows, cout]
//
// The bias gradient is Kernels/ColumnSums (addColumnSums), shared with the other convolutions and BatchNorm.

package enum Conv1x1 {
    /// out = inp · weight + bias
    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               rows: Int, cin: Int, cout: Int) {
        if let bias {
            for r in 0..<rows { (out + r * cout).update(from: bias, count: cout) }
        }
        matmul(m: rows, n: cout, k: cin, a: inp, lda: cin, b: weight, ldb: cout,
              beta: bias == nil ? 0 : 1, c: out, ldc: cout)
    }

    /// dweight += inpᵀ · dout;  dbias += Σ_rows dout;  dinp += dout · weightᵀ (skipped when dinp is nil).
    package static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rows: Int, cin: Int, cout: Int) {
        matmul(transA: true, m: cin, n: cout, k: rows, a: inp, lda: cin, b: dout, ldb: cout,
              beta: 1, c: dweight, ldc: cout)
        if let dbias { addColumnSums(dout, rows: rows, cols: cout, into: dbias) }
        if let dinp {
            matmul(transB: true, m: rows, n: cin, k: cout, a: dout, lda: cout, b: weight, ldb: cout,
                  beta: 1, c: dinp, ldc: cin)
        }
    }
}
