import XCTest
@testable import DinoSegCore
@testable import DinoSegCache

/// Write failures (a full disk) end with one clean error, leave no half-written shard, never make HDF5 touch a
/// closed handle, and the re-run resumes to the same bytes as an uninterrupted run.
final class WriteFailureTests: XCTestCase {
    func testClosedHandlesAreNeverReused() throws {
        let dir = try tempDir("h5close")
        let f = try HDF5File.create(dir + "/a.h5")
        let ds = try f.createDataset("x", dtype: .f32, shape: [0, 3], extendable: true)
        try ds.extend(rows: 1)
        try ds.writeFloats(rows: 0, [1, 2, 3])
        try f.close()
        try f.close()  // a second close is a no-op
        XCTAssertThrowsError(try ds.writeFloats(rows: 0, [4, 5, 6])) {
            XCTAssertEqual("\($0)", "\(dir)/a.h5: dataset 'x': dataset is closed (its file was closed)")
        }
        XCTAssertThrowsError(try f.dataset("x")) { XCTAssertEqual("\($0)", "\(dir)/a.h5: HDF5 file is already closed") }
        XCTAssertEqual(try HDF5File.open(dir + "/a.h5").dataset("x").read(Float.self), [1, 2, 3])
    }

    /// A file-size limit (RLIMIT_FSIZE with SIGXFSZ ignored) makes HDF5's writes fail like a full disk does.
    func testFullDiskDuringTrainExtraction() throws {
        let tmp = try tempDir("fulldisk")
        try writeSyntheticData(to: tmp + "/data", train: 4, val: 1, seed: 8, sides: 40...90)
        func options(_ out: String) -> TrainExtractionOptions {
            var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: out)
            o.shardSize = 2; o.workers = 1; o.quiet = true; o.seed = 4
            return o
        }
        let reference = try TrainExtraction.run(options(tmp + "/a"), backbone: FakeBackbone()) { _ in }
        XCTAssertGreaterThan(reference.shards[0].bytes, 150_000, "the shard must outgrow the limit below")

        var old = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
        var limit = old
        limit.rlim_cur = 120_000
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
        var failure: Error? = nil
        do { try TrainExtraction.run(options(tmp + "/b"), backbone: FakeBackbone()) { _ in } } catch { failure = error }
        setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
        signal(SIGXFSZ, oldHandler)

        let error = try XCTUnwrap(failure, "the extraction did not fail under a 120 kB file-size limit")
        XCTAssertTrue(error is DinoSegError, "\(error)")
        XCTAssertTrue("\(error)".contains("(disk full?)") && !"\(error)".contains("\n"), "\(error)")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: tmp + "/b").contains { $0.contains(".tmp-") },
                       "a temporary shard was left behind")
        // The same command again finishes the cache; it is byte-identical to the uninterrupted one.
        let resumed = try TrainExtraction.run(options(tmp + "/b"), backbone: FakeBackbone()) { _ in }
        XCTAssertEqual(resumed.shards, reference.shards)
    }
}
