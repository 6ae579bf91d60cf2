import Foundation
import DinoSegCore
// A dataset layout is how one benchmark arranges its files on disk. Each layout knows how to recognise its root, what
// its labels mean (a DatasetDescription), which samples a split name means, which sample an id means, and the
// evaluation protocol its users expect. Adding a dataset is one file conforming to `DatasetLayout` and one line in
// `DatasetLayouts.all`.

package protocol DatasetLayout {
    /// Its name, what its root holds, and the protocol its users expect.
    static var profile: LayoutProfile { get }
    /// Whether `root` looks like this layout (cheap: a few directory checks).
    static func matches(root: String) -> Bool
    /// Opens `root` (already known to match), reading whatever the description needs (e.g. a classes file).
    init(root: String, options: LayoutOptions) throws

    var root: String { get }
    var description: DatasetDescription { get }
    /// The samples of split `name` ("train", "val", …); an unknown split is refused naming the known ones.
    func split(_ name: String) throws -> SplitList
    /// The sample a bare id on a list-file line means.
    func sample(id: String) -> SegmentationSample
}

/// The facts of a layout that need no root.
package struct LayoutProfile {
    /// The `--layout` name, e.g. "voc".
    package var name: String
    /// What a root of this layout holds, for the refusal that lists the layouts tried.
    package var expected: String
    /// The name its descriptions carry (nil for layouts whose name comes from the data, like a folder dataset).
    package var datasetName: String?
    /// The evaluation protocol users of this dataset expect; command-line flags override it.
    package var evalProtocol = EvalProtocol()
    /// The long side photos are resized to before the train augmentation's random scale (nil: as stored).
    package var trainLongSide: Int? = nil
}

extension DatasetLayout {
    package static var name: String { profile.name }
    package static var expected: String { profile.expected }
    package static var datasetName: String? { profile.datasetName }
    package static var evalProtocol: EvalProtocol { profile.evalProtocol }
    package static var trainLongSide: Int? { profile.trainLongSide }
}

/// A split's samples and where they came from.
package struct SplitList {
    package var samples: [SegmentationSample]
    /// The list file read, or the split's name when the layout's split is a directory rather than a list file; a cache
    /// records it, and a later run re-reads the split from it.
    package var listPath: String
    package var isFile: Bool
    /// For the line the commands print: "split 'train' (ROOT/ImageSets/Segmentation/train.txt)" or "file PATH".
    package var source: String

    package init(samples: [SegmentationSample], listPath: String, isFile: Bool, source: String) {
        self.samples = samples; self.listPath = listPath; self.isFile = isFile; self.source = source
    }
}

/// Choices some layouts take (the folder layout's seeded split).
package struct LayoutOptions: Equatable {
    /// Fraction of a folder dataset's images that form "val" when it has no split lists.
    package var valFraction = 0.1
    /// Seed of that split.
    package var splitSeed: UInt64 = 0
    package init() {}
}

package enum DatasetLayouts {
    /// Every layout, in the order they are tried.
    package static let all: [DatasetLayout.Type] = [VOCLayout.self, ADE20KLayout.self, CityscapesLayout.self,
                                                    FolderLayout.self]   // stays last: images/ + masks/ is the loosest match

    package static var names: [String] { all.map { $0.name } }

    /// The layout `name` (or, when nil, the first that matches `root`), opened; refuses a root that is not a
    /// directory or matches no layout, listing what was tried.
    package static func open(root: String, name: String? = nil, options: LayoutOptions = LayoutOptions()) throws -> DatasetLayout {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw DinoSegError(file: root, "dataset root not found (expected a directory)")
        }
        if let name {
            guard let layout = all.first(where: { $0.name == name }) else {
                throw DinoSegError("--layout \(name): known layouts are \(names.joined(separator: ", "))")
            }
            guard layout.matches(root: root) else {
                throw DinoSegError(file: root, "is not a \(name) dataset (expected \(layout.expected))")
            }
            return try layout.init(root: root, options: options)
        }
        guard let layout = all.first(where: { $0.matches(root: root) }) else {
            let tried = all.map { "\($0.name) (\($0.expected))" }.joined(separator: "; ")
            throw DinoSegError(file: root, "matches no dataset layout; tried \(tried)")
        }
        return try layout.init(root: root, options: options)
    }

    /// The protocol users of dataset `description` expect (a run or cache records the description, not the layout).
    package static func evalProtocol(for description: DatasetDescription) -> EvalProtocol {
        all.first(where: { $0.datasetName == description.name })?.evalProtocol ?? EvalProtocol()
    }

    /// The layout whose data carry `description`'s name, if any (a folder dataset's is detected again).
    package static func layoutName(for description: DatasetDescription) -> String? {
        all.first(where: { $0.datasetName == description.name })?.name
    }

    /// The visible entries of `directory` (hidden files, such as the "._" forks macOS archives leave, skipped), sorted
    /// so no order depends on the file system; nil when it cannot be listed. Every layout lists its folders with it.
    package static func visibleEntries(_ directory: String) -> [String]? {
        (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Whether `path` is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}
