import Foundation

/// The one way a trained network becomes a safetensors checkpoint (heads and the baseline alike): every parameter in
/// PyTorch layout under its state_dict name, with its SGD momentum as `optimizer.momentum.<name>` when `progress` is
/// given (a resumable checkpoint), the BatchNorm running statistics and `num_batches_tracked`; metadata "format",
/// "config" (the network's config as JSON) and "progress".
enum CheckpointWriter {
    static func write<Config: Encodable>(params p: ParameterArena, stats: ParameterArena, batchesTracked: [String: Int64],
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
        meta["config"] = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        if let progress { meta["progress"] = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self) }
        try SafetensorsFile.write(path: path, floats: floats, integers: ints, metadata: meta)
    }
}
