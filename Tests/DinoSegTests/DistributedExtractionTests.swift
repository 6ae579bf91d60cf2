import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegBackbone
@testable import DinoSegCache

/// `extract train|val` under `mpirun -np 2`: the ranks share the shards and rank 0 writes one manifest, and the cache is
/// byte for byte the one a single process writes (every shard and manifest.json). A 2-rank run stopped with SIGTERM
/// on rank 1, resumed with 2 ranks and killed (SIGKILL of rank 0), then finished by one process, gives the same bytes
/// and never rewrites a finished shard (a shard file the manifest does not list is adopted when valid, redone when
/// not; checked without mpirun too). The built `extract` binary runs on a synthetic dataset (seed 31) with a
/// random-weight small ConvNeXt (seed 5); the process helpers are DistributedTrainingTests'.
final class DistributedExtractionTests: XCTestCase {
    typealias Launcher = DistributedTrainingTests

    struct Fixture {
        var directory: String
        var data: String
        var weights: String
        var extract: String
        var mpirun: String
        var trainReference: String   // single-process `extract train` of trainArguments
    }
    nonisolated(unsafe) static let fixture = ClassFixture<Fixture>(tag: "mpi-extract")

    /// 20 images × 2 views in shards of 3: 14 shards, 7 rounds over 2 ranks.
    static let plannedTrainShards = 14
    func trainArguments(_ f: Fixture, out: String) -> [String] {
        ["train", "--data", f.data, "--list", "train", "--weights", f.weights, "--views", "2", "--shard-size", "3",
         "--stages", "1,2,3", "--workers", "1", "--batch", "2", "--seed", "4", "--out", out]
    }

    override class func tearDown() {
        fixture.remove()
        super.tearDown()
    }

