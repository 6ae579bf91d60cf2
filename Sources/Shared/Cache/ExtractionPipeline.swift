// The extraction engine shared by `extract train` and `extract val`: worker threads (one per core) turn images into
// results, one writer thread (the caller's) stores them shard by shard, in plan order, so the output does not depend
// on thread timing. Bounded look-ahead keeps memory flat. Ctrl-C (or a test's `stopAfterShards`) stops once the
// shard being written is safely on disk.
import Foundation

/// One planned shard: which images (and view) it holds, in row order.
public struct ShardPlan: Equatable {
    public var index: Int
    public var view: Int
    public var images: [Int]
}

/// Set by SIGINT; polled by the writer.
nonisolated(unsafe) private var interruptRequested: Int32 = 0

enum InterruptHandler {
    /// First Ctrl-C asks for a clean stop; a second one terminates at once (default action).
    static func install() {
        interruptRequested = 0
        signal(SIGINT) { _ in
            interruptRequested = 1
            signal(SIGINT, SIG_DFL)
        }
    }
    static func uninstall() { signal(SIGINT, SIG_DFL) }
    static var requested: Bool { interruptRequested != 0 }
}

/// A shard being written: receives results in order.
protocol ShardSink {
    associatedtype Result
    mutating func begin(_ plan: ShardPlan) throws
    mutating func append(_ result: Result) throws
    /// Returns the finished shard's entry.
    mutating func finish() throws -> CacheShardEntry
    mutating func abandon()
}

struct PipelineOutcome {
    var finished: [CacheShardEntry] = []
    var skipped: [(image: Int, reason: String)] = []
    var stoppedEarly = false
}

final class ExtractionPipeline<Sink: ShardSink> {
    /// Turns a few consecutive jobs (image, view) into one result or error each (a worker batches them so the
    /// backbone sees several images per call).
    typealias Process = (_ jobs: [(image: Int, view: Int)]) -> [Result<Sink.Result, Error>]

    private enum Slot { case pending, done(Sink.Result), failed(String) }
    private struct Job { var shard: Int; var image: Int; var view: Int }

    let shards: [ShardPlan]
    let workers: Int
    let batch: Int
    let skipBad: Bool
    let stopAfterShards: Int?
    let process: Process
    let progress: ProgressLine

    private let cond = NSCondition()
    private var jobs: [Job] = []
    private var groupEnd: [Int] = []
    private var slots: [Slot] = []
    private var nextJob = 0
    private var jobLimit = 0          // workers take jobs below this index
    private var written = 0           // jobs consumed by the writer
    private var aborted = false
    private let lookAhead: Int

    /// `lookAhead`: results that may wait for the writer (memory bound); default 3 batches per worker.
    init(shards: [ShardPlan], workers: Int, batch: Int = 1, lookAhead: Int? = nil, skipBad: Bool, stopAfterShards: Int?,
         progress: ProgressLine, process: @escaping Process) {
        self.shards = shards; self.workers = max(1, workers); self.batch = max(1, batch); self.skipBad = skipBad
        self.stopAfterShards = stopAfterShards; self.progress = progress; self.process = process
        self.lookAhead = max(1, lookAhead ?? 3 * max(1, workers) * max(1, batch) + 2)
        for (s, plan) in shards.enumerated() {
            let start = jobs.count
            for (i, image) in plan.images.enumerated() {
                jobs.append(Job(shard: s, image: image, view: plan.view))
                // Batches are fixed groups inside a shard, so their composition never depends on thread timing
                // or on where an interrupted run stopped.
                groupEnd.append(start + min(plan.images.count, (i / self.batch + 1) * self.batch))
            }
        }
        slots = Array(repeating: .pending, count: jobs.count)
        jobLimit = jobs.count
    }

    /// Runs under the Ctrl-C handler, recording each finished shard (and each skipped image, by id) in `manifest`,
    /// which is saved after every shard so an interruption loses nothing. Returns the outcome and the elapsed time.
    func runRecording(sink: inout Sink, manifest: inout CacheManifest, directory: String,
                      imageIDs: [String]) throws -> (outcome: PipelineOutcome, seconds: Double) {
        InterruptHandler.install()
        defer { InterruptHandler.uninstall() }
        let start = Date()
        defer { progress.finishLine() }
        let outcome = try run(sink: &sink) { entry, skipped in
            manifest.shards.append(entry)
            manifest.shards.sort { $0.index < $1.index }
            for s in skipped {
                let line = "\(imageIDs[s.image]): \(s.reason)"
                if !manifest.skipped.contains(line) { manifest.skipped.append(line) }
            }
            try manifest.save(directory: directory)
        }
        return (outcome, Date().timeIntervalSince(start))
    }

    /// The closing lines every extraction prints: skipped images and how to resume an early stop.
    static func reportEnd(_ outcome: PipelineOutcome, manifest: CacheManifest, log: (String) -> Void) {
        if !manifest.skipped.isEmpty { log("skipped \(manifest.skipped.count) bad image(s), listed in the manifest") }
        if outcome.stoppedEarly {
            log("stopped early: \(manifest.shards.count) of \(manifest.plannedShards) shards are done; re-run the same command to resume")
        }
    }

