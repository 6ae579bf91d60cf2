// Writes one train shard (layout in Shard+HDF5.swift): samples are appended in order.
import Foundation
import DinoSegCore
import DinoSegBackbone

/// One augmented view of one image, ready to store.
package struct TrainSample {
    package var imageIndex: Int
    package var view: Int
    package var features: [FeatureMap]   // in the order of the cache's stages
    package var label: [UInt8]           // [crop, crop]
}

final class TrainShardWriter: ShardFileWriter {
    let config: CacheConfig
    let index: Int, view: Int
    let temporaryPath: String, finalPath: String
    private let file: HDF5File
    private var stageSets = StageDatasets()
    private let label: HDF5Dataset, imageIndex: HDF5Dataset, viewSet: HDF5Dataset
    private(set) var rows = 0

    init(directory: String, config: CacheConfig, plan: ShardPlan, shapes: [Int: (Int, Int, Int)]) throws {
        self.config = config; index = plan.index; view = plan.view
        finalPath = "\(directory)/\(CacheManifest.shardFileName(index))"
        temporaryPath = try AtomicWrite.reserveTemporary(for: finalPath)
        file = try ShardFile.create(temporaryPath: temporaryPath, config: config, index: index, view: view)
        try stageSets.create(in: file, stages: config.stages, shapes: shapes, dtype: config.dtype)
        let crop = config.crop
        label = try file.createDataset("label", dtype: .u8, shape: [0, crop, crop], extendable: true)
        imageIndex = try file.createDataset("image_index", dtype: .i32, shape: [0], chunk: [1024], extendable: true)
        viewSet = try file.createDataset("view", dtype: .i32, shape: [0], chunk: [1024], extendable: true)
    }

    func append(_ s: TrainSample) throws {
        let r = rows
        for (i, k) in config.stages.enumerated() { try stageSets.write(stage: k, row: r, map: s.features[i]) }
        try label.extend(rows: r + 1); try label.writeUInt8(rows: r, s.label)
        try imageIndex.extend(rows: r + 1); try imageIndex.writeInt32(rows: r, [Int32(s.imageIndex)])
        try viewSet.extend(rows: r + 1); try viewSet.writeInt32(rows: r, [Int32(s.view)])
        rows += 1
    }

    /// Closes, hashes and renames; returns the manifest entry.
    func finish() throws -> CacheShardEntry {
        let (bytes, sha) = try ShardFile.commit(file, temporaryPath: temporaryPath, finalPath: finalPath)
        return CacheShardEntry(index: index, file: CacheManifest.shardFileName(index), view: view, samples: rows,
                               images: rows, bytes: bytes, sha256: sha)
    }

    func abandon() { try? file.close(); unlink(temporaryPath) }
}
