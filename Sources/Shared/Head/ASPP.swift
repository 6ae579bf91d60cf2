import DinoSegCore
import DinoSegKernels
import DinoSegNN
// Context module: DeepLabV3's atrous spatial pyramid pooling, as torchvision's
// `torchvision.models.segmentation.deeplabv3.ASPP`, with its state_dict names under `aspp.`:
//   aspp.convs.0.0.weight, aspp.convs.0.1.*            1×1 conv c → o (no bias), BatchNorm2d, ReLU
//   aspp.convs.{1,2,3}.0.weight, aspp.convs.{1,2,3}.1.*   3×3 conv c → o, dilation = padding = rate, BN, ReLU (ASPPConv)
//   aspp.convs.4.1.weight, aspp.convs.4.2.*            ASPPPooling: AdaptiveAvgPool2d(1), 1×1 conv, BN, ReLU, then
//                                                      bilinear (align_corners=False) back to h×w: a broadcast
//   aspp.project.0.weight, aspp.project.1.*            1×1 conv 5·o → o, BN, ReLU, Dropout(p) (elementwise, training only)
//
// Shapes (NHWC; n = batch, h×w×c the input, o = ASPP width, rows = n·h·w):
//   x                  [n, h, w, c]
//   branch[0...3]      conv, bn [n, h, w, o] (bn holds BN then ReLU, in place)   mean, rstd [o]
//   pooled             [n, 1, 1, c]   pool.conv, pool.bn [n, 1, 1, o]   poolUp [n, h, w, o]
//   concat             [n, h, w, 5·o]
//   project            conv, bn [n, h, w, o]
//   dropoutMask        [rows, o]      dropped [n, h, w, o]   (with dropout > 0; training only)
//   output             dropped in training with dropout, else project.bn
struct ASPP {
    /// conv → BatchNorm → ReLU, the unit every ASPP branch and the projection are made of.
    struct Unit { let conv: HeadConv; let bn: HeadBN; let geometry: ConvGeometry }
    let inputWidth: Int, width: Int
    let dropout: Float
    /// The 1×1 branch and the three atrous branches.
    let branches: [Unit]
    let pool: Unit, project: Unit

    var outputWidth: Int { width }

    struct UnitSlots {
        let conv: ConvSlot, bn: BNSlot, geometry: ConvGeometry
        func resolve(_ params: ParameterArena, _ stats: ParameterArena) -> Unit {
            Unit(conv: conv.resolve(params), bn: bn.resolve(params, stats), geometry: geometry)
        }
    }

    struct Slots {
        let inputWidth: Int, width: Int, dropout: Float
        let branches: [UnitSlots], pool: UnitSlots, project: UnitSlots
        func resolve(_ params: ParameterArena, _ stats: ParameterArena) -> ASPP {
            ASPP(inputWidth: inputWidth, width: width, dropout: dropout, branches: branches.map { $0.resolve(params, stats) },
                 pool: pool.resolve(params, stats), project: project.resolve(params, stats))
        }
    }

    static func declare(_ d: HeadParameterDeclarer, prefix: String = "aspp", inputWidth c: Int, width o: Int, rates: [Int],
                        dropout: Float) -> Slots {
        func unit(_ conv: String, _ bn: String, cin: Int, _ g: ConvGeometry) -> UnitSlots {
            UnitSlots(conv: d.conv(conv, cin: cin, cout: o, kernel: g.kernel, bias: false), bn: d.batchNorm(bn, width: o), geometry: g)
        }
        var branches = [unit("\(prefix).convs.0.0", "\(prefix).convs.0.1", cin: c, ConvGeometry(kernel: 1))]
        for (i, rate) in rates.enumerated() {
            branches.append(unit("\(prefix).convs.\(i + 1).0", "\(prefix).convs.\(i + 1).1", cin: c,
                                 ConvGeometry(kernel: 3, pad: rate, dilation: rate)))
        }
        let pool = unit("\(prefix).convs.\(rates.count + 1).1", "\(prefix).convs.\(rates.count + 1).2", cin: c, ConvGeometry(kernel: 1))
        let project = unit("\(prefix).project.0", "\(prefix).project.1", cin: (rates.count + 2) * o, ConvGeometry(kernel: 1))
        return Slots(inputWidth: c, width: o, dropout: dropout, branches: branches, pool: pool, project: project)
    }

    /// Scratch floats of the atrous convolutions' column buffer (im2col of one image).
    static func scratchCount(h: Int, w: Int, cin: Int, rates: [Int]) -> Int {
        rates.map { Conv2d.scratchCount(h: h, w: w, cin: cin, geometry: ConvGeometry(kernel: 3, pad: $0, dilation: $0)) }.max() ?? 0
    }

    struct UnitActivations {
        let conv, bn, mean, rstd: HeadTensor
        init(n: Int, h: Int, w: Int, o: Int, store s: TensorStore) {
            conv = s.tensor([n, h, w, o]); bn = s.tensor([n, h, w, o]); mean = s.tensor([o]); rstd = s.tensor([o])
        }
    }

