import Foundation
import DinoSegCore
// The synthetic dataset written in each dataset layout, so every layout's reader is tested, and a short demo runs,
// without downloads. `SyntheticDataset.render` draws an image and its class-index label; a layout's writer puts them
// where that layout keeps them, with labels stored as that dataset stores them.

/// How one layout stores a rendered sample. `split` is "train" or "val"; labels arrive as class indices (255 void).
package struct SyntheticLayoutWriter {
    package var layout: String
    /// Creates the directories (and anything written before the samples).
    var prepare: (_ directory: String, _ config: SyntheticDatasetConfig) throws -> Void
    /// Writes one sample (called concurrently).
    var write: (_ image: RGBImage, _ label: LabelImage, _ id: String, _ split: String, _ directory: String) throws -> Void
    /// Writes what follows the samples (split lists), given each split's ids.
    var finish: (_ directory: String, _ config: SyntheticDatasetConfig, _ ids: [String: [String]]) throws -> Void
}

package enum SyntheticLayouts {
    package static let all: [SyntheticLayoutWriter] = [voc, ade20k, cityscapes, folder]

    /// JPEGImages/ID.jpg, SegmentationClass/ID.png (palette indices), ImageSets/Segmentation/{train,val}.txt.
    static let voc = SyntheticLayoutWriter(
        layout: VOCLayout.name,
        prepare: { directory, _ in
            for sub in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"] {
                try FileSystem.createDirectory("\(directory)/\(sub)", what: "dataset directory")
            }
        },
        write: { image, label, id, _, directory in
            try ImageIO.writeJPEG(image, to: "\(directory)/JPEGImages/\(id).jpg", quality: 92)
            try ImageIO.writeLabelPNG(label, to: "\(directory)/SegmentationClass/\(id).png")
        },
        finish: { directory, _, ids in
            for split in ["train", "val"] {
                try writeList(ids[split] ?? [], to: "\(directory)/ImageSets/Segmentation/\(split).txt")
            }
        })

    /// One id per line, written atomically.
    static func writeList(_ ids: [String], to path: String) throws {
        try AtomicWrite.write(Data(ids.map { $0 + "\n" }.joined().utf8), to: path)
    }
}
