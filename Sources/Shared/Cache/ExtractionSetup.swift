import DinoSegCore
import DinoSegKernels
import DinoSegData
import DinoSegBackbone
// The steps every extraction (train views or val windows) starts with.

enum ExtractionSetup {
    /// The images to extract: the list's first `limit` entries, checked to exist unless bad images are to be skipped;
    /// also checks that the requested stages exist in the backbone.
    static func selectSamples(root: String, list: String, layout: String?, layoutOptions: LayoutOptions, limit: Int?,
                              skipBad: Bool, stages: [Int], dtype: HDF5DType,
                              backbone: FeatureBackbone) throws -> (dataset: SegmentationDataset, samples: [SegmentationSample]) {
        // Checked before the cache directory is touched, so a refused run leaves nothing behind.
        guard FeatureDType(rawValue: dtype.rawValue) != nil else {
            throw DinoSegError("--dtype \(dtype.rawValue): features are stored as \(FeatureDType.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        let dataset = try SegmentationDataset(root: root, list: list, layout: layout, options: layoutOptions)
        let samples = limit.map { Array(dataset.samples.prefix($0)) } ?? dataset.samples
        if !skipBad { try SegmentationDataset(copying: dataset, samples: samples).checkFilesExist() }
        guard stages.allSatisfy({ $0 >= 0 && $0 < backbone.stageChannels.count }) else {
            throw DinoSegError("--stages \(stages): the backbone has stages 0...\(backbone.stageChannels.count - 1)")
        }
        guard backbone.inputNormalization == ConvNeXtInput.normalization else {
            throw DinoSegError("backbone \(backbone.name) expects inputs normalised with mean \(backbone.inputNormalization.mean), std "
                               + "\(backbone.inputNormalization.std); the data pipeline normalises with mean \(ConvNeXtInput.normalization.mean), "
                               + "std \(ConvNeXtInput.normalization.std) only")
        }
        return (dataset, samples)
    }

    /// Creates the cache directory or resumes it (verifying finished shards, refusing a different configuration);
    /// returns the manifest and the shards still to do. With several processes rank 0 does this alone, recording
    /// every process's machine, and the others take its manifest. Rank 0 also takes the directory's lock, returned
    /// to be held until the extraction ends (nil on the other ranks).
    static func openCache(directory: String, config: CacheConfig, samples: [SegmentationSample], plans: [ShardPlan],
                          ranks: ExtractionRanks, log: (String) -> Void) throws -> (manifest: CacheManifest, pending: [ShardPlan], lock: DirectoryLock?) {
        let machines = try ranks.machines()
        var opened: CacheManifest? = nil
        var lock: DirectoryLock? = nil
        if ranks.isRoot {
            lock = try CacheDirectory.prepare(directory)
            for machine in machines { log("machine: \(machine.cpu); \(machine.blas.summary)") }
            if let note = BLASSetup.userCoreNote { log(note) }
            var fresh = CacheManifest(config: config, imageIDs: samples.map(\.id), shards: [], plannedShards: plans.count,
                                      skipped: [], machines: machines)
            fresh.sources = SourceFingerprint.of(samples)
            opened = try CacheDirectory.resume(directory: directory, fresh: fresh, log: log)
        }
        let manifest = try ranks.share(opened)
        let done = Set(manifest.shards.map(\.index))
        return (manifest, plans.filter { !done.contains($0.index) }, lock)
    }
}
