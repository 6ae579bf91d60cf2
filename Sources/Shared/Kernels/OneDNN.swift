// oneDNN's matmul, the engine of bf16 matrix multiplies (bf16 inputs, f32 accumulation and output). This is the only
// file that imports CDNNL, a small C shim that loads oneDNN 2.x at run time (libdnnl.so.2, Debian's libdnnl2), so a
// machine without it still runs fp32. oneDNN picks its kernels from CPUID (AVX512-BF16, AMX) when it loads.
import CDNNL
import Foundation

/// oneDNN as loaded: its version, file and the instruction set it chose.
public struct OneDNNInfo: Codable, Equatable, Sendable {
    public var version: String
    public var library: String
    public var isa: String
    public var summary: String { "oneDNN \(version) (\(library)), ISA \(isa)" }
}

public enum OneDNN {
    /// Whether this binary was built with oneDNN's headers.
    public static var built: Bool { dinoseg_dnnl_built() != 0 }

    /// The result of loading oneDNN once: its description, or why it is not usable ($DINOSEG_DNNL names another file).
    public static let loaded: Result<OneDNNInfo, DinoSegError> = {
        var error = [CChar](repeating: 0, count: 2048)
        guard dinoseg_dnnl_open(nil, &error, error.count) == 0, let d = dinoseg_dnnl_describe()?.pointee else {
            return .failure(DinoSegError(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        func text<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return .success(OneDNNInfo(version: "\(d.major).\(d.minor).\(d.patch)", library: text(d.path), isa: text(d.isa)))
    }()

    public static var info: OneDNNInfo? { try? loaded.get() }

    /// The implementation oneDNN ran for this thread's last matmul, e.g. "brg:avx512_core_bf16".
    public static var lastImplementation: String { String(cString: dinoseg_dnnl_last_impl()) }

    public enum InputType { case f32, bf16 }

    /// Row-major C[m, n] = alpha · op(A) · op(B) + beta · C on `threads` threads; A and B hold `type` values (bf16 as
    /// UInt16 bit patterns). oneDNN is loaded by then (the precision choice checked it); a refusal is a programming
    /// error and stops the process with its reason.
    static func gemm(type: InputType, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafeRawPointer, lda: Int, b: UnsafeRawPointer, ldb: Int, beta: Float,
                     c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        var error = [CChar](repeating: 0, count: 512)
        let rc = dinoseg_dnnl_gemm(type == .bf16 ? Int32(DINOSEG_DNNL_BF16) : Int32(DINOSEG_DNNL_F32),
                                   transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                                   b, Int32(ldb), beta, c, Int32(ldc), Int32(threads), &error, error.count)
        precondition(rc == 0, String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
