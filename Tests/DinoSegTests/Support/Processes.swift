import Foundation
@testable import DinoSegCore

// The tests' one helper for child processes (the built executables, mpirun, ip, cc, python3): run an executable with
// arguments and an environment, capture stdout, stderr and how it ended, and give up after a timeout, so a hung child
// fails its test instead of hanging the suite.

/// How long a child may run before it is stopped and its test fails: far above the slowest child (a two-rank
/// training under mpirun on a loaded machine).
let processTimeout: TimeInterval = 600

/// How a child ended and what it wrote.
struct ProcessResult {
    /// The exit status, or the signal number when `reason` is `.uncaughtSignal`.
    var status: Int32
    var reason: Process.TerminationReason
    var stdout: String
    /// Empty when the child was started with `mergeOutput` (stderr went to `stdout`).
    var stderr: String
    /// Everything the child wrote: stdout, then stderr.
    var output: String { stdout + stderr }
}

/// A started child. Its stdout and stderr go to files in a directory of its own (a file never fills up and blocks
/// the child as a pipe does, and needs no reader thread); `wait` reads them and removes the directory. A child still
/// running when this is released (its test threw) is killed, so neither it nor its files outlive the test.
final class ChildProcess {
    let process: Process
    private let command: String
    /// Where the child's output files are (removed once it has ended and been waited for or released).
    let outputDirectory: String
    private let stdoutHandle: FileHandle
    private let stderrHandle: FileHandle
    private let ended = DispatchSemaphore(value: 0)
    private var started = false
    /// Set once the child has ended and its output is read.
    private var result: ProcessResult?

    fileprivate init(_ executable: String, _ arguments: [String], environment: [String: String], mergeOutput: Bool) throws {
        command = ([executable] + arguments).joined(separator: " ")
        outputDirectory = try makeTempDir("process")
        do {
            stdoutHandle = try Self.createLog(outputDirectory + "/stdout")
            stderrHandle = mergeOutput ? stdoutHandle : try Self.createLog(outputDirectory + "/stderr")
            process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = environment
            process.standardInput = FileHandle.nullDevice   // a child never waits for the test's input
            process.standardOutput = stdoutHandle
            process.standardError = stderrHandle
            let ended = self.ended
            process.terminationHandler = { _ in ended.signal() }
            try process.run()
            started = true
        } catch {
            try? FileManager.default.removeItem(atPath: outputDirectory)
            throw error
        }
    }

    private static func createLog(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DinoSegError(file: path, "cannot create the child's output file")
        }
        return handle
    }

    var pid: pid_t { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Waits for the end of the child and returns what it left. After `timeout` seconds it is sent SIGTERM (mpirun
    /// passes it on to its ranks), 5 s later SIGKILL, and the error names the command and the end of its output.
    func wait(timeout: TimeInterval = processTimeout) throws -> ProcessResult {
        if let result { return result }
        if ended.wait(timeout: .now() + timeout) == .timedOut {
            kill(pid, SIGTERM)
            if ended.wait(timeout: .now() + 5) == .timedOut { kill(pid, SIGKILL); ended.wait() }
            let r = collect()
            result = r
            throw DinoSegError("\(command): still running after \(String(format: "%g", timeout)) s, stopped; output: \(r.output.suffix(800))")
        }
        let r = collect()
        result = r
        return r
    }

    /// Reads the output files and removes them (the process has ended).
    private func collect() -> ProcessResult {
        process.waitUntilExit()   // the termination handler can run before Process records the status
        try? stdoutHandle.close()
        if stderrHandle !== stdoutHandle { try? stderrHandle.close() }
        func read(_ name: String) -> String {
            FileManager.default.contents(atPath: outputDirectory + "/" + name).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        let r = ProcessResult(status: process.terminationStatus, reason: process.terminationReason,
                              stdout: read("stdout"), stderr: read("stderr"))
        try? FileManager.default.removeItem(atPath: outputDirectory)
        return r
    }

    deinit {
        guard started, result == nil else { return }   // never started: init removed the directory
        if process.isRunning { kill(pid, SIGKILL) }
        ended.wait()
        _ = collect()
    }
}

/// Starts `executable` (a path) with `arguments` and `environment` (the test process's own unless given); with
/// `mergeOutput` stderr goes into stdout, in the order written.
func startProcess(_ executable: String, _ arguments: [String],
                  environment: [String: String] = ProcessInfo.processInfo.environment,
                  mergeOutput: Bool = false) throws -> ChildProcess {
    try ChildProcess(executable, arguments, environment: environment, mergeOutput: mergeOutput)
}

/// Runs `executable` to its end (at most `timeout` seconds, see `ChildProcess.wait`).
func runProcess(_ executable: String, _ arguments: [String],
                environment: [String: String] = ProcessInfo.processInfo.environment,
                mergeOutput: Bool = false, timeout: TimeInterval = processTimeout) throws -> ProcessResult {
    try startProcess(executable, arguments, environment: environment, mergeOutput: mergeOutput).wait(timeout: timeout)
}

/// Runs python3 with a script; nil when python3 or h5py is unavailable (the test then skips).
func runPythonWithH5py(_ script: String) throws -> String? {
    func python(_ args: [String]) throws -> ProcessResult {
        try runProcess("/usr/bin/env", ["python3"] + args, mergeOutput: true)
    }
    guard let probe = try? python(["-c", "import h5py, numpy"]), probe.status == 0 else { return nil }
    let r = try python(["-c", script])
    if r.status != 0 { throw DinoSegError("python failed: \(r.output)") }
    return r.output
}

/// Marks the test bundle for `builtExecutable`.
private final class TestBundleMarker {}

/// The built executable `name` (extract, headtrain) beside the test binary (Linux) or beside the .xctest bundle
/// (macOS); a test that needs one fails with this line when it was not built.
func builtExecutable(_ name: String) throws -> String {
    let bundle = Bundle(for: TestBundleMarker.self).bundleURL
    let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent(name).path }
    guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw DinoSegError(file: candidates[0], "not built; run swift build --build-tests first")
    }
    return path
}
