// Which build of the vectorised C kernels (Sources/CKernels) runs. All three are compiled into every x86-64 binary
// (each function carries its own `target` attribute) and one is chosen at run time from CPUID, so one binary uses
// AVX-512 where the CPU has it and AVX2 + FMA elsewhere. Non-x86 builds have only `generic`.
// DINOSEG_KERNELS=generic|avx2|avx512 forces a path (for debugging and comparisons); benchmarks print `best.name`.
import CKernels
import Foundation

package enum KernelPath: Int32, CaseIterable, Sendable, CustomStringConvertible {
    /// Portable C with 4-lane vectors (SSE2 on x86-64, NEON on arm64).
    case generic = 0
    /// 8-lane AVX2 with fused multiply-add.
    case avx2 = 1
    /// 16-lane AVX-512 (F, BW, DQ, VL) with fused multiply-add.
    case avx512 = 2

    package var name: String {
        switch self {
        case .generic: return "generic"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }
    package var description: String { name }

    /// True when this build contains the path and `cpu` can execute it.
    package func runs(on cpu: CPUFeatures) -> Bool {
        guard dinoseg_paths_compiled() & (1 << rawValue) != 0 else { return false }
        switch self {
        case .generic: return true
        case .avx2: return cpu.isX86 && cpu.hasAVX2FMA
        case .avx512: return cpu.isX86 && cpu.hasAVX512Core && cpu.fma
        }
    }

    /// The paths the CPU running this process can execute, slowest first.
    package static let supported: [KernelPath] = allCases.filter { $0.runs(on: .host) }

    /// The path every kernel uses unless told otherwise: the fastest supported one, or DINOSEG_KERNELS.
    package static let best: KernelPath = {
        let (path, warning) = choose(request: ProcessInfo.processInfo.environment["DINOSEG_KERNELS"], cpu: .host)
        if let warning { FileHandle.standardError.write(Data((warning + "\n").utf8)) }
        return path
    }()

    /// The path for a DINOSEG_KERNELS value (nil or empty: the fastest `cpu` runs), with a warning when the request
    /// cannot be honoured.
    package static func choose(request: String?, cpu: CPUFeatures) -> (KernelPath, warning: String?) {
        let fastest = allCases.last { $0.runs(on: cpu) } ?? .generic
        guard let request, !request.isEmpty else { return (fastest, nil) }
        guard let asked = allCases.first(where: { $0.name == request.lowercased() }) else {
            return (fastest, "DINOSEG_KERNELS=\(request) is not one of generic, avx2, avx512; using \(fastest.name)")
        }
        guard asked.runs(on: cpu) else {
            return (fastest, "DINOSEG_KERNELS=\(request): this CPU or build cannot run it; using \(fastest.name)")
        }
        return (asked, nil)
    }
}
