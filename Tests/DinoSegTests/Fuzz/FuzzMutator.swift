// A seeded mutation fuzzer: each input is a seed (made by the driver itself) with a few random mutations stacked
// (bit flips, interesting integers, byte inserts/deletes, truncation, splices with another seed, repeated chunks).
// Mutations land in the first `focus` bytes half of the time: headers and metadata live at the front of most
// formats, and a 200 KB shard mutated uniformly would mostly change feature values nobody parses.
import Foundation
import XCTest
@testable import DinoSegCore

struct FuzzMutator {
    var rng: SplitMix64
    let seeds: [Data]
    let focus: Int

    init(seed: UInt64, seeds: [Data], focus: Int = 4096) {
        precondition(!seeds.isEmpty)
        rng = SplitMix64(seed: seed)
        self.seeds = seeds
        self.focus = focus
    }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    mutating func position(_ count: Int) -> Int {
        below(2) == 0 ? below(min(count, focus)) : below(count)
    }

    static let interesting: [UInt64] = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000,
                                        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, UInt64(Int64.max), UInt64.max]

    /// The next input: a seed with 1...8 mutations (or, rarely, the unmodified seed).
    mutating func next() -> Data {
        var bytes = [UInt8](seeds[below(seeds.count)])
        let rounds = below(16) == 0 ? 0 : 1 + below(8)
        for _ in 0..<rounds { mutate(&bytes) }
        return Data(bytes)
    }

    mutating func mutate(_ b: inout [UInt8]) {
        if b.isEmpty { b = [UInt8(below(256))]; return }
        switch below(9) {
        case 0:  // flip one bit
            let p = position(b.count); b[p] ^= UInt8(1 << below(8))
        case 1:  // random byte
            b[position(b.count)] = UInt8(below(256))
        case 2:  // interesting integer, 1/2/4/8 bytes, either endianness
            let width = [1, 2, 4, 8][below(4)]
            var v = FuzzMutator.interesting[below(FuzzMutator.interesting.count)]
            if below(2) == 0 { v = v &+ UInt64(below(3)) &- 1 }
            let p = position(b.count)
            let big = below(2) == 0
            for i in 0..<width where p + i < b.count {
                let shift = UInt64(8 * (big ? width - 1 - i : i))
                b[p + i] = UInt8((v >> shift) & 0xFF)
            }
        case 3:  // insert random bytes
            let p = position(b.count + 1)
            b.insert(contentsOf: (0..<(1 + below(16))).map { _ in UInt8(below(256)) }, at: p)
        case 4:  // delete a range
            let p = position(b.count), n = min(b.count - p, 1 + below(64))
            b.removeSubrange(p..<(p + n))
        case 5:  // truncate
            b.removeSubrange(below(b.count)..<b.count)
        case 6:  // splice: the tail of another seed from here on
            let other = [UInt8](seeds[below(seeds.count)])
            let p = position(min(b.count, other.count))
            b = Array(b[..<p]) + Array(other[p...])
        case 7:  // repeat a chunk
            let p = position(b.count), n = min(b.count - p, 1 + below(32))
            b.insert(contentsOf: b[p..<(p + n)], at: position(b.count))
        default:  // copy a chunk elsewhere (overwrite)
            let src = position(b.count), dst = position(b.count)
            let n = min(b.count - src, b.count - dst, 1 + below(32))
            for i in 0..<n { b[dst + i] = b[src + i] }
        }
    }
}

/// How long and from which seed a fuzz run goes: FUZZ_SECONDS (per driver) for `make fuzz`, else a fixed number of
/// inputs (the short seeded run of the test suite). FUZZ_SEED picks the mutation sequence (default 1).
struct FuzzBudget {
    let seconds: Double?
    let inputs: Int
    let seed: UInt64

    static func fromEnvironment(defaultInputs: Int) -> FuzzBudget {
        let env = ProcessInfo.processInfo.environment
        return FuzzBudget(seconds: env["FUZZ_SECONDS"].flatMap(Double.init), inputs: defaultInputs,
                          seed: env["FUZZ_SEED"].flatMap(UInt64.init) ?? 1)
    }
}

