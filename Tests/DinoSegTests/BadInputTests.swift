import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache
@testable import DinoSegCLI

/// Bad arguments, weights, configs, lists and output paths: each refused with one line naming the file (or flag)
/// and what is wrong, before anything is allocated or written.
final class BadInputTests: TempDirTestCase {
    override class var tempTag: String { "badinput" }

    func assertOneLine(_ error: Error, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = "\(error)"
        XCTAssertTrue(error is DinoSegError, "not a DinoSegError: \(text)", file: file, line: line)
        XCTAssertFalse(text.contains("\n") || text.contains("NSCocoaErrorDomain"), "not one clean line: \(text)", file: file, line: line)
        XCTAssertTrue(text.contains(expected), "'\(text)' lacks '\(expected)'", file: file, line: line)
    }

    func synth(train: Int = 3) throws -> String {
        try writeSyntheticData(to: tmp + "/data", train: train, val: 1, seed: 4, sides: 40...80)
        return tmp + "/data"
    }

    func testAbsurdFlagsAreRefusedBeforeAnyWork() throws {
        let base = ["--data", "d", "--list", "train", "--weights", "w", "--out", "o"]
        XCTAssertThrowsError(try ExtractTrain.parseAsRoot(base + ["--views", "1000000000"])) {
            XCTAssertTrue(ExtractTrain.message(for: $0).contains("--views must be in 1...1000 (got 1000000000)"), ExtractTrain.message(for: $0))
        }
        XCTAssertThrowsError(try ExtractTrain.parseAsRoot(base + ["--workers", "100000"])) {
            XCTAssertTrue(ExtractTrain.message(for: $0).contains("--workers must be in 1...256"), ExtractTrain.message(for: $0))
        }
        XCTAssertThrowsError(try ExtractImage.parseAsRoot(["x.jpg", "--weights", "w", "--out", "o.h5", "--resize", "1000000"])) {
            XCTAssertTrue(ExtractImage.message(for: $0).contains("--resize must be in 32...4096"), ExtractImage.message(for: $0))
        }
        // --dtype offers only what can hold features.
        XCTAssertThrowsError(try ExtractTrain.parseAsRoot(base + ["--dtype", "u8"]))
        XCTAssertTrue(ExtractTrain.helpMessage().contains("f16, f32"), ExtractTrain.helpMessage())
        XCTAssertFalse(ExtractTrain.helpMessage().contains("i64"))
        XCTAssertNoThrow(try ExtractTrain.parseAsRoot(base + ["--dtype", "f32", "--views", "8"]))
    }

