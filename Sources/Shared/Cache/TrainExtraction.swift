// `extract train`: K augmented views of every image through the frozen backbone, into view-grouped shards.
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone

package struct TrainExtractionOptions {
    package var dataRoot: String
    package var list: String
    package var out: String
    package var views = 1
    package var stages = [0, 1, 2, 3]
    package var dtype = HDF5DType.f16
    package var shardSize = 256
    package var workers = Parallel.defaultThreads
    /// Images per backbone call in each worker.
    package var batch = 4
    package var seed: UInt64 = 0
    package var limit: Int? = nil
    package var skipBad = false
    /// Test hook (and hidden CLI option): stop as if interrupted after this many shards of this run.
    package var stopAfterShards: Int? = nil
    package var quiet = false
    package var recipe = AugmentationRecipe()

    package init(dataRoot: String, list: String, out: String) { self.dataRoot = dataRoot; self.list = list; self.out = out }

    /// Each view is one more backbone pass over the whole list; beyond this, a typo rather than a plan.
    package static let maxViews = 1000
}

/// Train shards: view v holds shards v·S ..< (v+1)·S, each with `shardSize` consecutive images (the last fewer).
package func planTrainShards(imageCount: Int, views: Int, shardSize: Int) -> [ShardPlan] {
    let perView = (imageCount + shardSize - 1) / shardSize
    var plans: [ShardPlan] = []
    for v in 0..<views {
        for s in 0..<perView {
            plans.append(ShardPlan(index: v * perView + s, view: v,
                                   images: Array((s * shardSize)..<min(imageCount, (s + 1) * shardSize))))
        }
    }
    return plans
}

struct TrainSink: ShardSink {
    let directory: String
    let config: CacheConfig
    let shapes: [Int: (Int, Int, Int)]
    var writer: TrainShardWriter? = nil

    mutating func begin(_ plan: ShardPlan) throws {
        writer = try TrainShardWriter(directory: directory, config: config, index: plan.index, view: plan.view, shapes: shapes)
    }
    mutating func append(_ result: TrainSample) throws { try writer!.append(result) }
    mutating func finish() throws -> CacheShardEntry { defer { writer = nil }; return try writer!.finish() }
    mutating func abandon() { writer?.abandon(); writer = nil }
}

