import Foundation
import DinoSegCore
import DinoSegNN

/// Head checkpoints: safetensors with the PyTorch state_dict of the head (names and OIHW layouts as a PyTorch module
/// would have them: `head.load_state_dict(...)` works on the mirror module of scripts/make_head_fixture.py), plus
///   optimizer.momentum.<param>   SGD momentum buffers, PyTorch layout
///   metadata: "config" (HeadConfig JSON), "progress" (TrainProgress JSON), "format" = "dinoseg-head-1", and any extras.
package enum HeadCheckpoint {
    package static let format = "dinoseg-head-1"

    package static func save(_ head: SegmentationHead, to path: String, progress: TrainProgress? = nil,
                            extraMetadata: [String: String] = [:]) throws {
        try CheckpointWriter.write(params: head.params, stats: head.stats, batchesTracked: head.batchesTracked, format: format,
                                   config: head.config, progress: progress, extraMetadata: extraMetadata, to: path)
    }

    /// The head config stored in a checkpoint.
    package static func config(of path: String) throws -> HeadConfig {
        let file = try SafetensorsFile(path: path)
        guard let json = file.metadata["config"], let cfg = try? JSONDecoder().decode(HeadConfig.self, from: Data(json.utf8)) else {
            throw DinoSegError(file: path, "not a DinoSeg head checkpoint (no head config in the metadata)")
        }
        try checkSize(cfg, against: file)
        return cfg
    }

    /// The head is built (and allocated) from the config before its tensors are read, so the config must describe
    /// the tensors the file holds: a stage width of 2²⁴ would otherwise allocate hundreds of GB first. Widths are
    /// bounded first (so the declared sizes cannot overflow), then every declared parameter and statistic must be in
    /// the file with its shape (declaring allocates nothing).
    static func checkSize(_ c: HeadConfig, against file: SafetensorsFile) throws {
        let widths = c.stageChannels + [c.fpnWidth, c.classifierWidth, c.numClasses] + c.ppmBins
        guard widths.allSatisfy({ (1...65536).contains($0) }), (1...64).contains(c.ppmBins.count), c.stageChannels.count == 4 else {
            throw DinoSegError(file: file.path, "head config in the metadata out of range (widths 1…65536, 1…64 pyramid bins): \(describe(c))")
        }
        do { try c.validate() } catch let e as DinoSegError { throw DinoSegError(file: file.path, e.message) }
        let params = ParameterArena(), stats = ParameterArena()
        _ = SegmentationHead.declareParameters(c, params: params, stats: stats)
        for v in params.views + stats.views where file.tensors[v.name]?.shape != v.torchShape {
            throw DinoSegError(file: file.path, "head config in the metadata (\(describe(c))) does not match the tensors: '\(v.name)' "
                               + "should be \(v.torchShape), the file has \(file.tensors[v.name].map { "\($0.shape)" } ?? "none")")
        }
    }

    /// The dataset the head's classifier was trained for (VOC for checkpoints that do not say).
    package static func dataset(of path: String) throws -> DatasetDescription {
        try CheckpointDataset.read(try SafetensorsFile(path: path), classes: try config(of: path).numClasses)
    }

    /// Loads parameters, BN statistics and (when present) momentum into `head` (CheckpointReader); returns the stored
    /// progress. Refuses a checkpoint made for a different head, naming the first key whose shape differs.
    @discardableResult
    package static func load(_ path: String, into head: SegmentationHead) throws -> TrainProgress? {
        let file = try SafetensorsFile(path: path)
        let stored = try config(of: path)
        if stored != head.config {
            throw DinoSegError(file: path, "checkpoint is for \(describe(stored)), but the head is \(describe(head.config))")
        }
        let loaded = try CheckpointReader.load(file, into: target(head))
        head.batchesTracked = loaded.batchesTracked
        return loaded.progress
    }

    /// Loads `<prefix><name>` for every parameter, BN statistic and num_batches_tracked of the head.
    package static func loadTorchState(_ file: SafetensorsFile, prefix: String, into head: SegmentationHead) throws {
        head.batchesTracked = try CheckpointReader.loadState(file, prefix: prefix, into: target(head))
    }

    static func target(_ head: SegmentationHead) -> CheckpointReader.Target {
        CheckpointReader.Target(params: head.params, stats: head.stats, batchesTracked: head.batchesTracked)
    }

    static func describe(_ c: HeadConfig) -> String {
        "\(c.variantName) (stage channels \(c.stageChannels.map(String.init).joined(separator: ",")), \(c.numClasses) classes, classifier width \(c.classifierWidth))"
    }
}
