import ArgumentParser
import Foundation

/// `headtrain bench`: samples/s and GFLOP/s of a full training step on random tiny-backbone features, beside PyTorch.
public struct HeadTrainBench: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps (forward + backward + SGD) of a head on random features, beside PyTorch eager.")

    @OptionGroup public var variant: HeadVariantOptions
    @Option(help: "Batch size.") public var batch: Int = 32
    @Option(help: "Timed steps (after one warm-up step).") public var steps: Int = 3
    @Option(help: "Threads (BLAS and the head's own loops).") public var threads: Int = Parallel.defaultThreads
    @Flag(help: "One JSON object per line.") public var json = false
    @Flag(name: .customLong("im2col"), help: "3×3 convolutions by im2col + GEMM (the reference path) instead of Winograd.")
    public var im2col = false
    @Flag(name: .customLong("no-torch"), help: "Do not run the PyTorch comparison.") public var noTorch = false
    @Option(name: .customLong("torch-script"), help: "The PyTorch benchmark script (default scripts/bench_torch_head.py, with --baseline scripts/bench_torch_pspnet.py).")
    public var torchScript: String?
    @Flag(help: "Time the ResNet-50 PSPNet baseline's training step on images (output stride 8, --crop, --batch) instead of a head.")
    public var baseline = false
    @Option(help: "With --baseline: image crop.") public var crop: Int = 473
    @Option(name: .customLong("width-divisor"), help: "With --baseline: divide every width by this (1 = ResNet-50 PSPNet).")
    public var widthDivisor: Int = 1

    @OptionGroup var precisionOptions: PrecisionOptions
    public init() {}

    public func validate() throws {
        guard batch >= 2 else { throw ValidationError("--batch must be at least 2 (BatchNorm needs more than one value per channel)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    public func run() throws {
        try precisionOptions.activate()
        if baseline { return try runBaseline() }
        let head = variant.headConfig(stageChannels: [96, 192, 384, 768])
        try head.validate()
        var cfg = HeadBenchConfig(head: head, batch: batch, steps: steps, threads: threads)
        cfg.useWinograd = !im2col
        if !json {
            MachineInfo.currentLines.forEach { print($0) }
            print("bench: \(head.variantName), batch \(batch), \(threads) threads, \(steps) timed steps, tiny-backbone features 56/28/14/7, 3×3 convolutions by \(im2col ? "im2col + GEMM" : "Winograd F(2×2,3×3)")")
            print("cpu: \(CPUFeatures.host.summary); kernel path: \(KernelPath.best.name)")
        }
        let r = try HeadBench.run(cfg)
        var torchRate: Double?
        if !noTorch { torchRate = try runTorch() }
        if json {
            var obj: [String: Any] = [
                "impl": "swift", "conv3x3": im2col ? "im2col" : "winograd", "variant": head.variantName, "fpn_width": head.fpnWidth, "output_stride": head.outputStride,
                "fpn": head.useFPN, "ppm": head.usePPM, "batch": batch, "threads": threads, "steps": steps,
                "samples_per_second": r.samplesPerSecond, "gflops_per_second": r.gflopsPerSecond,
                "seconds_per_step": r.secondsPerStep, "gflop_per_step": r.gflopPerStep,
                "activation_bytes": r.activationBytes, "parameters": r.parameterCount, "kernel_path": KernelPath.best.name,
            ]
            if let torchRate { obj["torch_samples_per_second"] = torchRate; obj["ratio_vs_torch"] = r.samplesPerSecond / torchRate }
            for (k, v) in MachineInfo.current.jsonFields { obj[k] = v }
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "activation memory: %.1f MiB (%.1f MiB per sample), parameters: %d",
                         Double(r.activationBytes) / 1_048_576, Double(r.activationBytes) / 1_048_576 / Double(batch), r.parameterCount))
            print(String(format: "swift:   %.2f samples/s, %.1f GFLOP/s (%.1f GFLOP per step, %.2f s/step)",
                         r.samplesPerSecond, r.gflopsPerSecond, r.gflopPerStep, r.secondsPerStep))
            if let torchRate {
                print(String(format: "pytorch: %.2f samples/s  →  swift/pytorch = %.2f×", torchRate, r.samplesPerSecond / torchRate))
            }
        }
    }

    /// `--baseline`: the PSPNet's training step (forward with aux, loss, backward, SGD) beside PyTorch eager.
    func runBaseline() throws {
        guard variant.outputStride == 8 else { throw ValidationError("--baseline times the output-stride-8 PSPNet (--output-stride 8)") }
        guard crop >= 32, widthDivisor >= 1, 64 % widthDivisor == 0 else { throw ValidationError("--baseline needs --crop ≥ 32 and a --width-divisor dividing 64") }
        let config = PSPNetConfig.reduced(divisor: widthDivisor, blocks: [3, 4, 6, 3], outputStride: variant.outputStride)
        if !json {
            MachineInfo.currentLines.forEach { print($0) }
            print("bench: baseline \(config.summary), crop \(crop), batch \(batch), \(threads) threads, \(steps) timed steps")
            print("cpu: \(CPUFeatures.host.summary); kernel path: \(KernelPath.best.name)")
        }
        let r = try BaselineBench.run(config: config, crop: crop, batch: batch, steps: steps, threads: threads)
        var torchRate: Double?
        if !noTorch {
            torchRate = try runTorch(script: torchScript ?? "scripts/bench_torch_pspnet.py",
                                     args: ["--crop", "\(crop)", "--batch", "\(batch)", "--steps", "\(steps)", "--threads", "\(threads)",
                                            "--output-stride", "\(variant.outputStride)", "--width-divisor", "\(widthDivisor)"])
        }
        if json {
            var obj: [String: Any] = ["impl": "swift", "model": "pspnet-baseline", "crop": crop, "batch": batch, "threads": threads,
                                      "steps": steps, "output_stride": variant.outputStride, "width_divisor": widthDivisor,
                                      "samples_per_second": r.samplesPerSecond, "seconds_per_step": r.secondsPerStep,
                                      "activation_bytes": r.activationBytes, "parameters": r.parameterCount,
                                      "kernel_path": KernelPath.best.name]
            if let torchRate { obj["torch_samples_per_second"] = torchRate; obj["ratio_vs_torch"] = r.samplesPerSecond / torchRate }
            for (k, v) in MachineInfo.current.jsonFields { obj[k] = v }
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "activation memory kept for backward: %.1f MiB (%.1f MiB per image), parameters: %d",
                         Double(r.activationBytes) / 1_048_576, Double(r.activationBytes) / 1_048_576 / Double(batch), r.parameterCount))
            print(String(format: "swift:   %.3f images/s (%.2f s/step)", r.samplesPerSecond, r.secondsPerStep))
            if let torchRate {
                print(String(format: "pytorch: %.3f images/s  →  swift/pytorch = %.2f×", torchRate, r.samplesPerSecond / torchRate))
            }
        }
    }

    /// Runs the head's PyTorch script; nil (with a note) when python3/torch or the script is not available.
    func runTorch() throws -> Double? {
        var args = ["--fpn-width", "\(variant.fpnWidth)", "--output-stride", "\(variant.outputStride)",
                    "--batch", "\(batch)", "--steps", "\(steps)", "--threads", "\(threads)"]
        if variant.noFPN { args.append("--no-fpn") }
        if variant.noPPM { args.append("--no-ppm") }
        return try runTorch(script: torchScript ?? "scripts/bench_torch_head.py", args: args)
    }

    func runTorch(script torchScript: String, args scriptArgs: [String]) throws -> Double? {
        guard FileManager.default.fileExists(atPath: torchScript) else {
            if !json { print("pytorch: skipped (\(torchScript) not found; run from the repository root)") }
            return nil
        }
        let args = [torchScript] + scriptArgs
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch {
            if !json { print("pytorch: skipped (cannot run python3)") }
            return nil
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let rate = obj["samples_per_second"] as? Double else {
            if !json { print("pytorch: skipped (torch not importable or the script failed)") }
            return nil
        }
        return rate
    }
}
