// Batch normalisation over the channels of a channels-last map (PyTorch BatchNorm2d).
//
//   inp, out       [rows, c]   rows = N·H·W (out may not alias inp: backward needs inp)
//   gamma, beta    [c]
//   mean, rstd     [c]         saved by forward (batch statistics in training, running statistics in eval)
//   runningMean, runningVar [c]  updated in training: r ← (1 − momentum)·r + momentum·stat, with the UNBIASED variance
//
// Training uses the batch mean and the biased variance; eps = 1e-5.

public enum BatchNorm2d {
    public static let eps: Float = 1e-5
    public static let momentum: Float = 0.1

    public static func forwardTrain(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                    mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                    runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                    rows: Int, c: Int) {
        var sum = [Double](repeating: 0, count: c)
        var sq = [Double](repeating: 0, count: c)
        sum.withUnsafeMutableBufferPointer { s in
            for r in 0..<rows { let x = inp + r * c; for j in 0..<c { s[j] += Double(x[j]) } }
        }
        for j in 0..<c { mean[j] = Float(sum[j] / Double(rows)) }
        sq.withUnsafeMutableBufferPointer { s in
            for r in 0..<rows {
                let x = inp + r * c
                for j in 0..<c { let d = Double(x[j] - mean[j]); s[j] += d * d }
            }
        }
        for j in 0..<c {
            let varBiased = sq[j] / Double(rows)
            rstd[j] = Float(1 / (varBiased + Double(eps)).squareRoot())
            let varUnbiased = rows > 1 ? sq[j] / Double(rows - 1) : varBiased
            runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean[j]
            runningVar[j] = (1 - momentum) * runningVar[j] + momentum * Float(varUnbiased)
        }
        normalise(out: out, inp: inp, gamma: gamma, beta: beta, mean: mean, rstd: rstd, rows: rows, c: c)
    }

    /// Eval: normalise with the running statistics (mean/rstd are filled from them).
    public static func forwardEval(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                   gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                   mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                   runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                                   rows: Int, c: Int) {
        for j in 0..<c {
            mean[j] = runningMean[j]
            rstd[j] = 1 / (runningVar[j] + eps).squareRoot()
        }
        normalise(out: out, inp: inp, gamma: gamma, beta: beta, mean: mean, rstd: rstd, rows: rows, c: c)
    }

    static func normalise(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                          mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, c: Int) {
        var scale = [Float](repeating: 0, count: c), shift = scale
        for j in 0..<c { scale[j] = gamma[j] * rstd[j]; shift[j] = beta[j] - mean[j] * scale[j] }
        scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
            for r in 0..<rows {
                let x = inp + r * c, y = out + r * c
                for j in 0..<c { y[j] = x[j] * sc[j] + sh[j] }
            }
        } }
    }

    /// Training-mode backward (batch statistics): dgamma += Σ dy·x̂; dbeta += Σ dy;
    /// dinp += γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, c: Int) {
        var sdy = [Double](repeating: 0, count: c), sdyx = sdy
        sdy.withUnsafeMutableBufferPointer { a in sdyx.withUnsafeMutableBufferPointer { b in
            for r in 0..<rows {
                let x = inp + r * c, g = dout + r * c
                for j in 0..<c {
                    let xhat = (x[j] - mean[j]) * rstd[j]
                    a[j] += Double(g[j]); b[j] += Double(g[j] * xhat)
                }
            }
        } }
        var k1 = [Float](repeating: 0, count: c), k2 = k1, k3 = k1
        for j in 0..<c {
            dgamma[j] += Float(sdyx[j]); dbeta[j] += Float(sdy[j])
            k1[j] = gamma[j] * rstd[j]
            k2[j] = Float(sdy[j] / Double(rows))
            k3[j] = Float(sdyx[j] / Double(rows))
        }
        k1.withUnsafeBufferPointer { a in k2.withUnsafeBufferPointer { b in k3.withUnsafeBufferPointer { d in
            for r in 0..<rows {
                let x = inp + r * c, g = dout + r * c, dx = dinp + r * c
                for j in 0..<c {
                    let xhat = (x[j] - mean[j]) * rstd[j]
                    dx[j] += a[j] * (g[j] - b[j] - xhat * d[j])
                }
            }
        } } }
    }
}
