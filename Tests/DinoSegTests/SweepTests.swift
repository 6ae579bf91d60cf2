import XCTest
@testable import DinoSegNN
@testable import DinoSegData
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline
@testable import DinoSegCLI

/// Val "images" made from an in-memory training source: each sample is one 64×64 image evaluated whole (one window).
struct SampleAsValImage: EvalFeatures {
    var id: String
    var geometry: EvalGeometry
    var labelPixels: [UInt8]
    var evalWindows: [EvalWindow] = [EvalWindow(y: 0, x: 0, flipped: false)]
    var stageFeatures: [Int: [Float]]
    var stageShapesPerWindow: [Int: (h: Int, w: Int, c: Int)]
}

final class SweepTests: XCTestCase {
    func testPlanRunsNonFPNVariantsOnce() {
        let jobs = SweepJob.plan(variants: [.head, .fpnPPM, .ppm, .fpn], widths: [256, 512])
        XCTAssertEqual(jobs.map(\.name), ["head", "fpn256-ppm", "fpn512-ppm", "ppm", "fpn256", "fpn512"])
        XCTAssertEqual(DatasetKind.detect(imageIDs: ["2007_000033", "2011_003271"]), .voc)
        XCTAssertEqual(DatasetKind.detect(imageIDs: ["synth_val_00000"]), .synthetic)
        XCTAssertEqual(DatasetKind.detect(imageIDs: ["cat"]), .custom)
    }

    /// The sweep's flags: comma lists parsed once into typed values, the training flags of `headtrain train`.
    func testSweepFlagsParseTypedListsAndTheTrainingGroup() throws {
        let base = ["--cache", "c", "--val-cache", "v", "--run", "r"]
        let s = try HeadTrainSweep.parse(base + ["--variants", "head, fpn-ppm", "--widths", "16,32", "--epochs", "3", "--batch", "4",
                                                 "--lr", "0.02", "--seed", "7", "--threads", "1", "--momentum", "0.8"])
        XCTAssertEqual(s.variants.values, [.head, .fpnPPM])
        XCTAssertEqual(s.widths.values, [16, 32])
        var want = TrainOptions()
        want.epochs = 3; want.batch = 4; want.lr = 0.02; want.seed = 7; want.threads = 1; want.momentum = 0.8
        XCTAssertEqual(try s.training.options(), want)
        let defaults = try HeadTrainSweep.parse(base)
        XCTAssertEqual(defaults.variants.values, [.head, .ppm, .fpn, .fpnPPM])
        XCTAssertEqual(defaults.widths.values, [256, 512, 768, 1024, 2048])
        XCTAssertEqual(try defaults.training.options(), TrainOptions(), "the sweep's defaults are the published ones")
        for bad in [["--variants", "head,fpn2"], ["--variants", "head,,fpn"], ["--widths", "16,x"], ["--widths", "2"], ["--batch", "1"]] {
            XCTAssertThrowsError(try HeadTrainSweep.parse(base + bad), "\(bad) should be refused")
        }
    }

