import Foundation
// The classes of a folder dataset (Data/FolderLayout.swift) as data: ROOT/classes.txt, one class per line, class i
// being mask value i:
//   # comment                       skipped, as are blank lines
//   background 0 0 0                a one-word name, optionally followed by its colour R G B (0–255 each)
//   road 128 64 128
// Either every class has a colour or none has (then VOC's bit-interleave colours). Names are one word so a colour can
// never be mistaken for part of a name.

package enum FolderClasses {
    package static let fileName = "classes.txt"

    /// Class names and palette (3 bytes per class) read from `path`.
    package static func read(_ path: String) throws -> (names: [String], palette: [UInt8]) {
        // 255 classes of 200-byte names and colours fit in 64 KiB many times over.
        try parse(try FileSystem.readText(path, limit: 1 << 20, what: "class list"), path: path)
    }

    /// One parsed line: its number (1-based), name and colour if given.
    struct Entry {
        var line: Int
        var name: String
        var colour: [UInt8]?
    }

    /// Parses the text of a class list; errors name `path` and the line.
    package static func parse(_ text: String, path: String) throws -> (names: [String], palette: [UInt8]) {
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let entry = try parseLine(line, number: n + 1, path: path)
            if let first = seen[entry.name] {
                throw DinoSegError(file: path, "line \(n + 1): class '\(entry.name)' is already named on line \(first)")
            }
            seen[entry.name] = n + 1
            entries.append(entry)
        }
        try checkColours(entries, path: path)
        let range = DatasetDescription.minClasses...DatasetDescription.maxClasses
        guard range.contains(entries.count) else {
            throw DinoSegError(file: path, "lists \(entries.count) class\(entries.count == 1 ? "" : "es"); 2–255 are supported (mask values are one byte, 255 is ignored)")
        }
        let palette = entries.allSatisfy({ $0.colour != nil }) ? entries.flatMap { $0.colour! }
                                                               : Array(VOC.palette[0..<(3 * entries.count)])
        return (entries.map(\.name), palette)
    }

    /// "name" or "name R G B".
    static func parseLine(_ line: String, number: Int, path: String) throws -> Entry {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        func bad(_ what: String) -> DinoSegError { DinoSegError(file: path, "line \(number): \(what)") }
        switch fields.count {
        case 1: return Entry(line: number, name: fields[0], colour: nil)
        case 4:
            let colour = try fields[1...].map { f -> UInt8 in
                guard let v = UInt8(f) else { throw bad("colour component '\(f)' of class '\(fields[0])' is not a whole number in 0–255") }
                return v
            }
            return Entry(line: number, name: fields[0], colour: colour)
        default:
            throw bad("expected 'name' or 'name R G B', got \(fields.count) fields (class names are one word: write '_' for a space)")
        }
    }

    /// Every class has a colour, or none has: a partial palette would leave some classes with an arbitrary colour.
    static func checkColours(_ entries: [Entry], path: String) throws {
        guard let with = entries.first(where: { $0.colour != nil }), let without = entries.first(where: { $0.colour == nil }) else { return }
        throw DinoSegError(file: path, "line \(without.line): class '\(without.name)' has no colour but line \(with.line) gives one; give every class a colour or none")
    }

    /// The text of a class list naming `names` with their colours (`palette`, 3 bytes per class).
    package static func text(names: [String], palette: [UInt8]) -> String {
        names.enumerated().map { c, name in
            "\(name) \(palette[3 * c]) \(palette[3 * c + 1]) \(palette[3 * c + 2])\n"
        }.joined()
    }
}
