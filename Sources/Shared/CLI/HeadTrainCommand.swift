import ArgumentParser

/// `headtrain`: trains, evaluates, sweeps and applies heads on cached features.
public struct HeadTrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "headtrain",
        abstract: "Train, evaluate, sweep and apply FPN/PPM segmentation heads on cached backbone features.",
        subcommands: [HeadTrainBench.self, HeadTrainPredict.self])
    public init() {}
}