    func setUpFixture() throws -> Fixture {
        let mpirun = try Launcher.mpirun()
        return try Self.fixture.get { tmp in
            let extract = try builtExecutable("extract")
            try writeSyntheticData(to: tmp + "/data", train: 20, val: 6, seed: 31, sides: 120...260)
            try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [16, 32, 48, 64], depths: [1, 1, 1, 1]), seed: 5,
                                       to: tmp + "/weights")
            let f = Fixture(directory: tmp, data: tmp + "/data", weights: tmp + "/weights", extract: extract, mpirun: mpirun,
                            trainReference: tmp + "/train-one")
            let r = try Launcher.runProcess(extract, trainArguments(f, out: f.trainReference))
            guard r.status == 0 else { throw DinoSegError("single-process extract train failed (\(r.status)): \(r.output.suffix(600))") }
            return f
        }
    }

    func testTwoRanksWriteTheSingleProcessTrainCache() throws {
        let f = try setUpFixture()
        let out = f.directory + "/train-two"
        let r = try Launcher.runProcess(f.mpirun, Launcher.mpirunArguments(ranks: 2) + [f.extract] + trainArguments(f, out: out))
        XCTAssertEqual(r.status, 0, "mpirun -np 2 extract train: \(r.output.suffix(800))")
        XCTAssertTrue(r.output.contains("2 processes, pending shard i on rank i mod 2"), "plan: \(r.output.prefix(800))")
        XCTAssertTrue(r.output.contains("[rank 1] images 20/20"), "rank 1 should extract the 7 odd-numbered shards (20 samples): \(r.output.suffix(800))")
        try assertSameCache(out, f.trainReference, what: "extract train, 2 ranks vs 1 process")
    }

    func testTwoRanksWriteTheSingleProcessValCache() throws {
        let f = try setUpFixture()
        func arguments(_ out: String) -> [String] {
            ["val", "--data", f.data, "--list", "val", "--weights", f.weights, "--mode", "slide", "--flip", "--long-side", "256",
             "--shard-size", "2", "--stages", "1,2,3", "--workers", "1", "--out", out]
        }
        let one = try Launcher.runProcess(f.extract, arguments(f.directory + "/val-one"))
        XCTAssertEqual(one.status, 0, "extract val: \(one.output.suffix(800))")
        let two = try Launcher.runProcess(f.mpirun, Launcher.mpirunArguments(ranks: 2) + [f.extract] + arguments(f.directory + "/val-two"))
        XCTAssertEqual(two.status, 0, "mpirun -np 2 extract val: \(two.output.suffix(800))")
        XCTAssertTrue(two.output.contains("[rank 1] images 2/2"), "rank 1 should extract shard 1 of 3 (2 images): \(two.output.suffix(800))")
        try assertSameCache(f.directory + "/val-two", f.directory + "/val-one", what: "extract val, 2 ranks vs 1 process")
    }

    func testStoppedAndKilledRanksResumeWithOneProcessWithoutRedoingShards() throws {
        let f = try setUpFixture()
        let out = f.directory + "/train-interrupted"
        let command = [f.extract] + trainArguments(f, out: out)

        // SIGTERM to rank 1 only: both ranks stop after the same round, rank 0 records every finished shard.
        let firstEnd = try Launcher.signalRank(1, SIGTERM, mpirun: f.mpirun, command: command) { try Self.waitForShards(2, in: out, while: $0) }
        let firstOutput = firstEnd.output
        XCTAssertNotEqual(firstEnd.status, 0, "a stopped extraction ends with an error: \(firstOutput.suffix(800))")
        XCTAssertTrue(firstOutput.contains("re-run the same command to resume"), "no clean stop reported: \(firstOutput.suffix(800))")
        let stopped = try CacheManifest.load(directory: out)
        XCTAssertLessThan(stopped.shards.count, Self.plannedTrainShards, "the run finished before it could be stopped")
        XCTAssertEqual(Set(stopped.shards.map(\.file)), Set(Self.shardFiles(out).keys), "a clean stop lists every finished shard")

        // Resumed with 2 ranks, then SIGKILL of rank 0 (the manifest writer) once two more shards are on disk: rank 1's
        // shards of this run are finished but not yet in the manifest.
        let second = try Launcher.signalRank(0, SIGKILL, mpirun: f.mpirun, command: command) {
            try Self.waitForShards(min(stopped.shards.count + 2, Self.plannedTrainShards - 1), in: out, while: $0)
        }
        XCTAssertNotEqual(second.status, 0, "mpirun should report the killed rank")

        // Finished by one process: every shard on disk is kept (same file, never rewritten), the rest is extracted.
        let before = Self.shardFiles(out)
        let listed = try CacheManifest.load(directory: out).shards.count
        XCTAssertGreaterThan(before.count, listed, "rank 1's shards of the killed run should be on disk but not in the manifest")
        let last = try Launcher.runProcess(f.extract, Array(command.dropFirst()))
        XCTAssertEqual(last.status, 0, "single-process resume: \(last.output.suffix(800))")
        let lines = last.output.split(separator: "\n").map(String.init)
        let resuming = lines.first { $0.contains("resuming:") } ?? "(no 'resuming' line)"
        XCTAssertTrue(resuming.contains("resuming: \(before.count) of \(Self.plannedTrainShards) shards"),
                      "all \(before.count) finished shards should be kept; the resume says: \(resuming)")
        let plan = lines.first { $0.contains("shards to do") } ?? "(no plan line)"
        XCTAssertTrue(plan.hasSuffix("; \(Self.plannedTrainShards - before.count) shards to do"), "plan of the resume: \(plan)")
        XCTAssertEqual(lines.filter { $0.contains("not yet in the manifest; verified, kept") }.count, before.count - listed,
                       "shards finished after rank 0's last save should be adopted")
        let after = Self.shardFiles(out)
        for (name, identity) in before {
            XCTAssertEqual(after[name], identity, "\(name) was rewritten by the resume (inode, mtime)")
        }
        try assertSameCache(out, f.trainReference, what: "2 ranks stopped, 2 ranks killed, 1 process finishing")
    }

    /// Without mpirun: shard files the manifest does not list (killed between the rename and the manifest save) are
    /// kept when complete and valid, and redone when not (here: truncated). FakeBackbone, data seed 3, augmentation 9.
    func testUnlistedShardsAreAdoptedOrRedone() throws {
        let tmp = try tempDir("adopt")
        try writeSyntheticData(to: tmp + "/data", train: 5, val: 1, seed: 3, sides: 40...120)
        func options(_ out: String) -> TrainExtractionOptions {
            var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: out)
            o.views = 2; o.shardSize = 2; o.workers = 2; o.seed = 9; o.quiet = true
            return o
        }
        try TrainExtraction.run(options(tmp + "/a"), backbone: FakeBackbone()) { _ in }
        var o = options(tmp + "/b")
        o.stopAfterShards = 3
        var m = try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }
        XCTAssertEqual(m.shards.map(\.index), [0, 1, 2])
        m.shards = [m.shards[0]]
        try m.save(directory: tmp + "/b")
        let shard2 = tmp + "/b/shard-00002.h5"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: shard2))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: shard2))
        let kept = Self.shardFiles(tmp + "/b")["shard-00001.h5"]

        o.stopAfterShards = nil
        var logs: [String] = []
        let resumed = try TrainExtraction.run(o, backbone: FakeBackbone()) { logs.append($0) }
        XCTAssertTrue(resumed.complete)
        XCTAssertTrue(logs.contains("shard-00001.h5: finished by an interrupted run but not yet in the manifest; verified, kept"), "\(logs)")
        XCTAssertTrue(logs.contains { $0.hasPrefix("shard-00002.h5: not in the manifest and not usable") }, "\(logs)")
        XCTAssertTrue(logs.contains { $0.hasPrefix("resuming: 2 of 6 shards") }, "\(logs)")
        XCTAssertEqual(Self.shardFiles(tmp + "/b")["shard-00001.h5"], kept, "the adopted shard was rewritten (inode, mtime)")
        try assertSameShards(tmp + "/b", tmp + "/a", seed: 9, what: "adopted and redone shards vs an uninterrupted run")
    }

    // MARK: helpers

    /// Every shard file and manifest.json byte for byte.
    func assertSameCache(_ actual: String, _ expected: String, what: String) throws {
        try assertSameShards(actual, expected, seed: "data 31, weights 5, augmentation 4", what: what)
        let a = try Data(contentsOf: URL(fileURLWithPath: actual + "/manifest.json"))
        let e = try Data(contentsOf: URL(fileURLWithPath: expected + "/manifest.json"))
        if let d = byteDifference(a, e) { XCTFail("\(what): manifest.json \(d)") }
        XCTAssertTrue(try CacheManifest.load(directory: actual).complete, "\(what): cache incomplete")
    }

    /// Finished shard files (not temporaries) with their inode and modification time.
    static func shardFiles(_ directory: String) -> [String: [Int]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var files: [String: [Int]] = [:]
        for name in names where name.hasPrefix("shard-") && name.hasSuffix(".h5") {
            var s = stat()
            guard stat(directory + "/" + name, &s) == 0 else { continue }
            files[name] = [Int(s.st_ino), Int(s.st_mtim.tv_sec), Int(s.st_mtim.tv_nsec)]
        }
        return files
    }

    /// Waits until `count` finished shard files exist (fails if the job ends first or after 120 s).
    static func waitForShards(_ count: Int, in directory: String, while process: Process) throws {
        try Launcher.waitFor("\(count) finished shards", in: directory, while: process, seconds: 120, pollMicroseconds: 5_000) {
            shardFiles(directory).count >= count
        }
    }
}
