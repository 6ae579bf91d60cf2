import DinoSegCore
// Image ids come from list files (and from the manifests of caches made from them) and become file names: the
// image and label paths, and the PNGs of `--save-predictions` and `extract preview`. An id is a name, never a path, so
// no list can make a command read or write outside the dataset root or the output directory.

package enum SampleID {
    /// What is wrong with `id` as a file name, or nil when it is a plain name ("2007_000032", "ADE_train_00000001").
    package static func problem(_ id: String) -> String? {
        if id.isEmpty { return "is empty" }
        if id == "." || id == ".." { return "is '\(id)', a directory reference" }
        if id.contains("/") { return "contains '/': ids are file names without a directory part" }
        if id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "contains a control character"
        }
        return nil
    }

    /// Throws naming the list file and line when `id` is not a plain name.
    static func check(_ id: String, list: String, line: Int) throws {
        if let p = problem(id) { throw DinoSegError(file: list, "line \(line): id '\(id)' \(p)") }
    }

    /// The paths of an "image label" pair line stay under the dataset root: relative, with no '..' component.
    static func checkRelative(_ path: String, list: String, line: Int) throws {
        if path.hasPrefix("/") {
            throw DinoSegError(file: list, "line \(line): '\(path)' is absolute; pair paths are relative to the dataset root")
        }
        if path.split(separator: "/").contains("..") {
            throw DinoSegError(file: list, "line \(line): '\(path)' contains '..'; pair paths must stay inside the dataset root")
        }
    }
}
