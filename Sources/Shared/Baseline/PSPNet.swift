import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegNN

// semseg's PSPNet(layers=50) on channels-last maps, with its state_dict names:
//   layer0.{0,3,6}.weight + layer0.{1,4,7}.*   deep stem (conv, BN) ×3, then max-pool (torchvision stem: layer0.0, layer0.1)
//   layer{1..4}.{b}.conv{1,2,3}.weight, .bn{1,2,3}.*, .downsample.{0,1}.*   bottleneck blocks (stride on conv2)
//   ppm.features.{j}.{1,2}.*   pyramid branch j: AdaptiveAvgPool2d(bin), conv 1×1, BN, ReLU
//   cls.{0,1,4}.*  aux.{0,1,4}.*   conv 3×3, BN, ReLU, Dropout2d, conv 1×1 (+bias)
// Parameters of layer0–layer4 come first in the arena (the backbone's learning rate), ppm/cls/aux after them
// (10× learning rate, semseg's index_split).

/// A conv (no bias) followed by BatchNorm: offsets of its parameters and statistics, and its geometry.
struct ConvBNUnit {
    var bn: String                 // BN prefix (num_batches_tracked key)
    var weight: Int, gamma: Int, beta: Int   // offsets in params
    var runningMean: Int, runningVar: Int    // offsets in stats
    var cin: Int, cout: Int
    var geometry: ConvGeometry
    var relu: Bool
}

struct BottleneckUnit {
    var conv1: ConvBNUnit, conv2: ConvBNUnit, conv3: ConvBNUnit
    var downsample: ConvBNUnit?
}

struct ClassifierUnit {
    var unit: ConvBNUnit
    var weight: Int, bias: Int     // the final 1×1 conv
}

