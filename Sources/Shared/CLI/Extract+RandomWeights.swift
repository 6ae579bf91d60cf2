import ArgumentParser
import Foundation
import DinoSegBackbone

/// `extract random-weights`: writes a random-weight ConvNeXt checkpoint (for the demo and tests, never for results).
package struct ExtractRandomWeights: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "random-weights",
        abstract: "Write a random-weight DINOv3 ConvNeXt checkpoint (config.json + model.safetensors), marked as such.")

    @Option(name: .long, help: "Model size: \(ConvNeXtSize.choices).") var size: ConvNeXtSize = .tiny
    @Option(name: .long, help: "Output directory.") var out: String
    @Option(name: .long, help: "Random seed.") var seed: UInt64 = 0

    package init() {}

    package func run() throws {
        let config = size.config
        try RandomCheckpoint.write(config: config, seed: seed, to: out)
        print("wrote \(RandomCheckpoint.label) checkpoint \(config.modelName) (seed \(seed)) to \(out)")
    }
}
