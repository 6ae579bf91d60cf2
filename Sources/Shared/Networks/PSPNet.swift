import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegNN

// semseg's PSPNet(layers=50) on channels-last maps, with its state_dict names:
//   layer0.{0,3,6}.weight + layer0.{1,4,7}.*   deep stem (conv, BN) ×3, then max-pool (torchvision stem: layer0.0, layer0.1)
//   layer{1..4}.{b}.conv{1,2,3}.weight, .bn{1,2,3}.*, .downsample.{0,1}.*   bottleneck blocks (stride on conv2)
//   ppm.features.{j}.{1,2}.*   the head's PyramidPooling module (align corners)
//   cls.{0,1,4}.*  aux.{0,1,4}.*   the head's SegmentationClassifier module: conv 3×3, BN, ReLU, Dropout2d, conv 1×1
//                                  (+bias); its logits are resized (align corners) to the input size here
// Parameters of layer0–layer4 come first in the arena (the backbone's learning rate), ppm/cls/aux after them
// (10× learning rate, semseg's index_split). The modules run with `HeadOps.viaConv2d` (the convolution engines timed
// for this network) and the network's SyncBN shard.

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

package final class PSPNet {
    package let config: PSPNetConfig
    package let params = ParameterArena()
    /// BatchNorm running statistics (`<bn>.running_mean`, `<bn>.running_var`).
    package let stats = ParameterArena()
    /// `num_batches_tracked` per BatchNorm prefix of layer0–layer4.
    private var backboneTracked: [String: Int64] = [:]
    /// `num_batches_tracked` of the modules' BatchNorms, in `moduleBNPrefixes` order.
    private var moduleCounters = BatchNormCounters(count: 0)
    private var moduleBNPrefixes: [String] = []
    package var threads: Int
    /// Parameters [0, backboneCount) are layer0–layer4; the rest are ppm, cls and aux.
    package private(set) var backboneCount = 0
    /// Data-parallel training: the part of the global batch this process holds. Training BatchNorm (SyncBN) and the
    /// loss then use sums over the global batch, and Dropout2d draws the global batch's mask and keeps this part of it,
    /// so the processes together compute what one process computes on the whole batch. nil: the batch is all.
    package var shard: BatchShard?

    var stem: [ConvBNUnit] = []
    var layers: [[BottleneckUnit]] = []
    var ppm: PyramidPooling!
    var cls: SegmentationClassifier!
    var aux: SegmentationClassifier!
    var scratch: UnsafeMutablePointer<Float>
    var scratchCount = 0

    package init(config: PSPNetConfig, seed: UInt64 = 0, threads: Int = 1) throws {
        try config.validate()
        self.config = config
        self.threads = threads
        scratch = .allocate(capacity: 1)
        declareBackbone()
        let modules = PSPNet.declareModules(config, params: params, stats: stats)
        params.allocate()
        stats.allocate()
        params.initialise(seed: seed)
        stats.initialise(seed: seed)
        ppm = modules.ppm.resolve(params, stats)
        cls = modules.cls.resolve(params, stats)
        aux = modules.aux.resolve(params, stats)
        moduleBNPrefixes = modules.bnPrefixes
        moduleCounters = BatchNormCounters(count: modules.bnPrefixes.count)
    }

    deinit { scratch.deallocate() }

    /// `num_batches_tracked` per BatchNorm prefix (checkpoints, and the state data-parallel processes start from).
    package var batchesTracked: [String: Int64] {
        get { backboneTracked.merging(zip(moduleBNPrefixes, moduleCounters.tracked)) { old, _ in old } }
        set {
            let modules = Set(moduleBNPrefixes)
            backboneTracked = newValue.filter { !modules.contains($0.key) }
            for (i, prefix) in moduleBNPrefixes.enumerated() { moduleCounters.tracked[i] = newValue[prefix] ?? 0 }
        }
    }

    package var bnPrefixes: [String] { batchesTracked.keys.sorted() }

    /// What the modules share for one pass: this network's threads and shard, Conv2d's engines.
    var ops: HeadOps {
        HeadOps(threads: threads, useWinograd: false, shard: shard, counters: moduleCounters, viaConv2d: true)
    }

    // MARK: parameters

    private func convBN(_ conv: String, _ bn: String, cin: Int, cout: Int, _ g: ConvGeometry, relu: Bool) -> ConvBNUnit {
        // semseg's ResNet init (kaiming normal, fan_out), here its uniform equivalent (the modules declare PyTorch's
        // default U(±1/√fan_in) for theirs).
        let bound = (6 / Float(cout * g.taps)).squareRoot()
        let w = params.add(conv + ".weight", torchShape: [cout, cin, g.kernel, g.kernel], layout: .convKxK, initBound: bound)
        let gamma = params.add(bn + ".weight", torchShape: [cout], layout: .vector, initConstant: 1)
        let beta = params.add(bn + ".bias", torchShape: [cout], layout: .vector)
        let rm = stats.add(bn + ".running_mean", torchShape: [cout], layout: .vector)
        let rv = stats.add(bn + ".running_var", torchShape: [cout], layout: .vector, initConstant: 1)
        backboneTracked[bn] = 0
        return ConvBNUnit(bn: bn, weight: params.views[w].offset, gamma: params.views[gamma].offset, beta: params.views[beta].offset,
                          runningMean: stats.views[rm].offset, runningVar: stats.views[rv].offset,
                          cin: cin, cout: cout, geometry: g, relu: relu)
    }

    private func declareBackbone() {
        let c = config, sw = c.stemWidth
        switch c.stem {
        case .deep:
            stem = [convBN("layer0.0", "layer0.1", cin: 3, cout: sw, ConvGeometry(kernel: 3, stride: 2, pad: 1), relu: true),
                    convBN("layer0.3", "layer0.4", cin: sw, cout: sw, ConvGeometry(kernel: 3, pad: 1), relu: true),
                    convBN("layer0.6", "layer0.7", cin: sw, cout: 2 * sw, ConvGeometry(kernel: 3, pad: 1), relu: true)]
        case .torchvision:
            stem = [convBN("layer0.0", "layer0.1", cin: 3, cout: sw, ConvGeometry(kernel: 7, stride: 2, pad: 3), relu: true)]
        }
        var inplanes = c.stemOut
        for i in 0..<4 {
            let planes = c.planes[i], out = c.layerOut(i), dil = c.layerDilations[i]
            var blocks: [BottleneckUnit] = []
            for b in 0..<c.blocks[i] {
                let p = "layer\(i + 1).\(b)"
                let stride = b == 0 ? c.layerStrides[i] : 1
                let conv1 = convBN(p + ".conv1", p + ".bn1", cin: inplanes, cout: planes, ConvGeometry(kernel: 1), relu: true)
                let conv2 = convBN(p + ".conv2", p + ".bn2", cin: planes, cout: planes,
                                   ConvGeometry(kernel: 3, stride: stride, pad: dil, dilation: dil), relu: true)
                let conv3 = convBN(p + ".conv3", p + ".bn3", cin: planes, cout: out, ConvGeometry(kernel: 1), relu: false)
                // semseg's _make_layer: a projection shortcut when the stride or the width changes (first block).
                let down = b == 0 && (c.layerStrides[i] != 1 || inplanes != out)
                    ? convBN(p + ".downsample.0", p + ".downsample.1", cin: inplanes, cout: out, ConvGeometry(kernel: 1, stride: stride),
                             relu: false)
                    : nil
                blocks.append(BottleneckUnit(conv1: conv1, conv2: conv2, conv3: conv3, downsample: down))
                inplanes = out
            }
            layers.append(blocks)
        }
        backboneCount = params.count
    }

    struct DeclaredModules {
        var ppm: PyramidPooling.Slots
        var cls: SegmentationClassifier.Slots, aux: SegmentationClassifier.Slots
        var bnPrefixes: [String]
    }

    /// The head modules after the backbone, in semseg's order (ppm, cls, aux): the arena order, so each parameter keeps
    /// its initialisation stream and checkpoint position. PyTorch's default init, as the modules declare it.
    static func declareModules(_ c: PSPNetConfig, params: ParameterArena, stats: ParameterArena) -> DeclaredModules {
        let d = HeadParameterDeclarer(params: params, stats: stats)
        let ppm = PyramidPooling.declare(d, inputWidth: c.featureWidth, bins: c.bins, reduction: c.ppmWidth, alignCorners: true)
        let cls = SegmentationClassifier.declare(d, prefix: "cls", inputWidth: c.ppmOut, width: c.classifierWidth,
                                                 classes: c.numClasses, dropout: c.dropout)
        let aux = SegmentationClassifier.declare(d, prefix: "aux", inputWidth: c.layerOut(2), width: c.auxWidth,
                                                 classes: c.numClasses, dropout: c.dropout)
        return DeclaredModules(ppm: ppm, cls: cls, aux: aux, bnPrefixes: d.bnPrefixes)
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
            backboneTracked[u.bn, default: 0] += 1
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

    /// A classifier module on `x` (n × h × w), its logits resized (align corners) to outH × outW; Dropout2d draws from
    /// `SplitMix64(seed: dropoutSeed)`.
    private func classify(_ m: SegmentationClassifier, _ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, outH: Int, outW: Int,
                          training: Bool, dropoutSeed: UInt64, store: TensorStore) -> ClassifierActivations {
        let a = SegmentationClassifier.Activations(m, n: n, h: h, w: w, store: store)
        m.forward(x, n: n, h: h, w: w, a: a, ops: ops, training: training, dropoutRNG: SplitMix64(seed: dropoutSeed),
                  scratch: conv3x3Scratch(h: h, w: w, cin: m.inputWidth))
        let k = config.numClasses
        let up = Tensor(n: n, h: outH, w: outW, c: k)
        BilinearResizeAlignCorners.forward(out: up.data, inp: a.logits.data, n: n, inH: h, inW: w, c: k, outH: outH, outW: outW,
                                           threads: threads)
        return ClassifierActivations(module: a, upsampled: up)
    }

    /// The network's scratch, grown for a classifier's 3×3 convolution (Conv2d's im2col columns).
    func conv3x3Scratch(h: Int, w: Int, cin: Int) -> HeadTensor {
        let count = Conv2d.scratchCount(h: h, w: w, cin: cin, geometry: ConvGeometry(kernel: 3, pad: 1))
        ensureScratch(count)
        return HeadTensor(data: scratch, shape: [count], count: count)
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
        // Pyramid pooling on the layer4 features, the classifier on its output, the aux classifier on layer3's.
        let f = x, store = TensorStore(pool: .shared)
        let ppmActs = PyramidPooling.Activations(ppm, n: n, h: f.h, w: f.w, store: store)
        ppm.forward(f.data, n: n, h: f.h, w: f.w, a: ppmActs, ops: ops, training: training)
        let clsActs = classify(cls, ppmActs.concat.data, n: n, h: f.h, w: f.w, outH: h, outW: w, training: training,
                               dropoutSeed: SplitMix64(seed: dropoutSeed, 1).state, store: store)
        let l3 = acts[2].last!.out
        let auxActs = training
            ? classify(aux, l3.data, n: n, h: l3.h, w: l3.w, outH: h, outW: w, training: true,
                       dropoutSeed: SplitMix64(seed: dropoutSeed, 2).state, store: store)
            : nil
        return PSPNetActivations(input: input, training: training, stem: StemActivations(units: units, pool: pool, argmax: argmax),
                                 layers: acts, modules: store, ppm: ppmActs, cls: clsActs, aux: auxActs)
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
