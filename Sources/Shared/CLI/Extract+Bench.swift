import ArgumentParser
import Foundation

/// `extract bench`: throughput of the backbone at 224×224 (one image per worker thread, single-threaded BLAS),
/// optionally beside PyTorch's figure for the same architecture; with --gemm, the machine's sgemm ceiling instead.
public struct ExtractBench: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure backbone throughput (images/s, ms/image, GFLOP/s) at 224×224, beside PyTorch when available.")

    public enum Size: String, ExpressibleByArgument, CaseIterable { case tiny, small, base, large }

    @Option(help: "Weights: directory with config.json + model.safetensors, or a .safetensors file (default: random weights of --size).")
    var weights: String?
    @Option(help: "Model size for random weights: tiny, small, base, large.")
    var size: Size = .tiny
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
    @Flag(help: "Do not run the PyTorch comparison.")
    var noTorch = false
    @Flag(help: "Also time each operation (single thread, thread CPU time) and print the breakdown.")
    var profile = false
    @Flag(help: "Measure the BLAS sgemm ceiling instead (2048³ and the backbone's 3136×384×96, 1 thread and --threads).")
    var gemm = false

    public init() {}

    public func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard images >= 1 else { throw ValidationError("--images must be at least 1") }
        guard resolution >= 32 else { throw ValidationError("--resolution must be at least 32") }
    }

    public func run() throws {
        printMachine(json: json)
        if gemm { return runGEMM() }
        let backbone: ConvNeXtBackbone
        if let w = weights {
            backbone = try ConvNeXtBackbone(weightsPath: w)
        } else {
            let config = ConvNeXtConfig.named.first { $0.0 == size.rawValue }!.1
            backbone = ConvNeXtBackbone(weights: .random(config: config, seed: 2025))
        }
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
        let line = result.jsonLine(engine: "swift", model: backbone.name, kernelPath: KernelPath.best.name)
        if json { print(line) } else { print(result.text(engine: "DinoSeg (Swift)", model: backbone.name)) }
        guard !noTorch else { return }
        switch TorchBenchmark.run(config: backbone.config, side: resolution, threads: threads, images: images) {
        case .success(let torch):
            if json {
                print(torch.jsonLine(engine: "torch", model: backbone.name, extra: ["ratio_swift_over_torch": result.imagesPerSecond / torch.imagesPerSecond]))
            } else {
                print(torch.text(engine: "PyTorch (eager fp32)", model: backbone.name))
                print(String(format: "ratio Swift / PyTorch: %.2fx", result.imagesPerSecond / torch.imagesPerSecond))
            }
        case .failure(let reason):
            if json {
                print(#"{"engine":"torch","available":false,"reason":\#(jsonString(reason.message))}"#)
            } else {
                print("PyTorch comparison unavailable: \(reason.message)")
            }
        }
    }
}

