import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegCache
@testable import DinoSegEval

/// Predicts class 1 everywhere; reads no features.
private struct ClassOneHead: WindowLogits {
    let classes = 2
    let requiredStages = [3]
    func logits(stages: [Int: UnsafePointer<Float>], shapes: [Int: (h: Int, w: Int, c: Int)], batch: Int,
                outHeight: Int, outWidth: Int) -> [Float] {
        var out = [Float](repeating: 0, count: batch * outHeight * outWidth * classes)
        for i in 0..<(batch * outHeight * outWidth) { out[i * classes + 1] = 3 }
        return out
    }
}

/// Photo-sized memory in evaluation and prediction, the limits shared by `extract val` and its readers, and where
/// predictions and metrics are written (checked before the work, never over an input, printed before written).
final class EvalOutputTests: TempDirTestCase {
    override class var tempTag: String { "evalout" }

    /// The row-by-row upsampling + argmax gives exactly the argmax of the full-size probability map (seed 5).
    func testRowStripPredictionEqualsTheFullMapArgmax() {
        var rng = SplitMix64(seed: 5)
        let p = EvalProtocol(mode: .slide, flip: true, crop: 8, stride: 5, longSide: 20)
        for (h, w) in [(37, 53), (20, 11), (3, 90)] {
            let g = p.geometry(height: h, width: w)
            let windows = p.windows(g)
            let logits = (0..<(windows.count * 8 * 8 * 4)).map { _ in Float(rng.normal()) }
            let full = SlidingWindowEval.probabilities(geometry: g, windows: windows, winH: 8, winW: 8, classes: 4, logits: logits)
            let strip = SlidingWindowEval.predict(geometry: g, windows: windows, winH: 8, winW: 8, classes: 4, logits: logits)
            XCTAssertEqual(strip, argmaxClasses(full, pixels: h * w, classes: 4), "\(h)x\(w), seed 5")
        }
    }

    /// `extract val` wrote shards of photos above 16 Mpx or 16384 per side that `eval` and `verify` then refused; the
    /// readers now accept what the image readers accept.
    func testValCacheReadsBackPhotosBeyondTheOldReaderLimits() throws {
        try writeSyntheticData(to: tmp + "/data", train: 0, val: 2, seed: 6, sides: 40...60)
        let samples = try SegmentationDataset(root: tmp + "/data", list: "val").samples
        for (s, (w, h)) in zip(samples, [(16385, 1), (4097, 4096)]) {
            try ImageIO.writePNG(RGBImage(width: w, height: h, fill: (90, 120, 150)), to: s.imagePath)
            try ImageIO.writeLabelPNG(LabelImage(width: w, height: h, pixels: [UInt8](repeating: 1, count: w * h)), to: s.labelPath)
        }
        var o = ValExtractionOptions(dataRoot: tmp + "/data", list: "val", out: tmp + "/val")
        o.workers = 1; o.quiet = true; o.stages = [3]
        let m = try ValExtraction.run(o, backbone: FakeBackbone()) { _ in }
        XCTAssertEqual(m.skipped, [])
        XCTAssertEqual(try CacheVerifier.verify(directory: o.out).problems, [])
        let (settings, _) = try ValCacheEval.settings(directory: o.out)
        let result = try settings.evaluate(ClassOneHead(), step: nil, checkpoint: nil)
        XCTAssertEqual(result.images, 2)
        XCTAssertEqual(result.metrics.allAcc, 1)
        XCTAssertEqual(result.confusion[1, 1], Int64(16385 + 4097 * 4096))
    }

