// Preparing a cache directory: create it, check it is writable, resume from an existing manifest (keeping only
// shards whose checksum and content still match, and adopting finished shards it does not list yet), print the plan
// and refuse when the disk cannot hold it.
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegBackbone

enum CacheDirectory {
    /// Creates and locks the cache directory (before its temporaries are removed: they may be another run's), checks
    /// it is writable; returns the lock, to be held until the extraction ends.
    static func prepare(_ directory: String) throws -> DirectoryLock {
        try FileSystem.createDirectory(directory, what: "output directory")
        let lock = try DirectoryLock(directory: directory, what: "cache directory")
        let probe = "\(directory)/.write-probe-\(getpid())"
        guard FileManager.default.createFile(atPath: probe, contents: Data("x".utf8)) else {
            throw DinoSegError(file: directory, "output directory is not writable")
        }
        unlink(probe)
        ShardFile.removeTemporaries(in: directory)
        return lock
    }

    /// The manifest to continue from: a fresh one, or the existing one with only verified shards kept.
    static func resume(directory: String, fresh: CacheManifest, log: (String) -> Void) throws -> CacheManifest {
        let path = "\(directory)/\(CacheManifest.fileName)"
        guard FileManager.default.fileExists(atPath: path) else { return fresh }
        let old = try CacheManifest.load(directory: directory)
        let (was, asked) = (old.config.precision ?? .fp32, fresh.config.precision ?? .fp32)
        if was != asked && !old.shards.isEmpty {
            throw DinoSegError(file: directory, "was extracted in \(was); this run asks for \(asked) (resume it with --precision \(was), or extract into a new --out)")
        }
        var diffs = fresh.config.differences(from: old.config)
        if old.imageIDs != fresh.imageIDs && old.config.listFile == fresh.config.listFile {
            diffs.append("list contents changed")
        }
        if !diffs.isEmpty && old.shards.isEmpty {
            // Nothing was finished under the old configuration (e.g. a run refused at its first image): nothing to keep.
            log("replacing the configuration of an empty cache (no finished shards): " + diffs.joined(separator: "; "))
            return fresh
        }
        if !diffs.isEmpty {
            throw DinoSegError(file: directory, "an existing cache here was made with a different configuration ("
                + diffs.joined(separator: "; ") + "). Use a new --out directory, or delete \(directory) to start over.")
        }
        try SourceFingerprint.checkResume(old: old, fresh: fresh, directory: directory)
        var kept = fresh
        kept.skipped = []
        // A manifest from before stage geometry was recorded keeps that form: its finished shards carry it in their
        // `manifest` attribute, and the shards written now must match them.
        if old.config.backbone.stageGeometry == nil { kept.config.backbone.stageGeometry = nil }
        // The batch grouping decides the last bits of the features on some BLAS kernels: keep the recorded one so the
        // resumed cache is byte-identical to an uninterrupted run.
        if let recorded = old.config.batch {
            if recorded != fresh.config.batch {
                log("note: resuming with --batch \(recorded) as recorded in the manifest (not \(fresh.config.batch.map(String.init) ?? "-")), "
                    + "so the remaining shards are computed exactly like the finished ones")
            }
            kept.config.batch = recorded
        } else if !old.shards.isEmpty {
            log("note: the manifest does not record --batch (an older cache); the remaining shards use --batch "
                + "\(fresh.config.batch.map(String.init) ?? "-"), which may change their last bits on some BLAS kernels")
        }
        if !old.shards.isEmpty { log("verifying the checksums of \(old.shards.count) finished shard(s)…") }
        for entry in old.shards {
            let file = "\(directory)/\(entry.file)"
            guard FileManager.default.fileExists(atPath: file) else { log("\(entry.file): missing, will redo it"); continue }
            let sha = try SHA256.hex(ofFile: file)
            guard sha == entry.sha256 else { log("\(entry.file): checksum mismatch, will redo it"); continue }
            // A shard made with another configuration than the manifest's means an edited manifest: refused. A shard
            // whose content fails the readers' checks is redone.
            let x = ShardCheck.Context(directory: directory, entry: entry, manifest: old)
            let f = try HDF5File.open(file)
            defer { try? f.close() }
            try ShardCheck.identity(f, x)
            do { try CacheVerifier.checkContent(f, x) } catch {
                log("\(error) — will redo it")
                continue
            }
            kept.shards.append(entry)
        }
        let listed = Set(old.shards.map(\.index))
        for index in 0..<kept.plannedShards where !listed.contains(index) {
            if let entry = adopt(shard: index, directory: directory, manifest: kept, log: log) { kept.shards.append(entry) }
        }
        kept.skipped = old.skipped
        kept.machines = mergeMachines(old: old.machines, new: fresh.machines ?? [], log: log)
        kept.shards.sort { $0.index < $1.index }
        if !kept.shards.isEmpty { log("resuming: \(kept.shards.count) of \(kept.plannedShards) shards already done and verified") }
        return kept
    }

