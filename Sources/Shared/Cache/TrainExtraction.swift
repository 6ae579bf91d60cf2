// `extract train`: K augmented views of every image through the frozen backbone, into view-grouped shards.
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone

package struct TrainExtractionOptions: ExtractionOptions {
    package var settings: ExtractionSettings
    package var views = 1
    package var seed: UInt64 = 0
    package var recipe = AugmentationRecipe()

    /// 256 samples per shard.
    package init(dataRoot: String, list: String, out: String) {
        settings = ExtractionSettings(dataRoot: dataRoot, list: list, out: out, shardSize: 256)
    }

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

extension TrainExtractionOptions: ExtractionKind {
    typealias Sink = ShardWriterSink<TrainShardWriter>

    var lookAhead: Int? { nil }
    func imagesPerCall(batch: Int) -> Int { batch }
    var probeSide: Int { recipe.crop }
    var probeUnit: String { "image" }

    func cacheConfig(backbone: FeatureBackbone, listFile: String, imageCount: Int) -> CacheConfig {
        CacheConfig(kind: .train, backbone: backboneInfo(backbone), mean: backbone.inputNormalization.mean,
                    std: backbone.inputNormalization.std, crop: recipe.crop, stages: settings.stages, dtype: settings.dtype,
                    augmentation: recipe.summary, seed: seed, views: views, dataRoot: absolutePath(settings.dataRoot), listFile: listFile,
                    imageCount: imageCount, shardSize: settings.shardSize, skipBad: settings.skipBad, batch: settings.batch)
    }

    func plans(imageCount: Int) -> [ShardPlan] { planTrainShards(imageCount: imageCount, views: views, shardSize: settings.shardSize) }

    /// Feature, label and index bytes of one sample.
    func sampleBytes(_ backbone: FeatureBackbone) -> Int {
        CacheDirectory.featureBytes(backbone.stageGeometry, stages: settings.stages, height: recipe.crop, width: recipe.crop,
                                    dtype: settings.dtype)
            + recipe.crop * recipe.crop + 8
    }

    func describe(_ p: ExtractionPlan) -> (lines: [String], neededBytes: Double) {
        let images = p.manifest.config.imageCount, bytes = sampleBytes(p.backbone)
        let needed = Double(p.pendingImages * bytes)
        return ([
            "extract train: \(images) images × \(views) views = \(images * views) samples in \(p.shards) shards "
                + "(\(settings.shardSize) per shard, grouped by view); \(p.pending.count) shards to do",
            p.backboneLine + "seed \(seed), \(settings.workers) workers, \(p.batch) images per backbone call" + p.rankNote,
            "  list: \(p.dataset.listSource)",
            "  augmentation: \(recipe.summary)",
            p.outputLine(settings.out, "about \(formatBytes(Double(bytes))) per sample, \(formatBytes(needed)) to write"),
        ], needed)
    }

    func workSeconds(probe: Double, pendingImages: Int) -> Double { Double(pendingImages) * probe }

    func process(samples: [SegmentationSample], description: DatasetDescription, backbone: FeatureBackbone, batch: Int) -> ExtractionPipeline<Sink>.Process {
        let (recipe, seed, stages, crop) = (recipe, seed, settings.stages, recipe.crop)
        return { jobs in
            // Decode and augment each image (failures stay per image), then one backbone call for the batch.
            let prepared: [Result<(input: [Float], label: [UInt8]), Error>] = jobs.map { job in
                Result {
                    let (img, lab) = try loadSample(samples[job.image], description)
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
    }

    func sink(manifest: CacheManifest) -> Sink {
        ShardWriterSink(directory: settings.out, manifest: manifest, stages: settings.stages, side: manifest.config.crop)
    }

    func summary(_ outcome: PipelineOutcome, seconds: Double) -> String {
        let written = outcome.finished.reduce(0) { $0 + $1.samples }
        return outcome.wroteLine("\(written) samples", images: written, seconds: seconds)
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
