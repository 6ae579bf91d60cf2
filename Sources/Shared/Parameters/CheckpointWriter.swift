import Foundation
import DinoSegCore

/// The one way a trained network becomes a safetensors checkpoint (heads and the baseline alike): every parameter in
/// PyTorch layout under its state_dict name, with its SGD momentum as `optimizer.momentum.<name>` when `progress` is
/// given (a resumable checkpoint), the BatchNorm running statistics and `num_batches_tracked`; metadata "format",
/// "config" (the network's config as JSON) and "progress".
package enum CheckpointWriter {
    package static func write<Config: Encodable>(params p: ParameterArena, stats: ParameterArena, batchesTracked: [String: Int64],
                                         format: String, config: Config, progress: TrainProgress?,
                                         extraMetadata: [String: String], to path: String) throws {
        var floats: [(name: String, shape: [Int], values: [Float])] = []
        for v in p.views {
            floats.append((v.name, v.torchShape, p.torchLayout(p.values, view: v)))
            if progress != nil { floats.append(("optimizer.momentum.\(v.name)", v.torchShape, p.torchLayout(p.momentum, view: v))) }
        }
        for v in stats.views { floats.append((v.name, v.torchShape, stats.torchLayout(stats.values, view: v))) }
        let ints = batchesTracked.map { (name: "\($0.key).num_batches_tracked", shape: [Int](), values: [$0.value]) }
        var meta = extraMetadata
        meta["format"] = format
        meta["config"] = try metadataJSON(config)
        if let progress { meta["progress"] = try metadataJSON(progress) }
        try SafetensorsFile.write(path: path, floats: floats, integers: ints, metadata: meta)
    }

    /// Sorted keys: the same network and progress give the same bytes (JSONEncoder's order follows a hash otherwise).
    static func metadataJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
