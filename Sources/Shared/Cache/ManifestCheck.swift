// A manifest is read from disk, so it is checked before anything uses it: its parts must agree with each other
// (image count and ids, the shard plan, every shard entry) and its numbers must be sane. Readers index arrays and
// files with these numbers; a hand-edited or damaged manifest is refused here with the field that is wrong.
import Foundation
import DinoSegCore
import DinoSegData
import DinoSegBackbone

/// Bounds on what a cache may describe; beyond them a number is an edit or damage, not a dataset.
package enum CacheLimits {
    /// Stage channels (ConvNeXt-large has 1536 in its last stage).
    package static let maxChannels = 16_384
    /// Stage strides (ConvNeXt's last stage has 32).
    package static let strides = 1...1024
    /// Train crop and val window side.
    package static let crops = 32...2048
    /// Val long side (the canvas of a whole-image window).
    package static let longSides = 32...8192
    /// Original image side and pixels: exactly what the image readers accept (ImageLimits), so every image `extract
    /// val` can decode is one its readers accept; the evaluator holds one byte per original pixel (the mask) and one
    /// row of probabilities, never a float map of the original size.
    package static let maxImageSide = ImageLimits.maxSide
    package static let maxImagePixels = ImageLimits.maxPixels
    package static let maxViews = 100_000
    /// Feature values a reader holds for one train sample, and for all windows of one val image (as Float: 1 GiB).
    package static let maxFeatureValues = 1 << 28
}

extension CacheManifest {
    /// Shards per view: every view is cut into the same runs of `shardSize` consecutive images.
    package var shardsPerView: Int {
        config.shardSize > 0 && config.imageCount > 0 ? (config.imageCount - 1) / config.shardSize + 1 : 0
    }

    /// Feature values of the stored stages for one side×side input.
    func featureValues(side: Int) -> Int {
        stages.reduce(0) { $0 + stageSide($1, pixels: side) * stageSide($1, pixels: side) * channels(stage: $1) }
    }

    /// The view shard `index` was planned for (val: 0).
    package func plannedView(shard index: Int) -> Int { shardsPerView > 0 ? index / shardsPerView : 0 }

    /// Image indices shard `index` was planned to hold (fewer when images were skipped).
    package func plannedImages(shard index: Int) -> Range<Int> {
        guard shardsPerView > 0 else { return 0..<0 }
        let s = index % shardsPerView, size = config.shardSize
        return (s * size)..<min(config.imageCount, (s + 1) * size)
    }

    /// Stage strides sane (one per stage, every stored stage at least one feature wide for the crop) and the recorded
    /// geometry, when present, equal to the recorded channels and strides.
    func checkGeometry(_ fail: (String) -> DinoSegError) throws {
        let b = config.backbone
        guard b.stageStrides.count == b.hiddenSizes.count, b.stageStrides.allSatisfy({ CacheLimits.strides.contains($0) }) else {
            throw fail("backbone.stageStrides \(b.stageStrides) are not one stride in \(CacheLimits.strides) per stage of \(b.hiddenSizes)")
        }
        if let recorded = b.stageGeometry, recorded != b.derivedGeometry {
            throw fail("backbone.stageGeometry disagrees with backbone.hiddenSizes \(b.hiddenSizes) and stageStrides \(b.stageStrides)")
        }
        if let k = stages.first(where: { stageSide($0, pixels: config.crop) < 1 }) {
            throw fail("stage \(k) has stride \(b.stageStrides[k]), more than the crop \(config.crop)")
        }
    }

