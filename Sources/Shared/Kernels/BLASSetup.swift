// Which BLAS and which OpenBLAS kernel core DinoSeg runs with, and the record of it kept beside results.
//
// OpenBLAS picks its kernels ("core") from the CPU model when it loads. A release older than the CPU does not know
// the model and falls back to a generic SSE3 core (Debian 12's 0.3.21 runs Prescott kernels on Intel Emerald
// Rapids, 4× slower sgemm). OpenBLAS reads OPENBLAS_CORETYPE only while loading, so the executables load the BLAS
// first thing, compare the core with what CPUID says the CPU can run, and when OpenBLAS chose a weaker core they
// re-execute themselves once with OPENBLAS_CORETYPE set (a marker variable makes a second re-execution impossible).
// A user's own OPENBLAS_CORETYPE is never overridden. Tests and library users load the BLAS lazily on the first
// call, without correction.
import Foundation

package enum OpenBLASCore {
    /// OpenBLAS's x86-64 cores (names as openblas_get_corename spells them, compared case-insensitively) ranked by
    /// the instruction set of their sgemm kernels: 0 SSE, 1 AVX, 2 AVX2+FMA, 3 AVX-512, 4 AVX-512+BF16, 5 AMX.
    /// Zen runs the Haswell kernels. Names not listed here (other architectures, newer releases) are never corrected.
    static let rank: [String: Int] = [
        "unknown": 0, "katmai": 0, "coppermine": 0, "northwood": 0, "prescott": 0, "banias": 0, "atom": 0,
        "core2": 0, "penryn": 0, "dunnington": 0, "nehalem": 0, "athlon": 0, "opteron": 0, "opteron(sse3)": 0,
        "barcelona": 0, "nano": 0, "bobcat": 0,
        "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1, "excavator": 1,
        "haswell": 2, "zen": 2,
        "skylakex": 3,
        "cooperlake": 4,
        "sapphirerapids": 5,
    ]

    /// The best core this CPU can run among those OpenBLAS has known since 0.3.11, with its rank.
    static func best(for cpu: CPUFeatures) -> (core: String, rank: Int)? {
        guard cpu.isX86 else { return nil }
        if cpu.hasAVX512Core && cpu.avx512bf16 { return ("Cooperlake", 4) }
        if cpu.hasAVX512Core { return ("SkylakeX", 3) }
        if cpu.hasAVX2FMA { return ("Haswell", 2) }
        if cpu.avx { return ("Sandybridge", 1) }
        return nil
    }

    /// The cores DinoSeg falls back through when one fails the start-up check, newest first.
    static let ladder = ["SapphireRapids", "Cooperlake", "SkylakeX", "Haswell", "Sandybridge", "Prescott"]

    /// The next older core to try after `failed` computed sgemm wrong (or crashed) on this CPU, skipping the cores in
    /// `alsoFailed`; nil when there is none (not x86, or nothing older left). A core this table does not know (a
    /// newer OpenBLAS's) falls back to the best one the CPU runs.
    static func fallback(after failed: String, cpu: CPUFeatures, alsoFailed: [String] = []) -> String? {
        guard cpu.isX86 else { return nil }
        let cpuRank = best(for: cpu)?.rank ?? 0
        let below = min(rank[failed.lowercased()] ?? cpuRank + 1, cpuRank + 1)
        let excluded = Set(([failed] + alsoFailed).map { $0.lowercased() })
        return ladder.first { core in
            rank[core.lowercased()]! < below && !excluded.contains(core.lowercased())
        }
    }

    /// The core to use instead of `reported`, or nil to keep it: only a core OpenBLAS ranks below what the CPU
    /// supports is replaced, so a good detection (Cooperlake, SapphireRapids, Zen on a capable CPU) is never downgraded.
    package static func choose(cpu: CPUFeatures, reported: String) -> String? {
        guard let have = rank[reported.lowercased()], let best = best(for: cpu), best.rank > have else { return nil }
        return best.core
    }
}

