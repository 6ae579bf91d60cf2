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
        return cfg
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