    /// `predict --out DIR DIR/x.png` replaced the photo with its mask, and photos with one base name overwrote each
    /// other's outputs.
    func testPredictionOutputsNeverReplaceAPhotoOrEachOther() throws {
        let fm = FileManager.default
        for sub in ["a", "b", "out"] { try fm.createDirectory(atPath: tmp + "/" + sub, withIntermediateDirectories: true) }
        let photo = RGBImage(width: 3, height: 2, fill: (200, 10, 10))
        let inputs = [tmp + "/a/x.jpg", tmp + "/b/x.png", tmp + "/a/x_colour.png", tmp + "/out/z.png", tmp + "/a/y.png"]
        for p in inputs { try ImageIO.writePNG(photo, to: p) }
        // out/y.png is a symbolic link to the input a/y.png: writing it would replace that photo.
        try fm.createSymbolicLink(atPath: tmp + "/out/y.png", withDestinationPath: tmp + "/a/y.png")
        let before = try inputs.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        let names = try Predictor.prepareOutputs(for: inputs, in: tmp + "/out")
        // x_colour.png is x's colour image; out/z.png is an input; out/y.png leads to one.
        XCTAssertEqual(names, ["x", "x-2", "x_colour-2", "z-2", "y-2"])
        let mask = LabelImage(width: 3, height: 2, pixels: [0, 1, 2, 3, 4, 5])
        var written: [String] = []
        for n in names { written += try Predictor.writeOutputs(mask, photo: photo, name: n, to: tmp + "/out", dataset: .voc) }
        XCTAssertEqual(Set(written).count, 15, "every output has its own file")
        XCTAssertEqual(try inputs.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }, before, "no photo was replaced")
    }

    /// Output directories and names are checked before an evaluation, with one line and no Foundation dump.
    func testOutputsAreCheckedBeforeTheWork() throws {
        try Data("x".utf8).write(to: URL(fileURLWithPath: tmp + "/file"))
        XCTAssertThrowsError(try OutputCheck.writableDirectory(tmp + "/file/run", what: "run directory")) {
            XCTAssertEqual("\($0)", "\(self.tmp)/file/run: cannot create run directory: Not a directory")
        }
        XCTAssertThrowsError(try OutputCheck.checkOutputNames(ids: ["2007_000032", "sub/x"], suffixes: [".png"], flag: "--save-predictions")) {
            XCTAssertEqual("\($0)", "--save-predictions: image id 'sub/x' contains '/', so its prediction cannot be saved under that name")
        }
        XCTAssertThrowsError(try OutputCheck.checkOutputNames(ids: ["a", "a_colour"], suffixes: [".png", "_colour.png"], flag: "--save-predictions")) {
            XCTAssertEqual("\($0)", "--save-predictions: images 'a' and 'a_colour' would both write a_colour.png")
        }
        XCTAssertNoThrow(try OutputCheck.writableDirectory(tmp + "/new/run", what: "run directory"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp + "/new/run"), [], "the write check leaves nothing behind")
    }

    /// The metrics are printed before metrics.json is written, so a failing write does not lose them.
    func testMetricsArePrintedBeforeTheyAreWritten() throws {
        var confusion = ConfusionMatrix(classes: 21)
        confusion.add(prediction: [1, 1, 0], label: [1, 0, 0])
        let result = EvalResult(evalProtocol: EvalProtocol(), checkpointStep: 7, checkpoint: nil, images: 1,
                                confusion: confusion, backboneNote: nil, seconds: 1)
        let captured = tmp + "/stdout.txt"
        fflush(stdout)
        let saved = dup(STDOUT_FILENO)
        let fd = open(captured, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        dup2(fd, STDOUT_FILENO); close(fd)
        var failure: Error? = nil
        do { try result.writeAndPrint(to: tmp + "/missing", json: false) } catch { failure = error }
        fflush(stdout)
        dup2(saved, STDOUT_FILENO); close(saved)
        XCTAssertEqual(failure.map { "\($0)" }, "\(tmp)/missing/metrics.json: cannot write: No such file or directory")
        let printed = try String(contentsOfFile: captured, encoding: .utf8)
        XCTAssertTrue(printed.contains(result.summaryLine), "printed: \(printed)")
    }
}
