// The network's matrix multiply: every convolution and linear layer calls `matmul`, which runs at the active
// precision (Precision.swift). fp32 is the BLAS's sgemm. bf16 rounds both inputs to bf16 (ties to even) into
// per-thread scratch and multiplies them with f32 accumulation: natively in oneDNN, or emulated with the BLAS on the
// rounded values (any CPU; what the tests compare the native path with).
//
//   C[m, n] = alpha * op(A)[m, k] · op(B)[k, n] + beta * C[m, n]   (arguments as `sgemm`)
import Foundation

@inline(__always)
package func matmul(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                   b: UnsafePointer<Float>, ldb: Int,
                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    let engine = activeMatmulEngine
    if engine == .blas || m == 0 || n == 0 || k == 0 {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
        return
    }
    bf16Matmul(engine: engine, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
               b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// Elements a row-major operand spans: `rows` rows of stride `ld`, the last one `cols` long.
@inline(__always)
private func span(rows: Int, cols: Int, ld: Int) -> Int { (rows - 1) * ld + cols }

private func bf16Matmul(engine: MatmulEngine, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                        c: UnsafeMutablePointer<Float>, ldc: Int) {
    let countA = transA ? span(rows: k, cols: m, ld: lda) : span(rows: m, cols: k, ld: lda)
    let countB = transB ? span(rows: n, cols: k, ld: ldb) : span(rows: k, cols: n, ld: ldb)
    let emulated = engine == .roundedBLAS
    // bf16 copies of A and B, then (emulated only) f32 copies of those.
    let bytes16 = (countA + countB + 32) * 2, bytes32 = emulated ? (countA + countB + 16) * 4 : 0
    let scratch = matmulScratch.forCurrentThread(bytes: bytes16 + bytes32)
    let a16 = scratch.bindMemory(to: UInt16.self, capacity: countA + countB + 32)
    let b16 = a16 + ((countA + 31) & ~31)
    convertToBF16(a, count: countA, into: a16)
    convertToBF16(b, count: countB, into: b16)
    if emulated {
        let a32 = (scratch + bytes16).bindMemory(to: Float.self, capacity: countA + countB + 16)
        let b32 = a32 + ((countA + 15) & ~15)
        convertFromBF16(a16, count: countA, into: a32)
        convertFromBF16(b16, count: countB, into: b32)
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a32, lda: lda, b: b32, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
    } else {
        OneDNN.gemm(type: .bf16, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a16, lda: lda,
                    b: b16, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: blasThreads())
    }
}

/// A constant matrix (a frozen network's weights) rounded to bf16 once, so its matmuls skip that conversion.
package struct BF16Matrix: Sendable {
    package let rows: Int, columns: Int
    package let bits: [UInt16]

    /// `values` [rows, columns] row-major.
    package init(_ values: [Float], rows: Int, columns: Int) {
        precondition(values.count == rows * columns, "BF16Matrix: \(values.count) values for \(rows)×\(columns)")
        self.rows = rows; self.columns = columns
        var bits = [UInt16](repeating: 0, count: values.count)
        convertToBF16(values, count: values.count, into: &bits)
        self.bits = bits
    }
}

/// Native bf16 only: C[m, w.columns] = A[m, k] · W, f32 out, k = w.rows; A is f32 [m, lda], rounded to bf16 here.
package func matmulBF16(m: Int, a: UnsafePointer<Float>, lda: Int, w: BF16Matrix, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0 else { return }
    let count = span(rows: m, cols: w.rows, ld: lda)
    let a16 = matmulScratch.forCurrentThread(bytes: 2 * count).bindMemory(to: UInt16.self, capacity: count)
    convertToBF16(a, count: count, into: a16)
    matmulBF16(m: m, a: a16, lda: lda, w: w, c: c, ldc: ldc)
}

/// Native bf16 only: C[m, w.columns] = A[m, k] · W, f32 out, k = w.rows; A is already bf16 [m, lda].
package func matmulBF16(m: Int, a: UnsafePointer<UInt16>, lda: Int, w: BF16Matrix, c: UnsafeMutablePointer<Float>, ldc: Int) {
    precondition(activeMatmulEngine == .oneDNNBF16, "matmulBF16 with a BF16Matrix runs on oneDNN's bf16 engine only")
    guard m > 0 else { return }
    w.bits.withUnsafeBufferPointer { wb in
        OneDNN.gemm(type: .bf16, transA: false, transB: false, m: m, n: w.columns, k: w.rows, a: a, lda: lda,
                    b: wb.baseAddress!, ldb: w.columns, c: c, ldc: ldc, threads: blasThreads())
    }
}

/// Naive reference for bf16 `matmul`: `sgemmNaive` (Double accumulation) on inputs rounded with
/// `bf16RoundedReference`.
package func matmulBF16Naive(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    let countA = k == 0 ? 0 : (transA ? span(rows: k, cols: m, ld: lda) : span(rows: m, cols: k, ld: lda))
    let countB = k == 0 ? 0 : (transB ? span(rows: n, cols: k, ld: ldb) : span(rows: k, cols: n, ld: ldb))
    let ra = (0..<countA).map { bf16RoundedReference(a[$0]) }, rb = (0..<countB).map { bf16RoundedReference(b[$0]) }
    sgemmNaive(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: ra, lda: lda, b: rb, ldb: ldb,
               beta: beta, c: c, ldc: ldc)
}

/// The bf16 operands of every call on a thread reuse the same pages (ThreadScratch).
private let matmulScratch = ThreadScratch("bf16 matmul")
