import ArgumentParser

/// `headtrain`: trains, evaluates, sweeps and applies heads on cached features.
public struct HeadTrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "headtrain",
        abstract: "Train, evaluate, sweep and apply FPN/PPM segmentation heads on cached backbone features (and the ResNet-50 PSPNet baseline from images).",
        subcommands: [HeadTrainTrain.self, HeadTrainEval.self, HeadTrainSweep.self, HeadTrainPredict.self, HeadTrainBench.self,
                      HeadTrainBaseline.self])
    public init() {}
}
