import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegNN
@testable import DinoSegCache
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline

/// Dataset descriptions with 2, 21 (VOC) and 150 classes: validation, manifest and config storage, the refusal to
/// mix datasets, and the class-dependent outputs (tables, confusion CSV, palette PNGs, head training).
final class DatasetDescriptionTests: XCTestCase {
    static let two = DatasetDescription(name: "road", classNames: ["ground", "road"], palette: [10, 20, 30, 200, 100, 0],
                                        ignoreLabel: 255, labelMap: DatasetDescription.identityMap(classes: 2, ignore: 255))
    static let ade = DatasetDescription.generic(name: "ade150", classes: 150)

    func testVOCDescriptionIsTodaysConstants() throws {
        let voc = DatasetDescription.voc
        XCTAssertEqual(voc.classCount, 21)
        XCTAssertEqual(voc.classNames, VOC.classNames)
        XCTAssertEqual(voc.ignoreLabel, 255)
        XCTAssertEqual(voc.paletteTable, VOC.palette, "VOC's palette PNG table changed")
        XCTAssertEqual(voc.labelMap[20], 20)
        XCTAssertEqual(voc.labelMap[21], 255)
        XCTAssertEqual(voc.labelMap[255], 255)
        XCTAssertNoThrow(try voc.validate(source: "voc"))
    }

    func testClassCountsFrom2To255AreAcceptedOthersRefused() throws {
        XCTAssertNoThrow(try Self.two.validate(source: "d.json"))
        XCTAssertNoThrow(try Self.ade.validate(source: "d.json"))
        XCTAssertNoThrow(try DatasetDescription.generic(name: "max", classes: 255).validate(source: "d.json"))
        var big = DatasetDescription.generic(name: "big", classes: 256)
        big.labelMap = DatasetDescription.identityMap(classes: 255, ignore: 255)
        XCTAssertThrowsError(try big.validate(source: "d.json")) {
            XCTAssertEqual("\($0)", "d.json: dataset description \"big\": 256 classes (2–255 are supported: labels are one byte, 255 is ignored)")
        }
        XCTAssertThrowsError(try DatasetDescription.generic(name: "one", classes: 1).validate(source: "d.json"))
        var badMap = Self.two
        badMap.labelMap[7] = 2
        XCTAssertThrowsError(try badMap.validate(source: "d.json")) {
            XCTAssertEqual("\($0)", "d.json: dataset description \"road\": label map sends 7 to 2, which is neither a class index below 2 nor 255")
        }
        var ignoredIsClass = Self.two
        ignoredIsClass.ignoreLabel = 0
        XCTAssertThrowsError(try ignoredIsClass.validate(source: "d.json")) {
            XCTAssertEqual("\($0)", "d.json: dataset description \"road\": label map sends the ignore label 0 to class 0")
        }
    }

    /// ADE20K-style: stored 0 is "other" (ignored), stored v is class v − 1.
    func testLabelMapShiftsStoredValues() throws {
        var map = [UInt8](repeating: 255, count: 256)
        for v in 1...150 { map[v] = UInt8(v - 1) }
        let ade = DatasetDescription(name: "ade20k", classNames: Self.ade.classNames, palette: Self.ade.palette,
                                     ignoreLabel: 0, labelMap: map)
        XCTAssertNoThrow(try ade.validate(source: "ade.json"))
        var pixels: [UInt8] = [0, 1, 150, 151, 255]
        ade.mapLabels(&pixels)
        XCTAssertEqual(pixels, [255, 0, 149, 255, 255])
    }

    func config(_ dataset: DatasetDescription?) -> CacheConfig {
        CacheConfig(kind: .train, backbone: CacheBackboneInfo(name: "t", hiddenSizes: [8], depths: [1], stageStrides: [4], weightsSHA256: "ab"),
                    stages: [0], dtype: .f16, augmentation: "a", seed: 1, views: 1, dataRoot: "/d", listFile: "/l",
                    imageCount: 1, shardSize: 1, skipBad: false, dataset: dataset)
    }

    func testManifestKeepsTheDescriptionAndOldManifestsReadAsVOC() throws {
        let dir = try tempDir("dataset-manifest")
        for dataset in [Self.two, Self.ade] {
            let m = CacheManifest(config: config(dataset), imageIDs: ["x"], shards: [], plannedShards: 1, skipped: [])
            try m.save(directory: dir)
            let back = try CacheManifest.load(directory: dir)
            XCTAssertEqual(back.config.datasetDescription, dataset, "\(dataset.name) did not survive the manifest")
        }
        let old = CacheManifest(config: config(nil), imageIDs: ["x"], shards: [], plannedShards: 1, skipped: [])
        XCTAssertFalse(String(decoding: try CacheManifest.encode(old), as: UTF8.self).contains("dataset"),
                       "a VOC manifest gained a dataset key (its digest would change)")
        XCTAssertEqual(old.config.datasetDescription, .voc)
        XCTAssertEqual(config(Self.ade).differences(from: config(nil)), ["dataset: voc2012 (21 classes) → ade150 (150 classes)"])
        XCTAssertEqual(config(.voc).differences(from: config(nil)), [], "explicit VOC differs from an old manifest")

        var broken = config(Self.two)
        broken.dataset?.palette = [1, 2, 3]
        try CacheManifest(config: broken, imageIDs: ["x"], shards: [], plannedShards: 1, skipped: []).save(directory: dir)
        XCTAssertThrowsError(try CacheManifest.load(directory: dir)) {
            XCTAssertEqual("\($0)", "\(dir)/manifest.json: dataset description \"road\": palette has 3 bytes, expected 6 (RGB per class)")
        }
    }