extension ExtractBench {
    func runGEMM() {
        let shapes = [(2048, 2048, 2048), (3136, 384, 96)]
        for (m, n, k) in shapes {
            for t in Set([1, threads]).sorted() {
                let runs = (0..<repeats).map { _ in GEMMBenchmark.run(m: m, n: n, k: k, threads: t) }
                let wall = runs.map(\.gflops).max()!, cpu = runs.map(\.cpuNormalisedGFLOPS).max()!
                if json {
                    print("{\"engine\":\"sgemm\",\"m\":\(m),\"n\":\(n),\"k\":\(k),\"threads\":\(t),"
                          + "\"gflops_per_second\":\(String(format: "%.1f", wall)),"
                          + "\"cpu_normalised_gflops_per_second\":\(String(format: "%.1f", cpu))}")
                } else {
                    print(String(format: "sgemm %d×%d×%d, %d thread%@: %.1f GFLOP/s, CPU-normalised %.1f (best of %d; wall: %@)",
                                 m, n, k, t, t == 1 ? "" : "s", wall, cpu, repeats,
                                 runs.map { String(format: "%.1f", $0.gflops) }.joined(separator: " ")))
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
        machine.lines.forEach { print($0) }
    }
}

/// The BLAS sgemm rate on the shapes that matter: the ceiling the model's GEMM-bound layers can approach.
public enum GEMMBenchmark {
    public struct Result {
        /// GFLOP per wall-clock second.
        public var gflops: Double
        /// GFLOP per CPU-second × threads: what `threads` uncontended cores give (the process's CPU time, so BLAS
        /// threads spinning while they wait count against it; on one thread it is the calling thread's time).
        public var cpuNormalisedGFLOPS: Double
    }

    /// C = A·B (row-major, m×k times k×n) with `threads` BLAS threads, timed over at least `seconds` of wall time.
    public static func run(m: Int, n: Int, k: Int, threads: Int, seconds: Double = 0.5) -> Result {
        var rng = SplitMix64(seed: 11)
        let a = (0..<(m * k)).map { _ in Float(rng.normal()) }
        let b = (0..<(k * n)).map { _ in Float(rng.normal()) }
        var c = [Float](repeating: 0, count: m * n)
        func cpuNanoseconds() -> UInt64 {
            var ts = timespec()
            clock_gettime(threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }
        return withBLASThreads(threads) { a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    let (pa, pb, pc) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
                    let call = { sgemm(m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: n, c: pc, ldc: n) }
                    call()  // warm-up (thread start, page faults)
                    var calls = 0
                    let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuNanoseconds()
                    var elapsed = 0.0
                    while elapsed < seconds {
                        call()
                        calls += 1
                        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    }
                    let cpu = max(1e-9, Double(cpuNanoseconds() - cpuStart) / 1e9)
                    let gflop = 2 * Double(m) * Double(n) * Double(k) * Double(calls) / 1e9
                    return Result(gflops: gflop / elapsed, cpuNormalisedGFLOPS: gflop / cpu * Double(threads))
                }
            }
        } }
    }
}

/// One benchmark measurement.
public struct BenchResult {
    public var images: Int
    public var seconds: Double
    /// Total CPU time of the worker threads (nil when unknown): with a shared, busy machine, images per CPU-second per
    /// worker shows what the workers achieve while they actually run.
    public var cpuSeconds: Double? = nil
    public var batch: Int = 1
    public var cpuNormalisedImagesPerSecond: Double? { cpuSeconds.map { Double(images) * Double(threads) / $0 } }
    public var threads: Int
    public var side: Int
    public var gflopPerImage: Double
    public var peakMemoryMiB: Double?

    public var imagesPerSecond: Double { Double(images) / seconds }
    public var msPerImage: Double { 1000 * seconds / Double(images) }
    public var gflopsPerSecond: Double { gflopPerImage * imagesPerSecond }

