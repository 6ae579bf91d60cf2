// Fast path of the train augmentation: the same draws and the same arithmetic as `augment` (the reference, step by
// step over whole images), but only the pixels that end up in the crop are computed. The crop offset depends only on
// the scaled size, so all draws can be made first; then each output pixel is traced back through pad → flip → blur
// (5×5 neighbourhood) → rotation → scale. Typical images need ~6× fewer pixels than the eager pipeline.
import Foundation
import DinoSegCore
import DinoSegKernels

/// Half-open pixel rectangle.
struct PixelBox {
    var y0: Int, y1: Int, x0: Int, x1: Int
    var height: Int { max(0, y1 - y0) }
    var width: Int { max(0, x1 - x0) }
    var isEmpty: Bool { height == 0 || width == 0 }
}

/// A box of a bilinear resize of `src` (inH×inW, 3 channels) with the given row/column taps; same arithmetic as
/// `resizeBilinear`.
func resizeBilinearBox<T: BilinearSample>(_ src: [T], inH: Int, inW: Int, taps: (BilinearTaps, BilinearTaps), box b: PixelBox) -> [Float] {
    let (ty, tx) = taps
    var out = [Float](repeating: 0, count: b.height * b.width * 3)
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { o in
            for oy in b.y0..<b.y1 {
                let y0 = Int(ty.lo[oy]), y1 = Int(ty.hi[oy]), fy = ty.frac[oy], gy = 1 - fy
                let row0 = y0 * inW * 3, row1 = y1 * inW * 3
                let dst = (oy - b.y0) * b.width * 3
                for ox in b.x0..<b.x1 {
                    let x0 = Int(tx.lo[ox]) * 3, x1 = Int(tx.hi[ox]) * 3, fx = tx.frac[ox], gx = 1 - fx
                    let w00 = gy * gx, w01 = gy * fx, w10 = fy * gx, w11 = fy * fx
                    let d = dst + (ox - b.x0) * 3
                    for k in 0..<3 {
                        o[d + k] = w00 * s[row0 + x0 + k].bilinearValue + w01 * s[row0 + x1 + k].bilinearValue
                                 + w10 * s[row1 + x0 + k].bilinearValue + w11 * s[row1 + x1 + k].bilinearValue
                    }
                }
            }
        }
    }
    return out
}

