import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegNN
@testable import DinoSegCache
@testable import DinoSegModels

/// `headtrain train` under `mpirun`: two processes train the model one process trains (first 20 losses within 1e-5
/// relative, final weights within 1e-4), a run stopped with SIGTERM on one rank or killed with SIGKILL resumes with
/// another process count, two "hosts" made of network namespaces train over TCP, and a sweep is spread over ranks.
/// The built `headtrain` binary runs on a small cache written here (synthetic images, fake backbone; seeds 21/22/0).
final class DistributedTrainingTests: XCTestCase {
    static let steps = 20
    /// Batch 5 over 2 processes: 2 + 3 samples (an uneven split on purpose); dropout on.
    static let trainArguments = ["--fpn-width", "16", "--epochs", "10", "--batch", "5", "--threads", "1",
                                 "--log-interval", "1", "--checkpoint-every", "2", "--seed", "0"]

    struct Fixture {
        var directory: String
        var cache: String
        var reference: String   // single-process run of trainArguments
        var headtrain: String
        var mpirun: String
    }
    nonisolated(unsafe) static let fixture = ClassFixture<Fixture>(tag: "mpi")

    override class func tearDown() {
        fixture.remove()
        super.tearDown()
    }

    /// A val cache of the fixture's data (whole images, long side 224, stages 1–3, the fixture's fake backbone).
    static func wholeValCache(_ f: Fixture, name: String) throws -> String {
        let val = f.directory + "/" + name
        var o = ValExtractionOptions(dataRoot: f.directory + "/data", list: "val", out: val)
        o.mode = .whole; o.longSide = 224; o.stages = [1, 2, 3]; o.workers = 2; o.quiet = true
        _ = try ValExtraction.run(o, backbone: FakeBackbone(channels: [8, 16, 16, 24])) { _ in }
        return val
    }

    /// The cache and the single-process reference, made once for the class.
    func setUpFixture() throws -> Fixture {
        let mpirun = try Self.mpirun()
        return try Self.fixture.get { tmp in
            let headtrain = try builtExecutable("headtrain")
            try writeSyntheticData(to: tmp + "/data", train: 10, val: 1, seed: 21, sides: 120...200)
            var extraction = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/cache")
            extraction.views = 2; extraction.shardSize = 4; extraction.workers = 2; extraction.seed = 22
            extraction.stages = [1, 2, 3]; extraction.quiet = true
            _ = try TrainExtraction.run(extraction, backbone: FakeBackbone(channels: [8, 16, 16, 24])) { _ in }
            let f = Fixture(directory: tmp, cache: tmp + "/cache", reference: tmp + "/reference", headtrain: headtrain, mpirun: mpirun)
            let r = try Self.runProcess(headtrain, ["train", "--cache", f.cache, "--run", f.reference] + Self.trainArguments)
            guard r.status == 0 else { throw DinoSegError("single-process reference run failed (\(r.status)): \(r.output.suffix(500))") }
            return f
        }
    }

    func testTwoRanksTrainTheSingleProcessModel() throws {
        let f = try setUpFixture()
        let run = f.directory + "/two"
        let r = try Self.runProcess(f.mpirun, Self.mpirunArguments(ranks: 2) + [f.headtrain, "train", "--cache", f.cache, "--run", run]
                                    + Self.trainArguments)
        XCTAssertEqual(r.status, 0, "mpirun -np 2 headtrain train: \(r.output.suffix(800))")
        XCTAssertTrue(r.output.contains("2 processes × 1 threads"), "the resolved configuration names the processes: \(r.output.prefix(600))")
        try assertSameTraining(run, f.reference, what: "2 ranks vs 1 process")
    }

