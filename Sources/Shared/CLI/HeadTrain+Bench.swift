import ArgumentParser
import Foundation
import DinoSegKernels
import DinoSegModels
import DinoSegBackbone
import DinoSegPipeline

/// `headtrain bench`: samples/s and GFLOP/s of a full training step on random tiny-backbone features, beside PyTorch.
package struct HeadTrainBench: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps (forward + backward + SGD) of a head on random features, beside PyTorch fp32 and bf16.")

    @OptionGroup package var variant: HeadVariantOptions
    @Option(help: "Batch size.") package var batch: Int = 32
    @Option(help: "Timed steps (after one warm-up step).") package var steps: Int = 3
    @Option(help: "Threads (BLAS and the head's own loops).") package var threads: Int = Parallel.defaultThreads
    @Flag(help: "One JSON object per line.") package var json = false
    @Flag(name: .customLong("im2col"), help: "3×3 convolutions by im2col + GEMM (the reference path) instead of Winograd.")
    package var im2col = false
    @Flag(name: .customLong("no-peers"), help: "Do not run the peers (PyTorch eager fp32 and autocast bf16; see scripts/setup_peers.sh).")
    package var noPeers = false
    @Flag(help: "Time the ResNet-50 PSPNet baseline's training step on images (output stride 8, --crop, --batch) instead of a head.")
    package var baseline = false
    @Option(help: "With --baseline: image crop.") package var crop: Int = 473
    @Option(name: .customLong("width-divisor"), help: "With --baseline: divide every width by this (1 = ResNet-50 PSPNet).")
    package var widthDivisor: Int = 1

    @OptionGroup var precisionOptions: PrecisionOptions
    package init() {}

    package func validate() throws {
        // At least 2: BatchNorm needs more than one value per channel.
        try FlagBounds.check(batch, in: FlagBounds.trainBatch, "--batch")
        try FlagBounds.check(steps, in: FlagBounds.benchSteps, "--steps")
        try FlagBounds.check(threads, in: FlagBounds.threads, "--threads")
        try FlagBounds.check(crop, in: FlagBounds.crop, "--crop")
        guard widthDivisor >= 1, 64 % widthDivisor == 0 else { throw ValidationError("--width-divisor must divide 64 (got \(widthDivisor))") }
    }

    package func run() throws {
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
        let peakMiB = peakMemoryMiB()
        if json {
            var obj: [String: Any] = [
                "impl": "swift", "conv3x3": im2col ? "im2col" : "winograd", "variant": head.variantName, "fpn_width": head.fpnWidth, "output_stride": head.outputStride,
                "fpn": head.useFPN, "ppm": head.context == .ppm, "context": head.context.rawValue, "batch": batch, "threads": threads, "steps": steps,
                "samples_per_second": r.samplesPerSecond, "gflops_per_second": r.gflopsPerSecond,
                "seconds_per_step": r.secondsPerStep, "gflop_per_step": r.gflopPerStep,
                "activation_bytes": r.activationBytes, "parameters": r.parameterCount, "kernel_path": KernelPath.best.name,
                "precision": activePrecision.rawValue, "peak_memory_mib": peakMiB,
            ]
            for (k, v) in MachineInfo.current.jsonFields { obj[k] = v }
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "activation memory: %.1f MiB (%.1f MiB per sample), parameters: %d",
                         Double(r.activationBytes) / 1_048_576, Double(r.activationBytes) / 1_048_576 / Double(batch), r.parameterCount))
            print(String(format: "DinoSeg %@: %.2f samples/s, %.1f GFLOP/s (%.1f GFLOP per step, %.2f s/step), peak memory %.0f MiB",
                         activePrecision.rawValue, r.samplesPerSecond, r.gflopsPerSecond, r.gflopPerStep, r.secondsPerStep, peakMiB))
        }
        guard !noPeers else { return }
        // scripts/bench_torch_head.py mirrors the FPN / PPM heads only.
        guard head.context != .aspp else { return print("peers: none for the ASPP head (the PyTorch bench mirrors FPN / PPM heads)") }
        var args = ["--fpn-width", "\(variant.fpnWidth)", "--output-stride", "\(variant.outputStride)",
                    "--batch", "\(batch)", "--steps", "\(steps)", "--threads", "\(threads)"]
        if !head.useFPN { args.append("--no-fpn") }
        if head.context == .none { args.append("--no-ppm") }
        printPeers(PeerBenchmark.trainingPeers(script: "bench_torch_head.py", arguments: args), ours: r.samplesPerSecond,
                   unit: "samples/s", rateKey: "samples_per_second", json: json,
                   extra: ["variant": head.variantName, "fpn_width": head.fpnWidth, "batch": batch, "threads": threads])
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
        let peakMiB = peakMemoryMiB()
        if json {
            var obj: [String: Any] = ["impl": "swift", "model": "pspnet-baseline", "crop": crop, "batch": batch, "threads": threads,
                                      "steps": steps, "output_stride": variant.outputStride, "width_divisor": widthDivisor,
                                      "samples_per_second": r.samplesPerSecond, "seconds_per_step": r.secondsPerStep,
                                      "activation_bytes": r.activationBytes, "parameters": r.parameterCount,
                                      "kernel_path": KernelPath.best.name, "precision": activePrecision.rawValue,
                                      "peak_memory_mib": peakMiB]
            for (k, v) in MachineInfo.current.jsonFields { obj[k] = v }
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "activation memory kept for backward: %.1f MiB (%.1f MiB per image), parameters: %d",
                         Double(r.activationBytes) / 1_048_576, Double(r.activationBytes) / 1_048_576 / Double(batch), r.parameterCount))
            print(String(format: "DinoSeg %@: %.3f images/s (%.2f s/step), peak memory %.0f MiB", activePrecision.rawValue,
                         r.samplesPerSecond, r.secondsPerStep, peakMiB))
        }
        guard !noPeers else { return }
        let args = ["--crop", "\(crop)", "--batch", "\(batch)", "--steps", "\(steps)", "--threads", "\(threads)",
                    "--output-stride", "\(variant.outputStride)", "--width-divisor", "\(widthDivisor)"]
        printPeers(PeerBenchmark.trainingPeers(script: "bench_torch_pspnet.py", arguments: args), ours: r.samplesPerSecond,
                   unit: "images/s", rateKey: "samples_per_second", json: json,
                   extra: ["model": "pspnet-baseline", "crop": crop, "batch": batch, "threads": threads])
    }
}
