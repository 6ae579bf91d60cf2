// Format-aware mutations: a byte flip in a JSON file or a PNG mostly produces a syntax or CRC error that the first
// check refuses, so these keep the container valid and change what is inside it. JSON: the parsed tree with values
// swapped for other types, NaN / Infinity tokens, huge and negative numbers, deep nesting, duplicate keys.
// safetensors: the header through the JSON mutations with its length prefix rewritten to match. PNG: chunk fields
// changed and the CRC recomputed. JPEG: the SOF segment's precision, size and component fields.
import Foundation
@testable import DinoSegCore

/// A JSON value that can also hold what JSONSerialization cannot write: raw tokens and objects with duplicate keys.
indirect enum FuzzJSON {
    case object([(String, FuzzJSON)])
    case array([FuzzJSON])
    case string(String)
    case raw(String)  // numbers, true/false/null, and invalid tokens (NaN, Infinity, 1e999)

    init(_ any: Any) {
        switch any {
        case let d as [String: Any]: self = .object(d.keys.sorted().map { ($0, FuzzJSON(d[$0]!)) })
        case let a as [Any]: self = .array(a.map(FuzzJSON.init))
        case let s as String: self = .string(s)
        case let n as NSNumber:
            if n.objCType.pointee == CChar(UInt8(ascii: "c")) { self = .raw(n.boolValue ? "true" : "false") }  // a JSON boolean
            else { self = .raw("\(n)") }
        default: self = .raw("null")
        }
    }

    var text: String {
        switch self {
        case let .object(pairs): return "{" + pairs.map { FuzzJSON.string($0.0).text + ":" + $0.1.text }.joined(separator: ",") + "}"
        case let .array(items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case let .string(s):
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])
            return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
        case let .raw(token): return token
        }
    }

    /// Number of nodes, for picking one uniformly.
    var count: Int {
        switch self {
        case let .object(p): return 1 + p.reduce(0) { $0 + $1.1.count }
        case let .array(a): return 1 + a.reduce(0) { $0 + $1.count }
        default: return 1
        }
    }

    /// Replaces node number `index` (pre-order) with `transform(node)`.
    func replacing(_ index: Int, _ transform: (FuzzJSON) -> FuzzJSON) -> FuzzJSON {
        var i = index
        return replacing(&i, transform)
    }

    private func replacing(_ i: inout Int, _ transform: (FuzzJSON) -> FuzzJSON) -> FuzzJSON {
        if i == 0 { i = -1; return transform(self) }
        i -= 1
        switch self {
        case let .object(pairs):
            return .object(pairs.map { ($0.0, i < 0 ? $0.1 : $0.1.replacing(&i, transform)) })
        case let .array(items):
            return .array(items.map { i < 0 ? $0 : $0.replacing(&i, transform) })
        default: return self
        }
    }

    static let numbers = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e308", "9223372036854775807",
                          "9223372036854775808", "-9223372036854775809", "18446744073709551616", "4294967296", "2147483648",
                          "-1", "0", "-0", "1", "2", "3", "1.5", "0.5", "1e-300", "5e-324", "65537", "100000000", "-2147483649"]

    /// One structural change at a random node.
    static func mutate(_ tree: FuzzJSON, _ m: inout FuzzMutator) -> FuzzJSON {
        let node = m.below(tree.count)
        let choice = m.below(9)
        return tree.replacing(node) { old in
            switch choice {
            case 0: return .raw(numbers[m.below(numbers.count)])
            case 1: return .string(["", "x", "NaN", "1", "-1", "null", String(repeating: "A", count: 1 + m.below(5000))][m.below(7)])
            case 2: return [.raw("null"), .raw("true"), .array([]), .object([])][m.below(4)]
            case 3:  // deep nesting around the node
                let depth = [2, 64, 1000, 100_000][m.below(4)]
                return .raw(String(repeating: "[", count: depth) + old.text + String(repeating: "]", count: depth))
            case 4:  // duplicate a key (or an array element) with another value
                switch old {
                case let .object(p) where !p.isEmpty:
                    let k = p[m.below(p.count)].0
                    return .object(p + [(k, .raw(numbers[m.below(numbers.count)]))])
                case let .array(a): return .array(a + a.prefix(1 + m.below(4)))
                default: return .array([old, old])
                }
            case 5:  // drop a member
                switch old {
                case let .object(p) where !p.isEmpty: var q = p; q.remove(at: m.below(p.count)); return .object(q)
                case let .array(a) where !a.isEmpty: var q = a; q.remove(at: m.below(a.count)); return .array(q)
                default: return .raw("null")
                }
            case 6:  // a huge array of numbers
                return .array(Array(repeating: .raw(numbers[m.below(numbers.count)]), count: [3, 1000, 100_000][m.below(3)]))
            case 7:  // scale a number
                if case let .raw(t) = old, let v = Double(t) {
                    let whole = Int64(exactly: v.rounded(.towardZero)) ?? Int64.max
                    return .raw(["\(whole.multipliedReportingOverflow(by: 1 << 20).partialValue)",
                                 "\(-v)", "\(v + 1)", "\(v - 1)", "\(v * 1e30)"][m.below(5)])
                }
                return .raw(numbers[m.below(numbers.count)])
            default:  // wrap the value in an array or an object (type swap)
                return m.below(2) == 0 ? .array([old]) : .object([("value", old)])
            }
        }
    }

    /// `seed` (JSON text) with 1...3 structural mutations, or nil when the seed does not parse.
    static func mutated(_ seed: Data, _ m: inout FuzzMutator) -> Data? {
        guard let any = try? JSONSerialization.jsonObject(with: seed, options: [.fragmentsAllowed]) else { return nil }
        var tree = FuzzJSON(any)
        for _ in 0..<(1 + m.below(3)) { tree = mutate(tree, &m) }
        return Data(tree.text.utf8)
    }
}

