import DinoSegKernels
// The backbone input of the evaluation protocol (docs/DESIGN.md §5) for a photo, shared by `extract val` and
// `headtrain predict`: resize so the long side is `longSide`
// (bilinear, half-pixel centres), normalise, pad with the mean colour (0 after normalisation), and cut windows.
//
//   rgb: [height, width, 3] bytes   canvas: [paddedHeight, paddedWidth, 3] normalised floats   window: [h, w, 3]

package enum EvalInput {
    /// Normalised, resized and padded canvas for one photo.
    package static func canvas(rgb: [UInt8], geometry g: EvalGeometry) -> [Float] {
        precondition(rgb.count == g.originalHeight * g.originalWidth * 3, "rgb does not match the geometry")
        var resized = [Float](repeating: 0, count: g.resizedHeight * g.resizedWidth * 3)
        // Straight from the bytes: the photo is never held as floats (12 bytes per pixel).
        rgb.withUnsafeBufferPointer { s in
            resized.withUnsafeMutableBufferPointer { d in
                resizeBilinear(src: s.baseAddress!, inH: g.originalHeight, inW: g.originalWidth, channels: 3,
                               dst: d.baseAddress!, outH: g.resizedHeight, outW: g.resizedWidth)
            }
        }
        resized.withUnsafeMutableBufferPointer { p in
            ConvNeXtInput.normalize(rgb: p.baseAddress!, pixels: g.resizedHeight * g.resizedWidth, output: p.baseAddress!)
        }
        // The padding is the mean colour, which normalises to 0.
        var out = [Float](repeating: 0, count: g.paddedHeight * g.paddedWidth * 3)
        for y in 0..<g.resizedHeight {
            let s = y * g.resizedWidth * 3, d = ((y + g.padTop) * g.paddedWidth + g.padLeft) * 3
            for i in 0..<(g.resizedWidth * 3) { out[d + i] = resized[s + i] }
        }
        return out
    }

    /// The window at (y, x) of size h×w from a canvas [canvasHeight, canvasWidth, channels], mirrored left-right
    /// when `flipped`.
    package static func window(_ canvas: [Float], canvasHeight: Int, canvasWidth: Int, channels: Int,
                              y: Int, x: Int, h: Int, w: Int, flipped: Bool) -> [Float] {
        precondition(y + h <= canvasHeight && x + w <= canvasWidth, "window outside the canvas")
        var out = [Float](repeating: 0, count: h * w * channels)
        canvas.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                // Raw pointers in the per-pixel loop: the precondition above bounds every index, and checked
                // subscripts here cost a few percent of an evaluation.
                let (src, dst) = (s.baseAddress!, o.baseAddress!)
                forEachWindowPixel(y: y, x: x, h: h, w: w, canvasWidth: canvasWidth, flipped: flipped) { cp, wp in
                    for k in 0..<channels { dst[wp * channels + k] = src[cp * channels + k] }
                }
            }
        }
        return out
    }
}
