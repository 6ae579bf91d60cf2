import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegCache

/// `extract verify`: checks every shard of a cache against its manifest.
package struct ExtractVerify: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a feature cache: the manifest, then every shard's checksum, attributes, datasets, geometry and labels against it.")

    @Argument(help: "Cache directory (holds manifest.json).") var directory: String
    package init() {}

    package func run() throws {
        var progress: ProgressLine? = nil
        let report = try CacheVerifier.verify(directory: directory) { done, total in
            if progress == nil { progress = ProgressLine(total: total, label: "shards") }
            if done > 0 { progress!.advance() }
        }
        progress?.advance()
        progress?.finishLine()
        let m = report.manifest
        let samples = m.shards.reduce(0) { $0 + $1.samples }, bytes = m.shards.reduce(0) { $0 + $1.bytes }
        print("\(directory): \(m.kind.rawValue) cache, \(m.config.backbone.name), stages \(m.stages), \(m.config.dtype), "
              + "\(m.shards.count)/\(m.plannedShards) shards, \(samples) samples, \(formatBytes(Double(bytes)))")
        if !m.skipped.isEmpty { print("  \(m.skipped.count) image(s) were skipped at extraction (see manifest.json)") }
        for p in report.problems { print("  problem: \(p)") }
        if !report.problems.isEmpty {
            throw DinoSegError(file: directory, "\(report.problems.count) problem(s); re-run the extract command to redo damaged or missing shards (a manifest that disagrees with its shards needs a new --out)")
        }
        print("  OK: \(report.checkedShards) shards verified")
    }
}
