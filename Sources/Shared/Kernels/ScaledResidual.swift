// Layer-scale residual of a ConvNeXt block, fused with the bias of its last linear layer:
//
//   residual [rows, channels]  in place: residual ← residual + gamma · (update + bias)
//   update   [rows, channels]
//   bias, gamma [channels]

public func addScaledResidual(_ residual: UnsafeMutablePointer<Float>, update: UnsafePointer<Float>, rows: Int,
                              channels: Int, bias: UnsafePointer<Float>, gamma: UnsafePointer<Float>) {
    let vc = channels - channels % 8
    for r in 0..<rows {
        let x = residual + r * channels
        let u = update + r * channels
        var j = 0
        while j < vc {
            store8(load8(x + j).addingProduct(load8(gamma + j), load8(u + j) + load8(bias + j)), x + j)
            j += 8
        }
        for t in vc..<channels { x[t] += gamma[t] * (u[t] + bias[t]) }
    }
}

/// Reference (tests only) for `addScaledResidual`.
public func addScaledResidualNaive(_ residual: UnsafeMutablePointer<Float>, update: UnsafePointer<Float>, rows: Int,
                                   channels: Int, bias: UnsafePointer<Float>, gamma: UnsafePointer<Float>) {
    for r in 0..<rows {
        for t in 0..<channels {
            let i = r * channels + t
            residual[i] = Float(Double(residual[i]) + Double(gamma[t]) * (Double(update[i]) + Double(bias[t])))
        }
    }
}
