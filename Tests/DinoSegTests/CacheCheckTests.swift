import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegCache
@testable import DinoSegEval

/// Caches edited or damaged after extraction (as with h5py or a text editor) are refused with one line naming the file
/// and what is wrong — by the readers (`headtrain train/eval`), by `extract verify` and by a resumed extraction — and
/// never read out of bounds. Shards are edited in place with the project's own HDF5 writer.
final class CacheCheckTests: TempDirTestCase {
    override class var tempTag: String { "cachecheck" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try writeSyntheticData(to: tmp + "/data", train: 3, val: 3, seed: 11, sides: 60...140)
    }

    func trainOptions(_ out: String) -> TrainExtractionOptions {
        var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/" + out)
        o.stages = [1, 2, 3]; o.shardSize = 2; o.workers = 2; o.seed = 9; o.quiet = true
        return o
    }

    @discardableResult
    func makeTrain(_ out: String) throws -> String {
        try TrainExtraction.run(trainOptions(out), backbone: FakeBackbone()) { _ in }
        return tmp + "/" + out
    }

    @discardableResult
    func makeVal(_ out: String, mode: EvalMode) throws -> String {
        var o = ValExtractionOptions(dataRoot: tmp + "/data", list: "val", out: tmp + "/" + out)
        o.mode = mode; o.flip = true; o.longSide = 256; o.stages = [1, 2, 3]; o.shardSize = 2; o.workers = 2; o.quiet = true
        try ValExtraction.run(o, backbone: FakeBackbone()) { _ in }
        return tmp + "/" + out
    }

    /// Rewrites row `row` of an int32 or uint8 dataset of shard `file` in place (as h5py would).
    func edit(_ dir: String, _ file: String, _ name: String, row: Int, _ change: (inout [Int32]) -> Void) throws {
        let f = try HDF5File.open(dir + "/" + file, writable: true)
        let ds = try f.dataset(name)
        if ds.dtype == .u8 {
            var v = try ds.read(UInt8.self, rows: row, count: 1).map { Int32($0) }
            change(&v)
            try ds.writeUInt8(rows: row, v.map { UInt8($0) })
        } else {
            var v = try ds.read(Int32.self, rows: row, count: 1)
            change(&v)
            try ds.writeInt32(rows: row, v)
        }
        try f.close()
    }

    /// Records the shard's new checksum and size in the manifest, as a careful editor would (so that only the content
    /// checks can catch the edit).
    func rehash(_ dir: String, _ file: String) throws {
        var m = try CacheManifest.load(directory: dir)
        let i = m.shards.firstIndex { $0.file == file }!
        m.shards[i].sha256 = try SHA256.hex(ofFile: dir + "/" + file)
        m.shards[i].bytes = (try FileManager.default.attributesOfItem(atPath: dir + "/" + file)[.size] as! NSNumber).intValue
        try m.save(directory: dir)
    }

    func editManifest(_ dir: String, _ change: (inout CacheManifest) -> Void) throws {
        var m = try CacheManifest.load(directory: dir)
        change(&m)
        try m.save(directory: dir)
    }

