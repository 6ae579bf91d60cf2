// The one driver of `extract train` and `extract val`: pick the images, open (or resume) the cache, print the plan,
// check the disk, estimate the time, then run the ExtractionPipeline into the kind's shard sink and report. What
// differs between the two lives in their `ExtractionKind` (TrainExtraction.swift, ValExtraction.swift).
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone

/// What a kind of cache adds to the driver, beside the settings every extraction has (ExtractionSettings).
protocol ExtractionKind: ExtractionOptions {
    associatedtype Sink: ShardSink
    /// Results that may wait for the writer; nil: the pipeline's default.
    var lookAhead: Int? { get }
    /// Images one `process` call receives, given the backbone batch.
    func imagesPerCall(batch: Int) -> Int
    /// The side of the square input the time probe runs, and how its log line names one probe.
    var probeSide: Int { get }
    var probeUnit: String { get }

    /// The cache's configuration for these images.
    func cacheConfig(backbone: FeatureBackbone, listFile: String, imageCount: Int) -> CacheConfig
    func plans(imageCount: Int) -> [ShardPlan]
    /// The plan's log lines and the bytes the pending shards will take.
    func describe(_ plan: ExtractionPlan) -> (lines: [String], neededBytes: Double)
    /// Seconds on one worker for the pending images, from one probe's seconds.
    func workSeconds(probe: Double, pendingImages: Int) -> Double
    /// Turns a few consecutive jobs into results (runs on the worker threads).
    func process(samples: [SegmentationSample], description: DatasetDescription, backbone: FeatureBackbone, batch: Int) -> ExtractionPipeline<Sink>.Process
    func sink(manifest: CacheManifest) -> Sink
    /// The closing line: what was written, how long it took.
    func summary(_ outcome: PipelineOutcome, seconds: Double) -> String
}

/// What the driver knows once the cache is open, for the kind's plan lines.
struct ExtractionPlan {
    let manifest: CacheManifest
    let backbone: FeatureBackbone
    let dataset: SegmentationDataset
    let shards: Int
    let pending: [ShardPlan]
    let batch: Int
    let rankNote: String
    var pendingImages: Int { pending.reduce(0) { $0 + $1.images.count } }
    /// "  backbone NAME (weights abc…), stages [..], f16, ", the start of both kinds' backbone line.
    var backboneLine: String {
        "  backbone \(backbone.name) (weights \(backbone.weightsSHA256.prefix(12))…), stages \(manifest.stages), \(manifest.config.dtype), "
    }
    /// "  output DIR: about X to write, Y free".
    func outputLine(_ out: String, _ text: String) -> String {
        "  output \(out): " + text + (CacheDirectory.freeBytes(out).map { ", \(formatBytes($0)) free" } ?? "")
    }
}

