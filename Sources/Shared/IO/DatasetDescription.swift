import Foundation

// What a dataset's labels mean: its classes, their colours, which stored label value is ignored and how stored values
// map to class indices. Recorded in a cache's manifest and a run's config.json so that every table, confusion matrix,
// palette PNG and checkpoint agrees with the data it came from. VOC is the default; a manifest or config.json without
// a description is VOC (they were all written before descriptions existed).
//
// Labels stay one byte: after mapping, a pixel holds a class index 0..<classes or 255 (ignored), so a description has
// at most 255 classes (`maxClasses`). Wider label storage would double every cached label shard for datasets nobody
// here trains on yet; the limit is checked where a description is read.

/// A dataset's classes, palette, ignore label, label mapping and split lists.
package struct DatasetDescription: Codable, Equatable, Sendable {
    package var name: String
    package var classNames: [String]
    /// RGB per class, 3 bytes each (class c at 3c..<3c+3).
    package var palette: [UInt8]
    /// The stored label value that marks pixels to ignore (VOC: 255, the void border).
    package var ignoreLabel: UInt8
    /// 256 entries: stored label value → class index, or `ignoredIndex`.
    package var labelMap: [UInt8]
    /// Split name → where its list comes from (relative to the data root), e.g. "train" →
    /// "ImageSets/Segmentation/train.txt".
    package var splits: [String: String]
    /// Stored label values 0..<storedLabels (and `ignoreLabel`) may appear in a label file; any other value is an error
    /// in the data, refused with its file and pixel (VOC: 21; ADE20K: 151, 0 being "other"; Cityscapes: 34 labelIds).
    package var storedLabels: Int

    /// The in-memory label of an ignored pixel, whatever the stored value was.
    package static let ignoredIndex: UInt8 = 255
    package static let minClasses = 2
    /// Class indices must stay below `ignoredIndex` in a one-byte label.
    package static let maxClasses = 255

    package init(name: String, classNames: [String], palette: [UInt8], ignoreLabel: UInt8, labelMap: [UInt8],
                 splits: [String: String] = [:], storedLabels: Int? = nil) {
        self.name = name; self.classNames = classNames; self.palette = palette
        self.ignoreLabel = ignoreLabel; self.labelMap = labelMap; self.splits = splits
        self.storedLabels = storedLabels ?? classNames.count
    }

    private enum CodingKeys: String, CodingKey { case name, classNames, palette, ignoreLabel, labelMap, splits, storedLabels }

    /// Descriptions written before `storedLabels` existed stored class indices directly.
    package init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), classNames: try c.decode([String].self, forKey: .classNames),
                  palette: try c.decode([UInt8].self, forKey: .palette), ignoreLabel: try c.decode(UInt8.self, forKey: .ignoreLabel),
                  labelMap: try c.decode([UInt8].self, forKey: .labelMap),
                  splits: try c.decodeIfPresent([String: String].self, forKey: .splits) ?? [:],
                  storedLabels: try c.decodeIfPresent(Int.self, forKey: .storedLabels))
    }

    package var classCount: Int { classNames.count }

    /// PASCAL VOC 2012: 21 classes, stored values are class indices, 255 is void.
    package static let voc = DatasetDescription(
        name: "voc2012", classNames: VOC.classNames, palette: Array(VOC.palette[0..<(3 * VOC.numClasses)]),
        ignoreLabel: VOC.ignoreLabel, labelMap: identityMap(classes: VOC.numClasses, ignore: VOC.ignoreLabel),
        splits: ["train": "ImageSets/Segmentation/train.txt", "val": "ImageSets/Segmentation/val.txt"])

    /// Stored value v < classes → v; everything else (including `ignore`) → ignored.
    package static func identityMap(classes: Int, ignore: UInt8) -> [UInt8] {
        (0..<256).map { $0 < classes && $0 != Int(ignore) ? UInt8($0) : ignoredIndex }
    }

    /// A description with `classes` generated names ("class0", …) and VOC's bit-interleave colours, identity mapping,
    /// ignore 255 (synthetic data and tests).
    package static func generic(name: String, classes: Int) -> DatasetDescription {
        DatasetDescription(name: name, classNames: (0..<classes).map { "class\($0)" },
                           palette: Array(VOC.palette[0..<(3 * min(classes, 256))]), ignoreLabel: 255,
                           labelMap: identityMap(classes: classes, ignore: 255))
    }

    /// Refuses a description that labels could not follow; `source` names the file it came from.
    package func validate(source: String) throws {
        func fail(_ what: String) -> DinoSegError { DinoSegError(file: source, "dataset description \"\(name)\": \(what)") }
        guard (Self.minClasses...Self.maxClasses).contains(classCount) else {
            throw fail("\(classCount) classes (\(Self.minClasses)–\(Self.maxClasses) are supported: labels are one byte, 255 is ignored)")
        }
        guard palette.count == 3 * classCount else { throw fail("palette has \(palette.count) bytes, expected \(3 * classCount) (RGB per class)") }
        guard labelMap.count == 256 else { throw fail("label map has \(labelMap.count) entries, expected 256") }
        if let bad = labelMap.firstIndex(where: { Int($0) >= classCount && $0 != Self.ignoredIndex }) {
            throw fail("label map sends \(bad) to \(labelMap[bad]), which is neither a class index below \(classCount) nor 255")
        }
        guard (1...256).contains(storedLabels) else { throw fail("storedLabels \(storedLabels) is outside 1...256") }
        guard labelMap[Int(ignoreLabel)] == Self.ignoredIndex else {
            throw fail("label map sends the ignore label \(ignoreLabel) to class \(labelMap[Int(ignoreLabel)])")
        }
        guard !name.isEmpty, name.utf8.count <= 200, classNames.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 200 }) else {
            throw fail("the name and every class name must have 1–200 bytes")
        }
    }

    /// The name of class `c`, or "class<c>" past the list (a confusion matrix read from elsewhere).
    package func className(_ c: Int) -> String { c >= 0 && c < classCount ? classNames[c] : "class\(c)" }

    /// 256 RGB triples for a palette-indexed PNG: the classes' colours, then VOC's bit-interleave colours (so 255,
    /// the ignored pixels, is (224,224,192) as in VOC's own label files).
    package var paletteTable: [UInt8] {
        var table = VOC.palette
        table.replaceSubrange(0..<palette.count, with: palette)
        return table
    }

    /// Whether a label file may hold the stored value `v`.
    package func isStored(_ v: UInt8) -> Bool { Int(v) < storedLabels || v == ignoreLabel }

    /// What a label file may hold, for error messages: "0–20 or 255".
    package var storedRange: String { "0–\(storedLabels - 1) or \(ignoreLabel)" }

    /// Refuses a label file (`path`, `width` pixels a row) holding a value this dataset does not define, naming the
    /// first such pixel.
    package func checkStored(_ pixels: [UInt8], width: Int, path: String) throws {
        guard let i = pixels.firstIndex(where: { !isStored($0) }) else { return }
        throw DinoSegError(file: path, "pixel (x \(i % max(width, 1)), y \(i / max(width, 1))): label value \(pixels[i]) is not a \(name) label (expected \(storedRange))")
    }

    /// Class indices (255 ignored) → stored label values, the inverse of `mapLabels` on what it maps: class c is the
    /// smallest stored value mapped to c, an ignored pixel the smallest stored value the dataset ignores (ADE20K's
    /// 0 "other", Cityscapes' 0 "unlabeled"), else the ignore label. Nil when a class has no stored value. Writers of
    /// synthetic data store their labels with it.
    package func encode(_ classes: [UInt8]) -> [UInt8]? {
        var stored = [UInt8?](repeating: nil, count: 256)
        for v in (0..<storedLabels).reversed() { stored[Int(labelMap[v])] = UInt8(v) }   // the smallest wins
        if stored[Int(Self.ignoredIndex)] == nil { stored[Int(Self.ignoredIndex)] = ignoreLabel }
        var out = [UInt8](repeating: 0, count: classes.count)
        for (i, c) in classes.enumerated() {
            guard let v = stored[Int(c)] else { return nil }
            out[i] = v
        }
        return out
    }

    /// Stored label values → class indices or 255, in place.
    package func mapLabels(_ pixels: inout [UInt8]) {
        labelMap.withUnsafeBufferPointer { map in
            for i in pixels.indices { pixels[i] = map[Int(pixels[i])] }
        }
    }

    /// Refuses combining data of this dataset (`path`) with data of `other` (at `otherPath`).
    package func checkSame(as other: DatasetDescription, path: String, otherPath: String) throws {
        guard self != other else { return }
        throw DinoSegError(file: path, "holds dataset \"\(name)\" (\(classCount) classes), \(otherPath) holds \"\(other.name)\" (\(other.classCount) classes); data of two datasets cannot be mixed")
    }
}
