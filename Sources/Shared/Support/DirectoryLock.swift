// An exclusive lock on a directory one job writes (a run, a sweep, a feature cache), so that a second command on the
// same directory is refused instead of interleaving its files with the first one's. flock(2) on DIR/.lock: the kernel
// drops the lock when its holder ends, even on a kill, so the .lock file left behind never blocks anything; the file
// holds the holder's PID for the refusal message. Under mpirun only the rank that writes the directory's records
// (rank 0 of the job, or of the group training a sweep job) takes the lock, so the ranks of one job never refuse
// each other.
import Foundation

package final class DirectoryLock {
    static let fileName = ".lock"

    /// The open lock file (-1 when the file system has no locks, see init).
    private var descriptor: Int32

    /// Takes the lock of `directory` (which must exist); `what` names it in the refusal ("run directory", …).
    package init(directory: String, what: String) throws {
        let path = directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DinoSegError(file: directory, "cannot lock the \(what): \(String(cString: strerror(errno))) (\(path))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let reason = errno
            // A file system without flock (some network mounts): run unlocked rather than not at all.
            if reason == ENOLCK || reason == EOPNOTSUPP || reason == ENOSYS {
                close(fd)
                descriptor = -1
                return
            }
            let holder = Self.holder(fd)
            close(fd)
            guard reason == EWOULDBLOCK else {
                throw DinoSegError(file: directory, "cannot lock the \(what): \(String(cString: strerror(reason))) (\(path))")
            }
            throw DinoSegError(file: directory, "the \(what) is in use by \(holder.map { "process \($0)" } ?? "another process") (it holds \(path)); wait for it to end or choose another directory")
        }
        descriptor = fd
        let pid = Data("\(getpid())\n".utf8)
        // Best effort: the PID only improves the message another process prints.
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
    }

    deinit { release() }

    /// Gives the lock up (closing the file releases the flock); also done when the lock is deallocated.
    package func release() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    /// The PID written by the holder, when it has been written yet.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
