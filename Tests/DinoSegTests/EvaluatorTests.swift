import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegEval
@testable import DinoSegPipeline

/// A head whose logits are 5 × one-hot of the (single-channel) stage-3 value, at stage resolution = window resolution.
struct OneHotHead: WindowLogits {
    let classes = 3
    let requiredStages = [3]
    func logits(stages: [Int: UnsafePointer<Float>], shapes: [Int: (h: Int, w: Int, c: Int)], batch: Int,
                outHeight: Int, outWidth: Int) -> [Float] {
        let s = shapes[3]!
        precondition(s.h == outHeight && s.w == outWidth && s.c == 1)
        var out = [Float](repeating: 0, count: batch * outHeight * outWidth * classes)
        for i in 0..<(batch * s.h * s.w) { out[i * classes + Int(stages[3]![i])] = 5 }
        return out
    }
}

struct FakeFeatures: EvalFeatures {
    var id: String
    var geometry: EvalGeometry
    var labelPixels: [UInt8]
    var evalWindows: [EvalWindow]
    var stageFeatures: [Int: [Float]]
    var stageShapesPerWindow: [Int: (h: Int, w: Int, c: Int)]

    /// Windows whose stage-3 "feature" is the class the canvas pixel should get (`truth` at original size,
    /// no resize), 0 in the padding.
    init(id: String, truth: [UInt8], height: Int, width: Int, p: EvalProtocol, label: [UInt8]) {
        self.id = id
        geometry = p.geometry(height: height, width: width)
        precondition(geometry.resizedHeight == height && geometry.resizedWidth == width)
        labelPixels = label
        evalWindows = p.windows(geometry)
        let (wh, ww) = p.windowSize(geometry)
        var feats: [Float] = []
        for w in evalWindows {
            for r in 0..<wh {
                for c in 0..<ww {
                    let y = w.y + r - geometry.padTop
                    let x = (w.flipped ? w.x + ww - 1 - c : w.x + c) - geometry.padLeft
                    feats.append(y >= 0 && y < height && x >= 0 && x < width ? Float(truth[y * width + x]) : 0)
                }
            }
        }
        stageFeatures = [3: feats]
        stageShapesPerWindow = [3: (wh, ww, 1)]
    }
}

/// A "backbone" at stride 1 whose single stage-3 channel is 1 where the input is red (normalised R > 1) else 0.
final class RedDetectorBackbone: FeatureBackbone {
    let name = "red-detector"
    let stageChannels = [1, 1, 1, 1]
    let stageStrides = [1, 1, 1, 1]
    let weightsSHA256 = ""
    func forward(image: UnsafePointer<Float>, height: Int, width: Int, stages: [Int]) -> [FeatureMap] {
        let data = (0..<(height * width)).map { image[$0 * 3] > 1 ? Float(1) : 0 }
        return stages.map { _ in FeatureMap(height: height, width: width, channels: 1, data: data) }
    }
}

final class EvaluatorTests: XCTestCase {
    func testPredictorSegmentsAPhotoAndWritesThreePNGs() throws {
        // 6×10 photo: red in columns 0..<4, grey elsewhere; long side 20 doubles it, windows 8×8 stride 5, flip.
        var px = [UInt8](repeating: 128, count: 6 * 10 * 3)
        for y in 0..<6 { for x in 0..<4 { px[(y * 10 + x) * 3] = 255; px[(y * 10 + x) * 3 + 1] = 0; px[(y * 10 + x) * 3 + 2] = 0 } }
        let photo = RGBImage(width: 10, height: 6, pixels: px)
        let p = EvalProtocol(mode: .slide, flip: true, crop: 8, stride: 5, longSide: 20)
        let label = Predictor.segment(photo, backbone: RedDetectorBackbone(), head: OneHotHead(), evalProtocol: p, threads: 2)
        XCTAssertEqual([label.width, label.height], [10, 6])
        XCTAssertNil(byteDifference(Data(label.pixels), Data((0..<60).map { $0 % 10 < 4 ? 1 : 0 })), "6x10 photo, red in columns 0..<4")
        let dir = try tempDir("predict")
        let paths = try Predictor.writeOutputs(label, photo: photo, name: "p", to: dir, dataset: .voc)
        XCTAssertEqual(try ImageIO.readLabel(paths[0]), label)
        let colour = try ImageIO.readRGB(paths[1])
        XCTAssertEqual(Array(colour.pixels[0..<3]), [128, 0, 0])  // class 1 = aeroplane colour
        XCTAssertEqual(try ImageIO.readRGB(paths[2]).width, 10)
    }

