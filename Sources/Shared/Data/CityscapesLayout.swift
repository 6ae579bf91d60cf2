import Foundation
import DinoSegCore
// Cityscapes (fine annotations), as the official zips unpack:
//   leftImg8bit/SPLIT/CITY/CITY_SEQ_FRAME_leftImg8bit.png    photos (2048×1024)
//   gtFine/SPLIT/CITY/CITY_SEQ_FRAME_gtFine_labelIds.png     labelIds 0–33, mapped to the 19 train classes at load
// A split is a directory, not a list file: its samples are every photo of its city folders, sorted by city and file.
// The test split's gtFine files hold no classes (its labels are not public), so only train and val are offered.

package struct CityscapesLayout: DatasetLayout {
    /// Evaluated at half resolution (1024×512), windows and flip as for VOC. Photos are 2048×1024: training uses the
    /// same long side, so the random scale U(0.5, 2) is around half resolution too.
    package static let profile = LayoutProfile(
        name: "cityscapes", expected: "leftImg8bit/ and gtFine/ (SPLIT/CITY/ folders)",
        datasetName: DatasetDescription.cityscapes.name, evalProtocol: EvalProtocol(longSide: 1024), trainLongSide: 1024)

    static let imageSuffix = "_leftImg8bit.png"
    static let labelSuffix = "_gtFine_labelIds.png"
    static let splitNames = ["train", "val"]

    package static func matches(root: String) -> Bool {
        DatasetLayouts.isDirectory("\(root)/leftImg8bit") && DatasetLayouts.isDirectory("\(root)/gtFine")
    }

    package let root: String
    package let description = DatasetDescription.cityscapes

    /// Nothing to read: the description is fixed.
    package init(root: String, options: LayoutOptions = LayoutOptions()) {
        self.root = root
    }

    /// "train" or "val": every photo under leftImg8bit/NAME/CITY/. "test" is refused (no public labels).
    package func split(_ name: String) throws -> SplitList {
        try Self.checkSplitName(name, root: root)
        let directory = "\(root)/leftImg8bit/\(name)"
        guard DatasetLayouts.isDirectory(directory) else {
            throw DinoSegError(file: directory, "split '\(name)': directory not found (unzip leftImg8bit_trainvaltest.zip into the dataset root)")
        }
        let samples = try samples(split: name)
        guard !samples.isEmpty else {
            throw DinoSegError(file: directory, "split '\(name)': no *\(Self.imageSuffix) photos in its city folders")
        }
        try ListFile.checkUnique(samples, source: directory)
        return SplitList(samples: samples, listPath: name, isFile: false, source: "split '\(name)' (\(directory))")
    }

    /// Refuses every split name but train and val, saying why for test.
    static func checkSplitName(_ name: String, root: String) throws {
        if splitNames.contains(name) { return }
        if name == "test" {
            throw DinoSegError(file: "\(root)/gtFine/test", "split 'test': Cityscapes test labels are not public (its gtFine files hold no classes); use train or val")
        }
        throw DinoSegError(file: name, "no split '\(name)' in a Cityscapes root (its splits are train and val); a list file needs a path with a '/' or ending in .txt, e.g. ./\(name)")
    }

    /// The photos of `split`, sorted by city, then by file name.
    func samples(split: String) throws -> [SegmentationSample] {
        let directory = "\(root)/leftImg8bit/\(split)"
        return try Self.sortedEntries(directory).filter { DatasetLayouts.isDirectory("\(directory)/\($0)") }.flatMap { city in
            try Self.sortedEntries("\(directory)/\(city)").filter { $0.hasSuffix(Self.imageSuffix) }.map { file in
                sample(split: split, city: city, id: String(file.dropLast(Self.imageSuffix.count)))
            }
        }
    }

    /// A bare id's city is its text before the first '_'; its split is the first of train, val holding its photo
    /// (train when neither does, so the missing-file check names a path).
    package func sample(id: String) -> SegmentationSample {
        let city = String(id.prefix(while: { $0 != "_" }))
        let split = Self.splitNames.first { FileManager.default.fileExists(atPath: imagePath(split: $0, city: city, id: id)) }
        return sample(split: split ?? Self.splitNames[0], city: city, id: id)
    }

    func sample(split: String, city: String, id: String) -> SegmentationSample {
        SegmentationSample(id: id, imagePath: imagePath(split: split, city: city, id: id),
                           labelPath: "\(root)/gtFine/\(split)/\(city)/\(id)\(Self.labelSuffix)")
    }

    func imagePath(split: String, city: String, id: String) -> String {
        "\(root)/leftImg8bit/\(split)/\(city)/\(id)\(Self.imageSuffix)"
    }

    /// A directory's visible entries, sorted (the order of samples must not depend on the file system).
    static func sortedEntries(_ directory: String) throws -> [String] {
        guard let names = DatasetLayouts.visibleEntries(directory) else { throw DinoSegError(file: directory, "cannot list the directory") }
        return names
    }
}
