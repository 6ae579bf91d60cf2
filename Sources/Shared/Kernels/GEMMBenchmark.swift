// `extract bench --gemm`: the GEMM rates on the shapes that matter, the ceilings the model's GEMM-bound layers can
// approach: the BLAS's sgemm, oneDNN's f32 matmul and oneDNN's matmul on bf16 inputs with f32 accumulation.
import Foundation
import DinoSegCore

/// Times one GEMM engine with a given number of threads.
package enum GEMMBenchmark {
    package enum Engine: String, CaseIterable, Sendable {
        case blasF32 = "sgemm (BLAS)"
        case oneDNNF32 = "oneDNN f32"
        case oneDNNBF16 = "oneDNN bf16→f32"
    }

    package struct Result {
        /// GFLOP per wall-clock second.
        package var gflops: Double
        /// GFLOP per CPU-second × threads: what `threads` uncontended cores give (the process's CPU time, so BLAS
        /// threads spinning while they wait count against it; on one thread it is the calling thread's time).
        package var cpuNormalisedGFLOPS: Double
    }

    /// C = A·B (row-major, m×k times k×n) on `engine` with `threads` threads, timed over at least `seconds` of wall
    /// time. bf16 inputs are converted once, before the timing: this is the arithmetic's ceiling.
    package static func run(m: Int, n: Int, k: Int, threads: Int, engine: Engine = .blasF32, seconds: Double = 0.5) -> Result {
        var rng = SplitMix64(seed: 11)
        let a = (0..<(m * k)).map { _ in Float(rng.normal()) }
        let b = (0..<(k * n)).map { _ in Float(rng.normal()) }
        let a16 = UnsafeMutablePointer<UInt16>.allocate(capacity: a.count), b16 = UnsafeMutablePointer<UInt16>.allocate(capacity: b.count)
        defer { a16.deallocate(); b16.deallocate() }
        convertToBF16(a, count: a.count, into: a16)
        convertToBF16(b, count: b.count, into: b16)
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
                    let call: () -> Void
                    switch engine {
                    case .blasF32: call = { sgemm(m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: n, c: pc, ldc: n) }
                    case .oneDNNF32:
                        call = { OneDNN.gemm(type: .f32, transA: false, transB: false, m: m, n: n, k: k, a: pa, lda: k,
                                             b: pb, ldb: n, c: pc, ldc: n, threads: threads) }
                    case .oneDNNBF16:
                        call = { OneDNN.gemm(type: .bf16, transA: false, transB: false, m: m, n: n, k: k, a: a16, lda: k,
                                             b: b16, ldb: n, c: pc, ldc: n, threads: threads) }
                    }
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
