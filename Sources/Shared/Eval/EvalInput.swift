// The backbone input of the evaluation protocol (SPEC §4) for a photo: resize so the long side is `longSide`
// (bilinear, half-pixel centres), normalise, pad with the mean colour (0 after normalisation), and cut windows.
//
//   rgb: [height, width, 3] bytes   canvas: [paddedHeight, paddedWidth, 3] normalised floats   window: [h, w, 3]

public enum EvalInput {
    /// Normalised, resized and padded canvas for one photo.
    public static func canvas(rgb: [UInt8], geometry g: EvalGeometry) -> [Float] {
        precondition(rgb.count == g.originalHeight * g.originalWidth * 3, "rgb does not match the geometry")
        let photo = rgb.map(Float.init)
        var resized = [Float](repeating: 0, count: g.resizedHeight * g.resizedWidth * 3)
        photo.withUnsafeBufferPointer { s in
            resized.withUnsafeMutableBufferPointer { d in
                resizeBilinear(src: s.baseAddress!, inH: g.originalHeight, inW: g.originalWidth, channels: 3,
                               dst: d.baseAddress!, outH: g.resizedHeight, outW: g.resizedWidth)
            }
        }
        var out = [Float](repeating: 0, count: g.paddedHeight * g.paddedWidth * 3)
        let mean = VOC.mean, invStd = VOC.std.map { 1 / $0 }
        for y in 0..<g.resizedHeight {
            for x in 0..<g.resizedWidth {
                let s = (y * g.resizedWidth + x) * 3, d = ((y + g.padTop) * g.paddedWidth + x + g.padLeft) * 3
                for c in 0..<3 { out[d + c] = (resized[s + c] - mean[c]) * invStd[c] }
            }
        }
        return out
    }

    /// The window at (y, x) of size h×w from a canvas [canvasHeight, canvasWidth, channels], mirrored left-right
    /// when `flipped`.
    public static func window(_ canvas: [Float], canvasHeight: Int, canvasWidth: Int, channels: Int,
                              y: Int, x: Int, h: Int, w: Int, flipped: Bool) -> [Float] {
        precondition(y + h <= canvasHeight && x + w <= canvasWidth, "window outside the canvas")
        var out = [Float](repeating: 0, count: h * w * channels)
        canvas.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<h {
                    for c in 0..<w {
                        let sc = flipped ? x + w - 1 - c : x + c
                        let src = s.baseAddress! + ((y + r) * canvasWidth + sc) * channels
                        let dst = o.baseAddress! + (r * w + c) * channels
                        for k in 0..<channels { dst[k] = src[k] }
                    }
                }
            }
        }
        return out
    }
}