enum FuzzFormats {
    /// JSON files: structural mutations of a seed, one line at a time for JSON-lines files.
    static func json(lines: Bool = false) -> (inout FuzzMutator, Data) -> Data {
        { m, seed in
            guard lines else { return FuzzJSON.mutated(seed, &m) ?? seed }
            var rows = seed.split(separator: UInt8(ascii: "\n")).map { Data($0) }
            guard !rows.isEmpty else { return seed }
            for _ in 0..<(1 + m.below(3)) {
                let i = m.below(rows.count)
                rows[i] = FuzzJSON.mutated(rows[i], &m) ?? rows[i]
            }
            return Data(rows.joined(separator: [UInt8(ascii: "\n")])) + Data([UInt8(ascii: "\n")])
        }
    }

    /// safetensors: the header JSON mutated (including JSON strings inside `__metadata__`, e.g. a head's config),
    /// the 8-byte length prefix rewritten to the new header's length.
    static func safetensors(_ m: inout FuzzMutator, _ seed: Data) -> Data {
        let bytes = [UInt8](seed)
        guard bytes.count >= 8 else { return seed }
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard n <= bytes.count - 8 else { return seed }
        var header = Data(bytes[8..<(8 + n)])
        if m.below(3) == 0, var obj = (try? JSONSerialization.jsonObject(with: header)) as? [String: Any],
           var meta = obj["__metadata__"] as? [String: String], let key = meta.keys.sorted().randomElement(using: &m.rng),
           let inner = FuzzJSON.mutated(Data(meta[key]!.utf8), &m) {
            meta[key] = String(decoding: inner, as: UTF8.self)  // a metadata value that is itself JSON
            obj["__metadata__"] = meta
            header = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? header
        } else {
            header = FuzzJSON.mutated(header, &m) ?? header
        }
        let length = (0..<8).map { UInt8((header.count >> (8 * $0)) & 0xFF) }
        return Data(length) + header + Data(bytes[(8 + n)...])
    }

