// What headtrain trusts in a shard is what these checks cover. Before a reader indexes with anything from a shard, the
// shard is checked against its manifest: the identity attributes (`manifest` = the configuration, `shard` = index and
// view), every dataset's element type and shape (stage shapes from the crop or the val protocol), and the index tables
// (image indices within the shard's planned range, views, window geometry, image sizes, label offsets). Label values
// (0–20 or 255) are checked as labels are read. `extract verify` and a resumed extraction run the same checks over
// whole shards, labels included.
import Foundation
import DinoSegCore
import DinoSegData
import DinoSegBackbone

/// One val image as its shard's index tables describe it, after the checks.
struct ValShardImage {
    var index: Int
    var id: String
    var geometry: EvalGeometry
    var labelOffset: Int
    /// Rows firstWindow ..< firstWindow + windows.count of the window datasets.
    var firstWindow: Int
    var windows: [EvalWindow]
    var windowSize: (h: Int, w: Int)
}

enum ShardCheck {
    /// Where a shard is and what it should be.
    struct Context {
        let directory: String
        let entry: CacheShardEntry
        let manifest: CacheManifest
        var path: String { "\(directory)/\(entry.file)" }

        func fail(_ problem: String) -> DinoSegError {
            DinoSegError(file: path, "\(problem); the shard does not match its manifest: re-extract it (`extract verify \(directory)` "
                         + "lists such shards, re-running the extract command redoes them)")
        }
    }

    /// The shard's attributes name the configuration and the shard entry of its manifest. A difference means the
    /// manifest was edited or the shard was copied from another cache; extraction refuses to resume over it.
    static func identity(_ f: HDF5File, _ x: Context) throws {
        let text = try f.stringAttribute("manifest")
        guard let config = try? JSONDecoder().decode(CacheConfig.self, from: Data(text.utf8)) else {
            throw x.fail("attribute 'manifest' is not a cache configuration")
        }
        let diffs = x.manifest.config.differences(from: config)
        if !diffs.isEmpty || config != x.manifest.config {
            throw DinoSegError(file: x.path, "was made with another configuration than \(x.directory)/\(CacheManifest.fileName) says (shard → manifest: "
                               + (diffs.isEmpty ? "backbone description" : diffs.joined(separator: "; "))
                               + "); the manifest was edited or the shard comes from another cache: re-extract into a new --out, or delete \(x.directory)")
        }
        struct Identity: Decodable { var index: Int; var view: Int }
        let shard = try f.stringAttribute("shard")
        guard let id = try? JSONDecoder().decode(Identity.self, from: Data(shard.utf8)), id.index == x.entry.index, id.view == x.entry.view else {
            throw x.fail("attribute 'shard' is \(shard), the manifest lists this file as shard \(x.entry.index) of view \(x.entry.view)")
        }
    }

    /// A dataset with this element type and shape (nil: any length).
    static func dataset(_ f: HDF5File, _ name: String, _ dtype: HDF5DType, _ shape: [Int?], _ x: Context) throws -> HDF5Dataset {
        let ds = try f.dataset(name)
        let fits = ds.shape.count == shape.count && zip(ds.shape, shape).allSatisfy { $1 == nil || $0 == $1 }
        guard ds.dtype == dtype, fits else {
            throw x.fail("dataset '\(name)' is \(ds.dtype.rawValue) \(ds.shape), expected \(dtype.rawValue) [\(shape.map { $0.map(String.init) ?? "any" }.joined(separator: ", "))]")
        }
        return ds
    }

    /// Stage datasets: `rows` samples of side×side inputs.
    static func stages(_ f: HDF5File, rows: Int, side: Int, _ x: Context) throws {
        let m = x.manifest
        for k in m.stages {
            let s = m.stageSide(k, pixels: side)
            _ = try dataset(f, "stage\(k)", m.config.dtype, [rows, s, s, m.channels(stage: k)], x)
        }
    }

