import Foundation
import DinoSegCore
import DinoSegKernels

/// Weights of one residual block, repacked for the kernels.
package struct ConvNeXtBlockWeights {
    package var depthwise: [Float]        // [7, 7, C]
    package var depthwiseBias: [Float]    // [C]
    package var normWeight: [Float]       // [C]
    package var normBias: [Float]         // [C]
    package var expand: [Float]           // [C, 4C]  (pointwise_conv1 transposed to [in, out])
    package var expandBias: [Float]       // [4C]
    package var project: [Float]          // [4C, C]  (pointwise_conv2 transposed)
    package var projectBias: [Float]      // [C]
    package var gamma: [Float]            // [C]
}

/// One stage: the patch convolution with its LayerNorm (after the conv in stage 0, before it otherwise), then blocks.
package struct ConvNeXtStageWeights {
    package var conv: [Float]             // [(ky, kx, ci), C]
    package var convBias: [Float]         // [C]
    package var normWeight: [Float]       // [C] (stage 0: C channels; later stages: previous stage's channels)
    package var normBias: [Float]
    package var blocks: [ConvNeXtBlockWeights]
}

/// How checkpoint keys are spelled: Hugging Face (`stages.i.layers.j.depthwise_conv.weight`) or Meta's original
/// (`stages.i.j.dwconv.weight`, `downsample_layers.i.k.weight`), optionally under a `model.` prefix.
package struct ConvNeXtKeyNaming: Equatable {
    package enum Style: String { case huggingFace = "Hugging Face", meta = "Meta" }
    package var style: Style
    package var prefix: String

    /// Detects the naming from the keys present.
    package init(keys: [String]) {
        let prefixed = keys.contains { $0.hasPrefix("model.stages.") || $0.hasPrefix("model.downsample_layers.") }
        prefix = prefixed ? "model." : ""
        let bare = keys.map { prefixed && $0.hasPrefix("model.") ? String($0.dropFirst(6)) : $0 }
        style = bare.contains { $0.hasPrefix("downsample_layers.") } ? .meta : .huggingFace
    }

    package init(style: Style, prefix: String = "") { self.style = style; self.prefix = prefix }

    /// The file's key for a Hugging Face key (without prefix).
    package func fileKey(_ hf: String) -> String {
        guard style == .meta else { return prefix + hf }
        var parts = hf.split(separator: ".").map(String.init)
        // stages.i.downsample_layers.k.X → downsample_layers.i.k.X
        if parts.count >= 4, parts[0] == "stages", parts[2] == "downsample_layers" {
            return prefix + (["downsample_layers", parts[1]] + parts[3...]).joined(separator: ".")
        }
        // stages.i.layers.j.X → stages.i.j.X with Meta's module names
        if parts.count >= 5, parts[0] == "stages", parts[2] == "layers" {
            parts.remove(at: 2)
            let renames = ["depthwise_conv": "dwconv", "layer_norm": "norm", "pointwise_conv1": "pwconv1", "pointwise_conv2": "pwconv2"]
            parts[3] = renames[parts[3]] ?? parts[3]
            return prefix + parts.joined(separator: ".")
        }
        if hf.hasPrefix("layer_norm.") { return prefix + "norm." + hf.dropFirst("layer_norm.".count) }
        return prefix + hf
    }
}

