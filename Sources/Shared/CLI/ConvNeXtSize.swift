import ArgumentParser
import DinoSegBackbone

/// `--size tiny|small|base|large`: a released ConvNeXt architecture, looked up in ConvNeXtConfig.named (a new size
/// is one line there).
struct ConvNeXtSize: ExpressibleByArgument {
    let name: String
    let config: ConvNeXtConfig

    init?(argument: String) {
        guard let entry = ConvNeXtConfig.named.first(where: { $0.0 == argument }) else { return nil }
        (name, config) = entry
    }

    static let tiny = ConvNeXtSize(argument: "tiny")!
    static var allValueStrings: [String] { ConvNeXtConfig.named.map(\.0) }
    /// "tiny, small, base or large", for help texts.
    static var choices: String { allValueStrings.dropLast().joined(separator: ", ") + " or " + allValueStrings.last! }
    var defaultValueDescription: String { name }
}
