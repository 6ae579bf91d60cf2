import XCTest
@testable import DinoSegCore
@testable import DinoSegData

final class AugmentTests: XCTestCase {
    func ramp(_ w: Int, _ h: Int) -> FloatImage {
        FloatImage(width: w, height: h, data: (0..<(w * h * 3)).map { Float($0 / 3) + Float($0 % 3) * 100 })
    }

    func testScaleSizesAndHalfPixelBilinear() {
        XCTAssertEqual(scaledSize(500, 0.5), 250)
        XCTAssertEqual(scaledSize(375, 0.5), 188)  // 187.5 → 188 (ties to even, as cv2's saturate_cast)
        XCTAssertEqual(scaledSize(5, 0.5), 2)      // 2.5 → 2
        // [0, 10] upsampled ×2 with half-pixel centres: [0, 2.5, 7.5, 10] (PyTorch/cv2 INTER_LINEAR).
        let img = FloatImage(width: 2, height: 1, data: [0, 0, 0, 10, 10, 10])
        let up = scaleImage(img, outWidth: 4, outHeight: 1)
        assertClose(stride(from: 0, to: 12, by: 3).map { up.data[$0] }, [0, 2.5, 7.5, 10] as [Float], rtol: 0, seed: nil,
                    what: "[0, 10] upsampled ×2, channel 0")
        // Labels: nearest, floor(dst · in/out).
        let lab = LabelImage(width: 3, height: 1, pixels: [1, 2, 3])
        XCTAssertEqual(scaleLabel(lab, outWidth: 6, outHeight: 1).pixels, [1, 1, 2, 2, 3, 3])
        XCTAssertEqual(scaleLabel(lab, outWidth: 2, outHeight: 1).pixels, [1, 2])
        // With a factor (cv2.resize fx=s), the mapping uses 1/s, not in/out: 5 px × 0.5 → 2 px sampling source
        // 0.5 and 2.5 (the size ratio 2.5 would sample 0.75 and 3.25).
        let row = FloatImage(width: 5, height: 1, data: [0, 10, 20, 30, 40].flatMap { [Float($0), 0, 0] })
        let half = scaleImage(row, factor: 0.5)
        XCTAssertEqual(half.width, 2)
        assertClose([half.data[0], half.data[3]], [5, 25] as [Float], rtol: 0, seed: nil, what: "5 px ramp × 0.5, channel 0")
        XCTAssertEqual(scaleLabel(LabelImage(width: 5, height: 1, pixels: [1, 2, 3, 4, 5]), factor: 0.5).pixels, [1, 3])
        // Upscaling 3 px × 1.7 → 5 px: floor(d / 1.7) = 0, 0, 1, 1, 2.
        XCTAssertEqual(scaleLabel(lab, factor: 1.7).pixels, [1, 1, 2, 2, 3, 1, 1, 2, 2, 3])  // 1 row → round(1.7) = 2 rows
        let upF = scaleImage(FloatImage(width: 3, height: 1, data: [0, 0, 0, 17, 0, 0, 34, 0, 0]), factor: 1.7)
        // Source of d = 2: (2.5 / 1.7) − 0.5 = 0.97059 → 0.97059 · 17.
        XCTAssertEqual(upF.data[6], Float((2.5 / 1.7 - 0.5) * 17), accuracy: 1e-4)
    }

