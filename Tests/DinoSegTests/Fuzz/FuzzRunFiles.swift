// Fuzz drivers for the files of weights, training runs, sweeps and baselines: the weights' config.json, a run's
// log.jsonl (read back on resume and by the sweep), a sweep job's sweep-entry.json / eval-history.json / metrics.json,
// a baseline run's config.json / metrics.json / log.jsonl (read by `headtrain sweep --baseline`), and head and
// baseline checkpoints through the loaders of eval, predict and resume. Seeds are real files made by a small run.
import XCTest
@testable import DinoSegCore
@testable import DinoSegNN
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline
@testable import DinoSegCLI

extension FuzzTests {
    /// A finished one-job sweep (head variant, 2 epochs of 8 synthetic images, evaluated each epoch, seed 11) in
    /// work/sweep; made once per process.
    static let sweepRun: Result<(settings: SweepSettings, stepsPerEpoch: Int, source: HeadTrainingSource), Error> = Result {
        let seed: UInt64 = 11
        let source = HeadTrainingTests.syntheticSource(images: 8, seed: seed)
        let eval = HeadTrainingTests.wholeImageEval(source, count: 2, backboneNote: nil)
        var train = TrainOptions()
        train.epochs = 2; train.batch = 4; train.threads = 1; train.seed = seed
        let settings = SweepSettings(jobs: SweepJob.plan(variants: [.head], widths: [16]), outputStride: 8, train: train,
                                     evalEvery: 1, examples: 0, runDirectory: workDir + "/sweep", dataset: .synthetic,
                                     photoDirectory: nil)
        _ = try Sweep.run(settings, source: source, eval: eval) { _ in }
        return (settings, 2, source)
    }

    var headRun: String { "\(work)/sweep/head" }

    /// A tiny baseline run (widths / 16, one block per stage, crop 65, 1 epoch of 4 synthetic images, seed 3),
    /// evaluated on the 2 val images, in work/baseline; made once per process.
    static let baselineRun: Result<EvalData, Error> = Result {
        let data = workDir + "/baseline-data", run = workDir + "/baseline"
        try writeSyntheticData(to: data, train: 4, val: 2, seed: 3, sides: 64...80, objects: 2)
        for args in [["baseline", "train", "--data", data, "--list", "train", "--run", run, "--epochs", "1", "--width-divisor", "16",
                      "--blocks", "1,1,1,1", "--crop", "65", "--batch", "4", "--threads", "1", "--seed", "3", "--log-interval", "1"],
                     ["baseline", "eval", "--run", run, "--data", data, "--list", "val", "--mode", "whole", "--long-side", "80",
                      "--no-flip", "--threads", "1"]] {
            try runCommand(HeadTrainCommand.self, args)
        }
        return try XCTUnwrap(EvalResult.read(run + "/metrics.json").data)
    }

    func read(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// A fresh copy of `run` in work/NAME-run for one driver.
    func scratchCopy(of run: String, name: String) throws -> String {
        let copy = "\(work)/\(name)-run"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: run, toPath: copy)
        return copy
    }

    // MARK: weights config.json

    func testFuzzWeightsConfig() throws {
        let dir = "\(work)/weights-config"
        try RandomCheckpoint.write(config: ConvNeXtConfig(hiddenSizes: [4, 8, 8, 8], depths: [1, 1, 1, 1]), seed: 3, to: dir)
        let seed = try read(dir + "/config.json")
        runFuzz("weights-config", seeds: [seed], budget: .fromEnvironment(defaultInputs: 200), workDir: work,
                structured: FuzzFormats.json()) { input in
            try input.write(to: URL(fileURLWithPath: dir + "/config.json"))
            _ = try ConvNeXtWeights.load(path: dir)
        }
    }

    // MARK: a training run's log.jsonl and a sweep job's files

    func testFuzzRunLog() throws {
        let (_, stepsPerEpoch, _) = try Self.sweepRun.get()
        let run = try scratchCopy(of: headRun, name: "log-jsonl")
        let seed = try read(headRun + "/log.jsonl")
        runFuzz("log-jsonl", seeds: [seed], budget: .fromEnvironment(defaultInputs: 80), workDir: work,
                structured: FuzzFormats.json(lines: true)) { input in
            try input.write(to: URL(fileURLWithPath: run + "/log.jsonl"))
            _ = TrainingLog.lastStep(directory: run)
            _ = TrainAndEvaluate.lossCurve(runDirectory: run, stepsPerEpoch: stepsPerEpoch, bucket: 2)
            _ = try TrainingLog(directory: run, truncateFromStep: 2 * stepsPerEpoch, keepEvalSteps: [stepsPerEpoch]) { _ in }
        }
    }

