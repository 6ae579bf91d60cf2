import XCTest
import DinoSegData
import DinoSegCache
import DinoSegEval

final class ValCacheTests: XCTestCase {
    func testSlideFlipAndWholeModes() throws {
        let tmp = try tempDir("valcache")
        try writeSyntheticData(to: tmp + "/data", train: 0, val: 3, seed: 4, sides: 40...120)
        let backbone = FakeBackbone()
        let samples = try SegmentationDataset(root: tmp + "/data", list: "val").samples

        for mode in EvalMode.allCases {
            var o = ValExtractionOptions(dataRoot: tmp + "/data", list: "val", out: tmp + "/\(mode.rawValue)")
            o.mode = mode; o.flip = true; o.longSide = 300; o.shardSize = 2; o.workers = 2; o.quiet = true
            // Interrupted after the first shard, then resumed.
            o.stopAfterShards = 1
            let partial = try ValExtraction.run(o, backbone: backbone) { _ in }
            XCTAssertEqual(partial.shards.count, 1)
            o.stopAfterShards = nil
            let m = try ValExtraction.run(o, backbone: backbone) { _ in }
            XCTAssertTrue(m.complete)
            XCTAssertTrue(try CacheVerifier.verify(directory: o.out).problems.isEmpty)

            let reader = try ValCacheReader(directory: o.out)
            XCTAssertEqual(reader.imageCount, 3)
            var seen = 0
            for img in reader.images(stages: [1, 2]) {
                let (rgb, lab) = try loadSample(samples[img.index], .voc)
                XCTAssertEqual(img.id, samples[img.index].id)
                let g = EvalGeometry(height: rgb.height, width: rgb.width, longSide: 300, crop: 224)
                XCTAssertEqual(img.geometry, g)
                XCTAssertEqual(img.label, lab.pixels)
                // Extraction and `headtrain predict` see the same windows and the same backbone input: the cached
                // features of every window equal Predictor's (stored as float16, hence the tolerance).
                let p = m.config.evalProtocol!
                XCTAssertEqual(p, EvalProtocol(mode: mode, flip: true, crop: 224, stride: 150, longSide: 300))
                let windows = p.windows(g)
                XCTAssertEqual(img.windows.map { [$0.y, $0.x, $0.flipped ? 1 : 0] },
                               windows.map { [$0.y, $0.x, $0.flipped ? 1 : 0] }, "\(mode) image \(img.index)")
                let (winH, winW) = p.windowSize(g)
                let predicted = Predictor.windowFeatures(canvas: EvalInput.canvas(rgb: rgb.pixels, geometry: g), geometry: g,
                                                         windows: windows, winH: winH, winW: winW, backbone: backbone,
                                                         stages: [1, 2], threads: 1)
                for k in [1, 2] {
                    let s = img.stageShapes[k]!, want = predicted.shapes[k]!
                    XCTAssertEqual([s.h, s.w, s.c], [want.h, want.w, want.c], "\(mode) stage \(k)")
                    // The cache holds exactly the f16 rounding of Predictor's features (same fake backbone, same input).
                    assertClose(img.stages[k]!, predicted.features[k]!.map { Float(Float16($0)) }, rtol: 0,
                                shape: [windows.count, s.h, s.w, s.c], seed: 4,
                                what: "\(mode) image \(img.index) stage \(k), cached vs predict")
                }
                seen += 1
            }
            XCTAssertEqual(seen, 3)
            if let out = try runPythonWithH5py("""
                import h5py
                f = h5py.File('\(o.out)/shard-00000.h5', 'r')
                print(sorted(f.keys()))
                print(f['stage1'].dtype, f['stage1'].shape[1:], f['window_yx'].shape[1], f['image_info'].shape, f['label_offset'].dtype, f['label_data'].dtype)
                """) {
                let side = mode == .slide ? 224 : 300
                XCTAssertEqual(out.split(separator: "\n").map(String.init), [
                    "['image_info', 'label_data', 'label_offset', 'stage0', 'stage1', 'stage2', 'stage3', 'window_flipped', 'window_hw', 'window_image', 'window_yx']",
                    "float16 (\(side / 8), \(side / 8), 12) 2 (2, 9) int64 uint8",
                ])
            }
        }
    }
}
