// Extraction over the processes of one job (`mpirun -np N extract train|val …`, or srun); a plain run is the same code
// with a SingleProcess communicator. The shards still to do are dealt round-robin, the i-th pending shard in plan order
// to rank i mod N, and each process writes whole shards into the shared --out directory (temporary name, then rename,
// as always), so no shard's bytes depend on N. After every round of shards the processes vote on stopping: a Ctrl-C
// or SIGTERM on any of them stops all after the same round. Rank 0 alone reads, verifies and writes the manifest: it
// resumes the cache before the others start, saves the manifest after each of its own shards and, at the end, merges
// the shards every process finished (gathered), in shard order, exactly as one process would have recorded them.
// A job killed outright leaves finished shards that no manifest lists yet; the next run adopts them after the checks
// listed shards get (CacheDirectory.resume), so no finished shard is redone.
import Foundation
import DinoSegCore
import DinoSegKernels

/// A finished shard and the images left out of it with --skip-bad ("id: reason").
struct ShardRecord: Codable {
    var entry: CacheShardEntry
    var skipped: [String]
}

extension CacheManifest {
    /// Adds a finished shard (kept in index order) and its skipped images (each listed once).
    mutating func record(_ r: ShardRecord) {
        shards.append(r.entry)
        shards.sort { $0.index < $1.index }
        for line in r.skipped where !skipped.contains(line) { skipped.append(line) }
    }
}

struct ExtractionRanks {
    let communicator: Communicator

    init(_ communicator: Communicator) { self.communicator = communicator }

    var rank: Int { communicator.rank }
    var size: Int { communicator.size }
    var isRoot: Bool { communicator.isRoot }
    /// Starts this process's own lines (progress, skipped images) when there are several processes.
    var prefix: String { size > 1 ? "[rank \(rank)] " : "" }

    /// The plan line's note on the processes (empty for one).
    var planNote: String { size > 1 ? "; \(size) processes, pending shard i on rank i mod \(size)" : "" }

    /// Backbone passes running at once, for the time estimate: each process's workers, at most one per core.
    func parallelism(workers: Int) -> Double {
        Double(size * max(1, min(workers, ProcessInfo.processInfo.activeProcessorCount)))
    }

    /// This process's shards: pending[i] for every i ≡ rank (mod N).
    func deal(_ pending: [ShardPlan]) -> [ShardPlan] {
        pending.indices.filter { $0 % size == rank }.map { pending[$0] }
    }

    /// Rounds of the stop vote: the most shards any process is dealt.
    func rounds(_ pendingCount: Int) -> Int { (pendingCount + size - 1) / size }

    /// True on every process when any process asks to stop.
    func voteToStop(_ stop: Bool) throws -> Bool { try !communicator.allSucceeded(!stop) }

    /// The machines (CPU and BLAS) of every process on rank 0, each listed once, in rank order; [] elsewhere.
    func machines() throws -> [MachineInfo] {
        let parts = try communicator.gather([UInt8](try JSONEncoder().encode(MachineInfo.current)), root: 0)
        var distinct: [MachineInfo] = []
        for part in parts {
            let m = try JSONDecoder().decode(MachineInfo.self, from: Data(part))
            if !distinct.contains(m) { distinct.append(m) }
        }
        return distinct
    }

    /// Every process's records on rank 0, in shard order; [] elsewhere.
    func gather(_ records: [ShardRecord]) throws -> [ShardRecord] {
        guard size > 1 else { return records }
        let parts = try communicator.gather([UInt8](try JSONEncoder().encode(records)), root: 0)
        return try parts.flatMap { try JSONDecoder().decode([ShardRecord].self, from: Data($0)) }.sorted { $0.entry.index < $1.entry.index }
    }

    /// Rank 0 adds every process's finished shards to its manifest and saves it. The skipped images are listed as one
    /// process lists them: those of earlier runs, then this run's in shard order.
    func merge(_ records: [ShardRecord], into manifest: inout CacheManifest, skippedBefore: [String], directory: String) throws {
        for r in records where !manifest.shards.contains(where: { $0.index == r.entry.index }) {
            // Another process wrote it; a directory that is not shared would leave it out of reach of the readers.
            let path = "\(directory)/\(r.entry.file)"
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
            guard size == r.entry.bytes else {
                throw DinoSegError(file: path, "was written by another process but is \(size == nil ? "missing" : "of another size") here: "
                                   + "--out must be a directory every process sees (a shared file system)")
            }
            manifest.shards.append(r.entry)
        }
        manifest.shards.sort { $0.index < $1.index }
        manifest.skipped = skippedBefore
        for r in records { for line in r.skipped where !manifest.skipped.contains(line) { manifest.skipped.append(line) } }
        try manifest.save(directory: directory)
    }

    /// Rank 0's manifest on every process (the others pass nil).
    func share(_ manifest: CacheManifest?) throws -> CacheManifest {
        guard size > 1 else { return manifest! }
        guard let shared = try communicator.broadcast(manifest, root: 0) else {
            throw DinoSegError("rank 0 sent no cache manifest")
        }
        return shared
    }
}