    /// sweep-entry.json, eval-history.json and metrics.json of a finished job, each mutated in turn and read as a
    /// resumed sweep reads them.
    func testFuzzSweepJobFiles() throws {
        let (settings, stepsPerEpoch, source) = try Self.sweepRun.get()
        for file in ["sweep-entry.json", "eval-history.json", "metrics.json"] {
            let run = try scratchCopy(of: headRun, name: "sweep-job")
            runFuzz("sweep-job-\(file)", seeds: [try read(headRun + "/" + file)], budget: .fromEnvironment(defaultInputs: 100),
                    workDir: work, structured: FuzzFormats.json()) { input in
                try input.write(to: URL(fileURLWithPath: run + "/" + file))
                _ = try Sweep.finishedEntry(dir: run, job: settings.jobs[0], settings: settings, stepsPerEpoch: stepsPerEpoch, source: source)
                _ = Sweep.curvesOf(run, stepsPerEpoch: stepsPerEpoch)
                _ = try EvalResult.read(run + "/metrics.json")
            }
        }
    }

    // MARK: a baseline run's files, as `headtrain sweep --baseline` reads them

    func testFuzzBaselineRunFiles() throws {
        let valData = try Self.baselineRun.get()
        for file in ["config.json", "metrics.json", "log.jsonl"] {
            let run = try scratchCopy(of: "\(work)/baseline", name: "baseline-files")
            runFuzz("baseline-\(file)", seeds: [try read("\(work)/baseline/\(file)")], budget: .fromEnvironment(defaultInputs: 100),
                    workDir: work, structured: FuzzFormats.json(lines: file.hasSuffix(".jsonl"))) { input in
                try input.write(to: URL(fileURLWithPath: run + "/" + file))
                _ = try BaselineRun.load(run, valData: valData)
            }
        }
    }

    // MARK: a run's config.json, as `--resume` and a sweep rerun read it

    /// The config.json of a head job and of a baseline run, read back as a resume compares it with the flags asked
    /// for (RecordedTraining / RecordedBaseline through RunRecord.read, then the setting comparison).
    func testFuzzRunConfigOnResume() throws {
        let (settings, _, _) = try Self.sweepRun.get()
        _ = try Self.baselineRun.get()
        let head = try scratchCopy(of: headRun, name: "run-config")
        runFuzz("head-run-config.json", seeds: [try read(headRun + "/config.json")], budget: .fromEnvironment(defaultInputs: 100),
                workDir: work, structured: FuzzFormats.json()) { input in
            try input.write(to: URL(fileURLWithPath: head + "/config.json"))
            if let recorded = try RecordedTraining.read(run: head) {
                _ = recorded.differences(from: settings.train, cache: "cache", features: nil, seedAndBatch: true)
            }
        }
        let baseline = try scratchCopy(of: "\(work)/baseline", name: "baseline-config")
        runFuzz("baseline-run-config.json-resume", seeds: [try read("\(work)/baseline/config.json")],
                budget: .fromEnvironment(defaultInputs: 100), workDir: work, structured: FuzzFormats.json()) { input in
            try input.write(to: URL(fileURLWithPath: baseline + "/config.json"))
            if let recorded = try RunRecord.read(RecordedBaseline.self, run: baseline) {
                _ = recorded.train.optimisationChanges(to: settings.train, seedAndBatch: true)
                _ = pathChange("--data", recorded.dataRoot, "data")
            }
        }
    }

    // MARK: checkpoints

    /// The head checkpoint of a job through what eval / predict (RunCheckpoints.latest + loadHead) and resume
    /// (HeadCheckpoint.load into the run's head) do with it.
    func testFuzzHeadCheckpoint() throws {
        _ = try Self.sweepRun.get()
        let run = try scratchCopy(of: headRun, name: "head-checkpoint")
        let path = run + "/" + TrainAndEvaluate.checkpointName
        let seed = try read(path)
        let resumeHead = try SegmentationHead(config: try HeadCheckpoint.config(of: path), threads: 1)
        runFuzz("head-checkpoint", seeds: [seed], budget: .fromEnvironment(defaultInputs: 150), workDir: work,
                structured: FuzzFormats.safetensors) { input in
            try input.write(to: URL(fileURLWithPath: path))
            let found = try RunCheckpoints.latest(run: run)
            _ = try RunCheckpoints.loadHead(found.path, threads: 1)
            _ = try HeadCheckpoint.load(path, into: resumeHead)
        }
    }

    /// The baseline's checkpoint through `baseline eval` / predict's loader and resume's load into the run's network.
    func testFuzzBaselineCheckpoint() throws {
        _ = try Self.baselineRun.get()
        let run = try scratchCopy(of: "\(work)/baseline", name: "baseline-checkpoint")
        let path = run + "/last.safetensors"
        let seed = try read(path)
        let resumeNet = try PSPNet(config: try PSPNetCheckpoint.config(of: path), threads: 1)
        runFuzz("baseline-checkpoint", seeds: [seed], budget: .fromEnvironment(defaultInputs: 100), workDir: work,
                structured: FuzzFormats.safetensors) { input in
            try input.write(to: URL(fileURLWithPath: path))
            _ = try BaselineEval.load(path, threads: 1)
            _ = try PSPNetCheckpoint.load(path, into: resumeNet)
        }
    }
}

