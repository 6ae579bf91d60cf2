import Foundation
@testable import DinoSegCore

// The tests' helper for running a child process: python3 with h5py, for cross-checks against the reference readers.

/// Runs python3 with a script; nil when python3 or h5py is unavailable (the test then skips).
func runPythonWithH5py(_ script: String) throws -> String? {
    func run(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
    guard let probe = try? run(["-c", "import h5py, numpy"]), probe.0 == 0 else { return nil }
    let (status, out) = try run(["-c", script])
    if status != 0 { throw DinoSegError("python failed: \(out)") }
    return out
}
