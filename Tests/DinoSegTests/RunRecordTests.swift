import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegNN
@testable import DinoSegData
@testable import DinoSegCache
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline
@testable import DinoSegCLI

/// A head is only continued, evaluated, applied or listed with what it was made with (issue "Hardening, round 2",
/// items 7, 8, 15 and 18): the backbone of the features, the cache, the optimisation settings, the sweep's settings
/// and val cache, and the sweep directory's current location.
final class RunRecordTests: TempDirTestCase {
    override class var tempTag: String { "record" }

    // MARK: item 8, --resume with other settings

    /// Synthetic features (seed 41), 8 images, batch 2, 2 epochs.
    func options() -> TrainOptions {
        var o = TrainOptions()
        o.epochs = 2; o.batch = 2; o.threads = 1; o.seed = 41; o.checkpointEvery = 0
        return o
    }

    func trainer(_ options: TrainOptions, source: HeadTrainingSource, run: String, resume: Bool) -> HeadTrainer {
        HeadTrainer(head: HeadConfig.small(stageChannels: source.stageChannels), options: options, source: source, runDirectory: run,
                    resume: resume, output: { _ in })
    }

    func testResumeWithOtherOptimisationSettingsIsRefusedAndConfigKept() throws {
        let source = HeadTrainingTests.syntheticSource(images: 8, seed: 41)
        let run = tmp + "/run"
        var first = options()
        first.stopAfterSteps = 3
        _ = try trainer(first, source: source, run: run, resume: false).run()
        let config = try Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))
        var other = options()
        other.lr = 0.02; other.momentum = 0.5; other.weightDecay = 0
        XCTAssertThrowsError(try trainer(other, source: source, run: run, resume: true).run()) { e in
            XCTAssertEqual("\(e)", "\(run): was trained with other settings than this --resume asks for (--lr 0.01 → 0.02; --momentum 0.9 → 0.5; --weight-decay 0.0001 → 0.0); resume with the original flags, or start a new --run")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/config.json")), config, "config.json was rewritten")
        var threads = options()
        threads.threads = 2
        XCTAssertEqual(try trainer(threads, source: source, run: run, resume: true).run().stepsDone, 8, "another --threads resumes")
    }

    /// A config.json written before `precision` was recorded reads as fp32 with every other field kept; the field is
    /// written as its plain value, and a record missing an older field is still refused.
    func testOptionsRecordedWithoutPrecisionReadAsFP32() throws {
        var bf16 = options()
        bf16.precision = .bf16
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(bf16)) as? [String: Any])
        XCTAssertEqual(json["precision"] as? String, "bf16", "precision is written as the plain value")
        XCTAssertEqual(try JSONDecoder().decode(TrainOptions.self, from: JSONEncoder().encode(bf16)), bf16)
        json["precision"] = nil
        let read = try JSONDecoder().decode(TrainOptions.self, from: JSONSerialization.data(withJSONObject: json))
        var fp32 = bf16
        fp32.precision = .fp32
        XCTAssertEqual(read, fp32, "a record without precision: fp32, the other fields as written (epochs 2, batch 2, seed 41)")
        json["batch"] = nil
        XCTAssertThrowsError(try JSONDecoder().decode(TrainOptions.self, from: JSONSerialization.data(withJSONObject: json)),
                             "a record without batch")
    }

    /// Two train caches of the fake backbone (seed 42): augmentation seeds 1 and 2.
    func trainCache(_ name: String, seed: UInt64, backbone: FakeBackbone = FakeBackbone()) throws -> String {
        if !FileManager.default.fileExists(atPath: tmp + "/data") {
            try writeSyntheticData(to: tmp + "/data", train: 4, val: 2, seed: 42, sides: 60...90)
        }
        var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/" + name)
        o.workers = 1; o.quiet = true; o.seed = seed; o.shardSize = 4
        try TrainExtraction.run(o, backbone: backbone) { _ in }
        return tmp + "/" + name
    }

    func valCache(_ name: String, backbone: FakeBackbone = FakeBackbone()) throws -> String {
        var o = ValExtractionOptions(dataRoot: tmp + "/data", list: "val", out: tmp + "/" + name)
        o.mode = .whole; o.longSide = 64; o.stages = [1, 2, 3]; o.workers = 1; o.quiet = true
        try ValExtraction.run(o, backbone: backbone) { _ in }
        return tmp + "/" + name
    }

    func testResumeOnAnotherCacheIsRefusedAndAMovedCacheIsNot() throws {
        let a = try trainCache("a", seed: 1), b = try trainCache("b", seed: 2)
        let run = tmp + "/run"
        var first = options()
        first.epochs = 3; first.stopAfterSteps = 1
        _ = try trainer(first, source: CacheTrainingSource(directory: a), run: run, resume: false).run()
        var rest = first
        rest.stopAfterSteps = nil
        XCTAssertThrowsError(try trainer(rest, source: CacheTrainingSource(directory: b), run: run, resume: true).run()) { e in
            XCTAssertEqual("\(e)", "\(run): was trained with other settings than this --resume asks for (--cache \(a) → \(b) (other features)); resume with the original flags, or start a new --run")
        }
        try FileManager.default.moveItem(atPath: a, toPath: tmp + "/a-moved")
        XCTAssertEqual(try trainer(rest, source: CacheTrainingSource(directory: tmp + "/a-moved"), run: run, resume: true).run().stepsDone, 6)
    }

    // MARK: item 7, the backbone of features and weights

    func testValCacheAndWeightsOfAnotherBackboneAreRefused() throws {
        let train = try trainCache("train", seed: 1)
        let other = FakeBackbone()
        other.weightsSHA256 = String(repeating: "cd", count: 32)
        let sameVal = try valCache("val"), otherVal = try valCache("val-other", backbone: other)
        let run = tmp + "/run"
        let args = ["--cache", train, "--run", run, "--epochs", "1", "--batch", "2", "--threads", "1", "--fpn-width", "8", "--eval-every", "0"]
        XCTAssertThrowsError(try HeadTrainTrain.parse(args + ["--val-cache", otherVal]).run()) { e in
            XCTAssertEqual("\(e)", "\(otherVal): was extracted with other backbone weights than \(train) (SHA-256 cdcdcdcdcdcd… vs abababababab…)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/last.safetensors"))
        try HeadTrainTrain.parse(args + ["--val-cache", sameVal]).run()
        let checkpoint = run + "/last.safetensors"
        XCTAssertEqual(try HeadCheckpoint.backboneWeightsSHA256(of: checkpoint), String(repeating: "ab", count: 32))
        XCTAssertThrowsError(try HeadTrainEval.parse(["--run", run, "--val-cache", otherVal, "--threads", "1"]).run()) { e in
            XCTAssertEqual("\(e)", "\(otherVal): comes from other backbone weights (SHA-256 cdcdcdcdcdcd…) than the head in \(checkpoint) was trained on (abababababab…)")
        }
        XCTAssertNoThrow(try HeadTrainEval.parse(["--run", run, "--val-cache", sameVal, "--threads", "1", "--json"]).run())
        // `predict --weights` runs the same check on the weights' SHA-256.
        XCTAssertThrowsError(try HeadCheckpoint.checkBackbone(checkpoint, weightsSHA256: other.weightsSHA256, what: "w.safetensors")) { e in
            XCTAssertEqual("\(e)", "w.safetensors: comes from other backbone weights (SHA-256 cdcdcdcdcdcd…) than the head in \(checkpoint) was trained on (abababababab…)")
        }
    }

    func testValCacheWithOtherStageChannelsIsRefusedForTraining() throws {
        let train = try trainCache("train", seed: 1)
        let wide = try valCache("val-wide", backbone: FakeBackbone(channels: [8, 12, 16, 24]))
        XCTAssertThrowsError(try HeadTrainTrain.parse(["--cache", train, "--run", tmp + "/run", "--val-cache", wide, "--epochs", "1",
                                                      "--batch", "2", "--threads", "1"]).run()) { e in
            XCTAssertEqual("\(e)", "\(wide): features have stage channels [8, 12, 16, 24], the train cache \(train) has [8, 12, 16, 20]")
        }
    }

    // MARK: items 8, 15 and 18, sweep reruns

    /// A one-job sweep (seed 43) of the head variant on in-memory features, evaluated on 4 of them.
    func sweep(_ dir: String, train: TrainOptions, valDigest: String = "val-a") throws -> [SweepEntry] {
        let source = HeadTrainingTests.syntheticSource(images: 8, seed: 43)
        let eval = HeadTrainingTests.wholeImageEval(source, count: 4, backboneNote: nil)
        var settings = SweepSettings(jobs: SweepJob.plan(variants: [.head], widths: []), outputStride: 8, train: train,
                                     evalEvery: 0, examples: 1, runDirectory: dir, dataset: .synthetic, photoDirectory: nil)
        settings.valCacheDigest = valDigest
        return try Sweep.run(settings, source: source, eval: eval) { _ in }
    }

    func testSweepRerunWithOtherSettingsOrValCacheIsRefused() throws {
        let dir = tmp + "/sweep"
        let first = try sweep(dir, train: options())
        XCTAssertEqual(first.count, 1)
        var lr = options(), seed = options()
        lr.lr = 0.05; seed.seed = 7
        for (train, change) in [(lr, "--lr 0.01 → 0.05"), (seed, "--seed 41 → 7")] {
            XCTAssertThrowsError(try sweep(dir, train: train)) { e in
                XCTAssertEqual("\(e)", "\(dir)/head: was trained with other settings than this sweep asks for (\(change)); delete \(dir)/head to retrain it, or use another --run")
            }
        }
        XCTAssertThrowsError(try sweep(dir, train: options(), valDigest: "val-b")) { e in
            XCTAssertEqual("\(e)", "\(dir)/head: was evaluated on another val cache than this sweep's --val-cache; delete \(dir)/head to redo it, or use another --run")
        }
        XCTAssertEqual(try sweep(dir, train: options()).map(\.result), first.map(\.result))
    }

    func testRenamedSweepDirectoryReportsItsOwnRuns() throws {
        let dir = tmp + "/sweep"
        let first = try sweep(dir, train: options())
        try FileManager.default.moveItem(atPath: dir, toPath: tmp + "/renamed")
        // Another sweep now in the old location must not be used by the renamed one.
        try FileManager.default.createDirectory(atPath: dir + "/head", withIntermediateDirectories: true)
        let again = try sweep(tmp + "/renamed", train: options())
        XCTAssertEqual(again.map(\.runDirectory), [tmp + "/renamed/head"])
        XCTAssertEqual(again.map(\.result), first.map(\.result))
        let best = try String(contentsOfFile: tmp + "/renamed/best.txt", encoding: .utf8)
        XCTAssertEqual(best, tmp + "/renamed/head\n")
        let csv = try String(contentsOfFile: tmp + "/renamed/results.csv", encoding: .utf8)
        XCTAssertTrue(csv.contains(tmp + "/renamed/head") && !csv.contains(dir + "/head"), csv)
    }

    func testSweepRefusesAVariantOrWidthListedTwice() {
        let base = ["--cache", "c", "--val-cache", "v", "--run", "r"]
        XCTAssertThrowsError(try HeadTrainSweep.parse(base + ["--variants", "head,fpn,head"])) { e in
            XCTAssertEqual(HeadTrainSweep.message(for: e), "--variants lists head more than once")
        }
        XCTAssertThrowsError(try HeadTrainSweep.parse(base + ["--widths", "16,32,16"])) { e in
            XCTAssertEqual(HeadTrainSweep.message(for: e), "--widths lists 16 more than once")
        }
    }
}

