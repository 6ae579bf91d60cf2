// Layer-scale residual of a ConvNeXt block, fused with the bias of its last linear layer:
//
//   residual [rows, channels]  in place: residual ← residual + gamma · (update + bias)
//   update   [rows, channels]
//   bias, gamma [channels]
import CKernels

/// Fast path: the C kernel `dinoseg_scaled_residual_f32` on the chosen instruction set.
package func addScaledResidual(_ residual: UnsafeMutablePointer<Float>, update: UnsafePointer<Float>, rows: Int,
                              channels: Int, bias: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                              path: KernelPath = .best) {
    dinoseg_scaled_residual_f32(path.rawValue, residual, update, rows, channels, bias, gamma)
}

/// Reference in Double (plain loops; tests only) for `addScaledResidual`.
package func addScaledResidualNaive(_ residual: UnsafeMutablePointer<Float>, update: UnsafePointer<Float>, rows: Int,
                                   channels: Int, bias: UnsafePointer<Float>, gamma: UnsafePointer<Float>) {
    for r in 0..<rows {
        for t in 0..<channels {
            let i = r * channels + t
            residual[i] = Float(Double(residual[i]) + Double(gamma[t]) * (Double(update[i]) + Double(bias[t])))
        }
    }
}
