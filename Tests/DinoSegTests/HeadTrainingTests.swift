import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegNN
@testable import DinoSegModels
@testable import DinoSegPipeline

/// Training on a synthetic cache made by a fake backbone (stage features = class histograms of each cell projected
/// by fixed random matrices, plus noise): the loss falls, training mIoU rises past a threshold, resume is exact,
/// checkpoints round-trip, and bad inputs are refused.
final class HeadTrainingTests: XCTestCase {
    static let channels = [16, 16, 16, 16]
    static let label = 64

    /// Images with one or two rectangles of classes 1...4 on background; view 1 is the horizontal flip of view 0.
    static func syntheticSource(images: Int, seed: UInt64, stages: [Int] = [0, 1, 2, 3]) -> InMemoryTrainingSource {
        var rng = SplitMix64(seed: seed)
        let classes = 5, l = label
        var projections: [[Float]] = []
        for s in 0..<4 { var r = SplitMix64(seed: 99, s); projections.append((0..<classes * channels[s]).map { _ in Float(r.normal()) }) }
        func features(_ labels: [UInt8], stage s: Int, noise: inout SplitMix64) -> [Float] {
            let stride = 4 << s, size = l / stride, c = channels[s]
            var out = [Float](repeating: 0, count: size * size * c)
            for y in 0..<size {
                for x in 0..<size {
                    var hist = [Float](repeating: 0, count: classes)
                    for yy in 0..<stride { for xx in 0..<stride { let v = labels[(y * stride + yy) * l + x * stride + xx]; if v != 255 { hist[Int(v)] += 1 } } }
                    for k in 0..<classes { hist[k] /= Float(stride * stride) }
                    for j in 0..<c {
                        var v: Float = 0
                        for k in 0..<classes { v += hist[k] * projections[s][k * c + j] }
                        out[(y * size + x) * c + j] = v + 0.1 * Float(noise.normal())
                    }
                }
            }
            return out
        }
        var view0: [InMemoryTrainingSource.Sample] = [], view1: [InMemoryTrainingSource.Sample] = []
        for _ in 0..<images {
            var labels = [UInt8](repeating: 0, count: l * l)
            for _ in 0..<(1 + Int(rng.next() % 2)) {
                let cls = UInt8(1 + rng.next() % 4)
                let h = 16 + Int(rng.next() % 32), w = 16 + Int(rng.next() % 32)
                let y0 = Int(rng.next() % UInt64(l - h)), x0 = Int(rng.next() % UInt64(l - w))
                for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { labels[y * l + x] = cls } }
            }
            for i in 0..<l { labels[i] = 255 }   // an ignored top row
            let flipped = (0..<l * l).map { labels[($0 / l) * l + (l - 1 - $0 % l)] }
            var noise = SplitMix64(seed: rng.next())
            view0.append(.init(stages: Dictionary(uniqueKeysWithValues: stages.map { ($0, features(labels, stage: $0, noise: &noise)) }), labels: labels))
            view1.append(.init(stages: Dictionary(uniqueKeysWithValues: stages.map { ($0, features(flipped, stage: $0, noise: &noise)) }), labels: flipped))
        }
        var sizes: [Int: (h: Int, w: Int)] = [:]
        for s in stages { sizes[s] = (l >> (2 + s), l >> (2 + s)) }
        return InMemoryTrainingSource(name: "synthetic", stageChannels: channels, stageSizes: sizes, labelHeight: l, labelWidth: l,
                                      views: [view0, view1])
    }

    static func headConfig(outputStride: Int = 4) -> HeadConfig {
        var c = HeadConfig(stageChannels: channels, fpnWidth: 16, outputStride: outputStride)
        c.classifierWidth = 32
        return c
    }

    /// A trainer of the stride-8 head, quiet on the terminal.
    func strideEightTrainer(_ source: InMemoryTrainingSource, _ options: TrainOptions, run: String, resume: Bool = false) -> HeadTrainer {
        HeadTrainer(head: Self.headConfig(outputStride: 8), options: options, source: source, runDirectory: run, resume: resume,
                    output: { _ in })
    }

    /// The records of RUN/log.jsonl, one a step.
    func stepLog(_ run: String) throws -> [[String: Any]] {
        try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\(run)/log.jsonl: \($0)")
        }
    }

    /// Mean IoU over the classes present, from eval-mode predictions on view 0 of the source.
    func trainingMIoU(_ head: SegmentationHead, _ source: InMemoryTrainingSource) -> Double {
        var inter = [Double](repeating: 0, count: 21), union = inter
        let l = Self.label
        for sample in source.views[0] {
            var pointers: [Int: UnsafeMutablePointer<Float>] = [:]
            for (s, v) in sample.stages { let p = UnsafeMutablePointer<Float>.allocate(capacity: v.count); p.initialize(from: v, count: v.count); pointers[s] = p }
            defer { pointers.values.forEach { $0.deallocate() } }
            var shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
            for s in sample.stages.keys { shapes[s] = (source.stageSizes[s]!.h, source.stageSizes[s]!.w, Self.channels[s]) }
            let logits = head.logits(stages: pointers.mapValues { UnsafePointer($0) }, shapes: shapes, batch: 1, outHeight: l, outWidth: l)
            for p in 0..<(l * l) where sample.labels[p] != 255 {
                var best = 0
                for k in 1..<21 where logits[p * 21 + k] > logits[p * 21 + best] { best = k }
                let y = Int(sample.labels[p])
                if best == y { inter[y] += 1; union[y] += 1 } else { union[y] += 1; union[best] += 1 }
            }
        }
        let present = (0..<21).filter { union[$0] > 0 }
        return present.map { inter[$0] / union[$0] }.reduce(0, +) / Double(present.count)
    }

    func testTrainingLowersLossAndRaisesMIoU() throws {
        let source = Self.syntheticSource(images: 48, seed: 5)
        var options = TrainOptions()
        options.epochs = 12; options.batch = 8; options.lr = 0.05; options.seed = 3; options.threads = 2; options.logInterval = 1000
        let run = try tempDir("head") + "/train"
        defer { try? FileManager.default.removeItem(atPath: run) }
        let trainer = HeadTrainer(head: Self.headConfig(), options: options, source: source, runDirectory: run, resume: false, output: { _ in })
        let untrained = try SegmentationHead(config: Self.headConfig(), seed: 3)
        let before = trainingMIoU(untrained, source)
        let summary = try trainer.run()
        XCTAssertEqual(summary.stepsDone, 12 * 6)
        let first = summary.losses.prefix(6).reduce(0, +) / 6, last = summary.losses.suffix(6).reduce(0, +) / 6
        XCTAssertLessThan(last, 0.2 * first, "seed 5/3: mean loss of the last epoch \(last) vs first \(first)")
        let after = trainingMIoU(trainer.network!, source)
        print("synthetic training (seed 5/3): mean loss first epoch \(first) → last \(last); training mIoU \(before) → \(after)")
        XCTAssertGreaterThan(after, 0.8, "seed 5/3: training mIoU \(after) (untrained \(before))")
        XCTAssertLessThan(before, 0.3, "seed 5/3: untrained mIoU \(before)")
        for file in ["config.json", "log.txt", "log.jsonl", "last.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/" + file), "missing \(file)")
        }
        let lines = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 72)
    }

    func testResumeReproducesUninterruptedRun() throws {
        let source = Self.syntheticSource(images: 24, seed: 6)
        var options = TrainOptions()
        options.epochs = 3; options.batch = 8; options.seed = 4; options.threads = 2; options.checkpointEvery = 0
        let full = try tempDir("head") + "/full", split = try tempDir("head") + "/split"
        defer { try? FileManager.default.removeItem(atPath: full); try? FileManager.default.removeItem(atPath: split) }
        let reference = try HeadTrainer(head: Self.headConfig(outputStride: 8), options: options, source: source, runDirectory: full,
                                        resume: false, output: { _ in }).run()
        var first = options
        first.stopAfterSteps = 4   // stops mid-epoch 2 (3 steps per epoch)
        let a = try HeadTrainer(head: Self.headConfig(outputStride: 8), options: first, source: source, runDirectory: split,
                                resume: false, output: { _ in }).run()
        XCTAssertTrue(a.stoppedEarly)
        XCTAssertEqual(a.stepsDone, 4)
        XCTAssertThrowsError(try HeadTrainer(head: Self.headConfig(outputStride: 8), options: options, source: source,
                                             runDirectory: split, resume: false, output: { _ in }).run(), "a run directory with a checkpoint needs --resume")
        let b = try HeadTrainer(head: Self.headConfig(outputStride: 8), options: options, source: source, runDirectory: split,
                                resume: true, output: { _ in }).run()
        assertClose(a.losses + b.losses, reference.losses, rtol: 0, seed: "6/4", what: "losses, interrupted + resumed vs uninterrupted")
        XCTAssertEqual(reference.losses.count, 9)
        let fullFinal = try SafetensorsFile(path: full + "/last.safetensors"), splitFinal = try SafetensorsFile(path: split + "/last.safetensors")
        for name in ["cls.0.weight", "optimizer.momentum.cls.0.weight"] {
            assertClose(try splitFinal.floats(name), try fullFinal.floats(name), rtol: 0, shape: fullFinal.tensors[name]?.shape, seed: "6/4",
                        what: "final \(name), resumed vs uninterrupted")
        }
        XCTAssertEqual(try stepLog(split).map { $0["step"] as? Int }, (1...9).map { $0 })
    }

    func testCheckpointRoundTripAndMismatch() throws {
        let cfg = Self.headConfig()
        let a = try SegmentationHead(config: cfg, seed: 8)
        a.params.momentum[3] = 0.5
        a.stats.values[1] = 0.25
        a.batchesTracked["cls.1"] = 7
        let path = try tempDir("head") + "/ckpt" + ".safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let progress = TrainProgress(step: 5, epoch: 1, batchInEpoch: 2, seed: 9, maxIter: 100, batchSize: 8)
        try HeadCheckpoint.save(a, to: path, progress: progress)
        let b = try SegmentationHead(config: cfg, seed: 99)
        XCTAssertEqual(try HeadCheckpoint.load(path, into: b), progress)
        assertClose(UnsafeBufferPointer(start: b.params.values, count: b.params.count),
                    UnsafeBufferPointer(start: a.params.values, count: a.params.count), rtol: 0, seed: 8, what: "parameters loaded vs saved")
        XCTAssertEqual(b.params.momentum[3], 0.5)
        XCTAssertEqual(b.stats.values[1], 0.25)
        XCTAssertEqual(b.batchesTracked["cls.1"], 7)
        // PyTorch layouts: cls.0.weight is [512-wide classifier, input, 3, 3]
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.tensors["cls.0.weight"]?.shape, [32, 32, 3, 3])
        XCTAssertEqual(file.tensors["fpn.inner_blocks.0.0.weight"]?.shape, [16, 16, 1, 1])

        var other = cfg
        other.fpnWidth = 32
        let c = try SegmentationHead(config: other, seed: 1)
        XCTAssertThrowsError(try HeadCheckpoint.load(path, into: c)) { e in
            XCTAssertTrue("\(e)".contains("FPN(16)") && "\(e)".contains("FPN(32)"), "\(e)")
        }
        XCTAssertThrowsError(try HeadCheckpoint.loadTorchState(file, prefix: "", into: c)) { e in
            XCTAssertTrue("\(e)".contains("fpn.inner_blocks.0.0.weight") && "\(e)".contains("[16, 16, 1, 1]"), "\(e)")
        }
    }

    func testRefusesCacheWithoutNeededStage() throws {
        let source = Self.syntheticSource(images: 8, seed: 7, stages: [1, 2, 3])
        var options = TrainOptions()
        options.epochs = 1; options.batch = 4
        let run = try tempDir("head") + "/refuse"
        defer { try? FileManager.default.removeItem(atPath: run) }
        XCTAssertThrowsError(try HeadTrainer(head: Self.headConfig(outputStride: 4), options: options, source: source,
                                             runDirectory: run, resume: false, output: { _ in }).run()) { e in
            XCTAssertTrue("\(e)".contains("stage 0") && "\(e)".contains("--output-stride 8"), "\(e)")
        }
    }

    func testNonFiniteLossStopsAndKeepsCheckpoint() throws {
        var options = TrainOptions()
        options.epochs = 50; options.batch = 4; options.lr = 1e12; options.checkpointEvery = 1; options.threads = 1
        let run = try tempDir("head") + "/nan"
        var failedStep = 0
        XCTAssertThrowsError(try strideEightTrainer(Self.syntheticSource(images: 16, seed: 8), options, run: run).run()) { e in
            // "RUN: loss became nan (or: weights became non-finite) at step N (epoch E); stopped. The last good
            // checkpoint is RUN/last.safetensors; try a lower --lr"
            let words = "\(e)".split(separator: " ")
            failedStep = words.firstIndex(of: "step").map { Int(words[$0 + 1]) ?? 0 } ?? 0
            XCTAssertTrue(("\(e)".hasPrefix(run + ": loss became ") || "\(e)".hasPrefix(run + ": weights became non-finite ")) && "\(e)".contains("; stopped. The last good checkpoint is \(run)/last.safetensors; try a lower --lr"), "\(e)")
        }
        // The checkpoint is the one of the step before (saved every step): 4 steps per epoch, 50 epochs.
        XCTAssertGreaterThan(failedStep, 1, "lr 1e12 should fail after a saved step")
        let progress = try HeadCheckpoint.load(run + "/last.safetensors", into: try SegmentationHead(config: Self.headConfig(outputStride: 8)))
        let good = failedStep - 1
        XCTAssertEqual(progress, TrainProgress(step: good, epoch: good / 4, batchInEpoch: good % 4, seed: options.seed, maxIter: 200, batchSize: 4),
                       "checkpoint kept after the non-finite loss at step \(failedStep)")
        XCTAssertEqual(try stepLog(run).map { $0["step"] as? Int }, (1...max(good, 1)).map { $0 }, "log.jsonl steps before the non-finite loss")
    }

    /// Every log.jsonl line's rate and ETA follow from its own step and training time: samples/s = step × batch / train
    /// seconds, ETA = train seconds per step × steps left (one session, no evaluation, so elapsed = train seconds).
    func testStepLogRateAndETAFollowFromTheTrainingTime() throws {
        var options = TrainOptions()
        options.epochs = 2; options.batch = 4; options.seed = 2; options.threads = 1; options.checkpointEvery = 0
        let run = try tempDir("head") + "/rate"
        _ = try strideEightTrainer(Self.syntheticSource(images: 12, seed: 9), options, run: run).run()
        let lines = try stepLog(run)
        XCTAssertEqual(lines.map { $0["step"] as? Int }, (1...6).map { $0 })
        for line in lines {
            let step = try XCTUnwrap(line["step"] as? Int)
            func number(_ key: String) throws -> Double { try XCTUnwrap((line[key] as? NSNumber)?.doubleValue, "step \(step): \(key)") }
            let train = try number("train_seconds")
            XCTAssertGreaterThan(train, 0, "step \(step)")
            assertClose([try number("elapsed_seconds")], [train], rtol: 1e-12, seed: 9, what: "step \(step): elapsed_seconds vs train_seconds")
            assertClose([try number("samples_per_second")], [Double(step * 4) / train], rtol: 1e-12, seed: 9,
                        what: "step \(step): samples_per_second vs step × batch / train_seconds")
            assertClose([try number("eta_seconds")], [train / Double(step) * Double(6 - step)], rtol: 1e-12, seed: 9,
                        what: "step \(step): eta_seconds vs train_seconds / step × steps left")
        }
    }
}