package struct ConvNeXtWeights {
    package var config: ConvNeXtConfig
    package var stages: [ConvNeXtStageWeights]
    /// Where the weights came from and which naming the file used (for messages and manifests).
    package var source: String
    package var naming: ConvNeXtKeyNaming?
    package var sha256: String
    /// Random weights (generated, or a file marked by `extract random-weights`): results are not DINOv3 results.
    package var isRandom = false

    /// Loads `path`: a directory holding `model.safetensors` (+ `config.json`, else the size is inferred from the
    /// tensor shapes), or a `.safetensors` file (size inferred).
    package static func load(path: String) throws -> ConvNeXtWeights {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DinoSegError(file: path, "weights not found (pass a directory with config.json + model.safetensors, or a .safetensors file)")
        }
        var file = path
        var config: ConvNeXtConfig? = nil
        if isDir.boolValue {
            file = (path as NSString).appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: file) else { throw DinoSegError(file: file, "file not found") }
            let configPath = (path as NSString).appendingPathComponent("config.json")
            if FileManager.default.fileExists(atPath: configPath) { config = try ConvNeXtConfig(configJSON: configPath) }
        }
        let st = try SafetensorsFile(path: file)
        let naming = ConvNeXtKeyNaming(keys: Array(st.tensors.keys))
        let inferred = try inferConfig(st, naming: naming)
        if let config, config.hiddenSizes != inferred.hiddenSizes || config.depths != inferred.depths {
            // Loading would fail on a missing tensor, or worse, silently ignore the extra stages or blocks.
            throw DinoSegError(file: (path as NSString).appendingPathComponent("config.json"),
                               "says hidden_sizes \(config.hiddenSizes), depths \(config.depths) but \((file as NSString).lastPathComponent) "
                               + "holds hidden_sizes \(inferred.hiddenSizes), depths \(inferred.depths)")
        }
        let cfg = config ?? inferred
        var w = try load(st, config: cfg, naming: naming)
        w.sha256 = try SHA256.hex(ofFile: file)
        w.isRandom = st.metadata[RandomCheckpoint.metadataKey] == "true"
        return w
    }

    /// Reads hidden sizes and depths from the tensor shapes.
    package static func inferConfig(_ st: SafetensorsFile, naming: ConvNeXtKeyNaming) throws -> ConvNeXtConfig {
        var sizes: [Int] = [], depths: [Int] = []
        var s = 0
        while let shape = st.tensors[naming.fileKey(ConvNeXtKeys.convWeight(s))]?.shape {
            let expectedIn = s == 0 ? 3 : sizes[s - 1], k = s == 0 ? 4 : 2
            guard shape.count == 4, shape[1] == expectedIn, shape[2] == k, shape[3] == k else {
                throw DinoSegError(file: st.path, "tensor '\(naming.fileKey(ConvNeXtKeys.convWeight(s)))' has shape \(shape), expected [C, \(expectedIn), \(k), \(k)]")
            }
            sizes.append(shape[0])
            var d = 0
            while st.tensors[naming.fileKey(ConvNeXtKeys.block(s, d, "depthwise_conv.weight"))] != nil { d += 1 }
            depths.append(d)
            s += 1
        }
        guard !sizes.isEmpty else {
            throw DinoSegError(file: st.path, "missing tensor '\(naming.fileKey(ConvNeXtKeys.convWeight(0)))' (expected shape [C, 3, 4, 4]); not a DINOv3 ConvNeXt checkpoint")
        }
        return ConvNeXtConfig(hiddenSizes: sizes, depths: depths)
    }

    /// Reads every tensor of the table (ConvNeXtTensors.swift), checking names and shapes, and repacks them.
    package static func load(_ st: SafetensorsFile, config: ConvNeXtConfig, naming: ConvNeXtKeyNaming) throws -> ConvNeXtWeights {
        func read(_ t: ConvNeXtTensor) throws -> [Float] {
            let key = naming.fileKey(t.name)
            guard let info = st.tensors[key] else {
                throw DinoSegError(file: st.path, "missing tensor '\(key)' (expected shape \(t.shape), \(naming.style.rawValue) naming)")
            }
            guard info.shape == t.shape else {
                throw DinoSegError(file: st.path, "tensor '\(key)' has shape \(info.shape), expected \(t.shape)")
            }
            return try st.floats(key)
        }
        let stages = try config.tensorTable.map { stage in
            let c = stage.channels
            let conv = try read(stage.conv)
            let blocks = try stage.blocks.map { b in
                ConvNeXtBlockWeights(
                    depthwise: packDepthwiseWeight(try read(b.depthwise), channels: c),
                    depthwiseBias: try read(b.depthwiseBias),
                    normWeight: try read(b.normWeight),
                    normBias: try read(b.normBias),
                    expand: transposed(try read(b.expand), rows: 4 * c, columns: c),
                    expandBias: try read(b.expandBias),
                    project: transposed(try read(b.project), rows: c, columns: 4 * c),
                    projectBias: try read(b.projectBias),
                    gamma: try read(b.gamma))
            }
            return ConvNeXtStageWeights(
                conv: packPatchConvWeight(conv, outChannels: c, inChannels: stage.inChannels, patch: stage.patch),
                convBias: try read(stage.convBias),
                normWeight: try read(stage.normWeight),
                normBias: try read(stage.normBias),
                blocks: blocks)
        }
        return ConvNeXtWeights(config: config, stages: stages, source: st.path, naming: naming, sha256: "")
    }

    /// Deterministic random weights (for benchmarks and tests), drawn from the table's ranges directly in the
    /// kernels' layouts, each stage's blocks before its patch convolution. The checksum is the SHA-256 of the
    /// generated values.
    package static func random(config: ConvNeXtConfig, seed: UInt64) -> ConvNeXtWeights {
        var rng = SplitMix64(seed: seed)
        var hasher = SHA256()
        func values(_ t: ConvNeXtTensor) -> [Float] {
            let (lo, hi) = t.randomRange
            var v = [Float](repeating: 0, count: t.count)
            for i in v.indices { v[i] = lo + (hi - lo) * rng.nextFloat() }
            v.withUnsafeBytes { hasher.update($0) }
            return v
        }
        var stages: [ConvNeXtStageWeights] = []
        for stage in config.tensorTable {
            let blocks = stage.blocks.map { b in
                ConvNeXtBlockWeights(
                    depthwise: values(b.depthwise), depthwiseBias: values(b.depthwiseBias),
                    normWeight: values(b.normWeight), normBias: values(b.normBias),
                    expand: values(b.expand), expandBias: values(b.expandBias),
                    project: values(b.project), projectBias: values(b.projectBias),
                    gamma: values(b.gamma))
            }
            stages.append(ConvNeXtStageWeights(
                conv: values(stage.conv), convBias: values(stage.convBias),
                normWeight: values(stage.normWeight), normBias: values(stage.normBias),
                blocks: blocks))
        }
        return ConvNeXtWeights(config: config, stages: stages, source: "random(seed: \(seed))", naming: nil,
                               sha256: hasher.finalizeHex(), isRandom: true)
    }
}

/// [rows, columns] → [columns, rows].
func transposed(_ m: [Float], rows: Int, columns: Int) -> [Float] {
    var t = [Float](repeating: 0, count: m.count)
    for r in 0..<rows { for c in 0..<columns { t[c * rows + r] = m[r * columns + c] } }
    return t
}
