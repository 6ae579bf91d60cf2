import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegNN
@testable import DinoSegModels

/// The ASPP context module against torchvision's `deeplabv3.ASPP` on the same weights (fixture written by
/// scripts/make_aspp_fixture.py): state_dict names, output, input and parameter gradients, BN running statistics after
/// a training forward; and a head with ASPP keeping those names in its checkpoints.
final class ASPPParityTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("aspp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func fixture() throws -> SafetensorsFile {
        let path = try XCTUnwrap(Bundle.module.path(forResource: "aspp", ofType: "safetensors", inDirectory: "Fixtures"),
                                 "fixture aspp missing (run scripts/make_aspp_fixture.py)")
        return try SafetensorsFile(path: path)
    }

    /// An ASPP module declared in fresh arenas and loaded with the fixture's initial state.
    func loadedModule(_ f: SafetensorsFile) throws -> (ASPP, ParameterArena, ParameterArena, Int) {
        let c = Int(f.metadata["in_channels"]!)!, o = Int(f.metadata["out_channels"]!)!
        let rates = try JSONDecoder().decode([Int].self, from: Data(f.metadata["rates"]!.utf8))
        let params = ParameterArena(), stats = ParameterArena()
        let d = HeadParameterDeclarer(params: params, stats: stats)
        let slots = ASPP.declare(d, inputWidth: c, width: o, rates: rates, dropout: 0)
        params.allocate(); stats.allocate()
        for arena in [params, stats] {
            for v in arena.views {
                let values = try f.floats("init." + v.name)
                XCTAssertEqual(f.tensors["init." + v.name]?.shape, v.torchShape, "shape of \(v.name)")
                values.withUnsafeBufferPointer { arena.fromTorchLayout($0.baseAddress!, into: arena.values + v.offset, view: v) }
            }
        }
        return (slots.resolve(params, stats), params, stats, d.bnPrefixes.count)
    }

    func testNamesMatchTorchvision() throws {
        let f = try fixture()
        let (_, params, stats, _) = try loadedModule(f)
        let ours = Set((params.views + stats.views).map(\.name))
        let theirs = Set(f.tensors.keys.filter { $0.hasPrefix("init.") && !$0.hasSuffix("num_batches_tracked") }.map { String($0.dropFirst(5)) })
        XCTAssertEqual(ours.sorted(), theirs.sorted(), "ASPP state_dict names vs torchvision's")
    }

    func testForwardAndBackwardMatchTorchvision() throws {
        let f = try fixture()
        let (m, params, stats, bnCount) = try loadedModule(f)
        let shape = try XCTUnwrap(f.tensors["input"]?.shape)
        let (n, h, w) = (shape[0], shape[1], shape[2])
        let x = try f.floats("input"), dout = try f.floats("dout")
        let store = TensorStore()
        let a = ASPP.Activations(m, n: n, h: h, w: w, store: store)
        let g = ASPP.Gradients(m, n: n, h: h, w: w, inputGradient: true, store: store)
        let scratch = store.tensor([max(1, ASPP.scratchCount(h: h, w: w, cin: m.inputWidth, rates: m.branches.dropFirst().map(\.geometry.dilation)))])
        let counters = BatchNormCounters(count: bnCount)
        let ops = HeadOps(threads: 2, useWinograd: false, shard: nil, counters: counters)
        var dInput = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            m.forward(xp.baseAddress!, n: n, h: h, w: w, a: a, ops: ops, training: true, dropoutSeed: 0, scratch: scratch)
            dout.withUnsafeBufferPointer { dp in
                dInput.withUnsafeMutableBufferPointer { di in
                    m.backward(dOut: dp.baseAddress!, x: xp.baseAddress!, dInput: di.baseAddress!, n: n, h: h, w: w, a: a, g: g,
                               ops: ops, scratch: scratch)
                }
            }
        }
        let out = Array(UnsafeBufferPointer(start: a.output, count: n * h * w * m.width))
        assertClose(out, try f.floats("output"), rtol: 1e-4, relativeTo: .maxExpected, shape: [n, h, w, m.width], seed: nil,
                    what: "ASPP output vs torchvision")
        assertClose(dInput, try f.floats("grad.input"), rtol: 1e-4, relativeTo: .maxExpected, shape: shape, seed: nil,
                    what: "ASPP input gradient vs torchvision")
        for v in params.views {
            assertClose(params.torchLayout(params.grads, view: v), try f.floats("grad." + v.name), rtol: 1e-4,
                        relativeTo: .maxExpected, shape: v.torchShape, seed: nil, what: "ASPP gradient of \(v.name) vs torchvision")
        }
        for v in stats.views {
            assertClose(stats.torchLayout(stats.values, view: v), try f.floats("after." + v.name), rtol: 1e-5,
                        relativeTo: .maxExpected, seed: nil, what: "ASPP \(v.name) after one training forward vs torchvision")
        }
        XCTAssertEqual(counters.tracked, Array(repeating: 1, count: bnCount), "num_batches_tracked after one training forward")
    }

    /// A head with FPN and ASPP: its context parameters carry torchvision's names under `aspp.`, it trains one step to
    /// a finite loss, and its checkpoint reloads into the same logits.
    func testHeadWithASPPSavesTorchvisionNamesAndReloads() throws {
        var config = HeadConfig(stageChannels: [4, 6, 8, 10], fpnWidth: 8, outputStride: 8, variant: .fpnASPP, numClasses: 3)
        config.classifierWidth = 8; config.asppWidth = 4
        XCTAssertEqual(config.asppRates, [12, 24, 36], "default rates at output stride 8")
        let head = try SegmentationHead(config: config, seed: 3, threads: 1)
        let f = try fixture()
        let theirs = Set(f.tensors.keys.filter { $0.hasPrefix("init.aspp.") && !$0.hasSuffix("num_batches_tracked") }.map { String($0.dropFirst(5)) })
        let ours = Set((head.params.views + head.stats.views).map(\.name).filter { $0.hasPrefix("aspp.") })
        XCTAssertEqual(ours.sorted(), theirs.sorted(), "the head's ASPP names vs torchvision's")

        var rng = SplitMix64(seed: 17)
        let sizes = [16, 8, 4, 2]
        var stages: [Int: [Float]] = [:], shapes: [Int: SegmentationHead.StageShape] = [:]
        for s in 1...3 {
            stages[s] = (0..<(2 * sizes[s] * sizes[s] * config.stageChannels[s])).map { _ in rng.nextFloat() * 2 - 1 }
            shapes[s] = (sizes[s], sizes[s], config.stageChannels[s])
        }
        let labels = (0..<(2 * 32 * 32)).map { _ in UInt8(rng.next() % 3) }
        let logits: [Float] = try withStagePointers(stages, stages: [1, 2, 3]) { p in
            try labels.withUnsafeBufferPointer { lab in
                let a = head.forward(stages: p, shapes: shapes, batch: 2, training: true, dropoutSeed: 1)
                let loss = head.loss(a, labels: lab.baseAddress!, labelHeight: 32, labelWidth: 32)
                XCTAssertTrue(loss.loss.isFinite && loss.loss > 0, "ASPP head loss \(loss.loss)")
                head.backward(saved: a, loss: loss)
                head.sgdStep(lr: 0.01, momentum: 0.9, weightDecay: 1e-4)
                let path = tmp.appendingPathComponent("aspp-head.safetensors").path
                try HeadCheckpoint.save(head, to: path)
                let reloaded = try SegmentationHead(config: try HeadCheckpoint.config(of: path), seed: 99, threads: 1)
                try HeadCheckpoint.load(path, into: reloaded)
                let want = head.logits(stages: p, shapes: shapes, batch: 2, outHeight: 8, outWidth: 8)
                let got = reloaded.logits(stages: p, shapes: shapes, batch: 2, outHeight: 8, outWidth: 8)
                XCTAssertEqual(got, want, "eval logits of the reloaded ASPP head")
                return got
            }
        }
        XCTAssertTrue(logits.allSatisfy(\.isFinite), "finite logits")
    }
}