extension FuzzTests {
    /// `checkpoint` with its metadata "config" JSON changed by `edit` (header length prefix rewritten).
    func rewritingConfig(_ checkpoint: Data, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        let bytes = [UInt8](checkpoint)
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        var meta = try XCTUnwrap(header["__metadata__"] as? [String: String])
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(meta["config"]).utf8)) as? [String: Any])
        edit(&config)
        meta["config"] = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        header["__metadata__"] = meta
        let text = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        return Data((0..<8).map { UInt8((text.count >> (8 * $0)) & 0xFF) }) + text + Data(bytes[(8 + n)...])
    }

    /// Each named edit of `checkpoint`'s config metadata, written to `path`, makes `load` throw "PATH: " + its message;
    /// with the config unchanged, `load` succeeds.
    func assertConfigEditsRefused(_ checkpoint: Data, path: String, _ cases: [(String, (inout [String: Any]) -> Void, String)],
                                  load: (String) throws -> Void) throws {
        for (name, edit, message) in cases {
            try rewritingConfig(checkpoint, edit).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try load(path), name) { error in XCTAssertEqual("\(error)", "\(path): \(message)", name) }
        }
        try rewritingConfig(checkpoint, { _ in }).write(to: URL(fileURLWithPath: path))
        XCTAssertNoThrow(try load(path), "the unchanged config")
    }

    /// Found by the baseline-checkpoint driver (FUZZ_SEED=7, input 189): a config claiming 2³¹ blocks in layer1 built
    /// that network before any tensor was read (the input ran past the 30 s limit). Configs must match the tensors.
    func testBaselineCheckpointConfigMustMatchItsTensors() throws {
        _ = try Self.baselineRun.get()
        let seed = try read("\(work)/baseline/last.safetensors")
        let path = "\(work)/baseline-config-check.safetensors"
        defer { unlink(path) }
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("2³¹ blocks", { $0["blocks"] = [2_147_483_648, 1, 1, 1] }, "layer1 with 2147483648 blocks"),
            ("a million channels", { $0["planes"] = [4, 8, 16, 1_000_000] }, "layer4 width 1000000"),
            ("wide stem", { $0["stemWidth"] = 1 << 40 }, "stem width 1099511627776"),
            ("100 000 pyramid branches", { $0["bins"] = Array(repeating: 1, count: 100_000) }, "100000 pyramid branches of width 32"),
            ("a million classes", { $0["numClasses"] = 1_000_000 }, "classifier widths 32/16 for 1000000 classes"),
        ]
        let refusals = cases.map { ($0, $1, "config in the metadata does not match the tensors: " + $2) }
        try assertConfigEditsRefused(seed, path: path, refusals) { _ = try BaselineEval.load($0, threads: 1) }
    }
}

extension FuzzTests {
    /// Found by the baseline-config.json driver (FUZZ_SEED=7): blocks near Int.max in a baseline run's config.json
    /// overflowed the depth in the model name of `headtrain sweep --baseline` (a crash). Now one line.
    func testBaselineRunConfigWithHugeBlocksIsRefused() throws {
        let valData = try Self.baselineRun.get()
        let run = try scratchCopy(of: "\(work)/baseline", name: "baseline-huge-blocks")
        defer { try? FileManager.default.removeItem(atPath: run) }
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: read(run + "/config.json")) as? [String: Any])
        var network = try XCTUnwrap(config["network"] as? [String: Any])
        network["blocks"] = [Int.max, Int.max, 1, 1]
        config["network"] = network
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: run + "/config.json"))
        XCTAssertThrowsError(try BaselineRun.load(run, valData: valData)) { error in
            XCTAssertEqual("\(error)", "\(run)/config.json: network settings out of range ([\(Int.max), \(Int.max), 1, 1] blocks, widths 4/[4, 8, 16, 32])")
        }
    }
}

extension FuzzTests {
    /// Found by the head-checkpoint driver (FUZZ_SEED=7): a config with stage channels [16,16,16,16777216] built the
    /// head before any tensor was read, and the allocation of 309 GB ended the process. Now one line.
    func testHeadCheckpointConfigMustMatchItsTensors() throws {
        _ = try Self.sweepRun.get()
        let seed = try read(headRun + "/" + TrainAndEvaluate.checkpointName)
        let path = "\(work)/head-config-check.safetensors"
        defer { unlink(path) }
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("2²⁴ channels", { $0["stageChannels"] = [16, 16, 16, 16_777_216] },
             "head config in the metadata out of range (widths 1…65536, 1…64 pyramid bins): head on F3 (stage channels 16,16,16,16777216, 21 classes, classifier width 512)"),
            ("no pyramid bins", { $0["ppmBins"] = [Int](); $0["context"] = "ppm" },
             "head config in the metadata out of range (widths 1…65536, 1…64 pyramid bins): PPM + head on F3 (stage channels 16,16,16,16, 21 classes, classifier width 512)"),
            ("another width", { $0["classifierWidth"] = 64 },
             "head config in the metadata (head on F3 (stage channels 16,16,16,16, 21 classes, classifier width 64)) does not match the tensors: 'cls.0.weight' should be [64, 16, 3, 3], the file has [512, 16, 3, 3]"),
        ]
        try assertConfigEditsRefused(seed, path: path, cases) { _ = try RunCheckpoints.loadHead($0, threads: 1) }
    }
}