    final class Activations {
        let branches: [UnitActivations]
        let pooled: HeadTensor, pool: UnitActivations, poolUp: HeadTensor
        let concat: HeadTensor
        let project: UnitActivations
        let dropoutMask, dropped: HeadTensor?
        /// Whether the last forward applied dropout (training with dropout > 0).
        var dropoutApplied = false

        init(_ m: ASPP, n: Int, h: Int, w: Int, store s: TensorStore) {
            let o = m.width
            branches = m.branches.map { _ in UnitActivations(n: n, h: h, w: w, o: o, store: s) }
            pooled = s.tensor([n, 1, 1, m.inputWidth])
            pool = UnitActivations(n: n, h: 1, w: 1, o: o, store: s)
            poolUp = s.tensor([n, h, w, o])
            concat = s.tensor([n, h, w, (m.branches.count + 1) * o])
            project = UnitActivations(n: n, h: h, w: w, o: o, store: s)
            dropoutMask = m.dropout > 0 ? s.tensor([n * h * w, o]) : nil
            dropped = m.dropout > 0 ? s.tensor([n, h, w, o]) : nil
        }

        /// The module's output (the classifier's input).
        var output: UnsafeMutablePointer<Float> { dropoutApplied ? dropped!.data : project.bn.data }
    }

    struct UnitGradients {
        /// At the ReLU output, the BN output, the conv output.
        let out, bn, conv: HeadTensor
        init(n: Int, h: Int, w: Int, o: Int, store s: TensorStore) {
            out = s.tensor([n, h, w, o]); bn = s.tensor([n, h, w, o]); conv = s.tensor([n, h, w, o])
        }
    }

    struct Gradients {
        /// At the projection's ReLU output when dropout sits between (nil without dropout).
        let relu: HeadTensor?
        let project: UnitGradients
        let concat: HeadTensor
        let branches: [UnitGradients]
        let poolUp: HeadTensor, pool: UnitGradients
        /// At the pooled input (nil when the input needs no gradient).
        let pooled: HeadTensor?

        init(_ m: ASPP, n: Int, h: Int, w: Int, inputGradient: Bool, store s: TensorStore) {
            let o = m.width
            relu = m.dropout > 0 ? s.tensor([n, h, w, o]) : nil
            project = UnitGradients(n: n, h: h, w: w, o: o, store: s)
            concat = s.tensor([n, h, w, (m.branches.count + 1) * o])
            branches = m.branches.map { _ in UnitGradients(n: n, h: h, w: w, o: o, store: s) }
            poolUp = s.tensor([n, h, w, o])
            pool = UnitGradients(n: n, h: 1, w: 1, o: o, store: s)
            pooled = inputGradient ? s.tensor([n, 1, 1, m.inputWidth]) : nil
        }
    }

    private func convForward(_ u: Unit, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int, h: Int, w: Int,
                             cin: Int, ops: HeadOps, scratch: HeadTensor) {
        if u.geometry.kernel == 1 {
            Conv1x1.forward(out: out, inp: inp, weight: u.conv.weight.value, bias: nil, rows: n * h * w, cin: cin, cout: width)
        } else {
            Conv2d.forward(out: out, inp: inp, weight: u.conv.weight.value, bias: nil, n: n, h: h, w: w, cin: cin, cout: width,
                           geometry: u.geometry, scratch: scratch.data, threads: ops.threads)
        }
    }

    private func convBackward(_ u: Unit, dinp: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                              n: Int, h: Int, w: Int, cin: Int, ops: HeadOps, scratch: HeadTensor) {
        if u.geometry.kernel == 1 {
            Conv1x1.backward(dinp: dinp, dweight: u.conv.weight.grad, dbias: nil, dout: dout, inp: inp, weight: u.conv.weight.value,
                             rows: n * h * w, cin: cin, cout: width)
        } else {
            Conv2d.backward(dinp: dinp, dweight: u.conv.weight.grad, dbias: nil, dout: dout, inp: inp, weight: u.conv.weight.value,
                            n: n, h: h, w: w, cin: cin, cout: width, geometry: u.geometry, scratch: scratch.data,
                            threads: ops.threads)
        }
    }

    /// conv → BN → ReLU (in place on `a.bn`).
    private func unitForward(_ u: Unit, _ a: UnitActivations, inp: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int,
                             ops: HeadOps, training: Bool, scratch: HeadTensor) {
        let rows = n * h * w
        convForward(u, out: a.conv.data, inp: inp, n: n, h: h, w: w, cin: cin, ops: ops, scratch: scratch)
        ops.batchNorm(u.bn, out: a.bn.data, inp: a.conv.data, mean: a.mean.data, rstd: a.rstd.data, rows: rows, c: width,
                      training: training)
        ReLU.forward(out: a.bn.data, inp: a.bn.data, count: rows * width)
    }