    func testStoppedAndKilledRanksResumeWithAnotherProcessCount() throws {
        let f = try setUpFixture()
        let run = f.directory + "/interrupted"
        let command = [f.headtrain, "train", "--cache", f.cache, "--run", run] + Self.trainArguments

        // SIGTERM to rank 1 only: both ranks stop at the same step, rank 0 saves, the job ends normally.
        let firstEnd = try Self.signalRank(1, SIGTERM, mpirun: f.mpirun, command: command) { try Self.waitForSteps(4, in: run, while: $0) }
        let firstOutput = firstEnd.output
        XCTAssertEqual(firstEnd.status, 0, "SIGTERM on rank 1 should stop the job cleanly: \(firstOutput.suffix(800))")
        XCTAssertTrue(firstOutput.contains("stopped at step"), "no clean stop logged: \(firstOutput.suffix(800))")
        let stoppedAt = Self.losses(run).count
        XCTAssertLessThan(stoppedAt, Self.steps, "the run finished before it could be stopped")

        // Resumed with 2 ranks, then SIGKILL of rank 0 (the writer) two steps after the next checkpoint.
        let second = try Self.signalRank(0, SIGKILL, mpirun: f.mpirun, command: command + ["--resume"]) {
            try Self.waitForSteps(stoppedAt + 5, in: run, while: $0)
        }
        XCTAssertNotEqual(second.status, 0, "mpirun should report the killed rank")

        // Finished by a single process.
        let last = try Self.runProcess(f.headtrain, Array(command.dropFirst()) + ["--resume"])
        XCTAssertEqual(last.status, 0, "single-process resume: \(last.output.suffix(800))")
        try assertSameTraining(run, f.reference, what: "2 ranks stopped at step \(stoppedAt), 2 ranks killed, 1 process finishing")
    }

    /// Two hosts: network namespaces joined by a veth pair, Open MPI over TCP only (no shared memory), the remote
    /// daemon started through `plm_rsh_agent` = a script running `ip netns exec` (no ssh).
    func testTwoHostsOverTCPInNetworkNamespaces() throws {
        let f = try setUpFixture()
        let tag = String(getpid() % 100_000)
        let nsA = "dinoseg-a-\(tag)", nsB = "dinoseg-b-\(tag)"
        let (ipA, ipB) = ("10.231.0.1", "10.231.0.2")
        let setup = [
            ["netns", "add", nsA], ["netns", "add", nsB],
            ["link", "add", "dsa\(tag)", "netns", nsA, "type", "veth", "peer", "name", "dsb\(tag)", "netns", nsB],
            ["-n", nsA, "addr", "add", "\(ipA)/24", "dev", "dsa\(tag)"], ["-n", nsB, "addr", "add", "\(ipB)/24", "dev", "dsb\(tag)"],
            ["-n", nsA, "link", "set", "dsa\(tag)", "up"], ["-n", nsB, "link", "set", "dsb\(tag)", "up"],
            ["-n", nsA, "link", "set", "lo", "up"], ["-n", nsB, "link", "set", "lo", "up"],
        ]
        guard let ip = Self.which("ip") else { throw XCTSkip("network namespaces unavailable: the ip command (iproute2) is not installed") }
        defer {
            _ = try? Self.runProcess(ip, ["netns", "del", nsA])
            _ = try? Self.runProcess(ip, ["netns", "del", nsB])
        }
        for args in setup {
            let r = try Self.runProcess(ip, args)
            if r.status != 0 {
                throw XCTSkip("network namespaces unavailable (ip \(args.joined(separator: " ")): \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))); needs root or CAP_SYS_ADMIN + CAP_NET_ADMIN")
            }
        }
        // Each namespace also gets its own host name, as separate machines would have.
        let agent = f.directory + "/netns-agent.sh"
        try """
            #!/bin/sh
            # plm_rsh_agent for the test: "ssh HOST COMMAND" becomes COMMAND inside HOST's network namespace.
            host=$1; shift
            case "$host" in
              \(ipA)) ns=\(nsA) ;;
              \(ipB)) ns=\(nsB) ;;
              *) echo "netns-agent: unknown host $host" >&2; exit 1 ;;
            esac
            exec \(ip) netns exec "$ns" unshare --uts /bin/sh -c "hostname $ns; $*"

            """.write(toFile: agent, atomically: true, encoding: .utf8)
        chmod(agent, 0o755)
        let run = f.directory + "/two-hosts"
        let mpi = ["--host", "\(ipA):1,\(ipB):1", "--mca", "plm_rsh_agent", agent,
                   "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "10.231.0.0/24",
                   "--mca", "oob_tcp_if_include", "10.231.0.0/24"]
        let r = try Self.runProcess(ip, ["netns", "exec", nsA, f.mpirun] + Self.mpirunArguments(ranks: 2) + mpi
                                    + [f.headtrain, "train", "--cache", f.cache, "--run", run] + Self.trainArguments)
        XCTAssertEqual(r.status, 0, "mpirun across two namespaces: \(r.output.suffix(1200))")
        try assertSameTraining(run, f.reference, what: "2 hosts over TCP vs 1 process")
    }

