import CKernels
import Foundation

// GELU, exact (erf) form: gelu(x) = x/2 · (1 + erf(x/√2)), fused with the bias of the preceding linear layer.
//
//   x     [rows, columns]  in place: x ← gelu(x + bias)
//   bias  [columns]
//
// The fast path is the C kernel `dinoseg_bias_gelu_f32` (one build per instruction set, see KernelPath). Its erf is
// the rational approximation of Eigen/XLA (odd degree-13 numerator, even degree-8 denominator, input clamped to ±4
// where float erf is ±1). Measured against Double erf over [−5, 5]: max relative error 3.3e-7 with FMA (avx2,
// avx512), 4.2e-7 without (generic); in GELU that is ≤ 2.1e-7 relative. glibc erff is ~1 ulp but scalar: 129 ms for
// the 8.6 M GELUs of one tiny image at 224, against 3.7 ms vectorised (BENCHMARKS.md).

/// The kernels' erf approximation on one value (for tests).
package func erfApprox(_ v: Float, path: KernelPath = .best) -> Float {
    var x = v, y: Float = 0
    dinoseg_erf_f32(path.rawValue, &x, 1, &y)
    return y
}

/// The kernels' erf approximation on `count` values (the vector code for whole vectors, its scalar twin for the rest).
package func erfApprox(_ x: UnsafePointer<Float>, count: Int, output: UnsafeMutablePointer<Float>, path: KernelPath = .best) {
    dinoseg_erf_f32(path.rawValue, x, count, output)
}

/// Fast path: x ← gelu(x + bias) row by row.
package func biasGELU(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>,
                     path: KernelPath = .best) {
    dinoseg_bias_gelu_f32(path.rawValue, x, rows, columns, bias)
}

/// Fast path: y ← bf16(gelu(x + bias)) row by row (x is not changed); the same GELU as `biasGELU`, then rounded to
/// bf16 ties-to-even, for a bf16 matmul that reads it.
package func biasGELUToBF16(_ x: UnsafePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>,
                           output: UnsafeMutablePointer<UInt16>, path: KernelPath = .best) {
    dinoseg_bias_gelu_bf16(path.rawValue, x, rows, columns, bias, output)
}

/// Reference: libm erf in Double (plain loops, not used by the model).
package func biasGELUNaive(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
    for r in 0..<rows {
        for t in 0..<columns {
            let v = Double(x[r * columns + t]) + Double(bias[t])
            x[r * columns + t] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
        }
    }
}
