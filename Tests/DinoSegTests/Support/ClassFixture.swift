import Foundation

/// What a test class makes once and its tests share (a dataset, a cache, a reference run), in a temporary directory of
/// its own: made on first use; a failure is kept, so every later test fails with the same error instead of making it
/// again; `remove()` in the class's tearDown deletes the directory.
final class ClassFixture<Value> {
    private let tag: String
    private var directory: String?
    private var made: Result<Value, Error>?

    /// `tag` names the directory (dinoseg-<tag>-XXXXXX).
    init(tag: String) { self.tag = tag }

    /// The fixture, made by `make` in a new directory the first time it is asked for.
    func get(_ make: (_ directory: String) throws -> Value) throws -> Value {
        if made == nil {
            made = Result {
                let dir = try makeTempDir(tag)
                directory = dir
                return try make(dir)
            }
        }
        return try made!.get()
    }

    func remove() {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}
