import Foundation
import DinoSegCore

/// The run's logs: human lines (printed and appended to log.txt) and one JSON object per step in log.jsonl.
/// On resume, JSON lines of steps after the checkpoint (written by the interrupted session) are dropped, and so are
/// evaluation lines whose evaluation is not in eval-history.json (an evaluation interrupted while it was being
/// recorded is redone), so the file reads as one uninterrupted run.
final class TrainingLog {
    let text: FileHandle?
    let json: FileHandle?
    let output: (String) -> Void
    /// log.txt and log.jsonl (empty for the log that writes nothing).
    let textPath: String, jsonPath: String
    /// Training seconds (evaluations excluded) of the steps kept from earlier sessions.
    let earlierTrainSeconds: Double

    /// A log that writes and prints nothing (the processes other than rank 0 in data-parallel training).
    init() { text = nil; json = nil; output = { _ in }; earlierTrainSeconds = 0; textPath = ""; jsonPath = "" }

    /// `keepEvalSteps`: the steps whose evaluation lines are kept on resume (nil: all up to the checkpoint).
    init(directory: String, truncateFromStep: Int, keepEvalSteps: Set<Int>? = nil, output: @escaping (String) -> Void) throws {
        self.output = output
        let textPath = directory + "/log.txt", jsonPath = directory + "/log.jsonl"
        self.textPath = textPath; self.jsonPath = jsonPath
        var earlier = 0.0
        if truncateFromStep == 0 {
            for p in [textPath, jsonPath] { _ = FileManager.default.createFile(atPath: p, contents: nil) }
        } else {
            let kept = ((try? String(contentsOfFile: jsonPath, encoding: .utf8)) ?? "").split(separator: "\n").filter { line in
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let step = obj["step"] as? Int, step <= truncateFromStep else { return false }
                if obj["event"] as? String == "eval" { return keepEvalSteps?.contains(step) ?? true }
                if let t = obj["train_seconds"] as? Double { earlier = t }
                return true
            }
            try AtomicWrite.write(Data(kept.map { $0 + "\n" }.joined().utf8), to: jsonPath)
            if !FileManager.default.fileExists(atPath: textPath) { _ = FileManager.default.createFile(atPath: textPath, contents: nil) }
        }
        earlierTrainSeconds = earlier
        guard let t = FileHandle(forWritingAtPath: textPath), let j = FileHandle(forWritingAtPath: jsonPath) else {
            throw DinoSegError(file: directory, "cannot open the log files for writing")
        }
        t.seekToEndOfFile(); j.seekToEndOfFile()
        text = t; json = j
    }

    deinit { try? text?.close(); try? json?.close() }

    /// The first failed write to log.txt (a full disk); `human` cannot throw, so the next `step` reports it.
    private var textWriteError: DinoSegError?

    func human(_ line: String) {
        output(line)
        guard let text, textWriteError == nil else { return }
        do { try Self.append(Data((line + "\n").utf8), to: text, path: textPath) } catch { textWriteError = error as? DinoSegError }
    }

    func step(_ fields: [String: Any]) throws {
        if let textWriteError { throw textWriteError }
        guard let json else { return }
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        try Self.append(data + Data("\n".utf8), to: json, path: jsonPath)
    }

    /// Appends all of `data`: FileHandle.write(_:) traps on an error (a full disk), this throws one line.
    private static func append(_ data: Data, to handle: FileHandle, path: String) throws {
        let failure = AtomicWrite.writeAll(data, to: handle.fileDescriptor)
        if failure != 0 {
            let hint = failure == ENOSPC || failure == EFBIG || failure == EDQUOT ? " (disk full?)" : ""
            throw DinoSegError(file: path, "cannot write the training log: \(String(cString: strerror(failure)))\(hint)")
        }
    }

    /// What a run's log.jsonl records about its training, read back (a sweep rebuilds its result rows from it).
    struct Record: Equatable {
        /// The last step logged, its loss and the training seconds up to it (evaluations excluded, all sessions).
        var step: Int
        var loss: Double
        var trainSeconds: Double
    }

    /// The last step line of `directory/log.jsonl`, or nil when none was written.
    static func lastStep(directory: String) -> Record? {
        guard let text = try? String(contentsOfFile: directory + "/log.jsonl", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n").reversed() {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  obj["event"] == nil, let step = obj["step"] as? Int, let loss = obj["loss"] as? Double else { continue }
            return Record(step: step, loss: loss, trainSeconds: obj["train_seconds"] as? Double ?? 0)
        }
        return nil
    }
}
