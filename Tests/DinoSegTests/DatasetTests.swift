import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegCache

final class DatasetTests: XCTestCase {
    func smallSynth(_ dir: String, train: Int = 3, val: Int = 2, seed: UInt64 = 5) throws -> SyntheticDatasetConfig {
        try writeSyntheticData(to: dir, train: train, val: val, seed: seed, sides: 40...90)
    }

    /// A list file or class list far larger than any real one (a sparse file: nothing is written) is refused from its
    /// size, before it is read.
    func testOversizedListAndClassFilesAreRefusedUnread() throws {
        let dir = try tempDir("oversize")
        _ = try smallSynth(dir + "/data")
        let list = dir + "/huge.txt", classes = dir + "/classes.txt"
        for (path, size) in [(list, ListFile.maxBytes + 1), (classes, (1 << 20) + 1)] {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
            XCTAssertEqual(truncate(path, off_t(size)), 0)
        }
        XCTAssertThrowsError(try SegmentationDataset(root: dir + "/data", list: list)) {
            XCTAssertEqual("\($0)", "\(list): the list file has \(ListFile.maxBytes + 1) bytes, more than the \(ListFile.maxBytes) a list file may have")
        }
        XCTAssertThrowsError(try FolderClasses.read(classes)) {
            XCTAssertEqual("\($0)", "\(classes): the class list has 1048577 bytes, more than the 1048576 a class list may have")
        }
    }

    func testSyntheticDatasetLayoutDeterminismAndLabels() throws {
        let dir = try tempDir("synth")
        let c = try smallSynth(dir)
        let ds = try SegmentationDataset(root: dir, list: "train")
        XCTAssertEqual(ds.samples.map(\.id), ["synth_train_00000", "synth_train_00001", "synth_train_00002"])
        XCTAssertEqual(ds.samples[0].labelPath, dir + "/SegmentationClass/synth_train_00000.png")
        try ds.checkFilesExist()
        var seen = Set<UInt8>()
        for s in ds.samples {
            let (img, lab) = try loadSample(s, .voc)
            XCTAssertTrue((40...90).contains(img.width) && (40...90).contains(img.height))
            seen.formUnion(lab.pixels)
        }
        XCTAssertTrue(seen.contains(0) && seen.contains(255), "seed 5: background and void present, saw \(seen.sorted())")
        XCTAssertTrue(seen.isSubset(of: Set(([0, 255] + c.objectClasses).map { UInt8($0) })), "seed 5: \(seen.sorted())")
        // Same seed → same pixels; another seed → different.
        let image = Data(SyntheticDataset.render(split: 0, index: 1, config: c).0.pixels)
        XCTAssertNil(byteDifference(Data(SyntheticDataset.render(split: 0, index: 1, config: c).0.pixels), image), "seed 5: train image 1 rendered twice")
        var other = c; other.seed = 6
        XCTAssertNotNil(byteDifference(Data(SyntheticDataset.render(split: 0, index: 1, config: other).0.pixels), image),
                        "seeds 5 and 6 render the same train image 1")
        XCTAssertEqual(try SegmentationDataset(root: dir, list: "val").samples.count, 2)
    }

    func testPairListsAndBadInputsNameTheFile() throws {
        let dir = try tempDir("badin")
        _ = try smallSynth(dir, train: 2, val: 0)
        let pairs = "JPEGImages/synth_train_00000.jpg SegmentationClass/synth_train_00000.png\n\n"
            + "JPEGImages/synth_train_00001.jpg SegmentationClass/synth_train_00001.png\n"
        try pairs.write(toFile: dir + "/pairs.txt", atomically: true, encoding: .utf8)
        let ds = try SegmentationDataset(root: dir, list: dir + "/pairs.txt")
        XCTAssertEqual(ds.samples.map(\.id), ["synth_train_00000", "synth_train_00001"])
        XCTAssertEqual(ds.samples[1].imagePath, dir + "/JPEGImages/synth_train_00001.jpg")

        // Missing list entries.
        try "synth_train_00000\nnope_1\n".write(toFile: dir + "/missing.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SegmentationDataset(root: dir, list: dir + "/missing.txt").checkFilesExist()) {
            XCTAssertTrue("\($0)".contains("missing.txt: 2 listed file(s) missing: \(dir)/JPEGImages/nope_1.jpg"), "\($0)")
        }
        XCTAssertThrowsError(try SegmentationDataset(root: dir, list: "nolist")) {
            XCTAssertEqual("\($0)", "nolist: list file not found: no split 'nolist' (\(dir)/ImageSets/Segmentation/nolist.txt); "
                           + "a list file needs a path with a '/' or ending in .txt, e.g. ./nolist")
        }

        // Label value 37 and size mismatch.
        let s = ds.samples[0]
        let (img, lab) = try loadSample(s, .voc)
        var bad = lab
        bad.pixels[5] = 37
        try ImageIO.writeLabelPNG(bad, to: s.labelPath)
        XCTAssertThrowsError(try loadSample(s, .voc)) { XCTAssertEqual("\($0)", "\(s.labelPath): pixel (x 5, y 0): label value 37 is not a voc2012 label (expected 0–20 or 255)") }
        try ImageIO.writeLabelPNG(LabelImage(width: img.width + 1, height: img.height, pixels: [UInt8](repeating: 0, count: (img.width + 1) * img.height)), to: s.labelPath)
        XCTAssertThrowsError(try loadSample(s, .voc)) {
            XCTAssertEqual("\($0)", "\(s.labelPath): label is \(img.width + 1)x\(img.height) but its image is \(img.width)x\(img.height)")
        }
    }

