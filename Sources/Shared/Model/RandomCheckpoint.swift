import Foundation
import DinoSegCore

// A random-weight DINOv3 ConvNeXt checkpoint on disk (Hugging Face names and layouts, config.json beside it), so the
// whole pipeline — extract, train, eval, predict — runs where the real weights are not available. Everything computed
// from it is marked: the safetensors metadata and config.json carry `dinoseg_random_weights`, and tools that see the
// mark print RANDOM-WEIGHT BACKBONE beside their numbers.

package enum RandomCheckpoint {
    package static let metadataKey = "dinoseg_random_weights"
    package static let label = "RANDOM-WEIGHT BACKBONE"
    /// Appended to the backbone name (and so to cache manifests) when the weights are random.
    package static let nameSuffix = "-RANDOM-WEIGHTS"

    /// True for a backbone name recorded from random weights.
    package static func isRandom(backboneName: String) -> Bool { backboneName.hasSuffix(nameSuffix) }

    /// HF-named tensors of a randomly initialised ConvNeXt, in checkpoint order, each drawn from its range in the
    /// table (ConvNeXtTensors.swift) with its own stream. Deterministic for the seed.
    package static func tensors(config: ConvNeXtConfig, seed: UInt64) -> [(name: String, shape: [Int], values: [Float])] {
        config.tensorTable.flatMap(\.all).enumerated().map { index, t in
            var rng = SplitMix64(seed: seed, index)
            let (lo, hi) = t.randomRange
            var v = [Float](repeating: 0, count: t.count)
            for i in v.indices { v[i] = lo + (hi - lo) * rng.nextFloat() }
            return (t.name, t.shape, v)
        }
    }

    /// Writes DIR/model.safetensors and DIR/config.json.
    package static func write(config: ConvNeXtConfig, seed: UInt64, to dir: String) throws {
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
    package static func isRandom(weightsPath path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return false }
        let file = isDir.boolValue ? path + "/model.safetensors" : path
        guard let st = try? SafetensorsFile(path: file) else { return false }
        return st.metadata[metadataKey] == "true"
    }
}
