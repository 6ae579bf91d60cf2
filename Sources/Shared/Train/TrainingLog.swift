import Foundation

/// The run's logs: human lines (printed and appended to log.txt) and one JSON object per step in log.jsonl.
/// On resume, JSON lines of steps after the checkpoint (written by the interrupted session) are dropped, so the file
/// reads as one uninterrupted run.
final class TrainingLog {
    let text: FileHandle?
    let json: FileHandle?
    let output: (String) -> Void

    /// A log that writes and prints nothing (the processes other than rank 0 in data-parallel training).
    init() { text = nil; json = nil; output = { _ in } }

    init(directory: String, truncateFromStep: Int, output: @escaping (String) -> Void) throws {
        self.output = output
        let textPath = directory + "/log.txt", jsonPath = directory + "/log.jsonl"
        if truncateFromStep == 0 {
            for p in [textPath, jsonPath] { _ = FileManager.default.createFile(atPath: p, contents: nil) }
        } else {
            let kept = ((try? String(contentsOfFile: jsonPath, encoding: .utf8)) ?? "").split(separator: "\n").filter { line in
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let step = obj["step"] as? Int else { return false }
                return step <= truncateFromStep
            }
            try AtomicWrite.write(Data(kept.map { $0 + "\n" }.joined().utf8), to: jsonPath)
            if !FileManager.default.fileExists(atPath: textPath) { _ = FileManager.default.createFile(atPath: textPath, contents: nil) }
        }
        guard let t = FileHandle(forWritingAtPath: textPath), let j = FileHandle(forWritingAtPath: jsonPath) else {
            throw DinoSegError(file: directory, "cannot open the log files for writing")
        }
        t.seekToEndOfFile(); j.seekToEndOfFile()
        text = t; json = j
    }

    deinit { try? text?.close(); try? json?.close() }

    func human(_ line: String) {
        output(line)
        text?.write(Data((line + "\n").utf8))
    }

    func step(_ fields: [String: Any]) throws {
        guard let json else { return }
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        json.write(data + Data("\n".utf8))
    }
}
