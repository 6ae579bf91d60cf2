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
        do { try cfg.validate() } catch let e as DinoSegError { throw DinoSegError(file: path, "config in the metadata: \(e.message)") }
        try checkSize(cfg, against: file)
        return cfg
    }

    /// The network is built from the config before its tensors are read, so the block counts and widths the config
    /// claims must be those the file holds: a config saying 2³¹ blocks or a million channels would otherwise build
    /// (and allocate) that network first. Checked through the first conv of each stage, the last block of each stage,
    /// the pyramid branches and the classifiers (every width is then bounded by a tensor inside the file).
    static func checkSize(_ c: PSPNetConfig, against file: SafetensorsFile) throws {
        func shape(_ name: String) -> [Int]? { file.tensors[name]?.shape }
        func refuse(_ what: String) -> DinoSegError {
            DinoSegError(file: file.path, "config in the metadata does not match the tensors: \(what)")
        }
        let stemOut = shape("layer1.0.conv1.weight").map { $0.count > 1 ? $0[1] : 0 } ?? 0
        guard c.stemWidth <= stemOut, c.stemOut == stemOut else { throw refuse("stem width \(c.stemWidth)") }
        for i in 0..<4 {
            guard shape("layer\(i + 1).0.conv1.weight")?.first == c.planes[i] else { throw refuse("layer\(i + 1) width \(c.planes[i])") }
            guard shape("layer\(i + 1).\(c.blocks[i] - 1).conv1.weight") != nil, shape("layer\(i + 1).\(c.blocks[i]).conv1.weight") == nil else {
                throw refuse("layer\(i + 1) with \(c.blocks[i]) blocks")
            }
        }
        for j in 0...c.bins.count {
            let present = shape("ppm.features.\(j).1.weight")
            guard j < c.bins.count ? present == [c.ppmWidth, c.featureWidth, 1, 1] : present == nil else {
                throw refuse("\(c.bins.count) pyramid branches of width \(c.ppmWidth)")
            }
        }
        guard c.bins.allSatisfy({ $0 <= 256 }) else { throw refuse("pyramid bins \(c.bins) (at most 256)") }
        guard shape("cls.0.weight")?.first == c.classifierWidth, shape("cls.4.weight")?.first == c.numClasses,
              shape("aux.0.weight")?.first == c.auxWidth else {
            throw refuse("classifier widths \(c.classifierWidth)/\(c.auxWidth) for \(c.numClasses) classes")
        }
    }

    /// The dataset the network's classifier was trained for (VOC for checkpoints that do not say).
    package static func dataset(of path: String) throws -> DatasetDescription {
        try CheckpointDataset.read(try SafetensorsFile(path: path), classes: try config(of: path).numClasses)
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
