import Foundation

/// Where a training run is: enough to continue it exactly. Random streams (shuffle, dropout) are derived from
/// (seed, epoch, step), so seed + position is the whole RNG state.
public struct TrainProgress: Codable, Equatable, Sendable {
    /// Optimizer steps done so far (= the poly schedule's iteration k of the next step).
    public var step: Int
    /// Epoch and batch index within it of the next batch to train on.
    public var epoch: Int
    public var batchInEpoch: Int
    public var seed: UInt64
    public var maxIter: Int
    public var batchSize: Int
    /// The matrix multiplies' precision; nil in checkpoints written before precisions existed (= fp32).
    public var precision: Precision?

    public init(step: Int, epoch: Int, batchInEpoch: Int, seed: UInt64, maxIter: Int, batchSize: Int,
                precision: Precision = .fp32) {
        self.step = step; self.epoch = epoch; self.batchInEpoch = batchInEpoch; self.seed = seed; self.maxIter = maxIter
        self.batchSize = batchSize; self.precision = precision
    }

    /// Throws, naming `checkpoint`, when a resumed run asks for other settings than the ones this progress was made with.
    public func checkResumable(_ checkpoint: String, seed: UInt64, maxIter: Int, batchSize: Int, precision: Precision) throws {
        guard self.seed == seed, self.maxIter == maxIter, self.batchSize == batchSize else {
            throw DinoSegError(file: checkpoint, "was trained with seed \(self.seed), batch \(self.batchSize), \(self.maxIter) iterations; this run asks for seed \(seed), batch \(batchSize), \(maxIter) iterations (pass the original --seed/--batch/--epochs)")
        }
        let stored = self.precision ?? .fp32
        guard stored == precision else {
            throw DinoSegError(file: checkpoint, "was trained in \(stored); this run asks for \(precision) (continue it with --precision \(stored), or start a new --run in \(precision))")
        }
    }
}

/// Head checkpoints: safetensors with the PyTorch state_dict of the head (names and OIHW layouts as a PyTorch module
/// would have them: `head.load_state_dict(...)` works on the mirror module of scripts/make_head_fixture.py), plus
///   optimizer.momentum.<param>   SGD momentum buffers, PyTorch layout
///   metadata: "config" (HeadConfig JSON), "progress" (TrainProgress JSON), "format" = "dinoseg-head-1", and any extras.
public enum HeadCheckpoint {
    public static let format = "dinoseg-head-1"

    public static func save(_ head: SegmentationHead, to path: String, progress: TrainProgress? = nil,
                            extraMetadata: [String: String] = [:]) throws {
        try CheckpointWriter.write(params: head.params, stats: head.stats, batchesTracked: head.batchesTracked, format: format,
                                   config: head.config, progress: progress, extraMetadata: extraMetadata, to: path)
    }

    /// The head config stored in a checkpoint.
    public static func config(of path: String) throws -> HeadConfig {
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

    /// Loads parameters, BN statistics and (when present) momentum into `head`; returns the stored progress.
    /// Refuses a checkpoint made for a different head, naming the first key whose shape differs.
    @discardableResult
    public static func load(_ path: String, into head: SegmentationHead) throws -> TrainProgress? {
        let file = try SafetensorsFile(path: path)
        let stored = try config(of: path)
        if stored != head.config {
            throw DinoSegError(file: path, "checkpoint is for \(describe(stored)), but the head is \(describe(head.config))")
        }
        try loadTorchState(file, prefix: "", into: head)
        for v in head.params.views where file.tensors["optimizer.momentum.\(v.name)"] != nil {
            let m = try tensor(file, "optimizer.momentum.\(v.name)", shape: v.torchShape)
            m.withUnsafeBufferPointer { head.params.fromTorchLayout($0.baseAddress!, into: head.params.momentum + v.offset, view: v) }
        }
        guard let json = file.metadata["progress"] else { return nil }
        guard let progress = try? JSONDecoder().decode(TrainProgress.self, from: Data(json.utf8)) else {
            throw DinoSegError(file: path, "corrupt training progress in the metadata")
        }
        return progress
    }

    /// Loads `<prefix><name>` for every parameter, BN statistic and num_batches_tracked of the head.
    public static func loadTorchState(_ file: SafetensorsFile, prefix: String, into head: SegmentationHead) throws {
        for arena in [head.params, head.stats] {
            for v in arena.views {
                let values = try tensor(file, prefix + v.name, shape: v.torchShape)
                values.withUnsafeBufferPointer { arena.fromTorchLayout($0.baseAddress!, into: arena.values + v.offset, view: v) }
            }
        }
        for key in head.batchesTracked.keys {
            let name = prefix + key + ".num_batches_tracked"
            if file.tensors[name] != nil { head.batchesTracked[key] = try file.integers(name).first ?? 0 }
        }
    }

    static func tensor(_ file: SafetensorsFile, _ name: String, shape: [Int]) throws -> [Float] {
        guard let info = file.tensors[name] else { throw DinoSegError(file: file.path, "missing tensor '\(name)'") }
        guard info.shape == shape else {
            throw DinoSegError(file: file.path, "tensor '\(name)' has shape \(info.shape), the head expects \(shape)")
        }
        return try file.floats(name)
    }

    static func describe(_ c: HeadConfig) -> String {
        "\(c.variantName) (stage channels \(c.stageChannels.map(String.init).joined(separator: ",")), \(c.numClasses) classes, classifier width \(c.classifierWidth))"
    }
}
