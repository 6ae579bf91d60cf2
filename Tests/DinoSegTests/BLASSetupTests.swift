import XCTest
@testable import DinoSegCore
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

    /// Per CPU: the cores OpenBLAS may report that are corrected (and to which core), and those kept as they are. Kept
    /// are a newer or equal core the CPU can run (Cooperlake is never downgraded; a core the table does not know, such
    /// as GraniteRapids, is left alone), the right one for a CPU without AVX, and any core on arm64; corrected are older
    /// ones (OpenBLAS 0.3.21 falls back to Prescott on Emerald Rapids), compared case-insensitively.
    func testCoreChoiceTable() {
        let table: [(cpu: String, features: CPUFeatures, corrected: [String], to: String?, kept: [String])] = [
            ("Emerald Rapids", Self.emeraldRapids, ["Prescott", "Haswell", "SkylakeX"], "Cooperlake",
             ["Cooperlake", "SapphireRapids", "GraniteRapids"]),
            ("Sapphire Rapids", Self.sapphireRapids, ["Prescott"], "Cooperlake", ["SapphireRapids", "Cooperlake"]),
            ("Zen 4", Self.zen4, ["Zen", "Prescott"], "Cooperlake", ["Cooperlake"]),
            ("Zen 3", Self.zen3, ["Prescott", "Sandybridge"], "Haswell", ["Zen", "Haswell"]),
            ("Skylake-X", Self.skylakeX, ["Haswell"], "SkylakeX", ["SkylakeX", "Cooperlake"]),
            ("Haswell", Self.haswell, ["Prescott", "Nehalem", "PRESCOTT"], "Haswell", ["Haswell"]),
            ("no AVX", Self.noAVX, [], nil, ["Prescott", "Nehalem"]),
            ("arm64", Self.arm, [], nil, ["NEOVERSEN1"]),
        ]
        let cases = table.flatMap { row in
            row.corrected.map { (row.cpu, row.features, $0, row.to) } + row.kept.map { (row.cpu, row.features, $0, String?.none) }
        }
        let wrong = cases.compactMap { name, cpu, reported, expected -> String? in
            let got = OpenBLASCore.choose(cpu: cpu, reported: reported)
            return got == expected ? nil : "\(name): \(reported) → \(got ?? "keep"), expected \(expected ?? "keep")"
        }
        XCTAssertEqual(cases.count, 26, "cases in the table")
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

    /// The test's environment without a BLAS choice of its own, plus `overrides`.
    func blasEnvironment(_ overrides: [String: String]) -> [String: String] {
        var e = ProcessInfo.processInfo.environment
        e.removeValue(forKey: "OPENBLAS_CORETYPE")
        e.removeValue(forKey: "DINOSEG_BLAS")
        return e.merging(overrides) { $1 }
    }

    func testBadBLASPathIsOneLineError() throws {
        let exe = try extractExecutable()
        let r = try runProcess(exe, ["bench", "--help"], environment: blasEnvironment(["DINOSEG_BLAS": "/nonexistent/libblas.so"]))
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
        let dir = try makeFakeOpenBLAS()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runProcess(exe, ["bench", "--gemm", "--json", "--repeat", "1", "--threads", "1"],
                               environment: blasEnvironment(["DINOSEG_BLAS": dir + "/libfake.so"]))
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

        let user = try runProcess(exe, ["bench", "--gemm", "--json", "--repeat", "1", "--threads", "1"],
                              environment: blasEnvironment(["DINOSEG_BLAS": dir + "/libfake.so", "OPENBLAS_CORETYPE": "Prescott"]))
        XCTAssertEqual(user.status, 0, user.stderr)
        XCTAssertEqual(user.stderr.split(separator: "\n").filter { $0.hasPrefix("fake openblas") }.count, 1, user.stderr)
        let userMachine = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(user.stdout.split(separator: "\n").first!.utf8)) as? [String: Any])
        XCTAssertEqual(userMachine["blas_core"] as? String, "Prescott")
        XCTAssertEqual(userMachine["blas_core_chosen_by"] as? String, "OPENBLAS_CORETYPE")
    }

    /// Builds the stand-in OpenBLAS into a new temporary directory (remove it after use) and returns the directory:
    /// it reports Prescott unless OPENBLAS_CORETYPE says otherwise, as 0.3.21 does on a CPU it does not know, and
    /// multiplies naively up to 2²² multiply-adds (enough for the start-up check; larger benchmark calls do nothing).
    /// With FAKE_WRONG_CORE=X its core X adds 1 to C[0,0]; with FAKE_CRASH_CORE=X core X raises SIGILL.
    func makeFakeOpenBLAS() throws -> String {
        let dir = try makeTempDir("fakeblas")
        let source = """
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        static char core[64];
        __attribute__((constructor)) static void init(void) {
            const char *e = getenv("OPENBLAS_CORETYPE");
            snprintf(core, sizeof core, "%s", e && *e ? e : "Prescott");
            fprintf(stderr, "fake openblas: core %s, pid %d\\n", core, (int)getpid());
        }
        static int is(const char *variable) { const char *v = getenv(variable); return v && strcmp(v, core) == 0; }
        char *openblas_get_corename(void) { return core; }
        char *openblas_get_config(void) { return "FakeOpenBLAS DYNAMIC_ARCH"; }
        void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc) {
            if (is("FAKE_CRASH_CORE")) raise(SIGILL);
            if ((long)m * n * k > (1L << 22)) return;
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(ta == 112 ? a[p * lda + i] : a[i * lda + p]) * (tb == 112 ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : (double)beta * c[i * ldc + j]));
            }
            if (is("FAKE_WRONG_CORE")) c[0] += 1;
        }
        """
        try source.write(toFile: dir + "/fake.c", atomically: true, encoding: .utf8)
        let cc = try runProcess("/usr/bin/env", ["cc", "-shared", "-fPIC", "-O1", "-o", dir + "/libfake.so", dir + "/fake.c"])
        guard cc.status == 0 else {
            try? FileManager.default.removeItem(atPath: dir)
            throw XCTSkip("no C compiler to build the stand-in BLAS: \(cc.stderr)")
        }
        return dir
    }

    /// The start-up check end to end with the stand-in: its corrected core computes wrong (or crashes), so the
    /// executable restarts once more with the next older core, says so, and records the failed core.
    func testFailedSelfCheckFallsBackToAnOlderCore() throws {
        let exe = try extractExecutable()
        guard let best = OpenBLASCore.best(for: .host), let older = OpenBLASCore.fallback(after: best.core, cpu: .host) else {
            throw XCTSkip("this CPU has no AVX: no core to fall back from")
        }
        let dir = try makeFakeOpenBLAS()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for fault in ["FAKE_WRONG_CORE", "FAKE_CRASH_CORE"] {
            let r = try runProcess(exe, ["bench", "--gemm", "--json", "--repeat", "1", "--threads", "1"],
                               environment: blasEnvironment(["DINOSEG_BLAS": dir + "/libfake.so", fault: best.core]))
            XCTAssertEqual(r.status, 0, "\(fault): \(r.stderr)")
            let cores = r.stderr.split(separator: "\n").filter { $0.hasPrefix("fake openblas") }.map { $0.split(separator: " ")[3] }
            XCTAssertEqual(cores, ["Prescott,", "\(best.core),", "\(older),"], "\(fault): \(r.stderr)")
            let what = fault == "FAKE_CRASH_CORE" ? "crashed"
                : "sgemm 1×1×1 A·B, alpha 1.0, beta 0.0: C[0,0] is \(fakeFirstProduct + 1) instead of \(fakeFirstProduct)"
            XCTAssertTrue(r.stderr.contains("note: OpenBLAS's \(best.core) kernels failed DinoSeg's sgemm check on this CPU "
                                            + "(\(what)); DinoSeg restarts with its \(older) kernels"), "\(fault): \(r.stderr)")
            let machine = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").first!.utf8)) as? [String: Any])
            XCTAssertEqual(machine["blas_core"] as? String, older, "\(fault): \(machine)")
            XCTAssertEqual(machine["blas_failed_self_check"] as? [String], [best.core], "\(fault): \(machine)")
            XCTAssertEqual(machine["blas_core_chosen_by"] as? String, "DinoSeg", "\(fault): \(machine)")
        }

        // The user's own core computes wrong and it is the oldest: one error line, exit 1.
        let stop = try runProcess(exe, ["bench", "--gemm", "--json", "--repeat", "1", "--threads", "1"],
                              environment: blasEnvironment(["DINOSEG_BLAS": dir + "/libfake.so", "OPENBLAS_CORETYPE": "Prescott", "FAKE_WRONG_CORE": "Prescott"]))
        XCTAssertEqual(stop.status, 1, stop.stderr)
        let errors = stop.stderr.split(separator: "\n").filter { !$0.hasPrefix("fake openblas") }
        XCTAssertEqual(errors, ["error: the BLAS \(dir)/libfake.so, core Prescott (OPENBLAS_CORETYPE=Prescott) failed DinoSeg's "
                                + "sgemm check on this CPU (sgemm 1×1×1 A·B, alpha 1.0, beta 0.0: C[0,0] is \(fakeFirstProduct + 1) "
                                + "instead of \(fakeFirstProduct)); choose another with DINOSEG_BLAS=/path/to/lib.so (a newer OpenBLAS, BLIS)"])
    }

    /// C[0,0] of the check's first shape (1×1×1, seed 0x5E1F_C4EC): the product of its first two draws.
    var fakeFirstProduct: Float {
        var rng = SplitMix64(seed: 0x5E1F_C4EC)
        let a = BLASSelfCheck.matrix(rows: 1, cols: 1, ld: 1, padding: .nan, &rng)
        let b = BLASSelfCheck.matrix(rows: 1, cols: 1, ld: 1, padding: .nan, &rng)
        return a[0] * b[0]
    }

    // MARK: - the sgemm self-check

    func testSelfCheckPassesOnThisMachine() {
        let start = Date()
        XCTAssertNil(BLASSelfCheck.run(), "\(BLASLibrary.info.version), core \(BLASLibrary.info.core ?? "-")")
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 2, "the start-up check took \(seconds) s")
    }

    /// A faulty multiply stands in for a bad kernel: each fault is named by the first shape and element it spoils.
    func testSelfCheckNamesTheWrongShapeAndElement() {
        let right: SgemmCall = { sgemmNaive(transA: $0, transB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7,
                                            b: $8, ldb: $9, beta: $10, c: $11, ldc: $12) }
        let ignoresBeta: SgemmCall = { right($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $11, $12) }
        let dropsOddLastColumn: SgemmCall = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
            let saved = (0..<m).map { c[$0 * ldc + n - 1] }
            right(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            if n % 2 == 1 && n > 1 { for i in 0..<m { c[i * ldc + n - 1] = beta == 0 ? 0 : saved[i] } }
        }
        let writesPadding: SgemmCall = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
            right(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            if ldc > n { c[n] = 0 }
        }
        XCTAssertNil(BLASSelfCheck.run(right))
        let faults: [(String, SgemmCall)] = [("ignores beta", ignoresBeta), ("drops the last odd column", dropsOddLastColumn),
                                             ("writes padding", writesPadding)]
        let messages = faults.map { BLASSelfCheck.run($0.1) ?? "\($0.0): not caught" }
        XCTAssertEqual(messages[0], "sgemm 17×33×9 A·Bᵀ, alpha -0.5, beta 1.0, padded by 3: C[0,0] is 10.5 instead of 12.5")
        XCTAssertEqual(messages[1], "sgemm 3×5×7 A·B, alpha -1.0, beta 0.0: C[0,4] is 0.0 instead of 5.0")
        XCTAssertEqual(messages[2], "sgemm 17×33×9 A·Bᵀ, alpha -0.5, beta 1.0, padded by 3: padding C[0,33] is 0.0 instead of 12345.0")
    }

    func testFallbackCoreChoice() {
        let cases: [(String, CPUFeatures, String, [String], String?)] = [
            ("Zen 5, Cooperlake wrong", Self.zen4, "Cooperlake", [], "SkylakeX"),
            ("Zen 5, SkylakeX wrong too", Self.zen4, "SkylakeX", ["Cooperlake"], "Haswell"),
            ("Emerald Rapids, SapphireRapids wrong", Self.emeraldRapids, "SapphireRapids", [], "Cooperlake"),
            ("a newer OpenBLAS's unknown core", Self.zen4, "Zen5", [], "Cooperlake"),
            ("unknown core, Cooperlake failed before", Self.zen4, "Zen5", ["Cooperlake"], "SkylakeX"),
            ("Zen 3, Zen wrong", Self.zen3, "Zen", [], "Sandybridge"),
            ("Zen 3, Haswell wrong", Self.zen3, "Haswell", [], "Sandybridge"),
            ("Haswell, case-insensitive", Self.haswell, "HASWELL", ["sandybridge"], "Prescott"),
            ("no AVX, Nehalem wrong", Self.noAVX, "Nehalem", [], nil),
            ("Prescott is the last", Self.haswell, "Prescott", [], nil),
            ("arm64", Self.arm, "NEOVERSEN1", [], nil),
        ]
        let wrong = cases.compactMap { name, cpu, failed, before, expected -> String? in
            let got = OpenBLASCore.fallback(after: failed, cpu: cpu, alsoFailed: before)
            return got == expected ? nil : "\(name): \(got ?? "none"), expected \(expected ?? "none")"
        }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) of \(cases.count) fallbacks wrong: " + wrong.joined(separator: "; "))
    }

    func testFailedCheckOutcome() {
        let cooperlake = BLASLibraryInfo(family: .openBLAS, requested: "libopenblas.so.0", path: "/x/libopenblas.so.0",
                                         version: "OpenBLAS 0.3.21 DYNAMIC_ARCH", core: "Cooperlake")
        XCTAssertEqual(BLASSetup.outcome("crashed", library: cooperlake, cpu: Self.zen4, alreadyFailed: [], userCoreType: nil),
                       .fallBack(core: "SkylakeX", note: "note: OpenBLAS's Cooperlake kernels failed DinoSeg's sgemm check on this "
                                 + "CPU (crashed); DinoSeg restarts with its SkylakeX kernels (a newer OpenBLAS, "
                                 + "DINOSEG_BLAS=/path/to/libopenblas.so, may fix Cooperlake)"))
        XCTAssertEqual(BLASSetup.outcome("x", library: cooperlake, cpu: Self.zen4, alreadyFailed: [], userCoreType: "Cooperlake"),
                       .fallBack(core: "SkylakeX", note: "note: OpenBLAS's Cooperlake kernels (OPENBLAS_CORETYPE=Cooperlake) failed "
                                 + "DinoSeg's sgemm check on this CPU (x); DinoSeg restarts with its SkylakeX kernels (a newer "
                                 + "OpenBLAS, DINOSEG_BLAS=/path/to/libopenblas.so, may fix Cooperlake)"))
        XCTAssertEqual(BLASSetup.outcome("x", library: cooperlake, cpu: Self.zen4, alreadyFailed: ["Cooperlake"], userCoreType: nil),
                       .stop(error: "error: the BLAS /x/libopenblas.so.0, core Cooperlake failed DinoSeg's sgemm check on this CPU "
                             + "(x) (after Cooperlake failed too); choose another with DINOSEG_BLAS=/path/to/lib.so (a newer OpenBLAS, BLIS)"),
                       "OpenBLAS ignored OPENBLAS_CORETYPE: no loop")
        var single = cooperlake
        single.version = "OpenBLAS 0.3.21 COOPERLAKE"
        XCTAssertEqual(BLASSetup.outcome("x", library: single, cpu: Self.zen4, alreadyFailed: [], userCoreType: nil),
                       .stop(error: "error: the BLAS /x/libopenblas.so.0, core Cooperlake failed DinoSeg's sgemm check on this CPU "
                             + "(x); choose another with DINOSEG_BLAS=/path/to/lib.so (a newer OpenBLAS, BLIS)"))
        let blis = BLASLibraryInfo(family: .blis, requested: "libblis.so.4", path: "/x/libblis.so.4", version: "BLIS 0.9.0", core: nil)
        XCTAssertEqual(BLASSetup.outcome("x", library: blis, cpu: Self.zen4, alreadyFailed: [], userCoreType: nil),
                       .stop(error: "error: the BLAS /x/libblis.so.4 failed DinoSeg's sgemm check on this CPU (x); choose another "
                             + "with DINOSEG_BLAS=/path/to/lib.so (a newer OpenBLAS, BLIS)"))
    }
}
