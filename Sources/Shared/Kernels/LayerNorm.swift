// LayerNorm over the last axis of a row-major matrix (channels of an NHWC map), with affine weight and bias.
//
//   input  [rows, channels]
//   weight [channels], bias [channels]
//   output [rows, channels]  (may alias input)
//
// y = (x − mean) / sqrt(var + eps) · weight + bias, var biased (as PyTorch). Two passes over each row in registers.

public func layerNormRows(input: UnsafePointer<Float>, rows: Int, channels: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                          output: UnsafeMutablePointer<Float>) {
    let c = channels
    let vc = c - c % 8
    let invC = 1 / Float(c)
    for r in 0..<rows {
        let x = input + r * c
        let y = output + r * c
        var s8 = SIMD8<Float>()
        var j = 0
        while j < vc { s8 += load8(x + j); j += 8 }
        var sum = s8.sum()
        for t in vc..<c { sum += x[t] }
        let mean = sum * invC
        let m8 = SIMD8<Float>(repeating: mean)
        var q8 = SIMD8<Float>()
        j = 0
        while j < vc { let d = load8(x + j) - m8; q8 = q8.addingProduct(d, d); j += 8 }
        var sq = q8.sum()
        for t in vc..<c { let d = x[t] - mean; sq += d * d }
        let rstd = 1 / (sq * invC + eps).squareRoot()
        let r8 = SIMD8<Float>(repeating: rstd)
        j = 0
        while j < vc {
            let v = (load8(x + j) - m8) * r8
            store8(load8(bias + j).addingProduct(v, load8(weight + j)), y + j)
            j += 8
        }
        for t in vc..<c { y[t] = (x[t] - mean) * rstd * weight[t] + bias[t] }
    }
}

/// Reference in Double.
public func layerNormRowsNaive(input: UnsafePointer<Float>, rows: Int, channels: Int,
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
