import Foundation

/// Writes go to a temporary file beside the target and are renamed into place only when complete, so an interrupted
/// run never leaves a half-written file under the final name.
public enum AtomicWrite {
    /// Temporary path used while `path` is being written.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    }

    /// Moves a finished temporary file into place (rename(2) is atomic within one file system).
    public static func commit(temporary: String, to path: String) throws {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DinoSegError(file: path, "cannot move finished file into place: \(reason)")
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        let tmp = temporaryPath(for: path)
        // POSIX calls, so the error is strerror's one line rather than a Foundation error dump.
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw DinoSegError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                done += n
            }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            unlink(tmp)
            throw DinoSegError(file: path, "cannot write: \(String(cString: strerror(failure)))")
        }
        try commit(temporary: tmp, to: path)
    }

    /// Runs `body` with a temporary path to fill, then renames it to `path`; removes the temporary on error.
    public static func withTemporary<T>(for path: String, _ body: (String) throws -> T) throws -> T {
        // Checked here so the error names the file asked for, not the temporary a library failed to create.
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir) else {
            throw DinoSegError(file: path, "cannot write: directory \(parent) does not exist")
        }
        guard isDir.boolValue else { throw DinoSegError(file: path, "cannot write: \(parent) is not a directory") }
        if access(parent, W_OK) != 0 {
            throw DinoSegError(file: path, "cannot write: \(String(cString: strerror(errno))) (directory \(parent))")
        }
        let tmp = temporaryPath(for: path)
        do {
            let result = try body(tmp)
            try commit(temporary: tmp, to: path)
            return result
        } catch {
            unlink(tmp)
            throw error
        }
    }
}
