import ArgumentParser
import Foundation

extension SweepVariant: ExpressibleByArgument {}

/// `headtrain sweep`: every variant × FPN width on one cache, evaluated alike; results.md/csv and report.html.
public struct HeadTrainSweep: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Train and evaluate head variants and FPN widths on one cache; write results.md, results.csv, report.html.")

    @Option(help: "Train feature cache (from `extract train`).") var cache: String
    @Option(name: .customLong("val-cache"), help: "Val feature cache (from `extract val`).") var valCache: String
    @Option(name: .customLong("run"), help: "Sweep directory: one run directory per job, plus the tables and report.")
    var runDirectory: String
    @Option(help: "Comma-separated FPN widths (variants without FPN run once).") var widths: String = "256,512,768,1024,2048"
    @Option(help: "Comma-separated variants: head, ppm, fpn, fpn-ppm.") var variants: String = "head,ppm,fpn,fpn-ppm"
    @Option(name: .customLong("output-stride"), help: "FPN output stride: 8 (F1..F3) or 4 (F0..F3).") var outputStride: Int = 8
    @Option(help: "Epochs per job.") var epochs: Int = 50
    @Option(help: "Batch size.") var batch: Int = 32
    @Option(help: "Base learning rate (poly 0.9).") var lr: Double = 0.01
    @Option(help: "Seed for every job.") var seed: UInt64 = 0
    @Option(help: "Threads.") var threads: Int = Parallel.defaultThreads
    @Option(name: .customLong("eval-every"), help: "Evaluate every N epochs for the mIoU curve (0: only at the end).")
    var evalEvery: Int = 5
    @Option(help: "Example predictions shown in the report.") var examples: Int = 4

    public init() {}

    static func parseList<T>(_ s: String, _ name: String, _ f: (String) -> T?) throws -> [T] {
        let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let values = parts.compactMap(f)
        guard !parts.isEmpty, values.count == parts.count else { throw ValidationError("cannot read --\(name) '\(s)'") }
        return values
    }

    var variantList: [SweepVariant] { get throws { try Self.parseList(variants, "variants") { SweepVariant(rawValue: $0) } } }
    var widthList: [Int] { get throws { try Self.parseList(widths, "widths") { Int($0).flatMap { $0 >= 4 ? $0 : nil } } } }

    public func validate() throws {
        _ = try variantList
        _ = try widthList
        guard outputStride == 4 || outputStride == 8 else { throw ValidationError("--output-stride must be 4 or 8") }
        guard epochs >= 1, batch >= 2, threads >= 1, evalEvery >= 0, examples >= 0, lr > 0 else {
            throw ValidationError("need --epochs ≥ 1, --batch ≥ 2, --threads ≥ 1, --eval-every ≥ 0, --examples ≥ 0, --lr > 0")
        }
    }

    public func run() throws {
        // Under mpirun/srun the jobs are spread over the processes (see Sweep); rank 0 writes the tables and report.
        let world = try Distributed.world()
        try world.endingJobOnError { try sweep(world) }
    }

    func sweep(_ world: Communicator) throws {
        let source = try CacheTrainingSource(directory: cache)
        let (eval, manifest) = try ValCacheEval.settings(directory: valCache)
        guard manifest.config.backbone.weightsSHA256 == source.reader.manifest.config.backbone.weightsSHA256 else {
            throw DinoSegError(file: valCache, "was extracted with other backbone weights than \(cache) (SHA-256 differs)")
        }
        var train = TrainOptions()
        train.epochs = epochs; train.batch = batch; train.lr = lr; train.seed = seed; train.threads = threads
        let settings = SweepSettings(jobs: SweepJob.plan(variants: try variantList, widths: try widthList),
                                     outputStride: outputStride, train: train, evalEvery: evalEvery, examples: examples,
                                     runDirectory: runDirectory, dataset: ValCacheEval.datasetKind(manifest),
                                     photoDirectory: ValCacheEval.photoDirectory(manifest))
        let labels = Sweep.notes(settings, eval: eval, stepsPerEpoch: source.samplesPerEpoch / batch)
        if world.isRoot {
            print(labels.title)
            if let w = labels.warning { print(w) }
            print("\(settings.jobs.count) jobs: \(settings.jobs.map(\.name).joined(separator: ", ")); protocol: \(eval.evalProtocol)\(world.size > 1 ? "; \(world.size) processes, job i on rank i mod \(world.size)" : "")")
        }
        StopSignal.install()
        let prefix = world.size > 1 ? "[rank \(world.rank)] " : ""
        try Sweep.run(settings, source: source, eval: eval, communicator: world) { print(prefix + $0); fflush(stdout) }
    }
}