package final class PSPNet {
    package let config: PSPNetConfig
    package let params = ParameterArena()
    /// BatchNorm running statistics (`<bn>.running_mean`, `<bn>.running_var`).
    package let stats = ParameterArena()
    /// `num_batches_tracked` per BatchNorm prefix.
    package var batchesTracked: [String: Int64] = [:]
    package var threads: Int
    /// Parameters [0, backboneCount) are layer0–layer4; the rest are ppm, cls and aux.
    package private(set) var backboneCount = 0
    /// Data-parallel training: the part of the global batch this process holds. Training BatchNorm (SyncBN) and the
    /// loss then use sums over the global batch, and Dropout2d draws the global batch's mask and keeps this part of it,
    /// so the processes together compute what one process computes on the whole batch. nil: the batch is all.
    package var shard: BatchShard?

    var stem: [ConvBNUnit] = []
    var layers: [[BottleneckUnit]] = []
    var ppm: [ConvBNUnit] = []
    var cls: ClassifierUnit!
    var aux: ClassifierUnit!
    var scratch: UnsafeMutablePointer<Float>
    var scratchCount = 0

    package init(config: PSPNetConfig, seed: UInt64 = 0, threads: Int = 1) throws {
        try config.validate()
        self.config = config
        self.threads = threads
        scratch = .allocate(capacity: 1)
        declare()
        params.allocate()
        stats.allocate()
        params.initialise(seed: seed)
        stats.initialise(seed: seed)
    }

    deinit { scratch.deallocate() }

    package var bnPrefixes: [String] { batchesTracked.keys.sorted() }

    // MARK: parameters

    private func convBN(_ conv: String, _ bn: String, cin: Int, cout: Int, _ g: ConvGeometry, relu: Bool, head: Bool) -> ConvBNUnit {
        // Backbone convs: semseg's ResNet init (kaiming normal, fan_out), here its uniform equivalent; head convs:
        // PyTorch's default U(±1/√fan_in).
        let bound = head ? 1 / Float(cin * g.taps).squareRoot() : (6 / Float(cout * g.taps)).squareRoot()
        let w = params.add(conv + ".weight", torchShape: [cout, cin, g.kernel, g.kernel], layout: .convKxK, initBound: bound)
        let gamma = params.add(bn + ".weight", torchShape: [cout], layout: .vector, initConstant: 1)
        let beta = params.add(bn + ".bias", torchShape: [cout], layout: .vector)
        let rm = stats.add(bn + ".running_mean", torchShape: [cout], layout: .vector)
        let rv = stats.add(bn + ".running_var", torchShape: [cout], layout: .vector, initConstant: 1)
        batchesTracked[bn] = 0
        return ConvBNUnit(bn: bn, weight: params.views[w].offset, gamma: params.views[gamma].offset, beta: params.views[beta].offset,
                          runningMean: stats.views[rm].offset, runningVar: stats.views[rv].offset,
                          cin: cin, cout: cout, geometry: g, relu: relu)
    }

    private func declare() {
        let c = config, sw = c.stemWidth
        switch c.stem {
        case .deep:
            stem = [convBN("layer0.0", "layer0.1", cin: 3, cout: sw, ConvGeometry(kernel: 3, stride: 2, pad: 1), relu: true, head: false),
                    convBN("layer0.3", "layer0.4", cin: sw, cout: sw, ConvGeometry(kernel: 3, pad: 1), relu: true, head: false),
                    convBN("layer0.6", "layer0.7", cin: sw, cout: 2 * sw, ConvGeometry(kernel: 3, pad: 1), relu: true, head: false)]
        case .torchvision:
            stem = [convBN("layer0.0", "layer0.1", cin: 3, cout: sw, ConvGeometry(kernel: 7, stride: 2, pad: 3), relu: true, head: false)]
        }
        var inplanes = c.stemOut
        for i in 0..<4 {
            let planes = c.planes[i], out = c.layerOut(i), dil = c.layerDilations[i]
            var blocks: [BottleneckUnit] = []
            for b in 0..<c.blocks[i] {
                let p = "layer\(i + 1).\(b)"
                let stride = b == 0 ? c.layerStrides[i] : 1
                let conv1 = convBN(p + ".conv1", p + ".bn1", cin: inplanes, cout: planes, ConvGeometry(kernel: 1), relu: true, head: false)
                let conv2 = convBN(p + ".conv2", p + ".bn2", cin: planes, cout: planes,
                                   ConvGeometry(kernel: 3, stride: stride, pad: dil, dilation: dil), relu: true, head: false)
                let conv3 = convBN(p + ".conv3", p + ".bn3", cin: planes, cout: out, ConvGeometry(kernel: 1), relu: false, head: false)
                // semseg's _make_layer: a projection shortcut when the stride or the width changes (first block).
                let down = b == 0 && (c.layerStrides[i] != 1 || inplanes != out)
                    ? convBN(p + ".downsample.0", p + ".downsample.1", cin: inplanes, cout: out, ConvGeometry(kernel: 1, stride: stride),
                             relu: false, head: false)
                    : nil
                blocks.append(BottleneckUnit(conv1: conv1, conv2: conv2, conv3: conv3, downsample: down))
                inplanes = out
            }
            layers.append(blocks)
        }
        backboneCount = params.count
        ppm = c.bins.indices.map { j in
            convBN("ppm.features.\(j).1", "ppm.features.\(j).2", cin: c.featureWidth, cout: c.ppmWidth, ConvGeometry(kernel: 1),
                   relu: true, head: true)
        }
        func classifier(_ name: String, cin: Int, mid: Int) -> ClassifierUnit {
            let unit = convBN(name + ".0", name + ".1", cin: cin, cout: mid, ConvGeometry(kernel: 3, pad: 1), relu: true, head: true)
            let bound = 1 / Float(mid).squareRoot()
            let w = params.add(name + ".4.weight", torchShape: [c.numClasses, mid, 1, 1], layout: .convKxK, initBound: bound)
            let b = params.add(name + ".4.bias", torchShape: [c.numClasses], layout: .vector, initBound: bound)
            return ClassifierUnit(unit: unit, weight: params.views[w].offset, bias: params.views[b].offset)
        }
        cls = classifier("cls", cin: c.ppmOut, mid: c.classifierWidth)
        aux = classifier("aux", cin: c.layerOut(2), mid: c.auxWidth)
    }

    /// Names of the backbone's (layer0–layer4) parameters and statistics, as a pretrained ResNet provides them.
    package var backboneViews: [ParameterView] {
        params.views.filter { $0.offset < backboneCount } + stats.views.filter { $0.name.hasPrefix("layer") }
    }

    // MARK: forward

    func ensureScratch(_ count: Int) {
        if count > scratchCount {
            scratch.deallocate()
            scratch = .allocate(capacity: count)
            scratchCount = count
        }
    }

    private func forward(_ u: ConvBNUnit, _ x: Tensor, training: Bool) -> ConvBNActivations {
        let g = u.geometry, oh = g.outSize(x.h), ow = g.outSize(x.w)
        let conv = Tensor(n: x.n, h: oh, w: ow, c: u.cout), out = Tensor(n: x.n, h: oh, w: ow, c: u.cout)
        ensureScratch(Conv2d.scratchCount(h: x.h, w: x.w, cin: u.cin, geometry: g))
        Conv2d.forward(out: conv.data, inp: x.data, weight: params.values + u.weight, bias: nil, n: x.n, h: x.h, w: x.w,
                       cin: u.cin, cout: u.cout, geometry: g, scratch: scratch, threads: threads)
        var mean = [Float](repeating: 0, count: u.cout), rstd = mean
        let p = params.values, s = stats.values
        if training {
            BatchNorm2d.forwardTrain(out: out.data, inp: conv.data, gamma: p + u.gamma, beta: p + u.beta, mean: &mean, rstd: &rstd,
                                     runningMean: s + u.runningMean, runningVar: s + u.runningVar, rows: conv.rows, c: u.cout,
                                     threads: threads, reduce: shard?.sum)
            batchesTracked[u.bn, default: 0] += 1
        } else {
            BatchNorm2d.forwardEval(out: out.data, inp: conv.data, gamma: p + u.gamma, beta: p + u.beta, mean: &mean, rstd: &rstd,
                                    runningMean: s + u.runningMean, runningVar: s + u.runningVar, rows: conv.rows, c: u.cout,
                                    threads: threads)
        }
        if u.relu { ReLU.forward(out: out.data, inp: out.data, count: out.count) }
        return ConvBNActivations(conv: conv, out: out, mean: mean, rstd: rstd)
    }

    private func forward(_ b: BottleneckUnit, _ x: Tensor, training: Bool) -> BottleneckActivations {
        let a1 = forward(b.conv1, x, training: training)
        let a2 = forward(b.conv2, a1.out, training: training)
        let a3 = forward(b.conv3, a2.out, training: training)
        let down = b.downsample.map { forward($0, x, training: training) }
        let shortcut = down?.out ?? x
        let out = Tensor(n: a3.out.n, h: a3.out.h, w: a3.out.w, c: a3.out.c)
        precondition(shortcut.count == out.count, "bottleneck shortcut \(shortcut.count) vs \(out.count)")
        ResidualAdd.forward(out: out.data, a: a3.out.data, b: shortcut.data, count: out.count)
        ReLU.forward(out: out.data, inp: out.data, count: out.count)
        return BottleneckActivations(conv1: a1, conv2: a2, conv3: a3, downsample: down, out: out)
    }

    private func forward(_ h: ClassifierUnit, _ x: Tensor, outH: Int, outW: Int, training: Bool, dropoutSeed: UInt64) -> ClassifierActivations {
        let unit = forward(h.unit, x, training: training)
        let k = config.numClasses, mid = h.unit.cout, y = unit.out
        var mask: [Float]? = nil
        var dropped = y
        if training && config.dropout > 0 {
            let m = dropoutMask(n: y.n, c: mid, seed: dropoutSeed)
            dropped = Tensor(n: y.n, h: y.h, w: y.w, c: mid)
            Dropout2d.forward(out: dropped.data, inp: y.data, mask: m, n: y.n, hw: y.h * y.w, c: mid)
            mask = m
        }
        let logits = Tensor(n: y.n, h: y.h, w: y.w, c: k)
        Conv2d.forward(out: logits.data, inp: dropped.data, weight: params.values + h.weight, bias: params.values + h.bias,
                       n: y.n, h: y.h, w: y.w, cin: mid, cout: k, geometry: ConvGeometry(kernel: 1), scratch: scratch)
        let up = Tensor(n: y.n, h: outH, w: outW, c: k)
        BilinearResizeAlignCorners.forward(out: up.data, inp: logits.data, n: y.n, inH: y.h, inW: y.w, c: k, outH: outH, outW: outW,
                                           threads: threads)
        return ClassifierActivations(unit: unit, mask: mask, dropped: dropped, logits: logits, upsampled: up)
    }

    /// Dropout2d's mask [n, c] for this process's samples: drawn for the global batch (with `shard`) and sliced.
    private func dropoutMask(n: Int, c: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let offset = shard?.offset ?? 0
        var global = [Float](repeating: 0, count: (shard?.globalCount ?? n) * c)
        Dropout2d.makeMask(&global, n: global.count / c, c: c, p: config.dropout, rng: &rng)
        return Array(global[(offset * c)..<((offset + n) * c)])
    }

    /// Runs the network on normalised images [n, h, w, 3]. Training: batch statistics (running ones updated),
    /// Dropout2d drawn from `dropoutSeed`, and the auxiliary head. Logits at the input size are in
    /// `cls.upsampled` of the result.
    package func forward(images: UnsafePointer<Float>, n: Int, h: Int, w: Int, training: Bool, dropoutSeed: UInt64 = 0) -> PSPNetActivations {
        let input = Tensor(n: n, h: h, w: w, c: 3)
        input.data.update(from: images, count: input.count)
        var units: [ConvBNActivations] = []
        var x = input
        for u in stem { let a = forward(u, x, training: training); units.append(a); x = a.out }
        let ph = MaxPool2d.outSize(x.h, kernel: 3, stride: 2, pad: 1), pw = MaxPool2d.outSize(x.w, kernel: 3, stride: 2, pad: 1)
        let pool = Tensor(n: n, h: ph, w: pw, c: x.c)
        var argmax = [Int32](repeating: 0, count: pool.count)
        MaxPool2d.forward(out: pool.data, argmax: &argmax, inp: x.data, n: n, h: x.h, w: x.w, c: x.c, threads: threads)
        x = pool
        var acts: [[BottleneckActivations]] = []
        for layer in layers {
            var blocks: [BottleneckActivations] = []
            for b in layer { let a = forward(b, x, training: training); blocks.append(a); x = a.out }
            acts.append(blocks)
        }
        // Pyramid pooling on the layer4 features.
        let f = x, fc = f.c
        var pooled: [Tensor] = [], branches: [ConvBNActivations] = [], ups: [Tensor] = []
        for (j, bins) in config.bins.enumerated() {
            let p = Tensor(n: n, h: bins, w: bins, c: fc)
            AdaptiveAvgPool2d.forward(out: p.data, inp: f.data, n: n, h: f.h, w: f.w, c: fc, bins: bins)
            let a = forward(ppm[j], p, training: training)
            let up = Tensor(n: n, h: f.h, w: f.w, c: config.ppmWidth)
            BilinearResizeAlignCorners.forward(out: up.data, inp: a.out.data, n: n, inH: bins, inW: bins, c: config.ppmWidth,
                                               outH: f.h, outW: f.w, threads: threads)
            pooled.append(p); branches.append(a); ups.append(up)
        }
        let concat = Tensor(n: n, h: f.h, w: f.w, c: config.ppmOut)
        ChannelConcat.forward(out: concat.data, parts: [UnsafePointer(f.data)] + ups.map { UnsafePointer($0.data) },
                              widths: [fc] + ups.map(\.c), rows: f.rows)
        let ppmActs = PPMActivations(pooled: pooled, branches: branches, upsampled: ups, concat: concat)
        let clsActs = forward(cls, concat, outH: h, outW: w, training: training, dropoutSeed: SplitMix64(seed: dropoutSeed, 1).state)
        let auxActs = training
            ? forward(aux, acts[2].last!.out, outH: h, outW: w, training: true, dropoutSeed: SplitMix64(seed: dropoutSeed, 2).state)
            : nil
        return PSPNetActivations(input: input, training: training, stem: StemActivations(units: units, pool: pool, argmax: argmax),
                                 layers: acts, ppm: ppmActs, cls: clsActs, aux: auxActs)
    }

    // MARK: loss

    /// Cross-entropy (ignore 255) of the main logits and, in training, of the aux logits against labels [n, h, w];
    /// total = main + auxWeight · aux. Overwrites `upsampled` of cls/aux with the gradient of the total.
    package func loss(_ saved: PSPNetActivations, labels: UnsafePointer<UInt8>) -> PSPNetLoss {
        let main = crossEntropy(saved.cls.upsampled, labels: labels)
        var auxLoss = 0.0
        if let a = saved.aux {
            let r = crossEntropy(a.upsampled, labels: labels)
            let wgt = config.auxWeight
            for i in 0..<a.upsampled.count { a.upsampled.data[i] *= wgt }
            auxLoss = r.loss
        }
        return PSPNetLoss(main: main.loss, aux: auxLoss, total: main.loss + Double(config.auxWeight) * auxLoss, valid: main.valid)
    }

    /// Mean cross-entropy of `logits` (over the labelled pixels of the global batch with `shard`); its gradient
    /// overwrites the logits.
    private func crossEntropy(_ logits: Tensor, labels: UnsafePointer<UInt8>) -> (loss: Double, valid: Int) {
        let k = config.numClasses, pixels = logits.rows
        var r = SoftmaxCrossEntropy.forward(probs: logits.data, logits: logits.data, labels: labels, pixels: pixels, k: k,
                                            threads: threads)
        if let shard {
            var sums = [r.loss * Double(r.valid), Double(r.valid)]
            sums.withUnsafeMutableBufferPointer { shard.sum($0) }
            r = (sums[1] > 0 ? sums[0] / sums[1] : 0, Int(sums[1]))
        }
        SoftmaxCrossEntropy.backwardInPlace(probs: logits.data, labels: labels, pixels: pixels, k: k, valid: r.valid, threads: threads)
        return r
    }

    // MARK: optimizer

    /// One SGD step with semseg's two parameter groups: `lr` for layer0–layer4, `headLR` for ppm, cls and aux.
    package func sgdStep(lr: Float, headLR: Float, momentum: Float, weightDecay: Float) {
        params.sgdStep(lr: lr, momentum: momentum, weightDecay: weightDecay, range: 0..<backboneCount)
        params.sgdStep(lr: headLR, momentum: momentum, weightDecay: weightDecay, range: backboneCount..<params.count)
    }
}
