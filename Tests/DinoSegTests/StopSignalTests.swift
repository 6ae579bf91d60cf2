import XCTest
import Foundation
import DinoSegCore
import DinoSegBackbone
import DinoSegCache

/// The one Ctrl-C/SIGTERM mechanism (StopSignal over the CStopSignal shim): a first signal sets the flag and an
/// extraction stops after the shard being written; a second signal ends the process at once with 128 + signal.
final class StopSignalTests: XCTestCase {
    func testSIGTERMStopsExtractionAfterTheCurrentShard() throws {
        let tmp = try tempDir("stopsignal")
        try writeSyntheticData(to: tmp + "/data", train: 5, val: 1, seed: 3, sides: 40...120)
        var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/cache")
        o.views = 2; o.shardSize = 2; o.workers = 2; o.seed = 9; o.quiet = true

        StopSignal.install()
        defer {
            // Leave the test process as it was: flag cleared, Ctrl-C and SIGTERM with their default action.
            StopSignal.set(false)
            signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL)
        }
        XCTAssertFalse(StopSignal.isRequested)
        raise(SIGTERM)   // the handler only sets the flag: this process goes on
        XCTAssertTrue(StopSignal.isRequested, "SIGTERM should set the stop flag")
        var logs: [String] = []
        let m = try TrainExtraction.run(o, backbone: FakeBackbone()) { logs.append($0) }
        XCTAssertEqual(m.shards.count, 1, "a stop requested before the start ends after the first of 6 shards")
        XCTAssertTrue(logs.contains { $0.contains("stopped early: 1 of 6 shards") }, "\(logs)")
    }

    func testSecondSignalEndsTheProcessAtOnce() throws {
        let extract = try builtExecutable("extract")
        let tmp = try tempDir("stopsignal-cli")
        try writeSyntheticData(to: tmp + "/data", train: 40, val: 1, seed: 4, sides: 120...200)
        try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [16, 32, 48, 64], depths: [1, 1, 1, 1]), seed: 5,
                                   to: tmp + "/weights")
        let p = try startProcess(extract, ["train", "--data", tmp + "/data", "--list", "train", "--weights", tmp + "/weights",
                                           "--views", "4", "--shard-size", "40", "--workers", "1", "--out", tmp + "/cache"])
        // The manifest is saved after the handler is installed and before the first shard.
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: tmp + "/cache/manifest.json") && p.isRunning && Date() < deadline { usleep(5_000) }
        kill(p.pid, SIGINT)
        usleep(20_000)
        kill(p.pid, SIGINT)
        let r = try p.wait()
        XCTAssertEqual(r.reason, .exit, "the second SIGINT should end the process through the handler's _exit")
        XCTAssertEqual(r.status, 128 + SIGINT, "exit status after two SIGINTs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/cache/shard-00000.h5"), "no shard of 40 images should be finished")
    }
}