    /// From `g.out` (the gradient at the unit's ReLU output) to its parameters and, when given, `dinp` (accumulated).
    private func unitBackward(_ u: Unit, _ a: UnitActivations, _ g: UnitGradients, inp: UnsafePointer<Float>,
                              dinp: UnsafeMutablePointer<Float>?, n: Int, h: Int, w: Int, cin: Int, ops: HeadOps, scratch: HeadTensor) {
        let rows = n * h * w
        g.bn.zero()
        ReLU.backward(dinp: g.bn.data, dout: g.out.data, out: a.bn.data, count: rows * width)
        g.conv.zero()
        ops.batchNormBackward(u.bn, dinp: g.conv.data, dout: g.bn.data, inp: a.conv.data, mean: a.mean.data, rstd: a.rstd.data,
                              rows: rows, c: width)
        convBackward(u, dinp: dinp, dout: g.conv.data, inp: inp, n: n, h: h, w: w, cin: cin, ops: ops, scratch: scratch)
    }

    /// Dropout draws its mask from stream 11 of `dropoutSeed`.
    func forward(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, a: Activations, ops: HeadOps, training: Bool,
                 dropoutSeed: UInt64, scratch: HeadTensor) {
        let c = inputWidth, o = width, rows = n * h * w
        for (u, t) in zip(branches, a.branches) {
            unitForward(u, t, inp: x, n: n, h: h, w: w, cin: c, ops: ops, training: training, scratch: scratch)
        }
        AdaptiveAvgPool2d.forward(out: a.pooled.data, inp: x, n: n, h: h, w: w, c: c, bins: 1)
        unitForward(pool, a.pool, inp: a.pooled.data, n: n, h: 1, w: 1, cin: c, ops: ops, training: training, scratch: scratch)
        BilinearResize.forward(out: a.poolUp.data, inp: a.pool.bn.data, n: n, inH: 1, inW: 1, c: o, outH: h, outW: w,
                               threads: ops.threads)
        let parts = a.branches.map { UnsafePointer($0.bn.data) } + [UnsafePointer(a.poolUp.data)]
        ChannelConcat.forward(out: a.concat.data, parts: parts, widths: parts.map { _ in o }, rows: rows)
        unitForward(project, a.project, inp: a.concat.data, n: n, h: h, w: w, cin: parts.count * o, ops: ops, training: training,
                    scratch: scratch)
        a.dropoutApplied = training && dropout > 0
        if a.dropoutApplied, let mask = a.dropoutMask, let dropped = a.dropped {
            // nn.Dropout zeroes single elements: Dropout2d's per-(row, channel) mask with one pixel per row.
            var rng = SplitMix64(seed: dropoutSeed, 11)
            ops.dropoutMask(mask.data, n: n, rowsPerSample: h * w, c: o, p: dropout, rng: &rng)
            Dropout2d.forward(out: dropped.data, inp: a.project.bn.data, mask: mask.data, n: rows, hw: 1, c: o)
        }
    }

    /// Parameter gradients from `dOut` (the gradient at `output`); the input gradient is accumulated into `dInput` when
    /// given (the gradients must then have been made with `inputGradient`).
    func backward(dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?, n: Int, h: Int,
                  w: Int, a: Activations, g: Gradients, ops: HeadOps, scratch: HeadTensor) {
        let c = inputWidth, o = width, rows = n * h * w
        g.project.out.zero()
        if a.dropoutApplied, let mask = a.dropoutMask {
            Dropout2d.backward(dinp: g.project.out.data, dout: dOut, mask: mask.data, n: rows, hw: 1, c: o)
        } else {
            g.project.out.data.update(from: dOut, count: rows * o)
        }
        g.concat.zero()
        unitBackward(project, a.project, g.project, inp: a.concat.data, dinp: g.concat.data, n: n, h: h, w: w,
                     cin: (branches.count + 1) * o, ops: ops, scratch: scratch)
        for d in g.branches { d.out.zero() }
        g.poolUp.zero()
        let dParts: [UnsafeMutablePointer<Float>?] = g.branches.map { $0.out.data } + [g.poolUp.data]
        ChannelConcat.backward(dparts: dParts, dout: g.concat.data, widths: dParts.map { _ in o }, rows: rows)
        for (u, (t, d)) in zip(branches, zip(a.branches, g.branches)) {
            unitBackward(u, t, d, inp: x, dinp: dInput, n: n, h: h, w: w, cin: c, ops: ops, scratch: scratch)
        }
        g.pool.out.zero()
        BilinearResize.backward(dinp: g.pool.out.data, dout: g.poolUp.data, n: n, inH: 1, inW: 1, c: o, outH: h, outW: w,
                                threads: ops.threads)
        g.pooled?.zero()
        unitBackward(pool, a.pool, g.pool, inp: a.pooled.data, dinp: g.pooled?.data, n: n, h: 1, w: 1, cin: c, ops: ops,
                     scratch: scratch)
        if let dPooled = g.pooled, let dInput {
            AdaptiveAvgPool2d.backward(dinp: dInput, dout: dPooled.data, n: n, h: h, w: w, c: c, bins: 1)
        }
    }
}
