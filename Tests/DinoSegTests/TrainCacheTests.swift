import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache

final class TrainCacheTests: XCTestCase {
    func makeData(_ root: String, train: Int = 5, seed: UInt64 = 3) throws {
        try writeSyntheticData(to: root, train: train, val: 2, seed: seed, sides: 40...120)
    }

    func options(_ root: String, _ out: String) -> TrainExtractionOptions {
        var o = TrainExtractionOptions(dataRoot: root, list: "train", out: out)
        o.views = 2; o.shardSize = 2; o.workers = 2; o.seed = 9; o.quiet = true
        return o
    }

    func testExtractInterruptResumeVerifyAndRead() throws {
        let tmp = try tempDir("traincache")
        let root = tmp + "/data"
        try makeData(root)
        let backbone = FakeBackbone()
        var logs: [String] = []

        // Uninterrupted reference run.
        let a = try TrainExtraction.run(options(root, tmp + "/a"), backbone: backbone) { _ in }
        XCTAssertEqual(a.plannedShards, 6)
        XCTAssertTrue(a.complete)
        XCTAssertEqual(a.shards.map(\.view), [0, 0, 0, 1, 1, 1])
        XCTAssertEqual(a.shards.map(\.samples), [2, 2, 1, 2, 2, 1])

        // Interrupted after 2 shards, plus a crash leftover and a damaged shard; then resumed.
        var o = options(root, tmp + "/b")
        o.stopAfterShards = 2
        let partial = try TrainExtraction.run(o, backbone: backbone) { logs.append($0) }
        XCTAssertEqual(partial.shards.count, 2)
        XCTAssertFalse(partial.complete)
        XCTAssertTrue(logs.contains { $0.contains("stopped early") })
        XCTAssertThrowsError(try TrainCacheReader(directory: tmp + "/b")) { XCTAssertTrue("\($0)".contains("incomplete (2 of 6 shards)")) }
        try Data("junk".utf8).write(to: URL(fileURLWithPath: tmp + "/b/.shard-00002.h5.tmp-999"))
        let shard1 = tmp + "/b/shard-00001.h5"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: shard1))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: shard1))
        XCTAssertFalse(try CacheVerifier.verify(directory: tmp + "/b").problems.isEmpty)

        logs = []
        o.stopAfterShards = nil
        let resumed = try TrainExtraction.run(o, backbone: backbone) { logs.append($0) }
        XCTAssertTrue(resumed.complete)
        XCTAssertTrue(logs.contains { $0.contains("shard-00001.h5: checksum mismatch") }, "\(logs)")
        XCTAssertTrue(logs.contains { $0.contains("resuming: 1 of 6") }, "\(logs)")
        try assertSameShards(tmp + "/b", tmp + "/a", seed: 9, what: "resumed cache vs uninterrupted run")
        XCTAssertEqual(resumed.shards, a.shards)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: tmp + "/b").contains { $0.contains(".tmp-") })
        XCTAssertTrue(try CacheVerifier.verify(directory: tmp + "/b").problems.isEmpty)

        // Running again does nothing; a different configuration is refused with what differs.
        logs = []
        _ = try TrainExtraction.run(o, backbone: backbone) { logs.append($0) }
        XCTAssertTrue(logs.contains { $0.contains("nothing to do") })
        var other = o
        other.seed = 10
        XCTAssertThrowsError(try TrainExtraction.run(other, backbone: backbone) { _ in }) {
            XCTAssertTrue("\($0)".contains("seed: 9 → 10") && "\($0)".contains("Use a new --out"), "\($0)")
        }

        // Reader: order, determinism, content.
        let reader = try TrainCacheReader(directory: tmp + "/a")
        XCTAssertEqual(reader.samplesPerEpoch(), 5)
        let e0 = reader.epochOrder(epoch: 0, seed: 1), e0b = reader.epochOrder(epoch: 0, seed: 1)
        XCTAssertEqual(e0, e0b)
        XCTAssertEqual(e0.count, 5)
        XCTAssertTrue(e0.allSatisfy { reader.manifest.shards[$0.shard].view == 0 })
        XCTAssertTrue(reader.epochOrder(epoch: 1, seed: 1).allSatisfy { reader.manifest.shards[$0.shard].view == 1 })
        XCTAssertEqual(Set(e0.map { "\($0.shard)-\($0.row)" }).count, 5)

        let stream = reader.batches(epoch: 1, seed: 1, batchSize: 2, startBatch: 0, stages: [0, 3])
        var batches: [TrainBatch] = []
        for b in stream { batches.append(b) }
        XCTAssertNil(stream.failure)
        XCTAssertEqual(batches.count, 2)   // 5 samples, batch 2: the last partial batch is dropped
        let order = reader.epochOrder(epoch: 1, seed: 1)
        let samples = try SegmentationDataset(root: root, list: "train").samples
        for (bi, batch) in batches.enumerated() {
            XCTAssertEqual(batch.count, 2)
            XCTAssertEqual(batch.stageShapes[0]!.h, 56); XCTAssertEqual(batch.stageShapes[3]!.c, 20)
            for i in 0..<2 {
                let ref = order[bi * 2 + i]
                let image = reader.manifest.shards[ref.shard].images > 0 ? batch.imageIndices[i] : -1
                // Recompute this sample from scratch and compare.
                let (img, lab) = try loadSample(samples[image], .voc)
                var rng = augmentationRNG(seed: 9, imageIndex: image, view: 1)
                let (crop, label, _) = augment(img, lab, rng: &rng)
                let maps = normalise(crop).withUnsafeBufferPointer { backbone.forward(image: $0.baseAddress!, height: 224, width: 224, stages: [0, 3]) }
                XCTAssertNil(byteDifference(Data(batch.labels[(i * 224 * 224)..<((i + 1) * 224 * 224)]), Data(label.pixels)),
                             "seed 9 image \(image): cached label vs recomputed")
                for (si, k) in [0, 3].enumerated() {
                    let per = maps[si].data.count
                    // The cache holds exactly the f16 rounding of the features (same fake backbone, same input).
                    assertClose(batch.stages[k]![(i * per)..<((i + 1) * per)], maps[si].data.map { Float(Float16($0)) }, rtol: 0,
                                shape: [maps[si].height, maps[si].width, maps[si].channels], seed: 9,
                                what: "cached image \(image) view 1 stage \(k) vs recomputed")
                }
            }
        }
        // Starting at batch 1 gives the second batch.
        let later = Array(reader.batches(epoch: 1, seed: 1, batchSize: 2, startBatch: 1, stages: [3]))
        XCTAssertEqual(later.count, 1)
        assertClose(later[0].stages[3]!, batches[1].stages[3]!, rtol: 0, seed: 1, what: "epoch 1 batch 1 read alone vs in sequence")

        // h5py sees the documented layout.
        if let out = try runPythonWithH5py("""
            import h5py, json
            f = h5py.File('\(tmp)/a/shard-00000.h5', 'r')
            print(sorted(f.keys()))
            print(f['stage0'].shape, f['stage0'].dtype, f['stage0'].chunks, f['stage3'].shape, f['label'].shape, f['label'].dtype)
            print(f['image_index'][:].tolist(), f['view'][:].tolist(), json.loads(f.attrs['manifest'])['kind'])
            """) {
            XCTAssertEqual(out.split(separator: "\n").map(String.init), [
                "['image_index', 'label', 'stage0', 'stage1', 'stage2', 'stage3', 'view']",
                "(2, 56, 56, 8) float16 (1, 56, 56, 8) (2, 7, 7, 20) (2, 224, 224) uint8",
                "[0, 1] [0, 0] train",
            ])
        }
    }

    func testBadInputsAndSkipBad() throws {
        let tmp = try tempDir("badcache")
        let root = tmp + "/data"
        try makeData(root, train: 3)
        let ds = try SegmentationDataset(root: root, list: "train")
        var label = try ImageIO.readLabel(ds.samples[1].labelPath)
        label.pixels[0] = 37
        try ImageIO.writeLabelPNG(label, to: ds.samples[1].labelPath)
        var o = options(root, tmp + "/c")
        o.views = 1
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }) {
            XCTAssertTrue("\($0)".contains("\(ds.samples[1].labelPath): pixel (x 0, y 0): label value 37 is not a voc2012 label"), "\($0)")
            XCTAssertTrue("\($0)".contains("--skip-bad"), "\($0)")
        }
        // Nothing already written is lost: shard 0 (images 0, 1) failed, so no shard is finished yet; the manifest
        // exists and the directory holds no temporaries.
        XCTAssertEqual(try CacheManifest.load(directory: tmp + "/c").shards.count, 0)

        // Truncated JPEG, skipped with --skip-bad.
        let jpg = ds.samples[2].imagePath
        let data = try Data(contentsOf: URL(fileURLWithPath: jpg))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: jpg))
        o.skipBad = true
        o.out = tmp + "/d"
        let m = try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }
        XCTAssertTrue(m.complete)
        XCTAssertEqual(m.shards.map(\.samples), [1, 0])
        XCTAssertEqual(m.skipped.count, 2)
        XCTAssertTrue(m.skipped[1].contains("truncated or corrupt JPEG"), "\(m.skipped)")
        XCTAssertEqual(try TrainCacheReader(directory: tmp + "/d").samplesPerEpoch(), 1)

        // Features beyond the float16 range are refused (f32 stores them).
        var big = options(root, tmp + "/big"); big.skipBad = true; big.views = 1
        XCTAssertThrowsError(try TrainExtraction.run(big, backbone: FakeBackbone(gain: 1e6)) { _ in }) {
            XCTAssertTrue("\($0)".contains("does not fit float16; use --dtype f32"), "\($0)")
        }
        big.dtype = .f32; big.out = tmp + "/big32"
        XCTAssertTrue(try TrainExtraction.run(big, backbone: FakeBackbone(gain: 1e6)) { _ in }.complete)

        // Missing list entries and an unwritable output directory.
        try "synth_train_00000\nmissing_one\n".write(toFile: root + "/m.txt", atomically: true, encoding: .utf8)
        var om = options(root, tmp + "/e"); om.list = root + "/m.txt"
        XCTAssertThrowsError(try TrainExtraction.run(om, backbone: FakeBackbone()) { _ in }) {
            XCTAssertTrue("\($0)".contains("missing_one.jpg"), "\($0)")
        }
        // An output path below a regular file cannot be created (this holds for root, too).
        var of = options(root, root + "/m.txt/cache"); of.skipBad = true
        XCTAssertThrowsError(try TrainExtraction.run(of, backbone: FakeBackbone()) { _ in }) {
            XCTAssertTrue("\($0)".hasPrefix(root + "/m.txt/cache: cannot create output directory"), "\($0)")
        }
        try FileManager.default.createDirectory(atPath: tmp + "/ro", withIntermediateDirectories: true)
        chmod(tmp + "/ro", 0o500)
        defer { chmod(tmp + "/ro", 0o700) }
        if getuid() != 0 {
            var or = options(root, tmp + "/ro/cache"); or.skipBad = true
            XCTAssertThrowsError(try TrainExtraction.run(or, backbone: FakeBackbone()) { _ in }) {
                XCTAssertTrue("\($0)".hasPrefix(tmp + "/ro/cache: cannot create output directory"), "\($0)")
            }
        }
    }
}