private extension HeadConfig {
    /// A stride-8 FPN head narrow enough for quick tests.
    static func small(stageChannels: [Int]) -> HeadConfig {
        var c = HeadConfig(stageChannels: stageChannels, fpnWidth: 8, outputStride: 8)
        c.classifierWidth = 8
        return c
    }
}

/// Edited photos or labels under a cache (issue "Hardening, round 2", item 18): the manifest records their digests.
extension RunRecordTests {
    /// Appends a byte to the label of image `index` of `list` (a change a PNG reader may not even see).
    func editLabel(list: String, index: Int) throws -> String {
        let sample = try SegmentationDataset(root: tmp + "/data", list: list).samples[index]
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: sample.labelPath))
        handle.seekToEndOfFile()
        handle.write(Data([0]))
        try handle.close()
        return sample.id
    }

    func testEditedLabelRefusesTheResumedExtraction() throws {
        try writeSyntheticData(to: tmp + "/data", train: 4, val: 2, seed: 44, sides: 60...90)
        var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/cache")
        o.workers = 1; o.quiet = true; o.seed = 44; o.shardSize = 2; o.stopAfterShards = 1
        let partial = try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }
        XCTAssertEqual(partial.shards.count, 1)
        XCTAssertEqual(partial.sources?.count, 4)
        let id = try editLabel(list: "train", index: 3)
        o.stopAfterShards = nil
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }) { e in
            XCTAssertEqual("\(e)", "\(tmp)/cache: the photo or label of image \(id) changed since the finished shards were extracted; delete \(tmp)/cache (or use a new --out) to extract it again")
        }
    }

    func testEditedValLabelRefusesTheEvaluationWhileTheDataIsInPlace() throws {
        try writeSyntheticData(to: tmp + "/data", train: 2, val: 2, seed: 45, sides: 60...90)
        let val = try valCache("val")
        XCTAssertNoThrow(try ValCacheEval.settings(directory: val))
        let id = try editLabel(list: "val", index: 1)
        XCTAssertThrowsError(try ValCacheEval.settings(directory: val)) { e in
            XCTAssertEqual("\(e)", "\(val): the photo or label of image \(id) in \(tmp)/data changed since this cache was extracted; extract it again (a new --out) to evaluate on the current labels")
        }
        // A cache whose data set is gone is evaluated on its own labels.
        try FileManager.default.moveItem(atPath: tmp + "/data", toPath: tmp + "/data-elsewhere")
        XCTAssertNoThrow(try ValCacheEval.settings(directory: val))
    }
}

