import Foundation

// FPN → PPM → classifier (SPEC §3) on channels-last stage features, with the parameter names of the PyTorch modules
// it mirrors:
//   fpn.inner_blocks.{i}.0.{weight,bias}   lateral 1×1 convs, i = index into the used levels (torchvision FPN)
//   fpn.layer_blocks.0.0.{weight,bias}     the 3×3 conv of the finest used level (the only one computed)
//   ppm.features.{j}.1.weight              PPM branch j: Sequential(AdaptiveAvgPool2d, Conv2d, BatchNorm2d, ReLU)
//   ppm.features.{j}.2.{weight,bias}       (semseg's PPM); running stats are buffers
//   cls.0.weight  cls.1.{weight,bias}  cls.4.{weight,bias}   semseg's classifier Sequential
public final class SegmentationHead {
    public typealias StageShape = (h: Int, w: Int, c: Int)

    public let config: HeadConfig
    public let params = ParameterArena()
    /// BatchNorm running statistics (`<bn>.running_mean`, `<bn>.running_var`), not trained.
    public let stats = ParameterArena()
    /// `num_batches_tracked` per BatchNorm prefix.
    public var batchesTracked: [String: Int64] = [:]
    public var threads: Int
    public let workspace = Workspace()
    /// 3×3 convolutions: Winograd F(2×2,3×3) when the channel counts allow it, else im2col + GEMM.
    public var useWinograd = true
    /// Data-parallel training: the part of the global batch this process holds. Training BatchNorm and the loss then
    /// use sums over the global batch, and Dropout2d draws the global batch's mask and keeps this part of it, so the
    /// processes together compute what one process computes on the whole batch. nil: the batch is all there is.
    public var shard: BatchShard?

    /// What the last forward saw (backward needs it).
    struct Saved {
        var n: Int
        var stages: [Int: UnsafePointer<Float>]
        var shapes: [Int: StageShape]
        var h: Int, w: Int
        var x: UnsafePointer<Float>          // PPM / classifier input (FPN output or F3)
        var clsInput: UnsafePointer<Float>
        var dropout: Bool
        var logits: UnsafeMutablePointer<Float>
    }
    var saved: Saved?

    public var bnPrefixes: [String] {
        (config.usePPM ? config.ppmBins.indices.map { "ppm.features.\($0).2" } : []) + ["cls.1"]
    }

    public init(config: HeadConfig, seed: UInt64 = 0, threads: Int = 1) throws {
        try config.validate()
        self.config = config
        self.threads = threads
        declareParameters()
        params.allocate()
        stats.allocate()
        params.initialise(seed: seed)
        stats.initialise(seed: seed)
        for p in bnPrefixes { batchesTracked[p] = 0 }
    }

    private func declareParameters() {
        let c = config.featureWidth
        func bound(_ fanIn: Int) -> Float { 1 / Float(fanIn).squareRoot() }
        if config.useFPN {
            // torchvision's FeaturePyramidNetwork re-initialises its convs: kaiming_uniform_(a=1), bias 0.
            for (i, level) in config.fpnLevels.enumerated() {
                let ci = config.stageChannels[level]
                params.add("fpn.inner_blocks.\(i).0.weight", torchShape: [c, ci, 1, 1], layout: .conv1x1,
                           initBound: (3 / Float(ci)).squareRoot())
                params.add("fpn.inner_blocks.\(i).0.bias", torchShape: [c], layout: .vector)
            }
            params.add("fpn.layer_blocks.0.0.weight", torchShape: [c, c, 3, 3], layout: .conv3x3,
                       initBound: (3 / Float(9 * c)).squareRoot())
            params.add("fpn.layer_blocks.0.0.bias", torchShape: [c], layout: .vector)
        }
        if config.usePPM {
            let r = config.ppmReduction
            for j in config.ppmBins.indices {
                params.add("ppm.features.\(j).1.weight", torchShape: [r, c, 1, 1], layout: .conv1x1, initBound: bound(c))
                params.add("ppm.features.\(j).2.weight", torchShape: [r], layout: .vector, initConstant: 1)
                params.add("ppm.features.\(j).2.bias", torchShape: [r], layout: .vector)
                stats.add("ppm.features.\(j).2.running_mean", torchShape: [r], layout: .vector)
                stats.add("ppm.features.\(j).2.running_var", torchShape: [r], layout: .vector, initConstant: 1)
            }
        }
        let cin = config.classifierInput, mid = config.classifierWidth, k = config.numClasses
        params.add("cls.0.weight", torchShape: [mid, cin, 3, 3], layout: .conv3x3, initBound: bound(9 * cin))
        params.add("cls.1.weight", torchShape: [mid], layout: .vector, initConstant: 1)
        params.add("cls.1.bias", torchShape: [mid], layout: .vector)
        stats.add("cls.1.running_mean", torchShape: [mid], layout: .vector)
        stats.add("cls.1.running_var", torchShape: [mid], layout: .vector, initConstant: 1)
        params.add("cls.4.weight", torchShape: [k, mid, 1, 1], layout: .conv1x1, initBound: bound(mid))
        params.add("cls.4.bias", torchShape: [k], layout: .vector, initBound: bound(mid))
    }

