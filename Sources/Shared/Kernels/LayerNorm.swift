// LayerNorm over the last axis of a row-major matrix (channels of an NHWC map), with affine weight and bias.
//
//   input  [rows, channels]
//   weight [channels], bias [channels]
//   output [rows, channels]  (may alias input)
//
// y = (x − mean) / sqrt(var + eps) · weight + bias, var biased (as PyTorch). Two passes over each row (C kernel, see KernelPath).
import CKernels

/// Fast path: the C kernel `dinoseg_layernorm_rows_f32` on the chosen instruction set.
package func layerNormRows(input: UnsafePointer<Float>, rows: Int, channels: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                          output: UnsafeMutablePointer<Float>, path: KernelPath = .best) {
    dinoseg_layernorm_rows_f32(path.rawValue, input, rows, channels, weight, bias, eps, output)
}

/// Reference in Double (plain loops, not used by the model).
package func layerNormRowsNaive(input: UnsafePointer<Float>, rows: Int, channels: Int,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                               output: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        var mean = 0.0
        for t in 0..<channels { mean += Double(input[r * channels + t]) }
        mean /= Double(channels)
        var v = 0.0
        for t in 0..<channels { let d = Double(input[r * channels + t]) - mean; v += d * d }
        v /= Double(channels)
        let rstd = 1 / (v + Double(eps)).squareRoot()
        for t in 0..<channels {
            output[r * channels + t] = Float((Double(input[r * channels + t]) - mean) * rstd * Double(weight[t]) + Double(bias[t]))
        }
    }
}
