import Foundation
import DinoSegCore
// The synthetic dataset in the folder layout (FolderLayout): images/ID.jpg, masks/ID.png (grey PNGs of class indices,
// 255 on region borders) and classes.txt naming exactly the rendered classes. The renderer's VOC class indices
// (background 0 and `config.objectClasses`, spread over 1...20) become 0, 1, 2, … in that order, keeping their VOC
// names and colours. No split lists: the folder's seeded split decides train and val.

extension SyntheticLayouts {
    static let folder = SyntheticLayoutWriter(
        layout: FolderLayout.name,
        prepare: { directory, config in
            for sub in ["images", "masks"] { try FileSystem.createDirectory("\(directory)/\(sub)", what: "dataset directory") }
            let classes = folderClasses(config)
            let text = FolderClasses.text(names: classes.map { VOC.classNames[$0] },
                                          palette: classes.flatMap { VOC.palette[(3 * $0)..<(3 * $0 + 3)] })
            try AtomicWrite.write(Data(text.utf8), to: "\(directory)/\(FolderClasses.fileName)")
        },
        write: { image, label, id, _, directory in
            try ImageIO.writeJPEG(image, to: "\(directory)/images/\(id).jpg", quality: 92)
            let values = folderValues(classes: try renderedClasses(listedIn: "\(directory)/\(FolderClasses.fileName)"))
            try ImageIO.writeGreyPNG(folderMask(label.pixels, values: values), width: label.width, height: label.height,
                                     to: "\(directory)/masks/\(id).png")
        },
        finish: { _, _, _ in })

    /// The renderer's class indices the folder dataset keeps, in mask-value order: background, then each object class
    /// once.
    package static func folderClasses(_ config: SyntheticDatasetConfig) -> [Int] {
        var classes = [0]
        for c in config.objectClasses where !classes.contains(c) { classes.append(c) }
        return classes
    }

    /// The renderer's class indices named by the class list `prepare` wrote (the writer is not given the config, so
    /// every mask follows the list on disk).
    static func renderedClasses(listedIn path: String) throws -> [Int] {
        try FolderClasses.read(path).names.map { name in
            guard let c = VOC.classNames.firstIndex(of: name) else { throw DinoSegError(file: path, "class '\(name)' is not one the synthetic renderer draws") }
            return c
        }
    }

    /// 256 entries: rendered class index → mask value (255 stays 255, the void border).
    package static func folderValues(classes: [Int]) -> [UInt8] {
        var map = [UInt8](repeating: DatasetDescription.ignoredIndex, count: 256)
        for (value, c) in classes.enumerated() { map[c] = UInt8(value) }
        return map
    }

    /// A rendered label's pixels as mask values.
    package static func folderMask(_ pixels: [UInt8], values: [UInt8]) -> [UInt8] {
        pixels.map { values[Int($0)] }
    }
}