/// `headtrain baseline train --resume` keeps the run's record as `headtrain train --resume` does (item 8): a tiny
/// PSPNet (widths / 16, one block per stage, crop 65, batch 4, seed 3) on 8 synthetic images (seed 46), 2 epochs of
/// 2 steps, stopped after its first step.
extension RunRecordTests {
    /// The command line of the first session, with `changes` (flag → value) replacing or adding flags.
    func baselineArgs(_ data: String, run: String, _ changes: [String: String] = [:]) -> [String] {
        var flags: [(String, String)] = [("--data", data), ("--list", "train"), ("--run", run), ("--epochs", "2"),
                                         ("--width-divisor", "16"), ("--blocks", "1,1,1,1"), ("--crop", "65"), ("--batch", "4"),
                                         ("--threads", "2"), ("--seed", "3"), ("--log-interval", "100")]
        flags = flags.map { ($0.0, changes[$0.0] ?? $0.1) }
        for (flag, value) in changes.sorted(by: { $0.key < $1.key }) where !flags.contains(where: { $0.0 == flag }) {
            flags.append((flag, value))
        }
        return ["baseline", "train"] + flags.flatMap { [$0.0, $0.1] }
    }

    /// The first session: the command's own options, stopped after one step.
    func startBaseline(_ data: String, run: String) throws {
        let command = try HeadTrainBaselineTrain.parse(Array(baselineArgs(data, run: run).dropFirst(2)))
        var options = try command.training.options(defaults: .baseline)
        options.stopAfterSteps = 1
        let dataset = try SegmentationDataset(root: data, list: "train")
        let settings = BaselineSettings(network: .reduced(divisor: 16, blocks: [1, 1, 1, 1]), train: options, crop: 65,
                                        dataRoot: data, list: dataset.listPath, weights: nil)
        let summary = try BaselineTrainer(settings: settings, data: BaselineData(dataset: dataset, crop: 65), runDirectory: run,
                                          resume: false, output: { _ in }).run()
        XCTAssertEqual(summary.stepsDone, 1)
    }

