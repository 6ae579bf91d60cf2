// Writes one val shard (layout in Shard+HDF5.swift): images are appended in order, each with all its windows.
import Foundation
import DinoSegCore
import DinoSegData
import DinoSegBackbone

/// One window's features.
package struct ValWindow {
    package var y: Int, x: Int
    package var height: Int, width: Int
    package var flipped: Bool
    package var features: [FeatureMap]   // in the order of the cache's stages
}

/// One val image, ready to store.
package struct ValSample {
    package var imageIndex: Int
    package var geometry: EvalGeometry
    package var label: [UInt8]           // original resolution
    package var windows: [ValWindow]
}

final class ValShardWriter: ShardFileWriter {
    let config: CacheConfig
    let index: Int
    let temporaryPath: String, finalPath: String
    private let file: HDF5File
    private var stageSets = StageDatasets()
    private let windowImage, windowYX, windowHW, windowFlipped, imageInfo, labelOffset, labelData: HDF5Dataset
    private(set) var windowRows = 0, imageRows = 0, labelLength = 0

    /// Val shards have one view (0), whatever the plan says.
    init(directory: String, config: CacheConfig, plan: ShardPlan, shapes: [Int: (Int, Int, Int)]) throws {
        self.config = config; index = plan.index
        finalPath = "\(directory)/\(CacheManifest.shardFileName(index))"
        temporaryPath = try AtomicWrite.reserveTemporary(for: finalPath)
        file = try ShardFile.create(temporaryPath: temporaryPath, config: config, index: index, view: 0)
        try stageSets.create(in: file, stages: config.stages, shapes: shapes, dtype: config.dtype)
        windowImage = try file.createDataset("window_image", dtype: .i32, shape: [0], chunk: [1024], extendable: true)
        windowYX = try file.createDataset("window_yx", dtype: .i32, shape: [0, 2], chunk: [1024, 2], extendable: true)
        windowHW = try file.createDataset("window_hw", dtype: .i32, shape: [0, 2], chunk: [1024, 2], extendable: true)
        windowFlipped = try file.createDataset("window_flipped", dtype: .u8, shape: [0], chunk: [1024], extendable: true)
        imageInfo = try file.createDataset("image_info", dtype: .i32, shape: [0, 9], chunk: [256, 9], extendable: true)
        labelOffset = try file.createDataset("label_offset", dtype: .i64, shape: [0], chunk: [256], extendable: true)
        labelData = try file.createDataset("label_data", dtype: .u8, shape: [0], chunk: [1 << 18], extendable: true)
    }

    func append(_ s: ValSample) throws {
        for w in s.windows {
            let r = windowRows
            for (i, k) in config.stages.enumerated() { try stageSets.write(stage: k, row: r, map: w.features[i]) }
            try windowImage.extend(rows: r + 1); try windowImage.writeInt32(rows: r, [Int32(s.imageIndex)])
            try windowYX.extend(rows: r + 1); try windowYX.writeInt32(rows: r, [Int32(w.y), Int32(w.x)])
            try windowHW.extend(rows: r + 1); try windowHW.writeInt32(rows: r, [Int32(w.height), Int32(w.width)])
            try windowFlipped.extend(rows: r + 1); try windowFlipped.writeUInt8(rows: r, [w.flipped ? 1 : 0])
            windowRows += 1
        }
        let g = s.geometry, m = imageRows
        try imageInfo.extend(rows: m + 1)
        try imageInfo.writeInt32(rows: m, [s.imageIndex, g.originalHeight, g.originalWidth, g.resizedHeight, g.resizedWidth,
                                           g.paddedHeight, g.paddedWidth, g.padTop, g.padLeft].map { Int32($0) })
        try labelOffset.extend(rows: m + 1); try labelOffset.writeInt64(rows: m, [Int64(labelLength)])
        try labelData.extend(rows: labelLength + s.label.count); try labelData.writeUInt8(rows: labelLength, s.label)
        labelLength += s.label.count
        imageRows += 1
    }

    func finish() throws -> CacheShardEntry {
        let (bytes, sha) = try ShardFile.commit(file, temporaryPath: temporaryPath, finalPath: finalPath)
        return CacheShardEntry(index: index, file: CacheManifest.shardFileName(index), view: 0, samples: windowRows,
                               images: imageRows, bytes: bytes, sha256: sha)
    }

    func abandon() { try? file.close(); unlink(temporaryPath) }
}
