// `extract val`: the evaluation protocol stored as features. Each image becomes the canvas of EvalInput (resized so its
// long side is `longSide`, padded to at least crop×crop with the mean colour, normalised); then every window of the
// EvalProtocol (224×224 at stride 150 when sliding, the whole canvas otherwise, each followed by its mirror with
// --flip) goes through the backbone. The original-resolution label is stored alongside.
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone

package struct ValExtractionOptions {
    package var dataRoot: String
    package var list: String
    package var out: String
    package var mode = EvalMode.slide
    package var flip = false
    package var longSide = 512
    package var crop = 224
    package var stride = 150
    package var stages = [0, 1, 2, 3]
    package var dtype = HDF5DType.f16
    /// Images per shard.
    package var shardSize = 64
    package var workers = Parallel.defaultThreads
    /// Windows per backbone call.
    package var batch = 4
    package var limit: Int? = nil
    package var skipBad = false
    package var stopAfterShards: Int? = nil
    package var quiet = false

    package init(dataRoot: String, list: String, out: String) { self.dataRoot = dataRoot; self.list = list; self.out = out }

    /// The evaluation protocol the windows are cut with (recorded in the manifest; eval and predict use the same).
    package var evalProtocol: EvalProtocol {
        EvalProtocol(mode: mode, flip: flip, crop: crop, stride: stride, longSide: longSide)
    }
}

struct ValSink: ShardSink {
    let directory: String
    let config: CacheConfig
    let shapes: [Int: (Int, Int, Int)]
    var writer: ValShardWriter? = nil

    mutating func begin(_ plan: ShardPlan) throws {
        writer = try ValShardWriter(directory: directory, config: config, index: plan.index, shapes: shapes)
    }
    mutating func append(_ result: ValSample) throws { try writer!.append(result) }
    mutating func finish() throws -> CacheShardEntry { defer { writer = nil }; return try writer!.finish() }
    mutating func abandon() { writer?.abandon(); writer = nil }
}

