import XCTest
@testable import Shared

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

    func testSweepTrainsEvaluatesWritesReportAndSkipsFinishedJobs() throws {
        let seed: UInt64 = 5
        let source = HeadTrainingTests.syntheticSource(images: 16, seed: seed)
        let l = HeadTrainingTests.label
        let p = EvalProtocol(mode: .whole, flip: false, crop: l, stride: l, longSide: l)
        let val: [EvalFeatures] = source.views[0].prefix(6).enumerated().map { i, s in
            var shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
            for (k, _) in s.stages { shapes[k] = (l >> (2 + k), l >> (2 + k), HeadTrainingTests.channels[k]) }
            return SampleAsValImage(id: "img\(i)", geometry: p.geometry(height: l, width: l), labelPixels: s.labels,
                                    stageFeatures: s.stages, stageShapesPerWindow: shapes)
        }
        let eval = EvalSettings(open: { _ in var it = val.makeIterator(); return { it.next() } }, evalProtocol: p,
                                backboneNote: "FAKE BACKBONE")
        let dir = NSTemporaryDirectory() + "dinoseg-sweep-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
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
            XCTAssertTrue(e.result.metrics.mIoU > 0, "seed \(seed)")
            let history = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: e.runDirectory + "/eval-history.json")))
            XCTAssertEqual(history.map(\.epoch), [1, 2], "seed \(seed)")
            XCTAssertEqual(history.last!.mIoU, e.result.metrics.mIoU, accuracy: 1e-12)
            XCTAssertTrue(FileManager.default.fileExists(atPath: e.runDirectory + "/metrics.json"))
            XCTAssertTrue(FileManager.default.fileExists(atPath: e.runDirectory + "/confusion.csv"))
        }
        let md = try String(contentsOfFile: dir + "/results.md", encoding: .utf8)
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

final class RunFilesTests: XCTestCase {
    func testLatestCheckpointIsTheHighestStepAndLossCurveReadsTheLog() throws {
        let dir = NSTemporaryDirectory() + "dinoseg-runfiles-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/checkpoints", withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunCheckpoints.latest(run: dir)) { XCTAssertTrue("\($0)".contains("no head checkpoint"), "\($0)") }
        var config = HeadConfig(stageChannels: [8, 8, 8, 8], fpnWidth: 8, useFPN: false, usePPM: false)
        config.classifierWidth = 8
        let head = try SegmentationHead(config: config, seed: 1)
        for (name, step) in [("last.safetensors", 40), ("checkpoints/epoch-001.safetensors", 20), ("checkpoints/epoch-003.safetensors", 60)] {
            try HeadCheckpoint.save(head, to: dir + "/" + name,
                                    progress: TrainProgress(step: step, epoch: step / 20, batchInEpoch: 0, seed: 1, maxIter: 100, batchSize: 4))
        }
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: dir + "/notes.safetensors"))
        let latest = try RunCheckpoints.latest(run: dir)
        XCTAssertEqual(latest.step, 60)
        XCTAssertTrue(latest.path.hasSuffix("epoch-003.safetensors"), latest.path)
        let (loaded, step) = try RunCheckpoints.loadHead(latest.path, threads: 1)
        XCTAssertEqual(step, 60)
        XCTAssertEqual(loaded.config, config)

        let log = (1...8).map { "{\"step\":\($0),\"loss\":\(Double(10 - $0))}" }.joined(separator: "\n") + "\n"
        try Data(log.utf8).write(to: URL(fileURLWithPath: dir + "/log.jsonl"))
        // 4 steps per epoch, buckets of 2 steps: x = step / 4, y = mean loss of the bucket.
        assertClose(TrainAndEvaluate.lossCurve(runDirectory: dir, stepsPerEpoch: 4, bucket: 2).flatMap { $0 },
                    [0.5, 8.5, 1.0, 6.5, 1.5, 4.5, 2.0, 2.5] as [Double], rtol: 0, shape: [4, 2], seed: nil, what: "loss curve (epoch, mean loss)")
    }
}