    func testRefusedRunsLeaveNothingThatBlocksTheCorrectedRun() throws {
        let root = try synth()
        // A storage type that cannot hold features (library callers can still ask for one): refused before the
        // cache directory is created.
        var o = TrainExtractionOptions(dataRoot: root, list: "train", out: tmp + "/cache")
        o.workers = 1; o.quiet = true; o.dtype = .u8
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }) {
            assertOneLine($0, "--dtype u8: features are stored as f16 or f32")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/cache"))

        // A run stopped by a bad first image leaves a manifest without finished shards; a different configuration
        // then replaces it instead of being refused.
        let ds = try SegmentationDataset(root: root, list: "train")
        let label = try ImageIO.readLabel(ds.samples[0].labelPath)
        var bad = label
        bad.pixels[0] = 99
        try ImageIO.writeLabelPNG(bad, to: ds.samples[0].labelPath)
        o.dtype = .f16
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }) { assertOneLine($0, "label value 99") }
        XCTAssertEqual(try CacheManifest.load(directory: tmp + "/cache").shards.count, 0)
        try ImageIO.writeLabelPNG(label, to: ds.samples[0].labelPath)
        o.dtype = .f32
        var logs: [String] = []
        let m = try TrainExtraction.run(o, backbone: FakeBackbone()) { logs.append($0) }
        XCTAssertTrue(m.complete)
        XCTAssertEqual(m.config.dtype, .f32)
        XCTAssertTrue(logs.contains { $0.contains("replacing the configuration of an empty cache (no finished shards): dtype: f16 → f32") }, "\(logs)")
    }

    func testDiskSpaceRefusalNamesTheHeadroom() throws {
        XCTAssertThrowsError(try CacheDirectory.checkDisk(tmp, needed: 1e15)) {
            assertOneLine($0, "not enough disk space: the plan needs about 909.5 TiB plus 18.2 TiB headroom (2% + 64 MiB) = 927.7 TiB, but ")
        }
        XCTAssertNoThrow(try CacheDirectory.checkDisk(tmp, needed: 1000))
    }

    func testUnwritableOutputPathsGiveOneLine() throws {
        let blocker = tmp + "/a-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        XCTAssertThrowsError(try FileSystem.createDirectory(blocker + "/sub/dir", what: "output directory")) {
            assertOneLine($0, "\(blocker)/sub/dir: cannot create output directory: Not a directory")
        }
        XCTAssertThrowsError(try FileSystem.createDirectory(blocker, what: "run directory")) {
            assertOneLine($0, "\(blocker): cannot create run directory: a file of that name exists")
        }
        XCTAssertThrowsError(try AtomicWrite.write(Data("y".utf8), to: blocker + "/x.json")) {
            assertOneLine($0, "\(blocker)/x.json: cannot write: Not a directory")
        }
        XCTAssertThrowsError(try ImageIO.writePNG(RGBImage(width: 1, height: 1), to: blocker + "/x.png")) {
            assertOneLine($0, "\(blocker)/x.png: cannot write: \(blocker) is not a directory")
        }
        XCTAssertThrowsError(try ImageIO.writePNG(RGBImage(width: 1, height: 1), to: tmp + "/missing/x.png")) {
            assertOneLine($0, "\(tmp)/missing/x.png: cannot write: directory \(tmp)/missing does not exist")
        }
        let root = try synth()
        var o = TrainExtractionOptions(dataRoot: root, list: "train", out: blocker + "/cache")
        o.quiet = true
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }) {
            assertOneLine($0, "cannot create output directory: Not a directory")
        }
        XCTAssertNoThrow(try FileSystem.createDirectory(tmp + "/new/nested", what: "output directory"))
    }

    func testDuplicateIDsAreRefused() throws {
        let root = try synth()
        try "synth_train_00000\nsynth_train_00001\n\nsynth_train_00000\n".write(toFile: tmp + "/dup.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SegmentationDataset(root: root, list: tmp + "/dup.txt")) {
            assertOneLine($0, "\(tmp)/dup.txt: id 'synth_train_00000' is listed twice (entries 1 and 3); remove the duplicate")
        }
    }

    func testNonFiniteFeaturesStopExtractionNamingTheImage() throws {
        let root = try synth(train: 2)
        var o = TrainExtractionOptions(dataRoot: root, list: "train", out: tmp + "/nan")
        o.workers = 1; o.quiet = true
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: FakeBackbone(gain: .nan)) { _ in }) {
            assertOneLine($0, "\(root)/JPEGImages/synth_train_00000.jpg: stage 0 feature nan at element 0 is not finite")
        }
        var v = ValExtractionOptions(dataRoot: root, list: "val", out: tmp + "/nan-val")
        v.workers = 1; v.quiet = true
        XCTAssertThrowsError(try ValExtraction.run(v, backbone: FakeBackbone(gain: .infinity)) { _ in }) {
            assertOneLine($0, "\(root)/JPEGImages/synth_val_00000.jpg: stage 0 feature")
        }
    }

    func testConfigJSONIsCheckedAgainstRangesAndTensors() throws {
        let weights = tmp + "/w"
        try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [4, 8, 8, 8], depths: [1, 1, 2, 1]), seed: 2, to: weights)
        let configPath = weights + "/config.json"
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        func withConfig(_ changes: [String: Any], expect: String, line: UInt = #line) throws {
            var json = original
            for (k, v) in changes { json[k] = v }
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: configPath))
            XCTAssertThrowsError(try ConvNeXtWeights.load(path: weights), line: line) { assertOneLine($0, "\(configPath): \(expect)", line: line) }
        }
        try withConfig(["layer_norm_eps": -1], expect: "'layer_norm_eps' -1 is outside (0, 1e-2]")
        try withConfig(["layer_norm_eps": 1e300], expect: "'layer_norm_eps' 1e+300 is outside (0, 1e-2]")
        try withConfig(["layer_norm_eps": 0], expect: "'layer_norm_eps' 0 is outside (0, 1e-2]")
        try withConfig(["layer_norm_eps": "small"], expect: "'layer_norm_eps' small is outside (0, 1e-2]")
        try withConfig(["depths": [0, 0, 0, 0]], expect: "'depths' [0, 0, 0, 0] must be ≥ 1 per stage")
        try withConfig(["depths": [1, 1, 1, 1]],
                       expect: "says hidden_sizes [4, 8, 8, 8], depths [1, 1, 1, 1] but model.safetensors holds hidden_sizes [4, 8, 8, 8], depths [1, 1, 2, 1]")
        try withConfig(["hidden_sizes": [4, 8, 8, 16]],
                       expect: "says hidden_sizes [4, 8, 8, 16], depths [1, 1, 2, 1] but model.safetensors holds hidden_sizes [4, 8, 8, 8]")
        try withConfig(["hidden_sizes": [4, 8, 8]], expect: "'hidden_sizes' [4, 8, 8] and 'depths' [1, 1, 2, 1] must be non-empty lists of equal length")
        try withConfig(["depths": [1, 1.5, 2, 1]], expect: "'depths' must be a list of integers")
        try withConfig(["hidden_act": "relu"], expect: "'hidden_act' relu is not supported")
        try withConfig(["num_channels": 4], expect: "'num_channels' 4 is not supported")
        try withConfig(["model_type": "vit"], expect: "'model_type' vit is not a ConvNeXt")
        // The original loads, with its epsilon.
        try JSONSerialization.data(withJSONObject: original).write(to: URL(fileURLWithPath: configPath))
        XCTAssertEqual(try ConvNeXtWeights.load(path: weights).config.layerNormEps, 1e-6)
    }
}
