// Step 1 of SPEC §2: random scale (semseg RandScale, cv2.resize with fx = fy = s).
// Output size = round(side · s) (cv2 rounds to nearest, ties to even); image bilinear with half-pixel centres and no
// antialias, label nearest.

/// Output side length for scale factor s.
public func scaledSize(_ side: Int, _ s: Double) -> Int { max(1, Int((Double(side) * s).rounded(.toNearestOrEven))) }

public func scaleImage(_ image: FloatImage, outWidth: Int, outHeight: Int) -> FloatImage {
    var out = [Float](repeating: 0, count: outWidth * outHeight * 3)
    image.data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            resizeBilinear(src: src.baseAddress!, inH: image.height, inW: image.width, channels: 3,
                           dst: dst.baseAddress!, outH: outHeight, outW: outWidth)
        }
    }
    return FloatImage(width: outWidth, height: outHeight, data: out)
}

public func scaleLabel(_ label: LabelImage, outWidth: Int, outHeight: Int) -> LabelImage {
    var out = [UInt8](repeating: 0, count: outWidth * outHeight)
    label.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            resizeNearest(src: src.baseAddress!, inH: label.height, inW: label.width, channels: 1,
                          dst: dst.baseAddress!, outH: outHeight, outW: outWidth)
        }
    }
    return LabelImage(width: outWidth, height: outHeight, pixels: out)
}