/// The BLAS as recorded in benchmarks, run configs and cache manifests.
package struct BLASInfo: Codable, Equatable, Sendable {
    /// The file loaded, symlinks resolved, e.g. /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0.
    package var library: String
    /// The name it was asked for (libopenblas.so.0, or $DINOSEG_BLAS).
    package var requested: String
    /// The library's configuration string (openblas_get_config, BLIS / MKL version), "" when it has none.
    package var version: String
    /// OpenBLAS's kernel core in use; nil for other libraries.
    package var core: String?
    /// Who chose the core: "OpenBLAS" (its own detection), "OPENBLAS_CORETYPE" (the user), "DinoSeg" (corrected).
    package var coreChosenBy: String?
    /// The core OpenBLAS had picked before DinoSeg corrected it.
    package var correctedFrom: String?
    /// Cores that failed the start-up sgemm check on this machine, in the order DinoSeg tried them (nil: none failed).
    package var failedSelfCheck: [String]?

    package var summary: String {
        var s = version.isEmpty ? "BLAS" : version
        s += " (\(library))"
        if let core {
            s += ", core \(core)"
            if let failed = failedSelfCheck {
                s += " (DinoSeg fell back from \(failed.joined(separator: ", ")), which failed its sgemm check)"
            } else if let from = correctedFrom { s += " (DinoSeg corrected OpenBLAS's choice \(from))" }
            else if let by = coreChosenBy { s += " (chosen by \(by))" }
        }
        return s
    }
}

/// The machine a result came from: CPU, BLAS and oneDNN. Informational: a cache made on one machine is valid on another.
package struct MachineInfo: Codable, Equatable, Sendable {
    /// CPUFeatures.summary: model, vendor, family/model, vector extensions.
    package var cpu: String
    package var blas: BLASInfo
    /// oneDNN when it loaded (the bf16 engine); nil without it, and in records written before it was used.
    package var oneDNN: OneDNNInfo?

    package static var current: MachineInfo {
        MachineInfo(cpu: CPUFeatures.host.summary, blas: BLASSetup.current, oneDNN: OneDNN.info)
    }

    /// Lines for benchmark headers and logs.
    package var lines: [String] {
        ["CPU:  \(cpu)", "BLAS: \(blas.summary)"] + (oneDNN.map { ["oneDNN: \($0.version) (\($0.library)), ISA \($0.isa)"] } ?? [])
    }

    /// This process's lines, with the note on a weak OPENBLAS_CORETYPE when there is one.
    package static var currentLines: [String] { current.lines + (BLASSetup.userCoreNote.map { [$0] } ?? []) }

    /// Flat fields for the benchmarks' JSON lines.
    package var jsonFields: [String: Any] {
        var f: [String: Any] = ["cpu": cpu, "blas_library": blas.library, "blas_version": blas.version]
        if let core = blas.core { f["blas_core"] = core }
        if let by = blas.coreChosenBy { f["blas_core_chosen_by"] = by }
        if let from = blas.correctedFrom { f["blas_corrected_from"] = from }
        if let failed = blas.failedSelfCheck { f["blas_failed_self_check"] = failed }
        if let dnnl = oneDNN { f["onednn_version"] = dnnl.version; f["onednn_isa"] = dnnl.isa }
        return f
    }
}

public enum BLASSetup {
    /// Set by the parent process before re-executing: "FROM>TO" (the core OpenBLAS picked, the one requested).
    static let markerVariable = "DINOSEG_BLAS_CORRECTED"
    nonisolated(unsafe) private static var correctedFrom: String?

    /// The core to re-execute with, or nil to keep the loaded one. Pure: corrects only OpenBLAS built with
    /// DYNAMIC_ARCH (the others ignore OPENBLAS_CORETYPE), never when the user set OPENBLAS_CORETYPE.
    package static func correction(cpu: CPUFeatures, library: BLASLibraryInfo, userCoreType: String?) -> String? {
        guard userCoreType?.isEmpty ?? true, library.family == .openBLAS, library.version.contains("DYNAMIC_ARCH"),
              let core = library.core else { return nil }
        return OpenBLASCore.choose(cpu: cpu, reported: core)
    }

    /// First thing in each executable, before any BLAS call: loads the BLAS ($DINOSEG_BLAS or the default; a load
    /// failure ends the process with a one-line error); when OpenBLAS chose a core below the CPU's, re-executes the
    /// process once with OPENBLAS_CORETYPE set; then checks that sgemm computes right (`BLASSelfCheck`) and, when it
    /// does not (or crashes), re-executes with the next older core. Prints one line to stderr for each change.
    public static func prepareProcess() {
        do { try BLASLibrary.open() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(1)
        }
        let env = ProcessInfo.processInfo.environment
        let library = BLASLibrary.info
        if let marker = env[markerVariable] {
            // The re-executed process: keep the record, and give child processes the environment the user set.
            unsetenv(markerVariable)
            unsetenv("OPENBLAS_CORETYPE")
            noteCorrection(marker: marker, library: library)
        } else if let target = correction(cpu: .host, library: library, userCoreType: env["OPENBLAS_CORETYPE"]),
                  let reported = library.core {
            restartCorrected(from: reported, to: target)
        }
        checkAndFallBack(library: library, env: env)
    }

