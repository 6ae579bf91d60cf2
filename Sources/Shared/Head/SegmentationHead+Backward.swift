// Backward pass of SegmentationHead: from the cross-entropy of the last `loss` call back to every parameter gradient
// (accumulated into params.grads; call params.zeroGrads() before a step). Stage features are frozen: no gradient
// flows into them.

extension SegmentationHead {
    public func backward() {
        let s = saved!, ls = lossState!, cfg = config, ws = workspace
        let n = s.n, h = s.h, w = s.w, rows = n * h * w, k = cfg.numClasses, mid = cfg.classifierWidth, c = cfg.featureWidth

        // loss → logits
        let upCount = n * ls.h * ls.w * k
        let dUp = ws.get("logits.up", upCount)   // probabilities become their gradient in place
        SoftmaxCrossEntropy.backwardInPlace(probs: dUp, labels: ls.labels, pixels: n * ls.h * ls.w, k: k, valid: ls.valid,
                                            threads: threads)
        let dLogits = ws.get("d.logits", rows * k, zeroed: true)
        BilinearResize.backward(dinp: dLogits, dout: dUp, n: n, inH: h, inW: w, c: k, outH: ls.h, outW: ls.w, threads: threads)

        // classifier
        let c1 = ws.get("cls.bn", rows * mid)
        let c3 = s.dropout ? ws.get("cls.drop", rows * mid) : c1
        let dC3 = ws.get("d.cls.drop", rows * mid, zeroed: true)
        Conv1x1.backward(dinp: dC3, dweight: params.grad("cls.4.weight"), dbias: params.grad("cls.4.bias"), dout: dLogits,
                         inp: c3, weight: params.value("cls.4.weight"), rows: rows, cin: mid, cout: k)
        var dC1 = dC3
        if s.dropout {
            dC1 = ws.get("d.cls.relu", rows * mid, zeroed: true)
            Dropout2d.backward(dinp: dC1, dout: dC3, mask: ws.get("cls.mask", n * mid), n: n, hw: h * w, c: mid)
        }
        let dBN = ws.get("d.cls.bn", rows * mid, zeroed: true)
        ReLU.backward(dinp: dBN, dout: dC1, out: c1, count: rows * mid)
        let dC0 = ws.get("d.cls.conv", rows * mid, zeroed: true)
        BatchNorm2d.backward(dinp: dC0, dgamma: params.grad("cls.1.weight"), dbeta: params.grad("cls.1.bias"), dout: dBN,
                             inp: ws.get("cls.conv", rows * mid), gamma: params.value("cls.1.weight"),
                             mean: ws.get("cls.mean", mid), rstd: ws.get("cls.rstd", mid), rows: rows, c: mid, threads: threads,
                             reduce: shard?.sum)
        let needInputGrad = cfg.useFPN || cfg.usePPM
        let dClsIn: UnsafeMutablePointer<Float>? = needInputGrad ? ws.get("d.cls.in", rows * cfg.classifierInput, zeroed: true) : nil
        conv3x3Backward(dinp: dClsIn, dweight: params.grad("cls.0.weight"), dbias: nil, dout: dC0, inp: s.clsInput,
                        weight: params.value("cls.0.weight"), n: n, h: h, w: w, cin: cfg.classifierInput, cout: mid)

        // PPM
        var dX = dClsIn
        if cfg.usePPM, let dCat = dClsIn {
            let r = cfg.ppmReduction
            let dx: UnsafeMutablePointer<Float>? = cfg.useFPN ? ws.get("d.ppm.x", rows * c, zeroed: true) : nil
            var dParts: [UnsafeMutablePointer<Float>?] = [dx]
            for j in cfg.ppmBins.indices { dParts.append(ws.get("d.ppm\(j).up", rows * r, zeroed: true)) }
            ChannelConcat.backward(dparts: dParts, dout: dCat, widths: [c] + Array(repeating: r, count: cfg.ppmBins.count), rows: rows)
            for (j, bins) in cfg.ppmBins.enumerated() {
                let cells = n * bins * bins
                let dRelu = ws.get("d.ppm\(j).relu", cells * r, zeroed: true)
                BilinearResize.backward(dinp: dRelu, dout: dParts[j + 1]!, n: n, inH: bins, inW: bins, c: r, outH: h, outW: w, threads: threads)
                let dBn = ws.get("d.ppm\(j).bn", cells * r, zeroed: true)
                ReLU.backward(dinp: dBn, dout: dRelu, out: ws.get("ppm\(j).bn", cells * r), count: cells * r)
                let dConv = ws.get("d.ppm\(j).conv", cells * r, zeroed: true)
                let prefix = "ppm.features.\(j).2"
                BatchNorm2d.backward(dinp: dConv, dgamma: params.grad("\(prefix).weight"), dbeta: params.grad("\(prefix).bias"),
                                     dout: dBn, inp: ws.get("ppm\(j).conv", cells * r), gamma: params.value("\(prefix).weight"),
                                     mean: ws.get("ppm\(j).mean", r), rstd: ws.get("ppm\(j).rstd", r), rows: cells, c: r,
                                     reduce: shard?.sum)
                let dPool: UnsafeMutablePointer<Float>? = dx != nil ? ws.get("d.ppm\(j).pool", cells * c, zeroed: true) : nil
                Conv1x1.backward(dinp: dPool, dweight: params.grad("ppm.features.\(j).1.weight"), dbias: nil, dout: dConv,
                                 inp: ws.get("ppm\(j).pool", cells * c), weight: params.value("ppm.features.\(j).1.weight"),
                                 rows: cells, cin: c, cout: r)
                if let dPool, let dx { AdaptiveAvgPool2d.backward(dinp: dx, dout: dPool, n: n, h: h, w: w, c: c, bins: bins) }
            }
            dX = dx
        }

        // FPN
        if cfg.useFPN, let dX {
            let levels = cfg.fpnLevels
            let dInner0 = ws.get("d.fpn.inner0", rows * c, zeroed: true)
            conv3x3Backward(dinp: dInner0, dweight: params.grad("fpn.layer_blocks.0.0.weight"),
                            dbias: params.grad("fpn.layer_blocks.0.0.bias"), dout: dX, inp: ws.get("fpn.inner0", rows * c),
                            weight: params.value("fpn.layer_blocks.0.0.weight"), n: n, h: h, w: w, cin: c, cout: c)
            for (i, level) in levels.enumerated() {
                let sh = s.shapes[level]!, m = n * sh.h * sh.w
                let dInner = ws.get("d.fpn.inner\(i)", m * c)
                Conv1x1.backward(dinp: nil, dweight: params.grad("fpn.inner_blocks.\(i).0.weight"),
                                 dbias: params.grad("fpn.inner_blocks.\(i).0.bias"), dout: dInner, inp: s.stages[level]!,
                                 weight: params.value("fpn.inner_blocks.\(i).0.weight"), rows: m, cin: sh.c, cout: c)
                if i + 1 < levels.count {
                    let coarse = s.shapes[levels[i + 1]]!
                    let dCoarse = ws.get("d.fpn.inner\(i + 1)", n * coarse.h * coarse.w * c, zeroed: true)
                    NearestUpsample.backward(dinp: dCoarse, dout: dInner, n: n, inH: coarse.h, inW: coarse.w, c: c, outH: sh.h, outW: sh.w)
                }
            }
        }
    }

    /// One SGD step on the accumulated gradients.
    public func sgdStep(lr: Float, momentum: Float, weightDecay: Float) {
        params.sgdStep(lr: lr, momentum: momentum, weightDecay: weightDecay)
    }
}
