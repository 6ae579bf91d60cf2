import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegModels
import DinoSegEval

// `headtrain sweep`: every requested head variant (and FPN width) trained on the same cache and evaluated with the same
// protocol, then results.md, results.csv and report.html in the sweep directory. Variants without an FPN ignore the
// widths and run once. A finished job (sweep-entry.json at the last step) is not retrained; an unfinished one resumes
// from its checkpoint, and its row (final loss, training time) is rebuilt from the run's own records.
// Under mpirun/srun the jobs are dealt out to groups of `--ranks-per-job` consecutive ranks (job i to group i mod G;
// a group of one is one process, a larger one trains its jobs data-parallel as `headtrain train` does under mpirun);
// rank 0 then reads every finished job from the sweep directory (shared by all) and writes the tables and the report.
// Baseline runs (BaselineRun) evaluated on the same val images are added as rows; a sweep whose jobs are all done
// just rewrites the tables, so baselines can be added to a finished sweep without retraining.

package struct SweepJob: Equatable {
    package var variant: HeadVariant
    package var width: Int?

    package var name: String { variant.runName(width: width) }

    /// Non-FPN variants once, FPN variants once per width, in the order given.
    package static func plan(variants: [HeadVariant], widths: [Int]) -> [SweepJob] {
        variants.flatMap { v in v.usesFPN ? widths.map { SweepJob(variant: v, width: $0) } : [SweepJob(variant: v, width: nil)] }
    }

    package func headConfig(stageChannels: [Int], outputStride: Int) -> HeadConfig {
        HeadConfig(stageChannels: stageChannels, fpnWidth: width ?? 1024, outputStride: outputStride, variant: variant)
    }
}

package struct SweepSettings {
    package var jobs: [SweepJob]
    package var outputStride: Int
    package var train: TrainOptions
    package var evalEvery: Int
    package var examples: Int
    package var runDirectory: String
    package var dataset: DatasetKind
    /// Where the val photos are (for the report's examples), when known.
    package var photoDirectory: String?
    /// Baseline run directories shown beside the DINOv3 rows (see BaselineRun); they need `valData`.
    package var baselines: [String] = []
    /// The images of the val cache (to check that a baseline was evaluated on them).
    package var valData: EvalData?
    /// The val cache's content digest (CacheManifest.contentDigest), recorded in every job's entry; nil: not checked.
    package var valCacheDigest: String?

    package init(jobs: [SweepJob], outputStride: Int, train: TrainOptions, evalEvery: Int, examples: Int,
                runDirectory: String, dataset: DatasetKind, photoDirectory: String?) {
        self.jobs = jobs; self.outputStride = outputStride; self.train = train; self.evalEvery = evalEvery
        self.examples = examples; self.runDirectory = runDirectory; self.dataset = dataset
        self.photoDirectory = photoDirectory
    }
}

