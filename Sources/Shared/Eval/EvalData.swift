import Foundation
import DinoSegCore
import DinoSegCache

/// Which images an evaluation ran on: the dataset kind, the image count and a hash of the image ids. A baseline's
/// metrics.json records it, so a sweep can tell whether the baseline saw the same val images as its val cache.
package struct EvalData: Codable, Equatable, CustomStringConvertible {
    package var dataset: DatasetKind
    package var images: Int
    /// SHA-256 of the sorted image ids, one per line (the order of evaluation does not change the metrics).
    package var imageIDsSHA256: String
    /// The image list, for messages (its path may differ between machines, so it is not compared).
    package var list: String

    enum CodingKeys: String, CodingKey {
        case dataset, images, imageIDsSHA256 = "image_ids_sha256", list
    }

    package init(imageIDs: [String], list: String) {
        dataset = DatasetKind.detect(imageIDs: imageIDs)
        images = imageIDs.count
        imageIDsSHA256 = SHA256.hex(of: Data(imageIDs.sorted().joined(separator: "\n").utf8))
        self.list = list
    }

    /// The images a val cache's evaluation covers: its list without the images skipped at extraction.
    package init(valCache m: CacheManifest) {
        let skipped = Set(m.skipped.map { String($0.split(separator: ":", maxSplits: 1).first ?? "") })
        self.init(imageIDs: m.imageIDs.filter { !skipped.contains($0) }, list: m.config.listFile)
    }

    package func sameImages(as other: EvalData) -> Bool {
        dataset == other.dataset && images == other.images && imageIDsSHA256 == other.imageIDsSHA256
    }

    /// "2 synthetic images of data/ImageSets/Segmentation/val.txt (ids 3f2a…)"
    package var description: String { "\(images) \(dataset.rawValue) images of \(list) (ids \(imageIDsSHA256.prefix(12))…)" }
}

/// What the dataset behind a cache is, from its image ids; decides whether published numbers are shown.
package enum DatasetKind: String, Codable {
    case voc, synthetic, custom

    package static func detect(imageIDs: [String]) -> DatasetKind {
        if !imageIDs.isEmpty && imageIDs.allSatisfy({ $0.hasPrefix("synth_") }) { return .synthetic }
        let vocID = { (id: String) -> Bool in
            let parts = id.split(separator: "_")
            return parts.count == 2 && parts[0].count == 4 && parts[1].count == 6 && parts.allSatisfy { $0.allSatisfy(\.isNumber) }
        }
        if !imageIDs.isEmpty && imageIDs.allSatisfy(vocID) { return .voc }
        return .custom
    }
}