    /// Train shard: layout, image indices within the planned range (increasing), the shard's view; with `labels`
    /// every label value.
    static func train(_ f: HDF5File, _ x: Context, labels: Bool) throws {
        try identity(f, x)
        let m = x.manifest, n = x.entry.samples, crop = m.config.crop
        try stages(f, rows: n, side: crop, x)
        let labelSet = try dataset(f, "label", .u8, [n, crop, crop], x)
        let indices = try dataset(f, "image_index", .i32, [n], x).read(Int32.self)
        let planned = m.plannedImages(shard: x.entry.index)
        var previous = Int.min
        for (r, i) in indices.enumerated() {
            guard planned.contains(Int(i)), Int(i) > previous else {
                throw x.fail("image_index[\(r)] is \(i); this shard holds images \(planned.lowerBound)..<\(planned.upperBound) in increasing order")
            }
            previous = Int(i)
        }
        let views = try dataset(f, "view", .i32, [n], x).read(Int32.self)
        if let r = views.firstIndex(where: { Int($0) != x.entry.view }) {
            throw x.fail("view[\(r)] is \(views[r]), the shard holds view \(x.entry.view)")
        }
        if labels {
            for r in 0..<n { try checkLabels(labelSet.read(UInt8.self, rows: r, count: 1), width: crop, what: "dataset 'label' row \(r)", x) }
        }
    }

    /// Val shard: layout, image sizes within bounds, every image's geometry, windows and label offset as the
    /// manifest's protocol makes them; with `labels` every label value. Returns the images in row order.
    static func val(_ f: HDF5File, _ x: Context, labels: Bool) throws -> [ValShardImage] {
        try identity(f, x)
        let m = x.manifest, windowRows = x.entry.samples, imageRows = x.entry.images
        guard let p = m.config.evalProtocol else { throw x.fail("the manifest records no evaluation protocol") }
        try stages(f, rows: windowRows, side: p.mode == .slide ? p.crop : max(p.longSide, p.crop), x)
        let windowImage = try dataset(f, "window_image", .i32, [windowRows], x).read(Int32.self)
        let yx = try dataset(f, "window_yx", .i32, [windowRows, 2], x).read(Int32.self)
        let hw = try dataset(f, "window_hw", .i32, [windowRows, 2], x).read(Int32.self)
        let flipped = try dataset(f, "window_flipped", .u8, [windowRows], x).read(UInt8.self)
        let info = try dataset(f, "image_info", .i32, [imageRows, 9], x).read(Int32.self).map { Int($0) }
        let offsets = try dataset(f, "label_offset", .i64, [imageRows], x).read(Int64.self)
        let labelSet = try dataset(f, "label_data", .u8, [nil], x)
        let planned = m.plannedImages(shard: x.entry.index)
        var images: [ValShardImage] = []
        var window = 0, labelEnd = 0, previous = Int.min
        for r in 0..<imageRows {
            let row = Array(info[(r * 9)..<(r * 9 + 9)])
            let index = row[0]
            guard planned.contains(index), index > previous else {
                throw x.fail("image_info[\(r)] names image \(index); this shard holds images \(planned.lowerBound)..<\(planned.upperBound) in increasing order")
            }
            previous = index
            let id = m.imageIDs[index], h = row[1], w = row[2]
            let side = 1...CacheLimits.maxImageSide
            guard side.contains(h), side.contains(w), h * w <= CacheLimits.maxImagePixels else {
                throw x.fail("image_info[\(r)] (\(id)) gives the image size \(h)x\(w); sizes are 1…\(CacheLimits.maxImageSide) per side and at most \(CacheLimits.maxImagePixels) pixels")
            }
            let g = p.geometry(height: h, width: w)
            let sizes = [g.resizedHeight, g.resizedWidth, g.paddedHeight, g.paddedWidth, g.padTop, g.padLeft]
            guard Array(row[3...]) == sizes else {
                throw x.fail("image_info[\(r)] (\(id)) gives resized h, w, padded h, w, padTop, padLeft \(Array(row[3...])); "
                             + "for a \(h)x\(w) image the protocol (\(p)) gives \(sizes)")
            }
            guard offsets[r] == Int64(labelEnd) else {
                throw x.fail("label_offset[\(r)] (\(id)) is \(offsets[r]), the labels before it end at \(labelEnd)")
            }
            let expected = p.windows(g), size = p.windowSize(g)
            guard window + expected.count <= windowRows else {
                throw x.fail("the window datasets have \(windowRows) rows, too few for the \(expected.count) windows of image_info[\(r)] (\(id))")
            }
            for (j, e) in expected.enumerated() {
                let i = window + j
                let y = Int(yx[2 * i]), xx = Int(yx[2 * i + 1]), wh = Int(hw[2 * i]), ww = Int(hw[2 * i + 1])
                guard Int(windowImage[i]) == index else {
                    throw x.fail("window_image[\(i)] is \(windowImage[i]), expected image \(index) (\(id), window \(j + 1) of \(expected.count))")
                }
                guard y >= 0, xx >= 0, wh >= 1, ww >= 1, y + wh <= g.paddedHeight, xx + ww <= g.paddedWidth else {
                    throw x.fail("window \(i) of \(id): window_yx (\(y), \(xx)) with window_hw \(wh)x\(ww) is not inside its \(g.paddedHeight)x\(g.paddedWidth) canvas")
                }
                guard wh == size.height, ww == size.width else {
                    throw x.fail("window_hw[\(i)] (\(id)) is \(wh)x\(ww), the protocol (\(p)) uses \(size.height)x\(size.width) windows")
                }
                guard y == e.y, xx == e.x, flipped[i] == (e.flipped ? 1 : 0) else {
                    throw x.fail("window \(i) of \(id) is at (\(y), \(xx)) flipped \(flipped[i]); the protocol (\(p)) puts its window \(j + 1) at (\(e.y), \(e.x)) flipped \(e.flipped ? 1 : 0)")
                }
            }
            images.append(ValShardImage(index: index, id: id, geometry: g, labelOffset: labelEnd, firstWindow: window,
                                        windows: expected, windowSize: (size.height, size.width)))
            window += expected.count
            labelEnd += h * w
        }
        guard window == windowRows else {
            throw x.fail("the window datasets have \(windowRows) rows, the images of image_info have \(window) windows")
        }
        guard labelSet.shape[0] == labelEnd else {
            throw x.fail("dataset 'label_data' has \(labelSet.shape[0]) values, the images of image_info need \(labelEnd)")
        }
        if labels {
            for im in images {
                let g = im.geometry
                try checkLabels(labelSet.read(UInt8.self, rows: im.labelOffset, count: g.originalHeight * g.originalWidth),
                                width: g.originalWidth, what: "label of \(im.id) (dataset 'label_data')", x)
            }
        }
        return images
    }

