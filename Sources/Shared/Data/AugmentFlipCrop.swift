import DinoSegCore
// Steps 4–6 of the train augmentation (docs/DESIGN.md §3): horizontal flip, pad-then-crop (semseg Crop, crop_type 'rand'), normalisation.

package func flipImage(_ image: FloatImage) -> FloatImage {
    let w = image.width
    var out = image.data
    for y in 0..<image.height {
        for x in 0..<w {
            for c in 0..<3 { out[(y * w + x) * 3 + c] = image.data[(y * w + (w - 1 - x)) * 3 + c] }
        }
    }
    return FloatImage(width: w, height: image.height, data: out)
}

package func flipLabel(_ label: LabelImage) -> LabelImage {
    let w = label.width
    var out = label.pixels
    for y in 0..<label.height {
        for x in 0..<w { out[y * w + x] = label.pixels[y * w + (w - 1 - x)] }
    }
    return LabelImage(width: w, height: label.height, pixels: out)
}

/// Padding so that each side is at least `crop`: half before (rounded down), the rest after.
package struct CropPadding: Equatable {
    package var top: Int, bottom: Int, left: Int, right: Int
    package init(height: Int, width: Int, crop: Int) {
        let ph = max(crop - height, 0), pw = max(crop - width, 0)
        top = ph / 2; bottom = ph - ph / 2
        left = pw / 2; right = pw - pw / 2
    }
}

package func padImage(_ image: FloatImage, _ p: CropPadding, value: [Float]) -> FloatImage {
    let w = image.width + p.left + p.right, h = image.height + p.top + p.bottom
    var out = [Float](repeating: 0, count: w * h * 3)
    for i in 0..<(w * h) { for c in 0..<3 { out[3 * i + c] = value[c] } }
    for y in 0..<image.height {
        for x in 0..<image.width {
            for c in 0..<3 { out[((y + p.top) * w + x + p.left) * 3 + c] = image.data[(y * image.width + x) * 3 + c] }
        }
    }
    return FloatImage(width: w, height: h, data: out)
}

package func padLabel(_ label: LabelImage, _ p: CropPadding, value: UInt8 = VOC.ignoreLabel) -> LabelImage {
    let w = label.width + p.left + p.right, h = label.height + p.top + p.bottom
    var out = [UInt8](repeating: value, count: w * h)
    for y in 0..<label.height {
        for x in 0..<label.width { out[(y + p.top) * w + x + p.left] = label.pixels[y * label.width + x] }
    }
    return LabelImage(width: w, height: h, pixels: out)
}

package func cropImage(_ image: FloatImage, top: Int, left: Int, size: Int) -> FloatImage {
    var out = [Float](repeating: 0, count: size * size * 3)
    for y in 0..<size {
        let s = ((y + top) * image.width + left) * 3
        for i in 0..<(size * 3) { out[y * size * 3 + i] = image.data[s + i] }
    }
    return FloatImage(width: size, height: size, data: out)
}

package func cropLabel(_ label: LabelImage, top: Int, left: Int, size: Int) -> LabelImage {
    var out = [UInt8](repeating: 0, count: size * size)
    for y in 0..<size {
        let s = (y + top) * label.width + left
        for i in 0..<size { out[y * size + i] = label.pixels[s + i] }
    }
    return LabelImage(width: size, height: size, pixels: out)
}

/// The backbone's input normalisation (ConvNeXtInput) into a new [h, w, 3] buffer.
package func normalise(_ image: FloatImage) -> [Float] {
    var out = image.data
    out.withUnsafeMutableBufferPointer { p in
        ConvNeXtInput.normalize(rgb: p.baseAddress!, pixels: image.width * image.height, output: p.baseAddress!)
    }
    return out
}

/// Per-channel mean and std (RGB, 0...255 scale) an input is normalised with: x ↦ (x − mean) / std.
package struct InputNormalization: Equatable {
    package var mean: [Float]
    package var std: [Float]
    package init(mean: [Float], std: [Float]) { self.mean = mean; self.std = std }
    package static let imageNet = InputNormalization(mean: VOC.mean, std: VOC.std)
}

/// Input normalisation, the only one: RGB in 0...255 → (x − mean) · (1 / std) per channel (VOC.mean / VOC.std),
/// channels-last. Training crops, evaluation canvases and `extract image` all go through it.
package enum ConvNeXtInput {
    /// The statistics `normalize` applies; a backbone asking for others is refused before extraction.
    package static let normalization = InputNormalization.imageNet

    package static func normalize(rgb: UnsafePointer<UInt8>, pixels: Int, output: UnsafeMutablePointer<Float>) {
        let mean = VOC.mean, inv = VOC.std.map { 1 / $0 }
        for i in 0..<pixels {
            for ch in 0..<3 { output[3 * i + ch] = (Float(rgb[3 * i + ch]) - mean[ch]) * inv[ch] }
        }
    }

    /// `output` may be `rgb` (in place).
    package static func normalize(rgb: UnsafePointer<Float>, pixels: Int, output: UnsafeMutablePointer<Float>) {
        let mean = VOC.mean, inv = VOC.std.map { 1 / $0 }
        for i in 0..<pixels {
            for ch in 0..<3 { output[3 * i + ch] = (rgb[3 * i + ch] - mean[ch]) * inv[ch] }
        }
    }
}
