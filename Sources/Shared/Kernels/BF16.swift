// bf16 conversion on raw buffers (the C kernels, per instruction set) and the scalar reference the tests hold every
// path to. bf16 is the upper half of an f32: 8 exponent bits, 7 stored mantissa bits (8 significant: relative rounding error
// ≤ 2⁻⁸, about 0.85·2⁻⁹ rms).
import CKernels

/// x [n] → y [n], rounded to nearest with ties to even; NaN stays NaN.
package func convertToBF16(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<UInt16>,
                          path: KernelPath = .best) {
    dinoseg_f32_to_bf16(path.rawValue, x, n, y)
}

/// x [n] → y [n], exact.
package func convertFromBF16(_ x: UnsafePointer<UInt16>, count n: Int, into y: UnsafeMutablePointer<Float>,
                            path: KernelPath = .best) {
    dinoseg_bf16_to_f32(path.rawValue, x, n, y)
}

/// Reference: the bf16 bit pattern nearest to `x` (ties to even), written from the definition.
package func bf16BitsReference(_ x: Float) -> UInt16 {
    if x.isNaN { return UInt16(truncatingIfNeeded: x.bitPattern >> 16) | 0x40 }
    let bits = x.bitPattern
    let lower = bits & 0xffff, upper = bits >> 16
    let roundUp = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1)
    return UInt16(truncatingIfNeeded: roundUp ? upper + 1 : upper)
}

/// Reference: `x` rounded to the nearest bf16, as an f32.
package func bf16RoundedReference(_ x: Float) -> Float {
    Float(bitPattern: UInt32(bf16BitsReference(x)) << 16)
}