    /// PNG: one field of one chunk changed (IHDR's size, depth, colour type and interlace most of the time), the
    /// chunk's CRC recomputed so the change gets past the CRC check.
    static func png(_ m: inout FuzzMutator, _ seed: Data) -> Data {
        var b = [UInt8](seed)
        var chunks: [(start: Int, length: Int)] = []  // start of the type field, data length
        var p = 8
        while p + 12 <= b.count {
            let length = Int(b[p]) << 24 | Int(b[p + 1]) << 16 | Int(b[p + 2]) << 8 | Int(b[p + 3])
            guard p + 12 + length <= b.count else { break }
            chunks.append((p + 4, length))
            p += 12 + length
        }
        guard !chunks.isEmpty else { return seed }
        let chunk = m.below(2) == 0 ? chunks[0] : chunks[m.below(chunks.count)]
        let data = chunk.start + 4
        if chunk.length > 0 {
            if chunk.start == 12, chunk.length >= 13 {  // IHDR: width, height (4 bytes each), depth, colour, ..., interlace
                let field = [0, 4, 8, 9, 10, 11, 12][m.below(7)]
                if field < 8 {
                    let v = UInt32(truncatingIfNeeded: FuzzMutator.interesting[m.below(FuzzMutator.interesting.count)])
                    for i in 0..<4 { b[data + field + i] = UInt8((v >> (8 * (3 - UInt32(i)))) & 0xFF) }
                } else {
                    b[data + field] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 255][m.below(12)]
                }
            } else {
                b[data + m.below(chunk.length)] = UInt8(m.below(256))
            }
        }
        let crc = crc32(b[chunk.start..<(data + chunk.length)])
        for i in 0..<4 { b[data + chunk.length + i] = UInt8((crc >> (8 * (3 - UInt32(i)))) & 0xFF) }
        return Data(b)
    }

    static func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    /// JPEG: one field of the SOF segment (precision, height, width, component count, a component's id, sampling
    /// factors or quantisation table), or of the first DHT/DQT/SOS segment's header.
    static func jpeg(_ m: inout FuzzMutator, _ seed: Data) -> Data {
        var b = [UInt8](seed)
        var p = 2
        var sof: Int?
        var others: [Int] = []
        while p + 4 <= b.count, b[p] == 0xFF {
            let marker = b[p + 1], length = Int(b[p + 2]) << 8 | Int(b[p + 3])
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) { sof = p + 4 }
            else if [0xC4, 0xDB, 0xDA].contains(marker) { others.append(p + 4) }
            if marker == 0xDA { break }
            p += 2 + length
        }
        if let s = sof, m.below(4) != 0, s + 6 <= b.count {
            let values: [UInt8] = [0, 1, 2, 3, 4, 8, 12, 16, 0x11, 0x22, 0x44, 0x41, 0x14, 0xFF]
            switch m.below(5) {
            case 0: b[s] = values[m.below(values.count)]  // precision
            case 1, 2:  // height or width
                let at = s + 1 + 2 * m.below(2)
                let v = [0, 1, 2, 7, 8, 9, 16, 255, 256, 4097, 16384, 65500, 65535][m.below(13)]
                (b[at], b[at + 1]) = (UInt8(v >> 8), UInt8(v & 0xFF))
            case 3: b[s + 5] = [0, 1, 2, 3, 4, 5, 255][m.below(7)]  // component count
            default:  // a component's id, sampling factors or table
                let at = s + 6 + m.below(max(1, min(Int(b[s + 5]), 4) * 3))
                if at < b.count { b[at] = values[m.below(values.count)] }
            }
        } else if let o = others.randomElement(using: &m.rng), o + 1 < b.count {
            b[o + m.below(min(8, b.count - o))] = UInt8(m.below(256))
        }
        return Data(b)
    }
}
