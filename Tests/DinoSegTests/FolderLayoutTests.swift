import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache
@testable import DinoSegCLI

/// The folder layout (a user's own images/, masks/, classes.txt): detection, classes.txt, pairing, splits (seeded and
/// listed), sample paths, label mapping and refusals, and extraction through the CLI on its synthetic writer.
final class FolderLayoutTests: TempDirTestCase {
    override class var tempTag: String { "folder" }

    /// The synthetic dataset in the folder layout under tmp/NAME: `train` + `val` renders, sides 40...70.
    func synthFolder(_ name: String = "mine", train: Int, val: Int, seed: UInt64, objects: Int = 3) throws -> (String, SyntheticDatasetConfig) {
        var c = SyntheticDatasetConfig()
        c.trainCount = train; c.valCount = val; c.seed = seed; c.minSide = 40; c.maxSide = 70
        c.objectClasses = SyntheticDatasetConfig.spreadClasses(objects)
        try SyntheticDataset.write(to: "\(tmp)/\(name)", config: c, layout: FolderLayout.name)
        return ("\(tmp)/\(name)", c)
    }

    /// A handmade folder tmp/NAME: classes.txt, and per id a 2×2 grey photo (PNG) and a mask of `masks[id]` (2×2).
    func handmadeFolder(_ name: String = "hand", classes: String, masks: [String: [UInt8]]) throws -> String {
        let root = "\(tmp)/\(name)"
        for sub in ["images", "masks"] { try FileSystem.createDirectory("\(root)/\(sub)") }
        try classes.write(toFile: "\(root)/classes.txt", atomically: true, encoding: .utf8)
        for (id, values) in masks {
            try ImageIO.writePNG(RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 90, count: 12)), to: "\(root)/images/\(id).png")
            try ImageIO.writeGreyPNG(values, width: 2, height: 2, to: "\(root)/masks/\(id).png")
        }
        return root
    }

    func testSyntheticFolderIsDetectedAndGivesBackTheRenderedLabels() throws {
        let (root, c) = try synthFolder(train: 4, val: 2, seed: 11)
        let layout = try DatasetLayouts.open(root: root)
        XCTAssertTrue(layout is FolderLayout, "seed 11: detected \(type(of: layout))")
        XCTAssertEqual(DatasetLayouts.all.last.map { $0.name }, FolderLayout.name, "the folder layout must be tried last")
        let d = layout.description
        XCTAssertEqual(d.name, "folder:mine")
        XCTAssertEqual(d.classNames, ["background", "aeroplane", "car", "motorbike"], "spreadClasses(3) = \(c.objectClasses)")
        XCTAssertEqual(Array(d.palette[3..<6]), [128, 0, 0], "aeroplane keeps VOC's colour")
        XCTAssertEqual(d.storedLabels, 4)
        XCTAssertNoThrow(try d.validate(source: "classes.txt"))
        XCTAssertEqual(try String(contentsOfFile: root + "/classes.txt", encoding: .utf8),
                       "background 0 0 0\naeroplane 128 0 0\ncar 128 128 128\nmotorbike 64 128 128\n")
        let values = SyntheticLayouts.folderValues(classes: SyntheticLayouts.folderClasses(c))
        for (split, index) in [(0, 0), (0, 3), (1, 1)] {
            let id = SyntheticDataset.id(split: split, index: index)
            let (photo, rendered) = SyntheticDataset.render(split: split, index: index, config: c)
            let (image, label) = try loadSample(layout.sample(id: id), d)
            XCTAssertEqual([image.width, image.height], [photo.width, photo.height], "seed 11 \(id)")
            XCTAssertEqual(label.pixels, SyntheticLayouts.folderMask(rendered.pixels, values: values), "seed 11 \(id): labels differ")
            XCTAssertTrue(label.pixels.allSatisfy { $0 < 4 || $0 == 255 }, "seed 11 \(id): \(Set(label.pixels).sorted())")
        }
        XCTAssertEqual(values[0], 0); XCTAssertEqual(values[14], 3); XCTAssertEqual(values[255], 255); XCTAssertEqual(values[2], 255)
    }

    func testSeededSplitIsDeterministicDisjointAndRecorded() throws {
        let (root, _) = try synthFolder(train: 16, val: 4, seed: 12)
        let all = try FolderFiles(root: root).ids
        XCTAssertEqual(all.count, 20)
        func split(_ name: String, fraction: Double = 0.1, seed: UInt64 = 0) throws -> SegmentationDataset {
            var o = LayoutOptions(); o.valFraction = fraction; o.splitSeed = seed
            return try SegmentationDataset(root: root, list: name, options: o)
        }
        let train = try split("train"), val = try split("val")
        XCTAssertEqual(val.samples.map(\.id), ["synth_train_00008", "synth_val_00001"], "seed 0, fraction 0.1 (pins the hash)")
        XCTAssertEqual(train.samples.count, 18)
        XCTAssertEqual(Set(train.samples.map(\.id)).union(val.samples.map(\.id)), Set(all))
        XCTAssertTrue(Set(train.samples.map(\.id)).isDisjoint(with: val.samples.map(\.id)))
        XCTAssertEqual(try split("val").samples, val.samples, "the same seed and fraction gave another split")
        XCTAssertNotEqual(try split("val", seed: 1).samples.map(\.id), val.samples.map(\.id), "seeds 0 and 1 gave the same val")
        XCTAssertEqual(try split("val", fraction: 0.5, seed: 7).samples.count, 10)
        XCTAssertEqual(try split("val", fraction: 0.01).samples.count, 1, "val keeps at least one image")
        XCTAssertEqual(try split("train", fraction: 0.99).samples.count, 1, "train keeps at least one image")

        XCTAssertEqual(val.listPath, "val@val-fraction=0.1,split-seed=0")
        XCTAssertFalse(val.listIsFile)
        XCTAssertEqual(val.description.splits, ["train": "seeded 0.9/0.1 seed 0: train@val-fraction=0.1,split-seed=0",
                                                "val": "seeded 0.9/0.1 seed 0: val@val-fraction=0.1,split-seed=0"])
        // The recorded name re-creates the split without flags (as a later run or the evaluation's check reopens it).
        let seeded = try split("train", fraction: 0.3, seed: 5)
        XCTAssertEqual(seeded.listPath, "train@val-fraction=0.3,split-seed=5")
        XCTAssertEqual(try split(seeded.listPath, fraction: 0.3, seed: 5).samples, seeded.samples)
        XCTAssertEqual(try SegmentationDataset(root: root, list: train.listPath).samples, train.samples)
        XCTAssertThrowsError(try SegmentationDataset(root: root, list: seeded.listPath)) {
            XCTAssertEqual("\($0)", "\(root): split 'train@val-fraction=0.3,split-seed=5' is the seeded split of --val-fraction 0.3 --split-seed 5, but this run has --val-fraction 0.1 --split-seed 0; pass the split's flags to use it")
        }
        XCTAssertThrowsError(try split("val@val-fraction=1.5,split-seed=0")) {
            XCTAssertEqual("\($0)", "\(root): split 'val@val-fraction=1.5,split-seed=0': expected NAME@val-fraction=F,split-seed=S with F in (0, 1)")
        }
        XCTAssertThrowsError(try split("test")) {
            XCTAssertEqual("\($0)", "\(root): no split 'test': without splits/NAME.txt lists the splits are train and val, seeded (--val-fraction, --split-seed)")
        }
    }

    func testSplitListsReplaceTheSeededSplit() throws {
        let (root, _) = try synthFolder(train: 3, val: 2, seed: 13)
        try FileSystem.createDirectory(root + "/splits")
        try "synth_train_00000\nsynth_train_00002\n".write(toFile: root + "/splits/train.txt", atomically: true, encoding: .utf8)
        try "images/synth_val_00001.jpg masks/synth_val_00001.png\n".write(toFile: root + "/splits/val.txt", atomically: true, encoding: .utf8)
        let train = try SegmentationDataset(root: root, list: "train")
        XCTAssertEqual(train.samples.map(\.id), ["synth_train_00000", "synth_train_00002"])
        XCTAssertEqual(train.listPath, root + "/splits/train.txt")
        XCTAssertTrue(train.listIsFile)
        let val = try SegmentationDataset(root: root, list: "val")
        XCTAssertEqual(val.samples, [SegmentationSample(id: "synth_val_00001", imagePath: root + "/images/synth_val_00001.jpg",
                                                        labelPath: root + "/masks/synth_val_00001.png")])
        XCTAssertEqual(val.description.splits, ["train": "splits/train.txt", "val": "splits/val.txt"])
        XCTAssertThrowsError(try SegmentationDataset(root: root, list: "test")) {
            XCTAssertEqual("\($0)", "\(root)/splits: no split 'test': the splits are train, val (NAME.txt here)")
        }
        XCTAssertThrowsError(try SegmentationDataset(root: root, list: "train@val-fraction=0.1,split-seed=0")) {
            XCTAssertEqual("\($0)", "\(root)/splits: no split 'train@val-fraction=0.1,split-seed=0': the splits are train, val (NAME.txt here)")
        }
    }

    func testSampleTakesThePhotosExtensionAndTheMask() throws {
        let root = try handmadeFolder(classes: "a\nb\n", masks: ["p": [0, 0, 0, 0], "q": [0, 0, 0, 0]])
        let photo = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 90, count: 12))
        try ImageIO.writeJPEG(photo, to: root + "/images/j.JPG")
        try ImageIO.writeJPEG(photo, to: root + "/images/q.jpeg")   // q has q.png too: .jpeg comes first
        try ImageIO.writeGreyPNG([1, 1, 1, 1], width: 2, height: 2, to: root + "/masks/j.PNG")
        try "ignored".write(toFile: root + "/images/notes.txt", atomically: true, encoding: .utf8)
        let layout = try FolderLayout(root: root, options: LayoutOptions())
        XCTAssertEqual(layout.sample(id: "p"), SegmentationSample(id: "p", imagePath: root + "/images/p.png", labelPath: root + "/masks/p.png"))
        XCTAssertEqual(layout.sample(id: "q").imagePath, root + "/images/q.jpeg")
        XCTAssertEqual(layout.sample(id: "j"), SegmentationSample(id: "j", imagePath: root + "/images/j.JPG", labelPath: root + "/masks/j.PNG"))
        XCTAssertEqual(layout.sample(id: "gone").imagePath, root + "/images/gone.jpg", "a listed id without a photo")
        XCTAssertEqual(try FolderFiles(root: root).ids, ["j", "p", "q"])
    }

    func testMaskValuesAreClassIndicesAndOthersAreRefused() throws {
        let root = try handmadeFolder(classes: "# three classes\nsky 0 0 255\n\nroad 128 64 128\ncar 255 0 0\n",
                                      masks: ["a": [2, 0, 255, 1], "b": [0, 3, 1, 1]])
        let layout = try FolderLayout(root: root, options: LayoutOptions())
        let d = layout.description
        XCTAssertEqual(d.name, "folder:hand")
        XCTAssertEqual(d.classNames, ["sky", "road", "car"])
        XCTAssertEqual(d.palette, [0, 0, 255, 128, 64, 128, 255, 0, 0])
        XCTAssertNoThrow(try d.validate(source: "classes.txt"))
        XCTAssertEqual(Array(d.labelMap[0..<4]) + [d.labelMap[254], d.labelMap[255]], [0, 1, 2, 255, 255, 255])
        XCTAssertEqual(try loadSample(layout.sample(id: "a"), d).1.pixels, [2, 0, 255, 1])
        XCTAssertThrowsError(try loadSample(layout.sample(id: "b"), d)) {
            XCTAssertEqual("\($0)", "\(root)/masks/b.png: pixel (x 1, y 0): label value 3 is not a folder:hand label (expected 0–2 or 255)")
        }
    }

    func testClassesFileFormatAndItsRefusals() throws {
        let plain = try FolderClasses.parse("\n# comment\n  ground  \r\nwater\n", path: "c.txt")
        XCTAssertEqual(plain.names, ["ground", "water"])
        XCTAssertEqual(plain.palette, [0, 0, 0, 128, 0, 0], "classes without colours take VOC's")
        func refused(_ text: String, _ expected: String, line: UInt = #line) {
            XCTAssertThrowsError(try FolderClasses.parse(text, path: "c.txt"), line: line) { XCTAssertEqual("\($0)", expected, line: line) }
        }
        refused("a\nb c\n", "c.txt: line 2: expected 'name' or 'name R G B', got 2 fields (class names are one word: write '_' for a space)")
        refused("a 1 2 3\nb 1 2 256\n", "c.txt: line 2: colour component '256' of class 'b' is not a whole number in 0–255")
        refused("a 1 2 3\n# x\nb\n", "c.txt: line 3: class 'b' has no colour but line 1 gives one; give every class a colour or none")
        refused("a\nb\na\n", "c.txt: line 3: class 'a' is already named on line 1")
        refused("# only\nalone\n", "c.txt: lists 1 class; 2–255 are supported (mask values are one byte, 255 is ignored)")
        refused((0..<256).map { "c\($0)\n" }.joined(), "c.txt: lists 256 classes; 2–255 are supported (mask values are one byte, 255 is ignored)")
        XCTAssertEqual(try FolderClasses.parse((0..<255).map { "c\($0)\n" }.joined(), path: "c.txt").names.count, 255)
        let root = try handmadeFolder(classes: "a\nb\nb\n", masks: ["x": [0, 0, 0, 0], "y": [0, 0, 0, 0]])
        XCTAssertThrowsError(try DatasetLayouts.open(root: root)) {
            XCTAssertEqual("\($0)", "\(root)/classes.txt: line 3: class 'b' is already named on line 2")
        }
    }

    func testUnpairedFilesAndNonFolderRootsAreRefused() throws {
        let root = try handmadeFolder(classes: "a\nb\n", masks: Dictionary(uniqueKeysWithValues: (0..<8).map { ("m\($0)", [0, 0, 0, 0]) }))
        let photo = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 90, count: 12))
        for i in 0..<6 { try ImageIO.writeJPEG(photo, to: root + "/images/lone\(i).jpg") }
        XCTAssertThrowsError(try DatasetLayouts.open(root: root)) {
            XCTAssertEqual("\($0)", "\(root)/images: 6 photo(s) have no mask in masks/ (ID.png): lone0, lone1, lone2, lone3, lone4, …")
        }
        for i in 0..<6 { try FileManager.default.removeItem(atPath: root + "/images/lone\(i).jpg") }
        for i in [1, 5] { try FileManager.default.removeItem(atPath: root + "/images/m\(i).png") }
        XCTAssertThrowsError(try DatasetLayouts.open(root: root)) {
            XCTAssertEqual("\($0)", "\(root)/masks: 2 mask(s) have no photo in images/ (ID.jpg, .jpeg or .png): m1, m5")
        }
        try FileManager.default.removeItem(atPath: root + "/classes.txt")
        XCTAssertThrowsError(try DatasetLayouts.open(root: root)) {
            XCTAssertTrue("\($0)".hasPrefix("\(root): matches no dataset layout; tried voc ("), "\($0)")
            XCTAssertTrue("\($0)".hasSuffix("; folder (images/, masks/ and classes.txt)"), "\($0)")
        }
        XCTAssertThrowsError(try DatasetLayouts.open(root: root, name: "folder")) {
            XCTAssertEqual("\($0)", "\(root): is not a folder dataset (expected images/, masks/ and classes.txt)")
        }
        let single = try handmadeFolder("single", classes: "a\nb\n", masks: ["only": [0, 0, 0, 0]])
        XCTAssertThrowsError(try DatasetLayouts.open(root: single)) {
            XCTAssertEqual("\($0)", "\(single)/images: holds 1 photo; a seeded train/val split needs at least 2 (or give splits/NAME.txt lists)")
        }
    }

    /// `extract train` and `extract val` through their argument parsing on the synthetic folder, with a tiny random
    /// ConvNeXt: the manifests record the folder's description, the seeded split, VOC's protocol and no train long
    /// side; a resume with another split seed is refused.
    func testExtractTrainAndValThroughTheCLI() throws {
        let (root, _) = try synthFolder("shapes", train: 6, val: 4, seed: 14)
        let weights = tmp + "/w"
        try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [4, 8, 8, 8], depths: [1, 1, 1, 1]), seed: 3, to: weights)
        let layout = try FolderLayout(root: root, options: { var o = LayoutOptions(); o.valFraction = 0.3; o.splitSeed = 3; return o }())
        let common = ["--data", root, "--weights", weights, "--workers", "1", "--val-fraction", "0.3", "--split-seed", "3"]

        var train = try ExtractTrain.parseAsRoot(common + ["--list", "train", "--out", tmp + "/train"])
        try train.run()
        let tm = try CacheManifest.load(directory: tmp + "/train")
        XCTAssertEqual(tm.config.dataset, layout.description)
        XCTAssertEqual(tm.config.dataset?.name, "folder:shapes")
        XCTAssertEqual(tm.config.listFile, "train@val-fraction=0.3,split-seed=3")
        XCTAssertEqual(tm.imageIDs, try layout.split("train").samples.map(\.id))
        XCTAssertEqual(tm.imageIDs.count, 7, "10 images, val 0.3 → 3")
        XCTAssertEqual(tm.config.augmentation, AugmentationRecipe().summary, "the folder layout sets no train long side")
        XCTAssertTrue(tm.complete)

        var val = try ExtractVal.parseAsRoot(common + ["--list", "val", "--out", tmp + "/val"])
        try val.run()
        let vm = try CacheManifest.load(directory: tmp + "/val")
        XCTAssertEqual(vm.config.dataset, layout.description)
        XCTAssertEqual(vm.config.listFile, "val@val-fraction=0.3,split-seed=3")
        XCTAssertEqual(vm.config.evalProtocol, EvalProtocol(mode: .slide, flip: false, crop: 224, stride: 150, longSide: 512))
        XCTAssertEqual(Set(vm.imageIDs).union(tm.imageIDs).count, 10)
        XCTAssertNoThrow(try vm.checkSameBackbone(asTrain: tm, path: tmp + "/val", trainPath: tmp + "/train"))

        // Another split seed selects other images: resuming the finished cache with it is refused.
        let reseeded = ["--data", root, "--weights", weights, "--workers", "1", "--val-fraction", "0.3", "--split-seed", "4",
                        "--list", "train", "--out", tmp + "/train"]
        XCTAssertThrowsError(try { var t = try ExtractTrain.parseAsRoot(reseeded); try t.run() }()) {
            XCTAssertTrue("\($0)".contains("list: train@val-fraction=0.3,split-seed=3 → train@val-fraction=0.3,split-seed=4"), "\($0)")
        }

        // An evaluation re-opens the data with default options to notice edited labels: a default split is re-created
        // from its recorded name; one of other flags is refused by the layout, so the check is skipped (README).
        var plain = try ExtractVal.parseAsRoot(["--data", root, "--weights", weights, "--workers", "1", "--list", "val", "--out", tmp + "/val0"])
        try plain.run()
        let pm = try CacheManifest.load(directory: tmp + "/val0")
        XCTAssertEqual(pm.config.listFile, "val@val-fraction=0.1,split-seed=0")
        XCTAssertNoThrow(try SourceFingerprint.checkInPlace(pm, directory: tmp + "/val0"))
        let edited = try FolderLayout(root: root, options: LayoutOptions()).sample(id: pm.imageIDs[0]).labelPath
        var mask = try ImageIO.readLabel(edited)
        mask.pixels[0] = mask.pixels[0] == 0 ? 1 : 0
        try ImageIO.writeGreyPNG(mask.pixels, width: mask.width, height: mask.height, to: edited)
        XCTAssertThrowsError(try SourceFingerprint.checkInPlace(pm, directory: tmp + "/val0")) {
            XCTAssertTrue("\($0)".contains("the photo or label of image \(pm.imageIDs[0]) in \(root) changed"), "\($0)")
        }
        XCTAssertNoThrow(try SourceFingerprint.checkInPlace(vm, directory: tmp + "/val"), "seed 3: the check is skipped")
    }
}
