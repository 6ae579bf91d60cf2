import Foundation

/// Writes go to a temporary file beside the target and are renamed into place only when complete, so an interrupted
/// run never leaves a half-written file under the final name.
///
/// The temporary is created by this process alone (O_CREAT|O_EXCL|O_NOFOLLOW under an unpredictable name), so a file
/// or symlink someone planted beside the target is never opened or written through. Before the rename the file's data
/// is flushed (fsync), and after it the directory entry, so a power cut leaves the old file or the new one, never an
/// empty or partial one under the final name.
package enum AtomicWrite {
    /// The prefix every temporary of `path` has: ".NAME.tmp-" (cleanup of interrupted runs looks for it).
    static func temporaryPrefix(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-").path
    }

    /// Creates a new, empty temporary file for `path` (mode 0644) that no other process or link can have made, and
    /// returns its path and an open write descriptor.
    static func createTemporary(for path: String) throws -> (path: String, fd: Int32) {
        let prefix = temporaryPrefix(for: path)
        // A collision of 64 random bits is only ever an attacker's planted name; a few fresh tries get past it.
        for _ in 0..<8 {
            let candidate = prefix + "\(getpid())-" + String(UInt64.random(in: .min ... .max), radix: 16)
            let fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 { return (candidate, fd) }
            if errno != EEXIST { throw DinoSegError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
        }
        throw DinoSegError(file: path, "cannot write: could not create a unique temporary file beside it")
    }

    /// Creates the temporary for a library that opens the file itself (HDF5, libpng, libjpeg): the name is reserved
    /// with O_EXCL here, and the library then truncates the empty file it finds.
    package static func reserveTemporary(for path: String) throws -> String {
        let (tmp, fd) = try createTemporary(for: path)
        close(fd)
        return tmp
    }

    /// Moves a finished temporary file into place (rename(2) is atomic within one file system), its data flushed
    /// first and the directory entry after.
    package static func commit(temporary: String, to path: String) throws {
        do {
            try syncFile(temporary, reporting: path)
        } catch {
            unlink(temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DinoSegError(file: path, "cannot move finished file into place: \(reason)")
        }
        try syncDirectory(of: path)
    }

    /// write(2) until all of `data` is written (retrying on EINTR); 0, or the errno of the failed call. FileHandle's
    /// write traps on an error such as a full disk; this lets the caller throw one line.
    package static func writeAll(_ data: Data, to fd: Int32) -> Int32 {
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return 0
        }
    }

    /// Writes `data` to `path` atomically.
    package static func write(_ data: Data, to path: String) throws {
        let (tmp, fd) = try createTemporary(for: path)
        // POSIX calls, so the error is strerror's one line rather than a Foundation error dump.
        var failure = writeAll(data, to: fd)
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            unlink(tmp)
            throw DinoSegError(file: path, "cannot write: \(String(cString: strerror(failure)))")
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw DinoSegError(file: path, "cannot move finished file into place: \(reason)")
        }
        try syncDirectory(of: path)
    }

    /// Runs `body` with a temporary path to fill, then renames it to `path`; removes the temporary on error.
    package static func withTemporary<T>(for path: String, _ body: (String) throws -> T) throws -> T {
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
        let tmp = try reserveTemporary(for: path)
        do {
            let result = try body(tmp)
            try commit(temporary: tmp, to: path)
            return result
        } catch {
            unlink(tmp)
            throw error
        }
    }

    /// fsync of a file a library wrote and closed (O_NOFOLLOW: the temporary must still be the file made here).
    static func syncFile(_ file: String, reporting path: String) throws {
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw DinoSegError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw DinoSegError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
    }

    /// fsync of the directory holding `path`, so the rename itself survives a power cut. File systems that cannot
    /// sync a directory (EINVAL, ENOTSUP) have nothing to flush; other failures are real write errors.
    static func syncDirectory(of path: String) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw DinoSegError(file: path, "cannot sync its directory: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP {
            throw DinoSegError(file: path, "cannot sync its directory: \(String(cString: strerror(errno)))")
        }
    }
}
