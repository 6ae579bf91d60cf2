import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegNN
@testable import DinoSegData
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline

/// What a run directory and its records hold is checked before it is trusted: matrices and metrics read back,
/// checkpoint progress and weights, the run's latest checkpoint, the training log on a full disk, and the bytes of a
/// checkpoint's metadata (issue "Hardening, round 2", items 9, 12, 13 and 18).
final class RunIntegrityTests: TempDirTestCase {
    override class var tempTag: String { "integrity" }

    // MARK: item 13, confusion matrices read from files

    static func result(classes: Int = 3) -> EvalResult {
        EvalResult(evalProtocol: EvalProtocol(mode: .whole, flip: false, crop: 4, stride: 3, longSide: 4), checkpointStep: 8,
                   checkpoint: "last.safetensors", images: 2,
                   confusion: ConfusionMatrix(classes: classes, counts: (0..<(classes * classes)).map { Int64($0) }),
                   backboneNote: nil, seconds: 1)
    }

    /// `result` as JSON with `edit` applied to the decoded object.
    static func edited(_ result: EvalResult, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        var obj = try XCTUnwrap(JSONSerialization.jsonObject(with: result.jsonData()) as? [String: Any])
        edit(&obj)
        return try JSONSerialization.data(withJSONObject: obj)
    }