final class RealBackboneExtractionTests: XCTestCase {
    /// With the real (small random-weight) ConvNeXt, whose batched passes may differ from single-image ones in the last
    /// bits: --workers does not change the shards, the manifest records --batch, and a resume with another --batch
    /// keeps the recorded one, so the result is byte-identical to an uninterrupted run.
    func testWorkersAndResumeKeepShardsByteIdentical() throws {
        guard let weights = Bundle.module.path(forResource: "golden-small", ofType: nil, inDirectory: "Fixtures") else {
            return XCTFail("missing fixture golden-small")
        }
        let tmp = try tempDir("realbb")
        try writeSyntheticData(to: tmp + "/data", train: 8, val: 0, seed: 8, sides: 60...150)
        let backbone = try ConvNeXtBackbone(weightsPath: weights)
        func options(_ out: String, workers: Int, batch: Int) -> TrainExtractionOptions {
            var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/" + out)
            o.batch = batch; o.shardSize = 4; o.workers = workers; o.quiet = true; o.seed = 8
            return o
        }
        // Shards of 4 images in groups of 3: [0 1 2] [3] | [4 5 6] [7].
        let reference = try TrainExtraction.run(options("a", workers: 2, batch: 3), backbone: backbone) { _ in }
        XCTAssertEqual(reference.config.backbone.hiddenSizes, [16, 32, 48, 64])
        XCTAssertEqual(reference.config.batch, 3)
        XCTAssertEqual(reference.shards.count, 2)

        var first = options("b", workers: 1, batch: 3)
        first.stopAfterShards = 1
        XCTAssertEqual(try TrainExtraction.run(first, backbone: backbone) { _ in }.shards.count, 1)
        var logs: [String] = []
        let resumed = try TrainExtraction.run(options("b", workers: 2, batch: 1), backbone: backbone) { logs.append($0) }
        XCTAssertTrue(logs.contains { $0.contains("resuming with --batch 3 as recorded in the manifest (not 1)") }, "\(logs)")
        XCTAssertTrue(logs.contains { $0.contains("2 workers, 3 images per backbone call") }, "\(logs)")
        XCTAssertEqual(resumed.config.batch, 3)
        try assertSameShards(tmp + "/b", tmp + "/a", seed: 8,
                             what: "--workers 1 stopped after a shard, resumed with --workers 2 --batch 1, vs --workers 2 --batch 3")
    }
}