    /// Ids are names: a list line that is a path (item 3 of "Hardening, round 2": `../../x/v0` let
    /// `eval --save-predictions` overwrite a label outside the output directory) is refused where lists are parsed.
    func testIDsThatArePathsAreRefusedWhereListsAreParsed() throws {
        let dir = try tempDir("ids")
        _ = try smallSynth(dir, train: 1, val: 0)
        let list = dir + "/ids.txt"
        func refusal(_ text: String) -> String {
            do {
                try text.write(toFile: list, atomically: true, encoding: .utf8)
                _ = try SegmentationDataset(root: dir, list: list)
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal("2007_000032\n../../x/v0\n"),
                       "\(list): line 2: id '../../x/v0' contains '/': ids are file names without a directory part")
        XCTAssertEqual(refusal("/etc/passwd\n"), "\(list): line 1: id '/etc/passwd' contains '/': ids are file names without a directory part")
        XCTAssertEqual(refusal("..\n"), "\(list): line 1: id '..' is '..', a directory reference")
        XCTAssertEqual(refusal("a\u{1}b\n"), "\(list): line 1: id 'a\u{1}b' contains a control character")
        XCTAssertEqual(refusal("JPEGImages/../../x.jpg SegmentationClass/x.png\n"),
                       "\(list): line 1: 'JPEGImages/../../x.jpg' contains '..'; pair paths must stay inside the dataset root")
        XCTAssertEqual(refusal("JPEGImages/x.jpg /tmp/x.png\n"),
                       "\(list): line 1: '/tmp/x.png' is absolute; pair paths are relative to the dataset root")

        // VOC, ADE-style and dotted names stay ids.
        try "2007_000032\nADE_train_00000001\nimg.v2\n.hidden\n".write(toFile: list, atomically: true, encoding: .utf8)
        let ds = try SegmentationDataset(root: dir, list: list)
        XCTAssertEqual(ds.samples.map(\.id), ["2007_000032", "ADE_train_00000001", "img.v2", ".hidden"])
        XCTAssertEqual(ds.samples[1].imagePath, dir + "/JPEGImages/ADE_train_00000001.jpg")
    }

    /// A cache manifest carrying a path as an id (made by an older version, or edited) is refused when opened.
    func testManifestIDsThatArePathsAreRefused() throws {
        let dir = try tempDir("manifest-ids")
        _ = try smallSynth(dir + "/data", train: 2, val: 0, seed: 8)
        var o = TrainExtractionOptions(dataRoot: dir + "/data", list: "train", out: dir + "/cache")
        o.workers = 1; o.quiet = true
        try TrainExtraction.run(o, backbone: FakeBackbone()) { _ in }
        let path = dir + "/cache/manifest.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.contains("\"synth_train_00001\""), "seed 8: manifest lacks its second id")
        try text.replacingOccurrences(of: "\"synth_train_00001\"", with: "\"..\\/..\\/x\\/v0\"")
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrainCacheReader(directory: dir + "/cache")) {
            XCTAssertTrue("\($0)".contains("imageIDs holds '../../x/v0', which contains '/'"), "\($0)")
        }
    }

    /// A split name means the split even when the working directory holds a file or folder of that name; a path (with
    /// a '/' or ending in .txt) must be a regular file; the dataset says which was used.
    func testListNamesASplitAndPathsMustBeRegularFiles() throws {
        let dir = try tempDir("lists")
        let root = dir + "/data"
        _ = try smallSynth(root, train: 2, val: 1, seed: 6)
        let work = dir + "/work"
        try FileManager.default.createDirectory(atPath: work + "/train", withIntermediateDirectories: true)
        try "synth_val_00000\n".write(toFile: work + "/val", atomically: true, encoding: .utf8)
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(work))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }

        let train = try SegmentationDataset(root: root, list: "train")
        XCTAssertEqual(train.samples.map(\.id), ["synth_train_00000", "synth_train_00001"])
        XCTAssertEqual(train.listSource, "split 'train' (\(root)/ImageSets/Segmentation/train.txt)")
        // The file `val` in the working directory holds a val id; the split `val` is still the split.
        let val = try SegmentationDataset(root: root, list: "val")
        XCTAssertEqual(val.listPath, root + "/ImageSets/Segmentation/val.txt")
        XCTAssertEqual(val.listSource, "split 'val' (\(root)/ImageSets/Segmentation/val.txt)")
        // As a path it is the file.
        let file = try SegmentationDataset(root: root, list: "./val")
        XCTAssertEqual(file.listSource, "file ./val")
        // A path relative to the root, and one ending in .txt without a '/'.
        try "synth_train_00001\n".write(toFile: root + "/one.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try SegmentationDataset(root: root, list: "one.txt").listSource, "file \(root)/one.txt")
        XCTAssertEqual(try SegmentationDataset(root: root, list: "ImageSets/Segmentation/val.txt").samples.map(\.id), ["synth_val_00000"])
        XCTAssertThrowsError(try SegmentationDataset(root: root, list: "./train")) {
            XCTAssertEqual("\($0)", "./train: list is not a regular file (a directory?)")
        }
        XCTAssertThrowsError(try SegmentationDataset(root: root, list: "./nothing.txt")) {
            XCTAssertEqual("\($0)", "./nothing.txt: list file not found (tried it as a path and under \(root))")
        }
    }
}
