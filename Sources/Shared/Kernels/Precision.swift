// The precision of the network's matrix multiplies (every convolution and linear layer goes through `matmul`), as
// PyTorch's CPU autocast treats them: inputs rounded to bf16, products accumulated and written in f32. Weights,
// gradients, momentum, normalisation, softmax, loss and reductions stay f32 whatever the precision.
import Foundation
import DinoSegCore

package enum Precision: String, Codable, CaseIterable, Sendable {
    case fp32, bf16
}

/// What a user asks for: a precision, or `auto` (bf16 where the CPU computes it natively, else fp32).
package enum PrecisionRequest: String, CaseIterable, Sendable {
    case fp32, bf16, auto
}

/// Who multiplies the matrices.
package enum MatmulEngine: String, Sendable {
    /// fp32: the BLAS's sgemm.
    case blas
    /// bf16: oneDNN's matmul with bf16 inputs and f32 accumulation, on the CPU's bf16 instructions.
    case oneDNNBF16
    /// bf16 arithmetic on any CPU, for tests and references: inputs rounded to bf16 (kept in f32), then the BLAS.
    /// Equal to `oneDNNBF16` up to the order of the f32 additions.
    case roundedBLAS

    package var precision: Precision { self == .blas ? .fp32 : .bf16 }
}

package enum PrecisionChoice {
    /// Why this machine cannot run bf16 natively (one line naming what is missing), or nil when it can.
    package static func bf16Unavailable(cpu: CPUFeatures, oneDNN: Result<OneDNNInfo, DinoSegError>) -> String? {
        if !cpu.isX86 {
            return "--precision bf16 needs native bf16 dot products (AVX512-BF16 or AMX-BF16 on x86-64); "
                + "this CPU (\(cpu.brand)) is not x86-64; use --precision fp32 or auto"
        }
        if !(cpu.avx512bf16 && cpu.hasAVX512Core) && !cpu.amx {
            let has = cpu.hasAVX512Core ? "AVX-512 without BF16" : (cpu.hasAVX2FMA ? "AVX2+FMA" : "neither AVX2 nor AVX-512")
            return "--precision bf16 needs native bf16 dot products; this CPU (\(cpu.brand)) lacks AVX512-BF16 and "
                + "AMX-BF16 (it has \(has)); use --precision fp32 or auto"
        }
        if case .failure(let why) = oneDNN {
            return "--precision bf16 needs oneDNN 2.x (Debian's libdnnl2, installed by `make deps`), which did not load: "
                + "\(why.message); use --precision fp32 or auto"
        }
        return nil
    }

    /// The precision a request resolves to on this machine; an impossible `bf16` throws the one-line reason.
    package static func resolve(_ request: PrecisionRequest, cpu: CPUFeatures = .host,
                               oneDNN: @autoclosure () -> Result<OneDNNInfo, DinoSegError> = OneDNN.loaded) throws -> Precision {
        switch request {
        case .fp32: return .fp32
        case .bf16:
            if let why = bf16Unavailable(cpu: cpu, oneDNN: oneDNN()) { throw DinoSegError(why) }
            return .bf16
        case .auto:
            return bf16Unavailable(cpu: cpu, oneDNN: oneDNN()) == nil ? .bf16 : .fp32
        }
    }

    /// The engine a resolved precision runs on.
    package static func engine(for precision: Precision) -> MatmulEngine {
        precision == .bf16 ? .oneDNNBF16 : .blas
    }

    /// One line for logs and benchmark headers: the precision and what computes it.
    package static func describe(_ engine: MatmulEngine) -> String {
        switch engine {
        case .blas: return "fp32 (BLAS sgemm)"
        case .oneDNNBF16: return "bf16 matmul inputs, f32 accumulation (\(OneDNN.info?.summary ?? "oneDNN"))"
        case .roundedBLAS: return "bf16 matmul inputs rounded explicitly, f32 accumulation (BLAS sgemm)"
        }
    }
}

/// The engine `matmul` uses; set once at a command's start (like the BLAS thread count) or around a body with
/// `withMatmulEngine`.
nonisolated(unsafe) private(set) var activeMatmulEngine: MatmulEngine = .blas

package var activePrecision: Precision { activeMatmulEngine.precision }
package var activeEngine: MatmulEngine { activeMatmulEngine }

/// Sets the engine for the rest of the process: only at the start of a command's `run()`.
package func setMatmulEngine(_ engine: MatmulEngine) { activeMatmulEngine = engine }

/// Runs `body` with `engine` and restores the previous one afterwards, also when `body` throws.
package func withMatmulEngine<R>(_ engine: MatmulEngine, _ body: () throws -> R) rethrows -> R {
    let saved = activeMatmulEngine
    activeMatmulEngine = engine
    defer { activeMatmulEngine = saved }
    return try body()
}

/// Runs `body` with matrix multiplies in `precision`: on the active engine when that already computes `precision`
/// (a test's emulated bf16), else on the native one. Callers resolve a user's request first (PrecisionChoice.resolve),
/// so native bf16 is available whenever it is asked for here.
package func withPrecision<R>(_ precision: Precision, _ body: () throws -> R) rethrows -> R {
    if activeMatmulEngine.precision == precision { return try body() }
    return try withMatmulEngine(PrecisionChoice.engine(for: precision), body)
}
