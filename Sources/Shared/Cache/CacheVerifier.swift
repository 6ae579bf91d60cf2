// `extract verify`: the manifest's consistency, then every shard against it (checksum, attributes, datasets, index
// tables, window geometry, labels).
import Foundation
import DinoSegCore

package struct CacheVerification {
    package var manifest: CacheManifest
    package var checkedShards = 0
    package var problems: [String] = []
}

package enum CacheVerifier {
    /// Reads the manifest (refused when inconsistent), then checks every shard: checksum, then the checks the readers
    /// make (ShardCheck), over every row and label.
    package static func verify(directory: String, progress: ((Int, Int) -> Void)? = nil) throws -> CacheVerification {
        let m = try CacheManifest.load(directory: directory)
        var report = CacheVerification(manifest: m)
        if !m.complete { report.problems.append("\(directory): incomplete, \(m.shards.count) of \(m.plannedShards) shards finished") }
        for (i, s) in m.shards.enumerated() {
            progress?(i, m.shards.count)
            let path = "\(directory)/\(s.file)"
            guard FileManager.default.fileExists(atPath: path) else { report.problems.append("\(path): missing"); continue }
            let sha = try SHA256.hex(ofFile: path)
            if sha != s.sha256 { report.problems.append("\(path): checksum mismatch (file changed or damaged)"); continue }
            do {
                let f = try HDF5File.open(path)
                defer { try? f.close() }
                try checkContent(f, ShardCheck.Context(directory: directory, entry: s, manifest: m))
            } catch { report.problems.append("\(error)") }
            report.checkedShards += 1
        }
        return report
    }

    /// Everything ShardCheck covers, labels included.
    static func checkContent(_ f: HDF5File, _ x: ShardCheck.Context) throws {
        switch x.manifest.kind {
        case .train: try ShardCheck.train(f, x, labels: true)
        case .val: _ = try ShardCheck.val(f, x, labels: true)
        }
    }
}
