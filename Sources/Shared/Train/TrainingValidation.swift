import Foundation
import DinoSegCore
import DinoSegEval

// Evaluation during training (`headtrain train --val-cache … --eval-every N`, `headtrain baseline train --val-list …
// --eval-every N`): after every N-th epoch and after the last one, the in-memory network is evaluated in eval mode
// (running BN statistics) by the Evaluator, on a val cache (heads) or on val images (the baseline). Each result goes to
// log.txt (with the protocol), to log.jsonl ({"event": "eval", …}), to metrics.json / confusion.csv (the latest
// evaluation) and to eval-history.json (one EpochEval per evaluation, as the sweep writes it).

package struct TrainingValidation {
    /// Evaluate after every this many epochs; 0: only after the last epoch.
    package var every: Int
    /// Evaluates a network's eval-mode logits after `step` (the checkpoint holding that step is named in the result).
    let run: (_ network: WindowLogits, _ step: Int, _ checkpoint: String) throws -> EvalResult

    /// On a val cache (the heads).
    package init(settings: EvalSettings, every: Int) {
        self.init(every: every) { try settings.evaluate($0, step: $1, checkpoint: $2) }
    }

    /// With any evaluation of the network's logits (the baseline: val images under a protocol).
    package init(every: Int, evaluate: @escaping (_ network: WindowLogits, _ step: Int, _ checkpoint: String) throws -> EvalResult) {
        self.every = every; self.run = evaluate
    }

    /// Whether to evaluate after epoch `epoch` (1-based) of `epochs`.
    package func isDue(afterEpoch epoch: Int, of epochs: Int) -> Bool {
        epoch == epochs || (every > 0 && epoch % every == 0)
    }

    static let historyFile = "eval-history.json"

    /// Evaluations recorded up to `step` (later ones belong to an interrupted session that is being resumed).
    static func history(in runDirectory: String, upToStep step: Int) -> [EpochEval] {
        let url = URL(fileURLWithPath: runDirectory + "/" + historyFile)
        let all = (try? JSONDecoder().decode([EpochEval].self, from: Data(contentsOf: url))) ?? []
        return all.filter { $0.step <= step }
    }

    /// Evaluates `network`, logs the result and records it in the run directory; returns it with the updated history.
    func evaluate(_ network: WindowLogits, epoch: Int, step: Int, checkpoint: String, runDirectory: String,
                  history: [EpochEval], log: TrainingLog) throws -> (EvalResult, [EpochEval]) {
        let r = try run(network, step, checkpoint)
        log.human("eval after epoch \(epoch) (step \(step)): \(r.summaryLine)  [\(r.protocolLine)]")
        var fields: [String: Any] = ["event": "eval", "epoch": epoch, "step": step, "mIoU": r.metrics.mIoU,
                                     "mAcc": r.metrics.mAcc, "allAcc": r.metrics.allAcc,
                                     "protocol": "\(r.evalProtocol)", "images": r.images, "eval_seconds": r.seconds]
        if let note = r.backboneNote { fields["backbone_note"] = note }
        try log.step(fields)
        try r.write(to: runDirectory)
        var updated = history.filter { $0.step != step }
        updated.append(EpochEval(epoch: epoch, step: step, mIoU: r.metrics.mIoU, mAcc: r.metrics.mAcc, allAcc: r.metrics.allAcc))
        try AtomicWrite.write(JSONEncoder().encode(updated), to: runDirectory + "/" + Self.historyFile)
        return (r, updated)
    }
}