package enum Sweep {
    /// Trains and evaluates every job, then writes the tables and the report. Returns the entries in job order.
    /// Several processes (`communicator`) form groups of `ranksPerJob` consecutive ranks; job i goes to group i mod G,
    /// whose ranks train it data-parallel (one group per process when `ranksPerJob` is 1).
    @discardableResult
    package static func run(_ s: SweepSettings, source: HeadTrainingSource, eval: EvalSettings,
                           communicator comm: Communicator = SingleProcess(), ranksPerJob: Int = 1,
                           output: @escaping (String) -> Void) throws -> [SweepEntry] {
        guard ranksPerJob >= 1, comm.size % ranksPerJob == 0 else {
            throw DinoSegError("\(comm.size) processes cannot be split into groups of --ranks-per-job \(ranksPerJob); start a multiple of \(ranksPerJob) processes")
        }
        // Baselines first: a run that cannot stand beside the DINOv3 rows is refused before any training.
        guard s.baselines.isEmpty || s.valData != nil else { throw DinoSegError("baseline rows need the val cache's image list") }
        let baselines = try s.baselines.map { try BaselineRun.load($0, valData: s.valData!) }
        try FileSystem.createDirectory(s.runDirectory, what: "run directory")
        // Rank 0 writes the tables and the report; each job's run directory is locked by whoever trains it.
        let lock = comm.isRoot ? try DirectoryLock(directory: s.runDirectory, what: "sweep directory") : nil
        defer { lock?.release() }
        let groups = comm.size / ranksPerJob, groupIndex = comm.rank / ranksPerJob
        // Every process takes part in the split (a collective); with one rank per job each process is its own group.
        let group = ranksPerJob == 1 ? SingleProcess() : try comm.split(color: groupIndex, key: comm.rank)
        let say: (String) -> Void = group.isRoot ? output : { _ in }
        var entries: [SweepEntry] = []
        var curves: [ReportCurves] = []
        let stepsPerEpoch = source.samplesPerEpoch / s.train.batch
        var stopped = false
        for (i, job) in s.jobs.enumerated() where i % groups == groupIndex {
            var config = job.headConfig(stageChannels: source.stageChannels, outputStride: s.outputStride)
            if let dataset = source.dataset { config.numClasses = dataset.classCount }   // the cache's dataset decides
            let dir = s.runDirectory + "/" + job.name
            say("== sweep \(i + 1)/\(s.jobs.count): \(job.variant.modelName(width: job.width)) (OS \(s.outputStride)) → \(dir)")
            // The group's rank 0 decides whether the job is done; the others follow it.
            let recorded = group.isRoot ? try finishedEntry(dir: dir, job: job, settings: s, stepsPerEpoch: stepsPerEpoch, source: source) : nil
            let done = try group.broadcast(FinishedJob(entry: recorded)).entry
            var entry: SweepEntry? = nil
            if let done {
                say("already trained and evaluated; \(done.result.summaryLine) (delete \(dir) to redo)")
                entry = done
            } else {
                switch try TrainAndEvaluate.run(head: config, options: s.train, source: source, runDirectory: dir, eval: eval,
                                                evalEvery: s.evalEvery, communicator: group, output: say) {
                case .stopped:
                    // With several processes the others still meet this one at the collective below.
                    if comm.size > 1 { stopped = true; break }
                    if !entries.isEmpty { try writeOutputs(s, entries: entries, curves: curves, baselines: baselines, eval: eval, examples: []) }
                    output("stopped; run the same command again to continue (finished jobs are kept, \(job.name) resumes from its checkpoint)")
                    return entries
                case .trainedWithOthers:
                    break
                case .finished(let trained):
                    var e = SweepEntry(variant: job.variant, width: job.width, outputStride: s.outputStride,
                                       epochs: s.train.epochs, runDirectory: dir, trainSeconds: trained.trainSeconds,
                                       finalLoss: trained.finalLoss, result: trained.result, precision: s.train.precision)
                    e.valCacheDigest = s.valCacheDigest
                    try AtomicWrite.write(JSONEncoder().encode(e), to: dir + "/sweep-entry.json")
                    entry = e
                }
            }
            if stopped { break }
            if let entry {
                entries.append(entry)
                curves.append(curvesOf(dir, stepsPerEpoch: stepsPerEpoch))
                say("\(entry.modelName): \(entry.result.summaryLine)  [\(entry.result.protocolLine)]")
            }
            if comm.size == 1 { try writeOutputs(s, entries: entries, curves: curves, baselines: baselines, eval: eval, examples: []) }
            // A stop seen by any rank of the group stops all of them here, before the next job's collectives.
            if try !group.allSucceeded(!StopSignal.isRequested) { stopped = true; break }
        }
        if comm.size > 1 {
            // Every process has finished (or stopped) its jobs; rank 0 gathers them all from the sweep directory.
            let anyStopped = try !comm.allSucceeded(!StopSignal.isRequested && !stopped)
            guard comm.isRoot else { return entries }
            entries = []; curves = []
            for job in s.jobs {
                let dir = s.runDirectory + "/" + job.name
                guard let done = try finishedEntry(dir: dir, job: job, settings: s, stepsPerEpoch: stepsPerEpoch, source: source) else { continue }
                entries.append(done)
                curves.append(curvesOf(dir, stepsPerEpoch: stepsPerEpoch))
            }
            if anyStopped {
                try writeOutputs(s, entries: entries, curves: curves, baselines: baselines, eval: eval, examples: [])
                StopSignal.set(true)
            }
        }
        if StopSignal.isRequested {
            output("stopped; run the same command again to continue (finished jobs are kept)")
            return entries
        }
        let best = bestIndex(entries)
        let examples = try best.map { try collectExamples(entries[$0], eval: eval, count: s.examples, photoDirectory: s.photoDirectory) } ?? []
        try writeOutputs(s, entries: entries, curves: curves, baselines: baselines, eval: eval, examples: examples)
        if let b = best {
            try AtomicWrite.write(Data((entries[b].runDirectory + "\n").utf8), to: s.runDirectory + "/best.txt")
            output("best: \(entries[b].modelName) \(entries[b].result.summaryLine) → \(entries[b].runDirectory)")
        }
        output("wrote \(s.runDirectory)/results.md, results.csv, report.html")
        return entries
    }

    /// A job's recorded entry (nil: not finished), as rank 0 of a group sends it to the others.
    struct FinishedJob: Codable { var entry: SweepEntry? }

    /// The loss and mIoU curves of a job's run directory.
    static func curvesOf(_ dir: String, stepsPerEpoch: Int) -> ReportCurves {
        let history = (try? JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/eval-history.json")))) ?? []
        return ReportCurves(loss: TrainAndEvaluate.lossCurve(runDirectory: dir, stepsPerEpoch: stepsPerEpoch, bucket: max(1, stepsPerEpoch / 8)),
                            mIoU: history.map { [Double($0.epoch), $0.mIoU] })
    }

    package static func bestIndex(_ entries: [SweepEntry]) -> Int? {
        entries.indices.max { entries[$0].result.metrics.mIoU < entries[$1].result.metrics.mIoU }
    }

    /// A job whose run directory already holds its final evaluation. A job trained or evaluated with other settings
    /// than the sweep's is refused rather than shown under the sweep's labels; the entry's run directory is where the
    /// job is now (a renamed sweep directory must not send the report to the old location, or to another sweep there).
    static func finishedEntry(dir: String, job: SweepJob, settings s: SweepSettings, stepsPerEpoch: Int,
                              source: HeadTrainingSource) throws -> SweepEntry? {
        guard let data = FileManager.default.contents(atPath: dir + "/sweep-entry.json"),
              var entry = try? JSONDecoder().decode(SweepEntry.self, from: data),
              entry.variant == job.variant, entry.width == job.width, entry.outputStride == s.outputStride,
              entry.epochs == s.train.epochs, entry.result.checkpointStep == s.train.epochs * stepsPerEpoch,
              (entry.precision ?? .fp32) == s.train.precision
        else { return nil }
        if let recorded = try RecordedTraining.read(run: dir) {
            let diffs = recorded.sweepDifferences(from: s.train, cache: source.name, features: source.features)
            guard diffs.isEmpty else {
                throw DinoSegError(file: dir, "was trained with other settings than this sweep asks for (\(diffs.joined(separator: "; "))); delete \(dir) to retrain it, or use another --run")
            }
        }
        if let recorded = entry.valCacheDigest, let asked = s.valCacheDigest, recorded != asked {
            throw DinoSegError(file: dir, "was evaluated on another val cache than this sweep's --val-cache; delete \(dir) to redo it, or use another --run")
        }
        entry.runDirectory = dir
        return entry
    }

    /// Predictions of the best head on the first `count` val images, with photos when they can be found.
    static func collectExamples(_ entry: SweepEntry, eval: EvalSettings, count: Int, photoDirectory: String?) throws -> [ReportExample] {
        guard count > 0 else { return [] }
        let (head, _) = try RunCheckpoints.loadHead(entry.runDirectory + "/" + TrainAndEvaluate.checkpointName,
                                                    threads: Parallel.defaultThreads)
        let next = try eval.open(head.requiredStages)
        var out: [ReportExample] = []
        while out.count < count, let f = try next() {
            let pred = try Evaluator.predict(head, features: f, evalProtocol: eval.evalProtocol)
            let g = f.geometry
            let photo = photoDirectory.flatMap { try? ImageIO.readRGB($0 + "/" + f.id + ".jpg") }
                .flatMap { $0.width == g.originalWidth && $0.height == g.originalHeight ? $0 : nil }
            out.append(ReportExample(id: f.id, photo: photo,
                                     label: LabelImage(width: g.originalWidth, height: g.originalHeight, pixels: f.labelPixels),
                                     prediction: LabelImage(width: g.originalWidth, height: g.originalHeight, pixels: pred)))
        }
        return out
    }

    /// The labels every output of the sweep carries.
    package static func notes(_ s: SweepSettings, eval: EvalSettings, stepsPerEpoch: Int?) -> (title: String, warning: String?, notes: [String]) {
        var warnings: [String] = []
        if let note = eval.backboneNote { warnings.append(note) }
        if s.dataset != .voc { warnings.append("\(s.dataset.rawValue.uppercased()) DATASET") }
        let title = "DinoSeg sweep" + (warnings.isEmpty ? "" : " — " + warnings.joined(separator: ", "))
        let warning = warnings.isEmpty ? nil
            : warnings.joined(separator: ", ") + ": these numbers test the pipeline and are not comparable with the published DINOv3 results."
        var notes = [
            "Dataset: \(s.dataset == .voc ? "PASCAL VOC 2012 (published numbers shown beside ours)" : s.dataset == .synthetic ? "synthetic (extract synth)" : eval.dataset.map { "\($0.name), \($0.classCount) classes" } ?? "custom")",
            "Training: \(s.train.epochs) epochs, batch \(s.train.batch), lr \(s.train.lr) poly \(s.train.power), momentum \(s.train.momentum), weight decay \(s.train.weightDecay), seed \(s.train.seed), precision \(s.train.precision); output stride \(s.outputStride)",
        ]
        if let n = stepsPerEpoch { notes.append("\(n) steps per epoch; evaluation every \(s.evalEvery == 0 ? "run (end only)" : "\(s.evalEvery) epoch(s)")") }
        return (title, warning, notes)
    }

    static func writeOutputs(_ s: SweepSettings, entries: [SweepEntry], curves: [ReportCurves], baselines: [BaselineRun],
                             eval: EvalSettings, examples: [ReportExample]) throws {
        if let dinov3 = entries.first?.result { for b in baselines { try b.checkSameLabels(as: dinov3) } }
        var (title, warning, notes) = Self.notes(s, eval: eval, stepsPerEpoch: nil)
        if s.dataset == .voc, let n = entries.first?.result.images, n != 1449 {
            notes.append("Evaluated on \(n) val images, not the full 1449 of VOC 2012 val: the published numbers are not directly comparable.")
        }
        notes += baselines.map { "Baseline \($0.note)" }
        let rows = entries.map(\.row) + baselines.map(\.row)
        let mdNotes = (warning.map { ["**\($0)**"] } ?? []) + notes
        try AtomicWrite.write(Data(ResultsTable.markdown(rows, title: title, isVOC: s.dataset == .voc, notes: mdNotes).utf8),
                              to: s.runDirectory + "/results.md")
        try AtomicWrite.write(Data(ResultsTable.csv(rows).utf8), to: s.runDirectory + "/results.csv")
        let html = try HTMLReport.render(title: title, notes: notes, warning: warning, rows: rows, curves: curves + baselines.map(\.curves),
                                         best: bestIndex(entries), examples: examples, isVOC: s.dataset == .voc)
        try AtomicWrite.write(Data(html.utf8), to: s.runDirectory + "/report.html")
    }
}
