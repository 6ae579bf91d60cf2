// A segmentation dataset = a VOC-style root + a split list. Two list formats are accepted:
//   one id per line                          "2007_000032"
//   semseg-style image/label pairs           "JPEGImages/2007_000032.jpg SegmentationClassAug/2007_000032.png"
// With ids, labels come from SegmentationClassAug when that directory exists, else SegmentationClass.
import Foundation
import DinoSegCore

package struct SegmentationSample: Equatable, Codable {
    package var id: String
    package var imagePath: String
    package var labelPath: String
}

package struct SegmentationDataset {
    package var root: String
    package var listPath: String
    /// How `list` was read, for the line the commands print: "split 'train' (ROOT/ImageSets/Segmentation/train.txt)"
    /// or "file PATH".
    package var listSource: String
    package var samples: [SegmentationSample]

    /// `list` is a split name such as "train" meaning ROOT/ImageSets/Segmentation/train.txt, or, when it contains a
    /// '/' or ends in ".txt", a path (absolute, relative to the working directory, or relative to `root`).
    package init(root: String, list: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw DinoSegError(file: root, "dataset root not found (expected a directory with JPEGImages/)")
        }
        self.root = root
        (listPath, listSource) = try SegmentationDataset.resolveList(root: root, list: list)
        guard let text = try? String(contentsOfFile: listPath, encoding: .utf8) else {
            throw DinoSegError(file: listPath, "cannot read list file")
        }
        let labelDir = SegmentationDataset.labelDirectory(root: root)
        var samples: [SegmentationSample] = []
        for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            switch fields.count {
            case 0: continue
            case 1:
                let id = fields[0]
                try SampleID.check(id, list: listPath, line: n + 1)
                samples.append(SegmentationSample(id: id, imagePath: "\(root)/JPEGImages/\(id).jpg",
                                                  labelPath: "\(root)/\(labelDir)/\(id).png"))
            case 2:
                for path in fields { try SampleID.checkRelative(path, list: listPath, line: n + 1) }
                let id = URL(fileURLWithPath: fields[0]).deletingPathExtension().lastPathComponent
                try SampleID.check(id, list: listPath, line: n + 1)
                samples.append(SegmentationSample(id: id, imagePath: SegmentationDataset.join(root, fields[0]),
                                                  labelPath: SegmentationDataset.join(root, fields[1])))
            default:
                throw DinoSegError(file: listPath, "line \(n + 1): expected an id or 'image label', got \(fields.count) fields")
            }
        }
        if samples.isEmpty { throw DinoSegError(file: listPath, "list is empty") }
        // A repeated id would be extracted (and weighted in training and metrics) twice; refuse rather than guess
        // which line was meant.
        var firstLine: [String: Int] = [:]
        for (n, s) in samples.enumerated() {
            if let first = firstLine[s.id] {
                throw DinoSegError(file: listPath, "id '\(s.id)' is listed twice (entries \(first + 1) and \(n + 1)); remove the duplicate")
            }
            firstLine[s.id] = n
        }
        self.samples = samples
    }

    /// Every listed image and label file exists; otherwise an error naming the first missing files.
    package func checkFilesExist() throws {
        let fm = FileManager.default
        var missing: [String] = []
        for s in samples {
            if !fm.fileExists(atPath: s.imagePath) { missing.append(s.imagePath) }
            if !fm.fileExists(atPath: s.labelPath) { missing.append(s.labelPath) }
        }
        if !missing.isEmpty {
            let shown = missing.prefix(3).joined(separator: ", ")
            throw DinoSegError(file: listPath, "\(missing.count) listed file(s) missing: \(shown)\(missing.count > 3 ? ", …" : "")")
        }
    }

    /// A split name means ROOT/ImageSets/Segmentation/NAME.txt and nothing else, so a file or folder of that name in
    /// the working directory can neither shadow it nor be taken for it; a path (with a '/' or ending in ".txt") must
    /// be a regular file, tried as given and then under `root`. Returns the list file and how it was chosen.
    static func resolveList(root: String, list: String) throws -> (path: String, source: String) {
        guard isPath(list) else {
            let path = "\(root)/ImageSets/Segmentation/\(list).txt"
            switch fileKind(path) {
            case .regular: return (path, "split '\(list)' (\(path))")
            case .other: throw DinoSegError(file: path, "split '\(list)': not a regular file")
            case .missing:
                throw DinoSegError(file: list, "list file not found: no split '\(list)' (\(path)); a list file needs a path with a '/' or ending in .txt, e.g. ./\(list)")
            }
        }
        let candidates = list.hasPrefix("/") ? [list] : [list, "\(root)/\(list)"]
        for c in candidates {
            switch fileKind(c) {
            case .regular: return (c, "file \(c)")
            case .other: throw DinoSegError(file: c, "list is not a regular file (a directory?)")
            case .missing: continue
            }
        }
        throw DinoSegError(file: list, "list file not found (tried it as a path\(list.hasPrefix("/") ? "" : " and under \(root)"))")
    }

    /// A `--list` value is a path when it has a directory part or a .txt name; otherwise it names a split.
    static func isPath(_ list: String) -> Bool { list.contains("/") || list.hasSuffix(".txt") }

    enum FileKind { case regular, other, missing }

    /// stat(2), following symlinks (a linked list file is fine): regular file, something else, or nothing.
    static func fileKind(_ path: String) -> FileKind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        return (st.st_mode & S_IFMT) == S_IFREG ? .regular : .other
    }

    /// SegmentationClassAug (SBD-augmented labels) when present, else SegmentationClass.
    package static func labelDirectory(root: String) -> String {
        FileManager.default.fileExists(atPath: "\(root)/SegmentationClassAug") ? "SegmentationClassAug" : "SegmentationClass"
    }

    /// A pair line's path under the root (SampleID.checkRelative has refused absolute paths and '..').
    static func join(_ root: String, _ path: String) -> String { "\(root)/\(path)" }
}

/// Reads and checks one sample: image and label of the same size, label values 0..<numClasses or 255.
package func loadSample(_ sample: SegmentationSample) throws -> (RGBImage, LabelImage) {
    let image = try ImageIO.readRGB(sample.imagePath)
    let label = try ImageIO.readLabel(sample.labelPath)
    try validateLabel(label, path: sample.labelPath, image: image)
    return (image, label)
}

package func validateLabel(_ label: LabelImage, path: String, image: RGBImage) throws {
    guard label.width == image.width, label.height == image.height else {
        throw DinoSegError(file: path, "label is \(label.width)x\(label.height) but its image is \(image.width)x\(image.height)")
    }
    let limit = UInt8(VOC.numClasses)
    if let bad = label.pixels.first(where: { $0 >= limit && $0 != VOC.ignoreLabel }) {
        throw DinoSegError(file: path, "label value \(bad) (expected 0–\(VOC.numClasses - 1) or 255)")
    }
}