    /// A finished shard file the manifest does not list (a process of an MPI job finished it after rank 0 last saved
    /// the manifest, or the run was killed between the rename and the save): its entry when it is a complete shard of
    /// this configuration passing the same checks as listed shards, else nil (it is redone). A shard with skipped
    /// images is redone: the reasons were only to be recorded in the manifest.
    static func adopt(shard index: Int, directory: String, manifest: CacheManifest, log: (String) -> Void) -> CacheShardEntry? {
        let name = CacheManifest.shardFileName(index), path = "\(directory)/\(name)"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let sha = try SHA256.hex(ofFile: path)
            let bytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            let f = try HDF5File.open(path)
            defer { try? f.close() }
            let rows = { (dataset: String) in try f.dataset(dataset).shape.first ?? 0 }
            let (samples, images) = manifest.kind == .train ? (try rows("image_index"), try rows("image_index"))
                                                            : (try rows("window_image"), try rows("image_info"))
            let planned = manifest.plannedImages(shard: index).count
            guard images == planned else {
                log("\(name): finished but not in the manifest, with \(images) of its \(planned) images; will redo it")
                return nil
            }
            let entry = CacheShardEntry(index: index, file: name, view: manifest.plannedView(shard: index), samples: samples,
                                        images: images, bytes: bytes, sha256: sha)
            let x = ShardCheck.Context(directory: directory, entry: entry, manifest: manifest)
            try ShardCheck.identity(f, x)
            try CacheVerifier.checkContent(f, x)
            log("\(name): finished by an interrupted run but not yet in the manifest; verified, kept")
            return entry
        } catch {
            log("\(name): not in the manifest and not usable (\(error)); will redo it")
            return nil
        }
    }

    /// The machines of a resumed cache: the old list plus this one when it is new, with a note (the cache stays
    /// valid; only the last bits of features may differ between BLAS kernels).
    static func mergeMachines(old: [MachineInfo]?, new: [MachineInfo], log: (String) -> Void) -> [MachineInfo] {
        var machines = old ?? []
        for m in new where !machines.contains(m) {
            if let last = machines.last {
                log("note: this cache was started with another CPU or BLAS (\(last.cpu); \(last.blas.summary)); "
                    + "continuing here: shards written here may differ from those in the last bits")
            }
            machines.append(m)
        }
        return machines
    }

    static func freeBytes(_ directory: String) -> Double? {
        (try? FileManager.default.attributesOfFileSystem(forPath: directory)[.systemFreeSize] as? NSNumber)?.doubleValue
    }

    /// Refuses when the remaining work needs more than the free space, keeping a headroom of 2% + 64 MiB (the
    /// estimate is approximate, and a disk filled to the last byte fails other programs too).
    static func checkDisk(_ directory: String, needed: Double) throws {
        guard let free = freeBytes(directory) else { return }
        let headroom = needed * 0.02 + 64 * 1024 * 1024
        if needed + headroom > free {
            throw DinoSegError(file: directory, "not enough disk space: the plan needs about \(formatBytes(needed)) plus "
                               + "\(formatBytes(headroom)) headroom (2% + 64 MiB) = \(formatBytes(needed + headroom)), but "
                               + "\(formatBytes(free)) is free. Free space, use --dtype f16, fewer --stages/--views, or another --out.")
        }
    }

    /// Seconds per 224×224 forward pass on one core, measured on one probe image.
    static func probeSecondsPerImage(_ backbone: FeatureBackbone, stages: [Int], crop: Int) -> Double {
        let input = [Float](repeating: 0, count: crop * crop * 3)
        let start = Date()
        _ = input.withUnsafeBufferPointer { backbone.forward(image: $0.baseAddress!, height: crop, width: crop, stages: stages) }
        return max(1e-4, Date().timeIntervalSince(start))
    }

    /// Channels-last feature bytes of one height×width input over `stages`.
    static func featureBytes(_ geometry: [StageGeometry], stages: [Int], height: Int, width: Int, dtype: HDF5DType) -> Int {
        stages.reduce(0) { $0 + geometry[$1].side(height) * geometry[$1].side(width) * geometry[$1].channels } * dtype.size
    }
}

/// Backbone description recorded in manifests.
func backboneInfo(_ backbone: FeatureBackbone) -> CacheBackboneInfo {
    CacheBackboneInfo(name: backbone.name, hiddenSizes: backbone.stageChannels, depths: backbone.depths,
                      stageStrides: backbone.stageStrides, weightsSHA256: backbone.weightsSHA256,
                      stageGeometry: backbone.stageGeometry)
}

func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
