import Foundation
import DinoSegCore
// The synthetic dataset in the Cityscapes layout: PNG photos under leftImg8bit/SPLIT/CITY/ and labelId PNGs under
// gtFine/SPLIT/CITY/, so the Cityscapes reader (labelIds → train classes) runs without the real data.

extension SyntheticLayouts {
    /// Train photos in city "synthcity", val photos in "synthval" (Cityscapes' splits share no city).
    static let cityscapes = SyntheticLayoutWriter(
        layout: CityscapesLayout.name,
        prepare: { directory, config in
            try SyntheticCityscapes.checkClasses(config.objectClasses)
            for split in CityscapesLayout.splitNames {
                for top in ["leftImg8bit", "gtFine"] {
                    try FileSystem.createDirectory("\(directory)/\(top)/\(split)/\(SyntheticCityscapes.city(split))", what: "dataset directory")
                }
            }
        },
        write: { image, label, id, split, directory in
            let layout = CityscapesLayout(root: directory)
            let sample = layout.sample(split: split, city: SyntheticCityscapes.city(split),
                                       id: try SyntheticCityscapes.id(syntheticID: id, split: split))
            try ImageIO.writePNG(image, to: sample.imagePath)
            try ImageIO.writeGreyPNG(SyntheticCityscapes.labelIds(label.pixels), width: label.width, height: label.height,
                                     to: sample.labelPath)
        },
        // A Cityscapes split is its city folders: there is no list to write.
        finish: { _, _, _ in })
}

/// How the rendered class indices (0 background, 1–20 objects, 255 void) become Cityscapes labelIds.
package enum SyntheticCityscapes {
    /// The train class each rendered index is stored as. 21 indices share 19 classes: 12 shares 10's and 20 shares
    /// 19's, which keeps background + `spreadClasses(n)` distinct for every n up to 18 except 17 (`checkClasses`).
    package static let trainClass: [Int] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 10, 12, 13, 14, 15, 16, 17, 18, 18]

    package static func city(_ split: String) -> String { split == "train" ? "synthcity" : "synthval" }

    /// Image `index` of `split`: CITY_000000_FRAME, FRAME = index (as Cityscapes' CITY_SEQ_FRAME names).
    package static func id(split: String, index: Int) -> String {
        "\(city(split))_000000_\(String(format: "%06d", index))"
    }

    /// The Cityscapes id of the renderer's id ("synth_train_00003" → "synthcity_000000_000003").
    static func id(syntheticID: String, split: String) throws -> String {
        guard let index = syntheticID.split(separator: "_").last.flatMap({ Int($0) }) else {
            throw DinoSegError(file: syntheticID, "synthetic Cityscapes: the id ends in no image number")
        }
        return id(split: split, index: index)
    }

    /// Rendered class indices → the labelIds of their train classes (void → labelId 0, "unlabeled", as in the real gtFine files).
    package static func labelIds(_ rendered: [UInt8]) -> [UInt8] {
        // Every train class has a labelId and void has 0, so the description always encodes them.
        DatasetDescription.cityscapes.encode(trainClasses(rendered))!
    }

    /// What reading `labelIds(rendered)` back through the Cityscapes layout gives: train classes, 255 void.
    package static func trainClasses(_ rendered: [UInt8]) -> [UInt8] {
        rendered.map { $0 == VOC.ignoreLabel ? DatasetDescription.ignoredIndex : UInt8(trainClass[Int($0)]) }
    }

    /// Refuses object classes two of which (or one and the background) would be stored as one train class.
    static func checkClasses(_ objectClasses: [Int]) throws {
        var owner: [Int: Int] = [:]
        for c in [0] + objectClasses {
            guard trainClass.indices.contains(c) else {
                throw DinoSegError("synthetic Cityscapes: rendered class \(c) is outside 0–\(trainClass.count - 1)")
            }
            if let other = owner[trainClass[c]], other != c {
                throw DinoSegError("synthetic Cityscapes: rendered classes \(other) and \(c) would both be stored as \(Cityscapes.classNames[trainClass[c]]) (19 train classes for 21 rendered ones); use --classes 1–16 or 18")
            }
            owner[trainClass[c]] = c
        }
    }
}
