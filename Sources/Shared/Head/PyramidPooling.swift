import DinoSegNN
// Context module: semseg's pyramid pooling module (PSPNet's PPM), with its state_dict names under `ppm.`:
//   ppm.features.{j}.1.weight          branch j: Sequential(AdaptiveAvgPool2d(bins_j), Conv2d 1×1 no bias, BatchNorm2d, ReLU)
//   ppm.features.{j}.2.{weight,bias}   (running statistics are buffers)
// The output is the input concatenated with every branch resized back to h×w: bilinear with align_corners=False in
// the DinoSeg head (docs/DESIGN.md §6), True in semseg's PSPNet (`alignCorners`).
//
// Shapes (NHWC; n = batch, h×w×c the input, r = reduction per branch, b = bins of branch j):
//   x               [n, h, w, c]
//   pooled          [n, b, b, c]     conv, bn [n, b, b, r] (bn holds BN then ReLU, in place)   mean, rstd [r]
//   upsampled       [n, h, w, r]
//   concat          [n, h, w, c + bins·r]   the module's output
struct PyramidPooling {
    struct Branch { let bins: Int; let conv: HeadConv; let bn: HeadBN }
    let inputWidth: Int, reduction: Int
    let alignCorners: Bool
    let branches: [Branch]

    var outputWidth: Int { inputWidth + branches.count * reduction }

    struct Slots {
        let inputWidth: Int, reduction: Int, alignCorners: Bool
        let bins: [Int], convs: [ConvSlot], bns: [BNSlot]
        func resolve(_ params: ParameterArena, _ stats: ParameterArena) -> PyramidPooling {
            PyramidPooling(inputWidth: inputWidth, reduction: reduction, alignCorners: alignCorners,
                           branches: bins.indices.map { Branch(bins: bins[$0], conv: convs[$0].resolve(params),
                                                               bn: bns[$0].resolve(params, stats)) })
        }
    }

    static func declare(_ d: HeadParameterDeclarer, prefix: String = "ppm", inputWidth c: Int, bins: [Int], reduction r: Int,
                        alignCorners: Bool) -> Slots {
        var convs: [ConvSlot] = [], bns: [BNSlot] = []
        for j in bins.indices {
            convs.append(d.conv("\(prefix).features.\(j).1", cin: c, cout: r, kernel: 1, bias: false))
            bns.append(d.batchNorm("\(prefix).features.\(j).2", width: r))
        }
        return Slots(inputWidth: c, reduction: r, alignCorners: alignCorners, bins: bins, convs: convs, bns: bns)
    }

    struct BranchActivations { let pooled, conv, bn, upsampled, mean, rstd: HeadTensor }

    struct Activations {
        let branches: [BranchActivations]
        let concat: HeadTensor
        init(_ m: PyramidPooling, n: Int, h: Int, w: Int, store s: TensorStore) {
            let c = m.inputWidth, r = m.reduction
            branches = m.branches.map { b in
                BranchActivations(pooled: s.tensor([n, b.bins, b.bins, c]), conv: s.tensor([n, b.bins, b.bins, r]),
                                  bn: s.tensor([n, b.bins, b.bins, r]), upsampled: s.tensor([n, h, w, r]),
                                  mean: s.tensor([r]), rstd: s.tensor([r]))
            }
            concat = s.tensor([n, h, w, m.outputWidth])
        }
    }

    struct BranchGradients {
        let upsampled, relu, bn, conv: HeadTensor
        /// nil when the input needs no gradient (nothing trainable below).
        let pooled: HeadTensor?
    }

    struct Gradients {
        let branches: [BranchGradients]
        init(_ m: PyramidPooling, n: Int, h: Int, w: Int, inputGradient: Bool, store s: TensorStore) {
            let c = m.inputWidth, r = m.reduction
            branches = m.branches.map { b in
                BranchGradients(upsampled: s.tensor([n, h, w, r]), relu: s.tensor([n, b.bins, b.bins, r]),
                                bn: s.tensor([n, b.bins, b.bins, r]), conv: s.tensor([n, b.bins, b.bins, r]),
                                pooled: inputGradient ? s.tensor([n, b.bins, b.bins, c]) : nil)
            }
        }
    }

