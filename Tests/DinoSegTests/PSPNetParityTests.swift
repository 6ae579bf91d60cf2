import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegNN
@testable import DinoSegModels
@testable import DinoSegPipeline

/// The ResNet PSPNet baseline against PyTorch (fixtures written by scripts/make_pspnet_fixture.py, a reduced-width
/// copy of semseg's PSPNet): logits, main and aux loss, every gradient, and parameters + BN running stats after two
/// SGD steps with the two learning rates. Dropout is p = 0 there. Also: the checkpoint holds exactly the fixture's
/// state_dict names and shapes (the script proved those load into the PyTorch module with strict=True).
final class PSPNetParityTests: XCTestCase {
    /// The fixture's SGD settings.
    struct SGD: Decodable {
        var baseLR: Double, headLRFactor: Double, momentum: Float, weightDecay: Float, power: Double, maxIter: Int, steps: Int
    }

    func fixture(_ name: String) throws -> SafetensorsFile {
        let path = try XCTUnwrap(Bundle.module.path(forResource: "pspnet_\(name)", ofType: "safetensors", inDirectory: "Fixtures"),
                                 "fixture pspnet_\(name) missing (run scripts/make_pspnet_fixture.py)")
        return try SafetensorsFile(path: path)
    }

    func network(_ f: SafetensorsFile) throws -> PSPNet {
        let config = try JSONDecoder().decode(PSPNetConfig.self, from: Data(f.metadata["config"]!.utf8))
        let net = try PSPNet(config: config, seed: 1, threads: 2)
        try PSPNetCheckpoint.loadState(f, prefix: "init.", into: net)
        return net
    }

    func testTrainingStepMatchesPyTorch() throws {
        for name in ["os8", "os32"] {
            let f = try fixture(name)
            let net = try network(f)
            let input = try f.floats("input"), shape = f.tensors["input"]!.shape
            let n = shape[0], h = shape[1], w = shape[2]
            let labels = try f.integers("labels").map { UInt8($0) }
            let sgd = try JSONDecoder().decode(SGD.self, from: Data(f.metadata["sgd"]!.utf8))
            // Against the tensor's largest value (sums over many terms; normalised outputs near zero).
            func check(_ got: [Float], _ want: [Float], _ what: String, tolerance: Double = 1e-4) {
                assertClose(got, want, rtol: tolerance, relativeTo: .maxExpected, seed: nil, what: "pspnet \(name): \(what) vs PyTorch")
            }
            for step in 0..<sgd.steps {
                net.params.zeroGrads()
                let saved = net.forward(images: input, n: n, h: h, w: w, training: true)
                if step == 0 {
                    let up = saved.cls.upsampled
                    check(Array(UnsafeBufferPointer(start: up.data, count: up.count)), try f.floats("logits"), "logits")
                }
                let loss = labels.withUnsafeBufferPointer { net.loss(saved, labels: $0.baseAddress!) }
                net.backward(saved: saved)
                if step == 0 {
                    let want = try f.floats("loss")
                    check([Float(loss.main), Float(loss.aux), Float(loss.total)], want, "loss (main, aux, total)")
                    for v in net.params.views {
                        check(net.params.torchLayout(net.params.grads, view: v), try f.floats("grad.\(v.name)"), "gradient of \(v.name)")
                    }
                }
                let lr = polyLearningRate(base: sgd.baseLR, iteration: step, maxIter: sgd.maxIter, power: sgd.power)
                net.sgdStep(lr: Float(lr), headLR: Float(lr * sgd.headLRFactor), momentum: sgd.momentum, weightDecay: sgd.weightDecay)
            }
            for v in net.params.views {
                // The change over two steps is much smaller than the weights: compare it too, to 1e-3 of its size plus
                // the rounding of the stored float32 weights (a few ulps of the largest weight).
                let initial = try f.floats("init.\(v.name)"), want = try f.floats("step2.\(v.name)")
                let got = net.params.torchLayout(net.params.values, view: v)
                check(got, want, "\(v.name) after \(sgd.steps) steps")
                let dGot = zip(got, initial).map { $0 - $1 }, dWant = zip(want, initial).map { $0 - $1 }
                let allowed = 1e-3 * dWant.map(abs).max()! + 4 * Float.ulpOfOne * want.map(abs).max()!
                assertClose(dGot, dWant, rtol: 0, atol: Double(allowed), seed: nil,
                            what: "pspnet \(name): update of \(v.name) over \(sgd.steps) steps vs PyTorch")
            }
            for v in net.stats.views {
                check(net.stats.torchLayout(net.stats.values, view: v), try f.floats("step2.\(v.name)"), "\(v.name) after \(sgd.steps) steps")
            }
            for (bn, count) in net.batchesTracked {
                XCTAssertEqual(count, try f.integers("step2.\(bn).num_batches_tracked").first, "pspnet \(name): \(bn).num_batches_tracked")
            }
        }
    }

