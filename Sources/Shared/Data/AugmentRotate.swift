// Step 2 of SPEC §2: rotation about the centre, same size (semseg RandRotate):
//   M = cv2.getRotationMatrix2D((w/2, h/2), angle, 1); cv2.warpAffine(image, M, (w, h)).
// warpAffine samples the source at M⁻¹·(x, y) in integer pixel coordinates (no half-pixel shift).
// Image: bilinear; any tap outside the image takes the border value (the mean colour), as cv2 BORDER_CONSTANT.
// Label: nearest (source index = floor(coordinate + 0.5)), outside → 255.
// cv2 quantises bilinear weights to 1/32 pixel; this float version does not (differences < 1/64 of a grey level step
// between neighbours).
import Foundation

/// The inverse map dst → src of cv2.getRotationMatrix2D((w/2, h/2), angleDegrees, 1) as (a, b, c; d, e, f):
/// srcX = a·x + b·y + c, srcY = d·x + e·y + f.
public func inverseRotation(width: Int, height: Int, angleDegrees: Double) -> [Double] {
    let rad = angleDegrees * Double.pi / 180
    let alpha = cos(rad), beta = sin(rad)
    let cx = Double(width) / 2, cy = Double(height) / 2
    // Forward: dst = A·src + t with A = [[α, β], [−β, α]], t = ((1−α)cx − βcy, βcx + (1−α)cy). A⁻¹ = Aᵀ.
    let tx = (1 - alpha) * cx - beta * cy, ty = beta * cx + (1 - alpha) * cy
    return [alpha, -beta, -(alpha * tx - beta * ty),
            beta, alpha, -(beta * tx + alpha * ty)]
}

public func rotateImage(_ image: FloatImage, angleDegrees: Double, border: [Float]) -> FloatImage {
    let w = image.width, h = image.height
    let m = inverseRotation(width: w, height: h, angleDegrees: angleDegrees)
    var out = [Float](repeating: 0, count: w * h * 3)
    image.data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for y in 0..<h {
                for x in 0..<w {
                    let sx = m[0] * Double(x) + m[1] * Double(y) + m[2]
                    let sy = m[3] * Double(x) + m[4] * Double(y) + m[5]
                    let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                    let fx = Float(sx - Double(x0)), fy = Float(sy - Double(y0))
                    let o = (y * w + x) * 3
                    let x1 = x0 + 1, y1 = y0 + 1
                    if x0 >= 0, y0 >= 0, x1 < w, y1 < h {
                        // All four taps inside: the common case.
                        let p00 = (y0 * w + x0) * 3, p01 = p00 + 3, p10 = p00 + w * 3, p11 = p10 + 3
                        for k in 0..<3 {
                            let top = src[p00 + k] + fx * (src[p01 + k] - src[p00 + k])
                            let bottom = src[p10 + k] + fx * (src[p11 + k] - src[p10 + k])
                            dst[o + k] = top + fy * (bottom - top)
                        }
                        continue
                    }
                    let in0 = y0 >= 0 && y0 < h, in1 = y1 >= 0 && y1 < h
                    let inL = x0 >= 0 && x0 < w, inR = x1 >= 0 && x1 < w
                    for k in 0..<3 {
                        let v00 = in0 && inL ? src[(y0 * w + x0) * 3 + k] : border[k]
                        let v01 = in0 && inR ? src[(y0 * w + x1) * 3 + k] : border[k]
                        let v10 = in1 && inL ? src[(y1 * w + x0) * 3 + k] : border[k]
                        let v11 = in1 && inR ? src[(y1 * w + x1) * 3 + k] : border[k]
                        let top = v00 + fx * (v01 - v00), bottom = v10 + fx * (v11 - v10)
                        dst[o + k] = top + fy * (bottom - top)
                    }
                }
            }
        }
    }
    return FloatImage(width: w, height: h, data: out)
}

public func rotateLabel(_ label: LabelImage, angleDegrees: Double, border: UInt8 = VOC.ignoreLabel) -> LabelImage {
    let w = label.width, h = label.height
    let m = inverseRotation(width: w, height: h, angleDegrees: angleDegrees)
    var out = [UInt8](repeating: border, count: w * h)
    for y in 0..<h {
        for x in 0..<w {
            let sx = Int((m[0] * Double(x) + m[1] * Double(y) + m[2] + 0.5).rounded(.down))
            let sy = Int((m[3] * Double(x) + m[4] * Double(y) + m[5] + 0.5).rounded(.down))
            if sx >= 0, sx < w, sy >= 0, sy < h { out[y * w + x] = label.pixels[sy * w + sx] }
        }
    }
    return LabelImage(width: w, height: h, pixels: out)
}
