// Checks on where results will be written, made before a long computation starts: an unwritable directory or an
// image id that cannot be a file name must not cost an evaluation its metrics.
import Foundation

package enum OutputCheck {
    /// Creates `dir` (mkdir -p) and proves it writable by creating and removing a file in it (access(2) would not see
    /// a read-only mount, and says nothing useful for root).
    package static func writableDirectory(_ dir: String, what: String) throws {
        try FileSystem.createDirectory(dir, what: what)
        let probe = dir + "/.dinoseg-write-check-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            throw DinoSegError(file: dir, "\(what) is not writable: \(String(cString: strerror(errno)))")
        }
        close(fd)
        unlink(probe)
    }

    /// Nil when `name` can be a file name inside a directory, else why not.
    static func fileNameProblem(_ name: String) -> String? {
        if name.isEmpty || name == "." || name == ".." { return "is not a file name" }
        if name.contains("/") { return "contains '/'" }
        if name.utf8.contains(0) { return "contains a NUL byte" }
        if name.utf8.count > 240 { return "is longer than 240 bytes" }
        return nil
    }

    /// Refuses, before any work, ids whose output files (id + each suffix) are not valid names or would be written
    /// twice (id "a_colour" + ".png" is id "a" + "_colour.png").
    package static func checkOutputNames(ids: [String], suffixes: [String], flag: String) throws {
        var owner: [String: String] = [:]
        for id in ids {
            if let problem = fileNameProblem(id) {
                throw DinoSegError(file: flag, "image id '\(id)' \(problem), so its prediction cannot be saved under that name")
            }
            for suffix in suffixes {
                let name = id + suffix
                if let other = owner[name], other != id {
                    throw DinoSegError(file: flag, "images '\(other)' and '\(id)' would both write \(name)")
                }
                owner[name] = id
            }
        }
    }

    /// (device, inode) of the files that exist among `paths`.
    static func fileIdentities(_ paths: [String]) -> Set<[UInt64]> {
        var out = Set<[UInt64]>()
        for p in paths {
            var st = stat()
            if stat(p, &st) == 0 { out.insert([UInt64(st.st_dev), UInt64(st.st_ino)]) }
        }
        return out
    }

    /// One output stem per input photo, in order: the photo's base name, or NAME-2, NAME-3, … when an earlier photo
    /// took it or when one of its files (stem + each suffix in `dir`) is one of the inputs, so an output never
    /// replaces a photo (compared by device and inode: symbolic links, `..` and hard links included) or another
    /// photo's output.
    package static func uniqueStems(inputs: [String], suffixes: [String], in dir: String) -> [String] {
        let inputFiles = fileIdentities(inputs)
        var taken = Set<String>()
        var stems: [String] = []
        for path in inputs {
            var base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            if fileNameProblem(base) != nil { base = "image" }
            var n = 1
            while true {
                let stem = n == 1 ? base : "\(base)-\(n)"
                let names = suffixes.map { stem + $0 }
                let free = names.allSatisfy { !taken.contains($0) }
                    && fileIdentities(names.map { dir + "/" + $0 }).isDisjoint(with: inputFiles)
                if free {
                    taken.formUnion(names)
                    stems.append(stem)
                    break
                }
                n += 1
            }
        }
        return stems
    }
}
