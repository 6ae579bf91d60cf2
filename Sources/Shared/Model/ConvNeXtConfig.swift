import Foundation
import DinoSegCore

/// Architecture of a DINOv3 ConvNeXt: channels and block count per stage, LayerNorm epsilon.
package struct ConvNeXtConfig: Equatable {
    package var hiddenSizes: [Int]
    package var depths: [Int]
    package var layerNormEps: Float
    package var inputChannels: Int = 3

    package init(hiddenSizes: [Int], depths: [Int], layerNormEps: Float = 1e-6) {
        self.hiddenSizes = hiddenSizes; self.depths = depths; self.layerNormEps = layerNormEps
    }

    package static let tiny = ConvNeXtConfig(hiddenSizes: [96, 192, 384, 768], depths: [3, 3, 9, 3])
    package static let small = ConvNeXtConfig(hiddenSizes: [96, 192, 384, 768], depths: [3, 3, 27, 3])
    package static let base = ConvNeXtConfig(hiddenSizes: [128, 256, 512, 1024], depths: [3, 3, 27, 3])
    package static let large = ConvNeXtConfig(hiddenSizes: [192, 384, 768, 1536], depths: [3, 3, 27, 3])
    package static let named: [(String, ConvNeXtConfig)] = [("tiny", tiny), ("small", small), ("base", base), ("large", large)]

    package var stageCount: Int { hiddenSizes.count }
    /// Output stride of each stage relative to the input: 4, 8, 16, 32 (the 4×4 stem, then a 2×2 downsampling per
    /// stage; stage sizes floor at each step, which is the floor of pixels / stride: StageGeometry).
    package var stageStrides: [Int] { (0..<stageCount).map { 4 << $0 } }

    /// "tiny", "small", … when the architecture is a released one, otherwise nil.
    package var sizeName: String? {
        ConvNeXtConfig.named.first { $0.1.hiddenSizes == hiddenSizes && $0.1.depths == depths }?.0
    }

    package var modelName: String {
        "dinov3-convnext-" + (sizeName ?? ("custom-" + hiddenSizes.map(String.init).joined(separator: "-")
                                            + "-d" + depths.map(String.init).joined(separator: "-")))
    }

    /// LayerNorm epsilons accepted from a config.json. Released checkpoints use 1e-6 (others in the ConvNeXt family
    /// 1e-5 … 1e-12); beyond 1e-2 the epsilon rivals the variance of normalised activations and silently changes the
    /// model, and it must stay a positive normal Float.
    package static let layerNormEpsRange: ClosedRange<Double> = Double(Float.leastNormalMagnitude)...1e-2

    /// Reads `hidden_sizes`, `depths` and `layer_norm_eps` from a Hugging Face config.json and checks every field the
    /// model depends on (`num_channels`, `hidden_act`, `model_type` when present). The sizes are checked against the
    /// tensors when the weights are loaded.
    package init(configJSON path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw DinoSegError(file: path, "cannot read file") }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DinoSegError(file: path, "not a JSON object")
        }
        func bad(_ problem: String) -> DinoSegError { DinoSegError(file: path, problem) }
        /// A list of integers (JSON numbers with no fractional part and within Int range).
        func integers(_ key: String) throws -> [Int] {
            guard let list = json[key] as? [Any] else { throw bad("missing integer list '\(key)'") }
            return try list.map { v in
                guard let n = v as? NSNumber, !(type(of: v) == Bool.self), let d = Optional(n.doubleValue), d == d.rounded(),
                      abs(d) < 1e9 else { throw bad("'\(key)' must be a list of integers, got \(list)") }
                return Int(d)
            }
        }
        let sizes = try integers("hidden_sizes"), depths = try integers("depths")
        guard !sizes.isEmpty, sizes.count == depths.count else {
            throw bad("'hidden_sizes' \(sizes) and 'depths' \(depths) must be non-empty lists of equal length")
        }
        guard sizes.allSatisfy({ (1...65536).contains($0) }) else { throw bad("'hidden_sizes' \(sizes) must be in 1...65536") }
        guard depths.allSatisfy({ (1...1000).contains($0) }) else {
            throw bad("'depths' \(depths) must be ≥ 1 per stage (every ConvNeXt stage has at least one block)")
        }
        var eps: Float = 1e-6
        if let raw = json["layer_norm_eps"] {
            guard let n = raw as? NSNumber, !(type(of: raw) == Bool.self), ConvNeXtConfig.layerNormEpsRange.contains(n.doubleValue) else {
                throw bad("'layer_norm_eps' \(raw) is outside (0, 1e-2] (released checkpoints use 1e-6)")
            }
            eps = n.floatValue
        }
        if let raw = json["num_channels"] {
            guard let channels = raw as? Int, channels == 3 else {
                throw bad("'num_channels' \(raw) is not supported (RGB input, 3 channels)")
            }
        }
        if let raw = json["hidden_act"] {
            guard let act = raw as? String, act == "gelu" else {
                throw bad("'hidden_act' \(raw) is not supported (this backbone implements exact GELU, \"gelu\")")
            }
        }
        if let raw = json["model_type"] {
            guard let type = raw as? String, type.contains("convnext") else {
                throw bad("'model_type' \(raw) is not a ConvNeXt (expected dinov3_convnext)")
            }
        }
        self.init(hiddenSizes: sizes, depths: depths, layerNormEps: eps)
    }

    /// Multiply-adds × 2 of one forward pass on a height × width input (convolutions and linear layers only).
    package func flops(height: Int, width: Int) -> Double {
        let strides = stageStrides
        var total = 2.0 * Double((height / strides[0]) * (width / strides[0])) * Double(inputChannels * 16 * hiddenSizes[0])
        for s in 0..<stageCount {
            let c = Double(hiddenSizes[s]), h = height / strides[s], w = width / strides[s]
            if s > 0 {
                total += 2.0 * Double(h * w) * Double(4 * hiddenSizes[s - 1]) * c
            }
            let perBlock = 2.0 * Double(h * w) * c * 49 + 2.0 * 2.0 * Double(h * w) * c * 4 * c
            total += Double(depths[s]) * perBlock
        }
        return total
    }
}
