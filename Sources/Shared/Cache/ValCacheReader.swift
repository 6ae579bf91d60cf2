// Reading a val cache image by image: each image with the features of all its windows (batched), its geometry and
// its original-resolution label. Images are assembled one ahead on a background thread.
import Foundation

public struct ValImage {
    public var index: Int
    public var id: String
    public var geometry: EvalGeometry
    /// [originalHeight, originalWidth]
    public var label: [UInt8]
    public var windows: [(y: Int, x: Int, flipped: Bool)]
    /// Window size in canvas pixels (crop × crop when sliding, the padded canvas in whole mode).
    public var windowSize: (h: Int, w: Int)
    /// stage k → [windows, Hk, Wk, Ck]
    public var stages: [Int: [Float]]
    public var stageShapes: [Int: (h: Int, w: Int, c: Int)]
}

public final class ValCacheReader {
    public let directory: String
    public let manifest: CacheManifest
    let handles: ShardHandles

    public init(directory: String) throws {
        self.directory = directory
        manifest = try validateCache(directory: directory, kind: .val)
        handles = ShardHandles(directory: directory)
    }

    public var imageCount: Int { manifest.shards.reduce(0) { $0 + $1.images } }
    public var mode: EvalMode { manifest.config.evalProtocol?.mode ?? .slide }
    public var flip: Bool { manifest.config.evalProtocol?.flip ?? false }

    /// Images in list order.
    public func images(stages: [Int]) -> ValImageStream {
        var refs: [(shard: Int, row: Int)] = []
        for (s, entry) in manifest.shards.enumerated() { for r in 0..<entry.images { refs.append((s, r)) } }
        let cursor = ShardCursor(reader: self)
        return ValImageStream(count: refs.count) { i in try cursor.read(shard: refs[i].shard, imageRow: refs[i].row, stages: stages) }
    }

    /// Per-shard index tables, loaded when the stream enters a shard (used from the prefetch thread only).
    final class ShardCursor {
        let reader: ValCacheReader
        var shard = -1
        var info: [Int32] = [], labelOffset: [Int64] = [], windowImage: [Int32] = [], windowYX: [Int32] = []
        var windowHW: [Int32] = [], windowFlipped: [UInt8] = []
        var file: HDF5File? = nil

        init(reader: ValCacheReader) { self.reader = reader }

        func load(_ s: Int) throws {
            let f = try reader.handles.file(reader.manifest.shards[s].file)
            info = try f.dataset("image_info").readInt32()
            labelOffset = try f.dataset("label_offset").readInt64()
            windowImage = try f.dataset("window_image").readInt32()
            windowYX = try f.dataset("window_yx").readInt32()
            windowHW = try f.dataset("window_hw").readInt32()
            windowFlipped = try f.dataset("window_flipped").readUInt8()
            file = f
            shard = s
        }

        func read(shard s: Int, imageRow m: Int, stages: [Int]) throws -> ValImage {
            if s != shard { try load(s) }
            let manifest = reader.manifest
            for k in stages where !manifest.stages.contains(k) {
                throw DinoSegError(file: reader.directory, "stage \(k) is not in this cache (it has stages \(manifest.stages))")
            }
            let f = file!
            let row = Array(info[(m * 9)..<(m * 9 + 9)]).map { Int($0) }
            let index = row[0]
            var g = EvalGeometry(height: row[1], width: row[2], longSide: manifest.config.evalProtocol?.longSide ?? 512, crop: manifest.config.crop)
            g.resizedHeight = row[3]; g.resizedWidth = row[4]; g.paddedHeight = row[5]; g.paddedWidth = row[6]
            g.padTop = row[7]; g.padLeft = row[8]
            let labelCount = row[1] * row[2]
            let label = try f.dataset("label_data").readUInt8(rows: Int(labelOffset[m]), count: labelCount)
            let rows = windowImage.indices.filter { Int(windowImage[$0]) == index }
            guard let first = rows.first, rows.last! - first + 1 == rows.count else {
                throw DinoSegError(file: "\(reader.directory)/\(manifest.shards[s].file)", "windows of image \(index) are missing or not contiguous")
            }
            let wh = Int(windowHW[2 * first]), ww = Int(windowHW[2 * first + 1])
            var stagesOut: [Int: [Float]] = [:], shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
            for k in stages {
                let ds = try f.dataset("stage\(k)")
                let (sh, sw, c) = (ds.shape[1], ds.shape[2], ds.shape[3])
                let h = stageSize(wh, stage: k), w = stageSize(ww, stage: k)
                var stored = [Float](repeating: 0, count: rows.count * sh * sw * c)
                try stored.withUnsafeMutableBufferPointer { try ds.read(rows: first, count: rows.count, into: $0) }
                if h == sh && w == sw {
                    stagesOut[k] = stored
                } else {
                    // Whole-image windows sit in the top-left corner of a long-side-sized row.
                    var out = [Float](repeating: 0, count: rows.count * h * w * c)
                    for n in 0..<rows.count {
                        for y in 0..<h {
                            let src = ((n * sh + y) * sw) * c, dst = ((n * h + y) * w) * c
                            for i in 0..<(w * c) { out[dst + i] = stored[src + i] }
                        }
                    }
                    stagesOut[k] = out
                }
                shapes[k] = (h, w, c)
            }
            let windows = rows.map { (y: Int(windowYX[2 * $0]), x: Int(windowYX[2 * $0 + 1]), flipped: windowFlipped[$0] != 0) }
            return ValImage(index: index, id: manifest.imageIDs[index], geometry: g, label: label, windows: windows,
                            windowSize: (wh, ww), stages: stagesOut, stageShapes: shapes)
        }
    }
}

/// Images produced one ahead on a background thread. `nextImage()` throws on a read error; as a Sequence the
/// iteration stops at the first error, which is then in `failure`.
public final class ValImageStream: Sequence, IteratorProtocol {
    public let count: Int
    public private(set) var failure: Error?
    private let prefetch: Prefetcher<ValImage>

    init(count: Int, read: @escaping (Int) throws -> ValImage) {
        self.count = count
        prefetch = Prefetcher(count: count, depth: 2, produce: read)
    }

    public func nextImage() throws -> ValImage? { try prefetch.next() }

    public func next() -> ValImage? {
        do { return try prefetch.next() } catch { failure = error; return nil }
    }
}
