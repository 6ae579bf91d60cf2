// Preparing a cache directory: create it, check it is writable, resume from an existing manifest (keeping only
// shards whose checksum still matches), print the plan and refuse when the disk cannot hold it.
import Foundation

enum CacheDirectory {
    static func prepare(_ directory: String) throws {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw DinoSegError(file: directory, "cannot create output directory (\(error.localizedDescription))")
        }
        let probe = "\(directory)/.write-probe-\(getpid())"
        guard FileManager.default.createFile(atPath: probe, contents: Data("x".utf8)) else {
            throw DinoSegError(file: directory, "output directory is not writable")
        }
        unlink(probe)
        ShardFile.removeTemporaries(in: directory)
    }

    /// The manifest to continue from: a fresh one, or the existing one with only verified shards kept.
    static func resume(directory: String, fresh: CacheManifest, log: (String) -> Void) throws -> CacheManifest {
        let path = "\(directory)/\(CacheManifest.fileName)"
        guard FileManager.default.fileExists(atPath: path) else { return fresh }
        let old = try CacheManifest.load(directory: directory)
        var diffs = fresh.config.differences(from: old.config)
        if old.imageIDs != fresh.imageIDs && old.config.listFile == fresh.config.listFile {
            diffs.append("list contents changed")
        }
        if !diffs.isEmpty {
            throw DinoSegError(file: directory, "an existing cache here was made with a different configuration ("
                + diffs.joined(separator: "; ") + "). Use a new --out directory, or delete \(directory) to start over.")
        }
        var kept = fresh
        kept.skipped = []
        if !old.shards.isEmpty { log("verifying the checksums of \(old.shards.count) finished shard(s)…") }
        for entry in old.shards {
            let file = "\(directory)/\(entry.file)"
            guard FileManager.default.fileExists(atPath: file) else { log("\(entry.file): missing, will redo it"); continue }
            let sha = try SHA256.hex(ofFile: file)
            if sha == entry.sha256 { kept.shards.append(entry) } else { log("\(entry.file): checksum mismatch, will redo it") }
        }
        kept.skipped = old.skipped
        kept.shards.sort { $0.index < $1.index }
        if !kept.shards.isEmpty { log("resuming: \(kept.shards.count) of \(kept.plannedShards) shards already done and verified") }
        return kept
    }

    static func freeBytes(_ directory: String) -> Double? {
        (try? FileManager.default.attributesOfFileSystem(forPath: directory)[.systemFreeSize] as? NSNumber)?.doubleValue
    }

    /// Refuses when the remaining work needs more than the free space (with 2% + 64 MiB headroom).
    static func checkDisk(_ directory: String, needed: Double) throws {
        guard let free = freeBytes(directory) else { return }
        if needed * 1.02 + 64 * 1024 * 1024 > free {
            throw DinoSegError(file: directory, "not enough disk space: the plan needs about \(formatBytes(needed)), "
                               + "\(formatBytes(free)) free. Free space, use --dtype f16, fewer --stages/--views, or another --out.")
        }
    }

    /// Seconds per 224×224 forward pass on one core, measured on one probe image.
    static func probeSecondsPerImage(_ backbone: FeatureBackbone, stages: [Int], crop: Int) -> Double {
        let input = [Float](repeating: 0, count: crop * crop * 3)
        let start = Date()
        _ = input.withUnsafeBufferPointer { backbone.forward(image: $0.baseAddress!, height: crop, width: crop, stages: stages) }
        return max(1e-4, Date().timeIntervalSince(start))
    }

    /// Channels-last feature bytes of one crop×crop sample over `stages`.
    static func featureBytes(channels: [Int], stages: [Int], height: Int, width: Int, dtype: HDF5DType) -> Int {
        var total = 0
        for k in stages {
            total += stageSize(height, stage: k) * stageSize(width, stage: k) * channels[k]
        }
        return total * dtype.size
    }
}

/// Backbone description recorded in manifests.
func backboneInfo(_ backbone: FeatureBackbone) -> CacheBackboneInfo {
    return CacheBackboneInfo(name: backbone.name, hiddenSizes: backbone.stageChannels, depths: backbone.depths,
                             stageStrides: backbone.stageStrides, weightsSHA256: backbone.weightsSHA256)
}

func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
