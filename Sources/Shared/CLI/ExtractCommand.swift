import ArgumentParser

/// `extract`: runs the frozen backbone and writes features.
public struct ExtractCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Compute DINOv3 ConvNeXt features for images and datasets and store them in HDF5 shards.",
        subcommands: [ExtractSynth.self, ExtractTrain.self, ExtractVal.self, ExtractVerify.self, ExtractPreview.self, ExtractCheckVOC.self])
    public init() {}
}
