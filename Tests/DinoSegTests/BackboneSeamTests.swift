import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache
@testable import DinoSegCLI

/// The seam between backbone and cache: the backbone states its stage geometry and input normalisation, the manifest
/// records the geometry, older manifests without it are still read, and the CLI loads every backbone through one
/// loader keyed by config.json.
final class BackboneSeamTests: TempDirTestCase {
    override class var tempTag: String { "seam" }

    /// A train extraction of 3 synthetic images (data seed 3, augmentation seed 9), interrupted after one shard.
    func interruptedCache(_ out: String) throws -> TrainExtractionOptions {
        try writeSyntheticData(to: tmp + "/data", train: 3, val: 1, seed: 3, sides: 40...80)
        var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: out)
        o.shardSize = 2; o.workers = 1; o.seed = 9; o.quiet = true; o.stopAfterShards = 1
        _ = try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }
        return o
    }

    func testManifestRecordsStageGeometryOfTheBackbone() throws {
        _ = try interruptedCache(tmp + "/cache")
        let m = try CacheManifest.load(directory: tmp + "/cache")
        let expected = zip([8, 12, 16, 20], [4, 8, 16, 32]).map { StageGeometry(channels: $0, stride: $1) }
        XCTAssertEqual(m.config.backbone.stageGeometry, expected)
        XCTAssertEqual(m.config.mean, ConvNeXtInput.normalization.mean)
        XCTAssertEqual((0..<4).map { m.trainStageSize(stage: $0) }, [56, 28, 14, 7])
    }

    /// A cache written before stage geometry was recorded (manifest and shard attribute without it) is resumed,
    /// finished and read, its geometry derived from the recorded channels and strides.
    func testOldCacheWithoutStageGeometryResumesAndReads() throws {
        let out = tmp + "/old"
        var o = try interruptedCache(out)
        try stripStageGeometry(cache: out)
        o.stopAfterShards = nil
        var logs: [String] = []
        let resumed = try TrainExtraction.run(o, backbone: FakeBackbone()) { logs.append($0) }
        XCTAssertTrue(resumed.complete, "\(logs)")
        XCTAssertTrue(logs.contains { $0.contains("resuming: 1 of 2") }, "\(logs)")
        XCTAssertNil(resumed.config.backbone.stageGeometry)
        XCTAssertEqual(resumed.config.backbone.geometry.map(\.stride), [4, 8, 16, 32])
        XCTAssertTrue(try CacheVerifier.verify(directory: out).problems.isEmpty)
        XCTAssertEqual(try TrainCacheReader(directory: out).samplesPerEpoch(), 3)
    }

    /// Removes `stageGeometry` from the manifest and from the `manifest` attribute of every finished shard, as an
    /// older DinoSeg wrote them, and re-records the shards' checksums.
    func stripStageGeometry(cache: String) throws {
        var m = try CacheManifest.load(directory: cache)
        m.config.backbone.stageGeometry = nil
        for i in m.shards.indices {
            let path = cache + "/" + m.shards[i].file
            let f = try HDF5File.open(path, writable: true)
            try f.setAttribute("manifest", string: String(decoding: try CacheManifest.encode(m.config), as: UTF8.self))
            try f.close()
            m.shards[i].sha256 = try SHA256.hex(ofFile: path)
            m.shards[i].bytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        }
        try m.save(directory: cache)
        XCTAssertFalse(try String(contentsOfFile: cache + "/manifest.json", encoding: .utf8).contains("stageGeometry"))
    }

    func testManifestWithContradictoryGeometryIsRefused() throws {
        _ = try interruptedCache(tmp + "/cache")
        var m = try CacheManifest.load(directory: tmp + "/cache")
        m.config.backbone.stageGeometry![1].stride = 4
        try m.save(directory: tmp + "/cache")
        XCTAssertThrowsError(try CacheManifest.load(directory: tmp + "/cache")) {
            XCTAssertTrue("\($0)".contains("backbone.stageGeometry disagrees with backbone.hiddenSizes [8, 12, 16, 20] and stageStrides [4, 8, 16, 32]"), "\($0)")
        }
        m.config.backbone.stageGeometry = nil
        m.config.backbone.stageStrides = [4, 8, 16, 512]
        try m.save(directory: tmp + "/cache")
        XCTAssertThrowsError(try CacheManifest.load(directory: tmp + "/cache")) {
            XCTAssertTrue("\($0)".contains("stage 3 has stride 512, more than the crop 224"), "\($0)")
        }
        m.config.backbone.stageStrides = [4, 8, 16]
        try m.save(directory: tmp + "/cache")
        XCTAssertThrowsError(try CacheManifest.load(directory: tmp + "/cache")) {
            XCTAssertTrue("\($0)".contains("backbone.stageStrides [4, 8, 16] are not one stride in 1...1024 per stage"), "\($0)")
        }
    }

    /// A backbone that asks for other input statistics than the data pipeline applies is refused before the cache
    /// directory is touched.
    func testBackboneWithOtherNormalizationIsRefused() throws {
        try writeSyntheticData(to: tmp + "/data", train: 1, val: 1, seed: 3, sides: 40...80)
        var o = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/cache")
        o.quiet = true; o.stages = [0]
        XCTAssertThrowsError(try TrainExtraction.run(o, backbone: UnitNormalizedBackbone()) { _ in }) {
            XCTAssertTrue("\($0)".contains("backbone unit-normalized expects inputs normalised with mean [0.0, 0.0, 0.0], std [1.0, 1.0, 1.0]"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/cache"))
    }

    /// The loader reads config.json's model_type; a ConvNeXt's stage sizes are what its geometry says, for odd sides.
    func testLoaderPicksTheFamilyFromConfigJSON() throws {
        let weights = tmp + "/weights"
        try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [8, 16, 24, 32], depths: [1, 1, 1, 1]), seed: 5, to: weights)
        let backbone = try BackboneLoader.load(weights)
        XCTAssertTrue(backbone is ConvNeXtBackbone)
        XCTAssertEqual(backbone.stageGeometry.map(\.channels), [8, 16, 24, 32])
        let (h, w) = (75, 45)
        let input = [Float](repeating: 0.5, count: h * w * 3)
        let maps = input.withUnsafeBufferPointer { backbone.forward(image: $0.baseAddress!, height: h, width: w, stages: [0, 1, 2, 3]) }
        XCTAssertEqual(maps.map { [$0.height, $0.width] }, backbone.stageGeometry.map { [$0.side(h), $0.side(w)] })
        XCTAssertEqual(maps.map(\.height), [18, 9, 4, 2])

        let config = weights + "/config.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        json["model_type"] = "dinov3_vit"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        XCTAssertThrowsError(try BackboneLoader.load(weights)) {
            XCTAssertEqual("\($0)", "\(config): 'model_type' dinov3_vit is not a backbone DinoSeg implements (dinov3_convnext)")
        }
    }

    /// One table of sizes for every --size flag.
    func testSizeFlagComesFromTheConfigTable() throws {
        XCTAssertEqual(ConvNeXtSize.allValueStrings, ConvNeXtConfig.named.map(\.0))
        XCTAssertEqual(ConvNeXtSize(argument: "base")?.config, ConvNeXtConfig.base)
        XCTAssertNil(ConvNeXtSize(argument: "huge"))
        XCTAssertEqual(try ExtractRandomWeights.parse(["--size", "large", "--out", "x"]).size.config, ConvNeXtConfig.large)
        XCTAssertThrowsError(try ExtractBench.parse(["--size", "huge"]))
    }
}

/// A one-stage stand-in that wants unit-normalised inputs (mean 0, std 1).
final class UnitNormalizedBackbone: FeatureBackbone {
    let name = "unit-normalized"
    let stageChannels = [4]
    let stageStrides = [4]
    let weightsSHA256 = String(repeating: "cd", count: 32)
    var inputNormalization: InputNormalization { InputNormalization(mean: [0, 0, 0], std: [1, 1, 1]) }
    func forward(image: UnsafePointer<Float>, height: Int, width: Int, stages: [Int]) -> [FeatureMap] {
        stages.map { _ in FeatureMap(height: height / 4, width: width / 4, channels: 4) }
    }
}
