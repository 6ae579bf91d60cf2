import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegCache
@testable import DinoSegEval
@testable import DinoSegPipeline

/// One writer per run, sweep and cache directory (issue "Hardening, round 2", item 6). The lock held here stands for
/// another process: flock(2) locks of two open files conflict within one process as between two.
final class DirectoryLockTests: TempDirTestCase {
    override class var tempTag: String { "lock" }

    func refusal(_ dir: String, _ what: String) -> String {
        "\(dir): the \(what) is in use by process \(getpid()) (it holds \(dir)/.lock); wait for it to end or choose another directory"
    }

    func testSecondLockIsRefusedNamingTheHolderAndFreedOnRelease() throws {
        let first = try DirectoryLock(directory: tmp, what: "run directory")
        XCTAssertThrowsError(try DirectoryLock(directory: tmp, what: "run directory")) { e in
            XCTAssertEqual("\(e)", refusal(tmp, "run directory"))
        }
        first.release()
        XCTAssertNoThrow(try DirectoryLock(directory: tmp, what: "run directory"))
    }

    /// A trainer (seed 31, synthetic features) on a locked run directory writes nothing; unlocked, it trains.
    func testTrainerRefusesALockedRunDirectory() throws {
        let run = tmp + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let source = HeadTrainingTests.syntheticSource(images: 4, seed: 31)
        var options = TrainOptions()
        options.epochs = 1; options.batch = 2; options.threads = 1; options.seed = 31
        func trainer() -> HeadTrainer {
            HeadTrainer(head: HeadTrainingTests.headConfig(outputStride: 8), options: options, source: source, runDirectory: run,
                        resume: false, output: { _ in })
        }
        var other: DirectoryLock? = try DirectoryLock(directory: run, what: "run directory")
        XCTAssertThrowsError(try trainer().run()) { XCTAssertEqual("\($0)", refusal(run, "run directory")) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run), [".lock"], "the refused run wrote files")
        other = nil
        XCTAssertNil(other)
        XCTAssertEqual(try trainer().run().stepsDone, 2)
    }

    /// An extraction (seed 32) on a locked cache leaves the other run's temporary shard alone.
    func testExtractionRefusesALockedCacheDirectory() throws {
        try writeSyntheticData(to: tmp + "/data", train: 2, val: 1, seed: 32, sides: 40...60)
        let cache = tmp + "/cache"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let other = try DirectoryLock(directory: cache, what: "cache directory")
        let temporary = cache + "/.shard-00000.h5.tmp-999999"
        FileManager.default.createFile(atPath: temporary, contents: Data("partial".utf8))
        var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: cache)
        o.workers = 1; o.quiet = true; o.seed = 32
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }) {
            XCTAssertEqual("\($0)", refusal(cache, "cache directory"))
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: temporary), "the other run's temporary shard was removed")
        other.release()
        XCTAssertEqual(try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }.complete, true)
    }

    func testSweepRefusesALockedSweepDirectory() throws {
        let dir = tmp + "/sweep"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let other = try DirectoryLock(directory: dir, what: "sweep directory")
        defer { other.release() }
        let p = EvalProtocol(mode: .whole, flip: false, crop: 64, stride: 64, longSide: 64)
        let eval = EvalSettings(open: { _ in { nil } }, evalProtocol: p, backboneNote: nil)
        let settings = SweepSettings(jobs: SweepJob.plan(variants: [.head], widths: []), outputStride: 8, train: TrainOptions(),
                                     evalEvery: 0, examples: 0, runDirectory: dir, dataset: .synthetic, photoDirectory: nil)
        XCTAssertThrowsError(try Sweep.run(settings, source: HeadTrainingTests.syntheticSource(images: 2, seed: 33), eval: eval) { _ in }) {
            XCTAssertEqual("\($0)", refusal(dir, "sweep directory"))
        }
    }
}
