import Foundation
import DinoSegCore
import DinoSegEval

/// A task that keeps its own session (where the run goes, how it reports, who trains with it) and runs TrainingLoop
/// on itself: both trainers, whose callers set `validation` and `communicator` before `run()` and read the network
/// and the latest evaluation afterwards. Subclassing TrainingSessionState provides all of it.
package protocol TrainingSession: TrainingTask {
    var runDirectory: String { get }
    var resume: Bool { get }
    var output: (String) -> Void { get }
    var validation: TrainingValidation? { get }
    var communicator: Communicator { get }
    /// Keeps what a session leaves: its network and its latest evaluation (also when it stopped with an error, so a
    /// caller can still look at them).
    func keep(network: Network?, lastEvaluation: EvalResult?)
}

extension TrainingSession {
    /// Trains with the BLAS on `options.threads` threads (restored afterwards).
    package func run() throws -> TrainingSummary {
        let loop = TrainingLoop(task: self, runDirectory: runDirectory, resume: resume, communicator: communicator,
                                validation: validation, output: output)
        defer { keep(network: loop.network, lastEvaluation: loop.lastEvaluation) }
        return try loop.run()
    }
}

/// The session settings and results of both trainers, stored once.
package class TrainingSessionState<Network: TrainableNetwork> {
    package let runDirectory: String
    package let resume: Bool
    package let output: (String) -> Void
    /// The network the session trained (nil before `run()`).
    package private(set) var network: Network?
    /// Evaluation during training (nil: none).
    package var validation: TrainingValidation?
    /// The latest evaluation of this session (with `validation`).
    package private(set) var lastEvaluation: EvalResult?
    /// The processes training together (one by default).
    package var communicator: Communicator = SingleProcess()

    init(runDirectory: String, resume: Bool, output: @escaping (String) -> Void) {
        self.runDirectory = runDirectory; self.resume = resume; self.output = output
    }

    package func keep(network: Network?, lastEvaluation: EvalResult?) {
        self.network = network; self.lastEvaluation = lastEvaluation
    }
}
