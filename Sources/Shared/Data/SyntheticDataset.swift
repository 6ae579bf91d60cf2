// A synthetic segmentation dataset in exactly the VOC layout, so the whole pipeline runs without VOC:
//   DIR/JPEGImages/ID.jpg, DIR/SegmentationClass/ID.png (palette indices, 255 on region borders),
//   DIR/ImageSets/Segmentation/{train,val}.txt
// Each class has its own colour and texture (stripes, checks, dots or waves at a class-specific angle and period) plus
// pixel noise, so the class is recognisable from local appearance. Deterministic for (seed, split, index).
import Foundation
import DinoSegCore
import DinoSegKernels

package struct SyntheticDatasetConfig: Codable, Equatable {
    package var trainCount = 64
    package var valCount = 16
    package var seed: UInt64 = 0
    package var minSide = 160
    package var maxSide = 400
    /// Object classes (background 0 is always present).
    package var objectClasses = SyntheticDatasetConfig.spreadClasses(6)
    /// Width of the void (255) band around region borders, in pixels on each side.
    package var borderRadius = 2
    package init() {}

    /// `count` object classes spread over 1...20 so their palette colours differ.
    package static func spreadClasses(_ count: Int) -> [Int] { (0..<count).map { 1 + $0 * 20 / count } }
}

/// Appearance of one class: mean colour and a texture.
struct ClassAppearance {
    var colour: (Float, Float, Float)
    var kind: Int          // 0 stripes, 1 checks, 2 dots, 3 waves, 4 (background) smooth blotches
    var angle: Double      // radians
    var period: Double     // pixels
    var amplitude: Float

    init(classIndex c: Int) {
        if c == 0 {
            colour = (118, 112, 100); kind = 4; angle = 0; period = 48; amplitude = 18
            return
        }
        let p = VOC.palette
        // Palette colours are saturated; pull them towards mid-grey so textures have room on both sides.
        colour = (40 + 0.65 * Float(p[3 * c]), 40 + 0.65 * Float(p[3 * c + 1]), 40 + 0.65 * Float(p[3 * c + 2]))
        kind = c % 4
        angle = Double((c * 47) % 180) * Double.pi / 180
        period = 5 + Double((c * 3) % 7) * 1.5
        amplitude = 38
    }

    /// Texture value in −1...1 at pixel (x, y), with a per-image phase.
    func texture(_ x: Double, _ y: Double, phase: Double) -> Float {
        let u = x * cos(angle) + y * sin(angle), v = -x * sin(angle) + y * cos(angle)
        let w = 2 * Double.pi / period
        switch kind {
        case 0: return Float(sin(w * u + phase))
        case 1: return (sin(w * u + phase) * sin(w * v) >= 0) ? 1 : -1
        case 2:
            let du = (u / period + phase).truncatingRemainder(dividingBy: 1), dv = (v / period).truncatingRemainder(dividingBy: 1)
            let ru = abs(du) - 0.5, rv = abs(dv) - 0.5
            return (ru * ru + rv * rv < 0.06) ? 1 : -0.6
        case 3: return Float(sin(w * u + 2.5 * sin(w * 0.35 * v) + phase))
        default: return Float(0.6 * sin(w * x * 0.7 + phase) * cos(w * y * 0.5 + 0.3 * phase))
        }
    }
}

/// One object: an ellipse or a rectangle (possibly rotated) of one class.
struct SyntheticShape {
    var classIndex: Int
    var cx: Double, cy: Double, rx: Double, ry: Double, angle: Double
    var ellipse: Bool

    func contains(_ x: Double, _ y: Double) -> Bool {
        let dx = x - cx, dy = y - cy
        let u = (dx * cos(angle) + dy * sin(angle)) / rx, v = (-dx * sin(angle) + dy * cos(angle)) / ry
        return ellipse ? (u * u + v * v <= 1) : (abs(u) <= 1 && abs(v) <= 1)
    }
}