    /// Runs everything; `onShardFinished` is called (on this thread) after each shard is safely renamed into place.
    func run(sink: inout Sink, onShardFinished: (CacheShardEntry, [(image: Int, reason: String)]) throws -> Void) throws -> PipelineOutcome {
        var outcome = PipelineOutcome()
        var threads: [Thread] = []
        cond.lock(); runningWorkers = workers; cond.unlock()
        for _ in 0..<workers {
            let t = Thread { self.workerLoop() }
            t.stackSize = 8 << 20
            threads.append(t)
            t.start()
        }
        defer {
            cond.lock(); aborted = true; cond.broadcast(); cond.unlock()
            // Workers exit after their current image; wait for them so no thread outlives the run.
            cond.lock(); while runningWorkers > 0 { cond.wait() }; cond.unlock()
        }

        var jobIndex = 0
        for (s, plan) in shards.enumerated() {
            try sink.begin(plan)
            var shardSkipped: [(image: Int, reason: String)] = []
            do {
                for _ in plan.images {
                    let slot = takeSlot(jobIndex)
                    jobIndex += 1
                    switch slot {
                    case .done(let r): try sink.append(r)
                    case .failed(let reason):
                        if !skipBad { throw DinoSegError(reason + " (use --skip-bad to skip bad images)") }
                        shardSkipped.append((jobs[jobIndex - 1].image, reason))
                        progress.log("skipped: \(reason)")
                    case .pending: preconditionFailure("writer took an unfinished slot")
                    }
                    progress.advance()
                }
            } catch {
                sink.abandon()
                throw error
            }
            let entry = try sink.finish()
            outcome.finished.append(entry)
            outcome.skipped += shardSkipped
            try onShardFinished(entry, shardSkipped)
            let isLast = s == shards.count - 1
            if !isLast && (InterruptHandler.requested || (stopAfterShards.map { outcome.finished.count >= $0 } ?? false)) {
                outcome.stoppedEarly = true
                break
            }
        }
        return outcome
    }

    private var runningWorkers = 0

    private func workerLoop() {
        defer { cond.lock(); runningWorkers -= 1; cond.broadcast(); cond.unlock() }
        while true {
            cond.lock()
            while !aborted && nextJob < jobLimit && nextJob >= written + lookAhead { cond.wait() }
            assert(aborted || nextJob >= jobLimit || groupEnd[nextJob] > nextJob)
            if aborted || nextJob >= jobLimit { cond.unlock(); return }
            let first = nextJob
            let n = min(groupEnd[first], jobLimit) - first
            nextJob += n
            cond.unlock()

            let taken = (first..<(first + n)).map { (image: jobs[$0].image, view: jobs[$0].view) }
            let results = process(taken)
            cond.lock()
            for (i, r) in results.enumerated() {
                switch r {
                case .success(let v): slots[first + i] = .done(v)
                case .failure(let e): slots[first + i] = .failed("\(e)")
                }
            }
            cond.broadcast()
            cond.unlock()
        }
    }

    /// Waits for job j's result and releases its slot.
    private func takeSlot(_ j: Int) -> Slot {
        cond.lock()
        defer { cond.unlock() }
        while case .pending = slots[j] { cond.wait() }
        let s = slots[j]
        slots[j] = .pending
        written = j + 1
        cond.broadcast()
        return s
    }
}

/// "images 12/80 · 3.00 images/s · elapsed 4s · ETA 23s" on stderr: one rewritten line on a terminal, plain lines otherwise.
final class ProgressLine {
    let total: Int
    let label: String
    private var done = 0
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let tty = isatty(2) != 0
    private let quiet: Bool

    init(total: Int, label: String, quiet: Bool = false) { self.total = total; self.label = label; self.quiet = quiet }

    func advance() {
        done += 1
        let now = Date()
        let interval = tty ? 0.25 : 10.0
        if done == total || now.timeIntervalSince(lastPrint) >= interval {
            lastPrint = now
            emit(line())
        }
    }

    func line() -> String { Self.line(label: label, done: done, total: total, elapsed: Date().timeIntervalSince(start)) }

    /// The line after `done` of `total` in `elapsed` seconds: the mean rate so far, and the rest at that rate.
    static func line(label: String, done: Int, total: Int, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : .infinity  // no rate yet: "?"
        return String(format: "%@ %d/%d · %.2f %@/s · elapsed %@ · ETA %@", label, done, total, rate, label,
                      formatDuration(elapsed), formatDuration(eta))
    }

    var rate: Double {
        let elapsed = Date().timeIntervalSince(start)
        return elapsed > 0 ? Double(done) / elapsed : 0
    }

    func log(_ message: String) {
        guard !quiet else { return }
        if tty { FileHandle.standardError.write(Data(("\r\u{1B}[K" + message + "\n").utf8)) } else { emit(message) }
    }

    func finishLine() { if tty && !quiet && done > 0 { FileHandle.standardError.write(Data("\n".utf8)) } }

    private func emit(_ s: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + s : s + "\n").utf8))
    }
}

/// A duration for progress lines and logs: "42s", "3m07s", "2h05m" ("?" when unknown).
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}

public func formatBytes(_ bytes: Double) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = bytes, u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return String(format: u == 0 ? "%.0f %@" : "%.1f %@", v, units[u])
}
