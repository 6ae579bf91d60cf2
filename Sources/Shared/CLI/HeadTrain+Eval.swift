import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegModels
import DinoSegEval

/// `headtrain eval`: a trained head on a val cache, semseg metrics, per-class table, confusion.csv and metrics.json.
package struct HeadTrainEval: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a trained head on a val feature cache (mIoU, mAcc, allAcc, per-class table, confusion matrix).")

    @Option(name: .customLong("run"), help: "Run directory; metrics.json and confusion.csv are written into it.")
    var runDirectory: String
    @Option(name: .customLong("val-cache"), help: "Val feature cache (from `extract val`).") var valCache: String
    @Option(name: .long, help: "Head checkpoint (default: the run's latest).") var checkpoint: String?
    @Option(name: .long, help: "Threads for the head.") var threads: Int = Parallel.defaultThreads
    @Flag(name: .long, help: "Print metrics.json instead of the table.") var json = false
    @Option(name: .customLong("save-predictions"), help: "Also write each prediction as an index PNG (ID.png) into this directory.")
    var savePredictions: String?

    @OptionGroup var precisionOptions: PrecisionOptions
    package init() {}

    package func validate() throws {
        try FlagBounds.check(threads, in: FlagBounds.threads, "--threads")
    }

    package func run() throws {
        try precisionOptions.activate()
        setBLASThreads(threads)
        let ckpt = try checkpoint ?? RunCheckpoints.latest(run: runDirectory).path
        let (head, step) = try RunCheckpoints.loadHead(ckpt, threads: threads)
        let (eval, manifest) = try ValCacheEval.settings(directory: valCache)
        guard manifest.config.backbone.hiddenSizes == head.config.stageChannels else {
            throw DinoSegError(file: valCache, "features have stage channels \(manifest.config.backbone.hiddenSizes), the head (\(ckpt)) expects \(head.config.stageChannels)")
        }
        try HeadCheckpoint.checkBackbone(ckpt, weightsSHA256: manifest.config.backbone.weightsSHA256, what: valCache)
        if !json {
            print("evaluating \(head.config.variantName) from \(ckpt) on \(valCache) (\(manifest.imageIDs.count) images, backbone \(manifest.config.backbone.name))")
        }
        // Checked before the evaluation: where the results go, and the file name of every id.
        try OutputCheck.writableDirectory(runDirectory, what: "run directory")
        if let dir = savePredictions {
            try OutputCheck.writableDirectory(dir, what: "prediction directory")
            try OutputCheck.checkOutputNames(ids: manifest.imageIDs, suffixes: [".png"], flag: "--save-predictions")
        }
        var saveError: Error? = nil
        let result = try eval.evaluate(head, step: step, checkpoint: ckpt) { f, pred in
            guard let dir = savePredictions, saveError == nil else { return }
            do {
                try ImageIO.writeGreyPNG(pred, width: f.geometry.originalWidth, height: f.geometry.originalHeight,
                                         to: dir + "/" + f.id + ".png")
            } catch { saveError = error }
        }
        try result.writeAndPrint(to: runDirectory, json: json)
        if let e = saveError { throw e }
    }
}