package enum SyntheticDataset {
    /// Renders image `index` of `split` (0 train, 1 val).
    package static func render(split: Int, index: Int, config: SyntheticDatasetConfig) -> (RGBImage, LabelImage) {
        var rng = SplitMix64(seed: config.seed, split, index)
        let w = rng.int(in: config.minSide...config.maxSide), h = rng.int(in: config.minSide...config.maxSide)
        let shapeCount = rng.int(in: 1...4)
        var shapes: [SyntheticShape] = []
        for _ in 0..<shapeCount {
            let cls = config.objectClasses[rng.int(in: 0...(config.objectClasses.count - 1))]
            let side = Double(min(w, h))
            shapes.append(SyntheticShape(
                classIndex: cls,
                cx: rng.uniform(0.15, 0.85) * Double(w), cy: rng.uniform(0.15, 0.85) * Double(h),
                rx: rng.uniform(0.12, 0.35) * side, ry: rng.uniform(0.12, 0.35) * side,
                angle: rng.uniform(0, Double.pi), ellipse: rng.chance(0.5)))
        }
        // Per-class appearance and texture phase, indexed by class (0...20).
        var looks = (0..<VOC.numClasses).map { ClassAppearance(classIndex: $0) }
        var phases = [Double](repeating: 0, count: VOC.numClasses)
        for c in [0] + config.objectClasses { phases[c] = rng.uniform(0, 2 * Double.pi) }
        let brightness = Float(rng.uniform(0.85, 1.15))
        for c in 0..<VOC.numClasses { looks[c].colour = (brightness * looks[c].colour.0, brightness * looks[c].colour.1, brightness * looks[c].colour.2) }

        var classMap = [UInt8](repeating: 0, count: w * h)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                var c = 0
                for s in shapes where s.contains(Double(x), Double(y)) { c = s.classIndex }  // later shapes on top
                classMap[y * w + x] = UInt8(c)
                let look = looks[c]
                let t = look.amplitude * look.texture(Double(x), Double(y), phase: phases[c])
                let o = (y * w + x) * 3
                pixels[o] = UInt8(max(0, min(255, (look.colour.0 + t + Float(rng.normal()) * 8).rounded())))
                pixels[o + 1] = UInt8(max(0, min(255, (look.colour.1 + t + Float(rng.normal()) * 8).rounded())))
                pixels[o + 2] = UInt8(max(0, min(255, (look.colour.2 + t + Float(rng.normal()) * 8).rounded())))
            }
        }
        let label = LabelImage(width: w, height: h, pixels: voidBorders(classMap, width: w, height: h, radius: config.borderRadius))
        return (RGBImage(width: w, height: h, pixels: pixels), label)
    }

    /// Marks with 255 every pixel that has a pixel of another class within `radius` (Chebyshev), like VOC's outlines.
    static func voidBorders(_ map: [UInt8], width w: Int, height h: Int, radius r: Int) -> [UInt8] {
        var out = map
        for y in 0..<h {
            for x in 0..<w {
                let c = map[y * w + x]
                search: for yy in max(0, y - r)...min(h - 1, y + r) {
                    for xx in max(0, x - r)...min(w - 1, x + r) where map[yy * w + xx] != c {
                        out[y * w + x] = VOC.ignoreLabel
                        break search
                    }
                }
            }
        }
        return out
    }

    package static func id(split: Int, index: Int) -> String {
        String(format: "synth_%@_%05d", split == 0 ? "train" : "val", index)
    }

    /// Writes the dataset under `directory` (created if needed) in `layout` (a `DatasetLayouts` name). Work is spread
    /// over the cores.
    package static func write(to directory: String, config: SyntheticDatasetConfig, layout: String = VOCLayout.name,
                             progress: ((Int, Int) -> Void)? = nil) throws {
        guard let writer = SyntheticLayouts.all.first(where: { $0.layout == layout }) else {
            throw DinoSegError("synthetic data: no generator for layout \(layout) (have \(SyntheticLayouts.all.map(\.layout).joined(separator: ", ")))")
        }
        try writer.prepare(directory, config)
        let jobs = (0..<config.trainCount).map { (0, $0) } + (0..<config.valCount).map { (1, $0) }
        let lock = NSLock()
        var firstError: Error? = nil
        var done = 0
        Parallel.forEach(jobs.count) { j in
            let (split, index) = jobs[j]
            let (image, label) = render(split: split, index: index, config: config)
            do {
                try writer.write(image, label, id(split: split, index: index), split == 0 ? "train" : "val", directory)
            } catch {
                lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
            }
            lock.lock(); done += 1; let d = done; lock.unlock()
            progress?(d, jobs.count)
        }
        if let e = firstError { throw e }
        let ids = ["train": (0..<config.trainCount).map { id(split: 0, index: $0) },
                   "val": (0..<config.valCount).map { id(split: 1, index: $0) }]
        try writer.finish(directory, config, ids)
    }
}