    /// A saved checkpoint holds the state_dict keys and shapes of the PyTorch module (plus optimizer.*), and loads back.
    func testCheckpointNamesAreSemsegStateDict() throws {
        for name in ["os8", "os32"] {
            let f = try fixture(name)
            let net = try network(f)
            let dir = URL(fileURLWithPath: try tempDir("pspnet-ckpt"))
            let path = dir.appendingPathComponent("last.safetensors").path
            let progress = TrainProgress(step: 3, epoch: 1, batchInEpoch: 0, seed: 5, maxIter: 10, batchSize: 2)
            try PSPNetCheckpoint.save(net, to: path, progress: progress)
            let saved = try SafetensorsFile(path: path)
            let torchKeys = Set(f.names.filter { $0.hasPrefix("init.") }.map { String($0.dropFirst(5)) })
            let ours = Set(saved.names.filter { !$0.hasPrefix("optimizer.") })
            XCTAssertEqual(ours.subtracting(torchKeys).sorted(), [], "pspnet \(name): checkpoint keys PyTorch does not have")
            XCTAssertEqual(torchKeys.subtracting(ours).sorted(), [], "pspnet \(name): state_dict keys missing from the checkpoint")
            for k in ours.intersection(torchKeys) {
                XCTAssertEqual(saved.tensors[k]!.shape, f.tensors["init." + k]!.shape, "pspnet \(name): shape of \(k)")
            }
            let back = try PSPNet(config: net.config, seed: 9)
            XCTAssertEqual(try PSPNetCheckpoint.load(path, into: back), progress)
            for v in net.params.views {
                XCTAssertEqual(back.params.torchLayout(back.params.values, view: v), try f.floats("init.\(v.name)"), "reloaded \(v.name)")
            }
        }
    }

    /// ImageNet weights under torchvision / semseg names load into the backbone; a missing or misshapen tensor is
    /// refused with its name and the expected shape.
    func testBackboneWeightsLoadAndRefuseBadTensors() throws {
        let f = try fixture("os32")   // torchvision stem
        let net = try network(f)
        let dir = URL(fileURLWithPath: try tempDir("pspnet-weights"))
        // torchvision naming: layer0.0 → conv1, layer0.1 → bn1, layerN unchanged, plus an fc that is ignored.
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for v in net.backboneViews {
            let tv = v.name.replacingOccurrences(of: "layer0.0.", with: "conv1.").replacingOccurrences(of: "layer0.1.", with: "bn1.")
            tensors.append((tv, v.torchShape, try f.floats("init.\(v.name)")))
        }
        tensors.append(("fc.weight", [3, 2], [1, 2, 3, 4, 5, 6]))
        let good = dir.appendingPathComponent("resnet.safetensors").path
        try SafetensorsFile.write(path: good, floats: tensors)
        let fresh = try PSPNet(config: net.config, seed: 77)
        XCTAssertEqual(try PSPNetCheckpoint.loadBackbone(good, into: fresh), "torchvision names (conv1 7×7)")
        for v in net.backboneViews where v.offset < net.backboneCount && !v.name.contains("running") {
            XCTAssertEqual(fresh.params.torchLayout(fresh.params.values, view: v), try f.floats("init.\(v.name)"), "loaded \(v.name)")
        }
        // A misshapen tensor and a missing one.
        var bad = tensors
        let i = bad.firstIndex { $0.name == "layer2.0.conv2.weight" }!
        bad[i].shape = [bad[i].shape[0], bad[i].shape[1] * 9]
        let badPath = dir.appendingPathComponent("bad.safetensors").path
        try SafetensorsFile.write(path: badPath, floats: bad)
        let expected = net.params.view("layer2.0.conv2.weight")!.torchShape
        XCTAssertThrowsError(try PSPNetCheckpoint.loadBackbone(badPath, into: fresh)) { error in
            XCTAssertEqual("\(error)", "\(badPath): tensor 'layer2.0.conv2.weight' has shape \(bad[i].shape), expected \(expected)")
        }
        let missingPath = dir.appendingPathComponent("missing.safetensors").path
        try SafetensorsFile.write(path: missingPath, floats: tensors.filter { $0.name != "layer4.0.bn3.running_var" })
        XCTAssertThrowsError(try PSPNetCheckpoint.loadBackbone(missingPath, into: fresh)) { error in
            XCTAssertTrue("\(error)".hasSuffix("missing tensor 'layer4.0.bn3.running_var' (expected shape [\(net.config.layerOut(3))])"), "\(error)")
        }
    }
}
