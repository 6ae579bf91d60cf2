// `extract verify`: every shard of a cache against its manifest (checksum, size, datasets and row counts).
import Foundation

public struct CacheVerification {
    public var manifest: CacheManifest
    public var checkedShards = 0
    public var problems: [String] = []
}

public enum CacheVerifier {
    public static func verify(directory: String, progress: ((Int, Int) -> Void)? = nil) throws -> CacheVerification {
        let m = try CacheManifest.load(directory: directory)
        var report = CacheVerification(manifest: m)
        if !m.complete { report.problems.append("\(directory): incomplete, \(m.shards.count) of \(m.plannedShards) shards finished") }
        for (i, s) in m.shards.enumerated() {
            progress?(i, m.shards.count)
            let path = "\(directory)/\(s.file)"
            guard FileManager.default.fileExists(atPath: path) else { report.problems.append("\(path): missing"); continue }
            let sha = try SHA256.hex(ofFile: path)
            if sha != s.sha256 { report.problems.append("\(path): checksum mismatch (file changed or damaged)"); continue }
            do { try checkLayout(path: path, entry: s, manifest: m) } catch { report.problems.append("\(error)") }
            report.checkedShards += 1
        }
        return report
    }

    static func checkLayout(path: String, entry: CacheShardEntry, manifest m: CacheManifest) throws {
        let f = try HDF5File.open(path)
        defer { try? f.close() }
        func rows(_ name: String, _ expected: Int) throws {
            let ds = try f.dataset(name)
            if ds.shape[0] != expected { throw DinoSegError(file: path, "dataset '\(name)' has \(ds.shape[0]) rows, manifest says \(expected)") }
        }
        for k in m.stages {
            try rows("stage\(k)", entry.samples)
            let ds = try f.dataset("stage\(k)")
            if ds.dtype != m.config.dtype { throw DinoSegError(file: path, "dataset 'stage\(k)' is \(ds.dtype), manifest says \(m.config.dtype)") }
            if ds.shape.last != m.channels(stage: k) { throw DinoSegError(file: path, "dataset 'stage\(k)' has \(ds.shape.last ?? 0) channels, expected \(m.channels(stage: k))") }
        }
        switch m.kind {
        case .train:
            try rows("label", entry.samples); try rows("image_index", entry.samples); try rows("view", entry.samples)
            if try f.dataset("view").readInt32().contains(where: { Int($0) != entry.view }) {
                throw DinoSegError(file: path, "holds samples of another view than \(entry.view)")
            }
        case .val:
            for name in ["window_image", "window_yx", "window_hw", "window_flipped"] { try rows(name, entry.samples) }
            try rows("image_info", entry.images); try rows("label_offset", entry.images)
        }
    }
}