    func testCachesOfTwoDatasetsAreNotMixed() throws {
        let train = CacheManifest(config: config(nil), imageIDs: ["x"], shards: [], plannedShards: 1, skipped: [])
        var valConfig = config(Self.ade)
        valConfig.kind = .val
        let val = CacheManifest(config: valConfig, imageIDs: ["x"], shards: [], plannedShards: 1, skipped: [])
        XCTAssertThrowsError(try val.checkSameBackbone(asTrain: train, path: "cache/val", trainPath: "cache/train")) {
            XCTAssertEqual("\($0)", "cache/val: holds dataset \"ade150\" (150 classes), cache/train holds \"voc2012\" (21 classes); data of two datasets cannot be mixed")
        }
        XCTAssertNoThrow(try train.checkSameBackbone(asTrain: train, path: "cache/train", trainPath: "cache/train"))
    }

    /// Cached labels are checked against the cache's own class count (VOC: 0–20).
    func testCachedLabelsAreCheckedAgainstTheDatasetsClassCount() throws {
        let entry = CacheShardEntry(index: 0, file: "shard-00000.h5", view: 0, samples: 1, images: 1, bytes: 1, sha256: "ab")
        func context(_ d: DatasetDescription?) -> ShardCheck.Context {
            ShardCheck.Context(directory: "c", entry: entry,
                               manifest: CacheManifest(config: config(d), imageIDs: ["x"], shards: [entry], plannedShards: 1, skipped: []))
        }
        XCTAssertNoThrow(try ShardCheck.checkLabels([0, 149, 255], width: 3, what: "label", context(Self.ade)))
        XCTAssertThrowsError(try ShardCheck.checkLabels([0, 150], width: 2, what: "label", context(Self.ade))) {
            XCTAssertTrue("\($0)".hasPrefix("c/shard-00000.h5: label has the value 150 at (y 0, x 1); labels are 0–149 or 255;"), "\($0)")
        }
        XCTAssertThrowsError(try ShardCheck.checkLabels([21], width: 1, what: "label", context(nil))) {
            XCTAssertTrue("\($0)".hasPrefix("c/shard-00000.h5: label has the value 21 at (y 0, x 0); labels are 0–20 or 255;"), "\($0)")
        }
    }

    func testTablesAndConfusionCSVNameTheDatasetsClasses() throws {
        var two = ConfusionMatrix(classes: 2)
        two.add(prediction: [0, 1, 1, 0], label: [0, 1, 0, 255])
        var result = EvalResult(evalProtocol: EvalProtocol(), checkpointStep: nil, checkpoint: nil, images: 1,
                                confusion: two, backboneNote: nil, seconds: 1)
        XCTAssertEqual(result.confusionCSV(), "label\\prediction,background,aeroplane\nbackground,1,1\naeroplane,0,1\n",
                       "without a description the names are VOC's, as before")
        result.dataset = Self.two
        XCTAssertEqual(result.confusionCSV(), "label\\prediction,ground,road\nground,1,1\nroad,0,1\n")
        XCTAssertTrue(result.classTable().contains("    1  road          0.5000  1.0000  1"), result.classTable())
        let decoded = try JSONDecoder().decode(EvalResult.self, from: try result.jsonData())
        XCTAssertEqual(decoded.dataset, Self.two)

        var wide = ConfusionMatrix(classes: 150)
        wide.add(prediction: [149, 3], label: [149, 4])
        var ade = EvalResult(evalProtocol: EvalProtocol(), checkpointStep: nil, checkpoint: nil, images: 1,
                             confusion: wide, backboneNote: nil, seconds: 1)
        ade.dataset = Self.ade
        let csv = ade.confusionCSV().split(separator: "\n")
        XCTAssertEqual(csv.count, 151)
        XCTAssertTrue(csv[150].hasPrefix("class149,") && csv[150].hasSuffix(",1"), String(csv[150].prefix(40)))
        XCTAssertEqual(ade.metrics.iou[149], 1, accuracy: 1e-9)

        // A metrics.json whose description does not match its matrix is refused.
        var mismatched = result
        mismatched.dataset = Self.ade
        XCTAssertThrowsError(try JSONDecoder().decode(EvalResult.self, from: try mismatched.jsonData())) {
            XCTAssertEqual("\($0)", "metrics.json: dataset \"ade150\" has 150 classes, the confusion matrix 2")
        }
    }

