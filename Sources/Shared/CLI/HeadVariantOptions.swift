import ArgumentParser
import DinoSegModels

extension HeadContext: ExpressibleByArgument {}
extension HeadVariant: ExpressibleByArgument {}

/// Which head to build (FPN width and output stride, neck and context module), shared by `headtrain train` and
/// `headtrain bench`. The variant names are HeadVariant's (the same as `headtrain sweep --variants`).
package struct HeadVariantOptions: ParsableArguments {
    @Option(name: .customLong("fpn-width"), help: "FPN channel width.") package var fpnWidth: Int = 1024
    @Option(name: .customLong("output-stride"), help: "FPN output stride: 8 (F1..F3) or 4 (F0..F3).") package var outputStride: Int = 8
    @Option(help: ArgumentHelp("The head variant: \(HeadVariant.allCases.map(\.rawValue).joined(separator: ", ")) (default fpn-ppm).",
                               valueName: "variant"))
    package var variant: HeadVariant?
    @Option(help: "Context module before the classifier: none, ppm, aspp (default ppm).") package var context: HeadContext?
    @Option(name: .customLong("aspp-rates"), help: "ASPP dilation rates, three comma-separated (default 12,24,36 at output stride 8, scaled to the working stride).")
    package var asppRates: CommaList<Int>?
    @Flag(name: .customLong("no-fpn"), help: "No FPN: the head runs on stage 3.") package var noFPN = false
    @Flag(name: .customLong("no-ppm"), help: "No context module (same as --context none).") package var noPPM = false
    package init() {}

    package func validate() throws {
        guard outputStride == 4 || outputStride == 8 else { throw ValidationError("--output-stride must be 4 or 8") }
        try FlagBounds.check(fpnWidth, in: FlagBounds.fpnWidth, "--fpn-width")
        if variant != nil, noFPN || noPPM || context != nil {
            throw ValidationError("--variant names the whole head; drop --no-fpn, --no-ppm and --context")
        }
        if noPPM, let context, context != .none { throw ValidationError("--no-ppm contradicts --context \(context.rawValue)") }
        if let rates = asppRates?.values {
            guard rates.count == 3, rates.allSatisfy({ (1...256).contains($0) }) else {
                throw ValidationError("--aspp-rates needs three rates in 1...256, got \(rates.map(String.init).joined(separator: ","))")
            }
            guard resolvedVariant.context == .aspp else { throw ValidationError("--aspp-rates needs an ASPP head (--context aspp)") }
        }
    }

    /// The variant the flags select.
    package var resolvedVariant: HeadVariant {
        variant ?? HeadVariant(neck: noFPN ? .none : .fpn, context: noPPM ? .none : context ?? .ppm)
    }

    package func headConfig(stageChannels: [Int]) -> HeadConfig {
        var c = HeadConfig(stageChannels: stageChannels, fpnWidth: fpnWidth, outputStride: outputStride, variant: resolvedVariant)
        if let rates = asppRates?.values { c.asppRates = rates }
        return c
    }
}
