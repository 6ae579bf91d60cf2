// Reading a train cache: epoch e uses view e mod K. Order: shards of that view shuffled, then samples shuffled inside
// a buffer of a few consecutive shards (reads stay local, order is still well mixed). Batches are assembled on a
// background thread one ahead of the consumer, f16 converted to Float.
import Foundation
import DinoSegCore

package struct SampleRef: Equatable {
    package var shard: Int   // index into manifest.shards
    package var row: Int
}

/// A batch of training samples: stage features (NHWC) with their label crops. Read from a train cache here, or
/// assembled in memory (InMemoryTrainingSource); the trainer takes it as it is.
package struct TrainBatch {
    package var count: Int
    /// stage k → [count, Hk, Wk, Ck]
    package var stages: [Int: [Float]]
    package var stageShapes: [Int: (h: Int, w: Int, c: Int)]
    /// [count, labelHeight, labelWidth], 255 = ignore
    package var labels: [UInt8]
    package var labelHeight: Int
    package var labelWidth: Int
    /// Image index of each sample.
    package var imageIndices: [Int]

    package init(count: Int, stages: [Int: [Float]], stageShapes: [Int: (h: Int, w: Int, c: Int)], labels: [UInt8],
                labelHeight: Int, labelWidth: Int, imageIndices: [Int]) {
        self.count = count; self.stages = stages; self.stageShapes = stageShapes; self.labels = labels
        self.labelHeight = labelHeight; self.labelWidth = labelWidth; self.imageIndices = imageIndices
    }
}

/// Opens shard files on demand, checks each once against the manifest (ShardCheck) and keeps it open.
final class ShardHandles {
    let directory: String
    let manifest: CacheManifest
    private let check: (HDF5File, ShardCheck.Context) throws -> Void
    private var open: [Int: HDF5File] = [:]
    private var datasets: [String: HDF5Dataset] = [:]
    private let lock = NSLock()

    init(directory: String, manifest: CacheManifest, check: @escaping (HDF5File, ShardCheck.Context) throws -> Void) {
        self.directory = directory; self.manifest = manifest; self.check = check
    }

    /// The handles of a cache that validateCache accepts as `kind` (the readers' one way to open a cache).
    convenience init(validating directory: String, kind: CacheKind,
                     check: @escaping (HDF5File, ShardCheck.Context) throws -> Void) throws {
        self.init(directory: directory, manifest: try validateCache(directory: directory, kind: kind), check: check)
    }

    /// A dataset of shard `shard` (index into manifest.shards), opened once.
    func dataset(_ shard: Int, _ name: String) throws -> HDF5Dataset {
        let key = "\(shard)/\(name)"
        lock.lock()
        if let d = datasets[key] { lock.unlock(); return d }
        lock.unlock()
        let d = try file(shard).dataset(name)
        lock.lock(); datasets[key] = d; lock.unlock()
        return d
    }

    func file(_ shard: Int) throws -> HDF5File {
        lock.lock(); defer { lock.unlock() }
        if let f = open[shard] { return f }
        let context = ShardCheck.Context(directory: directory, entry: manifest.shards[shard], manifest: manifest)
        let f = try HDF5File.open(context.path)
        try check(f, context)
        open[shard] = f
        return f
    }
}

/// Checks that a manifest (itself checked by `CacheManifest.load`) describes a complete cache of the expected kind
/// whose shard files are present with the recorded sizes (the full checksum check is `extract verify`; each shard's
/// content is checked when a reader opens it).
func validateCache(directory: String, kind: CacheKind) throws -> CacheManifest {
    let m = try CacheManifest.load(directory: directory)
    guard m.kind == kind else {
        throw DinoSegError(file: directory, "this is a \(m.kind.rawValue) cache, expected a \(kind.rawValue) cache")
    }
    guard m.complete else {
        throw DinoSegError(file: directory, "cache is incomplete (\(m.shards.count) of \(m.plannedShards) shards); "
                           + "re-run the extract command that created it to finish it")
    }
    for s in m.shards {
        let path = "\(directory)/\(s.file)"
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        guard let size else { throw DinoSegError(file: path, "shard missing (run `extract verify \(directory)`)") }
        if size != s.bytes {
            throw DinoSegError(file: path, "shard is \(size) bytes, manifest says \(s.bytes) (run `extract verify \(directory)`)")
        }
    }
    return m
}

