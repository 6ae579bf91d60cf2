import DinoSegCore
// The train augmentation (docs/DESIGN.md §3) (semseg's train transform) as data + one function. Random draws, in order:
// scale u; rotate coin (+ angle when taken); blur coin; flip coin; crop row offset; crop column offset.
// One generator per (seed, image index, view), so any view can be replayed alone.

package struct AugmentationRecipe: Codable, Equatable {
    package var scaleMin = 0.5, scaleMax = 2.0
    package var rotateProbability = 0.5, rotateMaxDegrees = 10.0
    package var blurProbability = 0.5
    package var flipProbability = 0.5
    package var crop = 224
    /// When set, the random scale is relative to the image resized to this long side (datasets of large photos, such
    /// as Cityscapes, train at the scale they are evaluated at); nil: relative to the photo as stored (VOC).
    package var longSide: Int? = nil

    package init() {}

    /// The factor the random scale multiplies: `longSide` over the photo's long side, or 1.
    package func baseScale(height: Int, width: Int) -> Double {
        longSide.map { Double($0) / Double(max(height, width, 1)) } ?? 1
    }

    /// One line recorded in cache manifests.
    package var summary: String {
        (longSide.map { "Resize long side \($0); " } ?? "") + "semseg train: RandScale[\(scaleMin),\(scaleMax)] bilinear/nearest; RandRotate[-\(rotateMaxDegrees),\(rotateMaxDegrees)] p=\(rotateProbability) border mean/255; "
            + "GaussianBlur 5x5 [1,4,6,4,1]/16 reflect101 p=\(blurProbability); HFlip p=\(flipProbability); "
            + "Crop \(crop) rand pad mean/255; Normalize mean \(VOC.mean) std \(VOC.std)"
    }
}

/// What was drawn for one view (for previews and tests).
package struct AugmentationDraw: Equatable {
    package var scale: Double
    package var rotation: Double?
    package var blur: Bool
    package var flip: Bool
    package var cropTop: Int, cropLeft: Int
}

package func augmentationRNG(seed: UInt64, imageIndex: Int, view: Int) -> SplitMix64 {
    SplitMix64(seed: seed, imageIndex, view)
}

/// Reference (tests only): steps 1–5 on the whole image, one step after another, returning the (not yet normalised)
/// crop in 0...255, its label and the draws. Extraction uses `augmentCrop`, which computes only the crop and is tested
/// against this.
package func augment(_ image: RGBImage, _ label: LabelImage, recipe: AugmentationRecipe = AugmentationRecipe(),
                    rng: inout SplitMix64) -> (FloatImage, LabelImage, AugmentationDraw) {
    var img = FloatImage(image)
    var lab = label

    let s = rng.uniform(recipe.scaleMin, recipe.scaleMax) * recipe.baseScale(height: image.height, width: image.width)
    img = scaleImage(img, factor: s)
    lab = scaleLabel(lab, factor: s)

    var rotation: Double? = nil
    if rng.chance(recipe.rotateProbability) {
        let angle = rng.uniform(-recipe.rotateMaxDegrees, recipe.rotateMaxDegrees)
        img = rotateImage(img, angleDegrees: angle, border: VOC.mean)
        lab = rotateLabel(lab, angleDegrees: angle)
        rotation = angle
    }

    let blur = rng.chance(recipe.blurProbability)
    if blur { img = blurImage(img) }

    let flip = rng.chance(recipe.flipProbability)
    if flip { img = flipImage(img); lab = flipLabel(lab) }

    let pad = CropPadding(height: img.height, width: img.width, crop: recipe.crop)
    if pad != CropPadding(height: 0, width: 0, crop: 0) {
        img = padImage(img, pad, value: VOC.mean)
        lab = padLabel(lab, pad)
    }
    let top = rng.int(in: 0...(img.height - recipe.crop)), left = rng.int(in: 0...(img.width - recipe.crop))
    img = cropImage(img, top: top, left: left, size: recipe.crop)
    lab = cropLabel(lab, top: top, left: left, size: recipe.crop)
    return (img, lab, AugmentationDraw(scale: s, rotation: rotation, blur: blur, flip: flip, cropTop: top, cropLeft: left))
}
