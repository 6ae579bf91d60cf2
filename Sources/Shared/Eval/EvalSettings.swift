import DinoSegCore
import DinoSegData
// What an evaluation of a head on a val set needs (the images, the protocol, the backbone note) and the one way to
// run it; training (TrainingValidation), the sweep and `headtrain eval` all call `EvalSettings.evaluate`.

/// A val cache opened afresh for every evaluation, reading the given stages: returns a function handing out one image
/// at a time.
package typealias ValImageReader = (_ stages: [Int]) throws -> () throws -> EvalFeatures?

/// Where the evaluations of a run go and how they are labelled.
package struct EvalSettings {
    package var open: ValImageReader
    package var evalProtocol: EvalProtocol
    package var backboneNote: String?
    /// The val data's dataset, carried into the result to name its classes (nil: VOC).
    package var dataset: DatasetDescription? = nil
    package init(open: @escaping ValImageReader, evalProtocol: EvalProtocol, backboneNote: String?) {
        self.open = open; self.evalProtocol = evalProtocol; self.backboneNote = backboneNote
    }

    /// Evaluates `head` on the whole val set (`step`/`checkpoint` label the result); `onImage` sees every prediction.
    package func evaluate(_ head: WindowLogits, step: Int?, checkpoint: String?,
                         onImage: ((EvalFeatures, [UInt8]) -> Void)? = nil) throws -> EvalResult {
        let next = try open(head.requiredStages)
        var result = try Evaluator.evaluate(head, next: next, evalProtocol: evalProtocol, checkpointStep: step,
                                            checkpoint: checkpoint, backboneNote: backboneNote, onImage: onImage)
        result.dataset = dataset
        return result
    }
}

package struct EpochEval: Codable, Equatable {
    package var epoch: Int
    package var step: Int
    package var mIoU: Double, mAcc: Double, allAcc: Double

    package init(epoch: Int, step: Int, mIoU: Double, mAcc: Double, allAcc: Double) {
        self.epoch = epoch; self.step = step; self.mIoU = mIoU; self.mAcc = mAcc; self.allAcc = allAcc
    }
}
