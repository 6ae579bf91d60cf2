import XCTest
@testable import DinoSegCore
@testable import DinoSegBackbone

final class RandomCheckpointTests: XCTestCase {
    static let config = ConvNeXtConfig(hiddenSizes: [8, 16, 24, 32], depths: [1, 2, 1, 1])

    /// What RandomCheckpoint.tensors promises, written out independently of the loader: every Hugging Face tensor of
    /// the config with its shape and its uniform range (conv/linear ±√(3/fan_in), biases ±0.01, LayerNorm weights
    /// 1 ± 0.1, LayerNorm biases ±0.01, gamma [0.1, 0.5]).
    static func expectedTensors(_ config: ConvNeXtConfig) -> [String: (shape: [Int], lo: Float, hi: Float)] {
        var t: [String: (shape: [Int], lo: Float, hi: Float)] = [:]
        func fan(_ fanIn: Int) -> (Float, Float) { let a = (3 / Float(fanIn)).squareRoot(); return (-a, a) }
        for s in 0..<4 {
            let c = config.hiddenSizes[s], cin = s == 0 ? 3 : config.hiddenSizes[s - 1], k = s == 0 ? 4 : 2
            let conv = "stages.\(s).downsample_layers.\(s == 0 ? 0 : 1)", norm = "stages.\(s).downsample_layers.\(s == 0 ? 1 : 0)"
            let normChannels = s == 0 ? c : cin  // the stem normalises after its conv, later stages before theirs
            let (a, b) = fan(cin * k * k)
            t[conv + ".weight"] = ([c, cin, k, k], a, b)
            t[conv + ".bias"] = ([c], -0.01, 0.01)
            t[norm + ".weight"] = ([normChannels], 0.9, 1.1)
            t[norm + ".bias"] = ([normChannels], -0.01, 0.01)
            for j in 0..<config.depths[s] {
                let p = "stages.\(s).layers.\(j)."
                let dw = fan(49), pw1 = fan(c), pw2 = fan(4 * c)
                t[p + "depthwise_conv.weight"] = ([c, 1, 7, 7], dw.0, dw.1)
                t[p + "depthwise_conv.bias"] = ([c], -0.01, 0.01)
                t[p + "layer_norm.weight"] = ([c], 0.9, 1.1)
                t[p + "layer_norm.bias"] = ([c], -0.01, 0.01)
                t[p + "pointwise_conv1.weight"] = ([4 * c, c], pw1.0, pw1.1)
                t[p + "pointwise_conv1.bias"] = ([4 * c], -0.01, 0.01)
                t[p + "pointwise_conv2.weight"] = ([c, 4 * c], pw2.0, pw2.1)
                t[p + "pointwise_conv2.bias"] = ([c], -0.01, 0.01)
                t[p + "gamma"] = ([c], 0.1, 0.5)
            }
        }
        return t
    }

    /// The file holds exactly the expected tensors and shapes, the loader accepts it (and refuses it without one of
    /// them), the backbone runs at the expected resolutions, and the marks are set.
    func testRandomCheckpointHasEveryTensorTheLoaderExpects() throws {
        let dir = try tempDir("rw") + "/names"
        try RandomCheckpoint.write(config: Self.config, seed: 3, to: dir)
        let st = try SafetensorsFile(path: dir + "/model.safetensors")
        let expected = Self.expectedTensors(Self.config)
        XCTAssertEqual(st.names, expected.keys.sorted(), "tensor names of the random checkpoint")
        for name in st.names {
            XCTAssertEqual(st.tensors[name]?.shape, expected[name]?.shape, "shape of \(name)")
            XCTAssertEqual(st.tensors[name]?.dtype, .f32, "dtype of \(name)")
        }
        XCTAssertEqual(st.metadata[RandomCheckpoint.metadataKey], "true")
        XCTAssertEqual(st.metadata["seed"], "3")

        let backbone = try ConvNeXtBackbone(weightsPath: dir)
        XCTAssertEqual(backbone.stageChannels, [8, 16, 24, 32])
        XCTAssertEqual(backbone.weights.config.depths, [1, 2, 1, 1])
        XCTAssertTrue(backbone.weights.isRandom)
        XCTAssertTrue(RandomCheckpoint.isRandom(weightsPath: dir))
        XCTAssertFalse(RandomCheckpoint.isRandom(weightsPath: dir + "/missing"))
        XCTAssertTrue(RandomCheckpoint.isRandom(backboneName: backbone.name), backbone.name)
        let image = [Float](repeating: 0.5, count: 64 * 64 * 3)
        let maps = image.withUnsafeBufferPointer { backbone.forward(image: $0.baseAddress!, height: 64, width: 64, stages: [0, 3]) }
        XCTAssertEqual(maps.map(\.height), [16, 2])
        XCTAssertEqual(maps.map(\.channels), [8, 32])

        // Without one block tensor the loader must refuse the file, naming the tensor: its acceptance above means the
        // names and shapes are the ones it checks.
        let dropped = "stages.1.layers.1.pointwise_conv2.weight"
        let broken = try tempDir("rw") + "/broken"
        try FileSystem.createDirectory(broken)
        try SafetensorsFile.write(path: broken + "/model.safetensors",
                                  floats: RandomCheckpoint.tensors(config: Self.config, seed: 3).filter { $0.name != dropped },
                                  metadata: [:])
        XCTAssertThrowsError(try ConvNeXtWeights.load(path: broken + "/model.safetensors")) { e in
            XCTAssertEqual("\(e)", "\(broken)/model.safetensors: missing tensor '\(dropped)' (expected shape [16, 64], Hugging Face naming)")
        }
    }

