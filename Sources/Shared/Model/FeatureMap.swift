import DinoSegData

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

/// Channels and output stride of one backbone stage. An input side of n pixels gives n / stride features (floor):
/// ConvNeXt floors at its 4×4 stem and at each 2×2 downsampling, and nested floor divisions equal one floor division
/// by their product, so the stride alone fixes every stage's size. Caches record this, never a backbone's formula.
package struct StageGeometry: Codable, Equatable {
    package var channels: Int
    package var stride: Int
    package init(channels: Int, stride: Int) { self.channels = channels; self.stride = stride }

    /// Feature rows (or columns) of this stage for an input side of `pixels`.
    package func side(_ pixels: Int) -> Int { pixels / stride }
}

/// What `extract` needs from a frozen backbone. Implementations must allow concurrent `forward` calls from several
/// threads (one image or batch per core), each with its own scratch memory.
package protocol FeatureBackbone: AnyObject {
    /// Human-readable model name, e.g. "dinov3-convnext-tiny".
    var name: String { get }
    /// Channels of each stage's output.
    var stageChannels: [Int] { get }
    /// Stride of each stage's output relative to the input (ConvNeXt: 4, 8, 16, 32).
    var stageStrides: [Int] { get }
    /// The per-channel mean and std its input is normalised with (the data pipeline checks it implements them).
    var inputNormalization: InputNormalization { get }
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

    /// ImageNet statistics, what DINOv3 and most pretrained backbones expect.
    package var inputNormalization: InputNormalization { .imageNet }

    /// Channels and stride of every stage, as cache manifests record them.
    package var stageGeometry: [StageGeometry] {
        zip(stageChannels, stageStrides).map { StageGeometry(channels: $0, stride: $1) }
    }
}
