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
/// Returns the number of inputs run.
@discardableResult
func runFuzz(_ name: String, seeds: [Data], budget: FuzzBudget, focus: Int = 4096, workDir: String,
             file: StaticString = #filePath, line: UInt = #line, _ body: (Data) throws -> Void) -> Int {
    var mutator = FuzzMutator(seed: budget.seed, seeds: seeds, focus: focus)
    let current = "\(workDir)/\(name)-current-input.bin"
    let start = Date()
    var runs = 0, accepted = 0, refused = 0
    var failures: [String] = []
    print("fuzz \(name): seed \(budget.seed), \(budget.seconds.map { "\($0) s" } ?? "\(budget.inputs) inputs"); a crashing input is left in \(current)")
    while budget.seconds.map({ Date().timeIntervalSince(start) < $0 }) ?? (runs < budget.inputs) {
        let input = runs < seeds.count ? seeds[runs] : mutator.next()
        try? input.write(to: URL(fileURLWithPath: current))
        do { try body(input); accepted += 1 } catch is DinoSegError { refused += 1 } catch {
            let saved = "\(workDir)/\(name)-failure-\(failures.count).bin"
            try? input.write(to: URL(fileURLWithPath: saved))
            failures.append("\(type(of: error)): \(error) (input saved as \(saved))")
        }
        runs += 1
    }
    unlink(current)
    let seconds = Date().timeIntervalSince(start)
    print(String(format: "fuzz %@: %d inputs (%d parsed, %d refused with a DinoSeg error), 0 crashes, %.1f s",
                 name, runs, accepted, refused, seconds))
    if let first = failures.first {
        XCTFail("fuzz \(name): \(failures.count) input(s) threw a non-DinoSeg error; first: \(first)", file: file, line: line)
    }
    return runs
}
