// The one definition of a head variant: which neck and which context module it has, and every name it goes by
// (the `--variants` / `--context` flag values, run directory names, the report's model names, the training log's label).
// Adding a context module is one `HeadContext` case here plus its module file (docs/DESIGN.md "Head modules").

/// What sits between the stage features and the context module.
package enum HeadNeck: String, Codable, CaseIterable, Sendable {
    /// The head reads stage 3 only (stride 32).
    case none
    /// torchvision's FeaturePyramidNetwork over stages 1…3 (or 0…3), output at the finest.
    case fpn
}

/// The module that adds image context to the features before the classifier.
package enum HeadContext: String, Codable, CaseIterable, Sendable {
    case none
    /// semseg's pyramid pooling module (PSPNet).
    case ppm
    /// DeepLabV3's atrous spatial pyramid pooling (torchvision's `ASPP`).
    case aspp

    /// Its name in model names ("PPM", "ASPP").
    var label: String { rawValue.uppercased() }
}

package struct HeadVariant: Hashable, Codable, CaseIterable, RawRepresentable, Sendable {
    package var neck: HeadNeck
    package var context: HeadContext

    package init(neck: HeadNeck, context: HeadContext) { self.neck = neck; self.context = context }

    package static let head = HeadVariant(neck: .none, context: .none)
    package static let ppm = HeadVariant(neck: .none, context: .ppm)
    package static let fpn = HeadVariant(neck: .fpn, context: .none)
    package static let fpnPPM = HeadVariant(neck: .fpn, context: .ppm)
    package static let aspp = HeadVariant(neck: .none, context: .aspp)
    package static let fpnASPP = HeadVariant(neck: .fpn, context: .aspp)

    /// Every neck with every context, the variants without FPN first.
    package static var allCases: [HeadVariant] {
        HeadNeck.allCases.flatMap { n in HeadContext.allCases.map { HeadVariant(neck: n, context: $0) } }
    }

    /// "head", "ppm", "aspp", "fpn", "fpn-ppm", "fpn-aspp": the flag value and the sweep entry's record.
    package var rawValue: String {
        switch (neck, context) {
        case (.none, .none): return "head"
        case (.none, let c): return c.rawValue
        case (.fpn, .none): return "fpn"
        case (.fpn, let c): return "fpn-" + c.rawValue
        }
    }

    package init?(rawValue: String) {
        guard let v = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = v
    }

    package init(from decoder: Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let v = HeadVariant(rawValue: raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown head variant '\(raw)'"))
        }
        self = v
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    package var usesFPN: Bool { neck == .fpn }

    /// The modules after the backbone, e.g. ["FPN(768)", "PPM", "head"].
    private func parts(width: Int?) -> [String] {
        (usesFPN ? ["FPN(\(width.map(String.init) ?? "?"))"] : []) + (context == .none ? [] : [context.label]) + ["head"]
    }

    /// "DINOv3 + FPN(768) + PPM + head" (the report's model column).
    package func modelName(width: Int?) -> String { (["DINOv3"] + parts(width: width)).joined(separator: " + ") }

    /// "FPN(1024) + PPM + head, OS 8", "PPM + head on F3" (the training log and checkpoint descriptions).
    package func label(width: Int, outputStride: Int) -> String {
        let name = parts(width: width).joined(separator: " + ")
        return usesFPN ? "\(name), OS \(outputStride)" : "\(name) on F3"
    }

    /// Short run-directory name: "head", "ppm", "aspp", "fpn768", "fpn768-ppm", "fpn768-aspp".
    package func runName(width: Int?) -> String {
        guard usesFPN else { return rawValue }
        return "fpn\(width ?? 0)" + (context == .none ? "" : "-" + context.rawValue)
    }
}
