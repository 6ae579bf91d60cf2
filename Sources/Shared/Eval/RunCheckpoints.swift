import Foundation
import DinoSegCore
import DinoSegNN
import DinoSegModels

// Finding and loading the head checkpoint of a run directory, whatever the trainer named its files: every
// `*.safetensors` in the run directory (and its `checkpoints/` subdirectory) that carries a head config is a
// candidate, and the one with the highest training step wins.

package enum RunCheckpoints {
    package struct Found {
        package var path: String
        package var step: Int?
    }

    /// Candidate checkpoints of a run, ordered by step (unknown steps first).
    package static func list(run: String) throws -> [Found] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: run, isDirectory: &isDir), isDir.boolValue else {
            throw DinoSegError(file: run, "run directory not found")
        }
        var found: [Found] = []
        for dir in [run, run + "/checkpoints"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for name in names where name.hasSuffix(".safetensors") && !name.hasPrefix(".") {
                let path = dir + "/" + name
                let file: SafetensorsFile
                do { file = try SafetensorsFile(path: path) } catch {
                    // A checkpoint the trainer wrote that no longer reads (truncated) is reported, not passed over
                    // for an older one.
                    if isTrainerName(name) { throw error }
                    continue
                }
                guard file.metadata["config"] != nil else { continue }
                let step = file.metadata["progress"].flatMap { try? JSONDecoder().decode(TrainProgress.self, from: Data($0.utf8)) }?.step
                found.append(Found(path: path, step: step))
            }
        }
        return found.sorted { ($0.step ?? -1, $0.path) < ($1.step ?? -1, $1.path) }
    }

    /// last.safetensors and epoch-NNN.safetensors.
    static func isTrainerName(_ name: String) -> Bool {
        name == "last.safetensors" || (name.hasPrefix("epoch-") && name.dropFirst(6).dropLast(12).allSatisfy(\.isNumber))
    }

    /// The latest checkpoint of a run: last.safetensors when the run has one (the trainer rewrites it at every epoch
    /// end, so an epoch checkpoint of a higher step can only be left over from an earlier head in the directory),
    /// otherwise the candidate of the highest step.
    package static func latest(run: String) throws -> Found {
        let found = try list(run: run)
        if let last = found.first(where: { $0.path == run + "/last.safetensors" }) { return last }
        guard let last = found.last else {
            throw DinoSegError(file: run, "no head checkpoint (*.safetensors with a head config) in the run directory; train first or pass --checkpoint")
        }
        return last
    }

    /// A head in eval mode with the checkpoint's weights, and the checkpoint's training step.
    package static func loadHead(_ path: String, threads: Int) throws -> (head: SegmentationHead, step: Int?) {
        let config = try HeadCheckpoint.config(of: path)
        let head = try SegmentationHead(config: config, threads: threads)
        let progress = try HeadCheckpoint.load(path, into: head)
        return (head, progress?.step)
    }
}
