// A segmentation dataset = a root in one of the known layouts (DatasetLayout) + a split: a split name the layout
// resolves, or a list file (ListFile) of ids or image/label pairs.
import Foundation
import DinoSegCore

package struct SegmentationSample: Equatable, Codable {
    package var id: String
    package var imagePath: String
    package var labelPath: String
}

package struct SegmentationDataset {
    package var root: String
    package var layout: DatasetLayout
    /// The list file, or the split's name when the layout's split is not a list file (see `SplitList.listPath`).
    package var listPath: String
    package var listIsFile: Bool
    /// How `list` was read, for the line the commands print: "split 'train' (ROOT/ImageSets/Segmentation/train.txt)"
    /// or "file PATH".
    package var listSource: String
    package var samples: [SegmentationSample]

    package var description: DatasetDescription { layout.description }

    /// `list` is a split name such as "train" (what it means is the layout's: for VOC,
    /// ROOT/ImageSets/Segmentation/train.txt), or, when it contains a '/' or ends in ".txt", a list file's path
    /// (absolute, relative to the working directory, or relative to `root`). `layout` names the layout; nil detects it.
    package init(root: String, list: String, layout: String? = nil, options: LayoutOptions = LayoutOptions()) throws {
        self.root = root
        self.layout = try DatasetLayouts.open(root: root, name: layout, options: options)
        let split: SplitList
        if SegmentationDataset.isPath(list) {
            let (path, source) = try SegmentationDataset.resolveList(root: root, list: list)
            split = SplitList(samples: try ListFile.read(path, layout: self.layout), listPath: path, isFile: true, source: source)
        } else {
            split = try self.layout.split(list)
        }
        listPath = split.listPath; listIsFile = split.isFile; listSource = split.source; samples = split.samples
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

    /// Reads and checks one sample and maps its stored labels to class indices (255 ignored).
    package func load(_ sample: SegmentationSample) throws -> (RGBImage, LabelImage) {
        try loadSample(sample, description)
    }

    /// A path (with a '/' or ending in ".txt") must be a regular file, tried as given and then under `root`, so a file
    /// or folder in the working directory can neither shadow a split name nor be taken for one. Returns the list file
    /// and how it was chosen.
    static func resolveList(root: String, list: String) throws -> (path: String, source: String) {
        let candidates = list.hasPrefix("/") ? [list] : [list, "\(root)/\(list)"]
        for c in candidates {
            switch ListFile.kind(c) {
            case .regular: return (c, "file \(c)")
            case .other: throw DinoSegError(file: c, "list is not a regular file (a directory?)")
            case .missing: continue
            }
        }
        throw DinoSegError(file: list, "list file not found (tried it as a path\(list.hasPrefix("/") ? "" : " and under \(root)"))")
    }

    /// A `--list` value is a path when it has a directory part or a .txt name; otherwise it names a split.
    static func isPath(_ list: String) -> Bool { list.contains("/") || list.hasSuffix(".txt") }
}

/// Reads one sample, checks it (`validateLabel`) and maps its stored label values to class indices (255 ignored).
package func loadSample(_ sample: SegmentationSample, _ description: DatasetDescription) throws -> (RGBImage, LabelImage) {
    let image = try ImageIO.readRGB(sample.imagePath)
    var label = try ImageIO.readLabel(sample.labelPath)
    try validateLabel(label, path: sample.labelPath, image: image, description: description)
    description.mapLabels(&label.pixels)
    return (image, label)
}

/// A label file matches its image's size and holds only values the dataset defines.
package func validateLabel(_ label: LabelImage, path: String, image: RGBImage, description: DatasetDescription) throws {
    guard label.width == image.width, label.height == image.height else {
        throw DinoSegError(file: path, "label is \(label.width)x\(label.height) but its image is \(image.width)x\(image.height)")
    }
    try description.checkStored(label.pixels, width: label.width, path: path)
}
