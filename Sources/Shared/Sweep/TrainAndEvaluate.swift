import Foundation

// Training one head with evaluation every N epochs: the trainer runs in sessions of N epochs (it stops at the epoch
// boundary and resumes exactly from last.safetensors), and between sessions the in-memory head is evaluated on the
// val cache. The mIoU curve goes to eval-history.json in the run directory.

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
}

public struct TrainedRun {
    public var runDirectory: String
    public var trainSeconds: Double
    public var finalLoss: Double?
    public var steps: Int
    public var result: EvalResult
    public var history: [EpochEval]
}

public struct EpochEval: Codable, Equatable {
    public var epoch: Int
    public var step: Int
    public var mIoU: Double, mAcc: Double, allAcc: Double
}

public enum TrainAndEvaluate {
    static let checkpointName = "last.safetensors"

    /// Trains (or resumes) `head` in `runDirectory` for `options.epochs` epochs, evaluating every `evalEvery` epochs
    /// (0: only at the end). Leaves metrics.json / confusion.csv of the final evaluation in the run directory.
    public static func run(head: HeadConfig, options: TrainOptions, source: HeadTrainingSource, runDirectory: String,
                           eval: EvalSettings, evalEvery: Int, output: @escaping (String) -> Void) throws -> TrainedRun {
        let stepsPerEpoch = source.samplesPerEpoch / options.batch
        let historyPath = runDirectory + "/eval-history.json"
        var history = (try? JSONDecoder().decode([EpochEval].self,
                                                 from: Data(contentsOf: URL(fileURLWithPath: historyPath)))) ?? []
        var trainSeconds = 0.0
        var lastLoss: Double? = nil
        var result: EvalResult? = nil
        var steps = 0
        var session = 0
        while true {
            session += 1
            // The trainer prints its resolved configuration (JSON) at every start; once is enough.
            let quiet: (String) -> Void = { line in if session == 1 || !line.hasPrefix("{") { output(line) } }
            var opts = options
            if evalEvery > 0 { opts.stopAfterSteps = evalEvery * max(1, stepsPerEpoch) }
            let resume = FileManager.default.fileExists(atPath: runDirectory + "/" + checkpointName)
            let trainer = HeadTrainer(head: head, options: opts, source: source, runDirectory: runDirectory,
                                      resume: resume, output: quiet)
            let start = Date()
            let summary = try trainer.run()
            trainSeconds += Date().timeIntervalSince(start)
            if summary.lastLoss.isFinite { lastLoss = summary.lastLoss }
            steps = summary.stepsDone
            guard let trained = trainer.head else { throw DinoSegError(file: runDirectory, "trainer produced no head") }
            let epoch = stepsPerEpoch > 0 ? summary.stepsDone / stepsPerEpoch : 0
            let alreadyEvaluated = history.last.map { $0.step == summary.stepsDone } ?? false
            if !alreadyEvaluated || !summary.stoppedEarly {
                let r = try evaluate(trained, eval: eval, step: summary.stepsDone,
                                     checkpoint: runDirectory + "/" + checkpointName)
                history.removeAll { $0.step == summary.stepsDone }
                history.append(EpochEval(epoch: epoch, step: summary.stepsDone, mIoU: r.metrics.mIoU,
                                         mAcc: r.metrics.mAcc, allAcc: r.metrics.allAcc))
                try AtomicWrite.write(JSONEncoder().encode(history), to: historyPath)
                output("eval after epoch \(epoch) (step \(summary.stepsDone)): \(r.summaryLine)  [\(r.protocolLine)]")
                result = r
            }
            if !summary.stoppedEarly || StopSignal.isRequested { break }
        }
        guard let final = result else { throw DinoSegError(file: runDirectory, "no evaluation was made") }
        try final.write(to: runDirectory)
        return TrainedRun(runDirectory: runDirectory, trainSeconds: trainSeconds, finalLoss: lastLoss, steps: steps,
                          result: final, history: history)
    }

    public static func evaluate(_ head: WindowLogits, eval: EvalSettings, step: Int?, checkpoint: String?,
                                onImage: ((EvalFeatures, [UInt8]) -> Void)? = nil) throws -> EvalResult {
        let next = try eval.open(head.requiredStages)
        return try Evaluator.evaluate(head, next: next, evalProtocol: eval.evalProtocol, checkpointStep: step,
                                      checkpoint: checkpoint, backboneNote: eval.backboneNote, onImage: onImage)
    }

    /// Loss per step from log.jsonl as (epoch as a fraction, loss), averaged over `bucket` consecutive steps.
    public static func lossCurve(runDirectory: String, stepsPerEpoch: Int, bucket: Int = 1) -> [[Double]] {
        guard let text = try? String(contentsOfFile: runDirectory + "/log.jsonl", encoding: .utf8) else { return [] }
        var points: [[Double]] = []
        var sum = 0.0, n = 0
        for line in text.split(separator: "\n") {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = obj["step"] as? Int, let loss = obj["loss"] as? Double else { continue }
            sum += loss; n += 1
            if n == bucket {
                points.append([Double(step) / Double(max(1, stepsPerEpoch)), sum / Double(n)])
                sum = 0; n = 0
            }
        }
        return points
    }
}