    func testEvaluateStreamsImagesIntoTheConfusionMatrix() throws {
        let p = EvalProtocol(mode: .slide, flip: true, crop: 4, stride: 3, longSide: 6)
        // Image A 3×6: the head predicts exactly `truth`; the label differs in one pixel and has one void pixel.
        let truthA: [UInt8] = [0, 0, 1, 1, 2, 2,
                               0, 0, 1, 1, 2, 2,
                               0, 0, 0, 0, 0, 0]
        var labelA = truthA
        labelA[2] = 2     // predicted 1, labelled 2
        labelA[17] = 255  // ignored
        let truthB: [UInt8] = [Int](0..<12).map { UInt8($0 % 2) }
        let a = FakeFeatures(id: "a", truth: truthA, height: 3, width: 6, p: p, label: labelA)
        let b = FakeFeatures(id: "b", truth: truthB, height: 2, width: 6, p: p, label: truthB)
        var seen: [String] = []
        let r = try Evaluator.evaluate(OneHotHead(), images: [a, b] as [EvalFeatures], evalProtocol: p,
                                       checkpointStep: 7, checkpoint: nil, backboneNote: nil) { f, pred in
            seen.append(f.id)
            if f.id == "a" { XCTAssertEqual(pred, truthA) }
        }
        XCTAssertEqual(seen, ["a", "b"])
        XCTAssertEqual(r.images, 2)
        // Counts: A has 17 labelled pixels (one mislabelled 2→1), B has 6 zeros and 6 ones.
        XCTAssertEqual(r.confusion[0, 0], 10 - 1 + 6)  // A: ten zeros, one void
        XCTAssertEqual(r.confusion[1, 1], 3 + 6)
        XCTAssertEqual(r.confusion[2, 1], 1)
        XCTAssertEqual(r.confusion[2, 2], 4)
        XCTAssertEqual(r.confusion.counts.reduce(0, +), 17 + 12)
        XCTAssertTrue(r.protocolLine.contains("slide 4×4 stride 3, flip on"), r.protocolLine)
        XCTAssertTrue(r.protocolLine.contains("checkpoint step 7"), r.protocolLine)
    }

    func testMissingStageIsAClearError() {
        let p = EvalProtocol(mode: .whole, flip: false, crop: 4, stride: 3, longSide: 4)
        var f = FakeFeatures(id: "x", truth: [0, 0, 0, 0], height: 1, width: 4, p: p, label: [0, 0, 0, 0])
        f.stageFeatures = [:]
        XCTAssertThrowsError(try Evaluator.evaluate(OneHotHead(), images: [f] as [EvalFeatures], evalProtocol: p,
                                                    checkpointStep: nil, checkpoint: nil, backboneNote: nil)) {
            XCTAssertTrue("\($0)".contains("no stage 3"), "\($0)")
        }
    }

    /// Features from any source (not only a checked cache) with a window or geometry outside the canvas are refused
    /// before the merge writes through pointers.
    func testWindowOutsideTheCanvasIsAClearError() {
        let p = EvalProtocol(mode: .slide, flip: false, crop: 4, stride: 3, longSide: 6)
        let good = FakeFeatures(id: "x", truth: [UInt8](repeating: 1, count: 18), height: 3, width: 6, p: p,
                                label: [UInt8](repeating: 1, count: 18))
        var shifted = good
        shifted.evalWindows[1].x += 1
        var padded = good
        padded.geometry.padTop = 3
        for (f, expected) in [(shifted, "val image x: window 4x4 at (0, 3) lies outside the 4x6 canvas"),
                              (padded, "val image x: inconsistent geometry")] {
            XCTAssertThrowsError(try Evaluator.evaluate(OneHotHead(), images: [f] as [EvalFeatures], evalProtocol: p,
                                                        checkpointStep: nil, checkpoint: nil, backboneNote: nil)) {
                XCTAssertTrue("\($0)".hasPrefix(expected), "\($0)")
            }
        }
    }

    func testResultFilesAndTables() throws {
        var m = ConfusionMatrix()
        m.add(prediction: [0, 1, 1, 15], label: [0, 1, 2, 15])
        let r = EvalResult(evalProtocol: EvalProtocol(), checkpointStep: 100, checkpoint: "runs/x/checkpoint.safetensors",
                           images: 1, confusion: m, backboneNote: "RANDOM-WEIGHT BACKBONE", seconds: 1)
        let dir = try tempDir("evalresult")
        try r.write(to: dir)
        XCTAssertEqual(try EvalResult.read(dir + "/metrics.json"), r)
        let csv = try String(contentsOfFile: dir + "/confusion.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 22)
        XCTAssertEqual(csv[3].split(separator: ",").map(String.init)[0...3], ["bicycle", "0", "1", "0"])
        XCTAssertTrue(r.report.contains("person"))
        XCTAssertTrue(r.report.contains("RANDOM-WEIGHT BACKBONE"))
        let e = SweepEntry(variant: .fpnPPM, width: 768, outputStride: 8, epochs: 2, runDirectory: dir,
                           trainSeconds: 75, finalLoss: 0.5, result: r)
        let md = ResultsTable.markdown([e.row], title: "t", isVOC: true, notes: ["n"])
        XCTAssertTrue(md.contains("| 1 | DINOv3 + FPN(768) + PPM + head (OS 8) | \(String(format: "%.4f", r.metrics.mIoU))"), md)
        XCTAssertTrue(md.contains("0.8156 (row 5)"), md)
        XCTAssertFalse(ResultsTable.markdown([e.row], title: "t", isVOC: false, notes: []).contains("0.8156"))
        XCTAssertEqual(ResultsTable.csv([e.row]).split(separator: "\n").count, 2)
        XCTAssertNil(PublishedResults.row(variant: .fpn, width: 512))
        XCTAssertEqual(PublishedResults.row(variant: .head, width: nil)?.number, 2)
        let html = try HTMLReport.render(title: "t", notes: ["n"], warning: "RANDOM-WEIGHT BACKBONE", rows: [e.row],
                                         curves: [ReportCurves(loss: [[0, 2], [1, 1]], mIoU: [[1, 0.3]])], best: 0,
                                         examples: [ReportExample(id: "img", photo: RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6]),
                                                                  label: LabelImage(width: 2, height: 1, pixels: [0, 15]),
                                                                  prediction: LabelImage(width: 2, height: 1, pixels: [0, 1]))],
                                         isVOC: true)
        XCTAssertTrue(html.contains("data:image/png;base64,iVBORw0KGgo"))  // PNG signature in base64
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 4)
        XCTAssertFalse(html.contains("src=\"http"))
        XCTAssertFalse(html.contains("<script"))
    }
}