enum ExtractionDriver {
    /// Runs (or resumes) the extraction; returns the manifest as saved. Under mpirun/srun (`communicator` with
    /// several processes) every process extracts its share of the shards and returns rank 0's manifest; only rank 0
    /// logs the plan and the summary (ExtractionRanks).
    static func run<Kind: ExtractionKind>(_ kind: Kind, backbone: FeatureBackbone, communicator: Communicator,
                                         log: @escaping (String) -> Void) throws -> CacheManifest {
        let ranks = ExtractionRanks(communicator)
        let log = ranks.isRoot ? log : { _ in }
        let (dataset, samples) = try ExtractionSetup.selectSamples(root: kind.dataRoot, list: kind.list, layout: kind.layout,
                                                                   layoutOptions: kind.layoutOptions, limit: kind.limit,
                                                                   skipBad: kind.skipBad, stages: kind.stages, dtype: kind.dtype,
                                                                   backbone: backbone)
        var config = kind.cacheConfig(backbone: backbone, listFile: dataset.listIsFile ? absolutePath(dataset.listPath) : dataset.listPath,
                                      imageCount: samples.count)
        config.precision = activePrecision
        config.dataset = dataset.description == .voc ? nil : dataset.description   // manifests before descriptions were VOC
        let plans = kind.plans(imageCount: samples.count)
        var (manifest, pending, lock) = try ExtractionSetup.openCache(directory: kind.out, config: config, samples: samples,
                                                                      plans: plans, ranks: ranks, log: log)
        defer { lock?.release() }
        let batch = manifest.config.batch ?? kind.batch   // a resume keeps the recorded grouping
        let plan = ExtractionPlan(manifest: manifest, backbone: backbone, dataset: dataset, shards: plans.count, pending: pending,
                                  batch: batch, rankNote: ranks.planNote)
        let (lines, needed) = kind.describe(plan)
        lines.forEach(log)
        if ranks.isRoot {
            try CacheDirectory.checkDisk(kind.out, needed: needed)
            try manifest.save(directory: kind.out)
        }
        if pending.isEmpty { log("nothing to do: all \(plans.count) shards are present and verified"); return manifest }
        if ranks.isRoot { log(estimateLine(kind, backbone: backbone, pendingImages: plan.pendingImages, ranks: ranks)) }

        let mine = ranks.deal(pending).reduce(0) { $0 + $1.images.count }
        let progress = ProgressLine(total: mine, label: "images", prefix: ranks.prefix, quiet: kind.quiet)
        let pipeline = ExtractionPipeline<Kind.Sink>(pending: pending, ranks: ranks, imageIDs: samples.map(\.id), workers: kind.workers,
                                                     batch: kind.imagesPerCall(batch: batch), lookAhead: kind.lookAhead,
                                                     skipBad: kind.skipBad, stopAfterShards: kind.stopAfterShards, progress: progress,
                                                     process: kind.process(samples: samples, description: dataset.description,
                                                                           backbone: backbone, batch: batch))
        var sink = kind.sink(manifest: manifest)
        let (outcome, elapsed) = try withBLASThreads(1) { try pipeline.runRecording(sink: &sink, manifest: &manifest, directory: kind.out) }
        log(kind.summary(outcome, seconds: elapsed))
        ExtractionPipeline<Kind.Sink>.reportEnd(outcome, manifest: manifest, log: log)
        return manifest
    }

    /// The time estimate from one probe input per worker with a single-threaded BLAS, as the extraction itself runs.
    static func estimateLine<Kind: ExtractionKind>(_ kind: Kind, backbone: FeatureBackbone, pendingImages: Int,
                                                   ranks: ExtractionRanks) -> String {
        let probe = withBLASThreads(1) { CacheDirectory.probeSecondsPerImage(backbone, stages: kind.stages, crop: kind.probeSide) }
        let estimate = kind.workSeconds(probe: probe, pendingImages: pendingImages) / ranks.parallelism(workers: kind.workers)
        return String(format: "  estimated time %@ (probe: %.2f s per %@ per worker)", formatDuration(estimate), probe, kind.probeUnit)
    }
}

// The package entry points, one per kind: ExtractionKind and the pipeline types its requirements name stay internal.

package enum TrainExtraction {
    /// Runs (or resumes) the extraction (ExtractionDriver); returns the manifest as saved.
    @discardableResult
    package static func run(_ o: TrainExtractionOptions, backbone: FeatureBackbone, communicator: Communicator = SingleProcess(),
                           log: @escaping (String) -> Void = printFlushed) throws -> CacheManifest {
        try ExtractionDriver.run(o, backbone: backbone, communicator: communicator, log: log)
    }
}

package enum ValExtraction {
    /// Runs (or resumes) the extraction (ExtractionDriver); returns the manifest as saved.
    @discardableResult
    package static func run(_ o: ValExtractionOptions, backbone: FeatureBackbone, communicator: Communicator = SingleProcess(),
                           log: @escaping (String) -> Void = printFlushed) throws -> CacheManifest {
        try ExtractionDriver.run(o, backbone: backbone, communicator: communicator, log: log)
    }
}
