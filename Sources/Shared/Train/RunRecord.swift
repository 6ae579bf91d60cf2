import Foundation
import DinoSegCore

// One implementation of "does this resume (or rerun) ask for what the run's config.json records?", shared by the
// head trainer, the sweep and the PSPNet baseline: config.json is rewritten on every resume, so it may only be
// rewritten when it still describes the whole run.

/// "name recorded → asked", or nil when the two are equal: one entry of a list of changed settings.
func settingChange<T: Equatable>(_ name: String, _ recorded: T, _ asked: T) -> String? {
    recorded == asked ? nil : "\(name) \(recorded) → \(asked)"
}

/// A path setting that changed, compared after resolving "." and ".." against the working directory (so "data" and
/// "./data/" are the same place); nil for none, as for an optional --weights.
func pathChange(_ name: String, _ recorded: String?, _ asked: String?) -> String? {
    func place(_ p: String?) -> String? { p.map { URL(fileURLWithPath: $0).standardizedFileURL.path } }
    return place(recorded) == place(asked) ? nil : "\(name) \(recorded ?? "(none)") → \(asked ?? "(none)")"
}

extension TrainOptions {
    /// The optimisation settings (recorded: self) that `asked` changes: lr, poly power, momentum, weight decay, and
    /// with `seedAndBatch` the seed and batch too. Threads, logging and checkpoint intervals may change; epochs and
    /// precision are checked against the checkpoint's progress.
    func optimisationChanges(to asked: TrainOptions, seedAndBatch: Bool) -> [String] {
        let order = seedAndBatch ? [settingChange("--seed", seed, asked.seed), settingChange("--batch", batch, asked.batch)] : []
        return (order + [settingChange("--lr", lr, asked.lr), settingChange("power", power, asked.power),
                         settingChange("--momentum", momentum, asked.momentum),
                         settingChange("--weight-decay", weightDecay, asked.weightDecay)]).compactMap { $0 }
    }
}

enum RunRecord {
    /// The run's config.json decoded as `T` (only the fields a check needs), or nil when there is none (a run
    /// interrupted before writing it).
    static func read<T: Decodable>(_ type: T.Type, run: String) throws -> T? {
        let path = run + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw DinoSegError(file: path, "unreadable run configuration, so a resume cannot be checked against it (\(error))")
        }
    }

    /// Refuses a resume of `run` that `changes` (from the lists above) would continue with other settings.
    static func checkResume(_ run: String, changes: [String]) throws {
        guard changes.isEmpty else {
            throw DinoSegError(file: run, "was trained with other settings than this --resume asks for (\(changes.joined(separator: "; "))); resume with the original flags, or start a new --run")
        }
    }
}
