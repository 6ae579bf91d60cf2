import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegModels
import DinoSegEval
import DinoSegPipeline


/// `headtrain sweep`: every variant × FPN width on one cache, evaluated alike; results.md/csv and report.html.
package struct HeadTrainSweep: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Train and evaluate head variants and FPN widths on one cache; write results.md, results.csv, report.html.")

    @Option(help: "Train feature cache (from `extract train`).") var cache: String
    @Option(name: .customLong("val-cache"), help: "Val feature cache (from `extract val`).") var valCache: String
    @Option(name: .customLong("run"), help: "Sweep directory: one run directory per job, plus the tables and report.")
    var runDirectory: String
    @Option(help: "Comma-separated FPN widths, each at least 4 (variants without FPN run once).")
    var widths = CommaList<Int>([256, 512, 768, 1024, 2048])
    @Option(help: ArgumentHelp("Comma-separated variants: \(HeadVariant.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "variants"))
    var variants = CommaList<HeadVariant>([.head, .ppm, .fpn, .fpnPPM])
    @Option(name: .customLong("output-stride"), help: "FPN output stride: 8 (F1..F3) or 4 (F0..F3).") var outputStride: Int = 8
    /// The published settings are `headtrain train`'s defaults too (50 epochs, batch 32, lr 0.01, seed 0, all cores).
    @OptionGroup var training: TrainOptionGroup
    @Option(name: .customLong("eval-every"), help: "Evaluate every N epochs for the mIoU curve (0: only at the end).")
    var evalEvery: Int = 5
    @Option(help: "Example predictions shown in the report.") var examples: Int = 4
    @Option(name: .customLong("ranks-per-job"), help: "Under mpirun/srun: processes that train each job together, data-parallel (the number of processes must be a multiple of it; 1: one process per job).")
    var ranksPerJob: Int = 1
    @Option(name: .customLong("baseline"), help: ArgumentHelp("A `headtrain baseline` run evaluated on the val cache's images, shown as a row beside the DINOv3 heads (repeatable).", valueName: "run"))
    var baselines: [String] = []

    package init() {}

    package func validate() throws {
        try FlagBounds.check(widths.values, in: FlagBounds.fpnWidth, "--widths")
        // A job listed twice would train once and be shown as two rows.
        if let twice = variants.values.first(where: { v in variants.values.filter { $0 == v }.count > 1 }) {
            throw ValidationError("--variants lists \(twice.rawValue) more than once")
        }
        if let twice = widths.values.first(where: { w in widths.values.filter { $0 == w }.count > 1 }) {
            throw ValidationError("--widths lists \(twice) more than once")
        }
        guard outputStride == 4 || outputStride == 8 else { throw ValidationError("--output-stride must be 4 or 8") }
        try FlagBounds.check(evalEvery, in: FlagBounds.evalEvery, "--eval-every")
        try FlagBounds.check(examples, in: FlagBounds.examples, "--examples")
        // Bounded above by the divisibility check below (a divisor of the process count).
        try FlagBounds.check(ranksPerJob, in: 1...Int.max, "--ranks-per-job")
        // The launcher's process count is known before MPI starts (1 without a launcher).
        let processes = Distributed.launchedProcessCount
        guard processes % ranksPerJob == 0 else {
            throw ValidationError("--ranks-per-job \(ranksPerJob) does not divide the \(processes) processes started; start a multiple of \(ranksPerJob)")
        }
    }

    package func run() throws {
        // Under mpirun/srun the jobs are spread over the processes (see Sweep); rank 0 writes the tables and report.
        let world = try Distributed.world()
        try world.endingJobOnError { try sweep(world) }
    }

    func sweep(_ world: Communicator) throws {
        let source = try CacheTrainingSource(directory: cache)
        let (eval, manifest) = try ValCacheEval.settings(directory: valCache)
        try manifest.checkSameBackbone(asTrain: source.reader.manifest, path: valCache, trainPath: cache)
        try training.precision.activate()
        let train = try training.options()
        var settings = SweepSettings(jobs: SweepJob.plan(variants: variants.values, widths: widths.values),
                                     outputStride: outputStride, train: train, evalEvery: evalEvery, examples: examples,
                                     runDirectory: runDirectory, dataset: ValCacheEval.datasetKind(manifest),
                                     photoDirectory: ValCacheEval.photoDirectory(manifest))
        settings.baselines = baselines
        settings.valData = EvalData(valCache: manifest)
        settings.valCacheDigest = manifest.contentDigest
        let labels = Sweep.notes(settings, eval: eval, stepsPerEpoch: source.samplesPerEpoch / train.batch)
        if world.isRoot {
            print(labels.title)
            if let w = labels.warning { print(w) }
            let groups = world.size / ranksPerJob
            let spread = world.size == 1 ? "" : ranksPerJob == 1 ? "; \(world.size) processes, job i on rank i mod \(world.size)"
                : "; \(world.size) processes in \(groups) groups of \(ranksPerJob) consecutive ranks, job i trained data-parallel by group i mod \(groups)"
            print("\(settings.jobs.count) jobs: \(settings.jobs.map(\.name).joined(separator: ", ")); protocol: \(eval.evalProtocol)\(spread)")
        }
        StopSignal.install()
        let prefix = world.size > 1 ? "[rank \(world.rank)] " : ""
        try Sweep.run(settings, source: source, eval: eval, communicator: world, ranksPerJob: ranksPerJob) { print(prefix + $0); fflush(stdout) }
    }
}
