import Foundation

// One sweep job: a head trained with evaluation every N epochs (the trainer evaluates in place, see
// TrainingValidation); the mIoU curve goes to eval-history.json in the run directory.

public struct TrainedRun {
    public var runDirectory: String
    public var trainSeconds: Double
    public var finalLoss: Double?
    public var steps: Int
    public var result: EvalResult
    public var history: [EpochEval]
}

public enum TrainAndEvaluate {
    static let checkpointName = "last.safetensors"

    /// Trains (or resumes) `head` in `runDirectory` for `options.epochs` epochs, evaluating in place every `evalEvery`
    /// epochs and after the last one (TrainingValidation). Leaves metrics.json / confusion.csv of the final evaluation
    /// in the run directory.
    public static func run(head: HeadConfig, options: TrainOptions, source: HeadTrainingSource, runDirectory: String,
                           eval: EvalSettings, evalEvery: Int, output: @escaping (String) -> Void) throws -> TrainedRun {
        let checkpoint = runDirectory + "/" + checkpointName
        let trainer = HeadTrainer(head: head, options: options, source: source, runDirectory: runDirectory,
                                  resume: FileManager.default.fileExists(atPath: checkpoint), output: output)
        trainer.validation = TrainingValidation(settings: eval, every: evalEvery)
        let start = Date()
        let summary = try trainer.run()
        let trainSeconds = Date().timeIntervalSince(start) - summary.evalSeconds
        guard let trained = trainer.head else { throw DinoSegError(file: runDirectory, "trainer produced no head") }
        // A run resumed after its last epoch, or stopped between evaluations, is evaluated as it stands.
        let result = try trainer.lastEvaluation ?? eval.evaluate(trained, step: summary.stepsDone, checkpoint: checkpoint)
        try result.write(to: runDirectory)
        let history = TrainingValidation.history(in: runDirectory, upToStep: summary.stepsDone)
        return TrainedRun(runDirectory: runDirectory, trainSeconds: trainSeconds,
                          finalLoss: summary.lastLoss.isFinite ? summary.lastLoss : nil, steps: summary.stepsDone,
                          result: result, history: history)
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
