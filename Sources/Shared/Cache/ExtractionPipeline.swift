// The extraction engine shared by `extract train` and `extract val`: worker threads (one per core) turn images into
// results, one writer thread (the caller's) stores them shard by shard, in plan order, so the output does not depend
// on thread timing. Bounded look-ahead keeps memory flat. Ctrl-C or SIGTERM (StopSignal, on any process of an MPI
// job) or a test's `stopAfterShards` stops once the shard being written is safely on disk. Under mpirun each process
// runs its share of the shards (ExtractionRanks).
import Foundation
import DinoSegCore

/// One planned shard: which images (and view) it holds, in row order.
package struct ShardPlan: Equatable {
    package var index: Int
    package var view: Int
    package var images: [Int]
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
    /// Finished shards in the order written (after `runRecording`, on rank 0: those of every process, by index).
    var records: [ShardRecord] = []
    var stoppedEarly = false
    /// Stop votes taken (one after each shard) and whether the last one said stop.
    var votes = 0
    var voteStopped = false

    var finished: [CacheShardEntry] { records.map(\.entry) }
    var skippedCount: Int { records.reduce(0) { $0 + $1.skipped.count } }
}

final class ExtractionPipeline<Sink: ShardSink> {
    /// Turns a few consecutive jobs (image, view) into one result or error each (a worker batches them so the
    /// backbone sees several images per call).
    typealias Process = (_ jobs: [(image: Int, view: Int)]) -> [Result<Sink.Result, Error>]

    private enum Slot { case pending, done(Sink.Result), failed(String) }
    private struct Job { var shard: Int; var image: Int; var view: Int }

    /// This process's shards (all of them in a single process), and the rounds of stop votes every process takes.
    let shards: [ShardPlan]
    let rounds: Int
    let ranks: ExtractionRanks
    let imageIDs: [String]
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

    /// `pending`: the shards still to do in plan order, dealt over the processes by `ranks`. `lookAhead`: results that
    /// may wait for the writer (memory bound); default 3 batches per worker.
    init(pending: [ShardPlan], ranks: ExtractionRanks, imageIDs: [String], workers: Int, batch: Int = 1, lookAhead: Int? = nil,
         skipBad: Bool, stopAfterShards: Int?, progress: ProgressLine, process: @escaping Process) {
        self.shards = ranks.deal(pending); self.rounds = ranks.rounds(pending.count); self.ranks = ranks
        self.imageIDs = imageIDs; self.workers = max(1, workers); self.batch = max(1, batch); self.skipBad = skipBad
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

    /// Runs this process's shards, recording each finished one (and its skipped images, by id) in `manifest`; rank 0
    /// (the only process, usually) saves it after every shard so an interruption loses nothing. Then every process's
    /// shards are merged into rank 0's manifest, which every process gets back. Returns the outcome (on rank 0: of
    /// the whole job) and the elapsed time.
    func runRecording(sink: inout Sink, manifest: inout CacheManifest, directory: String) throws -> (outcome: PipelineOutcome, seconds: Double) {
        let start = Date()
        let skippedBefore = manifest.skipped
        var outcome: PipelineOutcome
        do {
            defer { progress.finishLine() }
            outcome = try run(sink: &sink) { record in
                guard ranks.isRoot else { return }
                manifest.record(record)
                try manifest.save(directory: directory)
            }
        }
        // A process with fewer shards than others still votes in every round, or the others would wait for it.
        while !outcome.voteStopped && outcome.votes < rounds {
            outcome.voteStopped = try ranks.voteToStop(StopSignal.isRequested)
            outcome.votes += 1
        }
        let all = try ranks.gather(outcome.records)
        if ranks.isRoot && ranks.size > 1 {
            try ranks.merge(all, into: &manifest, skippedBefore: skippedBefore, directory: directory)
            outcome.records = all
            outcome.stoppedEarly = !manifest.complete
        }
        manifest = try ranks.share(manifest)
        return (outcome, Date().timeIntervalSince(start))
    }

    /// The closing lines every extraction prints: skipped images and how to resume an early stop.
    static func reportEnd(_ outcome: PipelineOutcome, manifest: CacheManifest, log: (String) -> Void) {
        if !manifest.skipped.isEmpty { log("skipped \(manifest.skipped.count) bad image(s), listed in the manifest") }
        if outcome.stoppedEarly {
            log("stopped early: \(manifest.shards.count) of \(manifest.plannedShards) shards are done; re-run the same command to resume")
        }
    }

    /// Runs this process's shards; `onShardFinished` is called (on this thread) after each shard is safely renamed
    /// into place. After each shard the processes vote on stopping (a single process just asks StopSignal).
    func run(sink: inout Sink, onShardFinished: (ShardRecord) throws -> Void) throws -> PipelineOutcome {
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
            var shardSkipped: [String] = []
            do {
                for _ in plan.images {
                    let slot = takeSlot(jobIndex)
                    jobIndex += 1
                    switch slot {
                    case .done(let r): try sink.append(r)
                    case .failed(let reason):
                        if !skipBad { throw DinoSegError(reason + " (use --skip-bad to skip bad images)") }
                        shardSkipped.append("\(imageIDs[jobs[jobIndex - 1].image]): \(reason)")
                        progress.log("skipped: \(reason)")
                    case .pending: preconditionFailure("writer took an unfinished slot")
                    }
                    progress.advance()
                }
            } catch {
                sink.abandon()
                throw error
            }
            let record = ShardRecord(entry: try sink.finish(), skipped: shardSkipped)
            outcome.records.append(record)
            try onShardFinished(record)
            let local = StopSignal.isRequested || (stopAfterShards.map { outcome.records.count >= $0 } ?? false)
            outcome.voteStopped = try ranks.voteToStop(local)
            outcome.votes += 1
            if outcome.voteStopped {
                outcome.stoppedEarly = s < shards.count - 1
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
