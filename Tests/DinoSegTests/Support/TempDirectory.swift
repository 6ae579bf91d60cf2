import Foundation

// The tests' one temporary-directory helper: every test that needs a directory takes it from here and removes it in
// its tearDown or a defer, so nothing is left in the temporary directory.

/// A fresh temporary directory per test.
func makeTempDir(_ tag: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("dinoseg-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
