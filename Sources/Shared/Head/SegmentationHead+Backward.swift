import DinoSegNN
// Backward pass of SegmentationHead: from a HeadLoss back through the saved HeadActivations, module by module
// (classifier, context, neck), to every parameter gradient (accumulated into params.grads; call params.zeroGrads()
// before a step). Stage features are frozen: no gradient flows into them.

extension SegmentationHead {
    /// Gradients of `loss` (computed from `saved`, the activations of the last forward) with respect to every
    /// parameter, accumulated into params.grads.
    package func backward(saved a: HeadActivations, loss: HeadLoss) {
        let g = a.gradients(head: self), ops = ops
        let n = a.batch, h = a.h, w = a.w, k = config.numClasses

        // loss → logits
        let dUp = loss.probs.data   // the probabilities become their gradient in place
        SoftmaxCrossEntropy.backwardInPlace(probs: dUp, labels: loss.labels, pixels: n * loss.labelHeight * loss.labelWidth,
                                            k: k, valid: loss.valid, threads: threads)
        g.classifier.logits.zero()
        BilinearResize.backward(dinp: g.classifier.logits.data, dout: dUp, n: n, inH: h, inW: w, c: k, outH: loss.labelHeight,
                                outW: loss.labelWidth, threads: threads)

        g.classifierInput?.zero()
        classifier.backward(x: a.classifierInput, dInput: g.classifierInput?.data, n: n, h: h, w: w, a: a.classifier,
                            g: g.classifier, ops: ops, scratch: a.conv3x3Scratch)

        if let dCat = g.classifierInput {
            g.features?.zero()
            switch (context, a.context, g.context) {
            case (.ppm(let m), .ppm(let ca), .ppm(let cg)):
                m.backward(dOut: dCat.data, dInput: g.features?.data, n: n, h: h, w: w, a: ca, g: cg, ops: ops)
            case (.aspp(let m), .aspp(let ca), .aspp(let cg)):
                m.backward(dOut: dCat.data, x: a.features, dInput: g.features?.data, n: n, h: h, w: w, a: ca, g: cg, ops: ops,
                           scratch: a.conv3x3Scratch)
            default:
                break
            }
        }

        if let neck, let na = a.neck, let ng = g.neck, let dX = g.neckOutput {
            neck.backward(dOut: dX.data, inputs: a.inputs, shapes: a.inputShapes, n: n, a: na, g: ng, ops: ops,
                          scratch: a.conv3x3Scratch)
        }
    }

    /// One SGD step on the accumulated gradients.
    package func sgdStep(lr: Float, momentum: Float, weightDecay: Float) {
        params.sgdStep(lr: lr, momentum: momentum, weightDecay: weightDecay)
    }
}
