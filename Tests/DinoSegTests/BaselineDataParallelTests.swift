import XCTest
import Foundation
@testable import DinoSegData
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline
@testable import DinoSegCLI

/// The PSPNet baseline on the one training loop: under `mpirun -np 2` the two processes train the model one process
/// trains on the same global batch (SyncBN, gradient all-reduce, rank 0 alone writes), and `--val-list` evaluates during
/// training as the heads' `--val-cache` does. A reduced PSPNet (widths / 16, one block per stage) on synthetic images
/// (seed 3), training seed 5.
final class BaselineDataParallelTests: TempDirTestCase {
    override class var tempTag: String { "baseline-dp" }
    static let tiny = ["--width-divisor", "16", "--blocks", "1,1,1,1", "--crop", "65", "--threads", "1", "--seed", "5",
                       "--log-interval", "1"]

    override func setUpWithError() throws {
        try super.setUpWithError()
        try writeSyntheticData(to: tmp + "/data", train: 6, val: 2, seed: 3, sides: 64...96, objects: 2)
    }

    func trainArguments(run: String) -> [String] {
        // Batch 3 over 2 processes: 1 + 2 images (an uneven split on purpose); 2 steps per epoch, 4 steps.
        ["baseline", "train", "--data", tmp + "/data", "--list", "train", "--run", run, "--epochs", "2", "--batch", "3"] + Self.tiny
    }

    func testTwoRanksTrainTheSingleProcessBaseline() throws {
        let mpirun = try DistributedTrainingTests.mpirun()
        let headtrain = try builtExecutable("headtrain")
        let one = tmp + "/one", two = tmp + "/two"
        let single = try DistributedTrainingTests.runProcess(headtrain, trainArguments(run: one))
        XCTAssertEqual(single.status, 0, "one process: \(single.output.suffix(800))")
        let pair = try DistributedTrainingTests.runProcess(mpirun, DistributedTrainingTests.mpirunArguments(ranks: 2) + [headtrain]
                                                           + trainArguments(run: two))
        XCTAssertEqual(pair.status, 0, "mpirun -np 2 headtrain baseline train: \(pair.output.suffix(800))")
        XCTAssertTrue(pair.output.contains("2 processes × 1 threads (1–2 images each)"), "the start line names the processes: \(pair.output.prefix(800))")

        let seeds = "data 3, training 5"
        let got = DistributedTrainingTests.losses(two), want = DistributedTrainingTests.losses(one)
        XCTAssertEqual(got.count, 4, "rank 0 alone logs: one line per step")
        XCTAssertEqual(want.count, 4)
        assertClose(got, want, rtol: 1e-4, seed: seeds, what: "2 ranks vs 1 process: losses of the 4 steps")

        let config = try PSPNetCheckpoint.config(of: one + "/last.safetensors")
        let a = try PSPNet(config: config), b = try PSPNet(config: config)
        let pa = try XCTUnwrap(try PSPNetCheckpoint.load(two + "/last.safetensors", into: a))
        let pb = try XCTUnwrap(try PSPNetCheckpoint.load(one + "/last.safetensors", into: b))
        XCTAssertEqual(pa, pb, "training progress in the checkpoints")
        XCTAssertEqual(a.batchesTracked, b.batchesTracked)
        // SyncBN: the running statistics are the global batch's on every rank, so rank 0's equal one process's.
        DistributedTrainingTests.assertSameState(a.params, a.stats, b.params, b.stats, rtol: 1e-3, seed: seeds, what: "2 ranks")
    }

    func testEvaluationDuringTrainingWritesMetrics() throws {
        let run = tmp + "/run"
        var command = try HeadTrainCommand.parseAsRoot(trainArguments(run: run) + [
            "--val-list", "val", "--eval-every", "1", "--eval-long-side", "96", "--eval-stride", "43"])
        try command.run()
        let result = try EvalResult.read(run + "/metrics.json")
        XCTAssertEqual(result.images, 2, "metrics.json: the two val images")
        XCTAssertEqual(result.checkpointStep, 4, "metrics.json: the evaluation after the last epoch")
        XCTAssertEqual(result.evalProtocol, EvalProtocol(mode: .slide, flip: true, crop: 65, stride: 43, longSide: 96))
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/confusion.csv"), "confusion.csv")
        let history = try JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: URL(fileURLWithPath: run + "/eval-history.json")))
        XCTAssertEqual(history.map(\.epoch), [1, 2], "eval-history.json: one evaluation per epoch")
        XCTAssertEqual(history.map(\.step), [2, 4])
        let events = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8).split(separator: "\n").filter { $0.contains("\"event\":\"eval\"") }
        XCTAssertEqual(events.count, 2, "log.jsonl: one eval line per evaluation")
    }

    func testEvaluationFlagsAreBounded() {
        let base = ["baseline", "train", "--data", "d", "--run", "r", "--crop", "65"]
        for bad in [["--eval-stride", "66"], ["--eval-stride", "0"], ["--eval-every", "-1"], ["--eval-long-side", "0"]] {
            XCTAssertThrowsError(try HeadTrainCommand.parseAsRoot(base + bad), "\(bad) should be refused")
        }
    }
}
