import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegNN
@testable import DinoSegModels

/// Finite-difference checks of every layer's backward: L = Σ r ⊙ forward(tensors) for a fixed random r; the analytic
/// gradient (backward with dout = r) must match central differences (computed with Double sums) on sampled entries.
/// Each case has its own seed, which draws its tensors, r and the sampled entries, and is named in its failure line.
final class LayerGradientTests: XCTestCase {
    struct Case {
        var name: String                                     // starts with the layer's type name
        var seed: UInt64
        var tensors: (inout SplitMix64) -> [[Float]]         // inputs and parameters to check, drawn from the seed
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
        do { // Conv1x1 with bias
            let rows = 7, cin = 5, cout = 3
            all.append(Case(name: "\(Conv1x1.self)", seed: 101,
                            tensors: { rng in [Self.random(rows * cin, &rng), Self.random(cin * cout, &rng), Self.random(cout, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: rows * cout)
                                Conv1x1.forward(out: &out, inp: t[0], weight: t[1], bias: t[2], rows: rows, cin: cin, cout: cout); return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: t[0].count), g1 = [Float](repeating: 0, count: t[1].count), g2 = [Float](repeating: 0, count: t[2].count)
                                Conv1x1.backward(dinp: &g0, dweight: &g1, dbias: &g2, dout: d, inp: t[0], weight: t[1], rows: rows, cin: cin, cout: cout)
                                return [g0, g1, g2] }))
        }
        do { // Conv3x3 with bias, padding 1
            let n = 2, h = 5, w = 4, cin = 3, cout = 4
            var scratch = [Float](repeating: 0, count: Conv3x3.scratchCount(h: h, w: w, cin: cin))
            all.append(Case(name: "\(Conv3x3.self)", seed: 102,
                            tensors: { rng in [Self.random(n * h * w * cin, &rng), Self.random(9 * cin * cout, &rng), Self.random(cout, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: n * h * w * cout)
                                Conv3x3.forward(out: &out, inp: t[0], weight: t[1], bias: t[2], n: n, h: h, w: w, cin: cin, cout: cout, scratch: &scratch)
                                return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: t[0].count), g1 = [Float](repeating: 0, count: t[1].count), g2 = [Float](repeating: 0, count: t[2].count)
                                Conv3x3.backward(dinp: &g0, dweight: &g1, dbias: &g2, dout: d, inp: t[0], weight: t[1],
                                                 n: n, h: h, w: w, cin: cin, cout: cout, scratch: &scratch)
                                return [g0, g1, g2] }))
        }
        // Conv3x3Winograd (F(2×2, 3×3), channels multiples of 8): odd sizes leave partial 2×2 output tiles; without a
        // bias the dbias path is skipped. Its agreement with Conv3x3 is ConvKernelTests.testWinogradMatchesIm2col.
        for (seed, n, h, w, cin, cout, bias) in [(103 as UInt64, 2, 5, 3, 8, 8, true), (104, 1, 4, 6, 8, 16, false)] {
            var scratch = [Float](repeating: 0, count: Conv3x3Winograd.scratchCount(n: n, h: h, w: w, cin: cin, cout: cout))
            all.append(Case(name: "\(Conv3x3Winograd.self) \(n)x\(h)x\(w)x\(cin)->\(cout)\(bias ? " bias" : "")", seed: seed,
                            tensors: { rng in [Self.random(n * h * w * cin, &rng), Self.random(9 * cin * cout, &rng)]
                                + (bias ? [Self.random(cout, &rng)] : []) },
                            forward: { t in var out = [Float](repeating: 0, count: n * h * w * cout)
                                if bias {
                                    Conv3x3Winograd.forward(out: &out, inp: t[0], weight: t[1], bias: t[2], n: n, h: h, w: w,
                                                            cin: cin, cout: cout, scratch: &scratch)
                                } else {
                                    Conv3x3Winograd.forward(out: &out, inp: t[0], weight: t[1], bias: nil, n: n, h: h, w: w,
                                                            cin: cin, cout: cout, scratch: &scratch)
                                }
                                return out },
                            backward: { t, d in var g0 = [Float](repeating: 0, count: t[0].count), g1 = [Float](repeating: 0, count: t[1].count)
                                var g2 = [Float](repeating: 0, count: cout)
                                g2.withUnsafeMutableBufferPointer { db in
                                    Conv3x3Winograd.backward(dinp: &g0, dweight: &g1, dbias: bias ? db.baseAddress! : nil, dout: d,
                                                             inp: t[0], weight: t[1], n: n, h: h, w: w, cin: cin, cout: cout, scratch: &scratch) }
                                return bias ? [g0, g1, g2] : [g0, g1] }))
        }
        for (seed, k, stride, pad, dil, bias) in [(105 as UInt64, 3, 2, 1, 1, false), (106, 3, 1, 2, 2, false), (107, 7, 2, 3, 1, false),
                                                  (108, 1, 2, 0, 1, false), (109, 1, 1, 0, 1, true), (110, 3, 1, 4, 4, true)] { // general conv: stride, padding, dilation
            let g = ConvGeometry(kernel: k, stride: stride, pad: pad, dilation: dil)
            let n = 2, h = 9, w = 7, cin = 3, cout = 4, oh = g.outSize(h), ow = g.outSize(w)
            var scratch = [Float](repeating: 0, count: max(1, Conv2d.scratchCount(h: h, w: w, cin: cin, geometry: g)))
            all.append(Case(name: "\(Conv2d.self) k\(k) s\(stride) p\(pad) d\(dil)\(bias ? " bias" : "")", seed: seed,
                            tensors: { rng in [Self.random(n * h * w * cin, &rng), Self.random(k * k * cin * cout, &rng)]
                                + (bias ? [Self.random(cout, &rng)] : []) },
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
            var argmax = [Int32](repeating: 0, count: n * oh * ow * c)
            all.append(Case(name: "\(MaxPool2d.self) 3x3 s2 p1", seed: 111,
                            tensors: { rng in [(0..<(n * h * w * c)).map { Float($0) * 0.05 - 6 }.shuffled(using: &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                MaxPool2d.forward(out: &out, argmax: &argmax, inp: t[0], n: n, h: h, w: w, c: c); return out },
                            backward: { t, d in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                MaxPool2d.forward(out: &out, argmax: &argmax, inp: t[0], n: n, h: h, w: w, c: c)
                                var g = [Float](repeating: 0, count: t[0].count)
                                MaxPool2d.backward(dinp: &g, dout: d, argmax: argmax, n: n, h: h, w: w, c: c, oh: oh, ow: ow); return [g] }))
        }
        do { // residual add
            let count = 15
            all.append(Case(name: "\(ResidualAdd.self)", seed: 112, tensors: { rng in [Self.random(count, &rng), Self.random(count, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: count)
                                ResidualAdd.forward(out: &out, a: t[0], b: t[1], count: count); return out },
                            backward: { _, d in var ga = [Float](repeating: 0, count: count), gb = ga
                                ResidualAdd.backward(da: &ga, db: &gb, dout: d, count: count); return [ga, gb] }))
        }
        for (seed, ih, iw, oh, ow) in [(113 as UInt64, 3, 4, 17, 9), (114, 6, 6, 2, 3), (115, 1, 2, 5, 5)] { // bilinear with align_corners = true
            let n = 2, c = 2
            all.append(Case(name: "\(BilinearResizeAlignCorners.self) \(ih)x\(iw)->\(oh)x\(ow)", seed: seed,
                            tensors: { rng in [Self.random(n * ih * iw * c, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                BilinearResizeAlignCorners.forward(out: &out, inp: t[0], n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * ih * iw * c)
                                BilinearResizeAlignCorners.backward(dinp: &g, dout: d, n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return [g] }))
        }
        do { // BatchNorm2d, training mode
            let rows = 12, c = 3
            var mean = [Float](repeating: 0, count: c), rstd = mean, rm = mean, rv = mean
            all.append(Case(name: "\(BatchNorm2d.self) train", seed: 116,
                            tensors: { rng in [Self.random(rows * c, &rng, scale: 2), Self.random(c, &rng), Self.random(c, &rng)] },
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
            all.append(Case(name: "\(ReLU.self)", seed: 117, tensors: { rng in [Self.random(count, &rng, awayFromZero: 0.05)] },
                            forward: { t in var out = [Float](repeating: 0, count: count); ReLU.forward(out: &out, inp: t[0], count: count); return out },
                            backward: { t, d in var out = [Float](repeating: 0, count: count); ReLU.forward(out: &out, inp: t[0], count: count)
                                var g = [Float](repeating: 0, count: count); ReLU.backward(dinp: &g, dout: d, out: out, count: count); return [g] }))
        }
        do { // Dropout2d with a fixed mask, drawn from the case's seed (stream 2; the tensors use stream 0, r stream 1)
            let n = 2, hw = 6, c = 4, seed: UInt64 = 118
            var mask = [Float](repeating: 0, count: n * c)
            var maskRng = SplitMix64(seed: seed, 2)
            Dropout2d.makeMask(&mask, n: n, c: c, p: 0.5, rng: &maskRng)
            all.append(Case(name: "\(Dropout2d.self) p0.5", seed: seed, tensors: { rng in [Self.random(n * hw * c, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: n * hw * c)
                                Dropout2d.forward(out: &out, inp: t[0], mask: mask, n: n, hw: hw, c: c); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * hw * c)
                                Dropout2d.backward(dinp: &g, dout: d, mask: mask, n: n, hw: hw, c: c); return [g] }))
        }
        for (seed, bins) in [(119 as UInt64, 3), (120, 6)] { // adaptive average pooling, overlapping cells when 5 or 7 is not a multiple of bins
            let n = 2, h = 5, w = 7, c = 3
            all.append(Case(name: "\(AdaptiveAvgPool2d.self) bins \(bins)", seed: seed, tensors: { rng in [Self.random(n * h * w * c, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: n * bins * bins * c)
                                AdaptiveAvgPool2d.forward(out: &out, inp: t[0], n: n, h: h, w: w, c: c, bins: bins); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * h * w * c)
                                AdaptiveAvgPool2d.backward(dinp: &g, dout: d, n: n, h: h, w: w, c: c, bins: bins); return [g] }))
        }
        for (seed, ih, iw, oh, ow) in [(121 as UInt64, 3, 4, 7, 5), (122, 6, 6, 2, 3)] { // bilinear up and down
            let n = 2, c = 2
            all.append(Case(name: "\(BilinearResize.self) \(ih)x\(iw)->\(oh)x\(ow)", seed: seed, tensors: { rng in [Self.random(n * ih * iw * c, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * ow * c)
                                BilinearResize.forward(out: &out, inp: t[0], n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * ih * iw * c)
                                BilinearResize.backward(dinp: &g, dout: d, n: n, inH: ih, inW: iw, c: c, outH: oh, outW: ow); return [g] }))
        }
        for (seed, ih, oh) in [(123 as UInt64, 3, 6), (124, 3, 7)] { // nearest 2× and an uneven size
            let n = 2, c = 2
            all.append(Case(name: "\(NearestUpsample.self) \(ih)->\(oh)", seed: seed, tensors: { rng in [Self.random(n * ih * ih * c, &rng)] },
                            forward: { t in var out = [Float](repeating: 0, count: n * oh * oh * c)
                                NearestUpsample.forward(out: &out, inp: t[0], n: n, inH: ih, inW: ih, c: c, outH: oh, outW: oh, accumulate: false)
                                return out },
                            backward: { t, d in var g = [Float](repeating: 0, count: n * ih * ih * c)
                                NearestUpsample.backward(dinp: &g, dout: d, n: n, inH: ih, inW: ih, c: c, outH: oh, outW: oh); return [g] }))
        }
        do { // channel concat
            let rows = 5, widths = [2, 3]
            all.append(Case(name: "\(ChannelConcat.self)", seed: 125, tensors: { rng in [Self.random(rows * 2, &rng), Self.random(rows * 3, &rng)] },
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
            all.append(Case(name: "\(SoftmaxCrossEntropy.self)", seed: 126, tensors: { rng in [Self.random(pixels * k, &rng, scale: 3)] },
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
            all.append(Case(name: "\(SoftmaxCrossEntropy.self) in place", seed: 127, tensors: { rng in [Self.random(pixels * k, &rng, scale: 3)] },
                            forward: { t in var buf = t[0]
                                return [Float(SoftmaxCrossEntropy.forward(probs: &buf, logits: t[0], labels: labels, pixels: pixels, k: k).loss)] },
                            backward: { t, d in var buf = t[0]
                                let r = buf.withUnsafeMutableBufferPointer { b in
                                    SoftmaxCrossEntropy.forward(probs: b.baseAddress!, logits: b.baseAddress!, labels: labels, pixels: pixels, k: k) }
                                SoftmaxCrossEntropy.backwardInPlace(probs: &buf, labels: labels, pixels: pixels, k: k, valid: r.valid)
                                return [buf.map { $0 * d[0] }] }))
        }
        all.append(Self.asppCase())
        return all
    }

    /// The ASPP head module (training mode, dropout 0.5 with a fixed mask): gradients of the input and of every
    /// parameter (one flat tensor in arena layout), through all five branches, the concat and the projection. ReLU
    /// inputs here are BatchNorm outputs, which cannot be kept away from the kink as the ReLU case's are: seed 131
    /// draws none within the ±1e-2 step of a sampled entry (128–130 each put one there).
    static func asppCase() -> Case {
        let n = 2, h = 4, w = 5, c = 3, o = 2, rates = [1, 2, 3], seed: UInt64 = 131
        let params = ParameterArena(), stats = ParameterArena()
        let d = HeadParameterDeclarer(params: params, stats: stats)
        let m = ASPP.declare(d, inputWidth: c, width: o, rates: rates, dropout: 0.5)
        params.allocate(); stats.allocate()
        stats.initialise(seed: seed)
        let module = m.resolve(params, stats)
        let store = TensorStore()
        let a = ASPP.Activations(module, n: n, h: h, w: w, store: store)
        let g = ASPP.Gradients(module, n: n, h: h, w: w, inputGradient: true, store: store)
        let scratch = store.tensor([ASPP.scratchCount(h: h, w: w, cin: c, rates: rates)])
        let ops = HeadOps(threads: 1, useWinograd: false, shard: nil, counters: BatchNormCounters(count: d.bnPrefixes.count))
        func run(_ t: [[Float]]) {
            // The module holds raw pointers: the closures keep the memory they point into (activations, BN running
            // statistics) alive.
            withExtendedLifetime((store, stats)) {}
            params.values.update(from: t[1], count: params.count)
            t[0].withUnsafeBufferPointer { x in
                module.forward(x.baseAddress!, n: n, h: h, w: w, a: a, ops: ops, training: true, dropoutSeed: seed, scratch: scratch)
            }
        }
        return Case(name: "\(ASPP.self) rates \(rates)", seed: seed,
                    tensors: { rng in [Self.random(n * h * w * c, &rng), Self.random(params.count, &rng, awayFromZero: 0.1)] },
                    forward: { t in run(t); return Array(UnsafeBufferPointer(start: a.output, count: n * h * w * o)) },
                    backward: { t, dout in
                        run(t)
                        params.zeroGrads()
                        var dx = [Float](repeating: 0, count: t[0].count)
                        t[0].withUnsafeBufferPointer { x in dx.withUnsafeMutableBufferPointer { dxp in
                            module.backward(dOut: dout, x: x.baseAddress!, dInput: dxp.baseAddress!, n: n, h: h, w: w, a: a, g: g,
                                            ops: ops, scratch: scratch) } }
                        return [dx, Array(UnsafeBufferPointer(start: params.grads, count: params.count))] })
    }

    /// Every file of Sources/Shared/Layers (one layer type each) has a case, and no two cases share a seed or a name.
    func testEveryLayerHasADistinctlySeededCase() throws {
        let layers = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Shared/Layers").standardized.path
        let files = try FileManager.default.contentsOfDirectory(atPath: layers).filter { $0.hasSuffix(".swift") }
        XCTAssertGreaterThanOrEqual(files.count, 15, "layer files in \(layers)")
        let all = cases(), covered = Set(all.map { String($0.name.prefix { $0 != " " }) })
        let missing = files.map { String($0.dropLast(".swift".count)) }.filter { !covered.contains($0) }.sorted()
        XCTAssertEqual(missing, [], "layers in \(layers) without a finite-difference case")
        let seeds = Dictionary(grouping: all, by: \.seed).filter { $0.value.count > 1 }.mapValues { $0.map(\.name) }
        XCTAssertEqual(seeds.count, 0, "cases sharing a seed: \(seeds)")
        XCTAssertEqual(Set(all.map(\.name)).count, all.count, "case names repeat: \(all.map(\.name))")
    }

    func testLayerGradientsMatchFiniteDifferences() {
        for c in cases() {
            var tensorRng = SplitMix64(seed: c.seed, 0)
            let tensors = c.tensors(&tensorRng)
            var rng = SplitMix64(seed: c.seed, 1)
            let outCount = c.forward(tensors).count
            let r = Self.random(outCount, &rng)
            func objective(_ t: [[Float]]) -> Double {
                zip(c.forward(t), r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            let analytic = c.backward(tensors, r)
            XCTAssertEqual(analytic.count, tensors.count, "\(c.name) (seed \(c.seed)): one gradient per tensor")
            for (ti, tensor) in tensors.enumerated() {
                let sample = tensor.count <= 40 ? Array(0..<tensor.count) : (0..<40).map { _ in Int(rng.next() % UInt64(tensor.count)) }
                // Entries not sampled take the analytic value, so the report's index is the tensor entry.
                var numeric = analytic[ti].map(Double.init)
                for i in sample {
                    let eps: Float = 1e-2
                    var plus = tensors, minus = tensors
                    plus[ti][i] += eps; minus[ti][i] -= eps
                    numeric[i] = (objective(plus) - objective(minus)) / Double(2 * eps)
                }
                assertClose(analytic[ti], numeric, rtol: 2e-3, atol: 2e-3, seed: c.seed,
                            what: "\(c.name): gradient of tensor \(ti), analytic vs central differences (\(Set(sample).count) entries sampled)")
            }
        }
    }
}