    private func resize(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, n: Int, bins: Int, h: Int, w: Int,
                        threads: Int) {
        if alignCorners {
            BilinearResizeAlignCorners.forward(out: out, inp: inp, n: n, inH: bins, inW: bins, c: reduction, outH: h, outW: w,
                                               threads: threads)
        } else {
            BilinearResize.forward(out: out, inp: inp, n: n, inH: bins, inW: bins, c: reduction, outH: h, outW: w, threads: threads)
        }
    }

    private func resizeBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, n: Int, bins: Int, h: Int,
                                w: Int, threads: Int) {
        if alignCorners {
            BilinearResizeAlignCorners.backward(dinp: dinp, dout: dout, n: n, inH: bins, inW: bins, c: reduction, outH: h,
                                                outW: w, threads: threads)
        } else {
            BilinearResize.backward(dinp: dinp, dout: dout, n: n, inH: bins, inW: bins, c: reduction, outH: h, outW: w,
                                    threads: threads)
        }
    }

    func forward(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, a: Activations, ops: HeadOps, training: Bool) {
        let c = inputWidth, r = reduction
        var parts: [UnsafePointer<Float>] = [x], widths = [c]
        for (b, t) in zip(branches, a.branches) {
            let cells = n * b.bins * b.bins
            AdaptiveAvgPool2d.forward(out: t.pooled.data, inp: x, n: n, h: h, w: w, c: c, bins: b.bins)
            ops.conv1x1Forward(out: t.conv.data, inp: t.pooled.data, weight: b.conv.weight.value, bias: nil, n: n, h: b.bins,
                               w: b.bins, cin: c, cout: r)
            ops.batchNorm(b.bn, out: t.bn.data, inp: t.conv.data, mean: t.mean.data, rstd: t.rstd.data, rows: cells, c: r,
                          training: training)
            ReLU.forward(out: t.bn.data, inp: t.bn.data, count: cells * r)
            resize(t.upsampled.data, t.bn.data, n: n, bins: b.bins, h: h, w: w, threads: ops.threads)
            parts.append(UnsafePointer(t.upsampled.data)); widths.append(r)
        }
        ChannelConcat.forward(out: a.concat.data, parts: parts, widths: widths, rows: n * h * w)
    }

    /// Parameter gradients from `dOut` (the gradient at `concat`); the input gradient is accumulated into `dInput` when
    /// given (the gradients must then have been made with `inputGradient`).
    func backward(dOut: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?, n: Int, h: Int, w: Int,
                  a: Activations, g: Gradients, ops: HeadOps) {
        let c = inputWidth, r = reduction
        var dParts: [UnsafeMutablePointer<Float>?] = [dInput], widths = [c]
        for d in g.branches { d.upsampled.zero(); dParts.append(d.upsampled.data); widths.append(r) }
        ChannelConcat.backward(dparts: dParts, dout: dOut, widths: widths, rows: n * h * w)
        for (b, (t, d)) in zip(branches, zip(a.branches, g.branches)) {
            let cells = n * b.bins * b.bins
            d.relu.zero()
            resizeBackward(d.relu.data, d.upsampled.data, n: n, bins: b.bins, h: h, w: w, threads: ops.threads)
            d.bn.zero()
            ReLU.backward(dinp: d.bn.data, dout: d.relu.data, out: t.bn.data, count: cells * r)
            d.conv.zero()
            ops.batchNormBackward(b.bn, dinp: d.conv.data, dout: d.bn.data, inp: t.conv.data, mean: t.mean.data,
                                  rstd: t.rstd.data, rows: cells, c: r, threads: 1)
            d.pooled?.zero()
            ops.conv1x1Backward(dinp: d.pooled?.data, dweight: b.conv.weight.grad, dbias: nil, dout: d.conv.data,
                                inp: t.pooled.data, weight: b.conv.weight.value, n: n, h: b.bins, w: b.bins, cin: c, cout: r)
            if let dPool = d.pooled, let dInput {
                AdaptiveAvgPool2d.backward(dinp: dInput, dout: dPool.data, n: n, h: h, w: w, c: c, bins: b.bins)
            }
        }
    }
}
