import Foundation
import DinoSegCore
import DinoSegData

// The files a cache was extracted from, per image: the SHA-256 of the photo and of the label PNG ("missing" for a file
// that is not there, which --skip-bad allows), recorded in the manifest as `sources` (one entry per image id). An edited
// label or photo is then noticed where it matters: a resumed extraction is refused (its finished shards hold the old
// pixels, the new ones would hold the new), and so is the evaluation of a val cache whose data is still in place.
// Digests rather than sizes and modification times, so a copy of the data set (cp without -p) is not a change.
package enum SourceFingerprint {
    static let missing = "missing"

    /// "<photo SHA-256> <label SHA-256>" of one image.
    static func of(_ sample: SegmentationSample) -> String {
        [sample.imagePath, sample.labelPath].map { (try? SHA256.hex(ofFile: $0)) ?? missing }.joined(separator: " ")
    }

    /// The fingerprints of `samples`, hashed on all cores (a VOC split is a few hundred megabytes).
    static func of(_ samples: [SegmentationSample]) -> [String] {
        var out = [String](repeating: "", count: samples.count)
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: samples.count) { base[$0] = of(samples[$0]) }
        }
        return out
    }

    /// The id of the first image whose recorded fingerprint differs from `current` (images whose files are now
    /// missing are not compared: a cache may outlive its data).
    static func firstChanged(ids: [String], recorded: [String], current: [String]) -> String? {
        for (i, (was, now)) in zip(recorded, current).enumerated() where was != now && !now.contains(missing) {
            return ids[i]
        }
        return nil
    }

    /// A resumed extraction whose finished shards were made from other files than the list names now is refused.
    static func checkResume(old: CacheManifest, fresh: CacheManifest, directory: String) throws {
        guard !old.shards.isEmpty, let recorded = old.sources, let current = fresh.sources, recorded.count == current.count,
              let id = firstChanged(ids: fresh.imageIDs, recorded: recorded, current: current) else { return }
        throw DinoSegError(file: directory, "the photo or label of image \(id) changed since the finished shards were extracted; delete \(directory) (or use a new --out) to extract it again")
    }

    /// Refuses to evaluate on a val cache whose labels or photos were edited since extraction, when its data set is
    /// still where the manifest says (without it, the cache's own labels are all there is).
    package static func checkInPlace(_ m: CacheManifest, directory: String) throws {
        guard let recorded = m.sources,
              let dataset = try? SegmentationDataset(root: m.config.dataRoot, list: m.config.listFile,
                                                     layout: DatasetLayouts.layoutName(for: m.config.datasetDescription)) else { return }
        let byID = Dictionary(dataset.samples.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let samples = m.imageIDs.compactMap { byID[$0] }
        guard samples.count == m.imageIDs.count else { return }
        if let id = firstChanged(ids: m.imageIDs, recorded: recorded, current: of(samples)) {
            throw DinoSegError(file: directory, "the photo or label of image \(id) in \(m.config.dataRoot) changed since this cache was extracted; extract it again (a new --out) to evaluate on the current labels")
        }
    }

    /// Part of the manifest's consistency check: one fingerprint per image.
    static func checkCount(_ m: CacheManifest) -> String? {
        guard let s = m.sources, s.count != m.imageIDs.count else { return nil }
        return "sources lists \(s.count) images, imageIDs \(m.imageIDs.count)"
    }
}
