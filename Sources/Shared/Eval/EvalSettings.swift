// What an evaluation of a head on a val set needs (the images, the protocol, the backbone note) and the one way to
// run it; training (TrainingValidation), the sweep and `headtrain eval` all call `EvalSettings.evaluate`.

/// A val cache opened afresh for every evaluation, reading the given stages: returns a function handing out one image
/// at a time.
public typealias ValImageReader = (_ stages: [Int]) throws -> () throws -> EvalFeatures?

/// Where the evaluations of a run go and how they are labelled.
public struct EvalSettings {
    public var open: ValImageReader
    public var evalProtocol: EvalProtocol
    public var backboneNote: String?
    public init(open: @escaping ValImageReader, evalProtocol: EvalProtocol, backboneNote: String?) {
        self.open = open; self.evalProtocol = evalProtocol; self.backboneNote = backboneNote
    }

    /// Evaluates `head` on the whole val set (`step`/`checkpoint` label the result); `onImage` sees every prediction.
    public func evaluate(_ head: WindowLogits, step: Int?, checkpoint: String?,
                         onImage: ((EvalFeatures, [UInt8]) -> Void)? = nil) throws -> EvalResult {
        let next = try open(head.requiredStages)
        return try Evaluator.evaluate(head, next: next, evalProtocol: evalProtocol, checkpointStep: step,
                                      checkpoint: checkpoint, backboneNote: backboneNote, onImage: onImage)
    }
}

public struct EpochEval: Codable, Equatable {
    public var epoch: Int
    public var step: Int
    public var mIoU: Double, mAcc: Double, allAcc: Double
}
