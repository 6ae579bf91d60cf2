import DinoSegCore
import DinoSegNN
// The classifier: semseg's `cls` Sequential, with its state_dict names under `cls.`:
//   cls.0.weight            3×3 conv cin → mid, no bias
//   cls.1.{weight,bias}     BatchNorm2d, then ReLU (cls.2)
//   (cls.3)                 Dropout2d(p), training only
//   cls.4.{weight,bias}     1×1 conv mid → classes
//
// Shapes (NHWC; n = batch, h×w the working resolution, cin the context module's width, mid = classifier width,
// k = classes):
//   x            [n, h, w, cin]
//   conv         [n, h, w, mid]    bn [n, h, w, mid] (BN then ReLU, in place)   mean, rstd [mid]
//   dropoutMask  [n, mid]          dropped [n, h, w, mid]   (with dropout > 0; used in training only)
//   logits       [n, h, w, k]
struct SegmentationClassifier {
    let inputWidth: Int, width: Int, classes: Int
    let dropout: Float
    let conv: HeadConv, bn: HeadBN, out: HeadConv

    struct Slots {
        let inputWidth: Int, width: Int, classes: Int, dropout: Float
        let conv: ConvSlot, bn: BNSlot, out: ConvSlot
        func resolve(_ params: ParameterArena, _ stats: ParameterArena) -> SegmentationClassifier {
            SegmentationClassifier(inputWidth: inputWidth, width: width, classes: classes, dropout: dropout,
                                   conv: conv.resolve(params), bn: bn.resolve(params, stats), out: out.resolve(params))
        }
    }

    static func declare(_ d: HeadParameterDeclarer, prefix: String = "cls", inputWidth cin: Int, width mid: Int, classes k: Int,
                        dropout: Float) -> Slots {
        let conv = d.conv("\(prefix).0", cin: cin, cout: mid, kernel: 3, bias: false)
        let bn = d.batchNorm("\(prefix).1", width: mid)
        let out = d.conv("\(prefix).4", cin: mid, cout: k, kernel: 1, bias: true)
        return Slots(inputWidth: cin, width: mid, classes: k, dropout: dropout, conv: conv, bn: bn, out: out)
    }

    final class Activations {
        let conv, bn, mean, rstd: HeadTensor
        let dropoutMask, dropped: HeadTensor?
        let logits: HeadTensor
        /// Whether the last forward applied dropout (training with dropout > 0).
        var dropoutApplied = false

        init(_ m: SegmentationClassifier, n: Int, h: Int, w: Int, store s: TensorStore) {
            conv = s.tensor([n, h, w, m.width]); bn = s.tensor([n, h, w, m.width])
            mean = s.tensor([m.width]); rstd = s.tensor([m.width])
            dropoutMask = m.dropout > 0 ? s.tensor([n, m.width]) : nil
            dropped = m.dropout > 0 ? s.tensor([n, h, w, m.width]) : nil
            logits = s.tensor([n, h, w, m.classes])
        }

        /// The 1×1 conv's input: the dropout output when dropout was applied, else the ReLU output.
        var finalInput: UnsafeMutablePointer<Float> { dropoutApplied ? dropped!.data : bn.data }
    }

    struct Gradients {
        let logits: HeadTensor
        /// Gradient at the 1×1 conv input (the dropout output, or the ReLU output without dropout).
        let dropped: HeadTensor
        /// Gradient at the ReLU output when dropout sits between (nil without dropout).
        let relu: HeadTensor?
        let bn, conv: HeadTensor
        init(_ m: SegmentationClassifier, n: Int, h: Int, w: Int, store s: TensorStore) {
            logits = s.tensor([n, h, w, m.classes])
            dropped = s.tensor([n, h, w, m.width])
            relu = m.dropout > 0 ? s.tensor([n, h, w, m.width]) : nil
            bn = s.tensor([n, h, w, m.width]); conv = s.tensor([n, h, w, m.width])
        }
    }

    /// Dropout2d draws its mask from stream 7 of `dropoutSeed`.
    func forward(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, a: Activations, ops: HeadOps, training: Bool,
                 dropoutSeed: UInt64, scratch: HeadTensor) {
        forward(x, n: n, h: h, w: w, a: a, ops: ops, training: training, dropoutRNG: SplitMix64(seed: dropoutSeed, 7),
                scratch: scratch)
    }

    /// Dropout2d draws its mask from `dropoutRNG` (the PSPNet baseline seeds its two classifiers its own way).
    func forward(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, a: Activations, ops: HeadOps, training: Bool,
                 dropoutRNG: SplitMix64, scratch: HeadTensor) {
        let rows = n * h * w, mid = width
        ops.conv3x3Forward(out: a.conv.data, inp: x, weight: conv.weight.value, bias: nil, n: n, h: h, w: w, cin: inputWidth,
                           cout: mid, scratch: scratch)
        ops.batchNorm(bn, out: a.bn.data, inp: a.conv.data, mean: a.mean.data, rstd: a.rstd.data, rows: rows, c: mid,
                      training: training)
        ReLU.forward(out: a.bn.data, inp: a.bn.data, count: rows * mid)
        a.dropoutApplied = training && dropout > 0
        if a.dropoutApplied, let mask = a.dropoutMask, let dropped = a.dropped {
            var rng = dropoutRNG
            ops.dropoutMask(mask.data, n: n, rowsPerSample: 1, c: mid, p: dropout, rng: &rng)
            Dropout2d.forward(out: dropped.data, inp: a.bn.data, mask: mask.data, n: n, hw: h * w, c: mid)
        }
        ops.conv1x1Forward(out: a.logits.data, inp: a.finalInput, weight: out.weight.value, bias: out.bias!.value, n: n,
                           h: h, w: w, cin: mid, cout: classes)
    }

    /// Parameter gradients from the logit gradient already in `g.logits`; the input gradient is accumulated into
    /// `dInput` when given.
    func backward(x: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?, n: Int, h: Int, w: Int, a: Activations,
                  g: Gradients, ops: HeadOps, scratch: HeadTensor) {
        let rows = n * h * w, mid = width
        g.dropped.zero()
        ops.conv1x1Backward(dinp: g.dropped.data, dweight: out.weight.grad, dbias: out.bias!.grad, dout: g.logits.data,
                            inp: a.finalInput, weight: out.weight.value, n: n, h: h, w: w, cin: mid, cout: classes)
        var dRelu = g.dropped
        if a.dropoutApplied, let mask = a.dropoutMask, let relu = g.relu {
            relu.zero()
            Dropout2d.backward(dinp: relu.data, dout: g.dropped.data, mask: mask.data, n: n, hw: h * w, c: mid)
            dRelu = relu
        }
        g.bn.zero()
        ReLU.backward(dinp: g.bn.data, dout: dRelu.data, out: a.bn.data, count: rows * mid)
        g.conv.zero()
        ops.batchNormBackward(bn, dinp: g.conv.data, dout: g.bn.data, inp: a.conv.data, mean: a.mean.data, rstd: a.rstd.data,
                              rows: rows, c: mid)
        ops.conv3x3Backward(dinp: dInput, dweight: conv.weight.grad, dbias: nil, dout: g.conv.data, inp: x,
                            weight: conv.weight.value, n: n, h: h, w: w, cin: inputWidth, cout: mid, scratch: scratch)
    }
}