    /// `headtrain sweep` under `mpirun -np 2`: the jobs are dealt to both ranks, rank 0 writes one results.csv with the
    /// metrics a single-process sweep gets (each job is trained by one process either way), and running the command
    /// again keeps every finished job.
    func testSweepSpreadsJobsOverRanks() throws {
        let f = try setUpFixture()
        let val = try Self.wholeValCache(f, name: "cache-val")
        let args = ["sweep", "--cache", f.cache, "--val-cache", val, "--variants", "head,fpn", "--widths", "16",
                    "--epochs", "1", "--batch", "5", "--threads", "1", "--eval-every", "0", "--examples", "0"]
        let one = try Self.runProcess(f.headtrain, args + ["--run", f.directory + "/sweep1"])
        XCTAssertEqual(one.status, 0, "single-process sweep: \(one.output.suffix(600))")
        let two = try Self.runProcess(f.mpirun, Self.mpirunArguments(ranks: 2) + [f.headtrain] + args + ["--run", f.directory + "/sweep2"])
        XCTAssertEqual(two.status, 0, "mpirun -np 2 headtrain sweep: \(two.output.suffix(800))")
        XCTAssertTrue(two.output.contains("[rank 1] == sweep 2/2"), "job 2 should run on rank 1: \(two.output.prefix(800))")
        // variant … final_loss, checkpoint_step: everything but train_seconds (field 9), the protocol and the directory.
        func metrics(_ dir: String) -> [String] {
            ((try? String(contentsOfFile: dir + "/results.csv", encoding: .utf8)) ?? "").split(separator: "\n").map { line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                return (Array(fields.prefix(9)) + Array(fields.dropFirst(10).prefix(2))).joined(separator: ",")
            }
        }
        XCTAssertEqual(metrics(f.directory + "/sweep2"), metrics(f.directory + "/sweep1"), "results.csv of 2 ranks vs 1 process")
        XCTAssertEqual(metrics(f.directory + "/sweep2").count, 3, "header + 2 jobs")
        let again = try Self.runProcess(f.mpirun, Self.mpirunArguments(ranks: 2) + [f.headtrain] + args + ["--run", f.directory + "/sweep2"])
        XCTAssertEqual(again.status, 0, again.output.suffix(600).description)
        XCTAssertEqual(again.output.components(separatedBy: "already trained and evaluated").count - 1, 2,
                       "both finished jobs should be kept: \(again.output.suffix(800))")
    }

    // MARK: comparison

    /// The 20 losses within 1e-5 relative; every trained tensor within 1e-4 of the largest parameter magnitude and
    /// every BatchNorm statistic within 1e-4 of its own largest value. (1 vs 2 threads in one process differ by as
    /// much: float sums in another order, amplified by 20 SGD steps.)
    func assertSameTraining(_ run: String, _ reference: String, what: String) throws {
        let got = Self.losses(run), want = Self.losses(reference)
        XCTAssertEqual(got.count, Self.steps, "\(what): \(got.count) logged steps")
        XCTAssertEqual(want.count, Self.steps)
        let seeds = "data 21, extraction 22, training 0"
        assertClose(got, want, rtol: 1e-5, seed: seeds, what: "\(what): losses of the \(Self.steps) steps vs one process")

        let config = HeadConfig(stageChannels: [8, 16, 16, 24], fpnWidth: 16, outputStride: 8)
        let a = try SegmentationHead(config: config), b = try SegmentationHead(config: config)
        let pa = try XCTUnwrap(try HeadCheckpoint.load(run + "/last.safetensors", into: a))
        let pb = try XCTUnwrap(try HeadCheckpoint.load(reference + "/last.safetensors", into: b))
        XCTAssertEqual(pa, pb, "\(what): training progress in the checkpoints")
        XCTAssertEqual(a.batchesTracked, b.batchesTracked)
        Self.assertSameState(a.params, a.stats, b.params, b.stats, rtol: 1e-4, seed: seeds, what: what)
    }