    func testConfusionMatrixOfWrongLengthIsRefusedWhenRead() throws {
        let data = try Self.edited(Self.result()) { obj in
            var confusion = obj["confusion"] as! [String: Any]
            confusion["counts"] = [1, 2, 3, 4]
            obj["confusion"] = confusion
        }
        let path = tmp + "/metrics.json"
        try data.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try EvalResult.read(path)) { e in
            XCTAssertTrue(e is DinoSegError && "\(e)".hasPrefix(path + ": not a metrics.json") && "\(e)".contains("4 counts for 3 classes"), "\(e)")
        }
        // A sweep entry carrying it does not decode (the sweep then redoes the job instead of crashing on the table).
        var entry = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(
            SweepEntry(variant: .head, width: nil, outputStride: 8, epochs: 1, runDirectory: tmp, trainSeconds: 1, finalLoss: 1,
                       result: Self.result()))) as? [String: Any])
        entry["result"] = try JSONSerialization.jsonObject(with: data)
        XCTAssertThrowsError(try JSONDecoder().decode(SweepEntry.self, from: JSONSerialization.data(withJSONObject: entry)))
    }

    func testMetricsAreRecomputedFromTheConfusionMatrixWhenRead() throws {
        let data = try Self.edited(Self.result()) { obj in
            var metrics = obj["metrics"] as! [String: Any]
            metrics["iou"] = [0.5]
            metrics["mIoU"] = 0.99
            obj["metrics"] = metrics
        }
        let read = try JSONDecoder().decode(EvalResult.self, from: data)
        XCTAssertEqual(read.metrics, SegmentationMetrics(Self.result().confusion))
        XCTAssertEqual(read.classTable().split(separator: "\n").count, 4)
    }

    func testConfusionCountsOutOfRangeAreRefused() throws {
        for (classes, counts) in [(0, [Int64]()), (256, []), (1, [-1]), (1, [Int64.max])] {
            let json = try JSONSerialization.data(withJSONObject: ["classes": classes, "counts": counts])
            XCTAssertThrowsError(try JSONDecoder().decode(ConfusionMatrix.self, from: json), "\(classes) classes, counts \(counts)")
        }
    }

    // MARK: item 12, a full disk while writing the training log

    /// Runs `body` under a file-size limit of `bytes` (SIGXFSZ ignored), which makes writes fail as on a full disk.
    func underFileSizeLimit<T>(_ bytes: rlim_t, _ body: () throws -> T) rethrows -> T {
        var old = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
        var limit = old
        limit.rlim_cur = bytes
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
        defer { setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old); signal(SIGXFSZ, oldHandler) }
        return try body()
    }

    func testFullDiskWhileWritingTheStepLogIsOneErrorLine() throws {
        let log = try TrainingLog(directory: tmp, truncateFromStep: 0, output: { _ in })
        let failure: Error? = underFileSizeLimit(2_000) {
            for step in 1...100 {
                do { try log.step(["step": step, "loss": 1.5, "note": String(repeating: "x", count: 80)]) } catch { return error }
            }
            return nil
        }
        let error = try XCTUnwrap(failure, "100 lines of 100 bytes were written under a 2000-byte limit")
        XCTAssertEqual("\(error)", "\(tmp)/log.jsonl: cannot write the training log: File too large (disk full?)")
    }

    func testFullDiskWhileWritingTheTextLogIsReportedAtTheNextStep() throws {
        let log = try TrainingLog(directory: tmp, truncateFromStep: 0, output: { _ in })
        let failure: Error? = underFileSizeLimit(2_000) {
            for _ in 1...30 { log.human(String(repeating: "y", count: 99)) }
            do { try log.step(["step": 1]) } catch { return error }
            return nil
        }
        let error = try XCTUnwrap(failure, "3000 bytes of log.txt were written under a 2000-byte limit")
        XCTAssertEqual("\(error)", "\(tmp)/log.txt: cannot write the training log: File too large (disk full?)")
    }

    // MARK: item 9, checkpoint progress and weights

    /// A stride-8 run on synthetic features (seed 21) of 8 images, batch 2 (4 steps an epoch), 2 epochs, stopped after 3 steps.
    func stoppedRun() throws -> (run: String, options: TrainOptions, source: InMemoryTrainingSource) {
        let source = HeadTrainingTests.syntheticSource(images: 8, seed: 21)
        var options = TrainOptions()
        options.epochs = 2; options.batch = 2; options.threads = 1; options.seed = 21; options.checkpointEvery = 0
        options.stopAfterSteps = 3
        let run = tmp + "/run"
        _ = try HeadTrainer(head: HeadTrainingTests.headConfig(outputStride: 8), options: options, source: source,
                            runDirectory: run, resume: false, output: { _ in }).run()
        options.stopAfterSteps = nil
        return (run, options, source)
    }

    /// Rewrites RUN/last.safetensors with `edit` applied to its progress.
    func editProgress(_ run: String, _ edit: (inout TrainProgress) -> Void) throws {
        let path = run + "/last.safetensors"
        let head = try SegmentationHead(config: HeadCheckpoint.config(of: path))
        var progress = try XCTUnwrap(HeadCheckpoint.load(path, into: head))
        edit(&progress)
        try HeadCheckpoint.save(head, to: path, progress: progress)
    }

    func testResumeRefusesProgressThatIsNotAPositionOfTheRun() throws {
        let (run, options, source) = try stoppedRun()
        let cases: [(String, (inout TrainProgress) -> Void)] = [
            ("step 2, epoch 0, batch -1", { $0.batchInEpoch = -1; $0.step = 2 }),
            ("step 4611686018427387971, epoch 0, batch 3", { $0.step = 4611686018427387971 }),
            ("step 3, epoch 7, batch 3", { $0.epoch = 7 }),
            ("step 3, epoch 0, batch 4", { $0.batchInEpoch = 4 }),
            ("step -5, epoch 0, batch 3", { $0.step = -5 }),
        ]
        let original = try Data(contentsOf: URL(fileURLWithPath: run + "/last.safetensors"))
        for (position, edit) in cases {
            try original.write(to: URL(fileURLWithPath: run + "/last.safetensors"))
            try editProgress(run, edit)
            XCTAssertThrowsError(try HeadTrainer(head: HeadTrainingTests.headConfig(outputStride: 8), options: options, source: source,
                                                 runDirectory: run, resume: true, output: { _ in }).run()) { e in
                XCTAssertEqual("\(e)", "\(run)/last.safetensors: corrupt training progress: \(position) is not a position of a run of 2 epochs of 4 steps")
            }
        }
        try original.write(to: URL(fileURLWithPath: run + "/last.safetensors"))
        let resumed = try HeadTrainer(head: HeadTrainingTests.headConfig(outputStride: 8), options: options, source: source,
                                      runDirectory: run, resume: true, output: { _ in }).run()
        XCTAssertEqual(resumed.stepsDone, 8)
        XCTAssertEqual(resumed.losses.count, 5)
    }

    func testLatestCheckpointIsLastSafetensorsNotAStaleEpochCheckpoint() throws {
        let (run, _, _) = try stoppedRun()
        var other = HeadTrainingTests.headConfig(outputStride: 8)
        other.classifierWidth = 8
        try HeadCheckpoint.save(SegmentationHead(config: other, seed: 3), to: run + "/epoch-050.safetensors",
                                progress: TrainProgress(step: 400, epoch: 50, batchInEpoch: 0, seed: 3, maxIter: 400, batchSize: 2))
        XCTAssertEqual(try RunCheckpoints.latest(run: run).path, run + "/last.safetensors")
        XCTAssertEqual(try RunCheckpoints.loadHead(run + "/last.safetensors", threads: 1).step, 3)
    }

    func testTruncatedLastCheckpointIsReportedNotSkipped() throws {
        let (run, _, _) = try stoppedRun()
        try HeadCheckpoint.save(SegmentationHead(config: HeadTrainingTests.headConfig(outputStride: 8), seed: 3),
                                to: run + "/epoch-001.safetensors",
                                progress: TrainProgress(step: 1, epoch: 1, batchInEpoch: 0, seed: 21, maxIter: 8, batchSize: 2))
        let path = run + "/last.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try RunCheckpoints.latest(run: run)) { e in
            XCTAssertTrue(e is DinoSegError && "\(e)".hasPrefix(path + ": "), "\(e)")
        }
    }

    func testNonFiniteWeightsAndNegativeVariancesAreRefused() throws {
        let config = HeadTrainingTests.headConfig(outputStride: 8)
        let path = tmp + "/bad.safetensors"
        let nan = try SegmentationHead(config: config, seed: 4)
        let weight = nan.params.views[1]
        nan.params.values[weight.offset + 2] = .nan
        try HeadCheckpoint.save(nan, to: path)
        XCTAssertThrowsError(try RunCheckpoints.loadHead(path, threads: 1)) { e in
            XCTAssertEqual("\(e)", "\(path): tensor '\(weight.name)' holds nan; the checkpoint is unusable")
        }
        let negative = try SegmentationHead(config: config, seed: 4)
        let variance = try XCTUnwrap(negative.stats.views.first { $0.name.hasSuffix("running_var") })
        negative.stats.values[variance.offset] = -0.25
        try HeadCheckpoint.save(negative, to: path)
        XCTAssertThrowsError(try RunCheckpoints.loadHead(path, threads: 1)) { e in
            XCTAssertEqual("\(e)", "\(path): tensor '\(variance.name)' holds the negative variance -0.25; the checkpoint is unusable")
        }
    }

    // MARK: item 18, stable checkpoint metadata

    func testCheckpointMetadataHasSortedKeys() throws {
        let head = try SegmentationHead(config: HeadTrainingTests.headConfig(outputStride: 8), seed: 5)
        let progress = TrainProgress(step: 3, epoch: 0, batchInEpoch: 3, seed: 5, maxIter: 8, batchSize: 2)
        try HeadCheckpoint.save(head, to: tmp + "/a.safetensors", progress: progress)
        let metadata = try SafetensorsFile(path: tmp + "/a.safetensors").metadata
        let sorted = JSONEncoder()
        sorted.outputFormatting = [.sortedKeys]
        XCTAssertEqual(metadata["config"], String(decoding: try sorted.encode(head.config), as: UTF8.self))
        XCTAssertEqual(metadata["progress"], String(decoding: try sorted.encode(progress), as: UTF8.self))
    }
}