    func testRotationAboutHalfSizeCentreWithBorders() {
        // 90° about (w/2, h/2) = (2, 2) on a 4×4 image maps dst (x, y) to src (4 − y, x): row y = 0 falls outside.
        let w = 4
        let lab = LabelImage(width: w, height: w, pixels: (0..<16).map { UInt8($0) })
        let r = rotateLabel(lab, angleDegrees: 90)
        for y in 0..<w {
            for x in 0..<w {
                let expected: UInt8 = y == 0 ? 255 : UInt8(x * w + (4 - y))
                XCTAssertEqual(r.pixels[y * w + x], expected, "label at (\(x), \(y))")
            }
        }
        let img = ramp(w, w)
        let border: [Float] = [1, 2, 3]
        let ri = rotateImage(img, angleDegrees: 90, border: border)
        let expected = (0..<(w * w * 3)).map { i -> Float in
            let (y, x, c) = (i / (3 * w), i / 3 % w, i % 3)
            return y == 0 ? border[c] : img.data[(x * w + (4 - y)) * 3 + c]
        }
        assertClose(ri.data, expected, rtol: 0, atol: 1e-4, shape: [w, w, 3], seed: nil, what: "ramp rotated 90°")
        // Angle 0 is the identity; a small angle blends the border colour into the corners only.
        let r0 = rotateImage(img, angleDegrees: 0, border: border)
        XCTAssertEqual([r0.width, r0.height], [w, w])
        assertClose(r0.data, img.data, rtol: 0, shape: [w, w, 3], seed: nil, what: "ramp rotated 0°")
        XCTAssertEqual(rotateLabel(lab, angleDegrees: 0), lab)
        let small = rotateLabel(LabelImage(width: 9, height: 9, pixels: [UInt8](repeating: 7, count: 81)), angleDegrees: 10)
        XCTAssertEqual(small.pixels[4 * 9 + 4], 7)
        XCTAssertEqual(small.pixels[0], 255)
        // Half-way sample: 45°-free check of bilinear weights via a shifted inverse map.
        let m = inverseRotation(width: 4, height: 2, angleDegrees: 30)
        let (c30, s30) = (cos(Double.pi / 6), sin(Double.pi / 6))
        XCTAssertEqual(m[0], c30, accuracy: 1e-12); XCTAssertEqual(m[1], -s30, accuracy: 1e-12)
        // The centre (w/2, h/2) is a fixed point of the map.
        XCTAssertEqual(m[0] * 2 + m[1] * 1 + m[2], 2, accuracy: 1e-12)
        XCTAssertEqual(m[3] * 2 + m[4] * 1 + m[5], 1, accuracy: 1e-12)
    }

    func testRotationUsesOpenCVFixedPoint() {
        // A horizontal ramp (value = 10·x): bilinear reads it at the source x rounded to 1/32 pixel, as cv2.warpAffine.
        let w = 12, h = 12
        let img = FloatImage(width: w, height: h, data: (0..<(w * h)).flatMap { [Float(10 * ($0 % w)), 0, 0] })
        let angle = 3.3
        let r = rotateImage(img, angleDegrees: angle, border: [0, 0, 0])
        let m = inverseRotation(width: w, height: h, angleDegrees: angle)
        for (x, y) in [(5, 6), (7, 3), (4, 8)] {
            let fixedX = Int(((m[1] * Double(y) + m[2]) * 1024).rounded()) + 16 + Int((m[0] * Double(x) * 1024).rounded())
            let quantised = Double(fixedX >> 5) / 32
            let exact = m[0] * Double(x) + m[1] * Double(y) + m[2]
            XCTAssertEqual(Double(r.data[(y * w + x) * 3]), 10 * quantised, accuracy: 1e-4, "(\(x), \(y))")
            XCTAssertNotEqual(Double(r.data[(y * w + x) * 3]), 10 * exact, accuracy: 1e-3, "(\(x), \(y)) should be quantised")
        }
        // Nearest rounds to the closest source pixel.
        let lab = LabelImage(width: w, height: h, pixels: (0..<(w * h)).map { UInt8($0 % w) })
        let rl = rotateLabel(lab, angleDegrees: angle)
        for (x, y) in [(5, 6), (7, 3), (4, 8)] {
            let exact = m[0] * Double(x) + m[1] * Double(y) + m[2]
            XCTAssertEqual(Int(rl.pixels[y * w + x]), Int(exact.rounded()), "label at (\(x), \(y))")
        }
    }

    func testBlurKernelAndReflect101() {
        XCTAssertEqual((-3...7).map { reflect101($0, 5) }, [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1])
        // Impulse in the corner: reflect-101 folds taps −1, −2 onto 1, 2, so the row profile is [6, 4, 1]/16.
        var data = [Float](repeating: 0, count: 7 * 7 * 3)
        data[0] = 256; data[1] = 256; data[2] = 256
        let b = blurImage(FloatImage(width: 7, height: 7, data: data))
        let profile: [Float] = [6, 4, 1, 0, 0, 0, 0]
        let channel1: [Float] = stride(from: 1, to: 7 * 7 * 3, by: 3).map { b.data[$0] }
        let outer: [Float] = (0..<49).map { (i: Int) -> Float in profile[i % 7] * profile[i / 7] }
        assertClose(channel1, outer, rtol: 0, atol: 1e-4, shape: [7, 7], seed: nil, what: "blurred corner impulse, channel 1")
        // Interior impulse gives the outer product of [1, 4, 6, 4, 1]/16; a constant image stays constant.
        data = [Float](repeating: 0, count: 7 * 7 * 3)
        data[(3 * 7 + 3) * 3] = 256
        let c = blurImage(FloatImage(width: 7, height: 7, data: data))
        XCTAssertEqual(c.data[(3 * 7 + 3) * 3], 36, accuracy: 1e-4)
        XCTAssertEqual(c.data[(1 * 7 + 2) * 3], 4, accuracy: 1e-4)
        XCTAssertEqual(c.data[(3 * 7 + 3) * 3 + 1], 0)
        let flat = blurImage(FloatImage(width: 3, height: 2, data: [Float](repeating: 42, count: 18)))
        assertClose(flat.data, [Float](repeating: 42, count: 18), rtol: 0, atol: 1e-4, shape: [2, 3, 3], seed: nil,
                    what: "blurred constant image")
    }

