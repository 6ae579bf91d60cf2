import Foundation
import DinoSegCore
// The train/val split of a folder dataset without split lists (FolderLayout). Val is the round(n · fraction) images
// (at least one, at most n − 1) whose hash of (seed, id) is smallest, train the rest, both in id order. It depends only
// on (seed, fraction, the ids): no file is written, and adding images moves few of the others between the two.
//
// A cache records the split as "NAME@val-fraction=F,split-seed=S" (its `listFile`), a split name SegmentationDataset
// passes back to the layout, so the manifest says which images it holds and a later run re-creates them.

struct SeededSplit: Equatable {
    static let names = ["train", "val"]
    var name: String
    var options: LayoutOptions

    /// The recorded form, "train@val-fraction=0.1,split-seed=0" (no '/' and no .txt: it stays a split name).
    var listName: String { "\(name)@val-fraction=\(options.valFraction),split-seed=\(options.splitSeed)" }

    /// The rule for the description's `splits`: "seeded 0.9/0.1 seed 0".
    static func rule(_ o: LayoutOptions) -> String {
        String(format: "seeded %g/%g seed ", 1 - o.valFraction, o.valFraction) + "\(o.splitSeed)"
    }

    /// "train" (with `options`) or a recorded "train@val-fraction=F,split-seed=S" (with its own); nil when `list` is
    /// neither. A recorded split whose options differ from `options` is refused: the description of this run records
    /// `options`, and a cache must not claim one split while holding another.
    static func parse(_ list: String, options: LayoutOptions, root: String) throws -> SeededSplit? {
        let parts = list.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard names.contains(parts[0]) else { return nil }
        guard parts.count == 2 else { return SeededSplit(name: parts[0], options: options) }
        let recorded = try recordedOptions(parts[1], list: list, root: root)
        guard recorded == options else {
            throw DinoSegError(file: root, "split '\(list)' is the seeded split of --val-fraction \(recorded.valFraction) --split-seed \(recorded.splitSeed), but this run has --val-fraction \(options.valFraction) --split-seed \(options.splitSeed); pass the split's flags to use it")
        }
        return SeededSplit(name: parts[0], options: options)
    }

    /// "val-fraction=F,split-seed=S", both required, F in (0, 1).
    static func recordedOptions(_ text: String, list: String, root: String) throws -> LayoutOptions {
        var fields: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { fields[kv[0]] = kv[1] }
        }
        guard fields.count == 2, let f = fields["val-fraction"].flatMap(Double.init), f > 0, f < 1,
              let s = fields["split-seed"].flatMap(UInt64.init) else {
            throw DinoSegError(file: root, "split '\(list)': expected NAME@val-fraction=F,split-seed=S with F in (0, 1)")
        }
        var o = LayoutOptions()
        o.valFraction = f; o.splitSeed = s
        return o
    }

    /// The number of val images among `n` (n ≥ 2).
    static func valCount(_ n: Int, fraction: Double) -> Int {
        max(1, min(n - 1, Int((Double(n) * fraction).rounded())))
    }

    /// The position of `id` in the seeded order: FNV-1a of its bytes, mixed with the seed by SplitMix64.
    static func key(_ id: String, seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        var rng = SplitMix64(seed: seed, Int(truncatingIfNeeded: h))
        return rng.next()
    }

    /// This split's ids among `ids` (sorted, at least 2), in id order.
    func select(_ ids: [String]) -> [String] {
        let ranked = ids.map { (key: Self.key($0, seed: options.splitSeed), id: $0) }
            .sorted { $0.key != $1.key ? $0.key < $1.key : $0.id < $1.id }
        let val = Set(ranked.prefix(Self.valCount(ids.count, fraction: options.valFraction)).map(\.id))
        return ids.filter { val.contains($0) == (name == "val") }
    }
}
