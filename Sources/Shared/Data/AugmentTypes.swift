import DinoSegCore
// Working types of the train augmentation (docs/DESIGN.md §3). Images are float RGB in 0...255, channels-last, so resampling
// never rounds to 8 bits (semseg converts to float32 before its transforms, too).
//
//   FloatImage.data: [height, width, 3]   LabelImage.pixels: [height, width]

package struct FloatImage: Equatable {
    package var width: Int
    package var height: Int
    package var data: [Float]
    package static let channels = 3

    package init(width: Int, height: Int, data: [Float]) {
        precondition(data.count == width * height * 3, "FloatImage data does not match \(width)x\(height)x3")
        self.width = width; self.height = height; self.data = data
    }

    package init(_ image: RGBImage) {
        self.init(width: image.width, height: image.height, data: image.pixels.map { Float($0) })
    }

    /// Rounds and clamps to 8 bits (for previews).
    package func toRGB() -> RGBImage {
        RGBImage(width: width, height: height, pixels: data.map { UInt8(max(0, min(255, $0.rounded()))) })
    }
}

extension SplitMix64 {
    /// Uniform integer in lo...hi (both inclusive, like Python's random.randint).
    package mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability p (semseg: `random.random() < p`).
    package mutating func chance(_ p: Double) -> Bool { nextDouble() < p }
}