    func testSweepTrainsEvaluatesWritesReportAndSkipsFinishedJobs() throws {
        let seed: UInt64 = 5
        let source = HeadTrainingTests.syntheticSource(images: 16, seed: seed)
        let eval = HeadTrainingTests.wholeImageEval(source, count: 6, backboneNote: "FAKE BACKBONE")
        let dir = try tempDir("sweep") + "/sweep"
        var train = TrainOptions()
        train.epochs = 2; train.batch = 8; train.threads = 2; train.seed = seed
        let settings = SweepSettings(jobs: SweepJob.plan(variants: [.head, .fpn], widths: [16]), outputStride: 8,
                                     train: train, evalEvery: 1, examples: 2, runDirectory: dir, dataset: .synthetic,
                                     photoDirectory: nil)
        var lines: [String] = []
        let entries = try Sweep.run(settings, source: source, eval: eval) { lines.append($0) }
        XCTAssertEqual(entries.map(\.modelName), ["DINOv3 + head", "DINOv3 + FPN(16) + head"])
        for e in entries {
            XCTAssertEqual(e.result.checkpointStep, 4, "seed \(seed)")  // 2 epochs × 16/8 steps
            XCTAssertEqual(e.result.images, 6)
            let history = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: e.runDirectory + "/eval-history.json")))
            XCTAssertEqual(history.map(\.epoch), [1, 2], "seed \(seed)")
            XCTAssertEqual(history.last!.mIoU, e.result.metrics.mIoU, accuracy: 1e-12)
            XCTAssertTrue(FileManager.default.fileExists(atPath: e.runDirectory + "/metrics.json"))
            XCTAssertTrue(FileManager.default.fileExists(atPath: e.runDirectory + "/confusion.csv"))
        }
        // Each job as a plain `headtrain train` (no evaluation during training) then `headtrain eval` of its
        // checkpoint: the same confusion matrix, exactly (same cache, seed and threads; evaluating during training
        // leaves the weights, BN statistics and random streams alone).
        for (job, e) in zip(settings.jobs, entries) {
            let plain = dir + "-plain/" + job.name
            let trainer = HeadTrainer(head: job.headConfig(stageChannels: source.stageChannels, outputStride: 8), options: train,
                                      source: source, runDirectory: plain, resume: false, output: { _ in })
            _ = try trainer.run()
            let (head, step) = try RunCheckpoints.loadHead(plain + "/last.safetensors", threads: train.threads)
            let evaluated = try eval.evaluate(head, step: step, checkpoint: plain + "/last.safetensors")
            XCTAssertEqual(evaluated.checkpointStep, 4)
            XCTAssertEqual(evaluated.confusion, e.result.confusion, "seed \(seed): \(job.name) in the sweep vs train + eval")
            XCTAssertEqual(evaluated.metrics.mIoU, e.result.metrics.mIoU, "seed \(seed): \(job.name) mIoU")
        }
        try? FileManager.default.removeItem(atPath: dir + "-plain")
        // results.csv: one row per job with the job's own numbers (4 decimals) and run directory.
        let rows = try String(contentsOfFile: dir + "/results.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.count, entries.count)
        for (row, e) in zip(rows, entries) {
            let m = e.result.metrics
            XCTAssertEqual(Array(row[0...1]), [e.variant.rawValue, e.width.map(String.init) ?? ""])
            XCTAssertEqual(Array(row[4...7]), [m.mIoU, m.mAcc, m.allAcc, m.mIoUPresent].map { String(format: "%.4f", $0) },
                           "seed \(seed): results.csv row of \(e.modelName)")
            XCTAssertEqual(row[11], "4")
            XCTAssertEqual(row.last, e.runDirectory)
        }
        let md = try String(contentsOfFile: dir + "/results.md", encoding: .utf8)
        for (i, e) in entries.enumerated() {
            let m = e.result.metrics
            let cells = "| \(i + 1) | \(e.modelName) (OS 8) | " + [m.mIoU, m.mAcc, m.allAcc].map { String(format: "%.4f", $0) }.joined(separator: " | ")
            XCTAssertTrue(md.contains(cells), "results.md should hold \(cells):\n\(md)")
        }
        XCTAssertTrue(md.contains("FAKE BACKBONE"), md)
        XCTAssertTrue(md.contains("SYNTHETIC DATASET"), md)
        XCTAssertFalse(md.contains("0.8156"), "published numbers only for VOC")
        XCTAssertEqual(try String(contentsOfFile: dir + "/results.csv", encoding: .utf8).split(separator: "\n").count, 3)
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 4)  // loss, mIoU, IoU bars, confusion
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 2 * 2)  // 2 examples × (GT, prediction)
        XCTAssertTrue(html.contains("<polyline"), "loss curve drawn")
        let best = try String(contentsOfFile: dir + "/best.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(best, entries[Sweep.bestIndex(entries)!].runDirectory)

        // Running again reuses finished jobs.
        lines = []
        let again = try Sweep.run(settings, source: source, eval: eval) { lines.append($0) }
        XCTAssertEqual(again.map(\.result), entries.map(\.result))
        XCTAssertEqual(lines.filter { $0.contains("already trained and evaluated") }.count, 2, lines.joined(separator: "\n"))
    }
}

