import DinoSegNN
// The head's neck: torchvision's FeaturePyramidNetwork restricted to the finest level's output (the only one the head
// uses), with its state_dict names under `fpn.`:
//   fpn.inner_blocks.{i}.0.{weight,bias}   lateral 1×1 conv of level i (i = index into the used stages, finest first)
//   fpn.layer_blocks.0.0.{weight,bias}     the 3×3 conv of the finest level
//
// Shapes (NHWC; n = batch, level i is h_i×w_i with c_i channels, c = FPN width, level 0 the finest, h×w = level 0):
//   inputs[i]  [n, h_i, w_i, c_i]   the stage features (frozen: no gradient flows into them)
//   inner[i]   [n, h_i, w_i, c]     lateral conv of level i plus the nearest-upsampled sum of the coarser levels
//   out        [n, h, w, c]         3×3 conv of inner[0]: the neck's output
struct FPNNeck {
    let width: Int
    let inner: [HeadConv]
    let out: HeadConv

    struct Slots {
        let width: Int
        let inner: [ConvSlot], out: ConvSlot
        func resolve(_ params: ParameterArena) -> FPNNeck {
            FPNNeck(width: width, inner: inner.map { $0.resolve(params) }, out: out.resolve(params))
        }
    }

    /// torchvision's FeaturePyramidNetwork re-initialises its convs: kaiming_uniform_(a=1), bias 0.
    static func declare(_ d: HeadParameterDeclarer, inputChannels: [Int], width c: Int) -> Slots {
        let inner = inputChannels.enumerated().map { i, ci in
            d.conv("fpn.inner_blocks.\(i).0", cin: ci, cout: c, kernel: 1, weightBound: (3 / Float(ci)).squareRoot(), bias: 0)
        }
        let out = d.conv("fpn.layer_blocks.0.0", cin: c, cout: c, kernel: 3, weightBound: (3 / Float(9 * c)).squareRoot(), bias: 0)
        return Slots(width: c, inner: inner, out: out)
    }

    struct Activations {
        let inner: [HeadTensor]
        let out: HeadTensor
        init(n: Int, shapes: [SegmentationHead.StageShape], width c: Int, store s: TensorStore) {
            inner = shapes.map { s.tensor([n, $0.h, $0.w, c]) }
            out = s.tensor([n, shapes[0].h, shapes[0].w, c])
        }
    }

    struct Gradients {
        let inner: [HeadTensor]
        init(n: Int, shapes: [SegmentationHead.StageShape], width c: Int, store s: TensorStore) {
            inner = shapes.map { s.tensor([n, $0.h, $0.w, c]) }
        }
    }

    func forward(inputs: [UnsafePointer<Float>], shapes: [SegmentationHead.StageShape], n: Int, a: Activations, ops: HeadOps,
                 scratch: HeadTensor) {
        let c = width
        for i in inputs.indices {
            let s = shapes[i]
            Conv1x1.forward(out: a.inner[i].data, inp: inputs[i], weight: inner[i].weight.value, bias: inner[i].bias!.value,
                            rows: n * s.h * s.w, cin: s.c, cout: c)
        }
        for i in stride(from: shapes.count - 2, through: 0, by: -1) {
            NearestUpsample.forward(out: a.inner[i].data, inp: a.inner[i + 1].data, n: n, inH: shapes[i + 1].h,
                                    inW: shapes[i + 1].w, c: c, outH: shapes[i].h, outW: shapes[i].w, accumulate: true)
        }
        ops.conv3x3Forward(out: a.out.data, inp: a.inner[0].data, weight: out.weight.value, bias: out.bias!.value,
                           n: n, h: shapes[0].h, w: shapes[0].w, cin: c, cout: c, scratch: scratch)
    }

    /// Parameter gradients from `dOut` (the gradient at `out`).
    func backward(dOut: UnsafePointer<Float>, inputs: [UnsafePointer<Float>], shapes: [SegmentationHead.StageShape], n: Int,
                  a: Activations, g: Gradients, ops: HeadOps, scratch: HeadTensor) {
        let c = width
        g.inner[0].zero()
        ops.conv3x3Backward(dinp: g.inner[0].data, dweight: out.weight.grad, dbias: out.bias!.grad, dout: dOut,
                            inp: a.inner[0].data, weight: out.weight.value, n: n, h: shapes[0].h, w: shapes[0].w, cin: c, cout: c,
                            scratch: scratch)
        for i in shapes.indices {
            let sh = shapes[i]
            Conv1x1.backward(dinp: nil, dweight: inner[i].weight.grad, dbias: inner[i].bias!.grad, dout: g.inner[i].data,
                             inp: inputs[i], weight: inner[i].weight.value, rows: n * sh.h * sh.w, cin: sh.c, cout: c)
            if i + 1 < shapes.count {
                let coarse = shapes[i + 1]
                g.inner[i + 1].zero()
                NearestUpsample.backward(dinp: g.inner[i + 1].data, dout: g.inner[i].data, n: n, inH: coarse.h, inW: coarse.w,
                                         c: c, outH: sh.h, outW: sh.w)
            }
        }
    }
}