/// Runs `body` on mutated inputs. Success or a DinoSegError is fine; any other error fails the test with one line;
/// a crash kills the process, and the input that caused it is left in `current` (its path is printed first).
/// `structured`, when given, makes half of the inputs (a format-aware mutation of a seed, sometimes with a few byte
/// mutations on top). A watchdog ends the process naming the input when one runs longer than FUZZ_INPUT_SECONDS
/// (default 30) or the process grows past FUZZ_MAX_RSS_MB (default 3072). Returns the number of inputs run.
@discardableResult
func runFuzz(_ name: String, seeds: [Data], budget: FuzzBudget, focus: Int = 4096, workDir: String,
             structured: ((inout FuzzMutator, Data) -> Data)? = nil,
             file: StaticString = #filePath, line: UInt = #line, _ body: (Data) throws -> Void) -> Int {
    var mutator = FuzzMutator(seed: budget.seed, seeds: seeds, focus: focus)
    let current = "\(workDir)/\(name)-current-input.bin"
    let start = Date()
    var runs = 0, accepted = 0, refused = 0
    var failures: [String] = []
    let watchdog = FuzzWatchdog(name: name, inputPath: current)
    defer { watchdog.stop() }
    print("fuzz \(name): seed \(budget.seed), \(budget.seconds.map { "\($0) s" } ?? "\(budget.inputs) inputs"); a crashing input is left in \(current)")
    while budget.seconds.map({ Date().timeIntervalSince(start) < $0 }) ?? (runs < budget.inputs) {
        let input: Data
        if runs < seeds.count { input = seeds[runs] }
        else if let structured, mutator.below(2) == 0 {
            var bytes = [UInt8](structured(&mutator, mutator.seeds[mutator.below(mutator.seeds.count)]))
            if mutator.below(4) == 0 { for _ in 0..<(1 + mutator.below(2)) { mutator.mutate(&bytes) } }
            input = Data(bytes)
        } else { input = mutator.next() }
        try? input.write(to: URL(fileURLWithPath: current))
        watchdog.begin(runs)
        do { try body(input); accepted += 1 } catch is DinoSegError { refused += 1 } catch {
            let saved = "\(workDir)/\(name)-failure-\(failures.count).bin"
            try? input.write(to: URL(fileURLWithPath: saved))
            failures.append("\(type(of: error)): \(error) (input saved as \(saved))")
        }
        watchdog.end()
        runs += 1
    }
    unlink(current)
    let seconds = Date().timeIntervalSince(start)
    print(String(format: "fuzz %@: %d inputs (%d parsed, %d refused with a DinoSeg error), 0 crashes, %.1f s, slowest input %.2f s, %d MB resident at the end",
                 name, runs, accepted, refused, seconds, watchdog.slowest, FuzzWatchdog.residentMB()))
    if let first = failures.first {
        XCTFail("fuzz \(name): \(failures.count) input(s) threw a non-DinoSeg error; first: \(first)", file: file, line: line)
    }
    return runs
}

/// The per-input time and memory limit: a thread that looks at the running input every 50 ms and, when it has run
/// past the limit or the process is past the memory limit, prints which input (kept in `inputPath`) and ends the
/// process (the work cannot be interrupted from outside, and a hang must not stall the suite).
final class FuzzWatchdog: @unchecked Sendable {
    let name: String, inputPath: String
    let limitSeconds: Double, limitMB: Int
    private let lock = NSLock()
    private var running: (index: Int, since: Date)?
    private var stopped = false
    private(set) var slowest = 0.0

    init(name: String, inputPath: String) {
        let env = ProcessInfo.processInfo.environment
        self.name = name
        self.inputPath = inputPath
        limitSeconds = env["FUZZ_INPUT_SECONDS"].flatMap(Double.init) ?? 30
        limitMB = env["FUZZ_MAX_RSS_MB"].flatMap(Int.init) ?? 3072
        Thread.detachNewThread { [self] in watch() }
    }

    func begin(_ index: Int) { lock.withLock { running = (index, Date()) } }

    func end() {
        lock.withLock {
            if let r = running { slowest = max(slowest, Date().timeIntervalSince(r.since)) }
            running = nil
        }
    }

    func stop() { lock.withLock { stopped = true } }

    private func watch() {
        while true {
            usleep(50_000)
            let state = lock.withLock { (stopped, running) }
            if state.0 { return }
            guard let (index, since) = state.1 else { continue }
            let seconds = Date().timeIntervalSince(since), mb = Self.residentMB()
            if seconds > limitSeconds || mb > limitMB {
                let saved = "\(inputPath).\(seconds > limitSeconds ? "hang" : "memory")"
                try? FileManager.default.copyItem(atPath: inputPath, toPath: saved)
                let why = seconds > limitSeconds ? String(format: "ran %.0f s (limit %.0f s, FUZZ_INPUT_SECONDS)", seconds, limitSeconds)
                    : "grew the process to \(mb) MB (limit \(limitMB) MB, FUZZ_MAX_RSS_MB)"
                FileHandle.standardError.write(Data("fuzz \(name): input \(index) \(why); saved as \(saved)\n".utf8))
                print("fuzz \(name): input \(index) \(why); saved as \(saved)")
                exit(2)
            }
        }
    }

    /// The process's resident memory in MB (Linux /proc/self/statm; 0 elsewhere).
    static func residentMB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (pages * Int(sysconf(Int32(_SC_PAGESIZE)))) >> 20
    }
}