    /// Throws naming the first label value that is neither a class index of the cache's dataset (VOC: 0–20) nor 255
    /// (ignored).
    static func checkLabels(_ labels: [UInt8], width: Int, what: String, _ x: Context) throws {
        let classes = x.manifest.config.datasetDescription.classCount
        if let i = labels.withUnsafeBufferPointer({ firstInvalidLabel($0, classes: classes) }) {
            throw x.fail("\(what) has the value \(labels[i]) at (y \(i / max(1, width)), x \(i % max(1, width))); labels are 0–\(classes - 1) or 255")
        }
    }
}

/// Index of the first value that is neither below `classes` nor 255, or nil. 64 bytes at a time: v is valid exactly
/// when v &+ 1 ≤ classes (255 wraps to 0).
func firstInvalidLabel(_ p: UnsafeBufferPointer<UInt8>, classes: Int = VOC.numClasses) -> Int? {
    precondition((1...255).contains(classes))
    guard let base = p.baseAddress else { return nil }
    let limit = UInt8(classes)
    let vLimit = SIMD64<UInt8>(repeating: limit), one = SIMD64<UInt8>(repeating: 1)
    var i = 0
    while i + 64 <= p.count {
        let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD64<UInt8>.self)
        if any((v &+ one) .> vLimit) { break }
        i += 64
    }
    while i < p.count {
        if p[i] &+ 1 > limit { return i }
        i += 1
    }
    return nil
}