package enum ValExtraction {
    /// Runs (or resumes) the extraction; returns the manifest as saved. Several processes share the shards as in
    /// `TrainExtraction.run`.
    @discardableResult
    package static func run(_ o: ValExtractionOptions, backbone: FeatureBackbone, communicator: Communicator = SingleProcess(),
                           log: @escaping (String) -> Void = { print($0); fflush(stdout) }) throws -> CacheManifest {
        let ranks = ExtractionRanks(communicator)
        let log = ranks.isRoot ? log : { _ in }
        let (dataset, samples) = try ExtractionSetup.selectSamples(root: o.dataRoot, list: o.list, limit: o.limit,
                                                                   skipBad: o.skipBad, stages: o.stages, dtype: o.dtype, backbone: backbone)
        var config = CacheConfig(kind: .val, backbone: backboneInfo(backbone), mean: backbone.inputNormalization.mean,
                                 std: backbone.inputNormalization.std, crop: o.crop, stages: o.stages, dtype: o.dtype,
                                 augmentation: "none", seed: 0, views: 1, dataRoot: absolutePath(o.dataRoot),
                                 listFile: absolutePath(dataset.listPath), imageCount: samples.count,
                                 shardSize: o.shardSize, skipBad: o.skipBad, batch: o.batch)
        config.evalProtocol = o.evalProtocol
        config.precision = activePrecision
        let perShard = o.shardSize
        let plans = stride(from: 0, to: samples.count, by: perShard).enumerated().map { i, s in
            ShardPlan(index: i, view: 0, images: Array(s..<min(samples.count, s + perShard)))
        }
        var (manifest, pending, lock) = try ExtractionSetup.openCache(directory: o.out, config: config, samples: samples,
                                                                      plans: plans, ranks: ranks, log: log)
        defer { lock?.release() }
        let batch = manifest.config.batch ?? o.batch   // a resume keeps the recorded grouping
        let pendingImages = pending.reduce(0) { $0 + $1.images.count }
        let myImages = ranks.deal(pending).reduce(0) { $0 + $1.images.count }

        // Storage shape of the window datasets; whole-mode canvases are at most max(longSide, crop) on each side.
        let side = o.mode == .slide ? o.crop : max(o.longSide, o.crop)
        var shapes: [Int: (Int, Int, Int)] = [:]
        for k in o.stages { shapes[k] = (manifest.stageSide(k, pixels: side), manifest.stageSide(k, pixels: side), manifest.channels(stage: k)) }
        // Typical VOC image 500×375 → 512×384 canvas: 6 windows when sliding.
        let typical = EvalGeometry(height: 375, width: 500, longSide: o.longSide, crop: o.crop)
        let windowsPerImage = o.evalProtocol.windows(typical).count
        let windowBytes = CacheDirectory.featureBytes(backbone.stageGeometry, stages: o.stages, height: side,
                                                      width: side, dtype: o.dtype) + 20
        let needed = Double(pendingImages) * Double(windowsPerImage * windowBytes + 500 * 375)
        log("extract val: \(samples.count) images in \(plans.count) shards (\(perShard) images per shard); \(pending.count) shards to do")
        log("  list: \(dataset.listSource)")
        log("  protocol: \(o.evalProtocol)")
        log("  backbone \(backbone.name) (weights \(backbone.weightsSHA256.prefix(12))…), stages \(o.stages), \(o.dtype), \(o.workers) workers, "
            + "\(batch) windows per backbone call" + ranks.planNote)
        log("  output \(o.out): about \(formatBytes(needed)) to write (estimated for \(windowsPerImage) windows per 500x375 image)"
            + (CacheDirectory.freeBytes(o.out).map { ", \(formatBytes($0)) free" } ?? ""))
        if ranks.isRoot {
            try CacheDirectory.checkDisk(o.out, needed: needed)
            try manifest.save(directory: o.out)
        }
        if pending.isEmpty { log("nothing to do: all \(plans.count) shards are present and verified"); return manifest }

        if ranks.isRoot {
            // One image per worker with a single-threaded BLAS, as the extraction itself runs.
            let probe = withBLASThreads(1) { CacheDirectory.probeSecondsPerImage(backbone, stages: o.stages, crop: o.crop) }
            let cropArea = Double(o.crop * o.crop)
            let windowCost = o.mode == .slide ? probe : probe * Double(typical.paddedHeight * typical.paddedWidth) / cropArea
            let estimate = Double(pendingImages * windowsPerImage) * windowCost / ranks.parallelism(workers: o.workers)
            log(String(format: "  estimated time %@ (probe: %.2f s per 224x224 window per worker)", formatDuration(estimate), probe))
        }

        let progress = ProgressLine(total: myImages, label: "images", prefix: ranks.prefix, quiet: o.quiet)
        let (evalProtocol, stages) = (o.evalProtocol, o.stages)
        // A val result holds all windows of an image (tens of MB as Float): keep few in flight.
        let pipeline = ExtractionPipeline<ValSink>(pending: pending, ranks: ranks, imageIDs: samples.map(\.id), workers: o.workers,
                                                   lookAhead: 2 * o.workers, skipBad: o.skipBad, stopAfterShards: o.stopAfterShards,
                                                   progress: progress) { jobs in
            jobs.map { job in
                Result {
                    let (img, lab) = try loadSample(samples[job.image])
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
                    for start in stride(from: 0, to: inputs.count, by: batch) {
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
        var sink = ValSink(directory: o.out, config: manifest.config, shapes: shapes)
        let (outcome, elapsed) = try withBLASThreads(1) { try pipeline.runRecording(sink: &sink, manifest: &manifest, directory: o.out) }
        let images = outcome.finished.reduce(0) { $0 + $1.images }, windows = outcome.finished.reduce(0) { $0 + $1.samples }
        log(String(format: "wrote %d shards (%d images, %d windows) in %@, %.2f images/s", outcome.finished.count, images, windows,
                   formatDuration(elapsed), Double(images + outcome.skippedCount) / max(elapsed, 1e-9)))
        ExtractionPipeline<ValSink>.reportEnd(outcome, manifest: manifest, log: log)
        return manifest
    }
}
