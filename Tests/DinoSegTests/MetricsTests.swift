import XCTest
@testable import DinoSegCore
@testable import DinoSegEval

final class MetricsTests: XCTestCase {
    /// Pairs (label, prediction): (0,0) (0,1) (1,1) (1,1) (2,0) and a void pixel (255,2) that must not count.
    func testHandComputedThreeClasses() {
        var m = ConfusionMatrix(classes: 3)
        m.add(prediction: [0, 1, 1, 1, 0, 2], label: [0, 0, 1, 1, 2, 255])
        XCTAssertEqual(m.counts, [1, 1, 0,
                                  0, 2, 0,
                                  1, 0, 0])
        XCTAssertEqual(m.intersection, [1, 2, 0])
        XCTAssertEqual(m.target, [2, 2, 1])
        XCTAssertEqual(m.union, [3, 3, 1])  // predicted [2, 3, 0] + target − intersection; the void pixel's 2 is gone
        // Exactly semseg's formulas, including the 1e-10 in every denominator.
        let s = SegmentationMetrics(m), e = 1e-10
        assertClose(s.iou, [1 / (3 + e), 2 / (3 + e), 0], rtol: 0, seed: nil, what: "per-class IoU")
        XCTAssertEqual(s.mIoU, (1 / (3 + e) + 2 / (3 + e)) / 3, accuracy: 1e-15)
        assertClose(s.accuracy, [1 / (2 + e), 2 / (2 + e), 0], rtol: 0, seed: nil, what: "per-class accuracy")
        XCTAssertEqual(s.mAcc, (1 / (2 + e) + 2 / (2 + e)) / 3, accuracy: 1e-15)
        XCTAssertEqual(s.allAcc, 3 / (5 + e))
        XCTAssertEqual(s.mIoU, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(s.allAcc, 0.6, accuracy: 1e-9)
    }

    /// semseg averages over all K classes: classes that never occur count as IoU 0 and accuracy 0.
    func testClassesAbsentFromGroundTruthCountAsZero() {
        var m = ConfusionMatrix()
        m.add(prediction: [0, 0, 0, 0], label: [0, 0, 0, 0])
        var s = SegmentationMetrics(m)
        XCTAssertEqual(s.iou[0], 1, accuracy: 1e-9)
        XCTAssertEqual(s.mIoU, 1.0 / 21, accuracy: 1e-9)
        XCTAssertEqual(s.mAcc, 1.0 / 21, accuracy: 1e-9)
        XCTAssertEqual(s.allAcc, 1, accuracy: 1e-9)
        // A class predicted but absent from the labels has a union but no intersection: IoU 0.
        m.add(prediction: [3, 3], label: [0, 0])
        s = SegmentationMetrics(m)
        XCTAssertEqual(m.union[3], 2)
        XCTAssertEqual(s.iou[3], 0)
        XCTAssertEqual(s.iou[0], 4.0 / 6, accuracy: 1e-9)
        XCTAssertEqual(s.mIoU, (4.0 / 6) / 21, accuracy: 1e-9)
        // The extra "classes present" mean (not a semseg number) only averages class 0 here.
        XCTAssertEqual(s.presentClasses, 1)
        XCTAssertEqual(s.mIoUPresent, 4.0 / 6, accuracy: 1e-9)
    }

    func testVoidAndOutOfRangeLabelsAreIgnored() {
        var m = ConfusionMatrix()
        m.add(prediction: [5, 6, 7], label: [255, 21, 200])
        XCTAssertEqual(m.counts.reduce(0, +), 0)
        XCTAssertEqual(SegmentationMetrics(m).allAcc, 0)
    }

    /// Streaming: image-by-image accumulation equals one pass over everything, and equals a literal transcription of
    /// semseg's intersectionAndUnion (mask prediction with 255 where the label is 255, then histograms).
    func testStreamingMatchesSemsegHistograms() {
        let seed: UInt64 = 7
        var rng = SplitMix64(seed: seed)
        var streamed = ConfusionMatrix(), merged = ConfusionMatrix()
        var allPred: [UInt8] = [], allLabel: [UInt8] = []
        for _ in 0..<5 {
            let n = 50 + Int(rng.next() % 100)
            let label = (0..<n).map { _ in rng.next() % 10 == 0 ? UInt8(255) : UInt8(rng.next() % 21) }
            let pred = (0..<n).map { _ in UInt8(rng.next() % 21) }
            streamed.add(prediction: pred, label: label)
            var one = ConfusionMatrix()
            one.add(prediction: pred, label: label)
            merged.merge(one)
            allPred += pred; allLabel += label
        }
        var whole = ConfusionMatrix()
        whole.add(prediction: allPred, label: allLabel)
        XCTAssertEqual(streamed, whole, "seed \(seed)")
        XCTAssertEqual(merged, whole, "seed \(seed)")

        var masked = allPred
        for i in masked.indices where allLabel[i] == 255 { masked[i] = 255 }
        func histogram(_ v: [UInt8]) -> [Int64] {
            var h = [Int64](repeating: 0, count: 21)
            for x in v where x < 21 { h[Int(x)] += 1 }
            return h
        }
        let inter = histogram(zip(masked, allLabel).filter { $0.0 == $0.1 }.map { $0.0 })
        let out = histogram(masked), tgt = histogram(allLabel)
        XCTAssertEqual(whole.intersection, inter, "seed \(seed)")
        XCTAssertEqual(whole.target, tgt, "seed \(seed)")
        XCTAssertEqual(whole.union, (0..<21).map { out[$0] + tgt[$0] - inter[$0] }, "seed \(seed)")
    }
}
