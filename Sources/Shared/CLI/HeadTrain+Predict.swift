import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegBackbone
import DinoSegModels
import DinoSegEval

/// `headtrain predict`: backbone + trained head on new photos, with the evaluation protocol.
package struct HeadTrainPredict: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Segment photos with the backbone and a trained head; writes index, colour and overlay PNGs per image.")

    @Option(name: .customLong("run"), help: "Run directory (its latest checkpoint is used unless --checkpoint is given).")
    var runDirectory: String?
    @Option(name: .long, help: "Head checkpoint (.safetensors).") var checkpoint: String?
    @Option(name: .long, help: "Backbone weights: directory with config.json + model.safetensors, or a .safetensors file.")
    var weights: String
    @Option(name: .long, help: "Output directory (default RUN/predictions).") var out: String?
    @Option(name: .long, help: "Worker threads (default: all cores).") var threads: Int = Parallel.defaultThreads
    @OptionGroup var protocolOptions: EvalProtocolOptions
    @Argument(help: "JPEG or PNG images.") var images: [String]

    @OptionGroup var precisionOptions: PrecisionOptions
    package init() {}

    package func validate() throws {
        guard runDirectory != nil || checkpoint != nil else { throw ValidationError("pass --run DIR or --checkpoint FILE") }
        guard out != nil || runDirectory != nil else { throw ValidationError("pass --out DIR (there is no --run to default to)") }
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        try FlagBounds.check(threads, in: FlagBounds.threads, "--threads")
    }

    package func run() throws {
        try precisionOptions.activate()
        let ckpt = try checkpoint ?? RunCheckpoints.latest(run: runDirectory!).path
        let (head, step) = try RunCheckpoints.loadHead(ckpt, threads: threads)
        let backbone = try BackboneLoader.load(weights)
        guard backbone.stageChannels == head.config.stageChannels else {
            throw DinoSegError(file: weights, "backbone stage channels \(backbone.stageChannels) do not match the head's \(head.config.stageChannels) (\(ckpt))")
        }
        try HeadCheckpoint.checkBackbone(ckpt, weightsSHA256: backbone.weightsSHA256, what: weights)
        let outDir = out ?? runDirectory! + "/predictions"
        let names = try Predictor.prepareOutputs(for: images, in: outDir)
        let p = protocolOptions.evalProtocol
        let note = RandomCheckpoint.isRandom(weightsPath: weights) ? "; \(RandomCheckpoint.label)" : ""
        print("predict: \(head.config.variantName), checkpoint \(ckpt) (step \(step.map(String.init) ?? "?")); protocol: \(p)\(note)")
        // Windows run in parallel through the backbone, one single-threaded BLAS per worker.
        try withBLASThreads(1) {
            for (path, name) in zip(images, names) {
                let start = Date()
                let photo = try ImageIO.readRGB(path)
                let label = Predictor.segment(photo, backbone: backbone, head: head, evalProtocol: p, threads: threads)
                let written = try Predictor.writeOutputs(label, photo: photo, name: name, to: outDir)
                // VOC names; past VOC's 21 classes (a head trained on another dataset) "class<c>", never an out-of-range index.
                let present = Set(label.pixels).sorted().map { DatasetDescription.voc.className(Int($0)) }.joined(separator: ", ")
                print(String(format: "%@ (%dx%d, %.1f s): %@ → %@", path, photo.width, photo.height,
                             Date().timeIntervalSince(start), present, written.joined(separator: ", ")))
            }
        }
    }
}
