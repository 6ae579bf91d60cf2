import XCTest
import Foundation
@testable import DinoSegCache
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline
@testable import DinoSegCLI

/// `headtrain train --val-cache … --eval-every N` on caches extracted with the fake backbone: evaluations after epochs
/// N, 2N, … and the last one appear in log.txt (with the protocol) and log.jsonl, metrics.json / eval-history.json hold
/// the latest one, and an interrupted, resumed run ends with the same evaluations.
final class TrainValidationTests: XCTestCase {
    func testTrainWithValCacheLogsEvaluations() throws {
        let tmp = try tempDir("trainval")
        try makeFakeCaches(tmp, valCount: 3, seed: 7)

        func command(_ run: String, _ extra: [String] = []) throws -> HeadTrainTrain { try trainCommand(tmp, run, extra) }
        try command("full").run()

        let dir = tmp + "/full"
        let text = try String(contentsOfFile: dir + "/log.txt", encoding: .utf8)
        let evalLines = text.split(separator: "\n").filter { $0.hasPrefix("eval after epoch") }
        XCTAssertEqual(evalLines.count, 2, text)
        XCTAssertTrue(evalLines[0].hasPrefix("eval after epoch 2 (step 8): mIoU "), "seed 7/8/9: \(evalLines[0])")
        XCTAssertTrue(evalLines[1].hasPrefix("eval after epoch 3 (step 12): mIoU "), "seed 7/8/9: \(evalLines[1])")
        XCTAssertTrue(evalLines.allSatisfy { $0.contains("protocol: whole") && $0.contains("3 images") }, text)

        let jsonEvals = try evalEvents(dir)
        XCTAssertEqual(jsonEvals.map { $0["epoch"] as? Int }, [2, 3])
        XCTAssertEqual(jsonEvals.map { $0["step"] as? Int }, [8, 12])
        for e in jsonEvals {
            let mIoU = e["mIoU"] as! Double, mAcc = e["mAcc"] as! Double, allAcc = e["allAcc"] as! Double
            XCTAssertTrue(mIoU > 0 && mIoU <= mAcc + 1e-9 && mAcc <= 1, "seed 7/8/9: mIoU \(mIoU) mAcc \(mAcc)")
            XCTAssertTrue(allAcc > 0.3 && allAcc <= 1, "seed 7/8/9: allAcc \(allAcc)")
            XCTAssertEqual(e["images"] as? Int, 3)
            XCTAssertTrue((e["protocol"] as? String ?? "").hasPrefix("whole"), "\(e)")
        }
        let metrics = try EvalResult.read(dir + "/metrics.json")
        XCTAssertEqual(metrics.checkpointStep, 12)
        XCTAssertEqual(metrics.metrics.mIoU, jsonEvals[1]["mIoU"] as! Double, accuracy: 1e-12)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/confusion.csv"))
        let history = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/eval-history.json")))
        XCTAssertEqual(history.map(\.epoch), [2, 3])
        for (h, e) in zip(history, jsonEvals) { XCTAssertEqual(h.mIoU, e["mIoU"] as! Double, accuracy: 1e-12) }

        // Interrupted after 10 steps (past the epoch-2 evaluation), then resumed: the same evaluations, once each.
        let source = try CacheTrainingSource(directory: tmp + "/cache")
        let head = HeadConfig(stageChannels: source.stageChannels, fpnWidth: 16, outputStride: 8)
        var options = TrainOptions()
        options.epochs = 3; options.batch = 2; options.lr = 0.02; options.seed = 9; options.threads = 2
        options.checkpointEvery = 0; options.stopAfterSteps = 10
        let trainer = HeadTrainer(head: head, options: options, source: source, runDirectory: tmp + "/split", resume: false,
                                  output: { _ in })
        trainer.validation = TrainingValidation(settings: try ValCacheEval.settings(directory: tmp + "/cache-val").settings, every: 2)
        _ = try trainer.run()
        try command("split", ["--resume"]).run()
        let resumed = try evalEvents(tmp + "/split")
        XCTAssertEqual(resumed.map { $0["step"] as? Int }, [8, 12])
        assertClose(resumed.map { $0["mIoU"] as! Double }, jsonEvals.map { $0["mIoU"] as! Double }, rtol: 0, seed: "7/8/9",
                    what: "mIoU of the evaluations, interrupted + resumed vs uninterrupted")
    }