    func testPaddingSplitFlipAndCrop() {
        XCTAssertEqual(CropPadding(height: 200, width: 221, crop: 224), CropPadding_(12, 12, 1, 2))
        XCTAssertEqual(CropPadding(height: 300, width: 224, crop: 224), CropPadding_(0, 0, 0, 0))
        let lab = LabelImage(width: 2, height: 1, pixels: [3, 4])
        let padded = padLabel(lab, CropPadding(height: 1, width: 2, crop: 5))
        XCTAssertEqual(padded.pixels, [255, 255, 255, 255, 255,
                                       255, 255, 255, 255, 255,
                                       255, 3, 4, 255, 255,
                                       255, 255, 255, 255, 255,
                                       255, 255, 255, 255, 255])
        let pi = padImage(FloatImage(width: 1, height: 1, data: [9, 9, 9]), CropPadding(height: 1, width: 1, crop: 2), value: VOC.mean)
        assertClose(pi.data, [9, 9, 9] + VOC.mean + VOC.mean + VOC.mean, rtol: 0, shape: [2, 2, 3], seed: nil, what: "padded 1x1 image")
        XCTAssertEqual(flipLabel(LabelImage(width: 3, height: 1, pixels: [1, 2, 3])).pixels, [3, 2, 1])
        assertClose(flipImage(FloatImage(width: 2, height: 1, data: [1, 2, 3, 4, 5, 6])).data, [4, 5, 6, 1, 2, 3] as [Float], rtol: 0,
                    seed: nil, what: "flipped 2x1 image")
        let crop = cropLabel(LabelImage(width: 3, height: 3, pixels: (0..<9).map { UInt8($0) }), top: 1, left: 1, size: 2)
        XCTAssertEqual(crop.pixels, [4, 5, 7, 8])
        let n = normalise(FloatImage(width: 1, height: 1, data: VOC.mean.enumerated().map { $0.element + VOC.std[$0.offset] }))
        assertClose(n, [1, 1, 1] as [Float], rtol: 0, atol: 1e-5, seed: nil, what: "normalised mean + std")
    }

    func CropPadding_(_ t: Int, _ b: Int, _ l: Int, _ r: Int) -> CropPadding {
        var p = CropPadding(height: 0, width: 0, crop: 0)
        p.top = t; p.bottom = b; p.left = l; p.right = r
        return p
    }

