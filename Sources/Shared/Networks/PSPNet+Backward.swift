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

    /// Accumulates the gradient of a classifier module's input `x` (n × h × w) into `dInput`, from the loss gradient
    /// at its resized logits. Its gradient buffers go back to the pool on return, as the backbone's do.
    private func backward(_ m: SegmentationClassifier, saved a: ClassifierActivations, input x: UnsafePointer<Float>, n: Int,
                          h: Int, w: Int, dInput: UnsafeMutablePointer<Float>) {
        let k = config.numClasses, store = TensorStore(pool: .shared)
        let g = SegmentationClassifier.Gradients(m, n: n, h: h, w: w, store: store)
        BilinearResizeAlignCorners.backward(dinp: g.logits.data, dout: a.upsampled.data, n: n, inH: h, inW: w, c: k,
                                            outH: a.upsampled.h, outW: a.upsampled.w, threads: threads)
        m.backward(x: x, dInput: dInput, n: n, h: h, w: w, a: a.module, g: g, ops: ops,
                   scratch: conv3x3Scratch(h: h, w: w, cin: m.inputWidth))
    }

    /// The classifier, then the pyramid, down to the layer4 features `f` (their gradient accumulated into `dF`; the
    /// concat's first channels are those features).
    private func headBackward(saved a: PSPNetActivations, features f: Tensor, dFeatures dF: Tensor) {
        let dConcat = Tensor.zeros(n: f.n, h: f.h, w: f.w, c: ppm.outputWidth)
        backward(cls, saved: a.cls, input: a.ppm.concat.data, n: f.n, h: f.h, w: f.w, dInput: dConcat.data)
        let store = TensorStore(pool: .shared)
        let g = PyramidPooling.Gradients(ppm, n: f.n, h: f.h, w: f.w, inputGradient: true, store: store)
        ppm.backward(dOut: dConcat.data, dInput: dF.data, n: f.n, h: f.h, w: f.w, a: a.ppm, g: g, ops: ops)
    }

    /// Accumulates the gradients of the loss whose gradient `loss(_:labels:)` stored in `saved`.
    package func backward(saved a: PSPNetActivations) {
        precondition(a.training, "backward needs a training forward pass")
        let n = a.input.n
        let f = a.layers[3].last!.out
        var dF = Tensor.zeros(like: f)
        headBackward(saved: a, features: f, dFeatures: dF)
        // Backbone, last block first; the aux head's gradient joins at the end of layer3.
        for li in stride(from: 3, through: 0, by: -1) {
            if li == 2, let auxActs = a.aux {
                let l3 = a.layers[2].last!.out, dAux = Tensor.zeros(like: l3)
                backward(aux, saved: auxActs, input: l3.data, n: n, h: l3.h, w: l3.w, dInput: dAux.data)
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
