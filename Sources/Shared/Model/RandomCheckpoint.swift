import Foundation

// A random-weight DINOv3 ConvNeXt checkpoint on disk (Hugging Face names and layouts, config.json beside it), so the
// whole pipeline — extract, train, eval, predict — runs where the real weights are not available. Everything computed
// from it is marked: the safetensors metadata and config.json carry `dinoseg_random_weights`, and tools that see the
// mark print RANDOM-WEIGHT BACKBONE beside their numbers.

public enum RandomCheckpoint {
    public static let metadataKey = "dinoseg_random_weights"
    public static let label = "RANDOM-WEIGHT BACKBONE"
    /// Appended to the backbone name (and so to cache manifests) when the weights are random.
    public static let nameSuffix = "-RANDOM-WEIGHTS"

    /// True for a backbone name recorded from random weights.
    public static func isRandom(backboneName: String) -> Bool { backboneName.hasSuffix(nameSuffix) }

    /// HF-named tensors of a randomly initialised ConvNeXt: conv/linear U(±√(3/fan_in)), biases U(±0.01),
    /// LayerNorm weight 1 ± 0.1 and bias U(±0.01), gamma U(0.1, 0.5). Deterministic for the seed.
    public static func tensors(config: ConvNeXtConfig, seed: UInt64) -> [(name: String, shape: [Int], values: [Float])] {
        var out: [(name: String, shape: [Int], values: [Float])] = []
        func add(_ name: String, _ shape: [Int], _ lo: Float, _ hi: Float) {
            var rng = SplitMix64(seed: seed, out.count)
            let n = shape.reduce(1, *)
            var v = [Float](repeating: 0, count: n)
            for i in 0..<n { v[i] = lo + (hi - lo) * rng.nextFloat() }
            out.append((name, shape, v))
        }
        func fan(_ name: String, _ shape: [Int], fanIn: Int) { let a = (3 / Float(fanIn)).squareRoot(); add(name, shape, -a, a) }
        for s in 0..<config.stageCount {
            let c = config.hiddenSizes[s], cin = s == 0 ? config.inputChannels : config.hiddenSizes[s - 1]
            let k = s == 0 ? 4 : 2, normChannels = s == 0 ? c : cin
            fan(ConvNeXtKeys.convWeight(s), [c, cin, k, k], fanIn: cin * k * k)
            add(ConvNeXtKeys.convBias(s), [c], -0.01, 0.01)
            add(ConvNeXtKeys.norm(s, "weight"), [normChannels], 0.9, 1.1)
            add(ConvNeXtKeys.norm(s, "bias"), [normChannels], -0.01, 0.01)
            for j in 0..<config.depths[s] {
                let b = { ConvNeXtKeys.block(s, j, $0) }
                fan(b("depthwise_conv.weight"), [c, 1, 7, 7], fanIn: 49)
                add(b("depthwise_conv.bias"), [c], -0.01, 0.01)
                add(b("layer_norm.weight"), [c], 0.9, 1.1)
                add(b("layer_norm.bias"), [c], -0.01, 0.01)
                fan(b("pointwise_conv1.weight"), [4 * c, c], fanIn: c)
                add(b("pointwise_conv1.bias"), [4 * c], -0.01, 0.01)
                fan(b("pointwise_conv2.weight"), [c, 4 * c], fanIn: 4 * c)
                add(b("pointwise_conv2.bias"), [c], -0.01, 0.01)
                add(b("gamma"), [c], 0.1, 0.5)
            }
        }
        return out
    }

    /// Writes DIR/model.safetensors and DIR/config.json.
    public static func write(config: ConvNeXtConfig, seed: UInt64, to dir: String) throws {
        try FileSystem.createDirectory(dir, what: "output directory")
        try SafetensorsFile.write(path: dir + "/model.safetensors", floats: tensors(config: config, seed: seed),
                                  metadata: ["format": "pt", metadataKey: "true", "seed": String(seed)])
        let json: [String: Any] = [
            "model_type": "dinov3_convnext", "hidden_sizes": config.hiddenSizes, "depths": config.depths,
            "layer_norm_eps": Double(config.layerNormEps), "num_channels": config.inputChannels,
            metadataKey: true, "_comment": "\(label): random weights written by `extract random-weights` (seed \(seed))",
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try AtomicWrite.write(data, to: dir + "/config.json")
    }

    /// True when the weights at `path` (a directory or a .safetensors file) carry the random-weight mark.
    public static func isRandom(weightsPath path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return false }
        let file = isDir.boolValue ? path + "/model.safetensors" : path
        guard let st = try? SafetensorsFile(path: file) else { return false }
        return st.metadata[metadataKey] == "true"
    }
}