    /// Runs `body`; it must throw one line that contains every part.
    func assertRefused(_ body: () throws -> Void, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("accepted; expected an error containing \(parts)", file: file, line: line)
        } catch {
            let m = "\(error)"
            XCTAssertFalse(m.contains("\n"), "not one line: \(m)", file: file, line: line)
            for p in parts { XCTAssertTrue(m.contains(p), "error lacks '\(p)': \(m)", file: file, line: line) }
        }
    }

    /// Everything `headtrain eval` reads: every image of the val cache.
    func readAllVal(_ dir: String) throws {
        let (eval, _) = try ValCacheEval.settings(directory: dir)
        let next = try eval.open([1, 2, 3])
        while try next() != nil {}
    }

    /// Everything `headtrain train` reads in epoch 0.
    func readAllTrain(_ dir: String) throws {
        let r = try TrainCacheReader(directory: dir)
        _ = try r.readBatch(r.epochOrder(epoch: 0, seed: 1), stages: [1, 2, 3])
    }

    /// The problems `extract verify` reports, on one line each.
    func verifyProblems(_ dir: String) throws -> [String] {
        let p = try CacheVerifier.verify(directory: dir).problems
        XCTAssertTrue(p.allSatisfy { !$0.contains("\n") }, "\(p)")
        return p
    }

    // MARK: item 3: the manifest

    func testManifestThatContradictsItselfIsRefusedEverywhere() throws {
        let val = try makeVal("val", mode: .slide)
        XCTAssertEqual(try verifyProblems(val), [])
        let original = try CacheManifest.load(directory: val)
        let cases: [((inout CacheManifest) -> Void, [String])] = [
            ({ $0.imageIDs = [$0.imageIDs[0]] }, ["imageIDs has 1 entries but config.imageCount is 3"]),
            ({ $0.shards[1].index = 7 }, ["shards[1].index 7 is outside 0..<2"]),
            ({ $0.shards[1].index = 0; $0.shards[1].file = "shard-00000.h5" }, ["shards[1].index 0", "repeated"]),
            ({ $0.shards[0].file = "../../etc/passwd" }, ["shards[0].file is '../../etc/passwd'"]),
            ({ $0.plannedShards = 1; $0.shards.removeLast() }, ["plannedShards is 1", "make 2"]),
            ({ $0.shards[0].images = 5 }, ["shards[0].images is 5", "room for 2"]),
            ({ $0.config.evalProtocol!.stride = 0 }, ["stride is 0"]),
            ({ $0.config.stages = [1, 7] }, ["stages [1, 7]"]),
            ({ $0.config.evalProtocol!.longSide = 8192; $0.config.evalProtocol!.stride = 1 }, ["long side 8192, crop 224, stride 1", "feature values per image"]),
            ({ $0.config.shardSize = Int.max }, ["plannedShards is 2", "make 1"]),
        ]
        for (change, parts) in cases {
            try original.save(directory: val)
            try editManifest(val, change)
            let expected = ["\(val)/manifest.json: "] + parts + ["re-extract"]
            assertRefused({ _ = try CacheVerifier.verify(directory: val) }, expected)
            assertRefused({ try self.readAllVal(val) }, expected)
        }
    }

    // MARK: item 2: val window geometry

    func testEditedValGeometryIsRefusedBeforeAnyRead() throws {
        let whole = try makeVal("whole", mode: .whole), slide = try makeVal("slide", mode: .slide)
        try readAllVal(whole); try readAllVal(slide)
        let shard = "shard-00000.h5"
        let ids = try CacheManifest.load(directory: whole).imageIDs
        // (cache, dataset, row, the edit, what the error must name)
        let cases: [(String, String, Int, (inout [Int32]) -> Void, [String])] = [
            (whole, "window_yx", 0, { $0 = [1, 1] }, ["window 0 of \(ids[0])", "window_yx (1, 1)", "not inside its"]),
            (whole, "window_hw", 1, { $0 = [600, 600] }, ["window 1 of \(ids[0])", "window_hw 600x600", "not inside its"]),
            (slide, "window_yx", 0, { $0 = [0, 1] }, ["window 0 of \(ids[0]) is at (0, 1)", "puts its window 1 at (0, 0)"]),
            (slide, "window_hw", 0, { $0 = [100, 100] }, ["window_hw[0] (\(ids[0])) is 100x100", "uses 224x224 windows"]),
            (whole, "image_info", 0, { $0[1] = 70_000; $0[2] = 50_000 }, ["image_info[0] (\(ids[0])) gives the image size 70000x50000"]),
            (whole, "image_info", 1, { $0[1] = 100; $0[2] = 70 }, ["image_info[1] (\(ids[1])) gives resized h, w",
                                                                   "for a 100x70 image", "gives [256, 179, 256, 224, 0, 22]"]),
            (whole, "image_info", 1, { $0[0] = 0 }, ["image_info[1] names image 0", "increasing order"]),
            (slide, "window_image", 0, { $0 = [2] }, ["window_image[0] is 2, expected image 0"]),
            (slide, "window_flipped", 1, { $0 = [0] }, ["window 1 of \(ids[0])", "flipped 0"]),
        ]
        for (dir, name, row, change, parts) in cases {
            let backup = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + shard))
            let manifest = try CacheManifest.load(directory: dir)
            try edit(dir, shard, name, row: row, change)
            // `headtrain eval` reads the edited shard (it does not recompute checksums): refused before any use.
            assertRefused({ try self.readAllVal(dir) }, ["\(dir)/\(shard): "] + parts + ["extract verify \(dir)"])
            // `extract verify` flags the changed checksum; with the manifest updated to match, the content.
            XCTAssertEqual(try verifyProblems(dir), ["\(dir)/\(shard): checksum mismatch (file changed or damaged)"])
            try rehash(dir, shard)
            let problems = try verifyProblems(dir)
            XCTAssertEqual(problems.count, 1, "\(problems)")
            XCTAssertTrue(parts.allSatisfy { problems.first?.contains($0) ?? false }, "\(problems)")
            try backup.write(to: URL(fileURLWithPath: dir + "/" + shard))
            try manifest.save(directory: dir)
        }
        try readAllVal(whole); try readAllVal(slide)

        // A label offset past the labels, and a val label value out of range.
        let f = try HDF5File.open(whole + "/" + shard, writable: true)
        try f.dataset("label_offset").writeInt64(rows: 1, [1 << 40])
        try f.close()
        assertRefused({ try self.readAllVal(whole) }, ["\(whole)/\(shard): label_offset[1] (\(ids[1])) is 1099511627776, the labels before it end at"])
        try edit(slide, shard, "label_data", row: 5) { $0 = [250] }
        assertRefused({ try self.readAllVal(slide) }, ["\(slide)/\(shard): label of \(ids[0]) (dataset 'label_data') has the value 250 at (y 0, x 5)"])
    }

    // MARK: item 8: train labels, indices and views

    func testTrainCacheWithBadLabelsOrIndicesIsRefused() throws {
        let dir = try makeTrain("train")
        try readAllTrain(dir)
        let shard = "shard-00001.h5"   // image 2 only
        try edit(dir, shard, "label", row: 0) { $0 = [Int32](repeating: 250, count: $0.count) }
        assertRefused({ try self.readAllTrain(dir) }, ["\(dir)/\(shard): dataset 'label' row 0 has the value 250 at (y 0, x 0)", "labels are 0–20 or 255"])
        try rehash(dir, shard)
        XCTAssertEqual(try verifyProblems(dir).count, 1)
        // A resumed extraction redoes the shard instead of keeping it.
        var logs: [String] = []
        try TrainExtraction.run(trainOptions("train"), backbone: FakeBackbone()) { logs.append($0) }
        XCTAssertTrue(logs.contains { $0.contains("value 250") && $0.hasSuffix("will redo it") }, "\(logs)")
        XCTAssertEqual(try verifyProblems(dir), [])
        try readAllTrain(dir)

        try edit(dir, shard, "image_index", row: 0) { $0 = [99] }
        assertRefused({ try self.readAllTrain(dir) }, ["\(dir)/\(shard): image_index[0] is 99", "images 2..<3"])
        try edit(dir, shard, "image_index", row: 0) { $0 = [2] }
        try edit(dir, shard, "view", row: 0) { $0 = [1] }
        assertRefused({ try self.readAllTrain(dir) }, ["\(dir)/\(shard): view[0] is 1"])
    }

    func testFirstInvalidLabelMatchesTheNaiveScan() {
        var rng = SplitMix64(seed: 21)
        for (count, classes, bad) in [(0, 21, -1), (63, 21, -1), (64, 21, 0), (200, 21, 130), (200, 21, 199), (1000, 21, 63),
                                      (1000, 21, -1), (129, 6, 128), (70, 2, 65)] {
            var labels = (0..<count).map { _ in rng.next() % 4 == 0 ? UInt8(255) : UInt8(rng.next() % UInt64(classes)) }
            if bad >= 0 { labels[bad] = UInt8(classes) + UInt8(rng.next() % UInt64(255 - classes)) }
            let naive = labels.firstIndex { $0 != 255 && Int($0) >= classes }
            let fast = labels.withUnsafeBufferPointer { firstInvalidLabel($0, classes: classes) }
            XCTAssertEqual(fast, naive, "seed 21: \(count) labels, \(classes) classes, bad at \(bad)")
        }
    }

    // MARK: smaller one: the manifest's configuration against the shards' attribute

    func testEditedSeedInTheManifestIsRefused() throws {
        let dir = try makeTrain("seed")
        try editManifest(dir) { $0.config.seed = 10 }
        let parts = ["\(dir)/shard-00000.h5: was made with another configuration", "seed: 9 → 10"]
        let problems = try verifyProblems(dir)
        XCTAssertEqual(problems.count, 2, "\(problems)")
        XCTAssertTrue(parts.allSatisfy { problems[0].contains($0) }, "\(problems)")
        // The reader opens shards in shuffled order: either may be the first it refuses.
        assertRefused({ try self.readAllTrain(dir) }, ["\(dir)/shard-0000", "was made with another configuration", "seed: 9 → 10"])
        var o = trainOptions("seed")
        o.seed = 10
        assertRefused({ try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in } }, parts + ["new --out"])
    }
}
