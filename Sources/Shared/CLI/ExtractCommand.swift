import ArgumentParser

/// `extract`: runs the frozen backbone and writes features.
public struct ExtractCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Compute DINOv3 ConvNeXt features for images and datasets and store them in HDF5 shards.",
        subcommands: [ExtractImage.self, ExtractTrain.self, ExtractVal.self, ExtractVerify.self, ExtractPreview.self,
                      ExtractCheckVOC.self, ExtractCheckADE20K.self, ExtractSynth.self, ExtractRandomWeights.self, ExtractBench.self])
    public init() {}
}
