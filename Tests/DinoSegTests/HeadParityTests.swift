import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegNN
@testable import DinoSegModels

/// The Swift head against PyTorch (fixtures written by scripts/make_head_fixture.py): logits, loss, every gradient,
/// and parameters + BN running stats after 3 SGD steps (momentum, weight decay, poly lr). Dropout is p = 0 there.
final class HeadParityTests: XCTestCase {
    func fixture(_ name: String) throws -> SafetensorsFile {
        let path = try XCTUnwrap(Bundle.module.path(forResource: "head_\(name)", ofType: "safetensors", inDirectory: "Fixtures"),
                                 "fixture head_\(name) missing (run scripts/make_head_fixture.py)")
        return try SafetensorsFile(path: path)
    }

    func testMatchesPyTorch() throws {
        for variant in ["os8", "os4", "ppm", "plain"].flatMap({ v in [(v, true), (v, false)] }) {
            let (fixtureName, winograd) = variant
            let name = "\(fixtureName) (\(winograd ? "winograd" : "im2col"))"
            let f = try fixture(fixtureName)
            let fx = try HeadStepFixture(f, winograd: winograd)
            let head = fx.head, config = fx.config, n = fx.batch, labels = fx.labels, shapes = fx.shapes
            let lh = fx.labelHeight, lw = fx.labelWidth, lr = fx.lr, mu = fx.momentum, wd = fx.weightDecay, maxIter = fx.maxIter

            let pointers = fx.inputs.mapValues { arr -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: arr.count); p.initialize(from: arr, count: arr.count); return p
            }
            defer { pointers.values.forEach { $0.deallocate() } }
            let stages = pointers.mapValues { UnsafePointer($0) }

            try labels.withUnsafeBufferPointer { lab in
                for step in 0..<3 {
                    head.params.zeroGrads()
                    let out = head.forward(stages: stages, shapes: shapes, batch: n, training: true)
                    let loss = head.loss(out, labels: lab.baseAddress!, labelHeight: lh, labelWidth: lw)
                    head.backward(saved: out, loss: loss)
                    if step == 0 {
                        let want = try f.floats("loss")[0]
                        XCTAssertEqual(Float(loss.loss), want, accuracy: 1e-4 * abs(want), "\(name): loss")
                        let logits = Array(UnsafeBufferPointer(start: out.logits.data, count: n * out.h * out.w * config.numClasses))
                        assertClose(logits, try f.floats("logits"), rtol: 1e-4, relativeTo: .maxExpected,
                                    shape: [n, out.h, out.w, config.numClasses], seed: nil, what: "\(name): logits vs PyTorch")
                        for v in head.params.views {
                            let g = head.params.torchLayout(head.params.grads, view: v)
                            assertClose(g, try f.floats("grad.\(v.name)"), rtol: 1e-4, relativeTo: .maxExpected,
                                        shape: f.tensors["grad.\(v.name)"]?.shape, seed: nil, what: "\(name): gradient of \(v.name) vs PyTorch")
                        }
                    }
                    let rate = polyLearningRate(base: lr, iteration: step, maxIter: maxIter)
                    head.sgdStep(lr: Float(rate), momentum: mu, weightDecay: wd)
                }
            }
            for v in head.params.views {
                // Compare the change over 3 steps, which is much smaller than the weights themselves.
                let initial = try f.floats("init.\(v.name)"), want = try f.floats("step3.\(v.name)")
                let got = head.params.torchLayout(head.params.values, view: v)
                let shape = f.tensors["step3.\(v.name)"]?.shape
                assertClose(zip(got, initial).map { $0 - $1 }, zip(want, initial).map { $0 - $1 }, rtol: 1e-3, relativeTo: .maxExpected,
                            shape: shape, seed: nil, what: "\(name): update of \(v.name) over 3 steps vs PyTorch")
                assertClose(got, want, rtol: 1e-4, relativeTo: .maxExpected, shape: shape, seed: nil,
                            what: "\(name): \(v.name) after 3 steps vs PyTorch")
            }
            for v in head.stats.views {
                let got = head.stats.torchLayout(head.stats.values, view: v)
                assertClose(got, try f.floats("step3.\(v.name)"), rtol: 1e-4, relativeTo: .maxExpected, seed: nil,
                            what: "\(name): \(v.name) after 3 steps vs PyTorch")
            }
            for (key, count) in head.batchesTracked {
                XCTAssertEqual(count, try f.integers("step3.\(key).num_batches_tracked").first, "\(name): \(key).num_batches_tracked")
            }
        }
    }
}
