// `extract check-ade20k`: inspects an ADEChallengeData2016 tree: every image has its annotation and vice versa, every
// annotation holds values 0–150, and the splits have the official sizes (20,210 training, 2,000 validation).
import Foundation
import DinoSegCore
import DinoSegKernels

package struct ADE20KCheckReport {
    package var lines: [String] = []
    package var problems: [String] = []
}

package enum ADE20KCheck {
    package static let splits = ["training", "validation"]
    package static let officialCounts = ["training": 20210, "validation": 2000]
    /// The largest annotation value (class 150, "flag").
    package static let maxValue = UInt8(ADE20K.storedLabels - 1)
    /// Out-of-range annotations named one by one; past this many, only counted (a wrongly converted copy has them all).
    static let namedBadFiles = 10

    static let hint = "download ADEChallengeData2016.zip from the MIT Scene Parsing benchmark (http://sceneparsing.csail.mit.edu/, served from data.csail.mit.edu), unzip it and pass its ADEChallengeData2016 directory as ROOT"

    /// Checks `root`; with `expectCounts` false, split sizes other than the official ones are reported but are not a
    /// problem (subsets, the synthetic set).
    package static func run(root: String, expectCounts: Bool = true, threads: Int = Parallel.defaultThreads) -> ADE20KCheckReport {
        var r = ADE20KCheckReport()
        var counts: [String: Int] = [:]
        for split in splits { counts[split] = checkSplit(root: root, split: split, threads: threads, into: &r) }
        guard let train = counts["training"], let val = counts["validation"] else { return r }
        let official = "the official 20,210 training / 2,000 validation images"
        if train == officialCounts["training"] && val == officialCounts["validation"] {
            r.lines.append("counts match \(official)")
        } else if expectCounts {
            r.problems.append("\(root): \(train) training / \(val) validation images, expected \(official) (--expect-counts false for a subset)")
        } else {
            r.lines.append("counts differ from \(official) (\(train) / \(val)); not a problem with --expect-counts false")
        }
        return r
    }

    /// One split: pairs and annotation values; returns its image count, or nil when a directory is missing.
    static func checkSplit(root: String, split: String, threads: Int, into r: inout ADE20KCheckReport) -> Int? {
        let imageDir = "\(root)/images/\(split)", annotationDir = "\(root)/annotations/\(split)"
        guard let images = stems(imageDir, ext: "jpg") else {
            r.problems.append("\(imageDir): missing — \(hint)")
            return nil
        }
        guard let annotations = stems(annotationDir, ext: "png") else {
            r.problems.append("\(annotationDir): missing — \(hint)")
            return nil
        }
        let unannotated = images.subtracting(annotations).sorted(), orphans = annotations.subtracting(images).sorted()
        if let first = unannotated.first {
            r.problems.append("\(unannotated.count) \(split) image(s) without annotation (e.g. \(annotationDir)/\(first).png is missing)")
        }
        if let first = orphans.first {
            r.problems.append("\(orphans.count) \(split) annotation(s) without image (e.g. \(imageDir)/\(first).jpg is missing)")
        }
        let bad = badAnnotations(annotations.sorted().map { "\(annotationDir)/\($0).png" }, threads: threads)
        r.problems += bad.prefix(namedBadFiles)
        if bad.count > namedBadFiles { r.problems.append("… and \(bad.count - namedBadFiles) more \(split) annotations that are unreadable or out of range") }
        r.lines.append("\(split): \(images.count) images, \(annotations.count) annotations, \(unannotated.count) images without annotation, "
                       + "\(orphans.count) annotations without image, \(bad.count) annotations unreadable or with values above \(maxValue)")
        return images.count
    }

    /// What is wrong with each annotation that cannot be read or holds a value above 150, in path order.
    static func badAnnotations(_ paths: [String], threads: Int) -> [String] {
        var found = [String?](repeating: nil, count: paths.count)
        let lock = NSLock()
        Parallel.forEach(paths.count, threads: threads) { i in
            let problem = annotationProblem(paths[i])
            lock.lock(); found[i] = problem; lock.unlock()
        }
        return found.compactMap { $0 }
    }

    /// Nil for a readable annotation with values 0–150, else the file, the first bad pixel and its value.
    static func annotationProblem(_ path: String) -> String? {
        let label: LabelImage
        do { label = try ImageIO.readLabel(path) } catch { return "\(error)" }
        guard let i = label.pixels.firstIndex(where: { $0 > maxValue }) else { return nil }
        return "\(path): pixel (x \(i % label.width), y \(i / label.width)): value \(label.pixels[i]); ADE20K annotations hold 0–\(maxValue) (0 other, v the class v − 1)"
    }

    /// File stems with extension `ext` in `dir` (hidden files skipped), or nil when `dir` cannot be listed.
    static func stems(_ dir: String, ext: String) -> Set<String>? {
        DatasetLayouts.visibleEntries(dir).map { Set($0.filter { $0.hasSuffix("." + ext) }.map { String($0.dropLast(ext.count + 1)) }) }
    }
}
