// `extract bench`: backbone throughput with one image (or batch) per worker thread and single-threaded BLAS, the
// measurement it reports (text and JSON lines), and a per-operation profile.
import Foundation
import DinoSegCore
import DinoSegKernels

/// Times the backbone forward pass.
package enum BackboneBenchmark {
    /// Single-threaded pass over `images` images with per-operation CPU times (after one warm-up).
    package static func profile(backbone: ConvNeXtBackbone, side: Int, batch: Int, calls: Int) -> OpProfile {
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
    package static func run(backbone: ConvNeXtBackbone, side: Int, threads: Int, batch: Int, images: Int) -> BenchResult {
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

/// One benchmark measurement.
package struct BenchResult {
    package var images: Int
    package var seconds: Double
    /// Total CPU time of the worker threads (nil when unknown): with a shared, busy machine, images per CPU-second per
    /// worker shows what the workers achieve while they actually run.
    package var cpuSeconds: Double? = nil
    package var batch: Int = 1
    package var cpuNormalisedImagesPerSecond: Double? { cpuSeconds.map { Double(images) * Double(threads) / $0 } }
    package var threads: Int
    package var side: Int
    package var gflopPerImage: Double
    package var peakMemoryMiB: Double?

    package var imagesPerSecond: Double { Double(images) / seconds }
    package var msPerImage: Double { 1000 * seconds / Double(images) }
    package var gflopsPerSecond: Double { gflopPerImage * imagesPerSecond }

    package func jsonLine(engine: String, model: String, kernelPath: String? = nil, precision: String? = nil,
                  extra: [String: Double] = [:]) -> String {
        var fields: [(String, String)] = [
            ("engine", jsonString(engine)), ("model", jsonString(model)), ("resolution", "\(side)"),
            ("images", "\(images)"), ("threads", "\(threads)"), ("batch", "\(batch)"),
            ("images_per_second", String(format: "%.3f", imagesPerSecond)), ("ms_per_image", String(format: "%.2f", msPerImage)),
            ("gflop_per_image", String(format: "%.3f", gflopPerImage)), ("gflops_per_second", String(format: "%.1f", gflopsPerSecond)),
        ]
        if let kernelPath { fields.append(("kernel_path", jsonString(kernelPath))) }
        if let precision { fields.append(("precision", jsonString(precision))) }
        if let m = peakMemoryMiB { fields.append(("peak_memory_mib", String(format: "%.1f", m))) }
        if let c = cpuNormalisedImagesPerSecond { fields.append(("cpu_normalised_images_per_second", String(format: "%.3f", c))) }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { fields.append((k, String(format: "%.3f", v))) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    package func text(engine: String, model: String) -> String {
        var s = String(format: "%@ %@ %dx%d: %.2f images/s, %.1f ms/image (per image, wall / images), %.1f GFLOP/s (%.2f GFLOP/image), %d threads, batch %d",
                       engine, model, side, side, imagesPerSecond, msPerImage, gflopsPerSecond, gflopPerImage, threads, batch)
        if let m = peakMemoryMiB { s += String(format: ", peak memory %.0f MiB", m) }
        if let c = cpuNormalisedImagesPerSecond {
            s += String(format: "\n  CPU-normalised: %.2f images/s (images × threads / worker CPU time; what %d uncontended core(s) would give)", c, threads)
        }
        return s
    }
}

package func jsonString(_ s: String) -> String {
    let data = try? JSONSerialization.data(withJSONObject: [s], options: [])
    return data.flatMap { String(data: $0, encoding: .utf8) }.map { String($0.dropFirst().dropLast()) } ?? "\"\""
}

/// Peak resident set size of this process (getrusage; Linux reports KiB).
package func peakMemoryMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Sum of the workers' thread CPU times.
final class CPUTimeTotal: @unchecked Sendable {
    private var ns: UInt64 = 0
    private let lock = NSLock()
    func add(_ v: UInt64) { lock.lock(); ns += v; lock.unlock() }
    var seconds: Double { lock.lock(); defer { lock.unlock() }; return Double(ns) / 1e9 }
}