    func jsonLine(engine: String, model: String, kernelPath: String? = nil, extra: [String: Double] = [:]) -> String {
        var fields: [(String, String)] = [
            ("engine", jsonString(engine)), ("model", jsonString(model)), ("resolution", "\(side)"),
            ("images", "\(images)"), ("threads", "\(threads)"), ("batch", "\(batch)"),
            ("images_per_second", String(format: "%.3f", imagesPerSecond)), ("ms_per_image", String(format: "%.2f", msPerImage)),
            ("gflop_per_image", String(format: "%.3f", gflopPerImage)), ("gflops_per_second", String(format: "%.1f", gflopsPerSecond)),
        ]
        if let kernelPath { fields.append(("kernel_path", jsonString(kernelPath))) }
        if let m = peakMemoryMiB { fields.append(("peak_memory_mib", String(format: "%.1f", m))) }
        if let c = cpuNormalisedImagesPerSecond { fields.append(("cpu_normalised_images_per_second", String(format: "%.3f", c))) }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { fields.append((k, String(format: "%.3f", v))) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    func text(engine: String, model: String) -> String {
        var s = String(format: "%@ %@ %dx%d: %.2f images/s, %.1f ms/image (per image, wall / images), %.1f GFLOP/s (%.2f GFLOP/image), %d threads, batch %d",
                       engine, model, side, side, imagesPerSecond, msPerImage, gflopsPerSecond, gflopPerImage, threads, batch)
        if let m = peakMemoryMiB { s += String(format: ", peak memory %.0f MiB", m) }
        if let c = cpuNormalisedImagesPerSecond {
            s += String(format: "\n  CPU-normalised: %.2f images/s (images × threads / worker CPU time; what %d uncontended core(s) would give)", c, threads)
        }
        return s
    }
}

func jsonString(_ s: String) -> String {
    let data = try? JSONSerialization.data(withJSONObject: [s], options: [])
    return data.flatMap { String(data: $0, encoding: .utf8) }.map { String($0.dropFirst().dropLast()) } ?? "\"\""
}

/// Peak resident set size of this process (getrusage; Linux reports KiB).
public func peakMemoryMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

public enum BackboneBenchmark {
    /// Single-threaded pass over `images` images with per-operation CPU times (after one warm-up).
    public static func profile(backbone: ConvNeXtBackbone, side: Int, batch: Int, calls: Int) -> OpProfile {
        var rng = SplitMix64(seed: 7)
        let input = (0..<(side * side * 3)).map { _ in Float(rng.normal()) }
        let last = backbone.config.stageCount - 1
        let p = OpProfile()
        withBLASThreads(1) { input.withUnsafeBufferPointer { inp in
            let images = [UnsafePointer<Float>](repeating: inp.baseAddress!, count: batch)
            backbone.run(images: images, height: side, width: side, through: last) { _, _, _, _, _, _ in }
            for _ in 0..<calls { backbone.run(images: images, height: side, width: side, through: last, profile: p) { _, _, _, _, _, _ in } }
        } }
        return p
    }

    /// Runs `images` forward passes on `threads` workers (each one image at a time, BLAS single-threaded),
    /// after one warm-up pass per worker.
    public static func run(backbone: ConvNeXtBackbone, side: Int, threads: Int, batch: Int, images: Int) -> BenchResult {
        withBLASThreads(1) { measure(backbone: backbone, side: side, threads: threads, batch: batch, images: images) }
    }

    private static func measure(backbone: ConvNeXtBackbone, side: Int, threads: Int, batch: Int, images: Int) -> BenchResult {
        var rng = SplitMix64(seed: 7)
        var input = [Float](repeating: 0, count: side * side * 3)
        for i in input.indices { input[i] = Float(rng.normal()) }
        let lastStage = backbone.config.stageCount - 1
        let calls = (images + batch - 1) / batch
        input.withUnsafeBufferPointer { inp in
            let batchImages = [UnsafePointer<Float>](repeating: inp.baseAddress!, count: batch)
            runOnThreads(threads) {
                backbone.run(images: batchImages, height: side, width: side, through: lastStage) { _, _, _, _, _, _ in }
            }
        }
        let counter = WorkCounter()
        let cpu = CPUTimeTotal()
        let start = DispatchTime.now().uptimeNanoseconds
        input.withUnsafeBufferPointer { inp in
            let batchImages = [UnsafePointer<Float>](repeating: inp.baseAddress!, count: batch)
            runOnThreads(threads) {
                let t0 = OpProfile.threadCPUTime()
                while counter.next() < calls {
                    backbone.run(images: batchImages, height: side, width: side, through: lastStage) { _, _, _, _, _, _ in }
                }
                cpu.add(OpProfile.threadCPUTime() - t0)
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return BenchResult(images: calls * batch, seconds: seconds, cpuSeconds: cpu.seconds, batch: batch, threads: threads, side: side,
                           gflopPerImage: backbone.config.flops(height: side, width: side) / 1e9, peakMemoryMiB: peakMemoryMiB())
    }
}

/// Runs `body` on exactly `count` dedicated threads (GCD would cap the width at the core count, and the benchmark
/// must report the threads it really used) and waits for all of them.
func runOnThreads(_ count: Int, _ body: @escaping () -> Void) {
    let group = DispatchGroup()
    for _ in 0..<count {
        group.enter()
        let t = Thread { body(); group.leave() }
        t.stackSize = 8 << 20
        t.start()
    }
    group.wait()
}

/// Sum of the workers' thread CPU times.
final class CPUTimeTotal: @unchecked Sendable {
    private var ns: UInt64 = 0
    private let lock = NSLock()
    func add(_ v: UInt64) { lock.lock(); ns += v; lock.unlock() }
    var seconds: Double { lock.lock(); defer { lock.unlock() }; return Double(ns) / 1e9 }
}

/// A shared counter handing out work items to threads.
final class WorkCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
}

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