    /// Same seed → byte-identical files; another seed → other bytes (and other values in every tensor).
    func testRandomCheckpointIsReproducibleForItsSeed() throws {
        let root = try tempDir("rw")
        let a = root + "/seed3a", b = root + "/seed3b", c = root + "/seed4"
        try RandomCheckpoint.write(config: Self.config, seed: 3, to: a)
        try RandomCheckpoint.write(config: Self.config, seed: 3, to: b)
        try RandomCheckpoint.write(config: Self.config, seed: 4, to: c)
        for file in ["model.safetensors", "config.json"] {
            let da = try Data(contentsOf: URL(fileURLWithPath: "\(a)/\(file)"))
            let db = try Data(contentsOf: URL(fileURLWithPath: "\(b)/\(file)"))
            if let d = byteDifference(da, db) { XCTFail("seed 3 written twice: \(file) \(d)") }
        }
        let da = try Data(contentsOf: URL(fileURLWithPath: "\(a)/model.safetensors"))
        let dc = try Data(contentsOf: URL(fileURLWithPath: "\(c)/model.safetensors"))
        XCTAssertNotNil(byteDifference(da, dc), "seeds 3 and 4 wrote identical model.safetensors")
        let three = RandomCheckpoint.tensors(config: Self.config, seed: 3), four = RandomCheckpoint.tensors(config: Self.config, seed: 4)
        for (x, y) in zip(three, four) {
            XCTAssertFalse(closeness(y.values, x.values, rtol: 0, seed: "3 vs 4", what: x.name).passed,
                           "seeds 3 and 4 give the same \(x.name)")
        }
    }

    /// Every tensor is uniform on its promised range: all values inside it, the extremes near its ends, and the mean
    /// and standard deviation within 5 standard errors of (lo + hi) / 2 and (hi − lo) / √12 (for the conv/linear
    /// weights, ±√(3/fan_in), that is 1/√fan_in).
    func testRandomCheckpointValuesFollowTheStatedInitialisation() throws {
        let dir = try tempDir("rw") + "/stats"
        try RandomCheckpoint.write(config: Self.config, seed: 3, to: dir)
        let st = try SafetensorsFile(path: dir + "/model.safetensors")
        let expected = Self.expectedTensors(Self.config)
        for name in st.names {
            guard let e = expected[name] else { XCTFail("unexpected tensor \(name)"); continue }
            let v = try st.floats(name).map(Double.init), n = Double(v.count)
            let lo = Double(e.lo), hi = Double(e.hi), width = hi - lo
            let mean = v.reduce(0, +) / n
            let std = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
            let sigma = width / 12.0.squareRoot()
            // Uniform: the sample mean's standard error is σ/√n, the sample std's about 0.45·σ/√n (kurtosis 9/5).
            let what = "\(name) (\(v.count) values, seed 3) against U(\(e.lo), \(e.hi))"
            XCTAssertTrue(v.min()! >= lo && v.max()! <= hi, "\(what): values span [\(v.min()!), \(v.max()!)]")
            // P(no value within 10·width/n of an end) = (1 − 10/n)^n ≈ e^-10.
            XCTAssertTrue(v.min()! <= lo + 10 * width / n && v.max()! >= hi - 10 * width / n,
                          "\(what): values span only [\(v.min()!), \(v.max()!)]")
            XCTAssertEqual(mean, (lo + hi) / 2, accuracy: 5 * sigma / n.squareRoot(), "\(what): mean")
            XCTAssertEqual(std, sigma, accuracy: 5 * 0.45 * sigma / n.squareRoot(), "\(what): standard deviation")
        }
    }
}
