import XCTest
@testable import Shared

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
}