    /// Checks that the given stage shapes are what this head needs.
    public func checkShapes(_ shapes: [Int: StageShape]) throws {
        for s in config.requiredStages {
            guard let sh = shapes[s] else { throw DinoSegError("head \(config.variantName) needs stage \(s) features") }
            guard sh.c == config.stageChannels[s] else {
                throw DinoSegError("stage \(s) has \(sh.c) channels, the head expects \(config.stageChannels[s])")
            }
        }
    }

    // MARK: forward

    /// Runs the head. Returns logits [n, h, w, classes] at the working stage's resolution (valid until the next call).
    /// In training, BatchNorm uses batch statistics (and updates running ones) and Dropout2d draws from `dropoutSeed`.
    @discardableResult
    public func forward(stages: [Int: UnsafePointer<Float>], shapes: [Int: StageShape], batch n: Int,
                        training: Bool, dropoutSeed: UInt64 = 0) -> (logits: UnsafeMutablePointer<Float>, h: Int, w: Int) {
        let cfg = config, c = cfg.featureWidth, ws = workspace
        let work = shapes[cfg.workingStage]!
        let h = work.h, w = work.w, rows = n * h * w
        var x: UnsafePointer<Float>
        if cfg.useFPN {
            let levels = cfg.fpnLevels
            for (i, level) in levels.enumerated() {
                let s = shapes[level]!
                Conv1x1.forward(out: ws.get("fpn.inner\(i)", n * s.h * s.w * c), inp: stages[level]!,
                                weight: params.value("fpn.inner_blocks.\(i).0.weight"),
                                bias: params.value("fpn.inner_blocks.\(i).0.bias"), rows: n * s.h * s.w, cin: s.c, cout: c)
            }
            for i in stride(from: levels.count - 2, through: 0, by: -1) {
                let s = shapes[levels[i]]!, coarse = shapes[levels[i + 1]]!
                NearestUpsample.forward(out: ws.get("fpn.inner\(i)", n * s.h * s.w * c),
                                        inp: ws.get("fpn.inner\(i + 1)", n * coarse.h * coarse.w * c),
                                        n: n, inH: coarse.h, inW: coarse.w, c: c, outH: s.h, outW: s.w, accumulate: true)
            }
            let out = ws.get("fpn.out", rows * c)
            conv3x3Forward(out: out, inp: ws.get("fpn.inner0", rows * c),
                           weight: params.value("fpn.layer_blocks.0.0.weight"),
                           bias: params.value("fpn.layer_blocks.0.0.bias"), n: n, h: h, w: w, cin: c, cout: c)
            x = UnsafePointer(out)
        } else {
            x = stages[3]!
        }

        var clsInput = x
        if cfg.usePPM {
            let r = cfg.ppmReduction
            var parts: [UnsafePointer<Float>] = [x], widths = [c]
            for (j, bins) in cfg.ppmBins.enumerated() {
                let cells = n * bins * bins
                let pooled = ws.get("ppm\(j).pool", cells * c), conv = ws.get("ppm\(j).conv", cells * r)
                let bn = ws.get("ppm\(j).bn", cells * r), up = ws.get("ppm\(j).up", rows * r)
                AdaptiveAvgPool2d.forward(out: pooled, inp: x, n: n, h: h, w: w, c: c, bins: bins)
                Conv1x1.forward(out: conv, inp: pooled, weight: params.value("ppm.features.\(j).1.weight"), bias: nil,
                                rows: cells, cin: c, cout: r)
                batchNorm(prefix: "ppm.features.\(j).2", key: "ppm\(j)", out: bn, inp: conv, rows: cells, c: r, training: training)
                ReLU.forward(out: bn, inp: bn, count: cells * r)
                BilinearResize.forward(out: up, inp: bn, n: n, inH: bins, inW: bins, c: r, outH: h, outW: w, threads: threads)
                parts.append(UnsafePointer(up)); widths.append(r)
            }
            let cat = ws.get("ppm.cat", rows * cfg.classifierInput)
            ChannelConcat.forward(out: cat, parts: parts, widths: widths, rows: rows)
            clsInput = UnsafePointer(cat)
        }

        let mid = cfg.classifierWidth, k = cfg.numClasses
        let c0 = ws.get("cls.conv", rows * mid), c1 = ws.get("cls.bn", rows * mid)
        conv3x3Forward(out: c0, inp: clsInput, weight: params.value("cls.0.weight"), bias: nil,
                       n: n, h: h, w: w, cin: cfg.classifierInput, cout: mid)
        batchNorm(prefix: "cls.1", key: "cls", out: c1, inp: c0, rows: rows, c: mid, training: training)
        ReLU.forward(out: c1, inp: c1, count: rows * mid)
        var c3 = UnsafePointer(c1)
        let dropout = training && cfg.dropout > 0
        if dropout {
            let mask = ws.get("cls.mask", n * mid), dropped = ws.get("cls.drop", rows * mid)
            var rng = SplitMix64(seed: dropoutSeed, 7)
            if let shard {
                let global = ws.get("cls.mask.global", shard.globalCount * mid)
                Dropout2d.makeMask(global, n: shard.globalCount, c: mid, p: cfg.dropout, rng: &rng)
                mask.update(from: global + shard.offset * mid, count: n * mid)
            } else {
                Dropout2d.makeMask(mask, n: n, c: mid, p: cfg.dropout, rng: &rng)
            }
            Dropout2d.forward(out: dropped, inp: c1, mask: mask, n: n, hw: h * w, c: mid)
            c3 = UnsafePointer(dropped)
        }
        let logits = ws.get("logits", rows * k)
        Conv1x1.forward(out: logits, inp: c3, weight: params.value("cls.4.weight"), bias: params.value("cls.4.bias"),
                        rows: rows, cin: mid, cout: k)
        saved = Saved(n: n, stages: stages, shapes: shapes, h: h, w: w, x: x, clsInput: clsInput, dropout: dropout, logits: logits)
        return (logits, h, w)
    }

