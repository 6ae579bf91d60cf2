// Byte identity of files and caches, failing with one line: the first differing file and byte offset.
import XCTest
@testable import DinoSegCache

/// nil when equal, else "differ at byte N of (size a, size b): 0xAA vs 0xBB".
func byteDifference(_ a: Data, _ b: Data) -> String? {
    if a == b { return nil }
    let offset = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
    let byte = { (d: Data) in offset < d.count ? String(format: "0x%02x", d[d.startIndex + offset]) : "end of file" }
    return "differ at byte \(offset) (sizes \(a.count) and \(b.count)): \(byte(a)) vs \(byte(b))"
}

/// The finished shards of two caches (in index order) and their manifests' shard tables are byte-identical.
func assertSameShards(_ actualDir: String, _ expectedDir: String, seed: (any CustomStringConvertible)?, what: String,
                      file: StaticString = #filePath, line: UInt = #line) throws {
    let a = try CacheManifest.load(directory: actualDir), e = try CacheManifest.load(directory: expectedDir)
    let head = "\(what) (\(seed.map { "seed \($0)" } ?? "fixed input"))"
    guard a.shards.map(\.file) == e.shards.map(\.file) else {
        return XCTFail("\(head): shard files \(a.shards.map(\.file)) vs \(e.shards.map(\.file))", file: file, line: line)
    }
    for (sa, se) in zip(a.shards, e.shards) {
        let da = try Data(contentsOf: URL(fileURLWithPath: "\(actualDir)/\(sa.file)"))
        let de = try Data(contentsOf: URL(fileURLWithPath: "\(expectedDir)/\(se.file)"))
        if let d = byteDifference(da, de) { return XCTFail("\(head): \(sa.file) \(d)", file: file, line: line) }
    }
    if a.shards != e.shards { XCTFail("\(head): shard tables differ although the files are equal", file: file, line: line) }
}
