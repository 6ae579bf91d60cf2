// The PyTorch side of `extract bench`: the same ConvNeXt architecture in eager PyTorch, timed by
// scripts/bench_torch_backbone.py, for a ratio beside DinoSeg's own figure.
import Foundation

/// Runs scripts/bench_torch_backbone.py (plain-torch ConvNeXt, random weights) through python3, when available.
public enum TorchBenchmark {
    public static let hint = "install PyTorch (pip install torch) and run from the project directory, or run `python3 scripts/bench_torch_backbone.py --threads N` yourself"

    static func scriptPath() -> String? {
        var candidates = [FileManager.default.currentDirectoryPath + "/scripts/bench_torch_backbone.py"]
        var exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(exe.appendingPathComponent("scripts/bench_torch_backbone.py").path)
            exe = exe.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    public static func run(config: ConvNeXtConfig, side: Int, threads: Int, images: Int) -> Result<BenchResult, DinoSegError> {
        guard let script = scriptPath() else { return .failure(DinoSegError("scripts/bench_torch_backbone.py not found; \(hint)")) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--json", "--threads", "\(threads)", "--images", "\(images)", "--resolution", "\(side)",
                             "--hidden-sizes", config.hiddenSizes.map(String.init).joined(separator: ","),
                             "--depths", config.depths.map(String.init).joined(separator: ",")]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return .failure(DinoSegError("cannot start python3 (\(error.localizedDescription)); \(hint)")) }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lastLine = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard process.terminationStatus == 0,
              let obj = try? JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any],
              let ips = (obj["images_per_second"] as? NSNumber)?.doubleValue, ips > 0 else {
            let why = String(decoding: stderr, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "exit status \(process.terminationStatus)"
            return .failure(DinoSegError("python3 with torch did not run (\(why)); \(hint)"))
        }
        let n = (obj["images"] as? Int) ?? images
        return .success(BenchResult(images: n, seconds: Double(n) / ips, cpuSeconds: (obj["cpu_seconds"] as? NSNumber)?.doubleValue, batch: (obj["batch"] as? Int) ?? 1,
                                    threads: (obj["threads"] as? Int) ?? threads, side: side,
                                    gflopPerImage: config.flops(height: side, width: side) / 1e9,
                                    peakMemoryMiB: (obj["peak_memory_mib"] as? NSNumber)?.doubleValue))
    }
}
