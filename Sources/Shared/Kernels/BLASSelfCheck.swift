// The executables' start-up check that the BLAS multiplies correctly: a few sgemm shapes (odd sizes, transposes,
// alpha ≠ 1, beta 0 / 1 / other, padded leading dimensions, one shape large enough for OpenBLAS's blocked and threaded
// path) against the naive reference. OpenBLAS releases older than the CPU have computed wrong results (or crashed)
// with their newest kernels (reports for Zen 5), and a wrong sgemm would silently spoil every feature and gradient.
//
// The operands are small integers and alpha/beta dyadic fractions, so every partial sum is exact in Float: any
// correct BLAS, whatever its summation order or FMA use, gives exactly the reference, and the comparison needs no
// tolerance. Padding and a beta-0 output are filled with NaN, so a kernel that reads outside its operands, or fails
// to overwrite C when beta is 0, shows up as a NaN.
import Foundation
import DinoSegCore

/// sgemm's signature, so a test can hand the check a faulty multiply.
typealias SgemmCall = (_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                       _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int) -> Void

enum BLASSelfCheck {
    struct Shape: CustomStringConvertible {
        var m: Int, n: Int, k: Int
        var transA = false, transB = false
        var alpha: Float = 1, beta: Float = 0
        /// Extra columns in every leading dimension (filled with NaN in A and B, a sentinel in C).
        var pad = 0

        var description: String {
            let ops = (transA ? "Aᵀ" : "A") + "·" + (transB ? "Bᵀ" : "B")
            return "\(m)×\(n)×\(k) \(ops), alpha \(alpha), beta \(beta)" + (pad > 0 ? ", padded by \(pad)" : "")
        }
    }

    /// About 2.6 million multiply-adds: a few milliseconds for the reference in a release build.
    static let shapes: [Shape] = [
        Shape(m: 1, n: 1, k: 1),
        Shape(m: 3, n: 5, k: 7, alpha: -1),
        Shape(m: 17, n: 33, k: 9, transB: true, alpha: -0.5, beta: 1, pad: 3),
        Shape(m: 37, n: 53, k: 71, transA: true, alpha: 2, beta: 0.5),
        Shape(m: 64, n: 48, k: 96, transA: true, transB: true, beta: -1.5, pad: 1),
        // Past OpenBLAS's small-matrix kernels (m·n·k > 64³) and its threading threshold.
        Shape(m: 97, n: 83, k: 131, beta: 0.25, pad: 5),
        // k beyond one block of the packed kernels.
        Shape(m: 40, n: 36, k: 600, transB: true, alpha: 0.25, beta: 2),
    ]

    /// A value C's padding holds before the multiply and must still hold after it.
    static let sentinel: Float = 12345

    /// Runs every shape through `gemm`; nil when all match the reference exactly, else one line naming the first
    /// wrong shape and element.
    static func run(_ gemm: SgemmCall = { sgemm(transA: $0, transB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7,
                                                b: $8, ldb: $9, beta: $10, c: $11, ldc: $12) }) -> String? {
        var rng = SplitMix64(seed: 0x5E1F_C4EC)
        for shape in shapes {
            if let wrong = check(shape, gemm, &rng) { return "sgemm \(shape): \(wrong)" }
        }
        return nil
    }

    /// One shape: nil when `gemm` matches the reference (and left C's padding alone), else what differs.
    static func check(_ s: Shape, _ gemm: SgemmCall, _ rng: inout SplitMix64) -> String? {
        let (aRows, aCols) = s.transA ? (s.k, s.m) : (s.m, s.k)
        let (bRows, bCols) = s.transB ? (s.n, s.k) : (s.k, s.n)
        let lda = aCols + s.pad, ldb = bCols + s.pad, ldc = s.n + s.pad
        let a = matrix(rows: aRows, cols: aCols, ld: lda, padding: .nan, &rng)
        let b = matrix(rows: bRows, cols: bCols, ld: ldb, padding: .nan, &rng)
        var c = s.beta == 0 ? [Float](repeating: .nan, count: s.m * ldc)
                            : matrix(rows: s.m, cols: s.n, ld: ldc, padding: sentinel, &rng)
        for i in 0..<s.m { for j in s.n..<ldc { c[i * ldc + j] = sentinel } }
        var want = c
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                sgemmNaive(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: s.alpha,
                           a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb, beta: s.beta, c: &want, ldc: ldc)
                c.withUnsafeMutableBufferPointer { c in
                    gemm(s.transA, s.transB, s.m, s.n, s.k, s.alpha, a.baseAddress!, lda, b.baseAddress!, ldb, s.beta,
                         c.baseAddress!, ldc)
                }
            }
        }
        for i in 0..<s.m {
            for j in 0..<ldc where !(c[i * ldc + j] == want[i * ldc + j]) {
                let which = j < s.n ? "C[\(i),\(j)]" : "padding C[\(i),\(j)]"
                return "\(which) is \(c[i * ldc + j]) instead of \(want[i * ldc + j])"
            }
        }
        return nil
    }

    /// rows × ld values, integers in -4...4 in the first `cols` columns, `padding` after them.
    static func matrix(rows: Int, cols: Int, ld: Int, padding: Float, _ rng: inout SplitMix64) -> [Float] {
        var m = [Float](repeating: padding, count: rows * ld)
        for i in 0..<rows { for j in 0..<cols { m[i * ld + j] = Float(Int(rng.next() % 9) - 4) } }
        return m
    }
}
