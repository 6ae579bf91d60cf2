// Directory creation with one-line errors: Foundation's errors print as "NSCocoaErrorDomain Code=4 …" dumps on Linux,
// so this uses mkdir(2) and names the path and strerror's reason.
import Foundation

package enum FileSystem {
    /// `mkdir -p path`. `what` says what the directory is for ("output directory", "run directory", …).
    package static func createDirectory(_ path: String, what: String = "directory") throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { return }
            throw DinoSegError(file: path, "cannot create \(what): a file of that name exists")
        }
        let absolute = path.hasPrefix("/")
        var prefix = absolute ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                let reason = String(cString: strerror(errno))
                throw DinoSegError(file: path, "cannot create \(what): \(reason)"
                                   + (prefix == "./" + path || prefix == path ? "" : " (at \(prefix))"))
            }
        }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw DinoSegError(file: path, "cannot create \(what): a file is in the way")
        }
    }

    /// The UTF-8 text of a small file (a list or class file), refusing one larger than `limit` bytes before reading
    /// it, so a wrong path (a dataset archive, a device) costs no memory; `what` names the file in errors.
    package static func readText(_ path: String, limit: Int, what: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DinoSegError(file: path, "cannot read the \(what): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw DinoSegError(file: path, "the \(what) is not a regular file") }
        guard Int(st.st_size) <= limit else {
            throw DinoSegError(file: path, "the \(what) has \(st.st_size) bytes, more than the \(limit) a \(what) may have")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= limit else {
            throw DinoSegError(file: path, "cannot read the \(what)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw DinoSegError(file: path, "the \(what) is not UTF-8 text") }
        return text
    }
}
