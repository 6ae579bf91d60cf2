// `extract val`: the evaluation protocol stored as features. Each image becomes the canvas of EvalInput (resized so its
// long side is `longSide`, padded to at least crop×crop with the mean colour, normalised); then every window of the
// EvalProtocol (224×224 at stride 150 when sliding, the whole canvas otherwise, each followed by its mirror with
// --flip) goes through the backbone. The original-resolution label is stored alongside.
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone

package struct ValExtractionOptions: ExtractionOptions {
    package var settings: ExtractionSettings
    package var mode = EvalMode.slide
    package var flip = false
    package var longSide = 512
    package var crop = 224
    package var stride = 150

    /// 64 images per shard.
    package init(dataRoot: String, list: String, out: String) {
        settings = ExtractionSettings(dataRoot: dataRoot, list: list, out: out, shardSize: 64)
    }

    /// The evaluation protocol the windows are cut with (recorded in the manifest; eval and predict use the same).
    package var evalProtocol: EvalProtocol {
        EvalProtocol(mode: mode, flip: flip, crop: crop, stride: stride, longSide: longSide)
    }
}

extension ValExtractionOptions: ExtractionKind {
    typealias Sink = ShardWriterSink<ValShardWriter>

    /// A val result holds all windows of an image (tens of MB as Float): keep few in flight.
    var lookAhead: Int? { 2 * settings.workers }
    /// One image per call: its windows make the backbone batches.
    func imagesPerCall(batch: Int) -> Int { 1 }
    var probeSide: Int { crop }
    var probeUnit: String { "\(crop)x\(crop) window" }

    func cacheConfig(backbone: FeatureBackbone, listFile: String, imageCount: Int) -> CacheConfig {
        var config = CacheConfig(kind: .val, backbone: backboneInfo(backbone), mean: backbone.inputNormalization.mean,
                                 std: backbone.inputNormalization.std, crop: crop, stages: settings.stages, dtype: settings.dtype,
                                 augmentation: "none", seed: 0, views: 1, dataRoot: absolutePath(settings.dataRoot), listFile: listFile,
                                 imageCount: imageCount, shardSize: settings.shardSize, skipBad: settings.skipBad, batch: settings.batch)
        config.evalProtocol = evalProtocol
        return config
    }

    func plans(imageCount: Int) -> [ShardPlan] {
        Swift.stride(from: 0, to: imageCount, by: settings.shardSize).enumerated().map { i, s in
            ShardPlan(index: i, view: 0, images: Array(s..<min(imageCount, s + settings.shardSize)))
        }
    }

    /// Storage side of the window datasets; whole-mode canvases are at most max(longSide, crop) on each side.
    var storedSide: Int { mode == .slide ? crop : max(longSide, crop) }
    /// A typical VOC image, 500×375 → a 512×384 canvas: 6 windows when sliding.
    var typical: EvalGeometry { EvalGeometry(height: 375, width: 500, longSide: longSide, crop: crop) }

    func describe(_ p: ExtractionPlan) -> (lines: [String], neededBytes: Double) {
        let windowsPerImage = evalProtocol.windows(typical).count
        let windowBytes = CacheDirectory.featureBytes(p.backbone.stageGeometry, stages: settings.stages, height: storedSide,
                                                      width: storedSide, dtype: settings.dtype) + 20
        let needed = Double(p.pendingImages) * Double(windowsPerImage * windowBytes + 500 * 375)
        return ([
            "extract val: \(p.manifest.config.imageCount) images in \(p.shards) shards (\(settings.shardSize) images per shard); \(p.pending.count) shards to do",
            "  list: \(p.dataset.listSource)",
            "  protocol: \(evalProtocol)",
            p.backboneLine + "\(settings.workers) workers, \(p.batch) windows per backbone call" + p.rankNote,
            p.outputLine(settings.out, "about \(formatBytes(needed)) to write (estimated for \(windowsPerImage) windows per 500x375 image)"),
        ], needed)
    }

    func workSeconds(probe: Double, pendingImages: Int) -> Double {
        let g = typical
        let windowCost = mode == .slide ? probe : probe * Double(g.paddedHeight * g.paddedWidth) / Double(crop * crop)
        return Double(pendingImages * evalProtocol.windows(g).count) * windowCost
    }

    func process(samples: [SegmentationSample], description: DatasetDescription, backbone: FeatureBackbone, batch: Int) -> ExtractionPipeline<Sink>.Process {
        let (evalProtocol, stages) = (evalProtocol, settings.stages)
        return { jobs in
            jobs.map { job in
                Result {
                    let (img, lab) = try loadSample(samples[job.image], description)
                    // The same canvas and windows as evaluation and `headtrain predict` (EvalInput, EvalProtocol).
                    let g = evalProtocol.geometry(height: img.height, width: img.width)
                    let canvas = EvalInput.canvas(rgb: img.pixels, geometry: g)
                    let (winH, winW) = evalProtocol.windowSize(g)
                    let inputs = evalProtocol.windows(g).map { r in
                        (y: r.y, x: r.x, h: winH, w: winW, flipped: r.flipped,
                         data: EvalInput.window(canvas, canvasHeight: g.paddedHeight, canvasWidth: g.paddedWidth, channels: 3,
                                                y: r.y, x: r.x, h: winH, w: winW, flipped: r.flipped))
                    }
                    // All windows of an image have one size: run them through the backbone in batches.
                    var windows: [ValWindow] = []
                    for start in Swift.stride(from: 0, to: inputs.count, by: batch) {
                        let chunk = Array(inputs[start..<min(inputs.count, start + batch)])
                        let maps = forwardBatch(backbone, inputs: chunk.map(\.data), height: chunk[0].h, width: chunk[0].w, stages: stages)
                        for (w, m) in zip(chunk, maps) {
                            try checkFinite(m, stages: stages, image: samples[job.image].imagePath)
                            windows.append(ValWindow(y: w.y, x: w.x, height: w.h, width: w.w, flipped: w.flipped, features: m))
                        }
                    }
                    return ValSample(imageIndex: job.image, geometry: g, label: lab.pixels, windows: windows)
                }
            }
        }
    }

    func sink(manifest: CacheManifest) -> Sink {
        ShardWriterSink(directory: settings.out, manifest: manifest, stages: settings.stages, side: storedSide)
    }

    func summary(_ outcome: PipelineOutcome, seconds: Double) -> String {
        let images = outcome.finished.reduce(0) { $0 + $1.images }, windows = outcome.finished.reduce(0) { $0 + $1.samples }
        return outcome.wroteLine("\(images) images, \(windows) windows", images: images, seconds: seconds)
    }
}
