import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegData

/// `extract synth`: writes the synthetic VOC-layout dataset.
package struct ExtractSynth: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic dataset in one of the dataset layouts (default VOC: JPEG images, palette label PNGs, train/val lists).")

    @Option(name: .long, help: "Output directory (the dataset root).") var out: String
    @Option(name: .long, help: ArgumentHelp("Dataset layout to write: \(SyntheticLayouts.all.map(\.layout).joined(separator: ", ")).", valueName: "layout"))
    var layout = VOCLayout.name
    @Option(name: .long, help: "Number of train images.") var train: Int = 64
    @Option(name: .long, help: "Number of val images.") var val: Int = 16
    @Option(name: .long, help: "Random seed (the dataset is deterministic for a seed).") var seed: UInt64 = 0
    @Option(name: .long, help: "Number of object classes besides background (1–20).") var classes: Int = 6
    @Option(name: .long, help: "Smallest image side in pixels.") var minSide: Int = 160
    @Option(name: .long, help: "Largest image side in pixels.") var maxSide: Int = 400

    package init() {}

    package func validate() throws {
        try FlagBounds.check(train, in: FlagBounds.syntheticImages, "--train")
        try FlagBounds.check(val, in: FlagBounds.syntheticImages, "--val")
        guard train + val > 0 else { throw ValidationError("--train and --val must not both be 0") }
        try FlagBounds.check(classes, in: 1...20, "--classes")
        guard SyntheticLayouts.all.contains(where: { $0.layout == layout }) else {
            throw ValidationError("--layout \(layout): synthetic data can be written as \(SyntheticLayouts.all.map(\.layout).joined(separator: ", "))")
        }
        try FlagBounds.check(minSide, in: FlagBounds.syntheticSide, "--min-side")
        try FlagBounds.check(maxSide, in: minSide...FlagBounds.syntheticSide.upperBound, "--max-side")
    }

    var config: SyntheticDatasetConfig {
        var c = SyntheticDatasetConfig()
        c.trainCount = train; c.valCount = val; c.seed = seed; c.minSide = minSide; c.maxSide = maxSide
        c.objectClasses = SyntheticDatasetConfig.spreadClasses(classes)
        return c
    }

    package func run() throws {
        let c = config
        let start = Date()
        try SyntheticDataset.write(to: out, config: c, layout: layout)
        // Read back through the layout, so the line names the classes as that dataset calls them.
        let dataset = try DatasetLayouts.open(root: out, name: layout).description
        print("wrote \(c.trainCount) train + \(c.valCount) val images to \(out) in the \(layout) layout (seed \(c.seed); "
              + "dataset \(dataset.name), \(dataset.classCount) classes, \(c.objectClasses.count) object classes drawn) "
              + String(format: "in %.1f s", Date().timeIntervalSince(start)))
    }
}
