// Step 2 of the train augmentation (docs/DESIGN.md §3): rotation about the centre, same size (semseg RandRotate):
//   M = cv2.getRotationMatrix2D((w/2, h/2), angle, 1); cv2.warpAffine(image, M, (w, h)).
// warpAffine inverts M and samples the source at M⁻¹·(x, y) in integer pixel coordinates (no half-pixel shift), in
// fixed point as OpenCV does: coordinates in 1/1024 pixel, bilinear positions rounded to 1/32 pixel with weights
// (1 − t/32, t/32) per axis; nearest positions rounded to the pixel.
// Image: bilinear; any tap outside the image takes the border value (the mean colour), as cv2 BORDER_CONSTANT.
// Label: nearest, outside → 255.
import Foundation
import DinoSegCore

/// The inverse map dst → src of cv2.getRotationMatrix2D((w/2, h/2), angleDegrees, 1), inverted the way warpAffine
/// does it, as (a, b, c; d, e, f): srcX = a·x + b·y + c, srcY = d·x + e·y + f.
package func inverseRotation(width: Int, height: Int, angleDegrees: Double) -> [Double] {
    let rad = angleDegrees * Double.pi / 180
    let alpha = cos(rad), beta = sin(rad)
    let cx = Double(width) / 2, cy = Double(height) / 2
    var m = [alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy]
    var d = m[0] * m[4] - m[1] * m[3]
    d = d != 0 ? 1 / d : 0
    let a11 = m[4] * d, a22 = m[0] * d
    m[0] = a11; m[1] *= -d; m[3] *= -d; m[4] = a22
    let b1 = -m[0] * m[2] - m[1] * m[5], b2 = -m[3] * m[2] - m[4] * m[5]
    m[2] = b1; m[5] = b2
    return m
}

/// Source positions of cv2.warpAffine in its fixed-point arithmetic.
package struct AffineSampler {
    package let m: [Double]
    package init(width: Int, height: Int, angleDegrees: Double) {
        m = inverseRotation(width: width, height: height, angleDegrees: angleDegrees)
    }

    @inline(__always) private static func fixed(_ v: Double) -> Int { Int((v * 1024).rounded(.toNearestOrEven)) }

    /// Bilinear: top-left source pixel and the 1/32-pixel fractions (0...31) along x and y.
    @inline(__always)
    package func linear(_ x: Int, _ y: Int) -> (x0: Int, y0: Int, tx: Int, ty: Int) {
        let X = (AffineSampler.fixed(m[1] * Double(y) + m[2]) + 16 + AffineSampler.fixed(m[0] * Double(x))) >> 5
        let Y = (AffineSampler.fixed(m[4] * Double(y) + m[5]) + 16 + AffineSampler.fixed(m[3] * Double(x))) >> 5
        return (X >> 5, Y >> 5, X & 31, Y & 31)
    }

    /// Nearest: the source pixel.
    @inline(__always)
    package func nearest(_ x: Int, _ y: Int) -> (x: Int, y: Int) {
        ((AffineSampler.fixed(m[1] * Double(y) + m[2]) + 512 + AffineSampler.fixed(m[0] * Double(x))) >> 10,
         (AffineSampler.fixed(m[4] * Double(y) + m[5]) + 512 + AffineSampler.fixed(m[3] * Double(x))) >> 10)
    }
}

/// One bilinear sample with constant border, OpenCV's float formula: Σ tap · (w_y · w_x), w = (1 − t/32, t/32).
/// `at(y, x, k)` reads an in-image pixel.
@inline(__always)
func warpSample(_ p: (x0: Int, y0: Int, tx: Int, ty: Int), width w: Int, height h: Int, channel k: Int, border: Float,
                _ at: (Int, Int, Int) -> Float) -> Float {
    let fx = Float(p.tx) * (1 / 32), fy = Float(p.ty) * (1 / 32)
    let w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx
    let x1 = p.x0 + 1, y1 = p.y0 + 1
    let in0 = p.y0 >= 0 && p.y0 < h, in1 = y1 >= 0 && y1 < h
    let inL = p.x0 >= 0 && p.x0 < w, inR = x1 >= 0 && x1 < w
    let v00 = in0 && inL ? at(p.y0, p.x0, k) : border
    let v01 = in0 && inR ? at(p.y0, x1, k) : border
    let v10 = in1 && inL ? at(y1, p.x0, k) : border
    let v11 = in1 && inR ? at(y1, x1, k) : border
    return v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11
}

package func rotateImage(_ image: FloatImage, angleDegrees: Double, border: [Float]) -> FloatImage {
    let w = image.width, h = image.height
    let sampler = AffineSampler(width: w, height: h, angleDegrees: angleDegrees)
    var out = [Float](repeating: 0, count: w * h * 3)
    image.data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for y in 0..<h {
                for x in 0..<w {
                    let p = sampler.linear(x, y)
                    let o = (y * w + x) * 3
                    for k in 0..<3 {
                        dst[o + k] = warpSample(p, width: w, height: h, channel: k, border: border[k]) { yy, xx, c in
                            src[(yy * w + xx) * 3 + c]
                        }
                    }
                }
            }
        }
    }
    return FloatImage(width: w, height: h, data: out)
}

package func rotateLabel(_ label: LabelImage, angleDegrees: Double, border: UInt8 = VOC.ignoreLabel) -> LabelImage {
    let w = label.width, h = label.height
    let sampler = AffineSampler(width: w, height: h, angleDegrees: angleDegrees)
    var out = [UInt8](repeating: border, count: w * h)
    for y in 0..<h {
        for x in 0..<w {
            let (sx, sy) = sampler.nearest(x, y)
            if sx >= 0, sx < w, sy >= 0, sy < h { out[y * w + x] = label.pixels[sy * w + sx] }
        }
    }
    return LabelImage(width: w, height: h, pixels: out)
}
