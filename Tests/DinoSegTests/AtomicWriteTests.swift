import XCTest
@testable import DinoSegCore

/// Atomic writes: temporaries are made exclusively under unpredictable names, planted files and symlinks beside the
/// target are never written through, and nothing is left behind.
final class AtomicWriteTests: TempDirTestCase {
    override class var tempTag: String { "atomic" }

    func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
    func leftovers() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: tmp).filter { $0.contains(".tmp-") } }

    /// The name earlier versions used (".NAME.tmp-PID") pointing at a file the user owns elsewhere: writing the target
    /// must neither follow the link nor touch that file.
    func testPlantedSymlinkAtTheOldTemporaryNameIsNotFollowed() throws {
        let victim = tmp + "/victim.png"
        try Data("ground truth".utf8).write(to: URL(fileURLWithPath: victim))
        let target = tmp + "/metrics.json"
        let planted = tmp + "/.metrics.json.tmp-\(getpid())"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)

        try AtomicWrite.write(Data("{\"mIoU\":1}".utf8), to: target)
        XCTAssertEqual(try contents(victim), "ground truth", "the symlinked file was written through")
        XCTAssertEqual(try contents(target), "{\"mIoU\":1}")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: planted), victim)

        let viaLibrary = tmp + "/labels.bin"
        try FileManager.default.createSymbolicLink(atPath: tmp + "/.labels.bin.tmp-\(getpid())", withDestinationPath: victim)
        try AtomicWrite.withTemporary(for: viaLibrary) { tmp in
            try Data("new".utf8).write(to: URL(fileURLWithPath: tmp))
        }
        XCTAssertEqual(try contents(victim), "ground truth", "withTemporary wrote through the planted link")
        XCTAssertEqual(try contents(viaLibrary), "new")
    }

    func testTemporariesAreUniqueExclusiveAndRemoved() throws {
        let target = tmp + "/a.txt"
        let first = try AtomicWrite.reserveTemporary(for: target), second = try AtomicWrite.reserveTemporary(for: target)
        XCTAssertNotEqual(first, second)
        XCTAssertTrue(first.hasPrefix(AtomicWrite.temporaryPrefix(for: target)), first)
        let attributes = try FileManager.default.attributesOfItem(atPath: first)
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeRegular)
        XCTAssertEqual((attributes[.size] as? NSNumber)?.intValue, 0)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o644)
        unlink(first); unlink(second)

        try AtomicWrite.write(Data("one".utf8), to: target)
        try AtomicWrite.write(Data("two".utf8), to: target)
        XCTAssertEqual(try contents(target), "two")
        XCTAssertEqual(try leftovers(), [])

        // A body that fails leaves neither a temporary nor a target.
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicWrite.withTemporary(for: tmp + "/b.txt") { _ in throw Boom() })
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/b.txt"))
        XCTAssertEqual(try leftovers(), [])
    }

    /// The target itself a symlink: rename replaces the link, so the file it pointed at keeps its content.
    func testSymlinkedTargetIsReplacedNotWrittenThrough() throws {
        let victim = tmp + "/victim.txt", target = tmp + "/best.txt"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: victim)
        try AtomicWrite.write(Data("run-3".utf8), to: target)
        XCTAssertEqual(try contents(victim), "keep")
        XCTAssertEqual(try contents(target), "run-3")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: target)[.type] as? FileAttributeType, .typeRegular)
    }
}
