import DinoSegCore
import DinoSegKernels
import DinoSegNN
// What the head modules' forward and backward passes share besides their own parameters: the thread count, the
// convolution algorithms, the data-parallel shard (BatchNorm and dropout over the global batch) and the BatchNorm
// `num_batches_tracked` counters. The head (or the PSPNet baseline) makes one per pass; modules never see their owner.

/// `num_batches_tracked` per BatchNorm, in the head's `bnPrefixes` order.
final class BatchNormCounters {
    var tracked: [Int64]
    init(count: Int) { tracked = Array(repeating: 0, count: count) }
}

struct HeadOps {
    let threads: Int
    /// 3×3 convolutions: Winograd F(2×2,3×3) when the channel counts allow it, else im2col + GEMM.
    let useWinograd: Bool
    let shard: BatchShard?
    let counters: BatchNormCounters
    /// The 3×3 and 1×1 convolutions through `Conv2d` and its engine choice (oneDNN where it is loaded, else im2col +
    /// GEMM; `useWinograd` is then unused): the PSPNet baseline's convolutions, whose engines were timed for its shapes.
    /// The 3×3 scratch must then hold `Conv2d.scratchCount` floats.
    var viaConv2d = false

    private static let conv3x3Geometry = ConvGeometry(kernel: 3, pad: 1)
    private static let conv1x1Geometry = ConvGeometry(kernel: 1)

    /// Scratch floats a 3×3 convolution of this size needs (the head shares one buffer among its 3×3 convolutions).
    static func conv3x3Scratch(winograd: Bool, n: Int, h: Int, w: Int, cin: Int, cout: Int) -> Int {
        winograd && Conv3x3Winograd.supports(cin: cin, cout: cout)
            ? Conv3x3Winograd.scratchCount(n: n, h: h, w: w, cin: cin, cout: cout)
            : Conv3x3.scratchCount(h: h, w: w, cin: cin)
    }

    func conv3x3Forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, n: Int, h: Int, w: Int, cin: Int, cout: Int, scratch: HeadTensor) {
        if viaConv2d {
            Conv2d.forward(out: out, inp: inp, weight: weight, bias: bias, n: n, h: h, w: w, cin: cin, cout: cout,
                           geometry: Self.conv3x3Geometry, scratch: scratch.data, threads: threads)
        } else if useWinograd && Conv3x3Winograd.supports(cin: cin, cout: cout) {
            Conv3x3Winograd.forward(out: out, inp: inp, weight: weight, bias: bias, n: n, h: h, w: w, cin: cin, cout: cout,
                                    scratch: scratch.data, threads: threads)
        } else {
            Conv3x3.forward(out: out, inp: inp, weight: weight, bias: bias, n: n, h: h, w: w, cin: cin, cout: cout,
                            scratch: scratch.data, threads: threads)
        }
    }

    func conv3x3Backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, cout: Int, scratch: HeadTensor) {
        if viaConv2d {
            Conv2d.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight, n: n, h: h,
                            w: w, cin: cin, cout: cout, geometry: Self.conv3x3Geometry, scratch: scratch.data, threads: threads)
        } else if useWinograd && Conv3x3Winograd.supports(cin: cin, cout: cout) {
            Conv3x3Winograd.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
                                     n: n, h: h, w: w, cin: cin, cout: cout, scratch: scratch.data, threads: threads)
        } else {
            Conv3x3.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
                             n: n, h: h, w: w, cin: cin, cout: cout, scratch: scratch.data, threads: threads)
        }
    }

    /// A 1×1 convolution over the n×h×w map `inp` (Conv2d needs no scratch for it: `out` stands in).
    func conv1x1Forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, n: Int, h: Int, w: Int, cin: Int, cout: Int) {
        if viaConv2d {
            Conv2d.forward(out: out, inp: inp, weight: weight, bias: bias, n: n, h: h, w: w, cin: cin, cout: cout,
                           geometry: Self.conv1x1Geometry, scratch: out, threads: threads)
        } else {
            Conv1x1.forward(out: out, inp: inp, weight: weight, bias: bias, rows: n * h * w, cin: cin, cout: cout)
        }
    }

    func conv1x1Backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, cout: Int) {
        if viaConv2d {
            Conv2d.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight, n: n, h: h,
                            w: w, cin: cin, cout: cout, geometry: Self.conv1x1Geometry, scratch: dweight, threads: threads)
        } else {
            Conv1x1.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
                             rows: n * h * w, cin: cin, cout: cout)
        }
    }

    /// BatchNorm over `rows` × `c`: batch statistics in training (running ones updated, the counter advanced),
    /// running statistics in eval. `mean` / `rstd` receive the statistics backward needs.
    func batchNorm(_ bn: HeadBN, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                   mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int, c: Int, training: Bool) {
        if training {
            BatchNorm2d.forwardTrain(out: out, inp: inp, gamma: bn.gamma.value, beta: bn.beta.value, mean: mean, rstd: rstd,
                                     runningMean: bn.runningMean, runningVar: bn.runningVar, rows: rows, c: c, threads: threads,
                                     reduce: shard?.sum)
            counters.tracked[bn.tracked] += 1
        } else {
            BatchNorm2d.forwardEval(out: out, inp: inp, gamma: bn.gamma.value, beta: bn.beta.value, mean: mean, rstd: rstd,
                                    runningMean: bn.runningMean, runningVar: bn.runningVar, rows: rows, c: c, threads: threads)
        }
    }

    /// Training-mode BatchNorm backward (`threads` 1 for the small pooled maps, as before the module split, so the
    /// sums keep their order).
    func batchNormBackward(_ bn: HeadBN, dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                           mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, c: Int, threads: Int? = nil) {
        BatchNorm2d.backward(dinp: dinp, dgamma: bn.gamma.grad, dbeta: bn.beta.grad, dout: dout, inp: inp, gamma: bn.gamma.value,
                             mean: mean, rstd: rstd, rows: rows, c: c, threads: threads ?? self.threads, reduce: shard?.sum)
    }

    /// A dropout mask of `rows` × `c` for this process's part of the batch: with a shard, the mask of the global batch
    /// is drawn and this part kept, so the processes together draw what one process draws. `rowsPerSample` rows
    /// belong to one sample (1 for Dropout2d's per-channel mask, h·w for elementwise dropout).
    func dropoutMask(_ mask: UnsafeMutablePointer<Float>, n: Int, rowsPerSample: Int, c: Int, p: Float, rng: inout SplitMix64) {
        guard let shard else {
            Dropout2d.makeMask(mask, n: n * rowsPerSample, c: c, p: p, rng: &rng)
            return
        }
        let perSample = rowsPerSample * c
        var global = [Float](repeating: 0, count: shard.globalCount * perSample)
        global.withUnsafeMutableBufferPointer { g in
            Dropout2d.makeMask(g.baseAddress!, n: shard.globalCount * rowsPerSample, c: c, p: p, rng: &rng)
            mask.update(from: g.baseAddress! + shard.offset * perSample, count: n * perSample)
        }
    }
}
