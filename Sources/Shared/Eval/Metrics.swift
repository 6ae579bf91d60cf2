import DinoSegCore
// Segmentation metrics with the hszhao/semseg definitions (docs/DESIGN.md §5), accumulated as a confusion matrix so memory does
// not depend on the number of images.
//
// semseg's `intersectionAndUnion` sets the prediction to 255 wherever the label is 255, then histograms over 0..<K:
//   I_c = #{pred = label = c},  T_c = #{label = c},  U_c = #{pred = c, label ≠ 255} + T_c − I_c.
// Its test script then takes IoU_c = I_c / (U_c + 1e-10) and mIoU = mean over ALL K classes, so a class absent from
// both the ground truth and the prediction counts as IoU 0 (it is not skipped). We match that exactly.

/// Confusion counts: counts[label * classes + prediction]. Rows are ground truth, columns predictions.
package struct ConfusionMatrix: Equatable, Codable {
    package let classes: Int
    package private(set) var counts: [Int64]

    package init(classes: Int = VOC.numClasses) {
        self.classes = classes
        counts = [Int64](repeating: 0, count: classes * classes)
    }

    package init(classes: Int, counts: [Int64]) {
        precondition(counts.count == classes * classes, "confusion matrix needs \(classes)x\(classes) counts")
        self.classes = classes
        self.counts = counts
    }

    enum CodingKeys: String, CodingKey { case classes, counts }

    /// Decoding checks what the memberwise initialiser asserts: a matrix of another length read from a file (a sweep
    /// entry, a metrics.json) would otherwise be indexed past its end. Class indices are label bytes (255 is void).
    package init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let classes = try c.decode(Int.self, forKey: .classes)
        let counts = try c.decode([Int64].self, forKey: .counts)
        guard (1...255).contains(classes) else {
            throw DecodingError.dataCorruptedError(forKey: .classes, in: c, debugDescription: "\(classes) classes (need 1 to 255)")
        }
        guard counts.count == classes * classes else {
            throw DecodingError.dataCorruptedError(forKey: .counts, in: c, debugDescription: "\(counts.count) counts for \(classes) classes (need \(classes * classes))")
        }
        // Bounded so the sums over rows and columns cannot overflow (a trap): 2^40 pixels is far above any data set.
        guard counts.allSatisfy({ (0...(1 << 40)).contains($0) }) else {
            throw DecodingError.dataCorruptedError(forKey: .counts, in: c, debugDescription: "a count outside 0...2^40")
        }
        self.classes = classes
        self.counts = counts
    }

    package subscript(label: Int, prediction: Int) -> Int64 { counts[label * classes + prediction] }

    /// Adds one image: `prediction` and `label` have the same number of pixels. Pixels whose label is not a class
    /// index (255 = void, or anything ≥ classes, which semseg's histogram also drops) are ignored.
    package mutating func add(prediction: UnsafeBufferPointer<UInt8>, label: UnsafeBufferPointer<UInt8>) {
        precondition(prediction.count == label.count, "prediction has \(prediction.count) pixels, label \(label.count)")
        let k = classes
        counts.withUnsafeMutableBufferPointer { c in
            for i in 0..<label.count {
                let t = Int(label[i])
                if t >= k { continue }
                let p = Int(prediction[i])
                assert(p < k, "prediction \(p) is not a class index")
                c[t * k + p] += 1
            }
        }
    }

    package mutating func add(prediction: [UInt8], label: [UInt8]) {
        prediction.withUnsafeBufferPointer { p in label.withUnsafeBufferPointer { l in add(prediction: p, label: l) } }
    }

    package mutating func merge(_ other: ConfusionMatrix) {
        precondition(other.classes == classes, "cannot merge confusion matrices of \(classes) and \(other.classes) classes")
        for i in counts.indices { counts[i] += other.counts[i] }
    }

    /// I_c: pixels of class c predicted as c.
    package var intersection: [Int64] { (0..<classes).map { self[$0, $0] } }
    /// T_c: pixels labelled c.
    package var target: [Int64] { (0..<classes).map { c in (0..<classes).reduce(Int64(0)) { $0 + self[c, $1] } } }
    /// Pixels predicted as c (among labelled pixels).
    package var predicted: [Int64] { (0..<classes).map { c in (0..<classes).reduce(Int64(0)) { $0 + self[$1, c] } } }
    /// U_c = predicted_c + T_c − I_c.
    package var union: [Int64] {
        let i = intersection, t = target, p = predicted
        return (0..<classes).map { p[$0] + t[$0] - i[$0] }
    }
}

/// The numbers semseg reports, computed from a confusion matrix.
package struct SegmentationMetrics: Equatable, Codable {
    package var iou: [Double]
    package var accuracy: [Double]
    package var mIoU: Double
    package var mAcc: Double
    package var allAcc: Double
    /// Not a semseg number: mean IoU over the classes that occur in the ground truth only. Shown beside mIoU for data
    /// sets with fewer than 21 classes (the synthetic one), where the 21-class mean is capped at present/21.
    package var presentClasses: Int
    package var mIoUPresent: Double

    package static let epsilon = 1e-10

    package init(_ confusion: ConfusionMatrix) {
        let i = confusion.intersection.map(Double.init)
        let u = confusion.union.map(Double.init)
        let t = confusion.target.map(Double.init)
        iou = zip(i, u).map { $0 / ($1 + Self.epsilon) }
        accuracy = zip(i, t).map { $0 / ($1 + Self.epsilon) }
        mIoU = iou.reduce(0, +) / Double(confusion.classes)
        mAcc = accuracy.reduce(0, +) / Double(confusion.classes)
        allAcc = i.reduce(0, +) / (t.reduce(0, +) + Self.epsilon)
        let present = (0..<confusion.classes).filter { t[$0] > 0 }
        presentClasses = present.count
        let perClass = iou
        mIoUPresent = present.isEmpty ? 0 : present.map { perClass[$0] }.reduce(0, +) / Double(present.count)
    }
}
