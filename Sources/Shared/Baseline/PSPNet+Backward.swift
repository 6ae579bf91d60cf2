import DinoSegKernels
import DinoSegNN
// Backward pass of the PSPNet: reads the activations a forward pass saved and the loss gradient `PSPNet.loss` wrote
// into them, and accumulates parameter gradients into `params.grads` (zero them before the step).

extension PSPNet {
    /// dOut is the gradient of the unit's output (masked in place by its ReLU); dInput (when given) is accumulated.
    private func backward(_ u: ConvBNUnit, saved a: ConvBNActivations, input x: Tensor, dOut: Tensor, dInput: Tensor?) {
        if u.relu {
            let o = a.out.data, d = dOut.data
            for i in 0..<dOut.count where o[i] <= 0 { d[i] = 0 }
        }
        let dConv = Tensor.zeros(like: a.conv)
        let p = params.values, g = params.grads
        BatchNorm2d.backward(dinp: dConv.data, dgamma: g + u.gamma, dbeta: g + u.beta, dout: dOut.data, inp: a.conv.data,
                             gamma: p + u.gamma, mean: a.mean, rstd: a.rstd, rows: a.conv.rows, c: u.cout, threads: threads,
                             reduce: shard?.sum)
        ensureScratch(Conv2d.scratchCount(h: x.h, w: x.w, cin: u.cin, geometry: u.geometry))
        Conv2d.backward(dinp: dInput?.data, dweight: g + u.weight, dbias: nil, dout: dConv.data, inp: x.data, weight: p + u.weight,
                        n: x.n, h: x.h, w: x.w, cin: u.cin, cout: u.cout, geometry: u.geometry, scratch: scratch,
                        threads: threads)
    }

    private func backward(_ b: BottleneckUnit, saved a: BottleneckActivations, input x: Tensor, dOut: Tensor, dInput: Tensor?) {
        let o = a.out.data, d = dOut.data
        for i in 0..<dOut.count where o[i] <= 0 { d[i] = 0 }
        // dOut is now the gradient of both conv3's BN output and the shortcut.
        let d2 = Tensor.zeros(like: a.conv2.out)
        backward(b.conv3, saved: a.conv3, input: a.conv2.out, dOut: dOut, dInput: d2)
        let d1 = Tensor.zeros(like: a.conv1.out)
        backward(b.conv2, saved: a.conv2, input: a.conv1.out, dOut: d2, dInput: d1)
        backward(b.conv1, saved: a.conv1, input: x, dOut: d1, dInput: dInput)
        if let down = b.downsample, let sd = a.downsample {
            backward(down, saved: sd, input: x, dOut: dOut, dInput: dInput)
        } else if let dInput {
            let di = dInput.data
            for i in 0..<dInput.count { di[i] += d[i] }
        }
    }

    /// Returns the gradient of the classifier's input.
    private func backward(_ h: ClassifierUnit, saved a: ClassifierActivations, input x: Tensor) -> Tensor {
        let k = config.numClasses, y = a.unit.out, mid = h.unit.cout
        let dLogits = Tensor.zeros(like: a.logits)
        BilinearResizeAlignCorners.backward(dinp: dLogits.data, dout: a.upsampled.data, n: y.n, inH: y.h, inW: y.w, c: k,
                                            outH: a.upsampled.h, outW: a.upsampled.w, threads: threads)
        let dDropped = Tensor.zeros(like: a.dropped)
        Conv2d.backward(dinp: dDropped.data, dweight: params.grads + h.weight, dbias: params.grads + h.bias, dout: dLogits.data,
                        inp: a.dropped.data, weight: params.values + h.weight, n: y.n, h: y.h, w: y.w, cin: mid, cout: k,
                        geometry: ConvGeometry(kernel: 1), scratch: scratch)
        var dY = dDropped
        if let mask = a.mask {
            dY = Tensor.zeros(like: y)
            Dropout2d.backward(dinp: dY.data, dout: dDropped.data, mask: mask, n: y.n, hw: y.h * y.w, c: mid)
        }
        let dX = Tensor.zeros(like: x)
        backward(h.unit, saved: a.unit, input: x, dOut: dY, dInput: dX)
        return dX
    }

    /// Accumulates the gradients of the loss whose gradient `loss(_:labels:)` stored in `saved`.
    package func backward(saved a: PSPNetActivations) {
        precondition(a.training, "backward needs a training forward pass")
        let n = a.input.n
        // Classifier, then the pyramid: the concat's first channels are the layer4 features.
        let dConcat = backward(cls, saved: a.cls, input: a.ppm.concat)
        let f = a.layers[3].last!.out
        var dF = Tensor.zeros(like: f)
        let dUps = a.ppm.upsampled.map { Tensor.zeros(like: $0) }
        let dParts: [UnsafeMutablePointer<Float>?] = [dF.data] + dUps.map { $0.data }
        ChannelConcat.backward(dparts: dParts, dout: dConcat.data,
                               widths: [f.c] + dUps.map(\.c), rows: f.rows)
        for (j, bins) in config.bins.enumerated() {
            let branch = a.ppm.branches[j]
            let dBranch = Tensor.zeros(like: branch.out)
            BilinearResizeAlignCorners.backward(dinp: dBranch.data, dout: dUps[j].data, n: n, inH: bins, inW: bins, c: config.ppmWidth,
                                                outH: f.h, outW: f.w, threads: threads)
            let dPooled = Tensor.zeros(like: a.ppm.pooled[j])
            backward(ppm[j], saved: branch, input: a.ppm.pooled[j], dOut: dBranch, dInput: dPooled)
            AdaptiveAvgPool2d.backward(dinp: dF.data, dout: dPooled.data, n: n, h: f.h, w: f.w, c: f.c, bins: bins)
        }
        // Backbone, last block first; the aux head's gradient joins at the end of layer3.
        for li in stride(from: 3, through: 0, by: -1) {
            if li == 2, let auxActs = a.aux {
                let dAux = backward(aux, saved: auxActs, input: a.layers[2].last!.out)
                let d = dF.data, s = dAux.data
                for i in 0..<dF.count { d[i] += s[i] }
            }
            for bi in stride(from: layers[li].count - 1, through: 0, by: -1) {
                let input = bi > 0 ? a.layers[li][bi - 1].out : (li > 0 ? a.layers[li - 1].last!.out : a.stem.pool)
                let dIn = Tensor.zeros(like: input)
                backward(layers[li][bi], saved: a.layers[li][bi], input: input, dOut: dF, dInput: dIn)
                dF = dIn
            }
        }
        // Max-pool and the stem (no gradient for the images).
        let last = a.stem.units.last!.out
        var dX = Tensor.zeros(like: last)
        MaxPool2d.backward(dinp: dX.data, dout: dF.data, argmax: a.stem.argmax, n: n, h: last.h, w: last.w, c: last.c,
                           oh: a.stem.pool.h, ow: a.stem.pool.w, threads: threads)
        for i in stride(from: stem.count - 1, through: 0, by: -1) {
            let input = i > 0 ? a.stem.units[i - 1].out : a.input
            let dIn = i > 0 ? Tensor.zeros(like: input) : nil
            backward(stem[i], saved: a.stem.units[i], input: input, dOut: dX, dInput: dIn)
            if let dIn { dX = dIn }
        }
    }
}
