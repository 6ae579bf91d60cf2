import XCTest
@testable import DinoSegKernels
@testable import DinoSegCache

/// The choice of OpenBLAS kernel core (CPU features + the core OpenBLAS reports → the core to use), the record of the
/// BLAS in manifests, and the executables' one-time re-execution (with a stand-in OpenBLAS that misdetects the CPU).
final class BLASSetupTests: XCTestCase {
    static func cpu(_ vendor: String, family: Int, model: Int, avx2: Bool = true, avx512: Bool = false, bf16: Bool = false,
                    fp16: Bool = false) -> CPUFeatures {
        var f = CPUFeatures()
        f.isX86 = true
        f.vendor = vendor
        (f.family, f.model) = (family, model)
        (f.sse3, f.ssse3, f.sse41, f.sse42) = (true, true, true, true)
        (f.avx, f.fma, f.f16c, f.avx2) = (avx2, avx2, avx2, avx2)
        (f.avx512f, f.avx512dq, f.avx512cd, f.avx512bw, f.avx512vl, f.avx512vnni) = (avx512, avx512, avx512, avx512, avx512, avx512)
        (f.avx512bf16, f.avx512fp16, f.amx) = (bf16, fp16, fp16)
        return f
    }

    static let emeraldRapids = cpu("GenuineIntel", family: 6, model: 207, avx512: true, bf16: true, fp16: true)
    static let sapphireRapids = cpu("GenuineIntel", family: 6, model: 143, avx512: true, bf16: true, fp16: true)
    static let zen4 = cpu("AuthenticAMD", family: 25, model: 17, avx512: true, bf16: true)
    static let zen3 = cpu("AuthenticAMD", family: 25, model: 1)
    static let skylakeX = cpu("GenuineIntel", family: 6, model: 85, avx512: true)
    static let haswell = cpu("GenuineIntel", family: 6, model: 63)
    static let noAVX: CPUFeatures = {
        var f = cpu("GenuineIntel", family: 6, model: 26, avx2: false)  // Nehalem: SSE4.2, no AVX
        f.avx = false
        return f
    }()
    static let arm: CPUFeatures = { var f = CPUFeatures(); f.brand = "Neoverse-N1"; return f }()

