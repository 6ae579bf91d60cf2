import Foundation
import DinoSegCore
// PASCAL VOC 2012 (+SBD): JPEGImages/ID.jpg, SegmentationClass[Aug]/ID.png (class indices, 255 void),
// ImageSets/Segmentation/SPLIT.txt. Labels come from SegmentationClassAug when that directory exists.

package struct VOCLayout: DatasetLayout {
    package static let profile = LayoutProfile(name: "voc", expected: "JPEGImages/ and ImageSets/Segmentation/",
                                               datasetName: DatasetDescription.voc.name)

    package static func matches(root: String) -> Bool {
        DatasetLayouts.isDirectory("\(root)/JPEGImages") && DatasetLayouts.isDirectory("\(root)/ImageSets/Segmentation")
    }

    package let root: String
    package let description: DatasetDescription
    let labelDirectory: String

    package init(root: String, options: LayoutOptions) throws {
        self.root = root
        description = .voc
        labelDirectory = FileManager.default.fileExists(atPath: "\(root)/SegmentationClassAug") ? "SegmentationClassAug" : "SegmentationClass"
    }

    /// A split name means ROOT/ImageSets/Segmentation/NAME.txt and nothing else.
    package func split(_ name: String) throws -> SplitList {
        let path = "\(root)/ImageSets/Segmentation/\(name).txt"
        switch ListFile.kind(path) {
        case .regular:
            return SplitList(samples: try ListFile.read(path, layout: self), listPath: path, isFile: true,
                             source: "split '\(name)' (\(path))")
        case .other: throw DinoSegError(file: path, "split '\(name)': not a regular file")
        case .missing:
            throw DinoSegError(file: name, "list file not found: no split '\(name)' (\(path)); a list file needs a path with a '/' or ending in .txt, e.g. ./\(name)")
        }
    }

    package func sample(id: String) -> SegmentationSample {
        SegmentationSample(id: id, imagePath: "\(root)/JPEGImages/\(id).jpg", labelPath: "\(root)/\(labelDirectory)/\(id).png")
    }
}