    private static func noteCorrection(marker: String, library: BLASLibraryInfo) {
        let parts = marker.split(separator: ">").map(String.init)
        guard parts.count == 2 else { return }
        if library.core?.lowercased() == parts[1].lowercased() {
            correctedFrom = parts[0]
            note("OpenBLAS picked its \(parts[0]) kernels for this CPU; DinoSeg uses \(parts[1]) "
                 + "(set OPENBLAS_CORETYPE to choose yourself)")
        } else {
            note("OpenBLAS picked its \(parts[0]) kernels for this CPU and ignored OPENBLAS_CORETYPE=\(parts[1]); "
                 + "a newer OpenBLAS (DINOSEG_BLAS=/path/to/libopenblas.so) may know this CPU")
        }
    }

    /// Re-executes with OPENBLAS_CORETYPE=`target`; returns only when that failed (after saying so).
    private static func restartCorrected(from reported: String, to target: String) {
        #if os(Linux)
        setenv("OPENBLAS_CORETYPE", target, 1)
        setenv(markerVariable, "\(reported)>\(target)", 1)
        fflush(stdout)
        fflush(stderr)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        let why = String(cString: strerror(errno))
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(markerVariable)
        note("OpenBLAS picked its \(reported) kernels for this CPU and DinoSeg could not restart with \(target) (\(why)); "
             + "set OPENBLAS_CORETYPE=\(target) for full speed")
        #endif
    }

    // MARK: - the sgemm self-check

    /// Set for a process re-executed after a failed check: the cores that failed so far, comma-separated.
    static let failedVariable = "DINOSEG_BLAS_FAILED"
    /// The user's own OPENBLAS_CORETYPE while DinoSeg overrides it for a fallback (restored for child processes).
    static let userCoreVariable = "DINOSEG_BLAS_USER_CORETYPE"
    nonisolated(unsafe) private static var failedSelfCheck: [String]?

    /// What to do after the BLAS failed the check.
    enum CheckOutcome: Equatable {
        /// Re-execute with OPENBLAS_CORETYPE=`core`, after printing `note`.
        case fallBack(core: String, note: String)
        /// No safer core to try: end with this one-line error.
        case stop(error: String)
    }

    /// Pure: after `library` failed the check (`what`: the wrong element, or "crashed"), the next
    /// older core when OpenBLAS can switch (DYNAMIC_ARCH) and one is left that has not failed yet, else an error.
    /// A user's OPENBLAS_CORETYPE is overridden here: wrong numbers are never what anyone pinned a core for.
    static func outcome(_ what: String, library: BLASLibraryInfo, cpu: CPUFeatures, alreadyFailed: [String],
                        userCoreType: String?) -> CheckOutcome {
        let user = (userCoreType?.isEmpty ?? true) ? "" : " (OPENBLAS_CORETYPE=\(userCoreType!))"
        if library.family == .openBLAS, library.version.contains("DYNAMIC_ARCH"), let core = library.core,
           !alreadyFailed.contains(where: { $0.lowercased() == core.lowercased() }),
           let next = OpenBLASCore.fallback(after: core, cpu: cpu, alsoFailed: alreadyFailed) {
            return .fallBack(core: next, note: "note: OpenBLAS's \(core) kernels\(user) failed DinoSeg's sgemm check on this "
                             + "CPU (\(what)); DinoSeg restarts "
                             + "with its \(next) kernels (a newer OpenBLAS, DINOSEG_BLAS=/path/to/libopenblas.so, may fix \(core))")
        }
        let core = library.core.map { ", core \($0)" } ?? ""
        let tried = alreadyFailed.isEmpty ? "" : " (after \(alreadyFailed.joined(separator: ", ")) failed too)"
        return .stop(error: "error: the BLAS \(library.path)\(core)\(user) failed DinoSeg's sgemm check on this CPU "
                     + "(\(what))\(tried); choose another "
                     + "with DINOSEG_BLAS=/path/to/lib.so (a newer OpenBLAS, BLIS)")
    }

