import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegCLI

/// The ADE20K layout (ADEChallengeData2016): detection, splits, ids, the label mapping (0 ignored, v → v − 1), the
/// refusal of values it does not define, `extract check-ade20k`, and `extract train`/`val` recording its description
/// and protocol.
final class ADE20KLayoutTests: XCTestCase {
    func synth(_ root: String, train: Int, val: Int, seed: UInt64) throws -> SyntheticDatasetConfig {
        var c = SyntheticDatasetConfig()
        c.trainCount = train; c.valCount = val; c.seed = seed; c.minSide = 40; c.maxSide = 90
        try SyntheticDataset.write(to: root, config: c, layout: ADE20KLayout.name)
        return c
    }

    func touch(_ path: String) throws {
        try FileSystem.createDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()), path)
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    func testSyntheticRootIsDetectedAndGivesBackTheRenderedLabels() throws {
        let seed: UInt64 = 11
        let root = try tempDir("ade-synth")
        let c = try synth(root, train: 3, val: 2, seed: seed)
        let layout = try DatasetLayouts.open(root: root)
        XCTAssertTrue(layout is ADE20KLayout, "seed \(seed): detected as \(type(of: layout).name)")
        XCTAssertEqual(layout.description, .ade20k)

        let train = try SegmentationDataset(root: root, list: "train")
        XCTAssertEqual(train.samples.map(\.id), ["synth_train_00000", "synth_train_00001", "synth_train_00002"])
        XCTAssertEqual([train.listPath, train.listSource], ["train", "split 'train' (\(root)/images/training/, 3 images)"])
        XCTAssertFalse(train.listIsFile)
        XCTAssertEqual(try SegmentationDataset(root: root, list: "training").samples, train.samples)
        let val = try SegmentationDataset(root: root, list: "validation", layout: "ade20k")
        XCTAssertEqual(val.listPath, "val")
        XCTAssertEqual(val.samples.map(\.labelPath), [root + "/annotations/validation/synth_val_00000.png",
                                                      root + "/annotations/validation/synth_val_00001.png"])
        try train.checkFilesExist()

        // Stored as ADE20K stores them: 0 on the void band, class + 1 elsewhere; read back: the rendered labels exactly.
        for (split, samples) in [(0, train.samples), (1, val.samples)] {
            for (index, sample) in samples.enumerated() {
                let (image, label) = try train.load(sample)
                let (rendered, renderedLabel) = SyntheticDataset.render(split: split, index: index, config: c)
                XCTAssertEqual([image.width, image.height], [rendered.width, rendered.height], "seed \(seed): \(sample.id)")
                XCTAssertEqual(label, renderedLabel, "seed \(seed): \(sample.id) reads back other labels than rendered")
                let stored = try ImageIO.readLabel(sample.labelPath).pixels
                XCTAssertEqual(stored, renderedLabel.pixels.map { $0 == 255 ? 0 : $0 + 1 }, "seed \(seed): \(sample.id) stored values")
            }
        }
        // The VOC writer's root is not ADE20K, and a root of neither is refused listing both layouts.
        let voc = try tempDir("ade-voc")
        try writeSyntheticData(to: voc, train: 1, val: 0, seed: seed, sides: 40...50)
        XCTAssertTrue(try DatasetLayouts.open(root: voc) is VOCLayout)
        XCTAssertEqual(message { _ = try DatasetLayouts.open(root: voc, name: "ade20k") },
                       "\(voc): is not a ade20k dataset (expected \(ADE20KLayout.expected))")
        // (Other layouts may be listed too; ADE20K's entry must be there.)
        let empty = try tempDir("ade-empty")
        let refusal = message { _ = try DatasetLayouts.open(root: empty) }
        XCTAssertTrue(refusal.hasPrefix("\(empty): matches no dataset layout; tried voc (\(VOCLayout.expected));"), refusal)
        XCTAssertTrue(refusal.contains("; ade20k (\(ADE20KLayout.expected))"), refusal)
    }

    func testSplitNamesAndIDs() throws {
        let root = try tempDir("ade-ids")
        // Created out of order; the macOS fork "._…" and a non-JPEG are not samples.
        for id in ["ADE_train_00000002", "ADE_train_00000001", "._ADE_train_00000001"] { try touch("\(root)/images/training/\(id).jpg") }
        try touch("\(root)/images/training/notes.txt")
        try touch("\(root)/images/validation/elsewhere.jpg")
        try FileSystem.createDirectory("\(root)/annotations/training")
        let layout = try DatasetLayouts.open(root: root)
        XCTAssertEqual(try layout.split("train").samples.map(\.id), ["ADE_train_00000001", "ADE_train_00000002"])
        XCTAssertEqual(try layout.split("training").samples.map(\.id), ["ADE_train_00000001", "ADE_train_00000002"])
        XCTAssertEqual(try layout.split("val").samples.map(\.imagePath), [root + "/images/validation/elsewhere.jpg"])
        XCTAssertEqual(message { _ = try layout.split("test") },
                       "test: no split 'test' in the ade20k layout (train or training, val or validation); a list file needs a path with a '/' or ending in .txt, e.g. ./test")
        try FileManager.default.removeItem(atPath: root + "/images/validation/elsewhere.jpg")
        XCTAssertEqual(message { _ = try layout.split("val") }, "\(root)/images/validation: split 'val': no .jpg images")

        // Bare ids: the name says the split; other ids are found in training, then validation.
        try touch("\(root)/images/validation/elsewhere.jpg")
        let paths = { (id: String) in [layout.sample(id: id).imagePath, layout.sample(id: id).labelPath] }
        XCTAssertEqual(paths("ADE_train_00000007"), [root + "/images/training/ADE_train_00000007.jpg",
                                                     root + "/annotations/training/ADE_train_00000007.png"])
        XCTAssertEqual(paths("ADE_val_00000003"), [root + "/images/validation/ADE_val_00000003.jpg",
                                                   root + "/annotations/validation/ADE_val_00000003.png"])
        XCTAssertEqual(paths("elsewhere"), [root + "/images/validation/elsewhere.jpg", root + "/annotations/validation/elsewhere.png"])
        XCTAssertEqual(paths("nowhere")[0], root + "/images/training/nowhere.jpg")
        try "ADE_val_00000003\nADE_train_00000001\n".write(toFile: root + "/mine.txt", atomically: true, encoding: .utf8)
        let listed = try SegmentationDataset(root: root, list: root + "/mine.txt")
        XCTAssertEqual(listed.samples.map(\.imagePath), [root + "/images/validation/ADE_val_00000003.jpg",
                                                         root + "/images/training/ADE_train_00000001.jpg"])
    }

    func testStoredValuesMapToClassesAndUndefinedOnesAreRefused() throws {
        let root = try tempDir("ade-labels")
        let (w, h) = (4, 2)
        try FileSystem.createDirectory(root + "/images/training")
        try FileSystem.createDirectory(root + "/annotations/training")
        try ImageIO.writeJPEG(RGBImage(width: w, height: h, fill: (90, 120, 150)), to: root + "/images/training/ADE_train_00000001.jpg")
        let layout = try DatasetLayouts.open(root: root, name: "ade20k")
        let sample = layout.sample(id: "ADE_train_00000001")
        try ImageIO.writeGreyPNG([0, 1, 2, 150, 255, 75, 13, 0], width: w, height: h, to: sample.labelPath)
        XCTAssertEqual(try loadSample(sample, layout.description).1.pixels, [255, 0, 1, 149, 255, 74, 12, 255])

        for value: UInt8 in [151, 200, 254] {
            try ImageIO.writeGreyPNG([0, 1, 2, 3, 4, 5, value, 7], width: w, height: h, to: sample.labelPath)
            XCTAssertEqual(message { _ = try loadSample(sample, layout.description) },
                           "\(sample.labelPath): pixel (x 2, y 1): label value \(value) is not a ade20k label (expected 0–150 or 255)")
        }
    }

    func testDescriptionValidatesAndHoldsTheSceneParsingClasses() throws {
        let d = DatasetDescription.ade20k
        try d.validate(source: "ADE20KClasses.swift")
        XCTAssertEqual([d.classCount, d.palette.count, d.storedLabels, Int(d.ignoreLabel)], [150, 450, 151, 255])
        XCTAssertEqual([d.classNames[0], d.classNames[1], d.classNames[12], d.classNames[20], d.classNames[149]],
                       ["wall", "building", "person", "car", "flag"])
        XCTAssertEqual(Set(d.classNames).count, 150, "class names are distinct")
        XCTAssertEqual(Array(d.palette[0..<6]), [120, 120, 120, 180, 120, 120])
        XCTAssertEqual(Array(d.palette[444..<450]), [102, 255, 0, 92, 0, 255])
        XCTAssertEqual([0, 1, 2, 150, 151, 254, 255].map { d.labelMap[$0] }, [255, 0, 1, 149, 255, 255, 255])
        XCTAssertEqual(try JSONDecoder().decode(DatasetDescription.self, from: JSONEncoder().encode(d)), d)
        XCTAssertEqual(DatasetLayouts.evalProtocol(for: d), EvalProtocol(mode: .slide, flip: true, crop: 224, stride: 150, longSide: 640))
        XCTAssertEqual(DatasetLayouts.layoutName(for: d), "ade20k")
        XCTAssertEqual(ADE20KLayout.trainLongSide, 640)
    }

    func testCheckCountsPairsAndValues() throws {
        let seed: UInt64 = 3
        let dir = try tempDir("ade-check")
        let good = dir + "/good", broken = dir + "/broken"
        _ = try synth(good, train: 3, val: 2, seed: seed)

        let report = ADE20KCheck.run(root: good, expectCounts: false)
        XCTAssertEqual(report.problems, [], "seed \(seed)")
        XCTAssertEqual(report.lines, [
            "training: 3 images, 3 annotations, 0 images without annotation, 0 annotations without image, 0 annotations unreadable or with values above 150",
            "validation: 2 images, 2 annotations, 0 images without annotation, 0 annotations without image, 0 annotations unreadable or with values above 150",
            "counts differ from the official 20,210 training / 2,000 validation images (3 / 2); not a problem with --expect-counts false",
        ])
        XCTAssertEqual(ADE20KCheck.run(root: good).problems,
                       ["\(good): 3 training / 2 validation images, expected the official 20,210 training / 2,000 validation images (--expect-counts false for a subset)"])
        var command = try ExtractCheckADE20K.parseAsRoot([good, "--expect-counts", "false"])
        try command.run()

        // One annotation missing, one holding 200 at (x 3, y 2).
        try FileManager.default.copyItem(atPath: good, toPath: broken)
        let annotations = broken + "/annotations/training"
        try FileManager.default.removeItem(atPath: annotations + "/synth_train_00001.png")
        var label = try ImageIO.readLabel(annotations + "/synth_train_00002.png")
        label.pixels[2 * label.width + 3] = 200
        try ImageIO.writeGreyPNG(label.pixels, width: label.width, height: label.height, to: annotations + "/synth_train_00002.png")
        let bad = ADE20KCheck.run(root: broken, expectCounts: false)
        XCTAssertEqual(bad.problems, [
            "1 training image(s) without annotation (e.g. \(annotations)/synth_train_00001.png is missing)",
            "\(annotations)/synth_train_00002.png: pixel (x 3, y 2): value 200; ADE20K annotations hold 0–150 (0 other, v the class v − 1)",
        ])
        XCTAssertEqual(bad.lines[0], "training: 3 images, 2 annotations, 1 images without annotation, 0 annotations without image, 1 annotations unreadable or with values above 150")
        command = try ExtractCheckADE20K.parseAsRoot([broken, "--expect-counts", "false"])
        XCTAssertEqual(message { try command.run() }, "\(broken): 2 problem(s) found")

        let missing = ADE20KCheck.run(root: dir + "/nope").problems
        XCTAssertEqual(missing.count, 2, "\(missing)")
        XCTAssertTrue(missing[0].hasPrefix("\(dir)/nope/images/training: missing — download ADEChallengeData2016.zip"), missing[0])
    }

    /// `extract preview` shows the crops `extract train` cuts from ADE20K: scaled from a long side of 640, labels in
    /// ADE20K's colours.
    func testPreviewCutsTheCropsExtractTrainWould() throws {
        let seed: UInt64 = 5
        let root = try tempDir("ade-preview")
        _ = try synth(root + "/data", train: 1, val: 0, seed: seed)
        var preview = try ExtractPreview.parseAsRoot(["--data", root + "/data", "--list", "train", "--views", "1", "--count", "1",
                                                      "--out", root + "/p"])
        try preview.run()
        let ds = try SegmentationDataset(root: root + "/data", list: "train")
        let (image, label) = try ds.load(ds.samples[0])
        var recipe = AugmentationRecipe()
        recipe.longSide = 640
        var rng = augmentationRNG(seed: 0, imageIndex: 0, view: 0)
        let (crop, cropLabel, _) = augmentCrop(image, label, recipe: recipe, rng: &rng)
        XCTAssertEqual(try ImageIO.readRGB(root + "/p/synth_train_00000-view0.png"), crop.toRGB(), "seed \(seed): crop")
        XCTAssertEqual(try ImageIO.readRGB(root + "/p/synth_train_00000-view0-label.png"),
                       ImageIO.colourise(cropLabel, dataset: .ade20k), "seed \(seed): label colours")
    }

    /// `extract train` and `extract val` parsed as on the command line, on the synthetic ADE20K root with a small
    /// random-weight ConvNeXt: the manifests record the ADE20K description, the layout's train long side and protocol;
    /// a head trained on the cache has 150 classes, its evaluation names them, and `headtrain predict` runs it.
    func testExtractTrainEvalAndPredictCarryTheADE20KDescription() throws {
        let seed: UInt64 = 7
        let dir = try tempDir("ade-extract")
        let data = dir + "/data", weights = dir + "/random"
        let c = try synth(data, train: 2, val: 1, seed: seed)
        try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [8, 16, 24, 32], depths: [1, 1, 1, 1]), seed: seed, to: weights)
        let common = ["--data", data, "--weights", weights, "--stages", "2,3", "--workers", "1"]

        var train = try ExtractTrain.parseAsRoot(common + ["--list", "train", "--out", dir + "/train", "--seed", "\(seed)"])
        try train.run()
        let t = try CacheManifest.load(directory: dir + "/train")
        XCTAssertEqual(t.config.dataset, .ade20k)
        XCTAssertTrue(t.config.augmentation.hasPrefix("Resize long side 640; "), t.config.augmentation)
        XCTAssertEqual([t.config.listFile] + t.imageIDs, ["train", "synth_train_00000", "synth_train_00001"])
        XCTAssertTrue(t.complete)

        var val = try ExtractVal.parseAsRoot(common + ["--list", "validation", "--out", dir + "/val"])
        try val.run()
        let v = try CacheManifest.load(directory: dir + "/val")
        XCTAssertEqual(v.config.dataset, .ade20k)
        XCTAssertEqual(v.config.evalProtocol, EvalProtocol(mode: .slide, flip: false, crop: 224, stride: 150, longSide: 640))
        XCTAssertEqual([v.config.listFile] + v.imageIDs, ["val", "synth_val_00000"])
        // The val cache keeps the labels as class indices: the rendered ones.
        let images = Array(try ValCacheReader(directory: dir + "/val").images(stages: [3]))
        XCTAssertEqual(images.map(\.label), [SyntheticDataset.render(split: 1, index: 0, config: c).1.pixels], "seed \(seed)")

        let run = dir + "/run"
        var head = try HeadTrainCommand.parseAsRoot(["train", "--cache", dir + "/train", "--run", run, "--no-fpn", "--no-ppm",
                                                     "--epochs", "1", "--batch", "2", "--threads", "1", "--seed", "\(seed)",
                                                     "--val-cache", dir + "/val", "--eval-every", "0"])
        try head.run()
        let checkpoint = try RunCheckpoints.latest(run: run).path
        XCTAssertEqual(try HeadCheckpoint.config(of: checkpoint).numClasses, 150)
        let result = try EvalResult.read(run + "/metrics.json")
        XCTAssertEqual(result.dataset, .ade20k)
        XCTAssertEqual([result.metrics.iou.count, result.confusion.target.count], [150, 150])
        // An untrained 150-class head predicts classes past VOC's 21: predict must name them without failing.
        var predict = try HeadTrainCommand.parseAsRoot(["predict", "--run", run, "--weights", weights, "--out", dir + "/pred",
                                                        "--threads", "1", "--long-side", "224", "--no-flip",
                                                        data + "/images/validation/synth_val_00000.jpg"])
        try predict.run()
        let predicted = try ImageIO.readLabel(dir + "/pred/synth_val_00000.png")
        XCTAssertTrue(predicted.pixels.allSatisfy { $0 < 150 }, "seed \(seed): predicted \(Set(predicted.pixels).sorted())")
    }
}