    func testLabelPNGAndOverlayUseTheDatasetsPalette() throws {
        let dir = try tempDir("dataset-png")
        let label = LabelImage(width: 3, height: 1, pixels: [0, 1, 255])
        try ImageIO.writeLabelPNG(label, to: dir + "/two.png", dataset: Self.two)
        XCTAssertEqual(try ImageIO.readLabel(dir + "/two.png").pixels, [0, 1, 255], "indices must stay raw")
        XCTAssertEqual(try ImageIO.readRGB(dir + "/two.png").pixels, [10, 20, 30, 200, 100, 0, 224, 224, 192])
        XCTAssertEqual(ImageIO.colourise(label, dataset: Self.two).pixels, [10, 20, 30, 200, 100, 0, 224, 224, 192])

        let wide = LabelImage(width: 2, height: 1, pixels: [149, 20])
        try ImageIO.writeLabelPNG(wide, to: dir + "/ade.png", dataset: Self.ade)
        XCTAssertEqual(try ImageIO.readLabel(dir + "/ade.png").pixels, [149, 20])
        let p = VOC.palette
        XCTAssertEqual(try ImageIO.readRGB(dir + "/ade.png").pixels, Array(p[447..<450] + p[60..<63]))
    }

    /// A 150-class head trains on synthetic features (seed 11), records the dataset in config.json, and a 21-class
    /// head is refused on the same source.
    func testA150ClassHeadTrainsAndAWrongClassCountIsRefused() throws {
        let source = HeadTrainingTests.syntheticSource(images: 8, seed: 11)
        source.dataset = Self.ade
        var head = HeadTrainingTests.headConfig(outputStride: 8)
        head.numClasses = 150
        var options = TrainOptions()
        options.epochs = 1; options.batch = 4; options.seed = 11; options.threads = 2; options.logInterval = 1000
        let run = try tempDir("dataset-head") + "/run"
        let summary = try HeadTrainer(head: head, options: options, source: source, runDirectory: run, resume: false,
                                      output: { _ in }).run()
        XCTAssertEqual(summary.stepsDone, 2)
        XCTAssertTrue(summary.losses.allSatisfy(\.isFinite), "seed 11: losses \(summary.losses)")
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))) as? [String: Any])
        XCTAssertEqual((config["dataset"] as? [String: Any])?["name"] as? String, "ade150")
        // The checkpoint names its dataset too, so predict needs no run directory to colour and name the classes.
        XCTAssertEqual(try HeadCheckpoint.dataset(of: run + "/last.safetensors"), Self.ade)

        let vocHead = HeadTrainingTests.headConfig(outputStride: 8)
        XCTAssertThrowsError(try HeadTrainer(head: vocHead, options: options, source: source, runDirectory: run + "2", resume: false,
                                             output: { _ in }).run()) {
            XCTAssertEqual("\($0)", "synthetic: holds dataset \"ade150\" with 150 classes but the head has 21")
        }
    }

    /// A checkpoint without a "dataset" entry is VOC's (as every checkpoint before descriptions); one whose recorded
    /// dataset has another class count than its classifier is refused with one line.
    func testCheckpointDatasetDefaultsToVOCAndMustMatchTheClassifier() throws {
        let dir = try tempDir("ckpt-dataset")
        let head = try SegmentationHead(config: HeadTrainingTests.headConfig(outputStride: 8), seed: 3, threads: 1)
        try HeadCheckpoint.save(head, to: dir + "/voc.safetensors")
        XCTAssertEqual(try HeadCheckpoint.dataset(of: dir + "/voc.safetensors"), .voc)
        try HeadCheckpoint.save(head, to: dir + "/two.safetensors", extraMetadata: try CheckpointDataset.metadata(Self.two))
        XCTAssertThrowsError(try HeadCheckpoint.dataset(of: dir + "/two.safetensors")) {
            XCTAssertEqual("\($0)", "\(dir)/two.safetensors: the classifier has 21 classes, its dataset \"road\" 2")
        }
        XCTAssertEqual(try CheckpointDataset.metadata(.voc), [:], "a VOC checkpoint must stay as it was")
    }

    /// `encode` inverts the label map on class indices: VOC identity with 255 void, ADE20K c + 1 with 0 for ignored,
    /// Cityscapes the labelId of each train class with 0 ("unlabeled") for ignored; a class beyond the dataset has no
    /// stored value.
    func testEncodeInvertsTheLabelMap() throws {
        XCTAssertEqual(DatasetDescription.voc.encode([0, 20, 255]), [0, 20, 255])
        XCTAssertEqual(DatasetDescription.ade20k.encode([0, 149, 255]), [1, 150, 0])
        XCTAssertEqual(DatasetDescription.cityscapes.encode([0, 18, 255]), [7, 33, 0])
        XCTAssertNil(DatasetDescription.voc.encode([21]))
        for d in [DatasetDescription.voc, .ade20k, .cityscapes, Self.two] {
            let classes = (0..<d.classCount).map(UInt8.init) + [255]
            let stored = try XCTUnwrap(d.encode(classes), d.name)
            var back = stored
            d.mapLabels(&back)
            XCTAssertEqual(back, classes, "\(d.name): encode then mapLabels")
        }
    }
}
