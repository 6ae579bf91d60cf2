// Geometry of the evaluation protocol (docs/DESIGN.md §5): resize so the long side is 512, pad to at least the crop with the
// mean colour, and tile crop×crop windows with a fixed stride, the last window aligned to the border.

package struct EvalGeometry: Codable, Equatable {
    package var originalHeight: Int, originalWidth: Int
    package var resizedHeight: Int, resizedWidth: Int
    /// Padded canvas size (≥ crop on each side). Padding is split half before, rest after, as in the train crop.
    package var paddedHeight: Int, paddedWidth: Int
    package var padTop: Int, padLeft: Int

    /// long side → `longSide`, aspect ratio kept (rounded to nearest pixel), then padded to at least `crop`.
    package init(height: Int, width: Int, longSide: Int = 512, crop: Int = 224) {
        originalHeight = height; originalWidth = width
        if height >= width {
            resizedHeight = longSide
            resizedWidth = max(1, Int((Double(width) * Double(longSide) / Double(height)).rounded()))
        } else {
            resizedWidth = longSide
            resizedHeight = max(1, Int((Double(height) * Double(longSide) / Double(width)).rounded()))
        }
        paddedHeight = max(resizedHeight, crop)
        paddedWidth = max(resizedWidth, crop)
        padTop = (paddedHeight - resizedHeight) / 2
        padLeft = (paddedWidth - resizedWidth) / 2
    }
}

package enum SlidingWindow {
    /// Start offsets of windows of size `crop` over `length` with `stride`; the last window ends at the border.
    /// Matches semseg's `grid = ceil((length - crop) / stride) + 1`, start = min(i·stride, length − crop).
    package static func starts(length: Int, crop: Int = 224, stride: Int = 150) -> [Int] {
        precondition(length >= crop, "window \(crop) larger than padded length \(length)")
        let grid = Int((Double(length - crop) / Double(stride)).rounded(.up)) + 1
        var out: [Int] = []
        for i in 0..<grid {
            let s = min(i * stride, length - crop)
            if out.last != s { out.append(s) }
        }
        return out
    }

    /// All window top-left corners (y, x) in row-major order.
    package static func windows(height: Int, width: Int, crop: Int = 224, stride: Int = 150) -> [(y: Int, x: Int)] {
        let ys = starts(length: height, crop: crop, stride: stride), xs = starts(length: width, crop: crop, stride: stride)
        return ys.flatMap { y in xs.map { x in (y: y, x: x) } }
    }
}