    func testPipelineDeterministicProbabilitiesAndLabels() {
        var recipe = AugmentationRecipe()
        recipe.crop = 16
        let w = 20, h = 12
        let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8($0 % 251) })
        let label = LabelImage(width: w, height: h, pixels: (0..<(w * h)).map { UInt8(($0 / 7) % 5) })
        var counts = (rotate: 0, blur: 0, flip: 0)
        var scaleSum = 0.0
        let seed: UInt64 = 7
        let n = 1000
        for i in 0..<n {
            var rng = augmentationRNG(seed: seed, imageIndex: i, view: 0)
            let (img, lab, draw) = augment(image, label, recipe: recipe, rng: &rng)
            XCTAssertEqual(img.width, 16); XCTAssertEqual(lab.height, 16)
            XCTAssertTrue(lab.pixels.allSatisfy { $0 < 5 || $0 == 255 }, "seed \(seed) image \(i): label values")
            XCTAssertTrue((0.5..<2.0).contains(draw.scale))
            if let a = draw.rotation { XCTAssertTrue(abs(a) <= 10); counts.rotate += 1 }
            if draw.blur { counts.blur += 1 }
            if draw.flip { counts.flip += 1 }
            scaleSum += draw.scale
        }
        for (name, c) in [("rotate", counts.rotate), ("blur", counts.blur), ("flip", counts.flip)] {
            XCTAssertEqual(Double(c) / Double(n), 0.5, accuracy: 0.06, "seed \(seed): \(name) frequency")
        }
        XCTAssertEqual(scaleSum / Double(n), 1.25, accuracy: 0.05, "seed \(seed): mean scale")
        // Replay: same (seed, image, view) → identical output; another view → different.
        var r1 = augmentationRNG(seed: seed, imageIndex: 3, view: 1), r2 = augmentationRNG(seed: seed, imageIndex: 3, view: 1)
        var r3 = augmentationRNG(seed: seed, imageIndex: 3, view: 2)
        let a = augment(image, label, recipe: recipe, rng: &r1), b = augment(image, label, recipe: recipe, rng: &r2)
        let c = augment(image, label, recipe: recipe, rng: &r3)
        assertClose(a.0.data, b.0.data, rtol: 0, seed: seed, what: "image 3 view 1 augmented twice")
        XCTAssertNil(byteDifference(Data(a.1.pixels), Data(b.1.pixels)), "seed \(seed): labels of image 3 view 1 augmented twice")
        XCTAssertNotEqual(a.2, c.2)
    }

    func testPipelineStepsComposeAsReference() {
        // Re-run the steps by hand from the recorded draws: the pipeline applies exactly these, in this order.
        let w = 30, h = 25
        let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8(($0 * 37) % 256) })
        let label = LabelImage(width: w, height: h, pixels: (0..<(w * h)).map { UInt8($0 % 21) })
        var recipe = AugmentationRecipe()
        recipe.crop = 24
        for view in 0..<6 {
            var rng = augmentationRNG(seed: 11, imageIndex: 0, view: view)
            let (img, lab, d) = augment(image, label, recipe: recipe, rng: &rng)
            var x = FloatImage(image), l = label
            x = scaleImage(x, factor: d.scale); l = scaleLabel(l, factor: d.scale)
            if let a = d.rotation { x = rotateImage(x, angleDegrees: a, border: VOC.mean); l = rotateLabel(l, angleDegrees: a) }
            if d.blur { x = blurImage(x) }
            if d.flip { x = flipImage(x); l = flipLabel(l) }
            let p = CropPadding(height: x.height, width: x.width, crop: 24)
            x = padImage(x, p, value: VOC.mean); l = padLabel(l, p)
            assertClose(cropImage(x, top: d.cropTop, left: d.cropLeft, size: 24).data, img.data, rtol: 0, shape: [24, 24, 3],
                        seed: "11 view \(view)", what: "steps by hand vs pipeline")
            XCTAssertNil(byteDifference(Data(cropLabel(l, top: d.cropTop, left: d.cropLeft, size: 24).pixels), Data(lab.pixels)),
                         "seed 11 view \(view): labels, steps by hand vs pipeline")
        }
    }
}

final class AugmentCropTests: XCTestCase {
    /// The fast crop-only path equals the whole-image reference for many draws (sizes below and above the crop).
    func testFastPathMatchesReference() {
        var recipe = AugmentationRecipe()
        recipe.crop = 48
        let seed: UInt64 = 21
        var rng0 = SplitMix64(seed: seed)
        for trial in 0..<60 {
            let w = rng0.int(in: 10...70), h = rng0.int(in: 10...70)
            let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng0.next() % 256) })
            let label = LabelImage(width: w, height: h, pixels: (0..<(w * h)).map { _ in UInt8(rng0.next() % 21) })
            var a = augmentationRNG(seed: seed, imageIndex: trial, view: 0), b = a
            let ref = augment(image, label, recipe: recipe, rng: &a)
            let fast = augmentCrop(image, label, recipe: recipe, rng: &b)
            XCTAssertEqual(fast.2, ref.2, "seed \(seed) trial \(trial): draws")
            XCTAssertNil(byteDifference(Data(fast.1.pixels), Data(ref.1.pixels)), "seed \(seed) trial \(trial): label (\(w)x\(h), \(ref.2))")
            assertClose(fast.0.data, ref.0.data, rtol: 0, atol: 1e-3, shape: [48, 48, 3], seed: "\(seed) trial \(trial)",
                        what: "crop-only path vs whole-image reference (\(w)x\(h), \(ref.2))")
            XCTAssertEqual(a, b, "seed \(seed) trial \(trial): same number of draws")
        }
    }
}
