import XCTest
@testable import Shared

/// Finite-difference checks of every layer's backward: L = Σ r ⊙ forward(tensors) for a fixed random r; the analytic
/// gradient (backward with dout = r) must match central differences (computed with Double sums) on sampled entries.
final class LayerGradientTests: XCTestCase {
    struct Case {
        var name: String
        var seed: UInt64
        var tensors: [[Float]]                                // inputs and parameters to check
        var forward: ([[Float]]) -> [Float]                  // output
        var backward: ([[Float]], [Float]) -> [[Float]]      // gradients of Σ dout ⊙ output, one per tensor
    }

    static func random(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1, awayFromZero: Float = 0) -> [Float] {
        (0..<n).map { _ in
            var v = (rng.nextFloat() * 2 - 1) * scale
            if awayFromZero > 0, abs(v) < awayFromZero { v = v < 0 ? v - awayFromZero : v + awayFromZero }
            return v
        }
    }

    func cases() -> [Case] {
        var all: [Case] = []
        var rng = SplitMix64(seed: 101)
        do { // Conv1x1 with bias
            let rows = 7, cin = 5, cout = 3
            all.append(Case(name: "conv1x1", seed: 101,
                            tensors: [Self.random(rows * cin, &rng), Self.random(cin * cout, &rng), Self.random(cout, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: rows * cout)
                                Conv1x1.forward(out: &out, inp: t[0], weight: t[1], bias: t[2], rows: rows, cin: cin, cout: cout); return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: t[0].count), g1 = [Float](repeating: 0, count: t[1].count), g2 = [Float](repeating: 0, count: t[2].count)
                                Conv1x1.backward(dinp: &g0, dweight: &g1, dbias: &g2, dout: d, inp: t[0], weight: t[1], rows: rows, cin: cin, cout: cout)
                                return [g0, g1, g2] }))
        }
        do { // Conv3x3 with bias, padding 1
            let n = 2, h = 5, w = 4, cin = 3, cout = 4
            var scratch = [Float](repeating: 0, count: Conv3x3.scratchCount(h: h, w: w, cin: cin))
            all.append(Case(name: "conv3x3", seed: 101,
                            tensors: [Self.random(n * h * w * cin, &rng), Self.random(9 * cin * cout, &rng), Self.random(cout, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: n * h * w * cout)
                                Conv3x3.forward(out: &out, inp: t[0], weight: t[1], bias: t[2], n: n, h: h, w: w, cin: cin, cout: cout, scratch: &scratch)
                                return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: t[0].count), g1 = [Float](repeating: 0, count: t[1].count), g2 = [Float](repeating: 0, count: t[2].count)
                                Conv3x3.backward(dinp: &g0, dweight: &g1, dbias: &g2, dout: d, inp: t[0], weight: t[1],
                                                 n: n, h: h, w: w, cin: cin, cout: cout, scratch: &scratch)
                                return [g0, g1, g2] }))
        }
        for (k, stride, pad, dil, bias) in [(3, 2, 1, 1, false), (3, 1, 2, 2, false), (7, 2, 3, 1, false), (1, 2, 0, 1, false),
                                            (1, 1, 0, 1, true), (3, 1, 4, 4, true)] { // general conv: stride, padding, dilation
            let g = ConvGeometry(kernel: k, stride: stride, pad: pad, dilation: dil)
            let n = 2, h = 9, w = 7, cin = 3, cout = 4, oh = g.outSize(h), ow = g.outSize(w)
            var scratch = [Float](repeating: 0, count: max(1, Conv2d.scratchCount(h: h, w: w, cin: cin, geometry: g)))
            var tensors = [Self.random(n * h * w * cin, &rng), Self.random(k * k * cin * cout, &rng)]
            if bias { tensors.append(Self.random(cout, &rng)) }
            all.append(Case(name: "conv2d k\(k) s\(stride) p\(pad) d\(dil)\(bias ? " bias" : "")", seed: 101, tensors: tensors,
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * ow * cout)
                                if bias {
                                    Conv2d.forward(out: &out, inp: t[0], weight: t[1], bias: t[2], n: n, h: h, w: w,
                                                   cin: cin, cout: cout, geometry: g, scratch: &scratch)
                                } else {
                                    Conv2d.forward(out: &out, inp: t[0], weight: t[1], bias: nil, n: n, h: h, w: w,
                                                   cin: cin, cout: cout, geometry: g, scratch: &scratch)
                                }
                                return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: t[0].count), g1 = [Float](repeating: 0, count: t[1].count)
                                var g2 = [Float](repeating: 0, count: cout)
                                if bias {
                                    Conv2d.backward(dinp: &g0, dweight: &g1, dbias: &g2, dout: d, inp: t[0], weight: t[1], n: n, h: h, w: w,
                                                    cin: cin, cout: cout, geometry: g, scratch: &scratch)
                                    return [g0, g1, g2]
                                }
                                Conv2d.backward(dinp: &g0, dweight: &g1, dbias: nil, dout: d, inp: t[0], weight: t[1], n: n, h: h, w: w,
                                                cin: cin, cout: cout, geometry: g, scratch: &scratch)
                                return [g0, g1] }))
        }
        do { // max-pool 3×3 stride 2 pad 1; inputs are distinct by ≥ 0.05 so the finite differences never swap a winner
            let n = 2, h = 7, w = 6, c = 3, oh = MaxPool2d.outSize(h, kernel: 3, stride: 2, pad: 1), ow = MaxPool2d.outSize(w, kernel: 3, stride: 2, pad: 1)
            var values = (0..<(n * h * w * c)).map { Float($0) * 0.05 - 6 }
            var shuffle = SplitMix64(seed: 102)
            values.shuffle(using: &shuffle)
            var argmax = [Int32](repeating: 0, count: n * oh * ow * c)
            all.append(Case(name: "maxpool3x3s2", seed: 102, tensors: [values],
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                MaxPool2d.forward(out: &out, argmax: &argmax, inp: t[0], n: n, h: h, w: w, c: c); return out },
                            backward: { t, d in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                MaxPool2d.forward(out: &out, argmax: &argmax, inp: t[0], n: n, h: h, w: w, c: c)
                                var g = [Float](repeating: 0, count: t[0].count)
                                MaxPool2d.backward(dinp: &g, dout: d, argmax: argmax, n: n, h: h, w: w, c: c, oh: oh, ow: ow); return [g] }))
        }
        do { // residual add
            let count = 15
            all.append(Case(name: "residual-add", seed: 101, tensors: [Self.random(count, &rng), Self.random(count, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: count)
                                ResidualAdd.forward(out: &out, a: t[0], b: t[1], count: count); return out },
                            backward: { _, d in var ga = [Float](repeating: 0, count: count), gb = ga
                                ResidualAdd.backward(da: &ga, db: &gb, dout: d, count: count); return [ga, gb] }))
        }
        for (ih, iw, oh, ow) in [(3, 4, 17, 9), (6, 6, 2, 3), (1, 2, 5, 5)] { // bilinear with align_corners = true
            let n = 2, c = 2
            all.append(Case(name: "bilinear-align \(ih)x\(iw)->\(oh)x\(ow)", seed: 101, tensors: [Self.random(n * ih * iw * c, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                BilinearResizeAlignCorners.forward(out: &out, inp: t[0], n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * ih * iw * c)
                                BilinearResizeAlignCorners.backward(dinp: &g, dout: d, n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return [g] }))
        }
        do { // BatchNorm2d, training mode
            let rows = 12, c = 3
            var mean = [Float](repeating: 0, count: c), rstd = mean, rm = mean, rv = mean
            all.append(Case(name: "batchnorm2d", seed: 101,
                            tensors: [Self.random(rows * c, &rng, scale: 2), Self.random(c, &rng), Self.random(c, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: rows * c)
                                BatchNorm2d.forwardTrain(out: &out, inp: t[0], gamma: t[1], beta: t[2], mean: &mean, rstd: &rstd,
                                                         runningMean: &rm, runningVar: &rv, rows: rows, c: c)
                                return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: t[0].count), g1 = [Float](repeating: 0, count: c), g2 = [Float](repeating: 0, count: c)
                                var out = [Float](repeating: 0, count: rows * c)
                                BatchNorm2d.forwardTrain(out: &out, inp: t[0], gamma: t[1], beta: t[2], mean: &mean, rstd: &rstd,
                                                         runningMean: &rm, runningVar: &rv, rows: rows, c: c)
                                BatchNorm2d.backward(dinp: &g0, dgamma: &g1, dbeta: &g2, dout: d, inp: t[0], gamma: t[1],
                                                     mean: mean, rstd: rstd, rows: rows, c: c)
                                return [g0, g1, g2] }))
        }
        do { // ReLU (inputs kept away from the kink)
            let count = 20
            all.append(Case(name: "relu", seed: 101, tensors: [Self.random(count, &rng, awayFromZero: 0.05)],
                            forward: { t in var out = [Float](repeating: 0, count: count); ReLU.forward(out: &out, inp: t[0], count: count); return out },
                            backward: { t, d in var out = [Float](repeating: 0, count: count); ReLU.forward(out: &out, inp: t[0], count: count)
                                var g = [Float](repeating: 0, count: count); ReLU.backward(dinp: &g, dout: d, out: out, count: count); return [g] }))
        }
        do { // Dropout2d with a fixed mask
            let n = 2, hw = 6, c = 4
            var mask = [Float](repeating: 0, count: n * c)
            var maskRng = SplitMix64(seed: 5)
            Dropout2d.makeMask(&mask, n: n, c: c, p: 0.5, rng: &maskRng)
            all.append(Case(name: "dropout2d", seed: 101, tensors: [Self.random(n * hw * c, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: n * hw * c)
                                Dropout2d.forward(out: &out, inp: t[0], mask: mask, n: n, hw: hw, c: c); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * hw * c)
                                Dropout2d.backward(dinp: &g, dout: d, mask: mask, n: n, hw: hw, c: c); return [g] }))
        }
        for bins in [3, 6] { // adaptive average pooling, overlapping cells when 5 or 7 is not a multiple of bins
            let n = 2, h = 5, w = 7, c = 3
            all.append(Case(name: "adaptiveavgpool\(bins)", seed: 101, tensors: [Self.random(n * h * w * c, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: n * bins * bins * c)
                                AdaptiveAvgPool2d.forward(out: &out, inp: t[0], n: n, h: h, w: w, c: c, bins: bins); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * h * w * c)
                                AdaptiveAvgPool2d.backward(dinp: &g, dout: d, n: n, h: h, w: w, c: c, bins: bins); return [g] }))
        }
        for (ih, iw, oh, ow) in [(3, 4, 7, 5), (6, 6, 2, 3)] { // bilinear up and down
            let n = 2, c = 2
            all.append(Case(name: "bilinear \(ih)x\(iw)->\(oh)x\(ow)", seed: 101, tensors: [Self.random(n * ih * iw * c, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                BilinearResize.forward(out: &out, inp: t[0], n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * ih * iw * c)
                                BilinearResize.backward(dinp: &g, dout: d, n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return [g] }))
        }
        for (ih, oh) in [(3, 6), (3, 7)] { // nearest 2× and an uneven size
            let n = 2, c = 2
            all.append(Case(name: "nearest \(ih)->\(oh)", seed: 101, tensors: [Self.random(n * ih * ih * c, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * oh * c)
                                NearestUpsample.forward(out: &out, inp: t[0], n: n, inH: ih, inW: ih, c: c, outH: oh, outW: oh, accumulate: false)
                                return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * ih * ih * c)
                                NearestUpsample.backward(dinp: &g, dout: d, n: n, inH: ih, inW: ih, c: c, outH: oh, outW: oh); return [g] }))
        }
        do { // channel concat
            let rows = 5, widths = [2, 3]
            all.append(Case(name: "concat", seed: 101, tensors: [Self.random(rows * 2, &rng), Self.random(rows * 3, &rng)],
                            forward: { t in var out = [Float](repeating: 0, count: rows * 5)
                                t[0].withUnsafeBufferPointer { a in t[1].withUnsafeBufferPointer { b in
                                    ChannelConcat.forward(out: &out, parts: [a.baseAddress!, b.baseAddress!], widths: widths, rows: rows) } }
                                return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: rows * 2), g1 = [Float](repeating: 0, count: rows * 3)
                                g0.withUnsafeMutableBufferPointer { a in g1.withUnsafeMutableBufferPointer { b in
                                    ChannelConcat.backward(dparts: [a.baseAddress!, b.baseAddress!], dout: d, widths: widths, rows: rows) } }
                                return [g0, g1] }))
        }
        do { // softmax cross-entropy with ignored pixels; the output is the scalar loss
            let pixels = 10, k = 5
            let labels: [UInt8] = [0, 4, 255, 2, 1, 255, 3, 3, 0, 1]
            all.append(Case(name: "softmax-ce", seed: 101, tensors: [Self.random(pixels * k, &rng, scale: 3)],
                            forward: { t in var probs = [Float](repeating: 0, count: pixels * k)
                                return [Float(SoftmaxCrossEntropy.forward(probs: &probs, logits: t[0], labels: labels, pixels: pixels, k: k).loss)] },
                            backward: { t, d in var probs = [Float](repeating: 0, count: pixels * k)
                                let r = SoftmaxCrossEntropy.forward(probs: &probs, logits: t[0], labels: labels, pixels: pixels, k: k)
                                var g = [Float](repeating: 0, count: pixels * k)
                                SoftmaxCrossEntropy.backward(dlogits: &g, probs: probs, labels: labels, pixels: pixels, k: k, valid: r.valid)
                                return [g.map { $0 * d[0] }] }))
        }
        do { // the in-place variant used by the training step (probs overwritten by the gradient, logits aliasing probs)
            let pixels = 10, k = 5
            let labels: [UInt8] = [255, 4, 1, 2, 1, 255, 3, 0, 0, 1]
            all.append(Case(name: "softmax-ce in place", seed: 101, tensors: [Self.random(pixels * k, &rng, scale: 3)],
                            forward: { t in var buf = t[0]
                                return [Float(SoftmaxCrossEntropy.forward(probs: &buf, logits: t[0], labels: labels, pixels: pixels, k: k).loss)] },
                            backward: { t, d in var buf = t[0]
                                let r = buf.withUnsafeMutableBufferPointer { b in
                                    SoftmaxCrossEntropy.forward(probs: b.baseAddress!, logits: b.baseAddress!, labels: labels, pixels: pixels, k: k) }
                                SoftmaxCrossEntropy.backwardInPlace(probs: &buf, labels: labels, pixels: pixels, k: k, valid: r.valid)
                                return [buf.map { $0 * d[0] }] }))
        }
        return all
    }

    func testLayerGradientsMatchFiniteDifferences() {
        for c in cases() {
            var rng = SplitMix64(seed: c.seed, 1)
            let outCount = c.forward(c.tensors).count
            let r = Self.random(outCount, &rng)
            func objective(_ t: [[Float]]) -> Double {
                zip(c.forward(t), r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            let analytic = c.backward(c.tensors, r)
            XCTAssertEqual(analytic.count, c.tensors.count, "\(c.name): one gradient per tensor")
            for (ti, tensor) in c.tensors.enumerated() {
                let sample = tensor.count <= 40 ? Array(0..<tensor.count) : (0..<40).map { _ in Int(rng.next() % UInt64(tensor.count)) }
                // Entries not sampled take the analytic value, so the report's index is the tensor entry.
                var numeric = analytic[ti].map(Double.init)
                for i in sample {
                    let eps: Float = 1e-2
                    var plus = c.tensors, minus = c.tensors
                    plus[ti][i] += eps; minus[ti][i] -= eps
                    numeric[i] = (objective(plus) - objective(minus)) / Double(2 * eps)
                }
                assertClose(analytic[ti], numeric, rtol: 2e-3, atol: 2e-3, seed: c.seed,
                            what: "\(c.name): gradient of tensor \(ti), analytic vs central differences (\(Set(sample).count) entries sampled)")
            }
        }
    }
}
