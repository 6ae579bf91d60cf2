// The shard sink of both kinds of cache: one shard file writer per planned shard (TrainShardWriter, ValShardWriter),
// opened when the shard begins and dropped when it is finished or abandoned.
import Foundation
import DinoSegCore

/// Writes one shard file under a temporary name; `finish` commits it (hash, rename) and returns its manifest entry.
protocol ShardFileWriter: AnyObject {
    associatedtype Sample
    /// `shapes`: (height, width, channels) of each stored stage.
    init(directory: String, config: CacheConfig, plan: ShardPlan, shapes: [Int: (Int, Int, Int)]) throws
    func append(_ sample: Sample) throws
    func finish() throws -> CacheShardEntry
    /// Closes and deletes the unfinished file.
    func abandon()
}

struct ShardWriterSink<Writer: ShardFileWriter>: ShardSink {
    let directory: String
    let config: CacheConfig
    let shapes: [Int: (Int, Int, Int)]
    var writer: Writer? = nil

    /// Stage maps of inputs `side` × `side` pixels (train crops; val windows or whole canvases, at most `side`).
    init(directory: String, manifest: CacheManifest, stages: [Int], side: Int) {
        self.directory = directory
        config = manifest.config
        shapes = Dictionary(uniqueKeysWithValues: stages.map { k in
            (k, (manifest.stageSide(k, pixels: side), manifest.stageSide(k, pixels: side), manifest.channels(stage: k)))
        })
    }

    mutating func begin(_ plan: ShardPlan) throws {
        writer = try Writer(directory: directory, config: config, plan: plan, shapes: shapes)
    }
    mutating func append(_ result: Writer.Sample) throws { try writer!.append(result) }
    mutating func finish() throws -> CacheShardEntry { defer { writer = nil }; return try writer!.finish() }
    mutating func abandon() { writer?.abandon(); writer = nil }
}

extension PipelineOutcome {
    /// The closing line of both kinds: "wrote N shards (CONTENTS) in T, R images/s"; skipped images count as done.
    func wroteLine(_ contents: String, images: Int, seconds: Double) -> String {
        String(format: "wrote %d shards (%@) in %@, %.2f images/s", finished.count, contents, formatDuration(seconds),
               Double(images + skippedCount) / max(seconds, 1e-9))
    }
}