    /// Trained tensors against the largest parameter, statistics against their own largest value.
    static func assertSameState(_ params: ParameterArena, _ stats: ParameterArena, _ oneParams: ParameterArena,
                                _ oneStats: ParameterArena, rtol: Double, seed: String, what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        assertClose(UnsafeBufferPointer(start: params.values, count: params.count),
                    UnsafeBufferPointer(start: oneParams.values, count: oneParams.count), rtol: rtol, relativeTo: .maxExpected,
                    seed: seed, what: "\(what): trained parameters vs one process", file: file, line: line)
        for v in oneStats.views {
            assertClose(UnsafeBufferPointer(start: stats.values + v.offset, count: v.count),
                        UnsafeBufferPointer(start: oneStats.values + v.offset, count: v.count), rtol: rtol, relativeTo: .maxExpected,
                        seed: seed, what: "\(what): \(v.name) vs one process", file: file, line: line)
        }
    }

    // MARK: processes

    static func mpirunArguments(ranks: Int) -> [String] {
        (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "--bind-to", "none", "-np", String(ranks)]
    }

    /// mpirun's path; the test is skipped where it is not installed.
    static func mpirun() throws -> String {
        guard let path = which("mpirun") else { throw XCTSkip("mpirun not found: install openmpi-bin (make test installs it)") }
        return path
    }

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]).map { $0 + "/" + tool }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts a process with stdout+stderr merged and no inherited MPI variables (the test may itself run under mpirun).
    static func launch(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("OMPI_") || key.hasPrefix("PMI") { env[key] = nil }
        return try startProcess(executable, arguments, environment: env, mergeOutput: true)
    }

    static func runProcess(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
        try launch(executable, arguments).wait()
    }

    /// Waits until the run's log.jsonl holds `steps` steps (fails if the process ends first or after 60 s).
    static func waitForSteps(_ steps: Int, in run: String, while process: Process) throws {
        try waitFor("step \(steps)", in: run, while: process, seconds: 60, pollMicroseconds: 20_000) { losses(run).count >= steps }
    }

    /// Polls `reached` (work the job leaves in `path`) until it holds; fails if the process ends first or after `seconds`.
    static func waitFor(_ what: String, in path: String, while process: Process, seconds: Double, pollMicroseconds: useconds_t,
                        reached: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !reached() {
            guard process.isRunning else { throw DinoSegError(file: path, "the job ended before \(what)") }
            guard Date() < deadline else { throw DinoSegError(file: path, "no \(what) after \(Int(seconds)) s") }
            usleep(pollMicroseconds)
        }
    }

    /// Runs `command` under `mpirun -np 2`, sends `signal` to one rank once `progressed` returns (it waits for work on
    /// disk while the job runs), and returns how the job ended.
    static func signalRank(_ rank: Int, _ signal: Int32, mpirun: String, command: [String],
                           after progressed: (Process) throws -> Void) throws -> ProcessResult {
        let job = try launch(mpirun, mpirunArguments(ranks: 2) + command)
        try progressed(job.process)
        let pid = try XCTUnwrap(rankProcess(rank, under: job.process.processIdentifier), "rank \(rank) of mpirun not found")
        kill(pid, signal)
        return try job.wait()
    }

    /// The process of MPI rank `rank` among the children of mpirun `parent` (from /proc: parent pid, environment).
    static func rankProcess(_ rank: Int, under parent: Int32) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent,
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            if environ.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }) {
                return pid
            }
        }
        return nil
    }

    static func losses(_ run: String) -> [Double] {
        guard let text = try? String(contentsOfFile: run + "/log.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], obj["event"] == nil else { return nil }
            return obj["loss"] as? Double
        }
    }
}
