import Foundation
import DinoSegCore
import DinoSegModels
import DinoSegEval

// One sweep job: a head trained with evaluation every N epochs (the trainer evaluates in place, see
// TrainingValidation, and redoes on resume an evaluation lost to a kill) and the run's result as its own records
// give it. The mIoU curve goes to eval-history.json in the run directory.

package struct TrainedRun {
    package var runDirectory: String
    package var trainSeconds: Double
    package var finalLoss: Double?
    package var steps: Int
    package var result: EvalResult
    package var history: [EpochEval]
}

package enum TrainAndEvaluate {
    static let checkpointName = "last.safetensors"

    package enum Outcome {
        case finished(TrainedRun)
        /// Stopped early (Ctrl-C); the checkpoint resumes it.
        case stopped
        /// Trained as one of several processes; the result is rank 0's of `communicator`.
        case trainedWithOthers
    }

    /// Trains (or resumes) `head` in `runDirectory` for `options.epochs` epochs, evaluating every `evalEvery` epochs
    /// (0: only at the end) as `headtrain train --val-cache` does (TrainingValidation: an evaluation lost to a kill is
    /// redone on resume). Several processes in `communicator` train it data-parallel, as `headtrain train` under
    /// mpirun does; their rank 0 writes the run directory and evaluates. Returns that rank's result, with the final loss
    /// and the training time read back from the run's own records (log.jsonl), so a resumed run reports the whole run.
    /// Leaves metrics.json / confusion.csv of the final evaluation in the run directory.
    package static func run(head: HeadConfig, options: TrainOptions, source: HeadTrainingSource, runDirectory: String,
                           eval: EvalSettings, evalEvery: Int, communicator: Communicator = SingleProcess(),
                           output: @escaping (String) -> Void) throws -> Outcome {
        let resume = FileManager.default.fileExists(atPath: runDirectory + "/" + checkpointName)
        let trainer = HeadTrainer(head: head, options: options, source: source, runDirectory: runDirectory,
                                  resume: resume, output: output)
        trainer.communicator = communicator
        trainer.validation = TrainingValidation(settings: eval, every: evalEvery)
        let summary = try trainer.run()
        if summary.stoppedEarly { return .stopped }
        guard communicator.isRoot else { return .trainedWithOthers }
        guard let trained = trainer.network else { throw DinoSegError(file: runDirectory, "trainer produced no head") }
        let history = TrainingValidation.history(in: runDirectory, upToStep: summary.stepsDone)
        // The final evaluation: this session's, or the recorded one when it was made before an interruption.
        var final = trainer.lastEvaluation.flatMap { $0.checkpointStep == summary.stepsDone ? $0 : nil }
        if final == nil, history.last?.step == summary.stepsDone,
           let recorded = try? EvalResult.read(runDirectory + "/metrics.json"), recorded.checkpointStep == summary.stepsDone {
            final = recorded
        }
        let result = try final ?? eval.evaluate(trained, step: summary.stepsDone, checkpoint: runDirectory + "/" + checkpointName)
        try result.write(to: runDirectory)
        guard let record = TrainingLog.lastStep(directory: runDirectory), record.step == summary.stepsDone else {
            throw DinoSegError(file: runDirectory + "/log.jsonl", "does not record step \(summary.stepsDone) of the checkpoint; delete \(runDirectory) to retrain it")
        }
        return .finished(TrainedRun(runDirectory: runDirectory, trainSeconds: record.trainSeconds, finalLoss: record.loss,
                                    steps: summary.stepsDone, result: result, history: history))
    }

    /// Loss per step from log.jsonl as (epoch as a fraction, loss), averaged over `bucket` consecutive steps.
    package static func lossCurve(runDirectory: String, stepsPerEpoch: Int, bucket: Int = 1) -> [[Double]] {
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
