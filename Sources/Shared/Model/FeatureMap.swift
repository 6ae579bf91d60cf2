/// One image's feature map, channels-last: data[(y * width + x) * channels + c].
package struct FeatureMap {
    package var height: Int
    package var width: Int
    package var channels: Int
    package var data: [Float]

    package init(height: Int, width: Int, channels: Int, data: [Float]) {
        precondition(data.count == height * width * channels, "FeatureMap data does not match \(height)x\(width)x\(channels)")
        self.height = height; self.width = width; self.channels = channels; self.data = data
    }

    package init(height: Int, width: Int, channels: Int) {
        self.init(height: height, width: width, channels: channels, data: [Float](repeating: 0, count: height * width * channels))
    }
}

/// What `extract` needs from a frozen backbone. Implementations must allow concurrent `forward` calls from several
/// threads (one image per core), each with its own scratch memory.
package protocol FeatureBackbone: AnyObject {
    /// Human-readable model name, e.g. "dinov3-convnext-tiny".
    var name: String { get }
    /// Channels of stage 0..3 outputs.
    var stageChannels: [Int] { get }
    /// Stride of stage 0..3 outputs relative to the input (4, 8, 16, 32).
    var stageStrides: [Int] { get }
    /// SHA-256 (hex) of the weight file, recorded in cache manifests.
    var weightsSHA256: String { get }
    /// image: normalised RGB, channels-last [height, width, 3]. Returns the requested stage outputs (NHWC),
    /// in the order of `stages`.
    func forward(image: UnsafePointer<Float>, height: Int, width: Int, stages: [Int]) -> [FeatureMap]
    /// Several same-sized images in one call (a backbone can reuse each weight load for all of them); one result per
    /// image, as `forward(image:)` would give.
    func forward(images: [UnsafePointer<Float>], height: Int, width: Int, stages: [Int]) -> [[FeatureMap]]
    /// Blocks per stage, recorded in cache manifests (empty when the backbone has no such notion).
    var depths: [Int] { get }
}

extension FeatureBackbone {
    package func forward(images: [UnsafePointer<Float>], height: Int, width: Int, stages: [Int]) -> [[FeatureMap]] {
        images.map { forward(image: $0, height: height, width: width, stages: stages) }
    }

    package var depths: [Int] { [] }
}
