import DinoSegCore
import DinoSegKernels
// Step 1 of the train augmentation (docs/DESIGN.md §3): random scale (semseg RandScale, cv2.resize(image, None, fx=s, fy=s)).
// Output size = round(side · s) (cv2 rounds to nearest, ties to even). Given a factor, cv2 maps output pixel d to
// source (d + 0.5)/s − 0.5 (bilinear, half-pixel centres, no antialias) and floor(d/s) (nearest) — with the factor,
// not the in/out size ratio, which differs slightly once the size is rounded. (Resizing to a given size, as the
// evaluation does, uses the size ratio: `scaleImage(_:outWidth:outHeight:)`.)

/// Output side length for scale factor s.
package func scaledSize(_ side: Int, _ s: Double) -> Int { max(1, Int((Double(side) * s).rounded(.toNearestOrEven))) }

/// Bilinear taps of cv2.resize with factor s: source = max(0, (d + 0.5)/s − 0.5), neighbours clamped to the border.
package func factorTaps(inSize: Int, outSize: Int, factor s: Double) -> BilinearTaps {
    var t = BilinearTaps(inSize: inSize, outSize: outSize)
    for o in 0..<outSize {
        let real = max(0, (Double(o) + 0.5) / s - 0.5)
        let i0 = min(Int(real), inSize - 1)
        t.lo[o] = Int32(i0)
        t.hi[o] = Int32(i0 < inSize - 1 ? i0 + 1 : i0)
        t.frac[o] = Float(real - Double(i0))
    }
    return t
}

/// Nearest source index of cv2.resize with factor s (INTER_NEAREST): min(floor(d/s), in − 1).
@inline(__always)
package func factorNearestIndex(_ o: Int, inSize: Int, factor s: Double) -> Int {
    min(Int((Double(o) / s).rounded(.down)), inSize - 1)
}

/// Image scaled by factor s as cv2.resize(fx=s, fy=s, INTER_LINEAR) on float data.
package func scaleImage(_ image: FloatImage, factor s: Double) -> FloatImage {
    let ow = scaledSize(image.width, s), oh = scaledSize(image.height, s)
    let ty = factorTaps(inSize: image.height, outSize: oh, factor: s), tx = factorTaps(inSize: image.width, outSize: ow, factor: s)
    let data = resizeBilinearBox(image.data, inH: image.height, inW: image.width, taps: (ty, tx),
                                 box: PixelBox(y0: 0, y1: oh, x0: 0, x1: ow))
    return FloatImage(width: ow, height: oh, data: data)
}

/// Label scaled by factor s as cv2.resize(fx=s, fy=s, INTER_NEAREST).
package func scaleLabel(_ label: LabelImage, factor s: Double) -> LabelImage {
    let ow = scaledSize(label.width, s), oh = scaledSize(label.height, s)
    let xs = (0..<ow).map { factorNearestIndex($0, inSize: label.width, factor: s) }
    var out = [UInt8](repeating: 0, count: ow * oh)
    for y in 0..<oh {
        let sy = factorNearestIndex(y, inSize: label.height, factor: s)
        for x in 0..<ow { out[y * ow + x] = label.pixels[sy * label.width + xs[x]] }
    }
    return LabelImage(width: ow, height: oh, pixels: out)
}

package func scaleImage(_ image: FloatImage, outWidth: Int, outHeight: Int) -> FloatImage {
    var out = [Float](repeating: 0, count: outWidth * outHeight * 3)
    image.data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            resizeBilinear(src: src.baseAddress!, inH: image.height, inW: image.width, channels: 3,
                           dst: dst.baseAddress!, outH: outHeight, outW: outWidth)
        }
    }
    return FloatImage(width: outWidth, height: outHeight, data: out)
}

package func scaleLabel(_ label: LabelImage, outWidth: Int, outHeight: Int) -> LabelImage {
    var out = [UInt8](repeating: 0, count: outWidth * outHeight)
    label.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            resizeNearest(src: src.baseAddress!, inH: label.height, inW: label.width, channels: 1,
                          dst: dst.baseAddress!, outH: outHeight, outW: outWidth)
        }
    }
    return LabelImage(width: outWidth, height: outHeight, pixels: out)
}
