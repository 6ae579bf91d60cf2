import Foundation
import DinoSegCore
// ADE20K as the MIT Scene Parsing benchmark ships it (ADEChallengeData2016): images/{training,validation}/ID.jpg and
// annotations/{training,validation}/ID.png (grey, 0 = other, 1–150 = classes). There are no list files: a split is
// the sorted listing of its image directory.

package struct ADE20KLayout: DatasetLayout {
    /// mmsegmentation evaluates ADE20K at a short side of 512 (≈683 long for 4:3 photos); a long side of 640 is close
    /// to that, for training and evaluation alike, so heads are trained and evaluated at one scale.
    package static let profile = LayoutProfile(
        name: "ade20k", expected: "images/{training,validation}/ and annotations/{training,validation}/ (ADEChallengeData2016)",
        datasetName: DatasetDescription.ade20k.name, evalProtocol: EvalProtocol(longSide: 640), trainLongSide: 640)

    /// The directory under images/ and annotations/ each split name means.
    static let splitDirectories = ["train": "training", "training": "training", "val": "validation", "validation": "validation"]

    package static func matches(root: String) -> Bool {
        ["training", "validation"].contains {
            DatasetLayouts.isDirectory("\(root)/images/\($0)") && DatasetLayouts.isDirectory("\(root)/annotations/\($0)")
        }
    }

    package let root: String
    package let description = DatasetDescription.ade20k

    package init(root: String, options: LayoutOptions) throws {
        self.root = root
    }

    /// "train"/"training" or "val"/"validation": every .jpg of that image directory, sorted by id.
    package func split(_ name: String) throws -> SplitList {
        guard let directory = Self.splitDirectories[name] else {
            throw DinoSegError(file: name, "no split '\(name)' in the ade20k layout (train or training, val or validation); a list file needs a path with a '/' or ending in .txt, e.g. ./\(name)")
        }
        let path = "\(root)/images/\(directory)"
        let ids = try Self.imageIDs(in: path, split: name)
        // A cache records the canonical name, so "train" and "training" resume the same cache.
        let canonical = directory == "training" ? "train" : "val"
        return SplitList(samples: ids.map { sample(id: $0, directory: directory) }, listPath: canonical, isFile: false,
                         source: "split '\(name)' (\(path)/, \(ids.count) images)")
    }

    /// A bare id's split is in its name (ADE_train_…, ADE_val_…); any other id is looked for in training, then
    /// validation (a missing one is reported at its training path).
    package func sample(id: String) -> SegmentationSample {
        if id.hasPrefix("ADE_train_") { return sample(id: id, directory: "training") }
        if id.hasPrefix("ADE_val_") { return sample(id: id, directory: "validation") }
        let inValidation = !FileManager.default.fileExists(atPath: "\(root)/images/training/\(id).jpg")
            && FileManager.default.fileExists(atPath: "\(root)/images/validation/\(id).jpg")
        return sample(id: id, directory: inValidation ? "validation" : "training")
    }

    func sample(id: String, directory: String) -> SegmentationSample {
        SegmentationSample(id: id, imagePath: "\(root)/images/\(directory)/\(id).jpg",
                           labelPath: "\(root)/annotations/\(directory)/\(id).png")
    }

    /// The stems of the .jpg files in `path`, sorted; hidden files (macOS "._" forks left by unzipping) are skipped.
    static func imageIDs(in path: String, split: String) throws -> [String] {
        guard let names = DatasetLayouts.visibleEntries(path) else {
            throw DinoSegError(file: path, "split '\(split)': cannot list the image directory (missing?)")
        }
        let ids = names.filter { $0.hasSuffix(".jpg") }.map { String($0.dropLast(4)) }
        if let bad = ids.first(where: { SampleID.problem($0) != nil }) {
            throw DinoSegError(file: "\(path)/\(bad).jpg", "split '\(split)': the file name \(SampleID.problem(bad)!) and cannot be an id")
        }
        guard !ids.isEmpty else { throw DinoSegError(file: path, "split '\(split)': no .jpg images") }
        return ids
    }
}