    func conv3x3Forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, n: Int, h: Int, w: Int, cin: Int, cout: Int) {
        if useWinograd && Conv3x3Winograd.supports(cin: cin, cout: cout) {
            let scratch = workspace.get("winograd", Conv3x3Winograd.scratchCount(n: n, h: h, w: w, cin: cin, cout: cout))
            Conv3x3Winograd.forward(out: out, inp: inp, weight: weight, bias: bias, n: n, h: h, w: w, cin: cin, cout: cout,
                                    scratch: scratch, threads: threads)
        } else {
            let scratch = workspace.get("im2col", Conv3x3.scratchCount(h: h, w: w, cin: cin))
            Conv3x3.forward(out: out, inp: inp, weight: weight, bias: bias, n: n, h: h, w: w, cin: cin, cout: cout,
                            scratch: scratch, threads: threads)
        }
    }

    func conv3x3Backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, cout: Int) {
        if useWinograd && Conv3x3Winograd.supports(cin: cin, cout: cout) {
            let scratch = workspace.get("winograd", Conv3x3Winograd.scratchCount(n: n, h: h, w: w, cin: cin, cout: cout))
            Conv3x3Winograd.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
                                     n: n, h: h, w: w, cin: cin, cout: cout, scratch: scratch, threads: threads)
        } else {
            let scratch = workspace.get("im2col", Conv3x3.scratchCount(h: h, w: w, cin: cin))
            Conv3x3.backward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
                             n: n, h: h, w: w, cin: cin, cout: cout, scratch: scratch, threads: threads)
        }
    }

    private func batchNorm(prefix: String, key: String, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                           rows: Int, c: Int, training: Bool) {
        let mean = workspace.get("\(key).mean", c), rstd = workspace.get("\(key).rstd", c)
        if training {
            BatchNorm2d.forwardTrain(out: out, inp: inp, gamma: params.value("\(prefix).weight"), beta: params.value("\(prefix).bias"),
                                     mean: mean, rstd: rstd, runningMean: stats.value("\(prefix).running_mean"),
                                     runningVar: stats.value("\(prefix).running_var"), rows: rows, c: c, threads: threads,
                                     reduce: shard?.sum)
            batchesTracked[prefix, default: 0] += 1
        } else {
            BatchNorm2d.forwardEval(out: out, inp: inp, gamma: params.value("\(prefix).weight"), beta: params.value("\(prefix).bias"),
                                    mean: mean, rstd: rstd, runningMean: stats.value("\(prefix).running_mean"),
                                    runningVar: stats.value("\(prefix).running_var"), rows: rows, c: c, threads: threads)
        }
    }

    // MARK: loss

    /// Upsamples the last logits bilinearly to the label size and returns the mean cross-entropy (ignore 255) and the
    /// number of labelled pixels (of the global batch with `shard`); probabilities are kept for `backward`.
    public func loss(labels: UnsafePointer<UInt8>, labelHeight lh: Int, labelWidth lw: Int) -> (loss: Double, valid: Int) {
        let s = saved!, k = config.numClasses
        let up = workspace.get("logits.up", s.n * lh * lw * k)
        BilinearResize.forward(out: up, inp: s.logits, n: s.n, inH: s.h, inW: s.w, c: k, outH: lh, outW: lw, threads: threads)
        var r = SoftmaxCrossEntropy.forward(probs: up, logits: up, labels: labels, pixels: s.n * lh * lw, k: k, threads: threads)
        if let shard {
            // The mean over the labelled pixels of the global batch: sum of losses and labelled count over processes.
            var sums = [r.loss * Double(r.valid), Double(r.valid)]
            sums.withUnsafeMutableBufferPointer { shard.sum($0) }
            r = (sums[1] > 0 ? sums[0] / sums[1] : 0, Int(sums[1]))
        }
        lossState = (labels, lh, lw, r.valid)
        return r
    }
    var lossState: (labels: UnsafePointer<UInt8>, h: Int, w: Int, valid: Int)?

    // MARK: inference

    /// Eval-mode logits for features of any spatial size, bilinearly resized to outHeight×outWidth:
    /// NHWC [batch, outHeight, outWidth, classes].
    public func logits(stages: [Int: UnsafePointer<Float>], shapes: [Int: (h: Int, w: Int, c: Int)], batch: Int,
                       outHeight: Int, outWidth: Int) -> [Float] {
        let r = forward(stages: stages, shapes: shapes, batch: batch, training: false)
        let k = config.numClasses
        var out = [Float](repeating: 0, count: batch * outHeight * outWidth * k)
        out.withUnsafeMutableBufferPointer { o in
            BilinearResize.forward(out: o.baseAddress!, inp: r.logits, n: batch, inH: r.h, inW: r.w, c: k,
                                   outH: outHeight, outW: outWidth, threads: threads)
        }
        return out
    }
}
