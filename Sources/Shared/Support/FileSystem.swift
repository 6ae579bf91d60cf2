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
}
