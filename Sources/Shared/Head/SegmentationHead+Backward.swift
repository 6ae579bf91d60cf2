import DinoSegNN
// Backward pass of SegmentationHead: from a HeadLoss back through the saved HeadActivations to every parameter
// gradient (accumulated into params.grads; call params.zeroGrads() before a step). Stage features are frozen: no
// gradient flows into them.

extension SegmentationHead {
    /// Gradients of `loss` (computed from `saved`, the activations of the last forward) with respect to every
    /// parameter, accumulated into params.grads.
    package func backward(saved a: HeadActivations, loss: HeadLoss) {
        let cfg = config, g = a.gradients(config: cfg)
        let n = a.batch, h = a.h, w = a.w, rows = n * h * w, k = cfg.numClasses, mid = cfg.classifierWidth, c = cfg.featureWidth

        // loss → logits
        let dUp = loss.probs.data   // the probabilities become their gradient in place
        SoftmaxCrossEntropy.backwardInPlace(probs: dUp, labels: loss.labels, pixels: n * loss.labelHeight * loss.labelWidth,
                                            k: k, valid: loss.valid, threads: threads)
        g.logits.zero()
        BilinearResize.backward(dinp: g.logits.data, dout: dUp, n: n, inH: h, inW: w, c: k, outH: loss.labelHeight,
                                outW: loss.labelWidth, threads: threads)

        // classifier
        let c3 = a.dropoutApplied ? a.dropped!.data : a.clsBN.data
        g.dropped.zero()
        Conv1x1.backward(dinp: g.dropped.data, dweight: p.clsOut.weight.grad, dbias: p.clsOut.bias!.grad, dout: g.logits.data,
                         inp: c3, weight: p.clsOut.weight.value, rows: rows, cin: mid, cout: k)
        var dRelu = g.dropped
        if a.dropoutApplied, let mask = a.dropoutMask, let relu = g.relu {
            relu.zero()
            Dropout2d.backward(dinp: relu.data, dout: g.dropped.data, mask: mask.data, n: n, hw: h * w, c: mid)
            dRelu = relu
        }
        g.clsBN.zero()
        ReLU.backward(dinp: g.clsBN.data, dout: dRelu.data, out: a.clsBN.data, count: rows * mid)
        g.clsConv.zero()
        BatchNorm2d.backward(dinp: g.clsConv.data, dgamma: p.clsBN.gamma.grad, dbeta: p.clsBN.beta.grad, dout: g.clsBN.data,
                             inp: a.clsConv.data, gamma: p.clsBN.gamma.value, mean: a.clsMean.data, rstd: a.clsRstd.data,
                             rows: rows, c: mid, threads: threads, reduce: shard?.sum)
        g.classifierInput?.zero()
        conv3x3Backward(dinp: g.classifierInput?.data, dweight: p.clsConv.grad, dbias: nil, dout: g.clsConv.data,
                        inp: a.classifierInput, weight: p.clsConv.value, n: n, h: h, w: w, cin: cfg.classifierInput,
                        cout: mid, scratch: a.conv3x3Scratch)

        // PPM
        var dFeatures = g.classifierInput
        if cfg.usePPM, let dCat = g.classifierInput {
            let r = cfg.ppmReduction
            g.features?.zero()
            var dParts: [UnsafeMutablePointer<Float>?] = [g.features?.data], widths = [c]
            for d in g.ppm { d.upsampled.zero(); dParts.append(d.upsampled.data); widths.append(r) }
            ChannelConcat.backward(dparts: dParts, dout: dCat.data, widths: widths, rows: rows)
            for (j, (b, d)) in zip(a.ppm, g.ppm).enumerated() {
                let cells = n * b.bins * b.bins
                d.relu.zero()
                BilinearResize.backward(dinp: d.relu.data, dout: d.upsampled.data, n: n, inH: b.bins, inW: b.bins, c: r,
                                        outH: h, outW: w, threads: threads)
                d.bn.zero()
                ReLU.backward(dinp: d.bn.data, dout: d.relu.data, out: b.bn.data, count: cells * r)
                d.conv.zero()
                let bn = p.ppmBN[j]
                BatchNorm2d.backward(dinp: d.conv.data, dgamma: bn.gamma.grad, dbeta: bn.beta.grad, dout: d.bn.data,
                                     inp: b.conv.data, gamma: bn.gamma.value, mean: b.mean.data, rstd: b.rstd.data,
                                     rows: cells, c: r, reduce: shard?.sum)
                d.pooled?.zero()
                Conv1x1.backward(dinp: d.pooled?.data, dweight: p.ppmConv[j].grad, dbias: nil, dout: d.conv.data,
                                 inp: b.pooled.data, weight: p.ppmConv[j].value, rows: cells, cin: c, cout: r)
                if let dPool = d.pooled, let dx = g.features {
                    AdaptiveAvgPool2d.backward(dinp: dx.data, dout: dPool.data, n: n, h: h, w: w, c: c, bins: b.bins)
                }
            }
            dFeatures = g.features
        }

        // FPN
        if cfg.useFPN, let dX = dFeatures, let fpnOut = p.fpnOut {
            let shape = a.inputShapes
            g.fpnInner[0].zero()
            conv3x3Backward(dinp: g.fpnInner[0].data, dweight: fpnOut.weight.grad, dbias: fpnOut.bias!.grad, dout: dX.data,
                            inp: a.fpnInner[0].data, weight: fpnOut.weight.value, n: n, h: h, w: w, cin: c, cout: c,
                            scratch: a.conv3x3Scratch)
            for i in shape.indices {
                let sh = shape[i], m = n * sh.h * sh.w
                Conv1x1.backward(dinp: nil, dweight: p.fpnInner[i].weight.grad, dbias: p.fpnInner[i].bias!.grad,
                                 dout: g.fpnInner[i].data, inp: a.inputs[i], weight: p.fpnInner[i].weight.value,
                                 rows: m, cin: sh.c, cout: c)
                if i + 1 < shape.count {
                    let coarse = shape[i + 1]
                    g.fpnInner[i + 1].zero()
                    NearestUpsample.backward(dinp: g.fpnInner[i + 1].data, dout: g.fpnInner[i].data, n: n,
                                             inH: coarse.h, inW: coarse.w, c: c, outH: sh.h, outW: sh.w)
                }
            }
        }
    }

    /// One SGD step on the accumulated gradients.
    package func sgdStep(lr: Float, momentum: Float, weightDecay: Float) {
        params.sgdStep(lr: lr, momentum: momentum, weightDecay: weightDecay)
    }
}
