// The peers of `extract bench` and `headtrain bench`: PyTorch (eager fp32, autocast bf16), OpenVINO and ONNX Runtime,
// each timed by a script in scripts/ on the same architecture, threads and input, for a ratio beside DinoSeg's figure.
// The scripts run with $DINOSEG_PEER_PYTHON, else the venv scripts/setup_peers.sh makes (.venv-peers), else python3;
// a peer that is not installed is reported as unavailable, never an error. Nothing else in DinoSeg needs Python.
import Foundation
import DinoSegCore

package struct Peer: Sendable {
    /// How the line names it, e.g. "PyTorch autocast bf16".
    package var name: String
    /// The script under scripts/ and its arguments.
    package var script: String
    package var arguments: [String]
}

/// One peer's measurement: the script's JSON object (rates, batch, precision, memory format, versions).
package struct PeerResult {
    package var peer: Peer
    package var fields: [String: Any]

    package func number(_ key: String) -> Double? { (fields[key] as? NSNumber)?.doubleValue }
    package func text(_ key: String) -> String? { fields[key].map { "\($0)" } }

    /// "batch 4, channels-last, bf16" from the fields the script reports.
    package var setting: String {
        var parts: [String] = []
        if let b = fields["batch"] as? Int { parts.append("batch \(b)") }
        if let cl = fields["channels_last"] as? Bool { parts.append(cl ? "channels-last" : "NCHW") }
        if let p = text("precision") { parts.append(p) }
        if let v = text("engine_version") ?? text("torch_version") { parts.append("v\(v)") }
        return parts.joined(separator: ", ")
    }
}

package enum PeerBenchmark {
    package static let setupHint = "run scripts/setup_peers.sh (a venv with torch, openvino, onnxruntime)"

    /// The interpreter the peer scripts run with.
    static func python() -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["DINOSEG_PEER_PYTHON"], !p.isEmpty { return p }
        for root in [FileManager.default.currentDirectoryPath] + executableAncestors() {
            let venv = root + "/.venv-peers/bin/python"
            if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        }
        return "python3"
    }

    /// Directories above the executable (.build/release/extract → the checkout), nearest first.
    private static func executableAncestors() -> [String] {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var out: [String] = []
        for _ in 0..<4 {
            out.append(dir.path)
            dir = dir.deletingLastPathComponent()
        }
        return out
    }

    static func scriptPath(_ name: String) -> String? {
        let candidates = ([FileManager.default.currentDirectoryPath] + executableAncestors()).map { $0 + "/scripts/" + name }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Runs one peer; the failure says why in one line (not installed, script missing, the script's own last line).
    package static func run(_ peer: Peer) -> Result<PeerResult, DinoSegError> {
        guard let script = scriptPath(peer.script) else {
            return .failure(DinoSegError("scripts/\(peer.script) not found (run from the checkout)"))
        }
        let python = python()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script] + peer.arguments
        // stderr goes to a file, so a chatty script cannot block on a full pipe while stdout is read.
        let errPath = NSTemporaryDirectory() + "dinoseg-peer-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).err"
        guard FileManager.default.createFile(atPath: errPath, contents: nil), let errFile = FileHandle(forWritingAtPath: errPath) else {
            return .failure(DinoSegError("cannot create \(errPath)"))
        }
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = errFile
        do { try process.run() } catch {
            return .failure(DinoSegError("cannot start \(python) (\(error.localizedDescription)); \(setupHint)"))
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errFile.close()
        let stderrData = FileManager.default.contents(atPath: errPath) ?? Data()
        let lastLine = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard process.terminationStatus == 0,
              let obj = try? JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any] else {
            let why = String(decoding: stderrData, as: UTF8.self).split(separator: "\n").last.map(String.init)
                ?? "exit status \(process.terminationStatus)"
            return .failure(DinoSegError("\(why); \(setupHint)"))
        }
        return .success(PeerResult(peer: peer, fields: obj))
    }

    /// The backbone's peers at `threads` threads on `images` images of side `side`, each at its best batch (1 or
    /// `batch`) and memory format.
    package static func backbonePeers(config: ConvNeXtConfig, side: Int, threads: Int, images: Int, batch: Int) -> [Peer] {
        let common = ["--json", "--threads", "\(threads)", "--images", "\(images)", "--resolution", "\(side)",
                      "--hidden-sizes", config.hiddenSizes.map(String.init).joined(separator: ","),
                      "--depths", config.depths.map(String.init).joined(separator: ",")]
        return [
            Peer(name: "PyTorch eager fp32", script: "bench_torch_backbone.py",
                 arguments: common + ["--precision", "fp32", "--best", "--batch", "\(batch)"]),
            Peer(name: "PyTorch autocast bf16", script: "bench_torch_backbone.py",
                 arguments: common + ["--precision", "bf16", "--best", "--batch", "\(batch)"]),
            Peer(name: "OpenVINO default precision", script: "bench_peer_backbone.py",
                 arguments: common + ["--engine", "openvino", "--batch", "1"]),
            Peer(name: "OpenVINO default precision, batched", script: "bench_peer_backbone.py",
                 arguments: common + ["--engine", "openvino", "--batch", "\(batch)"]),
            Peer(name: "OpenVINO f32", script: "bench_peer_backbone.py",
                 arguments: common + ["--engine", "openvino", "--ov-precision", "f32", "--batch", "1"]),
            Peer(name: "ONNX Runtime fp32", script: "bench_peer_backbone.py",
                 arguments: common + ["--engine", "onnxruntime", "--batch", "1"]),
        ]
    }

    /// A training step's peers: PyTorch eager fp32 and with bf16 autocast, each in its faster memory format.
    package static func trainingPeers(script: String, arguments: [String]) -> [Peer] {
        [Peer(name: "PyTorch eager fp32", script: script, arguments: arguments + ["--precision", "fp32", "--best"]),
         Peer(name: "PyTorch autocast bf16", script: script, arguments: arguments + ["--precision", "bf16", "--best"])]
    }
}
