import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegModels
import DinoSegData
import DinoSegEval
import DinoSegPipeline

extension PSPNetConfig.Stem: ExpressibleByArgument {}

/// `headtrain baseline`: the ResNet-50 PSPNet of semseg trained end to end from images (no feature cache).
package struct HeadTrainBaseline: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Train, evaluate and apply the ResNet-50 PSPNet baseline (semseg's PSPNet, trained end to end from images).",
        subcommands: [HeadTrainBaselineTrain.self, HeadTrainBaselineEval.self, HeadTrainBaselinePredict.self])
    package init() {}
}

package struct HeadTrainBaselineTrain: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the PSPNet baseline on a dataset (augmentation on the fly, SGD, poly lr), resumable.")

    @Option(help: "Dataset root, in any layout extract reads (detected); the classifier gets its classes.") package var data: String
    @Option(help: "Image list: a split name (train_aug → ROOT/ImageSets/Segmentation/train_aug.txt) or a path (with a '/' or ending in .txt).")
    package var list: String = "train_aug"
    @Option(name: .customLong("run"), help: "Run directory (config.json, log.txt, log.jsonl, last.safetensors).")
    package var runDirectory: String
    @Option(help: "ImageNet ResNet-50 weights (.safetensors, torchvision or semseg names); without it the backbone starts random.")
    package var weights: String?
    @Option(name: .customLong("output-stride"), help: "8: layer3/layer4 dilated (semseg's PSPNet); 32: the original ResNet strides.")
    package var outputStride: Int = 8
    @Option(help: "Stem: deep (semseg, three 3×3 convs) or torchvision (one 7×7 conv).") package var stem: PSPNetConfig.Stem = .deep
    @Option(help: "Training crop (semseg's VOC config: 473; the DINOv3 heads: 224).") package var crop: Int = 473
    @OptionGroup package var training: TrainOptionGroup
    @Option(name: .customLong("width-divisor"), help: "Divide every width by this (a smaller, faster network; 1 = ResNet-50 PSPNet).")
    package var widthDivisor: Int = 1
    @Option(help: "Bottleneck blocks per stage (ResNet-50: 3,4,6,3).") package var blocks = CommaList([3, 4, 6, 3])
    @Flag(help: "Continue the run in --run from its last.safetensors (same flags as the original run).") package var resume = false
    @Option(name: .customLong("val-list"), help: "Images of --data to evaluate on during training (split name or path): every --eval-every epochs and at the end (metrics.json, confusion.csv, eval-history.json in the run).")
    package var valList: String?
    @Option(name: .customLong("eval-every"), help: "With --val-list: evaluate every N epochs (0: only at the end).")
    package var evalEvery: Int = 5
    @Option(name: .customLong("eval-long-side"), help: "With --val-list: long side the images are resized to (default: the dataset's; VOC 512); the windows are --crop, slid with --eval-stride and flipped.")
    package var evalLongSide: Int?
    @Option(name: .customLong("eval-stride"), help: "With --val-list: window stride (default: two thirds of --crop).")
    package var evalStride: Int?

    package init() {}

    /// The protocol of evaluations during training: slide windows of the training crop, with the flip, at the long
    /// side of the dataset's protocol unless --eval-long-side says otherwise.
    func evalProtocol(_ dataset: DatasetDescription) -> EvalProtocol {
        EvalProtocol(mode: .slide, flip: true, crop: crop, stride: evalStride ?? max(1, crop * 2 / 3),
                     longSide: evalLongSide ?? DatasetLayouts.evalProtocol(for: dataset).longSide)
    }

    package func validate() throws {
        guard outputStride == 8 || outputStride == 32 else { throw ValidationError("--output-stride must be 8 or 32") }
        try FlagBounds.check(crop, in: FlagBounds.crop, "--crop")
        guard widthDivisor >= 1, 64 % widthDivisor == 0 else { throw ValidationError("--width-divisor must divide 64 (got \(widthDivisor))") }
        guard blocks.values.count == 4 else { throw ValidationError("--blocks needs four counts, e.g. 3,4,6,3") }
        try FlagBounds.check(blocks.values, in: FlagBounds.blocks, "--blocks")
        // After --crop: the stride is bounded by it.
        try FlagBounds.check(evalEvery, in: FlagBounds.evalEvery, "--eval-every")
        try FlagBounds.check(evalLongSide, in: FlagBounds.imageSide, "--eval-long-side")
        try FlagBounds.check(evalStride, in: 1...crop, "--eval-stride")
    }

    package func run() throws {
        // Under mpirun/srun: one process per rank, data-parallel with SyncBN (see TrainingLoop); otherwise one process.
        let world = try Distributed.world()
        try world.endingJobOnError { try train(world) }
    }

    func train(_ world: Communicator) throws {
        var network = PSPNetConfig.reduced(divisor: widthDivisor, blocks: blocks.values, outputStride: outputStride, stem: stem)
        try training.precision.activate()
        let options = try training.options(defaults: .baseline)
        let dataset = try SegmentationDataset(root: data, list: list)
        try dataset.checkFilesExist()
        network.numClasses = dataset.description.classCount
        if world.isRoot { print("list: \(dataset.listSource); dataset \(dataset.description.name), \(network.numClasses) classes") }
        let settings = BaselineSettings(network: network, train: options, crop: crop, dataRoot: data, list: dataset.listPath,
                                        weights: resume ? try BaselineSettings.resumedWeights(run: runDirectory, asked: weights) : weights,
                                        dataset: dataset.description)
        StopSignal.install()
        // A Ctrl-C stop saves last.safetensors and ends normally (exit 0); --resume continues it.
        let trainer = BaselineTrainer(settings: settings, data: BaselineData(dataset: dataset, crop: crop), runDirectory: runDirectory,
                                      resume: resume, output: world.isRoot ? { print($0); fflush(stdout) } : { _ in })
        trainer.communicator = world
        if let valList, world.isRoot {
            let val = try SegmentationDataset(root: data, list: valList)
            try val.checkFilesExist()
            let p = evalProtocol(dataset.description)
            try FlagBounds.checkWindows(p)
            trainer.validation = TrainingValidation(every: evalEvery) { logits, step, checkpoint in
                try BaselineEval.evaluate(logits, dataset: val, evalProtocol: p, checkpointStep: step, checkpoint: checkpoint)
            }
        }
        _ = try trainer.run()
        if let result = trainer.lastEvaluation { print(result.report) }
    }
}

