// Shard files: written under a temporary name, closed, hashed, then renamed into place.
//
// Train shard (all samples of one view):
//   stage{k}      [N, Hk, Wk, Ck]  f16 | f32   one chunk per sample
//   label         [N, 224, 224]    uint8
//   image_index   [N]              int32
//   view          [N]              int32
// Val shard (all windows of each of its images):
//   stage{k}      [W, Hk, Wk, Ck]  f16 | f32   slide: Hk = Wk = 224/stride_k; whole: the size of a long-side canvas,
//                                               each window's features in its top-left corner (see window_hw)
//   window_image  [W]    int32     image index of each window
//   window_yx     [W, 2] int32     top-left corner in the padded canvas
//   window_hw     [W, 2] int32     window size in canvas pixels (224 × 224 when sliding)
//   window_flipped[W]    uint8     1: features of the horizontally flipped window
//   image_info    [M, 9] int32     image index, original h, w, resized h, w, padded h, w, padTop, padLeft
//   label_offset  [M]    int64     start of each image's original-resolution label in label_data
//   label_data    [L]    uint8     the labels, row-major, concatenated
// Attributes on every shard: `manifest` (configuration JSON), `shard` (this shard's entry without checksum).
import Foundation
import DinoSegCore
import DinoSegBackbone

enum ShardFile {
    /// Creates the shard's temporary file with the identifying attributes.
    static func create(temporaryPath: String, config: CacheConfig, index: Int, view: Int) throws -> HDF5File {
        let f = try HDF5File.create(temporaryPath)
        try f.setAttribute("manifest", string: String(decoding: try CacheManifest.encode(config), as: UTF8.self))
        try f.setAttribute("shard", string: "{\"index\": \(index), \"view\": \(view)}")
        return f
    }

    /// Closes the temporary file, hashes it and moves it into place. Returns (bytes, sha256).
    static func commit(_ file: HDF5File, temporaryPath: String, finalPath: String) throws -> (Int, String) {
        do {
            try file.close()
            let sha = try SHA256.hex(ofFile: temporaryPath)
            let bytes = (try FileManager.default.attributesOfItem(atPath: temporaryPath)[.size] as? NSNumber)?.intValue ?? 0
            try AtomicWrite.commit(temporary: temporaryPath, to: finalPath)
            return (bytes, sha)
        } catch {
            unlink(temporaryPath)
            throw error
        }
    }

    /// Removes leftovers of interrupted runs (".shard-00003.h5.tmp-1234").
    static func removeTemporaries(in directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for n in names where n.hasPrefix(".shard-") && n.contains(".tmp-") { unlink("\(directory)/\(n)") }
    }
}

/// A NaN or infinite feature (bad weights or config.json) must stop the run, not be cached and blamed on training
/// later. `image` names the input, `stages` the stage of each map.
package func checkFinite(_ maps: [FeatureMap], stages: [Int], image: String) throws {
    for (map, k) in zip(maps, stages) {
        if let i = map.data.firstIndex(where: { !$0.isFinite }) {
            throw DinoSegError(file: image, "stage \(k) feature \(map.data[i]) at element \(i) is not finite "
                               + "(check the weights and their config.json)")
        }
    }
}

/// float16 holds magnitudes up to 65504; a larger feature would silently become infinity.
func checkHalfRange(_ map: FeatureMap, stage k: Int, file: String) throws {
    var largest: Float = 0
    map.data.withUnsafeBufferPointer { p in for v in p { largest = max(largest, abs(v)) } }
    if !(largest <= 65504) {
        throw DinoSegError(file: file, "stage \(k) feature magnitude \(largest) does not fit float16; use --dtype f32")
    }
}

/// Stage datasets of one shard, created on first use with the map sizes of the first sample.
struct StageDatasets {
    var sets: [Int: HDF5Dataset] = [:]

    mutating func create(in file: HDF5File, stages: [Int], shapes: [Int: (Int, Int, Int)], dtype: HDF5DType) throws {
        for k in stages {
            let (h, w, c) = shapes[k]!
            sets[k] = try file.createDataset("stage\(k)", dtype: dtype, shape: [0, h, w, c], extendable: true)
        }
    }

    /// Writes one map into row `row` (the dataset grows as needed). Maps smaller than the dataset's row (whole-image
    /// val windows) go to the top-left corner, zero elsewhere.
    func write(stage k: Int, row: Int, map: FeatureMap) throws {
        let ds = sets[k]!
        if ds.dtype == .f16 { try checkHalfRange(map, stage: k, file: ds.file.path) }
        if ds.shape[0] <= row { try ds.extend(rows: row + 1) }
        let (h, w, c) = (ds.shape[1], ds.shape[2], ds.shape[3])
        if map.height == h && map.width == w {
            try ds.writeFloats(rows: row, map.data)
            return
        }
        precondition(map.height <= h && map.width <= w && map.channels == c, "feature map larger than its dataset")
        var padded = [Float](repeating: 0, count: h * w * c)
        for y in 0..<map.height {
            for i in 0..<(map.width * c) { padded[y * w * c + i] = map.data[y * map.width * c + i] }
        }
        try ds.writeFloats(rows: row, padded)
    }
}
