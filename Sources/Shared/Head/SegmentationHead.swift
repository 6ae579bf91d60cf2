import Foundation
import DinoSegCore
import DinoSegNN

// FPN → PPM → classifier (docs/DESIGN.md §6) on channels-last stage features, with the parameter names of the PyTorch modules
// it mirrors:
//   fpn.inner_blocks.{i}.0.{weight,bias}   lateral 1×1 convs, i = index into the used levels (torchvision FPN)
//   fpn.layer_blocks.0.0.{weight,bias}     the 3×3 conv of the finest used level (the only one computed)
//   ppm.features.{j}.1.weight              PPM branch j: Sequential(AdaptiveAvgPool2d, Conv2d, BatchNorm2d, ReLU)
//   ppm.features.{j}.2.{weight,bias}       (semseg's PPM); running stats are buffers
//   cls.0.weight  cls.1.{weight,bias}  cls.4.{weight,bias}   semseg's classifier Sequential
package final class SegmentationHead {
    package typealias StageShape = (h: Int, w: Int, c: Int)

    package let config: HeadConfig
    package let params = ParameterArena()
    /// BatchNorm running statistics (`<bn>.running_mean`, `<bn>.running_var`), not trained.
    package let stats = ParameterArena()
    /// BatchNorm layers in checkpoint order: the PPM branches', then the classifier's.
    package let bnPrefixes: [String]
    /// `num_batches_tracked` per BatchNorm, in `bnPrefixes` order (read and set through `batchesTracked`).
    private var bnBatchesTracked: [Int64]
    package var threads: Int
    /// 3×3 convolutions: Winograd F(2×2,3×3) when the channel counts allow it, else im2col + GEMM.
    package var useWinograd = true
    /// The parameters as typed references (resolved once; the arena's pointers never move).
    let p: HeadParameters
    /// The activations of the last forward, reused while batch and stage shapes stay the same.
    private var activations: HeadActivations?
    /// Data-parallel training: the part of the global batch this process holds. Training BatchNorm and the loss then
    /// use sums over the global batch, and Dropout2d draws the global batch's mask and keeps this part of it, so the
    /// processes together compute what one process computes on the whole batch. nil: the batch is all there is.
    package var shard: BatchShard?

    package init(config: HeadConfig, seed: UInt64 = 0, threads: Int = 1) throws {
        try config.validate()
        self.config = config
        self.threads = threads
        let declared = Self.declareParameters(config, params: params, stats: stats)
        params.allocate()
        stats.allocate()
        params.initialise(seed: seed)
        stats.initialise(seed: seed)
        p = declared.resolve(params: params, stats: stats)
        bnPrefixes = declared.bnPrefixes
        bnBatchesTracked = Array(repeating: 0, count: bnPrefixes.count)
    }

    /// `num_batches_tracked` per BatchNorm prefix (checkpoints, and the state data-parallel processes start from).
    package var batchesTracked: [String: Int64] {
        get { Dictionary(uniqueKeysWithValues: zip(bnPrefixes, bnBatchesTracked)) }
        set { for (i, prefix) in bnPrefixes.enumerated() { bnBatchesTracked[i] = newValue[prefix] ?? 0 } }
    }

    /// Bytes of the activation memory of the last forward (and backward) pass.
    package var activationBytes: Int { activations?.bytes ?? 0 }

    static func declareParameters(_ config: HeadConfig, params: ParameterArena, stats: ParameterArena) -> HeadParameters.Declared {
        let c = config.featureWidth
        func bound(_ fanIn: Int) -> Float { 1 / Float(fanIn).squareRoot() }
        var d = HeadParameters.Declared()
        func batchNorm(_ prefix: String, width: Int) -> HeadParameters.Declared.BN {
            d.bnPrefixes.append(prefix)
            return .init(gamma: params.add("\(prefix).weight", torchShape: [width], layout: .vector, initConstant: 1),
                         beta: params.add("\(prefix).bias", torchShape: [width], layout: .vector),
                         runningMean: stats.add("\(prefix).running_mean", torchShape: [width], layout: .vector),
                         runningVar: stats.add("\(prefix).running_var", torchShape: [width], layout: .vector, initConstant: 1),
                         tracked: d.bnPrefixes.count - 1)
        }
        if config.useFPN {
            // torchvision's FeaturePyramidNetwork re-initialises its convs: kaiming_uniform_(a=1), bias 0.
            for (i, level) in config.fpnLevels.enumerated() {
                let ci = config.stageChannels[level]
                d.fpnInner.append((params.add("fpn.inner_blocks.\(i).0.weight", torchShape: [c, ci, 1, 1], layout: .conv1x1,
                                              initBound: (3 / Float(ci)).squareRoot()),
                                   params.add("fpn.inner_blocks.\(i).0.bias", torchShape: [c], layout: .vector)))
            }
            d.fpnOut = (params.add("fpn.layer_blocks.0.0.weight", torchShape: [c, c, 3, 3], layout: .conv3x3,
                                   initBound: (3 / Float(9 * c)).squareRoot()),
                        params.add("fpn.layer_blocks.0.0.bias", torchShape: [c], layout: .vector))
        }
        if config.usePPM {
            let r = config.ppmReduction
            for j in config.ppmBins.indices {
                d.ppmConv.append(params.add("ppm.features.\(j).1.weight", torchShape: [r, c, 1, 1], layout: .conv1x1,
                                            initBound: bound(c)))
                d.ppmBN.append(batchNorm("ppm.features.\(j).2", width: r))
            }
        }
        let cin = config.classifierInput, mid = config.classifierWidth, k = config.numClasses
        d.clsConv = params.add("cls.0.weight", torchShape: [mid, cin, 3, 3], layout: .conv3x3, initBound: bound(9 * cin))
        d.clsBN = batchNorm("cls.1", width: mid)
        d.clsOut = (params.add("cls.4.weight", torchShape: [k, mid, 1, 1], layout: .conv1x1, initBound: bound(mid)),
                    params.add("cls.4.bias", torchShape: [k], layout: .vector, initBound: bound(mid)))
        return d
    }

    // MARK: forward

    /// Runs the head and returns its activations (valid until the next forward; `logits` [n, h, w, classes] at the
    /// working stage's resolution). In training, BatchNorm uses batch statistics (and updates running ones) and
    /// Dropout2d draws from `dropoutSeed`. The stage features must stay valid until `backward` has run.
    @discardableResult
    package func forward(stages: [Int: UnsafePointer<Float>], shapes: [Int: StageShape], batch n: Int,
                        training: Bool, dropoutSeed: UInt64 = 0) -> HeadActivations {
        let cfg = config, c = cfg.featureWidth
        let a = activations(batch: n, shapes: shapes)
        a.inputs = a.inputStages.map { stages[$0]! }
        let h = a.h, w = a.w, rows = n * h * w
        if cfg.useFPN, let fpnOut = a.fpnOut {
            let shape = a.inputShapes
            for i in a.inputStages.indices {
                let s = shape[i]
                Conv1x1.forward(out: a.fpnInner[i].data, inp: a.inputs[i], weight: p.fpnInner[i].weight.value,
                                bias: p.fpnInner[i].bias!.value, rows: n * s.h * s.w, cin: s.c, cout: c)
            }
            for i in stride(from: shape.count - 2, through: 0, by: -1) {
                NearestUpsample.forward(out: a.fpnInner[i].data, inp: a.fpnInner[i + 1].data, n: n,
                                        inH: shape[i + 1].h, inW: shape[i + 1].w, c: c, outH: shape[i].h, outW: shape[i].w,
                                        accumulate: true)
            }
            conv3x3Forward(out: fpnOut.data, inp: a.fpnInner[0].data, weight: p.fpnOut!.weight.value,
                           bias: p.fpnOut!.bias!.value, n: n, h: h, w: w, cin: c, cout: c, scratch: a.conv3x3Scratch)
        }
        let x = a.features

        if let cat = a.ppmConcat {
            let r = cfg.ppmReduction
            var parts: [UnsafePointer<Float>] = [x], widths = [c]
            for (j, b) in a.ppm.enumerated() {
                let cells = n * b.bins * b.bins
                AdaptiveAvgPool2d.forward(out: b.pooled.data, inp: x, n: n, h: h, w: w, c: c, bins: b.bins)
                Conv1x1.forward(out: b.conv.data, inp: b.pooled.data, weight: p.ppmConv[j].value, bias: nil,
                                rows: cells, cin: c, cout: r)
                batchNorm(p.ppmBN[j], out: b.bn.data, inp: b.conv.data, mean: b.mean.data, rstd: b.rstd.data,
                          rows: cells, c: r, training: training)
                ReLU.forward(out: b.bn.data, inp: b.bn.data, count: cells * r)
                BilinearResize.forward(out: b.upsampled.data, inp: b.bn.data, n: n, inH: b.bins, inW: b.bins, c: r,
                                       outH: h, outW: w, threads: threads)
                parts.append(UnsafePointer(b.upsampled.data)); widths.append(r)
            }
            ChannelConcat.forward(out: cat.data, parts: parts, widths: widths, rows: rows)
        }

        let mid = cfg.classifierWidth, k = cfg.numClasses
        conv3x3Forward(out: a.clsConv.data, inp: a.classifierInput, weight: p.clsConv.value, bias: nil,
                       n: n, h: h, w: w, cin: cfg.classifierInput, cout: mid, scratch: a.conv3x3Scratch)
        batchNorm(p.clsBN, out: a.clsBN.data, inp: a.clsConv.data, mean: a.clsMean.data, rstd: a.clsRstd.data,
                  rows: rows, c: mid, training: training)
        ReLU.forward(out: a.clsBN.data, inp: a.clsBN.data, count: rows * mid)
        var c3 = UnsafePointer(a.clsBN.data)
        a.dropoutApplied = training && cfg.dropout > 0
        if a.dropoutApplied, let mask = a.dropoutMask, let dropped = a.dropped {
            var rng = SplitMix64(seed: dropoutSeed, 7)
            if let shard {
                var global = [Float](repeating: 0, count: shard.globalCount * mid)
                global.withUnsafeMutableBufferPointer { g in
                    Dropout2d.makeMask(g.baseAddress!, n: shard.globalCount, c: mid, p: cfg.dropout, rng: &rng)
                    mask.data.update(from: g.baseAddress! + shard.offset * mid, count: n * mid)
                }
            } else {
                Dropout2d.makeMask(mask.data, n: n, c: mid, p: cfg.dropout, rng: &rng)
            }
            Dropout2d.forward(out: dropped.data, inp: a.clsBN.data, mask: mask.data, n: n, hw: h * w, c: mid)
            c3 = UnsafePointer(dropped.data)
        }
        Conv1x1.forward(out: a.logits.data, inp: c3, weight: p.clsOut.weight.value, bias: p.clsOut.bias!.value,
                        rows: rows, cin: mid, cout: k)
        return a
    }

    /// The activation set for this batch and these stage shapes: the previous one when they match.
    private func activations(batch n: Int, shapes: [Int: StageShape]) -> HeadActivations {
        let stages = config.requiredStages
        let stageShapes = stages.map { shapes[$0]! }
        let geometry = HeadActivations.Geometry(batch: n, stageShapes: stageShapes.flatMap { [$0.h, $0.w, $0.c] },
                                                winograd: useWinograd)
        if let a = activations, a.geometry == geometry { return a }
        activations = nil   // free the old set first
        let a = HeadActivations(config: config, batch: n, inputStages: stages, inputShapes: stageShapes, winograd: useWinograd)
        activations = a
        return a
    }

    func conv3x3Forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, n: Int, h: Int, w: Int, cin: Int, cout: Int, scratch: HeadTensor) {
        if useWinograd && Conv3x3Winograd.supports(cin: cin, cout: cout) {
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
        if useWinograd && Conv3x3Winograd.supports(cin: cin, cout: cout) {
            Conv3x3Winograd.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
                                     n: n, h: h, w: w, cin: cin, cout: cout, scratch: scratch.data, threads: threads)
        } else {
            Conv3x3.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
                             n: n, h: h, w: w, cin: cin, cout: cout, scratch: scratch.data, threads: threads)
        }
    }

    private func batchNorm(_ bn: HeadParameters.BN, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                           mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int, c: Int,
                           training: Bool) {
        if training {
            BatchNorm2d.forwardTrain(out: out, inp: inp, gamma: bn.gamma.value, beta: bn.beta.value, mean: mean, rstd: rstd,
                                     runningMean: bn.runningMean, runningVar: bn.runningVar, rows: rows, c: c, threads: threads,
                                     reduce: shard?.sum)
            bnBatchesTracked[bn.tracked] += 1
        } else {
            BatchNorm2d.forwardEval(out: out, inp: inp, gamma: bn.gamma.value, beta: bn.beta.value, mean: mean, rstd: rstd,
                                    runningMean: bn.runningMean, runningVar: bn.runningVar, rows: rows, c: c, threads: threads)
        }
    }

    // MARK: loss

    /// Upsamples the logits of `saved` bilinearly to the label size and returns the mean cross-entropy (ignoring
    /// `ignoreLabel`) and the number of labelled pixels (of the global batch with `shard`); the probabilities are kept
    /// for `backward`.
    package func loss(_ saved: HeadActivations, labels: UnsafePointer<UInt8>, labelHeight lh: Int, labelWidth lw: Int) -> HeadLoss {
        let k = config.numClasses, n = saved.batch
        let probs = saved.probs(labelHeight: lh, labelWidth: lw, classes: k)
        BilinearResize.forward(out: probs.data, inp: saved.logits.data, n: n, inH: saved.h, inW: saved.w, c: k,
                               outH: lh, outW: lw, threads: threads)
        var r = SoftmaxCrossEntropy.forward(probs: probs.data, logits: probs.data, labels: labels, pixels: n * lh * lw,
                                            k: k, threads: threads)
        if let shard {
            // The mean over the labelled pixels of the global batch: sum of losses and labelled count over processes.
            var sums = [r.loss * Double(r.valid), Double(r.valid)]
            sums.withUnsafeMutableBufferPointer { shard.sum($0) }
            r = (sums[1] > 0 ? sums[0] / sums[1] : 0, Int(sums[1]))
        }
        return HeadLoss(loss: r.loss, valid: r.valid, labels: labels, labelHeight: lh, labelWidth: lw, probs: probs)
    }

    // MARK: inference

    /// Eval-mode logits for features of any spatial size, bilinearly resized to outHeight×outWidth:
    /// NHWC [batch, outHeight, outWidth, classes].
    package func logits(stages: [Int: UnsafePointer<Float>], shapes: [Int: (h: Int, w: Int, c: Int)], batch: Int,
                       outHeight: Int, outWidth: Int) -> [Float] {
        let a = forward(stages: stages, shapes: shapes, batch: batch, training: false)
        let k = config.numClasses
        var out = [Float](repeating: 0, count: batch * outHeight * outWidth * k)
        out.withUnsafeMutableBufferPointer { o in
            BilinearResize.forward(out: o.baseAddress!, inp: a.logits.data, n: batch, inH: a.h, inW: a.w, c: k,
                                   outH: outHeight, outW: outWidth, threads: threads)
        }
        return out
    }
}

/// Calls `body` with pointers to the arrays of `stages` for the stages `wanted` (all must be present), valid for the
/// whole call: the head reads the caller's feature arrays without copying them.
package func withStagePointers<R>(_ stages: [Int: [Float]], stages wanted: [Int],
                          _ body: ([Int: UnsafePointer<Float>]) throws -> R) rethrows -> R {
    func go(_ i: Int, _ acc: [Int: UnsafePointer<Float>]) throws -> R {
        if i == wanted.count { return try body(acc) }
        return try stages[wanted[i]]!.withUnsafeBufferPointer { p in
            var next = acc
            next[wanted[i]] = p.baseAddress!
            return try go(i + 1, next)
        }
    }
    return try go(0, [:])
}