    /// kill -9 while the evaluation after epoch 2 runs: the epoch-end checkpoint (step 8) is saved, the evaluation's
    /// log.jsonl line may be written, eval-history.json and metrics.json are not. Simulated by training in-process to
    /// that checkpoint and removing the records a kill would not have left; --resume redoes the evaluation, once.
    func testResumeRedoesAnEvaluationLostToAKill() throws {
        let tmp = try tempDir("evalkill")
        try makeFakeCaches(tmp, valCount: 2, seed: 17)
        func command(_ run: String, _ extra: [String] = []) throws -> HeadTrainTrain { try trainCommand(tmp, run, extra) }
        try command("full").run()
        let reference = try evalEvents(tmp + "/full")
        XCTAssertEqual(reference.map { $0["step"] as? Int }, [8, 12])

        let source = try CacheTrainingSource(directory: tmp + "/cache")
        var options = TrainOptions()
        options.epochs = 3; options.batch = 2; options.lr = 0.02; options.seed = 9; options.threads = 2
        options.checkpointEvery = 0; options.stopAfterSteps = 8
        let trainer = HeadTrainer(head: HeadConfig(stageChannels: source.stageChannels, fpnWidth: 16, outputStride: 8),
                                  options: options, source: source, runDirectory: tmp + "/killed", resume: false, output: { _ in })
        trainer.validation = TrainingValidation(settings: try ValCacheEval.settings(directory: tmp + "/cache-val").settings, every: 2)
        _ = try trainer.run()
        let dir = tmp + "/killed"
        XCTAssertEqual(try evalEvents(dir).map { $0["step"] as? Int }, [8])
        try JSONEncoder().encode([EpochEval]()).write(to: URL(fileURLWithPath: dir + "/eval-history.json"))
        try FileManager.default.removeItem(atPath: dir + "/metrics.json")

        try command("killed", ["--resume"]).run()
        let resumed = try evalEvents(dir)
        XCTAssertEqual(resumed.map { $0["step"] as? Int }, [8, 12], "each evaluation once")
        XCTAssertEqual(resumed.map { $0["mIoU"] as! Double }, reference.map { $0["mIoU"] as! Double }, "seed 17/8/9")
        let history = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/eval-history.json")))
        XCTAssertEqual(history.map(\.step), [8, 12])
        let referenceHistory = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: tmp + "/full/eval-history.json")))
        XCTAssertEqual(history, referenceHistory, "seed 17/8/9")
        let text = try String(contentsOfFile: dir + "/log.txt", encoding: .utf8)
        XCTAssertTrue(text.contains("the evaluation after epoch 2 (step 8) was not recorded (interrupted); evaluating the checkpoint"), text)
        // Training time accumulates over both sessions.
        let seconds = try stepLines(dir).map { $0["train_seconds"] as! Double }
        XCTAssertEqual(seconds.count, 12)
        XCTAssertEqual(seconds, seconds.sorted(), "train_seconds decreases somewhere: \(seconds)")
        XCTAssertGreaterThan(seconds[8], seconds[7])
    }

    private func stepLines(_ dir: String) throws -> [[String: Any]] {
        try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let obj = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            return obj?["event"] == nil ? obj : nil
        }
    }

    private func evalEvents(_ dir: String) throws -> [[String: Any]] {
        try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let obj = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            return obj?["event"] as? String == "eval" ? obj : nil
        }
    }

    /// Synthetic data (8 train images, `valCount` val images, data seed `seed`) through the fake backbone into
    /// tmp/cache (stages 1–3, shards of 4, extraction seed 8) and tmp/cache-val (whole, long side 224).
    private func makeFakeCaches(_ tmp: String, valCount: Int, seed: UInt64) throws {
        try writeSyntheticData(to: tmp + "/data", train: 8, val: valCount, seed: seed, sides: 60...120)
        let backbone = FakeBackbone(channels: [8, 16, 16, 24])
        var train = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/cache")
        train.stages = [1, 2, 3]; train.shardSize = 4; train.workers = 2; train.seed = 8; train.quiet = true
        _ = try TrainExtraction.run(train, backbone: backbone) { _ in }
        var val = ValExtractionOptions(dataRoot: tmp + "/data", list: "val", out: tmp + "/cache-val")
        val.mode = .whole; val.longSide = 224; val.stages = [1, 2, 3]; val.workers = 2; val.quiet = true
        _ = try ValExtraction.run(val, backbone: backbone) { _ in }
    }

    /// `headtrain train` on those caches: FPN(16), 3 epochs of batch 2, lr 0.02, seed 9, an evaluation every 2 epochs.
    private func trainCommand(_ tmp: String, _ run: String, _ extra: [String]) throws -> HeadTrainTrain {
        try HeadTrainTrain.parse(["--cache", tmp + "/cache", "--val-cache", tmp + "/cache-val", "--run", tmp + "/" + run,
                                  "--fpn-width", "16", "--epochs", "3", "--batch", "2", "--lr", "0.02", "--seed", "9",
                                  "--threads", "2", "--eval-every", "2", "--checkpoint-every", "0"] + extra)
    }
}