    func testCoreChoiceTable() {
        let cases: [(String, CPUFeatures, String, String?)] = [
            ("Emerald Rapids, 0.3.21 falls back", Self.emeraldRapids, "Prescott", "Cooperlake"),
            ("Emerald Rapids, AVX2 core", Self.emeraldRapids, "Haswell", "Cooperlake"),
            ("Emerald Rapids, SkylakeX", Self.emeraldRapids, "SkylakeX", "Cooperlake"),
            ("Emerald Rapids, Cooperlake kept", Self.emeraldRapids, "Cooperlake", nil),
            ("Emerald Rapids, newer OpenBLAS", Self.emeraldRapids, "SapphireRapids", nil),
            ("Emerald Rapids, a core this table does not know", Self.emeraldRapids, "GraniteRapids", nil),
            ("Sapphire Rapids detected", Self.sapphireRapids, "SapphireRapids", nil),
            ("Sapphire Rapids as Cooperlake", Self.sapphireRapids, "Cooperlake", nil),
            ("Sapphire Rapids misdetected", Self.sapphireRapids, "Prescott", "Cooperlake"),
            ("Zen 4 as Cooperlake", Self.zen4, "Cooperlake", nil),
            ("Zen 4 as Zen (older OpenBLAS)", Self.zen4, "Zen", "Cooperlake"),
            ("Zen 4 misdetected", Self.zen4, "Prescott", "Cooperlake"),
            ("Zen 3 as Zen", Self.zen3, "Zen", nil),
            ("Zen 3 as Haswell", Self.zen3, "Haswell", nil),
            ("Zen 3 misdetected", Self.zen3, "Prescott", "Haswell"),
            ("Zen 3 as Sandybridge", Self.zen3, "Sandybridge", "Haswell"),
            ("Skylake-X detected", Self.skylakeX, "SkylakeX", nil),
            ("Skylake-X as Haswell", Self.skylakeX, "Haswell", "SkylakeX"),
            ("Skylake-X, Cooperlake is never downgraded", Self.skylakeX, "Cooperlake", nil),
            ("Haswell detected", Self.haswell, "Haswell", nil),
            ("Haswell misdetected", Self.haswell, "Prescott", "Haswell"),
            ("Haswell as Nehalem", Self.haswell, "Nehalem", "Haswell"),
            ("case-insensitive", Self.haswell, "PRESCOTT", "Haswell"),
            ("no AVX: Prescott is right", Self.noAVX, "Prescott", nil),
            ("no AVX: Nehalem is right", Self.noAVX, "Nehalem", nil),
            ("arm64", Self.arm, "NEOVERSEN1", nil),
        ]
        let wrong = cases.compactMap { name, cpu, reported, expected -> String? in
            let got = OpenBLASCore.choose(cpu: cpu, reported: reported)
            return got == expected ? nil : "\(name): \(reported) → \(got ?? "keep"), expected \(expected ?? "keep")"
        }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) of \(cases.count) core choices wrong: " + wrong.joined(separator: "; "))
    }

    func testCorrectionOnlyForDynamicOpenBLASWithoutUserChoice() {
        let prescott = BLASLibraryInfo(family: .openBLAS, requested: "libopenblas.so.0", path: "/x/libopenblas.so.0",
                                       version: "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64",
                                       core: "Prescott")
        let er = Self.emeraldRapids
        XCTAssertEqual(BLASSetup.correction(cpu: er, library: prescott, userCoreType: nil), "Cooperlake")
        XCTAssertEqual(BLASSetup.correction(cpu: er, library: prescott, userCoreType: ""), "Cooperlake")
        XCTAssertNil(BLASSetup.correction(cpu: er, library: prescott, userCoreType: "Prescott"), "the user's OPENBLAS_CORETYPE wins")
        var fixed = prescott
        fixed.version = "OpenBLAS 0.3.21 NO_AFFINITY PRESCOTT MAX_THREADS=64"
        XCTAssertNil(BLASSetup.correction(cpu: er, library: fixed, userCoreType: nil), "a single-core build ignores OPENBLAS_CORETYPE")
        let blis = BLASLibraryInfo(family: .blis, requested: "libblis.so.4", path: "/x/libblis.so.4", version: "BLIS 0.9.0", core: nil)
        XCTAssertNil(BLASSetup.correction(cpu: er, library: blis, userCoreType: nil))
    }

    /// A user's OPENBLAS_CORETYPE below the CPU's kernels is kept but named (seen on an AMD Zen 5 machine whose
    /// environment set OPENBLAS_CORETYPE=Haswell: sgemm ran at half the Cooperlake kernels' rate).
    func testWeakUserCoreIsKeptButNamed() {
        let haswell = BLASLibraryInfo(family: .openBLAS, requested: "libopenblas.so.0", path: "/x/libopenblas.so.0",
                                      version: "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64",
                                      core: "Haswell")
        let zen5 = Self.cpu("AuthenticAMD", family: 26, model: 2, avx512: true, bf16: true)
        XCTAssertNil(BLASSetup.correction(cpu: zen5, library: haswell, userCoreType: "Haswell"), "the user's setting is kept")
        let note = BLASSetup.userCoreNote(cpu: zen5, library: haswell, userCoreType: "Haswell")
        XCTAssertEqual(note, "note: OPENBLAS_CORETYPE=Haswell holds OpenBLAS to its Haswell kernels, but this CPU runs its "
                       + "Cooperlake ones (compare `OPENBLAS_CORETYPE=Cooperlake extract bench --gemm`); unset "
                       + "OPENBLAS_CORETYPE to let DinoSeg choose")
        XCTAssertNil(BLASSetup.userCoreNote(cpu: Self.zen3, library: haswell, userCoreType: "Haswell"), "Haswell is the best Zen 3 runs")
        XCTAssertNil(BLASSetup.userCoreNote(cpu: zen5, library: haswell, userCoreType: nil), "no user setting: DinoSeg corrects instead")
        var cooperlake = haswell
        cooperlake.core = "Cooperlake"
        XCTAssertNil(BLASSetup.userCoreNote(cpu: zen5, library: cooperlake, userCoreType: "Cooperlake"))
    }

    func testLoadedLibraryDescribesItself() {
        let info = BLASLibrary.info
        XCTAssertFalse(info.path.isEmpty, "no library path")
        XCTAssertTrue(FileManager.default.fileExists(atPath: info.path), "\(info.path) does not exist")
        if info.family == .openBLAS {
            XCTAssertNotNil(info.core, "OpenBLAS without a core name")
            XCTAssertTrue(info.version.hasPrefix("OpenBLAS"), info.version)
            if let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], OpenBLASCore.rank[forced.lowercased()] != nil {
                XCTAssertEqual(info.core?.lowercased(), forced.lowercased(), "OpenBLAS ignored OPENBLAS_CORETYPE")
                XCTAssertEqual(BLASSetup.current.coreChosenBy, "OPENBLAS_CORETYPE")
            }
        }
        let saved = blasThreads()
        setBLASThreads(1)
        XCTAssertEqual(blasThreads(), 1)
        setBLASThreads(saved)
        XCTAssertEqual(blasThreads(), saved)
    }

    func testManifestMachinesAreOptionalAndInformational() throws {
        // A manifest written before machines were recorded still loads.
        let config = CacheConfig(kind: .train, backbone: CacheBackboneInfo(name: "t", hiddenSizes: [8], depths: [1], stageStrides: [4], weightsSHA256: "ab"),
                                 stages: [0], dtype: .f16, augmentation: "a", seed: 1, views: 1, dataRoot: "/d", listFile: "/l",
                                 imageCount: 1, shardSize: 1, skipBad: false)
        let old = CacheManifest(config: config, imageIDs: ["x"], shards: [], plannedShards: 1, skipped: [])
        let text = String(decoding: try CacheManifest.encode(old), as: UTF8.self)
        XCTAssertFalse(text.contains("machines"), "an unset machine list is written")
        XCTAssertNil(try JSONDecoder().decode(CacheManifest.self, from: Data(text.utf8)).machines)

        // Another machine is appended with a note; the same machine is not repeated.
        let here = MachineInfo.current
        var elsewhere = here
        elsewhere.cpu = "Intel Xeon (GenuineIntel family 6 model 207; AVX-512+BF16, AVX2+FMA)"
        elsewhere.blas.core = "Prescott"
        var notes: [String] = []
        let merged = CacheDirectory.mergeMachines(old: [elsewhere], new: [here]) { notes.append($0) }
        XCTAssertEqual(merged, [elsewhere, here])
        XCTAssertEqual(notes.count, 1, "\(notes)")
        XCTAssertTrue(notes.first?.contains("model 207") ?? false, "\(notes)")
        notes = []
        XCTAssertEqual(CacheDirectory.mergeMachines(old: merged, new: [here]) { notes.append($0) }, merged)
        XCTAssertEqual(CacheDirectory.mergeMachines(old: nil, new: [here]) { notes.append($0) }, [here])
        XCTAssertTrue(notes.isEmpty, "\(notes)")

        let roundTrip = try JSONDecoder().decode(MachineInfo.self, from: try JSONEncoder().encode(here))
        XCTAssertEqual(roundTrip, here)
    }

    // MARK: - the executables

    /// The built `extract` beside the test bundle (skips when it was not built).
    func extractExecutable() throws -> String {
        let bundle = Bundle(for: Self.self).bundleURL  // Linux: the products directory; macOS: the .xctest inside it
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("extract").path }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("extract is not built beside the tests (\(candidates[0]))")
        }
        return path
    }

    func run(_ exe: String, _ args: [String], env: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        e.removeValue(forKey: "OPENBLAS_CORETYPE")
        e.removeValue(forKey: "DINOSEG_BLAS")
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: r, as: UTF8.self))
    }

    func testBadBLASPathIsOneLineError() throws {
        let exe = try extractExecutable()
        let r = try run(exe, ["bench", "--help"], env: ["DINOSEG_BLAS": "/nonexistent/libblas.so"])
        XCTAssertEqual(r.status, 1)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("error: DINOSEG_BLAS: /nonexistent/libblas.so"), r.stderr)
    }

    /// A stand-in OpenBLAS (built with the system C compiler) that reports Prescott unless OPENBLAS_CORETYPE says
    /// otherwise, as 0.3.21 does on a CPU it does not know: the executable must restart once with the best core, and
    /// record the correction; a user's OPENBLAS_CORETYPE must be left alone.
    func testMisdetectedCoreIsCorrectedByOneReexecution() throws {
        let exe = try extractExecutable()
        guard let best = OpenBLASCore.best(for: .host) else { throw XCTSkip("this CPU has no AVX: nothing to correct") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fakeblas-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        static char core[64];
        __attribute__((constructor)) static void init(void) {
            const char *e = getenv("OPENBLAS_CORETYPE");
            snprintf(core, sizeof core, "%s", e && *e ? e : "Prescott");
            fprintf(stderr, "fake openblas: core %s, pid %d\\n", core, (int)getpid());
        }
        char *openblas_get_corename(void) { return core; }
        char *openblas_get_config(void) { return "FakeOpenBLAS DYNAMIC_ARCH"; }
        void cblas_sgemm(void) {}
        """
        try source.write(toFile: dir + "/fake.c", atomically: true, encoding: .utf8)
        let cc = try run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-o", dir + "/libfake.so", dir + "/fake.c"], env: [:])
        guard cc.status == 0 else { throw XCTSkip("no C compiler to build the stand-in BLAS: \(cc.stderr)") }

        let r = try run(exe, ["bench", "--gemm", "--json", "--repeat", "1", "--threads", "1"], env: ["DINOSEG_BLAS": dir + "/libfake.so"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let loads = r.stderr.split(separator: "\n").filter { $0.hasPrefix("fake openblas") }
        XCTAssertEqual(loads.count, 2, "expected one load before and one after the restart: \(r.stderr)")
        XCTAssertEqual(Set(loads.map { $0.split(separator: " ").last! }).count, 1, "the restart changed the process: \(loads)")
        XCTAssertTrue(loads.last?.contains("core \(best.core)") ?? false, "\(loads)")
        let first = try XCTUnwrap(r.stdout.split(separator: "\n").first, "no output")
        let machine = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        XCTAssertEqual(machine["blas_core"] as? String, best.core, "\(machine)")
        XCTAssertEqual(machine["blas_corrected_from"] as? String, "Prescott", "\(machine)")
        XCTAssertEqual(machine["blas_core_chosen_by"] as? String, "DinoSeg", "\(machine)")

        let user = try run(exe, ["bench", "--gemm", "--json", "--repeat", "1", "--threads", "1"],
                           env: ["DINOSEG_BLAS": dir + "/libfake.so", "OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(user.status, 0, user.stderr)
        XCTAssertEqual(user.stderr.split(separator: "\n").filter { $0.hasPrefix("fake openblas") }.count, 1, user.stderr)
        let userMachine = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(user.stdout.split(separator: "\n").first!.utf8)) as? [String: Any])
        XCTAssertEqual(userMachine["blas_core"] as? String, "Prescott")
        XCTAssertEqual(userMachine["blas_core_chosen_by"] as? String, "OPENBLAS_CORETYPE")
    }
}
