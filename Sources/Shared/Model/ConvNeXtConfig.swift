import Foundation

/// Architecture of a DINOv3 ConvNeXt: channels and block count per stage, LayerNorm epsilon.
public struct ConvNeXtConfig: Equatable {
    public var hiddenSizes: [Int]
    public var depths: [Int]
    public var layerNormEps: Float
    public var inputChannels: Int = 3

    public init(hiddenSizes: [Int], depths: [Int], layerNormEps: Float = 1e-6) {
        self.hiddenSizes = hiddenSizes; self.depths = depths; self.layerNormEps = layerNormEps
    }

    public static let tiny = ConvNeXtConfig(hiddenSizes: [96, 192, 384, 768], depths: [3, 3, 9, 3])
    public static let small = ConvNeXtConfig(hiddenSizes: [96, 192, 384, 768], depths: [3, 3, 27, 3])
    public static let base = ConvNeXtConfig(hiddenSizes: [128, 256, 512, 1024], depths: [3, 3, 27, 3])
    public static let large = ConvNeXtConfig(hiddenSizes: [192, 384, 768, 1536], depths: [3, 3, 27, 3])
    public static let named: [(String, ConvNeXtConfig)] = [("tiny", tiny), ("small", small), ("base", base), ("large", large)]

    public var stageCount: Int { hiddenSizes.count }
    /// Output stride of each stage relative to the input: 4, 8, 16, 32.
    public var stageStrides: [Int] { (0..<stageCount).map { 4 << $0 } }

    /// "tiny", "small", … when the architecture is a released one, otherwise nil.
    public var sizeName: String? {
        ConvNeXtConfig.named.first { $0.1.hiddenSizes == hiddenSizes && $0.1.depths == depths }?.0
    }

    public var modelName: String {
        "dinov3-convnext-" + (sizeName ?? ("custom-" + hiddenSizes.map(String.init).joined(separator: "-")
                                            + "-d" + depths.map(String.init).joined(separator: "-")))
    }

    /// Reads `hidden_sizes`, `depths` and `layer_norm_eps` from a Hugging Face config.json.
    public init(configJSON path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw DinoSegError(file: path, "cannot read file") }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DinoSegError(file: path, "not a JSON object")
        }
        guard let sizes = json["hidden_sizes"] as? [Int], let depths = json["depths"] as? [Int] else {
            throw DinoSegError(file: path, "missing integer lists 'hidden_sizes' and 'depths'")
        }
        guard sizes.count == depths.count, !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }), depths.allSatisfy({ $0 >= 0 }) else {
            throw DinoSegError(file: path, "'hidden_sizes' \(sizes) and 'depths' \(depths) must be positive lists of equal length")
        }
        let eps = (json["layer_norm_eps"] as? NSNumber)?.floatValue ?? 1e-6
        if let channels = json["num_channels"] as? Int, channels != 3 {
            throw DinoSegError(file: path, "num_channels \(channels) is not supported (RGB input, 3 channels)")
        }
        self.init(hiddenSizes: sizes, depths: depths, layerNormEps: eps)
    }

    /// Multiply-adds × 2 of one forward pass on a height × width input (convolutions and linear layers only).
    public func flops(height: Int, width: Int) -> Double {
        var total = 2.0 * Double(stageSize(height, stage: 0) * stageSize(width, stage: 0)) * Double(inputChannels * 16 * hiddenSizes[0])
        for s in 0..<stageCount {
            let c = Double(hiddenSizes[s]), h = stageSize(height, stage: s), w = stageSize(width, stage: s)
            if s > 0 {
                total += 2.0 * Double(h * w) * Double(4 * hiddenSizes[s - 1]) * c
            }
            let perBlock = 2.0 * Double(h * w) * c * 49 + 2.0 * 2.0 * Double(h * w) * c * 4 * c
            total += Double(depths[s]) * perBlock
        }
        return total
    }
}

/// Spatial size of stage k's output for an input side of `pixels`: the 4×4 patch stem floors pixels / 4, and each
/// 2×2 downsampling floors once more. The one place this formula lives (backbone, caches and manifests use it).
public func stageSize(_ pixels: Int, stage k: Int) -> Int {
    var s = pixels / 4
    for _ in 0..<k { s /= 2 }
    return s
}
