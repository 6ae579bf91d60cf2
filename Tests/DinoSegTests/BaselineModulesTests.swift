import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegNN
@testable import DinoSegModels

/// The PSPNet baseline runs the head's PyramidPooling and SegmentationClassifier modules: with `HeadOps.viaConv2d`
/// (its convolutions through Conv2d) they compute what they compute on the head's kernels, their buffers can come
/// from the baseline's buffer pool, and the baseline's module parameters keep semseg's names, shapes and order.
final class BaselineModulesTests: XCTestCase {
    /// A module's inputs, outputs and gradients on one set of kernels, for comparing two sets.
    struct Pass { var output: [Float]; var inputGrad: [Float]; var paramGrads: [Float] }

    /// Values of a buffer.
    func values(_ t: HeadTensor) -> [Float] { Array(UnsafeBufferPointer(start: t.data, count: t.count)) }

    /// Random input and output gradient of `count` and `outCount` floats from `seed`.
    func randomData(seed: UInt64, count: Int, outCount: Int) -> (x: [Float], dOut: [Float]) {
        var rng = SplitMix64(seed: seed, 3)
        return ((0..<count).map { _ in Float(rng.normal()) }, (0..<outCount).map { _ in Float(rng.normal()) })
    }

    /// A classifier (dropout 0.5, so the mask matters) forward in training and backward from a random logit gradient.
    func classifierPass(viaConv2d: Bool, seed: UInt64) -> Pass {
        let (n, h, w, cin, mid, k) = (2, 5, 6, 8, 12, 3)
        let params = ParameterArena(), stats = ParameterArena()
        let d = HeadParameterDeclarer(params: params, stats: stats)
        let slots = SegmentationClassifier.declare(d, inputWidth: cin, width: mid, classes: k, dropout: 0.5)
        params.allocate(); stats.allocate(); params.initialise(seed: seed); stats.initialise(seed: seed)
        let m = slots.resolve(params, stats)
        let store = TensorStore()
        let a = SegmentationClassifier.Activations(m, n: n, h: h, w: w, store: store)
        let g = SegmentationClassifier.Gradients(m, n: n, h: h, w: w, store: store)
        let dx = store.tensor([n, h, w, cin])
        let scratch = store.tensor([Conv2d.scratchCount(h: h, w: w, cin: cin, geometry: ConvGeometry(kernel: 3, pad: 1))])
        let ops = HeadOps(threads: 1, useWinograd: false, shard: nil, counters: BatchNormCounters(count: d.bnPrefixes.count),
                          viaConv2d: viaConv2d)
        let (x, dOut) = randomData(seed: seed, count: n * h * w * cin, outCount: n * h * w * k)
        x.withUnsafeBufferPointer { xp in
            m.forward(xp.baseAddress!, n: n, h: h, w: w, a: a, ops: ops, training: true, dropoutRNG: SplitMix64(seed: seed),
                      scratch: scratch)
            g.logits.data.update(from: dOut, count: dOut.count)
            m.backward(x: xp.baseAddress!, dInput: dx.data, n: n, h: h, w: w, a: a, g: g, ops: ops, scratch: scratch)
        }
        return Pass(output: values(a.logits), inputGrad: values(dx),
                    paramGrads: Array(UnsafeBufferPointer(start: params.grads, count: params.count)))
    }

    /// A pyramid pooling module (semseg's: align corners) forward in training and backward from a random gradient.
    func pyramidPass(viaConv2d: Bool, seed: UInt64) -> Pass {
        let (n, h, w, c, r, bins) = (2, 7, 9, 6, 4, [1, 2, 3, 6])
        let params = ParameterArena(), stats = ParameterArena()
        let d = HeadParameterDeclarer(params: params, stats: stats)
        let slots = PyramidPooling.declare(d, inputWidth: c, bins: bins, reduction: r, alignCorners: true)
        params.allocate(); stats.allocate(); params.initialise(seed: seed); stats.initialise(seed: seed)
        let m = slots.resolve(params, stats)
        let store = TensorStore()
        let a = PyramidPooling.Activations(m, n: n, h: h, w: w, store: store)
        let g = PyramidPooling.Gradients(m, n: n, h: h, w: w, inputGradient: true, store: store)
        let dx = store.tensor([n, h, w, c])
        let ops = HeadOps(threads: 1, useWinograd: false, shard: nil, counters: BatchNormCounters(count: d.bnPrefixes.count),
                          viaConv2d: viaConv2d)
        let (x, dOut) = randomData(seed: seed, count: n * h * w * c, outCount: n * h * w * m.outputWidth)
        x.withUnsafeBufferPointer { xp in
            m.forward(xp.baseAddress!, n: n, h: h, w: w, a: a, ops: ops, training: true)
        }
        m.backward(dOut: dOut, dInput: dx.data, n: n, h: h, w: w, a: a, g: g, ops: ops)
        return Pass(output: values(a.concat), inputGrad: values(dx),
                    paramGrads: Array(UnsafeBufferPointer(start: params.grads, count: params.count)))
    }