/// Same draws and result as `augment`, computing only the crop.
package func augmentCrop(_ image: RGBImage, _ label: LabelImage, recipe: AugmentationRecipe = AugmentationRecipe(),
                        rng: inout SplitMix64) -> (FloatImage, LabelImage, AugmentationDraw) {
    // All draws, in the reference order.
    let s = rng.uniform(recipe.scaleMin, recipe.scaleMax) * recipe.baseScale(height: image.height, width: image.width)
    let W = scaledSize(image.width, s), H = scaledSize(image.height, s)
    var rotation: Double? = nil
    if rng.chance(recipe.rotateProbability) { rotation = rng.uniform(-recipe.rotateMaxDegrees, recipe.rotateMaxDegrees) }
    let blur = rng.chance(recipe.blurProbability)
    let flip = rng.chance(recipe.flipProbability)
    let crop = recipe.crop
    let pad = CropPadding(height: H, width: W, crop: crop)
    let top = rng.int(in: 0...(H + pad.top + pad.bottom - crop)), left = rng.int(in: 0...(W + pad.left + pad.right - crop))
    let draw = AugmentationDraw(scale: s, rotation: rotation, blur: blur, flip: flip, cropTop: top, cropLeft: left)

    // The crop in (unpadded, flipped) image coordinates, then before the flip.
    let oy = top - pad.top, ox = left - pad.left
    var region = PixelBox(y0: max(0, oy), y1: min(H, oy + crop), x0: max(0, ox), x1: min(W, ox + crop))
    if flip { region = PixelBox(y0: region.y0, y1: region.y1, x0: W - region.x1, x1: W - region.x0) }
    // Pixels of the rotated image the blur reads (reflect-101 taps stay inside the 2-pixel margin).
    let need = blur ? PixelBox(y0: max(0, region.y0 - 2), y1: min(H, region.y1 + 2), x0: max(0, region.x0 - 2), x1: min(W, region.x1 + 2))
                    : region

    var outImage = [Float](repeating: 0, count: crop * crop * 3)
    for i in 0..<(crop * crop) { for k in 0..<3 { outImage[3 * i + k] = VOC.mean[k] } }
    if !region.isEmpty {
        // Read from the bytes: a float copy of the photo would cost 12 bytes per pixel per worker.
        let src = image.pixels
        let taps = (factorTaps(inSize: image.height, outSize: H, factor: s), factorTaps(inSize: image.width, outSize: W, factor: s))
        // Rotated (or just scaled) values on `need`.
        var rotated: [Float]
        if let angle = rotation {
            let sampler = AffineSampler(width: W, height: H, angleDegrees: angle)
            let m = sampler.m
            var minX = Double.infinity, maxX = -Double.infinity, minY = Double.infinity, maxY = -Double.infinity
            for (cy, cx) in [(need.y0, need.x0), (need.y0, need.x1 - 1), (need.y1 - 1, need.x0), (need.y1 - 1, need.x1 - 1)] {
                let sx = m[0] * Double(cx) + m[1] * Double(cy) + m[2], sy = m[3] * Double(cx) + m[4] * Double(cy) + m[5]
                minX = min(minX, sx); maxX = max(maxX, sx); minY = min(minY, sy); maxY = max(maxY, sy)
            }
            let box = PixelBox(y0: max(0, Int(minY.rounded(.down)) - 1), y1: min(H, Int(maxY.rounded(.down)) + 3),
                               x0: max(0, Int(minX.rounded(.down)) - 1), x1: min(W, Int(maxX.rounded(.down)) + 3))
            let scaled = box.isEmpty ? [] : resizeBilinearBox(src, inH: image.height, inW: image.width, taps: taps, box: box)
            rotated = rotateBox(scaled, box: box, width: W, height: H, sampler: sampler, need: need, border: VOC.mean)
        } else {
            rotated = resizeBilinearBox(src, inH: image.height, inW: image.width, taps: taps, box: need)
        }
        // Blur (rows, then columns), only on `region`.
        let values: [Float]
        if blur { values = blurBox(rotated, need: need, region: region, width: W, height: H) } else { values = rotated }
        // Place into the crop, undoing the flip.
        for y in region.y0..<region.y1 {
            for x in region.x0..<region.x1 {
                let fx = flip ? W - 1 - x : x
                let o = ((y - oy) * crop + (fx - ox)) * 3, v = ((y - region.y0) * region.width + (x - region.x0)) * 3
                for k in 0..<3 { outImage[o + k] = values[v + k] }
            }
        }
    }

    // Label: nearest scale → nearest rotation (outside 255) → flip → pad 255 → crop, per output pixel.
    var outLabel = [UInt8](repeating: VOC.ignoreLabel, count: crop * crop)
    let labelSampler = rotation.map { AffineSampler(width: W, height: H, angleDegrees: $0) }
    for i in 0..<crop {
        let y = oy + i
        guard y >= 0, y < H else { continue }
        for j in 0..<crop {
            var x = ox + j
            guard x >= 0, x < W else { continue }
            if flip { x = W - 1 - x }
            var sy = y, sx = x
            if let labelSampler {
                (sx, sy) = labelSampler.nearest(x, y)
                guard sx >= 0, sx < W, sy >= 0, sy < H else { continue }
            }
            let ly = factorNearestIndex(sy, inSize: label.height, factor: s), lx = factorNearestIndex(sx, inSize: label.width, factor: s)
            outLabel[i * crop + j] = label.pixels[ly * label.width + lx]
        }
    }
    return (FloatImage(width: crop, height: crop, data: outImage), LabelImage(width: crop, height: crop, pixels: outLabel), draw)
}

/// `rotateImage` restricted to `need`, reading the scaled image from `box` (which holds every in-image tap).
func rotateBox(_ src: [Float], box: PixelBox, width w: Int, height h: Int, sampler: AffineSampler, need: PixelBox,
               border: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: need.height * need.width * 3)
    let bw = box.width
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { dst in
            for y in need.y0..<need.y1 {
                for x in need.x0..<need.x1 {
                    let p = sampler.linear(x, y)
                    let o = ((y - need.y0) * need.width + (x - need.x0)) * 3
                    for k in 0..<3 {
                        dst[o + k] = warpSample(p, width: w, height: h, channel: k, border: border[k]) { yy, xx, c in
                            s[((yy - box.y0) * bw + (xx - box.x0)) * 3 + c]
                        }
                    }
                }
            }
        }
    }
    return out
}

/// `blurImage` evaluated on `region`, reading the unblurred image from `need` (region + 2-pixel margin, clamped).
func blurBox(_ src: [Float], need: PixelBox, region: PixelBox, width w: Int, height h: Int) -> [Float] {
    let k = blurKernel5
    // Rows pass over need's rows × region's columns, then the columns pass over region.
    var tmp = [Float](repeating: 0, count: need.height * region.width * 3)
    var out = [Float](repeating: 0, count: region.height * region.width * 3)
    for y in need.y0..<need.y1 {
        for x in region.x0..<region.x1 {
            for c in 0..<3 {
                var s: Float = 0
                for d in -2...2 { s += k[d + 2] * src[((y - need.y0) * need.width + reflect101(x + d, w) - need.x0) * 3 + c] }
                tmp[((y - need.y0) * region.width + (x - region.x0)) * 3 + c] = s
            }
        }
    }
    for y in region.y0..<region.y1 {
        for x in region.x0..<region.x1 {
            for c in 0..<3 {
                var s: Float = 0
                for d in -2...2 { s += k[d + 2] * tmp[((reflect101(y + d, h) - need.y0) * region.width + (x - region.x0)) * 3 + c] }
                out[((y - region.y0) * region.width + (x - region.x0)) * 3 + c] = s
            }
        }
    }
    return out
}