    /// Throws, naming the field, when the manifest contradicts itself or holds impossible numbers.
    package func checkConsistency(path: String) throws {
        func fail(_ problem: String) -> DinoSegError {
            DinoSegError(file: path, "\(problem); the manifest was edited or damaged: re-extract the cache (a new --out, or delete its directory)")
        }
        let c = config
        guard c.formatVersion == 1 else { throw fail("formatVersion is \(c.formatVersion), this version reads 1") }
        let channels = c.backbone.hiddenSizes
        guard !channels.isEmpty, channels.allSatisfy({ (1...CacheLimits.maxChannels).contains($0) }) else {
            throw fail("backbone.hiddenSizes \(channels) are not stage channel counts (1…\(CacheLimits.maxChannels))")
        }
        guard !c.stages.isEmpty, Set(c.stages).count == c.stages.count, c.stages.allSatisfy({ channels.indices.contains($0) }) else {
            throw fail("stages \(c.stages) are not distinct stages of a \(channels.count)-stage backbone")
        }
        guard CacheLimits.crops.contains(c.crop) else { throw fail("crop is \(c.crop), expected \(CacheLimits.crops)") }
        try checkGeometry(fail)
        guard c.dtype == .f16 || c.dtype == .f32 else { throw fail("dtype is \(c.dtype.rawValue), features are f16 or f32") }
        guard (1...CacheLimits.maxViews).contains(c.views) else { throw fail("views is \(c.views), expected 1…\(CacheLimits.maxViews)") }
        guard c.shardSize >= 1 else { throw fail("shardSize is \(c.shardSize), expected at least 1") }
        guard c.imageCount == imageIDs.count else {
            throw fail("imageIDs has \(imageIDs.count) entries but config.imageCount is \(c.imageCount)")
        }
        // The ids name the files `headtrain eval --save-predictions` writes.
        for id in imageIDs { if let p = SampleID.problem(id) { throw fail("imageIDs holds '\(id)', which \(p)") } }
        if let problem = SourceFingerprint.checkCount(self) { throw fail(problem) }
        if kind == .val {
            guard let p = c.evalProtocol else {
                throw fail("the manifest records no evaluation protocol (written by an older DinoSeg); re-run extract val into a new directory")
            }
            guard c.views == 1 else { throw fail("views is \(c.views), a val cache has 1") }
            guard p.crop == c.crop else { throw fail("the protocol's crop is \(p.crop) but config.crop is \(c.crop)") }
            guard CacheLimits.longSides.contains(p.longSide) else {
                throw fail("longSide is \(p.longSide), expected \(CacheLimits.longSides)")
            }
            guard (1...c.crop).contains(p.stride) else {
                throw fail("stride is \(p.stride), expected 1…\(c.crop) (the crop)")
            }
            // The most a reader holds for one image: every window of a long-side square canvas.
            let side = max(p.longSide, c.crop), perSide = (side - c.crop + p.stride - 1) / p.stride + 1
            let windows = p.mode == .whole ? 1 : perSide * perSide * (p.flip ? 2 : 1)
            let values = windows * featureValues(side: p.mode == .whole ? side : c.crop)
            guard values <= CacheLimits.maxFeatureValues else {
                throw fail("the protocol (long side \(p.longSide), crop \(c.crop), stride \(p.stride)) needs \(values) feature values per image, more than \(CacheLimits.maxFeatureValues)")
            }
        } else if featureValues(side: c.crop) > CacheLimits.maxFeatureValues {
            throw fail("a \(c.crop)x\(c.crop) sample has \(featureValues(side: c.crop)) feature values, more than \(CacheLimits.maxFeatureValues)")
        }
        let planned = c.views * shardsPerView
        guard plannedShards == planned else {
            throw fail("plannedShards is \(plannedShards), but \(c.imageCount) images × \(c.views) view(s) in shards of \(c.shardSize) make \(planned)")
        }
        var seen = Set<Int>()
        for (i, s) in shards.enumerated() {
            let at = "shards[\(i)]"
            guard (0..<plannedShards).contains(s.index), seen.insert(s.index).inserted else {
                throw fail("\(at).index \(s.index) is outside 0..<\(plannedShards) or repeated")
            }
            guard s.file == CacheManifest.shardFileName(s.index) else {
                throw fail("\(at).file is '\(s.file)', expected \(CacheManifest.shardFileName(s.index))")
            }
            guard s.view == plannedView(shard: s.index) else {
                throw fail("\(at).view is \(s.view), shard \(s.index) holds view \(plannedView(shard: s.index))")
            }
            let room = plannedImages(shard: s.index).count
            guard (0...room).contains(s.images) else { throw fail("\(at).images is \(s.images), shard \(s.index) has room for \(room)") }
            let windowsOK = kind == .train ? s.samples == s.images : s.samples >= s.images
            guard windowsOK else { throw fail("\(at).samples is \(s.samples) for \(s.images) images") }
            guard s.bytes >= 0, s.sha256.count == 64, s.sha256.allSatisfy(\.isHexDigit) else {
                throw fail("\(at) has a bad size (\(s.bytes)) or SHA-256 ('\(s.sha256)')")
            }
        }
    }
}