extension SweepTests {
    /// kill -9 during a job's final evaluation: its training is finished (checkpoint at the last step, log.jsonl
    /// complete), the evaluation is recorded nowhere and sweep-entry.json is missing. Simulated by training the job
    /// in-process as the sweep does and removing the records; the re-run sweep redoes the evaluation and rebuilds the
    /// row from the run's records: the same final loss and metrics as an uninterrupted sweep, the logged training time.
    func testResumedSweepRedoesLostEvaluationAndRebuildsRows() throws {
        let seed: UInt64 = 6
        let source = HeadTrainingTests.syntheticSource(images: 16, seed: seed)
        let eval = HeadTrainingTests.wholeImageEval(source, count: 4, backboneNote: nil)
        let root = try tempDir("sweepkill")
        var train = TrainOptions()
        train.epochs = 2; train.batch = 8; train.threads = 2; train.seed = seed
        func settings(_ dir: String) -> SweepSettings {
            SweepSettings(jobs: SweepJob.plan(variants: [.head, .fpn], widths: [16]), outputStride: 8, train: train, evalEvery: 1,
                          examples: 0, runDirectory: root + "/" + dir, dataset: .synthetic, photoDirectory: nil)
        }
        let reference = try Sweep.run(settings("reference"), source: source, eval: eval) { _ in }

        let killed = settings("killed"), job = killed.jobs[0], run = root + "/killed/head"
        let trainer = HeadTrainer(head: job.headConfig(stageChannels: source.stageChannels, outputStride: 8), options: train,
                                  source: source, runDirectory: run, resume: false, output: { _ in })
        trainer.validation = TrainingValidation(settings: eval, every: 1)
        _ = try trainer.run()
        var history = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: run + "/eval-history.json")))
        XCTAssertEqual(history.map(\.step), [2, 4])
        history.removeLast()
        try JSONEncoder().encode(history).write(to: URL(fileURLWithPath: run + "/eval-history.json"))
        try FileManager.default.removeItem(atPath: run + "/metrics.json")
        let log = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        try Data(log.filter { !($0.contains("\"event\":\"eval\"") && $0.contains("\"step\":4")) }.map { $0 + "\n" }.joined().utf8)
            .write(to: URL(fileURLWithPath: run + "/log.jsonl"))

        var lines: [String] = []
        let resumed = try Sweep.run(killed, source: source, eval: eval) { lines.append($0) }
        XCTAssertTrue(lines.contains { $0.contains("after epoch 2 (step 4) was not recorded") }, lines.joined(separator: "\n"))
        XCTAssertEqual(resumed.map(\.result.metrics), reference.map(\.result.metrics), "seed \(seed)")
        XCTAssertEqual(resumed.map(\.finalLoss), reference.map(\.finalLoss), "seed \(seed)")
        XCTAssertTrue(resumed.allSatisfy { $0.finalLoss != nil && $0.trainSeconds > 0 }, "\(resumed.map(\.trainSeconds))")
        let lastLine = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.last { $0["event"] == nil }!
        XCTAssertEqual(resumed[0].trainSeconds, lastLine["train_seconds"] as! Double)
        XCTAssertEqual(resumed[0].finalLoss, lastLine["loss"] as? Double)
        let csv = try String(contentsOfFile: root + "/killed/results.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        let referenceCSV = try String(contentsOfFile: root + "/reference/results.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        for (row, ref) in zip(csv, referenceCSV) {
            let f = row.split(separator: ",", omittingEmptySubsequences: false), r = ref.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertFalse(f[10].isEmpty, "final_loss empty: \(row)")
            XCTAssertEqual(f[10], r[10], "seed \(seed): final_loss")
            XCTAssertEqual(Array(f[4...8]), Array(r[4...8]), "seed \(seed): metrics")
        }
        let rebuilt = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: run + "/eval-history.json")))
        XCTAssertEqual(rebuilt.map(\.mIoU), try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: root + "/reference/head/eval-history.json"))).map(\.mIoU))
    }
}

final class RunFilesTests: XCTestCase {
    func testLatestCheckpointIsLastOrTheHighestStepAndLossCurveReadsTheLog() throws {
        let dir = try tempDir("runfiles")
        try FileManager.default.createDirectory(atPath: dir + "/checkpoints", withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunCheckpoints.latest(run: dir)) { XCTAssertTrue("\($0)".contains("no head checkpoint"), "\($0)") }
        var config = HeadConfig(stageChannels: [8, 8, 8, 8], fpnWidth: 8, variant: .head)
        config.classifierWidth = 8
        let head = try SegmentationHead(config: config, seed: 1)
        for (name, step) in [("last.safetensors", 40), ("checkpoints/epoch-001.safetensors", 20), ("checkpoints/epoch-003.safetensors", 60)] {
            try HeadCheckpoint.save(head, to: dir + "/" + name,
                                    progress: TrainProgress(step: step, epoch: step / 20, batchInEpoch: 0, seed: 1, maxIter: 100, batchSize: 4))
        }
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: dir + "/notes.safetensors"))
        // last.safetensors is written after every epoch checkpoint of its run, so an epoch checkpoint with a higher
        // step is a stale one of an earlier head in the same directory: the latest is last.safetensors.
        let latest = try RunCheckpoints.latest(run: dir)
        XCTAssertEqual(latest.step, 40)
        XCTAssertTrue(latest.path.hasSuffix("/last.safetensors"), latest.path)
        let (loaded, step) = try RunCheckpoints.loadHead(latest.path, threads: 1)
        XCTAssertEqual(step, 40)
        // Without last.safetensors the highest step wins.
        try FileManager.default.removeItem(atPath: dir + "/last.safetensors")
        XCTAssertEqual(try RunCheckpoints.latest(run: dir).step, 60)
        XCTAssertEqual(loaded.config, config)

        let log = (1...8).map { "{\"step\":\($0),\"loss\":\(Double(10 - $0))}" }.joined(separator: "\n") + "\n"
        try Data(log.utf8).write(to: URL(fileURLWithPath: dir + "/log.jsonl"))
        // 4 steps per epoch, buckets of 2 steps: x = step / 4, y = mean loss of the bucket.
        assertClose(TrainAndEvaluate.lossCurve(runDirectory: dir, stepsPerEpoch: 4, bucket: 2).flatMap { $0 },
                    [0.5, 8.5, 1.0, 6.5, 1.5, 4.5, 2.0, 2.5] as [Double], rtol: 0, shape: [4, 2], seed: nil, what: "loss curve (epoch, mean loss)")
    }
}
