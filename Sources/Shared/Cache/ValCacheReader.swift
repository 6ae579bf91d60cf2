// Reading a val cache image by image: each image with the features of all its windows (batched), its geometry and
// its original-resolution label. Images are assembled one ahead on a background thread.
import Foundation
import DinoSegCore
import DinoSegData
import DinoSegBackbone

package struct ValImage {
    package var index: Int
    package var id: String
    package var geometry: EvalGeometry
    /// [originalHeight, originalWidth]
    package var label: [UInt8]
    package var windows: [(y: Int, x: Int, flipped: Bool)]
    /// Window size in canvas pixels (crop × crop when sliding, the padded canvas in whole mode).
    package var windowSize: (h: Int, w: Int)
    /// stage k → [windows, Hk, Wk, Ck]
    package var stages: [Int: [Float]]
    package var stageShapes: [Int: (h: Int, w: Int, c: Int)]
}

package final class ValCacheReader {
    let handles: ShardHandles
    package var directory: String { handles.directory }
    package var manifest: CacheManifest { handles.manifest }

    package init(directory: String) throws {
        handles = try ShardHandles(validating: directory, kind: .val) { _, _ in }
    }

    package var imageCount: Int { manifest.shards.reduce(0) { $0 + $1.images } }
    package var mode: EvalMode { manifest.config.evalProtocol?.mode ?? .slide }
    package var flip: Bool { manifest.config.evalProtocol?.flip ?? false }

    /// Images in list order.
    package func images(stages: [Int]) -> ValImageStream {
        var refs: [(shard: Int, row: Int)] = []
        for (s, entry) in manifest.shards.enumerated() { for r in 0..<entry.images { refs.append((s, r)) } }
        let cursor = ShardCursor(reader: self)
        return ValImageStream(count: refs.count) { i in try cursor.read(shard: refs[i].shard, imageRow: refs[i].row, stages: stages) }
    }

    /// The checked index tables of the shard being read (used from the prefetch thread only): loaded, and the shard
    /// checked against the manifest's protocol (ShardCheck.val), when the stream enters a shard.
    final class ShardCursor {
        let reader: ValCacheReader
        var shard = -1
        var images: [ValShardImage] = []
        var context: ShardCheck.Context? = nil

        init(reader: ValCacheReader) { self.reader = reader }

        func load(_ s: Int) throws {
            let f = try reader.handles.file(s)
            let x = ShardCheck.Context(directory: reader.directory, entry: reader.manifest.shards[s], manifest: reader.manifest)
            images = try ShardCheck.val(f, x, labels: false)
            context = x
            shard = s
        }

        func read(shard s: Int, imageRow m: Int, stages: [Int]) throws -> ValImage {
            if s != shard { try load(s) }
            let manifest = reader.manifest
            for k in stages where !manifest.stages.contains(k) {
                throw DinoSegError(file: reader.directory, "stage \(k) is not in this cache (it has stages \(manifest.stages))")
            }
            let image = images[m], g = image.geometry
            let label = try reader.handles.dataset(s, "label_data").read(UInt8.self, rows: image.labelOffset, count: g.originalHeight * g.originalWidth)
            try ShardCheck.checkLabels(label, width: g.originalWidth, what: "label of \(image.id) (dataset 'label_data')", context!)
            let n = image.windows.count
            let (wh, ww) = image.windowSize
            var stagesOut: [Int: [Float]] = [:], shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
            for k in stages {
                let ds = try reader.handles.dataset(s, "stage\(k)")
                let (sh, sw, c) = (ds.shape[1], ds.shape[2], ds.shape[3])
                let h = manifest.stageSide(k, pixels: wh), w = manifest.stageSide(k, pixels: ww)
                precondition(h <= sh && w <= sw, "window features larger than their dataset rows (ShardCheck.val)")
                var stored = [Float](repeating: 0, count: n * sh * sw * c)
                try stored.withUnsafeMutableBufferPointer { try ds.read(rows: image.firstWindow, count: n, into: $0) }
                if h == sh && w == sw {
                    stagesOut[k] = stored
                } else {
                    // Whole-image windows sit in the top-left corner of a long-side-sized row.
                    var out = [Float](repeating: 0, count: n * h * w * c)
                    for i in 0..<n {
                        for y in 0..<h {
                            let src = ((i * sh + y) * sw) * c, dst = ((i * h + y) * w) * c
                            for j in 0..<(w * c) { out[dst + j] = stored[src + j] }
                        }
                    }
                    stagesOut[k] = out
                }
                shapes[k] = (h, w, c)
            }
            return ValImage(index: image.index, id: image.id, geometry: g, label: label,
                            windows: image.windows.map { (y: $0.y, x: $0.x, flipped: $0.flipped) },
                            windowSize: (wh, ww), stages: stagesOut, stageShapes: shapes)
        }
    }
}

/// Images produced one ahead on a background thread. `nextImage()` throws on a read error; as a Sequence the
/// iteration stops at the first error, which is then in `failure`.
package final class ValImageStream: Sequence, IteratorProtocol {
    package let count: Int
    package private(set) var failure: Error?
    private let prefetch: Prefetcher<ValImage>

    init(count: Int, read: @escaping (Int) throws -> ValImage) {
        self.count = count
        prefetch = Prefetcher(count: count, depth: 2, produce: read)
    }

    package func nextImage() throws -> ValImage? { try prefetch.next() }

    package func next() -> ValImage? {
        do { return try prefetch.next() } catch { failure = error; return nil }
    }
}
