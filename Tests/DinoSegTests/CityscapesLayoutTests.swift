import XCTest
import ArgumentParser
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache
@testable import DinoSegCLI

/// The Cityscapes layout: detection, splits, ids, labelId → train class mapping and its refusals, the synthetic writer
/// read back exactly, `extract train`/`extract val` through the CLI with the layout's defaults, and the train long side.
final class CityscapesLayoutTests: XCTestCase {
    /// cityscapesScripts' labels.py, labelId 0–33 → trainId (255: ignored), written out here independently of the source.
    static let officialTrainIds: [UInt8] = [255, 255, 255, 255, 255, 255, 255, 0, 1, 255, 255, 2, 3, 4, 255, 255, 255,
                                            5, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 255, 16, 17, 18]
    static let protocol1024 = EvalProtocol(mode: .slide, flip: true, crop: 224, stride: 150, longSide: 1024)

    func run(_ root: ParsableCommand.Type, _ args: [String]) throws {
        var command = try root.parseAsRoot(args)
        try command.run()
    }

    /// The synthetic dataset in the Cityscapes layout.
    @discardableResult
    func writeSynthetic(_ root: String, seed: UInt64, train: Int, val: Int, sides: ClosedRange<Int> = 40...72) throws -> SyntheticDatasetConfig {
        var c = SyntheticDatasetConfig()
        c.trainCount = train; c.valCount = val; c.seed = seed; c.minSide = sides.lowerBound; c.maxSide = sides.upperBound
        try SyntheticDataset.write(to: root, config: c, layout: CityscapesLayout.name)
        return c
    }

