import Foundation
import XCTest
@testable import DinoSegCore

// The tests' one temporary-directory helper: every test that needs a directory takes it from here and removes it in
// its tearDown or a defer (or takes it from `tempDir`, which removes it after the test), so nothing is left in the
// temporary directory.

/// A new directory under the temporary directory, named dinoseg-<tag>-XXXXXX and created by mkdtemp, so two tests
/// (or two runs of the suite at once) never share one.
func makeTempDir(_ tag: String) throws -> String {
    let pattern = FileManager.default.temporaryDirectory.appendingPathComponent("dinoseg-\(tag)-XXXXXX").path
    var template = Array(pattern.utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!).map { String(cString: $0) } }
    guard let made else { throw DinoSegError(file: pattern, "mkdtemp failed: \(String(cString: strerror(errno)))") }
    return made
}

extension XCTestCase {
    /// `makeTempDir` for one test: the directory is removed when the test ends, whatever its outcome.
    func tempDir(_ tag: String) throws -> String {
        let dir = try makeTempDir(tag)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}

/// A test class whose every test gets a fresh directory `tmp` (made in setUp, removed in tearDown), for classes whose
/// tests all work on disk. Subclasses name the directory with `tempTag`.
class TempDirTestCase: XCTestCase {
    var tmp = ""

    /// The tag in the directory's name (dinoseg-<tag>-XXXXXX), so a directory left by a killed run says whose it is.
    class var tempTag: String { "test" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        tmp = try makeTempDir(Self.tempTag)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: tmp)
        super.tearDown()
    }
}
