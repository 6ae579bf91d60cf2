import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegBackbone

/// `extract bench`: throughput of the backbone at 224×224 (one image per worker thread, single-threaded BLAS),
/// beside its peers' figures for the same architecture; with --gemm, the machine's GEMM ceilings instead.
package struct ExtractBench: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure backbone throughput (images/s, ms/image, GFLOP/s) at 224×224, beside the installed peers.")

    @Option(help: "Weights: directory with config.json + model.safetensors, or a .safetensors file (default: random weights of --size).")
    var weights: String?
    @Option(help: "Model size for random weights: \(ConvNeXtSize.choices).")
    var size: ConvNeXtSize = .tiny
    @Option(help: "Worker threads, one image each (default: all cores).")
    var threads: Int = Parallel.defaultThreads
    @Option(help: "Timed images (after one warm-up image per thread).")
    var images: Int = 40
    @Option(help: "Images per forward call in each worker (more rows per weight load in the late stages).")
    var batch: Int = 4
    @Option(name: .customLong("repeat"), help: "Timed repetitions; the best is reported (the machine may be shared).")
    var repeats: Int = 3
    @Option(help: "Input side length.")
    var resolution: Int = 224
    @Flag(help: "Print one JSON object per line instead of text.")
    var json = false
    @Flag(help: "Do not run the peers (PyTorch fp32 and bf16, OpenVINO, ONNX Runtime; see scripts/setup_peers.sh).")
    var noPeers = false
    @Flag(help: "Also time each operation (single thread, thread CPU time) and print the breakdown.")
    var profile = false
    @Flag(help: "Measure the GEMM ceilings instead: BLAS sgemm, oneDNN f32 and bf16 (2048³ and two backbone shapes, 1 thread and --threads).")
    var gemm = false

    @OptionGroup var precisionOptions: PrecisionOptions
    package init() {}

    package func validate() throws {
        try FlagBounds.check(threads, in: FlagBounds.threads, "--threads")
        try FlagBounds.check(batch, in: FlagBounds.backboneBatch, "--batch")
        try FlagBounds.check(repeats, in: FlagBounds.benchRepeats, "--repeat")
        try FlagBounds.check(images, in: FlagBounds.benchImages, "--images")
        try FlagBounds.check(resolution, in: FlagBounds.imageSide, "--resolution")
    }

    package func run() throws {
        try precisionOptions.activate()
        printMachine(json: json)
        if gemm { return runGEMM() }
        let backbone = try benchedBackbone()
        if !json { print("cpu: \(CPUFeatures.host.summary); kernel path: \(KernelPath.best.name)") }
        if profile {
            let calls = max(1, images / threads / batch)
            let p = BackboneBenchmark.profile(backbone: backbone, side: resolution, batch: batch, calls: calls)
            let total = Double(p.total)
            for op in p.order {
                let ns = Double(p.nanoseconds[op]!)
                let ms = ns / 1e6 / Double(calls * batch)
                if json { print("{\"op\":\(jsonString(op)),\"ms_per_image\":\(String(format: "%.2f", ms)),\"share\":\(String(format: "%.4f", ns / total))}") }
                else { print(String(format: "  %@ %7.2f ms/image  %5.1f%%", op.padding(toLength: 34, withPad: " ", startingAt: 0), ms, 100 * ns / total)) }
            }
            if !json { print(String(format: "  %@ %7.2f ms/image (single thread, thread CPU time, batch %d)", "total".padding(toLength: 34, withPad: " ", startingAt: 0), total / 1e6 / Double(calls * batch), batch)) }
        }
        let runs = (0..<repeats).map { _ in
            BackboneBenchmark.run(backbone: backbone, side: resolution, threads: threads, batch: batch, images: images)
        }
        let result = runs.max { $0.imagesPerSecond < $1.imagesPerSecond }!
        if !json && repeats > 1 {
            print("runs (images/s): " + runs.map { String(format: "%.2f", $0.imagesPerSecond) }.joined(separator: " ") + "; best:")
        }
        let line = result.jsonLine(engine: "swift", model: backbone.name, kernelPath: KernelPath.best.name,
                                   precision: activePrecision.rawValue)
        if json { print(line) } else { print(result.text(engine: "DinoSeg (\(activePrecision))", model: backbone.name)) }
        guard !noPeers else { return }
        printPeers(PeerBenchmark.backbonePeers(config: backbone.config, side: resolution, threads: threads, images: images,
                                               batch: batch),
                   ours: result.imagesPerSecond, unit: "images/s", rateKey: "images_per_second", json: json,
                   extra: ["model": backbone.name, "resolution": resolution, "threads": threads])
    }
}

extension ExtractBench {
    /// The backbone timed: --weights through the loader, else random weights of --size. The timing and the peers
    /// follow ConvNeXt's stages and FLOP count, so another family is refused.
    func benchedBackbone() throws -> ConvNeXtBackbone {
        guard let w = weights else { return ConvNeXtBackbone(weights: .random(config: size.config, seed: 2025)) }
        guard let backbone = try BackboneLoader.load(w) as? ConvNeXtBackbone else {
            throw DinoSegError(file: w, "extract bench times ConvNeXt backbones only")
        }
        return backbone
    }

    /// Each GEMM engine this machine has (oneDNN's only when it loaded; bf16 only with native bf16) on each shape.
    func runGEMM() {
        let shapes = [(2048, 2048, 2048), (3136, 384, 96), (784, 1536, 384)]
        let engines = GEMMBenchmark.Engine.allCases.filter { e in
            switch e {
            case .blasF32: return true
            case .oneDNNF32: return OneDNN.info != nil
            case .oneDNNBF16: return PrecisionChoice.bf16Unavailable(cpu: .host, oneDNN: OneDNN.loaded) == nil
            }
        }
        for (m, n, k) in shapes {
            for t in Set([1, threads]).sorted() {
                for engine in engines {
                    let runs = (0..<repeats).map { _ in GEMMBenchmark.run(m: m, n: n, k: k, threads: t, engine: engine) }
                    let wall = runs.map(\.gflops).max()!, cpu = runs.map(\.cpuNormalisedGFLOPS).max()!
                    if json {
                        print("{\"engine\":\(jsonString(engine.rawValue)),\"m\":\(m),\"n\":\(n),\"k\":\(k),\"threads\":\(t),"
                              + "\"gflops_per_second\":\(String(format: "%.1f", wall)),"
                              + "\"cpu_normalised_gflops_per_second\":\(String(format: "%.1f", cpu))}")
                    } else {
                        print(String(format: "%@ %d×%d×%d, %d thread%@: %.1f GFLOP/s, CPU-normalised %.1f (best of %d; wall: %@)",
                                     engine.rawValue, m, n, k, t, t == 1 ? "" : "s", wall, cpu, repeats,
                                     runs.map { String(format: "%.1f", $0.gflops) }.joined(separator: " ")))
                    }
                }
            }
        }
    }
}

/// Prints the CPU and the BLAS (library, version, kernel core and who chose it) ahead of a benchmark.
func printMachine(json: Bool) {
    let machine = MachineInfo.current
    if json {
        var obj: [String: Any] = ["engine": "machine"]
        for (k, v) in machine.jsonFields { obj[k] = v }
        if let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) { print(String(decoding: data, as: UTF8.self)) }
    } else {
        MachineInfo.currentLines.forEach { print($0) }
    }
}
