import Foundation
import DinoSegCore
import DinoSegNN
import DinoSegModels

/// Baseline checkpoints: safetensors whose tensor names are semseg's `PSPNet(layers=50).state_dict()` (PyTorch
/// layouts; `model.load_state_dict(strict=True)` accepts them once the optimizer.* entries are dropped), plus
///   optimizer.momentum.<param>   SGD momentum buffers, PyTorch layout
///   metadata: "format" = "dinoseg-pspnet-1", "config" (PSPNetConfig JSON), "progress" (TrainProgress JSON), extras.
package enum PSPNetCheckpoint {
    package static let format = "dinoseg-pspnet-1"

    package static func save(_ net: PSPNet, to path: String, progress: TrainProgress? = nil, extraMetadata: [String: String] = [:]) throws {
        try CheckpointWriter.write(params: net.params, stats: net.stats, batchesTracked: net.batchesTracked, format: format,
                                   config: net.config, progress: progress, extraMetadata: extraMetadata, to: path)
    }

    package static func config(of path: String) throws -> PSPNetConfig {
        let file = try SafetensorsFile(path: path)
        guard file.metadata["format"] == format, let json = file.metadata["config"],
              let cfg = try? JSONDecoder().decode(PSPNetConfig.self, from: Data(json.utf8)) else {
            throw DinoSegError(file: path, "not a DinoSeg baseline (PSPNet) checkpoint (no \(format) config in the metadata)")
        }
        return cfg
    }

    /// Loads parameters, statistics and (when present) momentum (CheckpointReader); returns the stored training progress.
    @discardableResult
    package static func load(_ path: String, into net: PSPNet) throws -> TrainProgress? {
        let stored = try config(of: path)
        guard stored == net.config else {
            throw DinoSegError(file: path, "checkpoint is for \(stored.summary), but the network is \(net.config.summary)")
        }
        let loaded = try CheckpointReader.load(try SafetensorsFile(path: path), into: target(net))
        net.batchesTracked = loaded.batchesTracked
        return loaded.progress
    }

    /// Loads every parameter and statistic named `rename(name)` (default `prefix + name`); `only` restricts to
    /// some names (the backbone). num_batches_tracked is taken when present.
    package static func loadState(_ file: SafetensorsFile, prefix: String = "", into net: PSPNet,
                                 only: ((String) -> Bool)? = nil, rename: ((String) -> String)? = nil) throws {
        net.batchesTracked = try CheckpointReader.loadState(file, prefix: prefix, into: target(net), only: only, rename: rename)
    }

    static func target(_ net: PSPNet) -> CheckpointReader.Target {
        CheckpointReader.Target(params: net.params, stats: net.stats, batchesTracked: net.batchesTracked)
    }

    // MARK: ImageNet weights

    /// Loads a pretrained ResNet-50 into the backbone (layer0–layer4) from safetensors with
    ///   torchvision names (conv1.weight 7×7, bn1.*, layer1.0.conv1.weight, …; needs the torchvision stem),
    ///   semseg's deep-stem ImageNet names (conv1/bn1, conv2/bn2, conv3/bn3 3×3, layer…), or
    ///   semseg's PSPNet names (layer0.*, layer1.*, … e.g. a PSPNet checkpoint).
    /// fc.* and anything else is ignored. Returns which naming was found.
    @discardableResult
    package static func loadBackbone(_ path: String, into net: PSPNet) throws -> String {
        let file = try SafetensorsFile(path: path)
        let isBackbone: (String) -> Bool = { $0.hasPrefix("layer") }
        if file.tensors["layer0.0.weight"] != nil {
            try loadState(file, into: net, only: isBackbone)
            return "semseg PSPNet names (layer0.*)"
        }
        guard let conv1 = file.tensors["conv1.weight"] else {
            throw DinoSegError(file: path, "no ResNet weights found: expected 'conv1.weight' (torchvision or semseg ImageNet names) or 'layer0.0.weight' (semseg PSPNet names)")
        }
        let fileIsDeep = file.tensors["conv2.weight"] != nil
        let stem: [String: String] = ["layer0.0": "conv1", "layer0.1": "bn1", "layer0.3": "conv2", "layer0.4": "bn2",
                                      "layer0.6": "conv3", "layer0.7": "bn3"]
        if fileIsDeep != (net.config.stem == .deep) {
            let expected = net.params.view("layer0.0.weight")!.torchShape
            throw DinoSegError(file: path, "'conv1.weight' has shape \(conv1.shape) (\(fileIsDeep ? "semseg deep" : "torchvision 7×7") stem), the network's \(net.config.stem.rawValue) stem expects \(expected); pass --stem \(fileIsDeep ? "deep" : "torchvision")")
        }
        try loadState(file, into: net, only: isBackbone) { name in
            let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
            if parts[0] == "layer0", let mapped = stem[parts[0] + "." + parts[1]] { return mapped + "." + parts[2] }
            return name
        }
        return fileIsDeep ? "semseg deep-stem ImageNet names (conv1..3, bn1..3)" : "torchvision names (conv1 7×7)"
    }
}
