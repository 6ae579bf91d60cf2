// Single-precision matrix multiply on raw row-major buffers, and the BLAS library behind it. This is the only file
// that imports CBLAS (a small C shim that loads the BLAS at run time; see BLASSetup.swift for which library and core).
//
//   C[m, n] = alpha * op(A)[m, k] · op(B)[k, n] + beta * C[m, n]
//   op(A) = A (stored [m, lda]) or Aᵀ (A stored [k, lda]); likewise B.
import CBLAS
import Foundation
import DinoSegCore

/// Runs `body` with the BLAS using `n` threads per call (workers that run one image per core use 1), and restores
/// the previous count afterwards, also when `body` throws.
package func withBLASThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
    let saved = blasThreads()
    setBLASThreads(n)
    defer { setBLASThreads(saved) }
    return try body()
}

/// Sets the BLAS thread count for the rest of the process: only at the start of a command's `run()`, where nothing
/// runs before or after that expects another count. Everywhere else use `withBLASThreads`.
package func setBLASThreads(_ n: Int) {
    dinoseg_blas_set_threads(Int32(max(1, n)))
}

/// The number of threads the BLAS uses for one call.
package func blasThreads() -> Int { Int(dinoseg_blas_get_threads()) }

/// The BLAS library in use, as it describes itself.
package struct BLASLibraryInfo: Equatable, Sendable {
    package enum Family: String, Sendable { case openBLAS = "OpenBLAS", blis = "BLIS", mkl = "MKL", other = "CBLAS" }
    package var family: Family
    /// The name or path handed to the loader, e.g. "libopenblas.so.0".
    package var requested: String
    /// The file the library was loaded from, symlinks resolved.
    package var path: String
    /// The library's own configuration/version string ("" when it has none).
    package var version: String
    /// OpenBLAS's kernel core (openblas_get_corename), nil for other libraries.
    package var core: String?
}

package enum BLASLibrary {
    /// Loads the BLAS: `path`, else $DINOSEG_BLAS, else libopenblas.so.0, then libblas.so.3. Must come before any BLAS
    /// call to have an effect (otherwise the first sgemm loads the default); later calls do nothing.
    package static func open(path: String? = nil) throws {
        var error = [CChar](repeating: 0, count: 2048)
        guard dinoseg_blas_open(path, &error, error.count) == 0 else {
            throw DinoSegError(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// What is loaded (loading the default first if nothing is yet).
    package static var info: BLASLibraryInfo {
        let d = dinoseg_blas_describe()!.pointee
        func text<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let family: BLASLibraryInfo.Family
        switch d.family {
        case DINOSEG_BLAS_OPENBLAS: family = .openBLAS
        case DINOSEG_BLAS_BLIS: family = .blis
        case DINOSEG_BLAS_MKL: family = .mkl
        default: family = .other
        }
        let core = text(d.core)
        return BLASLibraryInfo(family: family, requested: text(d.requested), path: text(d.path),
                               version: text(d.version).trimmingCharacters(in: .whitespaces), core: core.isEmpty ? nil : core)
    }
}

extension BLASLibrary {
    /// Until `disarmCrashGuard`, a SIGILL/SIGSEGV/SIGBUS/SIGFPE writes `message` and replaces the process with
    /// execve(path, argv, envp) (BLASSetup's restart with an older OpenBLAS core). The pointers must stay valid.
    static func armCrashGuard(message: UnsafePointer<CChar>, path: UnsafePointer<CChar>,
                              argv: UnsafePointer<UnsafeMutablePointer<CChar>?>,
                              envp: UnsafePointer<UnsafeMutablePointer<CChar>?>) {
        dinoseg_blas_guard_arm(message, path, argv, envp)
    }

    static func disarmCrashGuard() { dinoseg_blas_guard_disarm() }
}

@inline(__always)
package func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        // BLAS leaves C untouched for k == 0 only when beta == 1; make the beta scaling explicit.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
        return
    }
    dinoseg_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                  beta, c, Int32(ldc))
}

/// Naive reference for `sgemm`, accumulating in Double; used by the kernel tests.
package func sgemmNaive(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                       alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                       b: UnsafePointer<Float>, ldb: Int,
                       beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            c[i * ldc + j] = Float(Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])))
        }
    }
}