package final class TrainCacheReader {
    let handles: ShardHandles
    package var directory: String { handles.directory }
    package var manifest: CacheManifest { handles.manifest }

    package init(directory: String) throws {
        // Labels are checked per sample as batches are read.
        handles = try ShardHandles(validating: directory, kind: .train) { try ShardCheck.train($0, $1, labels: false) }
    }

    /// Images per epoch (one view each).
    package func samplesPerEpoch() -> Int {
        manifest.shards.filter { $0.view == 0 }.reduce(0) { $0 + $1.samples }
    }

    package func stageShape(_ k: Int) -> (h: Int, w: Int, c: Int) {
        let s = manifest.trainStageSize(stage: k)
        return (s, s, manifest.channels(stage: k))
    }

    /// Shards mixed together in the shuffle buffer.
    package static let shuffleBufferShards = 4

    package func epochOrder(epoch: Int, seed: UInt64) -> [SampleRef] {
        let view = epoch % max(1, manifest.views)
        var shardOrder = manifest.shards.indices.filter { manifest.shards[$0].view == view }
        var rng = SplitMix64(seed: seed, epoch, 1)
        shardOrder.shuffle(using: &rng)
        var order: [SampleRef] = []
        var group = 0
        for start in stride(from: 0, to: shardOrder.count, by: TrainCacheReader.shuffleBufferShards) {
            var buffer: [SampleRef] = []
            for s in shardOrder[start..<min(shardOrder.count, start + TrainCacheReader.shuffleBufferShards)] {
                for r in 0..<manifest.shards[s].samples { buffer.append(SampleRef(shard: s, row: r)) }
            }
            var g = SplitMix64(seed: seed, epoch, 2, group)
            buffer.shuffle(using: &g)
            order += buffer
            group += 1
        }
        return order
    }

    /// Full batches of epoch `epoch` from batch `startBatch` on (the last partial batch is dropped).
    /// `part`: read only these positions of every batch (one process's share in data-parallel training).
    package func batches(epoch: Int, seed: UInt64, batchSize: Int, startBatch: Int = 0, stages: [Int],
                        part: Range<Int>? = nil) -> BatchStream {
        let order = epochOrder(epoch: epoch, seed: seed)
        let count = order.count / max(1, batchSize)
        let within = part ?? 0..<batchSize
        let groups = (min(startBatch, count)..<count).map { b in
            Array(order[(b * batchSize + within.lowerBound)..<(b * batchSize + within.upperBound)])
        }
        return BatchStream(groups: groups) { [self] refs in try self.readBatch(refs, stages: stages) }
    }

    /// Reads the given samples into one batch.
    package func readBatch(_ refs: [SampleRef], stages: [Int]) throws -> TrainBatch {
        for k in stages where !manifest.stages.contains(k) {
            throw DinoSegError(file: directory, "stage \(k) is not in this cache (it has stages \(manifest.stages))")
        }
        let n = refs.count, crop = manifest.config.crop
        var shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
        var out: [Int: [Float]] = [:]
        for k in stages {
            let s = stageShape(k)
            shapes[k] = s
            out[k] = [Float](repeating: 0, count: n * s.h * s.w * s.c)
        }
        var labels = [UInt8](repeating: 0, count: n * crop * crop)
        var indices = [Int](repeating: 0, count: n)
        for (i, ref) in refs.enumerated() {
            for k in stages {
                let per = shapes[k]!.h * shapes[k]!.w * shapes[k]!.c
                let ds = try handles.dataset(ref.shard, "stage\(k)")
                try out[k]!.withUnsafeMutableBufferPointer { buf in
                    try ds.read(rows: ref.row, count: 1, into: UnsafeMutableBufferPointer(rebasing: buf[(i * per)..<((i + 1) * per)]))
                }
            }
            let lab = try handles.dataset(ref.shard, "label").read(UInt8.self, rows: ref.row, count: 1)
            try ShardCheck.checkLabels(lab, width: crop, what: "dataset 'label' row \(ref.row)",
                                       ShardCheck.Context(directory: directory, entry: manifest.shards[ref.shard], manifest: manifest))
            labels.replaceSubrange((i * crop * crop)..<((i + 1) * crop * crop), with: lab)
            indices[i] = Int(try handles.dataset(ref.shard, "image_index").read(Int32.self, rows: ref.row, count: 1)[0])
        }
        return TrainBatch(count: n, stages: out, stageShapes: shapes, labels: labels, labelHeight: crop, labelWidth: crop,
                          imageIndices: indices)
    }
}

/// Batches produced one ahead on a background thread. Iterate with `nextBatch()` (throws on a read error), or as a
/// Sequence (stops at the first error, which is then in `failure`).
package final class BatchStream: Sequence, IteratorProtocol {
    package let count: Int
    package private(set) var failure: Error?
    private let prefetch: Prefetcher<TrainBatch>

    init(groups: [[SampleRef]], read: @escaping ([SampleRef]) throws -> TrainBatch) {
        count = groups.count
        prefetch = Prefetcher(count: groups.count, depth: 2) { i in try read(groups[i]) }
    }

    package func nextBatch() throws -> TrainBatch? { try prefetch.next() }

    package func next() -> TrainBatch? {
        do { return try prefetch.next() } catch { failure = error; return nil }
    }
}

/// Produces items 0..<count in order on a background thread, at most `depth` ahead of the consumer. The thread
/// stops after a failure, at the end, or when the prefetcher is released.
final class Prefetcher<T> {
    private final class State {
        let cond = NSCondition()
        var ready: [Int: Result<T, Error>] = [:]
        var consumed = 0
        var cancelled = false
        var producerDone = false
    }
    private let state = State()
    private let count: Int

    init(count: Int, depth: Int, produce: @escaping (Int) throws -> T) {
        self.count = count
        let s = state
        let thread = Thread {
            defer { s.cond.lock(); s.producerDone = true; s.cond.broadcast(); s.cond.unlock() }
            for i in 0..<count {
                s.cond.lock()
                while !s.cancelled && i >= s.consumed + depth { s.cond.wait() }
                let stop = s.cancelled
                s.cond.unlock()
                if stop { return }
                let r = Result { try produce(i) }
                s.cond.lock(); s.ready[i] = r; s.cond.broadcast(); s.cond.unlock()
                if case .failure = r { return }
            }
        }
        thread.start()
    }

    deinit {
        state.cond.lock(); state.cancelled = true; state.cond.broadcast(); state.cond.unlock()
    }

    func next() throws -> T? {
        let s = state
        s.cond.lock()
        defer { s.cond.unlock() }
        guard s.consumed < count else { return nil }
        while s.ready[s.consumed] == nil && !s.producerDone { s.cond.wait() }
        guard let r = s.ready.removeValue(forKey: s.consumed) else { return nil }
        s.consumed += 1
        s.cond.broadcast()
        return try r.get()
    }
}