    func testBaselineResumeWithOtherSettingsIsRefusedAndConfigKept() throws {
        let data = tmp + "/data", run = tmp + "/psp"
        try writeSyntheticData(to: data, train: 8, val: 2, seed: 46, sides: 64...96, objects: 2)
        try FileManager.default.copyItem(atPath: data, toPath: tmp + "/data-copy")
        try startBaseline(data, run: run)
        let config = try Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: run + "/last.safetensors"))
        let list = "/ImageSets/Segmentation/train.txt"
        let refused: [([String: String], String)] = [
            (["--lr": "0.02", "--momentum": "0.5", "--weight-decay": "0", "--crop": "57"],
             "--lr 0.01 → 0.02; --momentum 0.9 → 0.5; --weight-decay 0.0001 → 0.0; --crop 65 → 57"),
            (["--seed": "4", "--batch": "2"], "--seed 3 → 4; --batch 4 → 2"),
            (["--data": tmp + "/data-copy", "--weights": tmp + "/w.safetensors"],
             "--data \(data) → \(tmp)/data-copy; --list \(data)\(list) → \(tmp)/data-copy\(list); --weights (none) → \(tmp)/w.safetensors"),
        ]
        for (changes, what) in refused {
            var command = try HeadTrainCommand.parseAsRoot(baselineArgs(data, run: run, changes) + ["--resume"])
            XCTAssertThrowsError(try command.run()) { e in
                XCTAssertEqual("\(e)", "\(run): was trained with other settings than this --resume asks for (\(what)); resume with the original flags, or start a new --run")
            }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/config.json")), config, "config.json was rewritten")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/last.safetensors")), checkpoint, "the checkpoint was rewritten")

        // The same place spelled differently and another --threads resume, to the end of the run (4 steps).
        try runCommand(HeadTrainCommand.self, baselineArgs(tmp + "/./data/", run: run, ["--threads": "1"]) + ["--resume"])
        let progress = try XCTUnwrap(SafetensorsFile(path: run + "/last.safetensors").metadata["progress"])
        XCTAssertEqual(try JSONDecoder().decode(TrainProgress.self, from: Data(progress.utf8)).step, 4)
    }

    /// A resume without `--weights` keeps the weights config.json records (a resume loads the checkpoint, not them).
    func testBaselineResumeWithoutWeightsKeepsTheRecordedWeights() throws {
        let data = tmp + "/data", run = tmp + "/psp"
        try writeSyntheticData(to: data, train: 8, val: 2, seed: 46, sides: 64...96, objects: 2)
        try startBaseline(data, run: run)
        let configPath = run + "/config.json"
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        config["weights"] = tmp + "/imagenet.safetensors"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        try runCommand(HeadTrainCommand.self, baselineArgs(data, run: run) + ["--resume"])
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        XCTAssertEqual(written["weights"] as? String, tmp + "/imagenet.safetensors", "config.json lost the recorded weights")
    }
}
