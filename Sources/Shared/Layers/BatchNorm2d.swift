import DinoSegCore
import DinoSegKernels
// Batch normalisation over the channels of a channels-last map (PyTorch BatchNorm2d).
//
//   inp, out       [rows, c]   rows = N·H·W (out may not alias inp: backward needs inp)
//   gamma, beta    [c]
//   mean, rstd     [c]         saved by forward (batch statistics in training, running statistics in eval)
//   runningMean, runningVar [c]  updated in training: r ← (1 − momentum)·r + momentum·stat, with the UNBIASED variance
//
// Training uses the batch mean and the biased variance; eps = 1e-5. Rows are split across `threads`; the per-channel
// sums are Kernels/ColumnSums (Float over blocks of rows, combined in Double, so they stay accurate for large maps).
// `reduce` (data-parallel training, SyncBN): sums the per-channel sums and the row count over the processes that share
// the global batch, so every process normalises with the statistics of the whole batch. nil: this batch is all.

package enum BatchNorm2d {
    package static let eps: Float = 1e-5
    package static let momentum: Float = 0.1

    package static func forwardTrain(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                    mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                    runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                    rows: Int, c: Int, threads: Int = 1, reduce: SumReduction? = nil) {
        var sum = ColumnSums.sums(.value, inp, rows: rows, cols: c, threads: threads)
        let total = reduced(&sum, rows: rows, reduce)
        for j in 0..<c { mean[j] = Float(sum[j] / total) }
        var sq = ColumnSums.sums(.squaredDeviation(centre: UnsafePointer(mean)), inp, rows: rows, cols: c, threads: threads)
        if let reduce { sq.withUnsafeMutableBufferPointer { reduce($0) } }
        for j in 0..<c {
            let varBiased = sq[j] / total
            rstd[j] = Float(1 / (varBiased + Double(eps)).squareRoot())
            let varUnbiased = total > 1 ? sq[j] / (total - 1) : varBiased
            runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean[j]
            runningVar[j] = (1 - momentum) * runningVar[j] + momentum * Float(varUnbiased)
        }
        normalise(out: out, inp: inp, gamma: gamma, beta: beta, mean: mean, rstd: rstd, rows: rows, c: c, threads: threads)
    }

    /// Eval: normalise with the running statistics (mean/rstd are filled from them).
    package static func forwardEval(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                   gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                   mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                   runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                                   rows: Int, c: Int, threads: Int = 1) {
        for j in 0..<c {
            mean[j] = runningMean[j]
            rstd[j] = 1 / (runningVar[j] + eps).squareRoot()
        }
        normalise(out: out, inp: inp, gamma: gamma, beta: beta, mean: mean, rstd: rstd, rows: rows, c: c, threads: threads)
    }

    static func normalise(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                          mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, c: Int, threads: Int) {
        var scale = [Float](repeating: 0, count: c), shift = scale
        for j in 0..<c { scale[j] = gamma[j] * rstd[j]; shift[j] = beta[j] - mean[j] * scale[j] }
        scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
            let a = sc.baseAddress!, b = sh.baseAddress!
            Parallel.forRanges(rows, parts: threads) { range in
                for r in range {
                    let x = inp + r * c, y = out + r * c
                    for j in 0..<c { y[j] = x[j] * a[j] + b[j] }
                }
            }
        } }
    }

    /// Training-mode backward (batch statistics): dgamma += Σ dy·x̂; dbeta += Σ dy;
    /// dinp += γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    package static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, c: Int, threads: Int = 1,
                                reduce: SumReduction? = nil) {
        let sdy = ColumnSums.sums(.value, dout, rows: rows, cols: c, threads: threads)
        let sdyx = ColumnSums.sums(.weightedDeviation(weight: dout, centre: mean, scale: rstd), inp, rows: rows, cols: c,
                                   threads: threads)
        // γ/β gradients stay this process's share (the parameter gradients are summed later); the input gradient
        // needs the sums over the global batch.
        var global = sdy + sdyx
        let total = reduced(&global, rows: rows, reduce)
        var k1 = [Float](repeating: 0, count: c), k2 = k1, k3 = k1
        for j in 0..<c {
            dgamma[j] += Float(sdyx[j]); dbeta[j] += Float(sdy[j])
            k1[j] = gamma[j] * rstd[j]
            k2[j] = Float(global[j] / total)
            k3[j] = Float(global[c + j] / total)
        }
        k1.withUnsafeBufferPointer { a in k2.withUnsafeBufferPointer { b in k3.withUnsafeBufferPointer { d in
            let pa = a.baseAddress!, pb = b.baseAddress!, pd = d.baseAddress!
            Parallel.forRanges(rows, parts: threads) { range in
                for r in range {
                    let x = inp + r * c, g = dout + r * c, dx = dinp + r * c
                    for j in 0..<c {
                        let xhat = (x[j] - mean[j]) * rstd[j]
                        dx[j] += pa[j] * (g[j] - pb[j] - xhat * pd[j])
                    }
                }
            }
        } } }
    }

    /// Sums `sums` and the row count over the processes of `reduce` (in place); returns the total row count.
    static func reduced(_ sums: inout [Double], rows: Int, _ reduce: SumReduction?) -> Double {
        guard let reduce else { return Double(rows) }
        sums.append(Double(rows))
        sums.withUnsafeMutableBufferPointer { reduce($0) }
        return sums.removeLast()
    }
}