/// The baseline checkpoint to use: --checkpoint, else RUN/last.safetensors.
struct BaselineCheckpointOptions: ParsableArguments {
    @Option(name: .customLong("run"), help: "Run directory (its last.safetensors is used unless --checkpoint is given).")
    var runDirectory: String?
    @Option(help: "Baseline checkpoint (.safetensors).") var checkpoint: String?

    init() {}

    func validate() throws {
        guard runDirectory != nil || checkpoint != nil else { throw ValidationError("pass --run DIR or --checkpoint FILE") }
    }

    var path: String { checkpoint ?? runDirectory! + "/last.safetensors" }
}

package struct HeadTrainBaselineEval: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a baseline on a dataset list with the heads' protocol (mIoU, mAcc, allAcc, per-class table, confusion matrix).")

    @OptionGroup var checkpointOptions: BaselineCheckpointOptions
    @Option(help: "Dataset root, in any layout extract reads (detected).") var data: String
    @Option(help: "Image list: split name or path.") var list: String = "val"
    @OptionGroup var protocolOptions: EvalProtocolOptions
    @Option(help: "Threads.") var threads: Int = Parallel.defaultThreads
    @Option(name: .customLong("save-predictions"), help: "Also write each prediction as index and VOC-palette PNGs into this directory.")
    var savePredictions: String?
    @Flag(help: "Print metrics.json instead of the table.") var json = false

    @OptionGroup var precisionOptions: PrecisionOptions
    package init() {}

    package func validate() throws { try FlagBounds.check(threads, in: FlagBounds.threads, "--threads") }

    package func run() throws {
        try precisionOptions.activate()
        setBLASThreads(threads)
        let ckpt = checkpointOptions.path
        let (net, step) = try BaselineEval.load(ckpt, threads: threads)
        let dataset = try SegmentationDataset(root: data, list: list)
        try dataset.checkFilesExist()
        try dataset.description.checkSame(as: try PSPNetCheckpoint.dataset(of: ckpt), path: data, otherPath: ckpt)
        let p = try protocolOptions.evalProtocol(for: dataset.description)
        let outDir = checkpointOptions.runDirectory ?? (ckpt as NSString).deletingLastPathComponent
        if !json { print("evaluating \(net.config.summary) from \(ckpt) on \(dataset.listSource) (\(dataset.samples.count) images); protocol: \(p)") }
        // Checked before the evaluation, which may take hours: where the results go, and the file name of every id.
        try OutputCheck.writableDirectory(outDir, what: "directory for metrics.json")
        if let dir = savePredictions {
            try OutputCheck.writableDirectory(dir, what: "prediction directory")
            try OutputCheck.checkOutputNames(ids: dataset.samples.map(\.id), suffixes: [".png", "_colour.png"], flag: "--save-predictions")
        }
        var saveError: Error? = nil
        let start = Date()
        let progressLine: ((Int, Int) -> Void)? = json ? nil : { i, n in
            let s = Date().timeIntervalSince(start)
            FileHandle.standardError.write(Data(String(format: "\r  image %d/%d  %.2f images/s  ETA %@", i, n, Double(i - 1) / max(s, 1e-9),
                                                       formatDuration(s / Double(max(i - 1, 1)) * Double(n - i + 1))).utf8))
        }
        let result = try BaselineEval.evaluate(net, dataset: dataset, evalProtocol: p, checkpointStep: step, checkpoint: ckpt,
                                               progress: progressLine) { f, pred in
            guard let dir = savePredictions, saveError == nil else { return }
            let label = LabelImage(width: f.geometry.originalWidth, height: f.geometry.originalHeight, pixels: pred)
            do {
                try ImageIO.writeGreyPNG(pred, width: label.width, height: label.height, to: dir + "/" + f.id + ".png")
                try ImageIO.writePNG(ImageIO.colourise(label, dataset: dataset.description), to: dir + "/" + f.id + "_colour.png")
            } catch { saveError = error }
        }
        if !json { FileHandle.standardError.write(Data("\n".utf8)) }
        try result.writeAndPrint(to: outDir, json: json)
        if let e = saveError { throw e }
    }
}

