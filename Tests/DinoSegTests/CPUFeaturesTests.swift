import XCTest
@testable import DinoSegKernels

/// CPUID detection agrees with what the Linux kernel reports in /proc/cpuinfo (the kernel also masks features the
/// OS does not enable, so the two must match exactly for the flags both know).
final class CPUFeaturesTests: XCTestCase {
    func testDetectionMatchesProcCpuinfo() throws {
        let host = CPUFeatures.host
        #if arch(x86_64)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            throw XCTSkip("no /proc/cpuinfo on this system")
        }
        let lines = text.split(separator: "\n")
        let flagsLine = try XCTUnwrap(lines.first { $0.hasPrefix("flags") }, "/proc/cpuinfo has no flags line")
        let flags = Set(flagsLine.split(separator: ":")[1].split(separator: " ").map(String.init))
        let vendor = lines.first { $0.hasPrefix("vendor_id") }.map { $0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(host.isX86)
        XCTAssertEqual(host.vendor, vendor, "vendor")
        let pairs: [(String, Bool)] = [("avx", host.avx), ("fma", host.fma), ("avx2", host.avx2), ("f16c", host.f16c),
                                       ("avx512f", host.avx512f), ("avx512dq", host.avx512dq), ("avx512bw", host.avx512bw),
                                       ("avx512vl", host.avx512vl), ("avx512cd", host.avx512cd),
                                       ("avx512_bf16", host.avx512bf16), ("avx512_vnni", host.avx512vnni)]
        let mismatches = pairs.filter { flags.contains($0.0) != $0.1 }.map { "\($0.0): cpuinfo \(flags.contains($0.0)), CPUID \($0.1)" }
        XCTAssertTrue(mismatches.isEmpty, "CPUID disagrees with /proc/cpuinfo: \(mismatches.joined(separator: "; "))")
        XCTAssertFalse(host.summary.isEmpty)
        #else
        XCTAssertFalse(host.isX86)
        #endif
    }

    /// The kernel path follows the CPU's features; DINOSEG_KERNELS picks another one only when the CPU can run it.
    func testKernelPathChoice() {
        var avx2 = CPUFeatures()
        (avx2.isX86, avx2.avx, avx2.fma, avx2.avx2) = (true, true, true, true)
        var avx512 = avx2
        (avx512.avx512f, avx512.avx512dq, avx512.avx512cd, avx512.avx512bw, avx512.avx512vl) = (true, true, true, true, true)
        let old = CPUFeatures()  // no AVX at all, or not x86
        #if arch(x86_64)
        XCTAssertEqual(KernelPath.choose(request: nil, cpu: avx512).0, .avx512)
        XCTAssertEqual(KernelPath.choose(request: nil, cpu: avx2).0, .avx2)
        XCTAssertEqual(KernelPath.choose(request: "generic", cpu: avx512).0, .generic)
        XCTAssertEqual(KernelPath.choose(request: "AVX2", cpu: avx512).0, .avx2)
        let refused = KernelPath.choose(request: "avx512", cpu: avx2)
        XCTAssertEqual(refused.0, .avx2)
        XCTAssertEqual(refused.warning, "DINOSEG_KERNELS=avx512: this CPU or build cannot run it; using avx2")
        XCTAssertNotNil(KernelPath.choose(request: "sse9", cpu: avx2).warning)
        XCTAssertEqual(KernelPath.supported, KernelPath.allCases.filter { $0.runs(on: .host) })
        XCTAssertEqual(KernelPath.supported.contains(.avx512), CPUFeatures.host.hasAVX512Core)
        #endif
        XCTAssertEqual(KernelPath.choose(request: nil, cpu: old).0, .generic)
        XCTAssertEqual(KernelPath.supported.first, .generic)
        XCTAssertTrue(KernelPath.supported.contains(KernelPath.best))
    }
}
