import XCTest
@testable import DinoSegCache
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegCLI

/// `headtrain sweep --baseline RUN`: a tiny PSPNet baseline (widths / 16, one block per stage, seed 3) trained and
/// evaluated on synthetic data (seed 3) appears beside the DINOv3 row of a sweep on caches of the same data (fake
/// backbone, extraction seed 4), with its own numbers, added to a finished sweep without retraining; baselines
/// evaluated on other images, on other labels (synthetic data of seed 5, same image names) or not at all are refused.
final class SweepBaselineTests: XCTestCase {
    func synth(_ dir: String, seed: UInt64) throws {
        try writeSyntheticData(to: dir, train: 8, val: 2, seed: seed, sides: 64...96, objects: 2)
    }

    func assertRefused(_ args: [String], _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try runCommand(HeadTrainCommand.self, args), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for p in parts { XCTAssertTrue(text.contains(p), "'\(p)' missing in: \(text)", file: file, line: line) }
        }
    }

    func testBaselineRowsBesideTheSweepOnlyForTheSameValImages() throws {
        let dir = try tempDir("sweepbaseline")
        let data = dir + "/data"
        try synth(data, seed: 3)
        let backbone = FakeBackbone(channels: [8, 16, 16, 24])
        var t = TrainExtractionOptions(dataRoot: data, list: "train", out: dir + "/cache")
        t.views = 1; t.shardSize = 4; t.workers = 2; t.seed = 4; t.stages = [3]; t.quiet = true
        _ = try TrainExtraction.run(t, backbone: backbone) { _ in }
        var v = ValExtractionOptions(dataRoot: data, list: "val", out: dir + "/cache-val")
        v.mode = .whole; v.longSide = 96; v.stages = [3]; v.workers = 2; v.quiet = true
        _ = try ValExtraction.run(v, backbone: backbone) { _ in }

        // The baseline, trained and evaluated on the same val list.
        let psp = dir + "/psp"
        let tiny = ["--width-divisor", "16", "--blocks", "1,1,1,1", "--crop", "65", "--batch", "4", "--threads", "2", "--seed", "3",
                    "--log-interval", "100"]
        let evalArgs = ["--mode", "whole", "--long-side", "96", "--no-flip", "--threads", "2"]
        try runCommand(HeadTrainCommand.self, ["baseline", "train", "--data", data, "--list", "train", "--run", psp, "--epochs", "1"] + tiny)
        let sweepArgs = ["sweep", "--cache", dir + "/cache", "--val-cache", dir + "/cache-val", "--run", dir + "/sweep",
                         "--variants", "head", "--epochs", "1", "--batch", "4", "--threads", "2", "--eval-every", "0",
                         "--examples", "0"]
        assertRefused(sweepArgs + ["--baseline", psp], [psp, "no evaluation yet", "headtrain baseline eval"])
        try runCommand(HeadTrainCommand.self, ["baseline", "eval", "--run", psp, "--data", data, "--list", "val"] + evalArgs)
        let baseline = try EvalResult.read(psp + "/metrics.json")
        XCTAssertEqual(baseline.data, EvalData(imageIDs: ["synth_val_00000", "synth_val_00001"], list: data + "/ImageSets/Segmentation/val.txt"))

        // A finished sweep without baselines, then the same command with one: the job is kept, the row added.
        try runCommand(HeadTrainCommand.self, sweepArgs)
        XCTAssertEqual(try String(contentsOfFile: dir + "/sweep/results.csv", encoding: .utf8).split(separator: "\n").count, 2)
        let checkpoint = dir + "/sweep/head/last.safetensors"
        let trainedAt = try FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate] as! Date
        try runCommand(HeadTrainCommand.self, sweepArgs + ["--baseline", psp])
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate] as? Date, trainedAt,
                       "the finished job must not be retrained")
        let head = try EvalResult.read(dir + "/sweep/head/metrics.json")
        XCTAssertEqual(baseline.confusion.target, head.confusion.target, "seed 3: the same val labels seen through both evaluations")

        let m = baseline.metrics
        let numbers = [m.mIoU, m.mAcc, m.allAcc].map { String(format: "%.4f", $0) }
        let model = "PSPNet ResNet-14 (widths 4/4,8,16,32) (OS 8)"
        let md = try String(contentsOfFile: dir + "/sweep/results.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| 2 | \(model) | " + numbers.joined(separator: " | ") + " |"), md)
        XCTAssertTrue(md.contains("Baseline \(model): PSPNet ResNet-14"), md)
        let csv = try String(contentsOfFile: dir + "/sweep/results.csv", encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(csv.count, 3, "header, the head, the baseline")
        XCTAssertEqual(csv[1][0], "head")
        XCTAssertEqual(Array(csv[2][0...7]), ["pspnet-baseline", "", "8", "1"] + numbers + [String(format: "%.4f", m.mIoUPresent)],
                       "seed 3: the baseline's row holds its own metrics.json")
        XCTAssertEqual(csv[2][11], "2", "checkpoint step (8 images / batch 4, 1 epoch)")
        XCTAssertEqual(csv[2].last, psp)
        let html = try String(contentsOfFile: dir + "/sweep/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<td>\(model)</td><td>\(numbers[0])</td><td>\(numbers[1])</td><td>\(numbers[2])</td>"), html.prefix(3000).description)
        XCTAssertTrue(html.contains("baseline: \(model)"), "per-class IoU bars of the baseline")
        XCTAssertEqual(html.components(separatedBy: "<polyline").count - 1 >= 2, true, "loss curves of the head and the baseline")

        // Evaluated on other images (the train list): refused before anything is trained.
        let other = dir + "/psp-train"
        try FileManager.default.copyItem(atPath: psp, toPath: other)
        try runCommand(HeadTrainCommand.self, ["baseline", "eval", "--run", other, "--data", data, "--list", "train"] + evalArgs)
        assertRefused(sweepArgs + ["--baseline", psp, "--baseline", other], [other, "other data", "8 synthetic images"])
        // The same image names with other labels (another synthetic set): refused at the labelled pixels.
        try synth(dir + "/data5", seed: 5)
        let relabelled = dir + "/psp-data5"
        try FileManager.default.copyItem(atPath: psp, toPath: relabelled)
        try runCommand(HeadTrainCommand.self, ["baseline", "eval", "--run", relabelled, "--data", dir + "/data5", "--list", "val"] + evalArgs)
        assertRefused(sweepArgs + ["--baseline", relabelled], [relabelled, "other val labels"])
        assertRefused(sweepArgs + ["--baseline", dir + "/sweep/head"], [dir + "/sweep/head", "not the config.json of a baseline run"])
    }
}
