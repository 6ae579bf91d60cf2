import XCTest
import Foundation
import DinoSegCache
import DinoSegModels
import DinoSegPipeline

/// The trainer on a real feature cache (synthetic VOC-layout data → `TrainExtraction` with the fake backbone →
/// `TrainCacheReader`): the loss falls, an interrupted run resumes to the same losses, and a cache without stage 0
/// is refused for output stride 4.
final class HeadCacheTrainingTests: XCTestCase {
    func testTrainAndResumeOnExtractedCache() throws {
        let tmp = try tempDir("headcache")
        try writeSyntheticData(to: tmp + "/data", train: 8, val: 1, seed: 4, sides: 60...120)
        let backbone = FakeBackbone(channels: [8, 16, 16, 24])
        var extraction = TrainExtractionOptions(dataRoot: tmp + "/data", list: "train", out: tmp + "/cache")
        extraction.views = 2; extraction.shardSize = 4; extraction.workers = 2; extraction.seed = 5; extraction.quiet = true
        _ = try TrainExtraction.run(extraction, backbone: backbone) { _ in }
        var noStage0 = extraction
        noStage0.out = tmp + "/cache-123"; noStage0.stages = [1, 2, 3]
        _ = try TrainExtraction.run(noStage0, backbone: backbone) { _ in }

        let source = try CacheTrainingSource(directory: tmp + "/cache")
        XCTAssertEqual(source.stageChannels, [8, 16, 16, 24])
        XCTAssertEqual(source.samplesPerEpoch, 8)
        var head = HeadConfig(stageChannels: source.stageChannels, fpnWidth: 16, outputStride: 4)
        head.classifierWidth = 16
        var options = TrainOptions()
        options.epochs = 4; options.batch = 2; options.lr = 0.02; options.seed = 6; options.threads = 2; options.checkpointEvery = 0

        let full = try HeadTrainer(head: head, options: options, source: source, runDirectory: tmp + "/full", resume: false,
                                   output: { _ in }).run()
        XCTAssertEqual(full.losses.count, 16)
        let first = full.losses.prefix(4).reduce(0, +) / 4, last = full.losses.suffix(4).reduce(0, +) / 4
        XCTAssertLessThan(last, 0.8 * first, "seed 4/5/6: last epoch mean loss \(last) vs first \(first)")

        var interrupted = options
        interrupted.stopAfterSteps = 5
        let a = try HeadTrainer(head: head, options: interrupted, source: source, runDirectory: tmp + "/split", resume: false,
                                output: { _ in }).run()
        let b = try HeadTrainer(head: head, options: options, source: source, runDirectory: tmp + "/split", resume: true,
                                output: { _ in }).run()
        assertClose(a.losses + b.losses, full.losses, rtol: 0, seed: "4/5/6", what: "losses on the cache, interrupted + resumed vs uninterrupted")

        let partial = try CacheTrainingSource(directory: tmp + "/cache-123")
        XCTAssertThrowsError(try HeadTrainer(head: head, options: options, source: partial, runDirectory: tmp + "/refused",
                                             resume: false, output: { _ in }).run()) { e in
            XCTAssertTrue("\(e)".contains("needs stage 0") && "\(e)".contains("--output-stride 8"), "\(e)")
        }
    }
}
