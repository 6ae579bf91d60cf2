// `extract check-voc`: inspects a VOC 2012 (+ SBD "aug") tree, builds train_aug.txt when the SBD lists are there,
// and checks the standard split sizes (train_aug 10582, val 1449, disjoint) and that every listed file exists.
import Foundation
import DinoSegCore

package struct VOCCheckReport {
    package var lines: [String] = []
    package var problems: [String] = []
    package var wroteTrainAug: String? = nil
}

package enum VOCCheck {
    package static let expectedTrainAug = 10582
    package static let expectedVal = 1449

    static let vocHint = "download VOCtrainval_11-May-2012.tar (http://host.robots.ox.ac.uk/pascal/VOC/voc2012/) and pass its VOCdevkit/VOC2012 directory as ROOT"
    static let sbdHint = "download SBD (benchmark.tgz, http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz) and extract it so that ROOT/benchmark_RELEASE/dataset/train.txt and val.txt exist (or pass --sbd DIR holding train.txt and val.txt)"
    static let augHint = "get the SBD-converted label PNGs (SegmentationClassAug, e.g. SegmentationClassAug.zip distributed with DeepLab/semseg) and unpack them to ROOT/SegmentationClassAug/"

    /// Ids in a list file (first field of each line, file stem when it is a path).
    static func readIDs(_ path: String) -> [String]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            guard let first = line.split(separator: " ").first else { return nil }
            return URL(fileURLWithPath: String(first)).deletingPathExtension().lastPathComponent
        }
    }

    static func stems(_ dir: String, ext: String) -> Set<String>? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        return Set(names.filter { $0.hasSuffix("." + ext) }.map { String($0.dropLast(ext.count + 1)) })
    }

    package static func run(root: String, sbd: String? = nil, writeTrainAug: Bool = true,
                           expectedTrainAug: Int = expectedTrainAug, expectedVal: Int = expectedVal) -> VOCCheckReport {
        var r = VOCCheckReport()
        let fm = FileManager.default
        let sets = "\(root)/ImageSets/Segmentation"
        guard let jpegs = stems("\(root)/JPEGImages", ext: "jpg") else {
            r.problems.append("\(root)/JPEGImages: missing — \(vocHint)")
            return r
        }
        r.lines.append("JPEGImages: \(jpegs.count) images")
        let cls = stems("\(root)/SegmentationClass", ext: "png")
        let aug = stems("\(root)/SegmentationClassAug", ext: "png")
        r.lines.append("SegmentationClass: " + (cls.map { "\($0.count) labels" } ?? "missing"))
        r.lines.append("SegmentationClassAug: " + (aug.map { "\($0.count) labels" } ?? "missing — \(augHint)"))
        if cls == nil && aug == nil { r.problems.append("\(root): no label directory (SegmentationClass or SegmentationClassAug) — \(vocHint)") }

        let train = readIDs("\(sets)/train.txt"), val = readIDs("\(sets)/val.txt")
        for (name, ids) in [("train.txt", train), ("val.txt", val)] {
            r.lines.append("ImageSets/Segmentation/\(name): " + (ids.map { "\($0.count) ids" } ?? "missing"))
            if ids == nil { r.problems.append("\(sets)/\(name): missing — \(vocHint)") }
        }

        // SBD lists.
        let candidates = (sbd.map { [$0] } ?? []) + ["\(root)/benchmark_RELEASE/dataset", "\(root)/SBD",
                                                      "\(root)/../benchmark_RELEASE/dataset", "\(root)/ImageSets/SegmentationAug"]
        let sbdDir = candidates.first { fm.fileExists(atPath: "\($0)/train.txt") && fm.fileExists(atPath: "\($0)/val.txt") }
        var trainAug = readIDs("\(sets)/train_aug.txt")
        if let dir = sbdDir, let st = readIDs("\(dir)/train.txt"), let sv = readIDs("\(dir)/val.txt"), let train, let val {
            r.lines.append("SBD lists in \(dir): train \(st.count), val \(sv.count) ids")
            let built = Set(train).union(st).union(sv).subtracting(val).sorted()
            r.lines.append("(VOC train ∪ SBD train ∪ SBD val) − VOC val = \(built.count) ids")
            if let existing = trainAug, Set(existing) != Set(built) {
                r.problems.append("\(sets)/train_aug.txt: differs from the list built from the SBD lists (\(existing.count) vs \(built.count) ids); delete it to rebuild")
            } else if trainAug == nil && writeTrainAug {
                do {
                    try AtomicWrite.write(Data(built.map { $0 + "\n" }.joined().utf8), to: "\(sets)/train_aug.txt")
                    r.wroteTrainAug = "\(sets)/train_aug.txt"
                    r.lines.append("wrote \(sets)/train_aug.txt")
                    trainAug = built
                } catch { r.problems.append("\(error)") }
            }
        } else if sbdDir == nil && trainAug == nil {
            r.problems.append("train_aug.txt is missing and no SBD lists were found — \(sbdHint)")
        }

        if let ta = trainAug {
            r.lines.append("ImageSets/Segmentation/train_aug.txt: \(ta.count) ids")
            if ta.count != expectedTrainAug { r.problems.append("\(sets)/train_aug.txt: \(ta.count) ids, expected \(expectedTrainAug)") }
            if let val {
                let overlap = Set(ta).intersection(val)
                if !overlap.isEmpty { r.problems.append("train_aug and val share \(overlap.count) ids (e.g. \(overlap.sorted().first!)); they must be disjoint") }
            }
            let missingImages = ta.filter { !jpegs.contains($0) }
            if !missingImages.isEmpty { r.problems.append("\(missingImages.count) train_aug images missing in JPEGImages (e.g. \(missingImages[0]).jpg) — \(vocHint)") }
            if let aug {
                let missing = ta.filter { !aug.contains($0) }
                if !missing.isEmpty { r.problems.append("\(missing.count) train_aug labels missing in SegmentationClassAug (e.g. \(missing[0]).png) — \(augHint)") }
            } else {
                r.problems.append("\(root)/SegmentationClassAug: missing, needed for the SBD images of train_aug — \(augHint)")
            }
        }
        if let val {
            if val.count != expectedVal { r.problems.append("\(sets)/val.txt: \(val.count) ids, expected \(expectedVal)") }
            let labels = aug ?? cls ?? []
            let missingImages = val.filter { !jpegs.contains($0) }, missingLabels = val.filter { !labels.contains($0) }
            if !missingImages.isEmpty { r.problems.append("\(missingImages.count) val images missing in JPEGImages (e.g. \(missingImages[0]).jpg)") }
            if !missingLabels.isEmpty { r.problems.append("\(missingLabels.count) val labels missing (e.g. \(missingLabels[0]).png)") }
        }
        return r
    }
}
