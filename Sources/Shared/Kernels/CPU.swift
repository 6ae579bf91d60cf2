// The CPU this process runs on, as CPUID reports it (features the OS has enabled). Used to pick kernel paths and
// the BLAS core at run time, and printed by the benchmarks and saved in run configs and cache manifests.
import CKernels
import Foundation

package struct CPUFeatures: Equatable, Sendable {
    package var isX86 = false
    package var vendor = ""
    package var brand = ""
    package var family = 0, model = 0, stepping = 0
    package var sse3 = false, ssse3 = false, sse41 = false, sse42 = false
    package var avx = false, fma = false, f16c = false, avx2 = false
    package var avx512f = false, avx512dq = false, avx512cd = false, avx512bw = false, avx512vl = false
    package var avx512vnni = false, avx512bf16 = false, avx512fp16 = false, amx = false

    package init() {}

    /// The features of the CPU running this process (read once).
    package static let host: CPUFeatures = {
        var raw = dinoseg_cpu_features()
        dinoseg_cpu_detect(&raw)
        var f = CPUFeatures()
        f.isX86 = raw.x86 != 0
        f.vendor = withUnsafeBytes(of: raw.vendor) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        f.brand = withUnsafeBytes(of: raw.brand) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            .trimmingCharacters(in: .whitespaces)
        if f.brand.isEmpty { f.brand = cpuinfoModelName() ?? "unknown CPU" }
        (f.family, f.model, f.stepping) = (Int(raw.family), Int(raw.model), Int(raw.stepping))
        (f.sse3, f.ssse3, f.sse41, f.sse42) = (raw.sse3 != 0, raw.ssse3 != 0, raw.sse41 != 0, raw.sse42 != 0)
        (f.avx, f.fma, f.f16c, f.avx2) = (raw.avx != 0, raw.fma != 0, raw.f16c != 0, raw.avx2 != 0)
        (f.avx512f, f.avx512dq, f.avx512cd) = (raw.avx512f != 0, raw.avx512dq != 0, raw.avx512cd != 0)
        (f.avx512bw, f.avx512vl, f.avx512vnni) = (raw.avx512bw != 0, raw.avx512vl != 0, raw.avx512vnni != 0)
        (f.avx512bf16, f.avx512fp16, f.amx) = (raw.avx512bf16 != 0, raw.avx512fp16 != 0, raw.amx != 0)
        return f
    }()

    /// AVX-512 foundation plus the subsets every AVX-512 kernel here may use (Skylake-SP and later, Zen 4 and later).
    package var hasAVX512Core: Bool { avx512f && avx512dq && avx512cd && avx512bw && avx512vl }
    package var hasAVX2FMA: Bool { avx2 && fma }

    /// One line for logs and benchmark headers, e.g. "AMD EPYC 9R14 (AuthenticAMD family 25 model 17; AVX-512, AVX2+FMA)".
    package var summary: String {
        guard isX86 else { return brand + " (non-x86)" }
        var isa: [String] = []
        if hasAVX512Core { isa.append(avx512bf16 ? "AVX-512+BF16" : "AVX-512") }
        if hasAVX2FMA { isa.append("AVX2+FMA") }
        if isa.isEmpty { isa.append(sse42 ? "SSE4.2" : "SSE2") }
        return "\(brand) (\(vendor) family \(family) model \(model); \(isa.joined(separator: ", ")))"
    }
}

/// Linux fallback for the model name when CPUID has no brand string (non-x86).
private func cpuinfoModelName() -> String? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") || line.hasPrefix("Model") {
        if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
    }
    return nil
}
