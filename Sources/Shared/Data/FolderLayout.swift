import Foundation
import DinoSegCore
// A user's own data: ROOT/images/ID.{jpg,jpeg,png}, ROOT/masks/ID.png (single-channel PNGs of class indices, 255
// ignored), ROOT/classes.txt (FolderClasses: class i is mask value i) and optionally ROOT/splits/NAME.txt lists.
// With lists, the splits are exactly those lists; without, "train" and "val" are a SeededSplit of every image.
// The description is named "folder:" + the root directory's name (the data has no other name) and records the split
// rule, so a train cache and a val cache of different seeded splits (overlapping images) are refused as a pair.
// Tried last of all layouts: images/ and masks/ are names other datasets might also use.

package struct FolderLayout: DatasetLayout {
    /// VOC's protocol; the dataset's name comes from the root's directory name.
    package static let profile = LayoutProfile(name: "folder", expected: "images/, masks/ and classes.txt")
    static let namePrefix = "folder:"

    package static func matches(root: String) -> Bool {
        DatasetLayouts.isDirectory("\(root)/images") && DatasetLayouts.isDirectory("\(root)/masks")
            && ListFile.kind("\(root)/\(FolderClasses.fileName)") == .regular
    }

    package let root: String
    package let description: DatasetDescription
    let options: LayoutOptions
    let files: FolderFiles
    /// Split name → its list file (ROOT/splits/NAME.txt); empty when the folder has no lists.
    let lists: [String: String]

    package init(root: String, options: LayoutOptions) throws {
        self.root = root
        self.options = options
        files = try FolderFiles(root: root)
        lists = try Self.splitLists(root: root)
        if lists.isEmpty && files.ids.count < 2 {
            throw DinoSegError(file: "\(root)/images", "holds \(files.ids.count) photo; a seeded train/val split needs at least 2 (or give splits/NAME.txt lists)")
        }
        let classesPath = "\(root)/\(FolderClasses.fileName)"
        let (names, palette) = try FolderClasses.read(classesPath)
        let splits = lists.isEmpty
            ? Dictionary(uniqueKeysWithValues: SeededSplit.names.map { ($0, "\(SeededSplit.rule(options)): \(SeededSplit(name: $0, options: options).listName)") })
            : lists.mapValues { "splits/" + ($0 as NSString).lastPathComponent }
        description = DatasetDescription(
            name: Self.namePrefix + URL(fileURLWithPath: root).standardizedFileURL.lastPathComponent, classNames: names,
            palette: palette, ignoreLabel: DatasetDescription.ignoredIndex,
            labelMap: DatasetDescription.identityMap(classes: names.count, ignore: DatasetDescription.ignoredIndex), splits: splits)
        try description.validate(source: classesPath)
    }

    /// ROOT/splits/*.txt by name (none when splits/ is absent).
    static func splitLists(root: String) throws -> [String: String] {
        let directory = "\(root)/splits"
        guard DatasetLayouts.isDirectory(directory) else { return [:] }
        let names = try FolderFiles.names(in: directory).filter { $0.hasSuffix(".txt") }
        return Dictionary(uniqueKeysWithValues: names.map { (String($0.dropLast(4)), "\(directory)/\($0)") })
    }

    /// A list of splits/, or (without lists) the seeded "train" / "val", also in its recorded form (SeededSplit).
    package func split(_ name: String) throws -> SplitList {
        if !lists.isEmpty {
            guard let path = lists[name] else {
                throw DinoSegError(file: "\(root)/splits", "no split '\(name)': the splits are \(lists.keys.sorted().joined(separator: ", ")) (NAME.txt here)")
            }
            return SplitList(samples: try ListFile.read(path, layout: self), listPath: path, isFile: true,
                             source: "split '\(name)' (\(path))")
        }
        guard let seeded = try SeededSplit.parse(name, options: options, root: root) else {
            throw DinoSegError(file: root, "no split '\(name)': without splits/NAME.txt lists the splits are train and val, seeded (--val-fraction, --split-seed)")
        }
        let ids = seeded.select(files.ids)
        return SplitList(samples: ids.map(sample(id:)), listPath: seeded.listName, isFile: false,
                         source: "split '\(seeded.name)' (\(ids.count) of the \(files.ids.count) images of \(root)/images, \(SeededSplit.rule(options)))")
    }

    /// images/ID with the photo's extension (found when the folder was listed, else the first of jpg, jpeg, png that
    /// exists, else .jpg, reported missing later), masks/ID.png (or the mask's name as listed, e.g. ID.PNG).
    package func sample(id: String) -> SegmentationSample {
        let photo = files.photos[id] ?? FolderFiles.photoExtensions.map { "\(id).\($0)" }
            .first { FileManager.default.fileExists(atPath: "\(root)/images/\($0)") } ?? "\(id).jpg"
        return SegmentationSample(id: id, imagePath: "\(root)/images/\(photo)", labelPath: "\(root)/masks/\(files.masks[id] ?? "\(id).png")")
    }
}