package struct HeadTrainBaselinePredict: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Segment photos with a trained baseline; writes index, colour and overlay PNGs per image.")

    @OptionGroup var checkpointOptions: BaselineCheckpointOptions
    @Option(help: "Output directory (default RUN/predictions).") var out: String?
    @Option(help: "Threads.") var threads: Int = Parallel.defaultThreads
    @OptionGroup var protocolOptions: EvalProtocolOptions
    @Argument(help: "JPEG or PNG images.") var images: [String]

    @OptionGroup var precisionOptions: PrecisionOptions
    package init() {}

    package func validate() throws {
        guard out != nil || checkpointOptions.runDirectory != nil else { throw ValidationError("pass --out DIR (there is no --run to default to)") }
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        try FlagBounds.check(threads, in: FlagBounds.threads, "--threads")
    }

    package func run() throws {
        try precisionOptions.activate()
        setBLASThreads(threads)
        let ckpt = checkpointOptions.path
        let (net, step) = try BaselineEval.load(ckpt, threads: threads)
        let outDir = out ?? checkpointOptions.runDirectory! + "/predictions"
        let names = try Predictor.prepareOutputs(for: images, in: outDir)
        let dataset = try PSPNetCheckpoint.dataset(of: ckpt)
        let p = try protocolOptions.evalProtocol(for: dataset)
        print("predict: \(net.config.summary), checkpoint \(ckpt) (step \(step.map(String.init) ?? "?")); protocol: \(p)")
        for (path, name) in zip(images, names) {
            let start = Date()
            let photo = try ImageIO.readRGB(path)
            let label = Predictor.segment(photo, backbone: ImageWindowBackbone(), head: PSPNetWindowLogits(net), evalProtocol: p,
                                          threads: threads)
            let written = try Predictor.writeOutputs(label, photo: photo, name: name, to: outDir, dataset: dataset)
            let present = Set(label.pixels).sorted().map { dataset.className(Int($0)) }.joined(separator: ", ")
            print(String(format: "%@ (%dx%d, %.1f s): %@ → %@", path, photo.width, photo.height,
                         Date().timeIntervalSince(start), present, written.joined(separator: ", ")))
        }
    }
}
