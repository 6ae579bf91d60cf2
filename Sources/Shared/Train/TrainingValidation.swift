import Foundation
import DinoSegCore
import DinoSegModels
import DinoSegEval

// Evaluation during training (`headtrain train --val-cache … --eval-every N`): after every N-th epoch and after the
// last one, the in-memory head is evaluated on the val cache by the Evaluator (eval mode, running BN statistics). Each
// result goes to log.txt (with the protocol), to log.jsonl ({"event": "eval", …}), to metrics.json / confusion.csv
// (the latest evaluation) and to eval-history.json (one EpochEval per evaluation, as the sweep writes it).

package struct TrainingValidation {
    package var settings: EvalSettings
    /// Evaluate after every this many epochs; 0: only after the last epoch.
    package var every: Int

    package init(settings: EvalSettings, every: Int) {
        self.settings = settings; self.every = every
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

    /// Evaluates `head`, logs the result and records it in the run directory; returns it with the updated history.
    func evaluate(_ head: SegmentationHead, epoch: Int, step: Int, checkpoint: String, runDirectory: String,
                  history: [EpochEval], log: TrainingLog) throws -> (EvalResult, [EpochEval]) {
        let r = try settings.evaluate(head, step: step, checkpoint: checkpoint)
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