    /// Runs `BLASSelfCheck` with a guard that turns a crash into a restart with the fallback core; on a wrong
    /// result restarts with that core too, or ends the process when there is none.
    private static func checkAndFallBack(library: BLASLibraryInfo, env: [String: String]) {
        var failed: [String] = []
        var userCore = env["OPENBLAS_CORETYPE"].flatMap { $0.isEmpty ? nil : $0 }
        if env[markerVariable] != nil { userCore = nil }
        if let list = env[failedVariable] {
            // A process re-executed after a failed check: restore the user's environment for child processes.
            failed = list.split(separator: ",").map(String.init)
            failedSelfCheck = failed
            userCore = env[userCoreVariable]
            unsetenv(failedVariable)
            unsetenv(userCoreVariable)
            if let userCore { setenv("OPENBLAS_CORETYPE", userCore, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
        }
        let crash = outcome("crashed", library: library, cpu: .host, alreadyFailed: failed, userCoreType: userCore)
        var restart: Restart?
        if case let .fallBack(core, note) = crash, let reported = library.core {
            restart = Restart(core: core, failed: failed + [reported], userCore: userCore, note: note + "\n")
            restart!.arm()
        }
        let verdict = BLASSelfCheck.run()
        restart?.disarm()
        guard let wrong = verdict else { return }
        switch outcome(wrong, library: library, cpu: .host, alreadyFailed: failed,
                       userCoreType: userCore) {
        case let .fallBack(_, note):
            FileHandle.standardError.write(Data((note + "\n").utf8))
            restart?.exec()
            FileHandle.standardError.write(Data("error: DinoSeg could not restart itself (\(String(cString: strerror(errno))))\n".utf8))
            exit(1)
        case let .stop(error):
            FileHandle.standardError.write(Data((error + "\n").utf8))
            exit(1)
        }
    }

    /// The re-execution with a fallback core, prepared in full before the check: the crash guard's signal handler
    /// may only call execve on ready-made arguments.
    private struct Restart {
        let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
        let envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
        let message: UnsafeMutablePointer<CChar>
        let path = strdup("/proc/self/exe")!

        init(core: String, failed: [String], userCore: String?, note: String) {
            var env = ProcessInfo.processInfo.environment
            env["OPENBLAS_CORETYPE"] = core
            env[BLASSetup.failedVariable] = failed.joined(separator: ",")
            env[BLASSetup.userCoreVariable] = userCore
            argv = Self.cStrings(CommandLine.arguments)
            envp = Self.cStrings(env.map { "\($0.key)=\($0.value)" })
            message = strdup(note)!
        }

        /// A NULL-terminated C array of copies (kept for the life of the process: the guard may use them any time).
        static func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
            let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
            for (i, s) in strings.enumerated() { array[i] = strdup(s) }
            array[strings.count] = nil
            return array
        }

        func arm() {
            fflush(stdout)
            fflush(stderr)
            BLASLibrary.armCrashGuard(message: message, path: path, argv: argv, envp: envp)
        }

        func disarm() { BLASLibrary.disarmCrashGuard() }

        func exec() {
            fflush(stdout)
            fflush(stderr)
            execve(path, argv, envp)
        }
    }

    /// A line for benchmarks and the start of extraction when the user's OPENBLAS_CORETYPE holds OpenBLAS below the
    /// kernels this CPU runs, else nil. The setting is kept (it is also how a user pins one kernel for bit-identical
    /// results, README "Reproducibility"), but a silent 2× is worse than a line of output.
    package static var userCoreNote: String? {
        // After a fallback the core below the CPU's is DinoSeg's doing, already explained on stderr.
        guard failedSelfCheck == nil else { return nil }
        return userCoreNote(cpu: .host, library: BLASLibrary.info, userCoreType: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
    }

    /// Pure form of `userCoreNote`.
    package static func userCoreNote(cpu: CPUFeatures, library: BLASLibraryInfo, userCoreType: String?) -> String? {
        guard let user = userCoreType, !user.isEmpty, library.family == .openBLAS, library.version.contains("DYNAMIC_ARCH"),
              let core = library.core, let better = OpenBLASCore.choose(cpu: cpu, reported: core) else { return nil }
        return "note: OPENBLAS_CORETYPE=\(user) holds OpenBLAS to its \(core) kernels, but this CPU runs its \(better) ones "
            + "(compare `OPENBLAS_CORETYPE=\(better) extract bench --gemm`); unset OPENBLAS_CORETYPE to let DinoSeg choose"
    }

    /// The BLAS in use and how its core was chosen.
    package static var current: BLASInfo {
        let lib = BLASLibrary.info
        var chosenBy: String?
        if lib.core != nil {
            if correctedFrom != nil || failedSelfCheck != nil { chosenBy = "DinoSeg" }
            else if !(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "").isEmpty { chosenBy = "OPENBLAS_CORETYPE" }
            else { chosenBy = "OpenBLAS" }
        }
        return BLASInfo(library: lib.path, requested: lib.requested, version: lib.version, core: lib.core,
                        coreChosenBy: chosenBy, correctedFrom: correctedFrom, failedSelfCheck: failedSelfCheck)
    }

    private static func note(_ text: String) {
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }
}
