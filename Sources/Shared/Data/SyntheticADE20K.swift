import Foundation
import DinoSegCore
// The synthetic dataset in the ADE20K layout. Rendered class c (background 0, objects 1…20) is ADE20K class c (wall,
// building, sky, …), so its annotation stores c + 1; the void band (255) becomes 0, "other", the value ADE20K
// leaves unlabelled. Reading the files back through ADE20KLayout gives the rendered labels exactly.

extension SyntheticLayouts {
    /// images/{training,validation}/ID.jpg, annotations/{training,validation}/ID.png (grey annotation values).
    static let ade20k = SyntheticLayoutWriter(
        layout: ADE20KLayout.name,
        prepare: { directory, _ in
            for kind in ["images", "annotations"] {
                for split in ["training", "validation"] {
                    try FileSystem.createDirectory("\(directory)/\(kind)/\(split)", what: "dataset directory")
                }
            }
        },
        write: { image, label, id, split, directory in
            let sub = split == "train" ? "training" : "validation"
            let path = "\(directory)/annotations/\(sub)/\(id).png"
            try ImageIO.writeJPEG(image, to: "\(directory)/images/\(sub)/\(id).jpg", quality: 92)
            try ImageIO.writeGreyPNG(try ade20kAnnotation(label.pixels, path: path), width: label.width, height: label.height, to: path)
        },
        finish: { _, _, _ in })  // the layout lists its directories; there are no list files

    /// Class indices (255 void) → ADE20K annotation values (0 other, class + 1), from the description.
    static func ade20kAnnotation(_ classes: [UInt8], path: String) throws -> [UInt8] {
        guard let stored = DatasetDescription.ade20k.encode(classes) else {
            throw DinoSegError(file: path, "synthetic class \(classes.first { Int($0) >= ADE20K.numClasses && $0 != DatasetDescription.ignoredIndex } ?? 0) has no ADE20K class (0–\(ADE20K.numClasses - 1))")
        }
        return stored
    }
}