package enum TrainExtraction {
    /// Runs (or resumes) the extraction; returns the manifest as saved. Under mpirun/srun (`communicator` with
    /// several processes) every process extracts its share of the shards and returns rank 0's manifest; only rank 0
    /// logs the plan and the summary (ExtractionRanks).
    @discardableResult
    package static func run(_ o: TrainExtractionOptions, backbone: FeatureBackbone, communicator: Communicator = SingleProcess(),
                           log: @escaping (String) -> Void = { print($0); fflush(stdout) }) throws -> CacheManifest {
        let ranks = ExtractionRanks(communicator)
        let log = ranks.isRoot ? log : { _ in }
        let (dataset, samples) = try ExtractionSetup.selectSamples(root: o.dataRoot, list: o.list, limit: o.limit,
                                                                   skipBad: o.skipBad, stages: o.stages, dtype: o.dtype, backbone: backbone)
        var config = CacheConfig(kind: .train, backbone: backboneInfo(backbone), mean: backbone.inputNormalization.mean,
                                 std: backbone.inputNormalization.std, crop: o.recipe.crop, stages: o.stages,
                                 dtype: o.dtype, augmentation: o.recipe.summary, seed: o.seed, views: o.views,
                                 dataRoot: absolutePath(o.dataRoot), listFile: absolutePath(dataset.listPath),
                                 imageCount: samples.count, shardSize: o.shardSize, skipBad: o.skipBad, batch: o.batch)
        config.precision = activePrecision
        let plans = planTrainShards(imageCount: samples.count, views: o.views, shardSize: o.shardSize)
        var (manifest, pending, lock) = try ExtractionSetup.openCache(directory: o.out, config: config, samples: samples,
                                                                      plans: plans, ranks: ranks, log: log)
        defer { lock?.release() }
        let batch = manifest.config.batch ?? o.batch   // a resume keeps the recorded grouping

        // The plan.
        let crop = o.recipe.crop
        let sampleBytes = CacheDirectory.featureBytes(backbone.stageGeometry, stages: o.stages, height: crop,
                                                      width: crop, dtype: o.dtype) + crop * crop + 8
        let pendingSamples = pending.reduce(0) { $0 + $1.images.count }
        let mySamples = ranks.deal(pending).reduce(0) { $0 + $1.images.count }
        let needed = Double(pendingSamples * sampleBytes)
        log("extract train: \(samples.count) images × \(o.views) views = \(samples.count * o.views) samples in \(plans.count) shards "
            + "(\(o.shardSize) per shard, grouped by view); \(pending.count) shards to do")
        log("  backbone \(backbone.name) (weights \(backbone.weightsSHA256.prefix(12))…), stages \(o.stages), \(o.dtype), seed \(o.seed), "
            + "\(o.workers) workers, \(batch) images per backbone call" + ranks.planNote)
        log("  list: \(dataset.listSource)")
        log("  augmentation: \(o.recipe.summary)")
        log("  output \(o.out): about \(formatBytes(Double(sampleBytes))) per sample, \(formatBytes(needed)) to write"
            + (CacheDirectory.freeBytes(o.out).map { ", \(formatBytes($0)) free" } ?? ""))
        if ranks.isRoot {
            try CacheDirectory.checkDisk(o.out, needed: needed)
            try manifest.save(directory: o.out)
        }
        if pending.isEmpty { log("nothing to do: all \(plans.count) shards are present and verified"); return manifest }

        if ranks.isRoot {
            // One image per worker with a single-threaded BLAS, as the extraction itself runs.
            let secondsPerImage = withBLASThreads(1) { CacheDirectory.probeSecondsPerImage(backbone, stages: o.stages, crop: crop) }
            let estimate = Double(pendingSamples) * secondsPerImage / ranks.parallelism(workers: o.workers)
            log(String(format: "  estimated time %@ (probe: %.2f s per image per worker)", formatDuration(estimate), secondsPerImage))
        }

        let progress = ProgressLine(total: mySamples, label: "images", prefix: ranks.prefix, quiet: o.quiet)
        let recipe = o.recipe, seed = o.seed, stages = o.stages
        let pipeline = ExtractionPipeline<TrainSink>(pending: pending, ranks: ranks, imageIDs: samples.map(\.id), workers: o.workers,
                                                     batch: batch, skipBad: o.skipBad, stopAfterShards: o.stopAfterShards,
                                                     progress: progress) { jobs in
            // Decode and augment each image (failures stay per image), then one backbone call for the batch.
            let prepared: [Result<(input: [Float], label: [UInt8]), Error>] = jobs.map { job in
                Result {
                    let (img, lab) = try loadSample(samples[job.image])
                    var rng = augmentationRNG(seed: seed, imageIndex: job.image, view: job.view)
                    let (cropped, label, _) = augmentCrop(img, lab, recipe: recipe, rng: &rng)
                    return (normalise(cropped), label.pixels)
                }
            }
            let inputs = prepared.compactMap { try? $0.get().input }
            var maps = forwardBatch(backbone, inputs: inputs, height: crop, width: crop, stages: stages).makeIterator()
            return zip(jobs, prepared).map { job, p in
                p.flatMap { prepared in
                    let features = maps.next()!
                    return Result {
                        try checkFinite(features, stages: stages, image: samples[job.image].imagePath)
                        return TrainSample(imageIndex: job.image, view: job.view, features: features, label: prepared.label)
                    }
                }
            }
        }
        var shapes: [Int: (Int, Int, Int)] = [:]
        for k in o.stages { shapes[k] = (manifest.trainStageSize(stage: k), manifest.trainStageSize(stage: k), manifest.channels(stage: k)) }
        var sink = TrainSink(directory: o.out, config: manifest.config, shapes: shapes)

        let (outcome, elapsed) = try withBLASThreads(1) { try pipeline.runRecording(sink: &sink, manifest: &manifest, directory: o.out) }
        let written = outcome.finished.reduce(0) { $0 + $1.samples }
        log(String(format: "wrote %d shards (%d samples) in %@, %.2f images/s", outcome.finished.count, written,
                   formatDuration(elapsed), Double(written + outcome.skippedCount) / max(elapsed, 1e-9)))
        ExtractionPipeline<TrainSink>.reportEnd(outcome, manifest: manifest, log: log)
        return manifest
    }
}

/// One backbone call for several same-sized inputs (ConvNeXt's batched forward reuses each weight load for all images).
func forwardBatch(_ backbone: FeatureBackbone, inputs: [[Float]], height: Int, width: Int, stages: [Int]) -> [[FeatureMap]] {
    if inputs.isEmpty { return [] }
    guard inputs.count > 1 else {
        return inputs.map { x in x.withUnsafeBufferPointer { backbone.forward(image: $0.baseAddress!, height: height, width: width, stages: stages) } }
    }
    let pointers = inputs.map { x -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: x.count)
        p.initialize(from: x, count: x.count)
        return p
    }
    defer { pointers.forEach { $0.deallocate() } }
    return backbone.forward(images: pointers.map { UnsafePointer($0) }, height: height, width: width, stages: stages)
}

extension SegmentationDataset {
    init(copying d: SegmentationDataset, samples: [SegmentationSample]) {
        self = d
        self.samples = samples
    }
}