    /// Creates `path` (and its directory) holding `contents`.
    func touch(_ path: String, _ contents: Data = Data()) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: contents), path)
    }

    /// A root of empty files: train cities bremen and aachen (and stray files), val city frankfurt.
    func handmadeRoot() throws -> String {
        let root = try tempDir("cityscapes")
        for id in ["bremen_000001_000019", "aachen_000002_000019", "aachen_000000_000019"] {
            let city = String(id.prefix(while: { $0 != "_" }))
            try touch("\(root)/leftImg8bit/train/\(city)/\(id)_leftImg8bit.png")
        }
        try touch("\(root)/leftImg8bit/train/aachen/notes.txt")
        try touch("\(root)/leftImg8bit/train/README")
        try touch("\(root)/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png")
        try FileManager.default.createDirectory(atPath: "\(root)/gtFine/train", withIntermediateDirectories: true)
        return root
    }

    /// One photo and its labelId PNG (`labelIds`, `width` a row) at train/aachen/aachen_000000_000001.
    func oneSampleRoot(labelIds: [UInt8], width: Int) throws -> (root: String, labelPath: String) {
        let root = try tempDir("cityscapes-label")
        let layout = CityscapesLayout(root: root)
        let s = layout.sample(split: "train", city: "aachen", id: "aachen_000000_000001")
        try touch(s.imagePath); try touch(s.labelPath)
        let height = labelIds.count / width
        try ImageIO.writePNG(RGBImage(width: width, height: height, pixels: [UInt8](repeating: 90, count: 3 * labelIds.count)), to: s.imagePath)
        try ImageIO.writeGreyPNG(labelIds, width: width, height: height, to: s.labelPath)
        return (root, s.labelPath)
    }

    func testDetectsASyntheticRootAndRefusesOthers() throws {
        let dir = try tempDir("cityscapes-detect")
        try writeSynthetic(dir + "/city", seed: 3, train: 1, val: 1)
        let layout = try DatasetLayouts.open(root: dir + "/city")
        XCTAssertTrue(layout is CityscapesLayout, "seed 3: detected \(type(of: layout).name)")
        XCTAssertEqual(layout.description, .cityscapes)

        try writeSyntheticData(to: dir + "/voc", train: 1, val: 1, seed: 3, sides: 40...48)
        XCTAssertTrue(try DatasetLayouts.open(root: dir + "/voc") is VOCLayout)
        XCTAssertThrowsError(try DatasetLayouts.open(root: dir + "/voc", name: "cityscapes")) {
            XCTAssertEqual("\($0)", "\(dir)/voc: is not a cityscapes dataset (expected leftImg8bit/ and gtFine/ (SPLIT/CITY/ folders))")
        }
        try FileManager.default.createDirectory(atPath: dir + "/empty/leftImg8bit", withIntermediateDirectories: true)
        XCTAssertThrowsError(try DatasetLayouts.open(root: dir + "/empty")) {
            XCTAssertTrue("\($0)".contains("cityscapes (leftImg8bit/ and gtFine/ (SPLIT/CITY/ folders))"), "\($0)")
        }
    }

    func testSplitsAreSortedByCityThenFileAndTestIsRefused() throws {
        let root = try handmadeRoot()
        let layout = CityscapesLayout(root: root)
        let train = try layout.split("train")
        XCTAssertEqual(train.samples.map(\.id), ["aachen_000000_000019", "aachen_000002_000019", "bremen_000001_000019"])
        XCTAssertEqual(train.samples[0].imagePath, "\(root)/leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png")
        XCTAssertEqual(train.samples[0].labelPath, "\(root)/gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png")
        XCTAssertEqual([train.listPath, train.source], ["train", "split 'train' (\(root)/leftImg8bit/train)"])
        XCTAssertFalse(train.isFile)

        let val = try SegmentationDataset(root: root, list: "val")
        XCTAssertEqual(val.samples.map(\.id), ["frankfurt_000000_000294"])
        XCTAssertEqual(val.samples[0].labelPath, "\(root)/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png")
        XCTAssertEqual(val.listSource, "split 'val' (\(root)/leftImg8bit/val)")

        XCTAssertThrowsError(try layout.split("test")) {
            XCTAssertEqual("\($0)", "\(root)/gtFine/test: split 'test': Cityscapes test labels are not public (its gtFine files hold no classes); use train or val")
        }
        XCTAssertThrowsError(try layout.split("trainval")) {
            XCTAssertEqual("\($0)", "trainval: no split 'trainval' in a Cityscapes root (its splits are train and val); a list file needs a path with a '/' or ending in .txt, e.g. ./trainval")
        }
        try FileManager.default.removeItem(atPath: "\(root)/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png")
        XCTAssertThrowsError(try layout.split("val")) {
            XCTAssertEqual("\($0)", "\(root)/leftImg8bit/val: split 'val': no *_leftImg8bit.png photos in its city folders")
        }
    }

    func testBareIDsFindTheirCityAndSplit() throws {
        let root = try handmadeRoot()
        let layout = CityscapesLayout(root: root)
        XCTAssertEqual(layout.sample(id: "frankfurt_000000_000294").imagePath, "\(root)/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png")
        XCTAssertEqual(layout.sample(id: "bremen_000001_000019").labelPath, "\(root)/gtFine/train/bremen/bremen_000001_000019_gtFine_labelIds.png")
        // Not present anywhere: the train path, which the missing-file check then names.
        XCTAssertEqual(layout.sample(id: "ulm_000000_000001").imagePath, "\(root)/leftImg8bit/train/ulm/ulm_000000_000001_leftImg8bit.png")

        try touch(root + "/mine.txt", Data("frankfurt_000000_000294\naachen_000002_000019\n".utf8))
        let listed = try SegmentationDataset(root: root, list: root + "/mine.txt")
        XCTAssertEqual(listed.samples.map(\.imagePath), ["\(root)/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png",
                                                         "\(root)/leftImg8bit/train/aachen/aachen_000002_000019_leftImg8bit.png"])
    }

    func testLabelIdsMapToTrainClassesAndVoidIsIgnored() throws {
        // Every labelId 0–33 and 255, 7 a row.
        let stored = (0..<34).map(UInt8.init) + [255]
        let (root, _) = try oneSampleRoot(labelIds: stored, width: 7)
        let dataset = try SegmentationDataset(root: root, list: "train")
        let (image, label) = try dataset.load(dataset.samples[0])
        XCTAssertEqual([image.width, image.height, label.width, label.height], [7, 5, 7, 5])
        XCTAssertEqual(label.pixels, Self.officialTrainIds + [255])
        XCTAssertEqual(label.pixels.filter { $0 != 255 }.count, 19, "each train class once")
    }

    func testAValueOutsideTheLabelIdsIsRefusedWithFilePixelAndValue() throws {
        var stored = [UInt8](repeating: 7, count: 10)
        stored[5 + 3] = 34   // x 3, y 1 of a 5×2 label
        let (root, labelPath) = try oneSampleRoot(labelIds: stored, width: 5)
        let dataset = try SegmentationDataset(root: root, list: "train")
        XCTAssertThrowsError(try dataset.load(dataset.samples[0])) {
            XCTAssertEqual("\($0)", "\(labelPath): pixel (x 3, y 1): label value 34 is not a cityscapes label (expected 0–33 or 255)")
        }
        XCTAssertEqual((0...255).filter { DatasetDescription.cityscapes.isStored(UInt8($0)) }, Array(0...33) + [255])
    }

    func testDescriptionValidatesAndIsTheOfficialTable() throws {
        let d = DatasetDescription.cityscapes
        XCTAssertNoThrow(try d.validate(source: "cityscapes"))
        XCTAssertEqual(d.name, "cityscapes")
        XCTAssertEqual(d.classNames, ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                                      "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
                                      "motorcycle", "bicycle"])
        XCTAssertEqual(d.palette, [128, 64, 128, 244, 35, 232, 70, 70, 70, 102, 102, 156, 190, 153, 153, 153, 153, 153,
                                   250, 170, 30, 220, 220, 0, 107, 142, 35, 152, 251, 152, 70, 130, 180, 220, 20, 60,
                                   255, 0, 0, 0, 0, 142, 0, 0, 70, 0, 60, 100, 0, 80, 100, 0, 0, 230, 119, 11, 32])
        XCTAssertEqual(Array(d.labelMap[0..<34]), Self.officialTrainIds)
        XCTAssertEqual(Array(d.labelMap[34...]), [UInt8](repeating: 255, count: 222))
        XCTAssertEqual([d.storedLabels, Int(d.ignoreLabel)], [34, 255])
        XCTAssertEqual(try JSONDecoder().decode(DatasetDescription.self, from: try JSONEncoder().encode(d)), d)
        XCTAssertEqual(DatasetLayouts.evalProtocol(for: d), Self.protocol1024)
        XCTAssertEqual(DatasetLayouts.layoutName(for: d), "cityscapes")
        XCTAssertEqual(CityscapesLayout.trainLongSide, 1024)
    }

    /// The writer stores labelIds; read back through the layout they are the rendered labels' train classes, exactly.
    func testSyntheticDataReadsBackAsTheRenderedLabels() throws {
        let seed: UInt64 = 7
        let root = try tempDir("cityscapes-synth")
        let c = try writeSynthetic(root, seed: seed, train: 3, val: 2)
        for (s, split) in ["train", "val"].enumerated() {
            let dataset = try SegmentationDataset(root: root, list: split)
            XCTAssertEqual(dataset.samples.map(\.id), (0..<(s == 0 ? 3 : 2)).map { SyntheticCityscapes.id(split: split, index: $0) })
            for (i, sample) in dataset.samples.enumerated() {
                let (image, label) = try dataset.load(sample)
                let (rendered, renderedLabel) = SyntheticDataset.render(split: s, index: i, config: c)
                XCTAssertNil(byteDifference(Data(image.pixels), Data(rendered.pixels)), "seed \(seed) \(sample.id): photo")
                XCTAssertNil(byteDifference(Data(label.pixels), Data(SyntheticCityscapes.trainClasses(renderedLabel.pixels))),
                             "seed \(seed) \(sample.id): label")
                // Default classes 0, 1, 4, 7, 11, 14, 17 → road, sidewalk, fence, traffic sign, person, car, train;
                // void borders → labelId 0.
                let storedIDs = Set(try ImageIO.readLabel(sample.labelPath).pixels)
                XCTAssertTrue(storedIDs.isSubset(of: [0, 7, 8, 13, 20, 24, 26, 31]), "seed \(seed) \(sample.id): labelIds \(storedIDs.sorted())")
                XCTAssertTrue(Set(label.pixels).isSubset(of: [0, 1, 4, 7, 11, 13, 16, 255]), "seed \(seed) \(sample.id): \(Set(label.pixels).sorted())")
                XCTAssertTrue(label.pixels.contains(255) && label.pixels.contains(0), "seed \(seed) \(sample.id): void borders and road")
            }
        }

        // 17 spread classes put 10 and 12 on one train class: refused before anything is written.
        var clash = SyntheticDatasetConfig()
        clash.objectClasses = SyntheticDatasetConfig.spreadClasses(17)
        XCTAssertThrowsError(try SyntheticDataset.write(to: root + "/clash", config: clash, layout: CityscapesLayout.name)) {
            XCTAssertEqual("\($0)", "synthetic Cityscapes: rendered classes 10 and 12 would both be stored as sky (19 train classes for 21 rendered ones); use --classes 1–16 or 18")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/clash"))
    }

    /// `extract synth/train/val` through their parsing on a synthetic Cityscapes root, with a tiny random backbone: the
    /// manifests record the Cityscapes description, the 1024 train long side and the 1024 slide + flip protocol.
    func testExtractTrainAndValTakeTheLayoutsDefaults() throws {
        let seed: UInt64 = 5
        let dir = try tempDir("cityscapes-extract")
        let data = dir + "/data", weights = dir + "/random"
        try run(ExtractCommand.self, ["synth", "--layout", "cityscapes", "--out", data, "--train", "2", "--val", "1",
                                      "--seed", "\(seed)", "--classes", "3", "--min-side", "48", "--max-side", "64"])
        try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [8, 16, 24, 32], depths: [1, 1, 1, 1]), seed: seed, to: weights)
        let common = ["--data", data, "--weights", weights, "--stages", "2,3", "--workers", "2"]
        XCTAssertEqual(try ExtractTrain.parse(common + ["--list", "train", "--out", "o"]).options().recipe.longSide, 1024)
        XCTAssertEqual(try ExtractTrain.parse(common + ["--list", "train", "--out", "o", "--train-long-side", "800"]).options().recipe.longSide, 800)
        XCTAssertEqual(try ExtractVal.parse(common + ["--list", "val", "--out", "o", "--long-side", "512"]).evalProtocol().longSide, 512)

        try run(ExtractCommand.self, ["train"] + common + ["--list", "train", "--out", dir + "/train", "--seed", "\(seed)"])
        try run(ExtractCommand.self, ["val"] + common + ["--list", "val", "--out", dir + "/val", "--flip", "--layout", "cityscapes", "--dtype", "f32"])

        let train = try CacheManifest.load(directory: dir + "/train")
        XCTAssertEqual(train.config.dataset, .cityscapes)
        XCTAssertTrue(train.config.augmentation.hasPrefix("Resize long side 1024; semseg train: RandScale[0.5,2.0]"), train.config.augmentation)
        XCTAssertEqual(train.imageIDs, ["synthcity_000000_000000", "synthcity_000000_000001"])
        XCTAssertEqual(train.config.listFile, "train")

        let val = try CacheManifest.load(directory: dir + "/val")
        XCTAssertEqual(val.config.dataset, .cityscapes)
        XCTAssertEqual(val.config.evalProtocol, Self.protocol1024)
        XCTAssertEqual(val.imageIDs, ["synthval_000000_000000"])
        let image = try XCTUnwrap(try ValCacheReader(directory: dir + "/val").images(stages: [3]).nextImage())
        var synth = SyntheticDatasetConfig()
        synth.seed = seed; synth.minSide = 48; synth.maxSide = 64; synth.objectClasses = SyntheticDatasetConfig.spreadClasses(3)
        let rendered = SyntheticDataset.render(split: 1, index: 0, config: synth).1
        XCTAssertEqual(max(image.geometry.resizedHeight, image.geometry.resizedWidth), 1024, "seed \(seed): half-resolution canvas")
        XCTAssertNil(byteDifference(Data(image.label), Data(SyntheticCityscapes.trainClasses(rendered.pixels))), "seed \(seed): cached val label")
        // 224 windows at stride 150 over a 1024-long canvas: 7 positions along the long side, each also flipped.
        XCTAssertEqual(Set(image.windows.map(\.x)).count * Set(image.windows.map(\.y)).count * 2, image.windows.count)
        XCTAssertEqual(image.geometry.resizedWidth >= image.geometry.resizedHeight ? Set(image.windows.map(\.x)).count
                                                                                   : Set(image.windows.map(\.y)).count, 7)
    }

    /// The train long side: the crop-only path equals the reference with it, and the drawn scale is u·L/long side.
    func testTrainLongSideScalesTheDrawAndTheFastPathMatches() {
        let seed: UInt64 = 31
        var rng0 = SplitMix64(seed: seed)
        for (trial, longSide) in [64, 160, 64, 160, 100, 100].enumerated() {
            var recipe = AugmentationRecipe()
            recipe.crop = 48; recipe.longSide = longSide
            let w = rng0.int(in: 30...90), h = rng0.int(in: 30...90)
            let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng0.next() % 256) })
            let label = LabelImage(width: w, height: h, pixels: (0..<(w * h)).map { _ in UInt8(rng0.next() % 19) })
            var a = augmentationRNG(seed: seed, imageIndex: trial, view: 0), b = a, u = a
            let ref = augment(image, label, recipe: recipe, rng: &a)
            let fast = augmentCrop(image, label, recipe: recipe, rng: &b)
            let expected = u.uniform(recipe.scaleMin, recipe.scaleMax) * Double(longSide) / Double(max(w, h))
            XCTAssertEqual(ref.2.scale, expected, accuracy: 1e-12 * expected, "seed \(seed) trial \(trial): scale of a \(w)x\(h) image at long side \(longSide)")
            XCTAssertEqual(fast.2, ref.2, "seed \(seed) trial \(trial): draws")
            XCTAssertNil(byteDifference(Data(fast.1.pixels), Data(ref.1.pixels)), "seed \(seed) trial \(trial): label (\(w)x\(h), \(ref.2))")
            assertClose(fast.0.data, ref.0.data, rtol: 0, atol: 1e-3, shape: [48, 48, 3], seed: "\(seed) trial \(trial)",
                        what: "crop-only path vs reference at long side \(longSide) (\(w)x\(h), \(ref.2))")
            XCTAssertEqual(a, b, "seed \(seed) trial \(trial): same number of draws")
        }
    }
}
