import Foundation
import DinoSegCore
// A list file names a split's samples, one per line, in either of two forms:
//   an id                                    "2007_000032"   (the layout says where its image and label are)
//   an image/label pair relative to the root "JPEGImages/2007_000032.jpg SegmentationClassAug/2007_000032.png"

package enum ListFile {
    /// The samples `path` lists; refuses bad lines, an empty list and a repeated id, naming the file and line.
    package static func read(_ path: String, layout: DatasetLayout) throws -> [SegmentationSample] {
        // ADE20K's training split as pairs is about 2 MB; 256 MiB is far past any real list.
        let text = try FileSystem.readText(path, limit: maxBytes, what: "list file")
        var samples: [SegmentationSample] = []
        for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            switch fields.count {
            case 0: continue
            case 1:
                try SampleID.check(fields[0], list: path, line: n + 1)
                samples.append(layout.sample(id: fields[0]))
            case 2:
                for p in fields { try SampleID.checkRelative(p, list: path, line: n + 1) }
                let id = URL(fileURLWithPath: fields[0]).deletingPathExtension().lastPathComponent
                try SampleID.check(id, list: path, line: n + 1)
                samples.append(SegmentationSample(id: id, imagePath: "\(layout.root)/\(fields[0])",
                                                  labelPath: "\(layout.root)/\(fields[1])"))
            default:
                throw DinoSegError(file: path, "line \(n + 1): expected an id or 'image label', got \(fields.count) fields")
            }
        }
        if samples.isEmpty { throw DinoSegError(file: path, "list is empty") }
        try checkUnique(samples, source: path)
        return samples
    }

    /// A repeated id would be extracted (and weighted in training and metrics) twice; refuse rather than guess which
    /// entry was meant.
    package static func checkUnique(_ samples: [SegmentationSample], source: String) throws {
        var first: [String: Int] = [:]
        for (n, s) in samples.enumerated() {
            if let f = first[s.id] {
                throw DinoSegError(file: source, "id '\(s.id)' is listed twice (entries \(f + 1) and \(n + 1)); remove the duplicate")
            }
            first[s.id] = n
        }
    }

    package static let maxBytes = 256 << 20

    package enum Kind { case regular, other, missing }

    /// stat(2), following symlinks (a linked list file is fine): regular file, something else, or nothing.
    package static func kind(_ path: String) -> Kind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        return (st.st_mode & S_IFMT) == S_IFREG ? .regular : .other
    }
}
