import Foundation
import DinoSegCore
// The photos and masks of a folder dataset (FolderLayout): ROOT/images/ID.{jpg,jpeg,png} and ROOT/masks/ID.png, paired
// by file stem (extensions in any case: cameras write .JPG). Only the top level of each directory is read; hidden
// files and other extensions are ignored.

struct FolderFiles {
    /// Photo extensions in the order `sample(id:)` tries them when an id has several photos.
    static let photoExtensions = ["jpg", "jpeg", "png"]
    /// How many unpaired files a refusal names.
    static let shown = 5

    /// Id → photo file name in images/.
    let photos: [String: String]
    /// Id → mask file name in masks/ (ID.png, or ID.PNG).
    let masks: [String: String]
    /// Every id, sorted: the order of a seeded split.
    let ids: [String]

    /// Lists both directories and refuses photos without a mask or masks without a photo, naming the first few.
    init(root: String) throws {
        let photoNames = try Self.names(in: "\(root)/images")
        var photos: [String: String] = [:]
        for ext in Self.photoExtensions.reversed() {   // the first extension wins a shared stem
            for name in photoNames where Self.fileExtension(name) == ext { photos[Self.stem(name)] = name }
        }
        if let bad = photos.keys.sorted().first(where: { SampleID.problem($0) != nil }) {
            throw DinoSegError(file: "\(root)/images/\(photos[bad]!)", "the id '\(bad)' \(SampleID.problem(bad)!)")
        }
        var masks: [String: String] = [:]
        for name in try Self.names(in: "\(root)/masks") where Self.fileExtension(name) == "png" { masks[Self.stem(name)] = name }
        try Self.checkPaired(Set(photos.keys), Set(masks.keys), root: root)
        self.photos = photos
        self.masks = masks
        ids = photos.keys.sorted()
    }

    /// The visible entries of `directory`.
    static func names(in directory: String) throws -> [String] {
        guard let names = DatasetLayouts.visibleEntries(directory) else { throw DinoSegError(file: directory, "cannot list the directory") }
        return names   // sorted: which of "a.JPG" and "a.jpg" wins is fixed
    }

    /// The lower-cased extension ("JPG" → "jpg"), so cameras' upper-case names count.
    static func fileExtension(_ name: String) -> String { (name as NSString).pathExtension.lowercased() }

    static func stem(_ name: String) -> String { (name as NSString).deletingPathExtension }

    /// Every photo has a mask and every mask a photo.
    static func checkPaired(_ photos: Set<String>, _ masks: Set<String>, root: String) throws {
        let noMask = photos.subtracting(masks).sorted(), noPhoto = masks.subtracting(photos).sorted()
        if !noMask.isEmpty {
            throw DinoSegError(file: "\(root)/images", "\(noMask.count) photo(s) have no mask in masks/ (ID.png): \(listed(noMask))")
        }
        if !noPhoto.isEmpty {
            throw DinoSegError(file: "\(root)/masks", "\(noPhoto.count) mask(s) have no photo in images/ (ID.jpg, .jpeg or .png): \(listed(noPhoto))")
        }
        if photos.isEmpty { throw DinoSegError(file: "\(root)/images", "holds no photos (ID.jpg, .jpeg or .png)") }
    }

    /// "a, b, c, …" with at most `shown` ids.
    static func listed(_ ids: [String]) -> String {
        ids.prefix(shown).joined(separator: ", ") + (ids.count > shown ? ", …" : "")
    }
}