    func assertSame(_ got: Pass, _ want: Pass, seed: UInt64, module: String) {
        assertClose(got.output, want.output, rtol: 1e-4, atol: 1e-5, seed: seed, what: "\(module) output, Conv2d vs head kernels")
        assertClose(got.inputGrad, want.inputGrad, rtol: 1e-4, atol: 1e-5, seed: seed,
                    what: "\(module) input gradient, Conv2d vs head kernels")
        assertClose(got.paramGrads, want.paramGrads, rtol: 1e-4, atol: 1e-5, seed: seed,
                    what: "\(module) parameter gradients, Conv2d vs head kernels")
    }

    func testClassifierThroughConv2dMatchesTheHeadKernels() {
        let seed: UInt64 = 41
        assertSame(classifierPass(viaConv2d: true, seed: seed), classifierPass(viaConv2d: false, seed: seed), seed: seed,
                   module: "classifier")
    }

    func testPyramidPoolingThroughConv2dMatchesTheHeadKernels() {
        let seed: UInt64 = 43
        assertSame(pyramidPass(viaConv2d: true, seed: seed), pyramidPass(viaConv2d: false, seed: seed), seed: seed,
                   module: "pyramid pooling")
    }

    /// A pooled store hands out zero-filled buffers (also when the pool's kept memory holds NaN) and gives them all back.
    func testPooledStoreZeroFillsAndGivesItsBuffersBack() {
        let pool = TensorBufferPool()
        var store: TensorStore? = TensorStore(pool: pool)
        _ = store!.tensor([2, 3, 4]); _ = store!.tensor([5])
        XCTAssertEqual(pool.liveBytes, 29 * 4, "the store's two buffers are live in the pool")
        store = nil
        XCTAssertEqual(pool.liveBytes, 0, "a released store gives its buffers back")
        XCTAssertEqual(pool.keptBytes, 29 * 4, "and the pool keeps them")
        pool.fillKept(with: .nan)
        let again = TensorStore(pool: pool)
        let t = again.tensor([2, 3, 4])
        XCTAssertEqual(values(t), [Float](repeating: 0, count: 24), "a kept buffer handed out again is zero-filled")
    }

    /// The baseline's ppm / cls / aux parameters: semseg's state_dict names and shapes, in semseg's order, after the
    /// backbone's (checkpoints and the two learning-rate groups depend on both).
    func testBaselineModuleParametersKeepSemsegNamesAndOrder() throws {
        let config = PSPNetConfig.reduced(divisor: 16, blocks: [1, 1, 1, 1], outputStride: 8)
        let net = try PSPNet(config: config, seed: 5, threads: 1)
        let head = net.params.views.filter { $0.offset >= net.backboneCount }
        XCTAssertEqual(net.params.views.filter { $0.offset < net.backboneCount }.filter { !$0.name.hasPrefix("layer") }.map(\.name),
                       [], "only layer0–layer4 in the backbone's learning-rate group")
        let f = config.featureWidth, p = config.ppmWidth, k = config.numClasses
        var want: [(String, [Int])] = []
        for j in config.bins.indices {
            want += [("ppm.features.\(j).1.weight", [p, f, 1, 1]), ("ppm.features.\(j).2.weight", [p]),
                     ("ppm.features.\(j).2.bias", [p])]
        }
        for (name, cin, mid) in [("cls", config.ppmOut, config.classifierWidth), ("aux", config.layerOut(2), config.auxWidth)] {
            want += [("\(name).0.weight", [mid, cin, 3, 3]), ("\(name).1.weight", [mid]), ("\(name).1.bias", [mid]),
                     ("\(name).4.weight", [k, mid, 1, 1]), ("\(name).4.bias", [k])]
        }
        XCTAssertEqual(head.map(\.name), want.map(\.0), "module parameter names in order")
        XCTAssertEqual(head.map(\.torchShape), want.map(\.1), "module parameter shapes")
        // One training forward advances every BatchNorm counter, the modules' (kept by HeadOps) as the backbone's.
        let (n, crop) = (1, 33)
        var rng = SplitMix64(seed: 5, 1)
        let images = (0..<(n * crop * crop * 3)).map { _ in Float(rng.normal()) }
        _ = net.forward(images: images, n: n, h: crop, w: crop, training: true, dropoutSeed: 5)
        let bns = config.bins.indices.map { "ppm.features.\($0).2" } + ["cls.1", "aux.1", "layer0.1", "layer4.0.bn3"]
        for bn in bns { XCTAssertEqual(net.batchesTracked[bn], 1, "\(bn).num_batches_tracked after one training forward") }
        var restored = net.batchesTracked
        restored["cls.1"] = 9; restored["layer0.1"] = 8
        net.batchesTracked = restored
        XCTAssertEqual(net.batchesTracked, restored, "num_batches_tracked set (as a checkpoint load does) reads back")
    }
}
