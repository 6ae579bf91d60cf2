import DinoSegCore
// The shape of a segmentation head (docs/DESIGN.md §6): which modules it has and how wide they are.

package struct HeadConfig: Codable, Equatable, Sendable {
    /// Channels of backbone stages 0...3 (from the cache manifest).
    package var stageChannels: [Int]
    package var fpnWidth: Int = 1024
    /// 8 (FPN on F1..F3, output at F1) or 4 (FPN on F0..F3, output at F0). Without FPN the head runs on F3 (stride 32).
    package var outputStride: Int = 8
    package var neck: HeadNeck = .fpn
    package var context: HeadContext = .ppm
    package var numClasses: Int = 21
    package var classifierWidth: Int = 512
    package var dropout: Float = 0.1
    package var ppmBins: [Int] = [1, 2, 3, 6]
    /// ASPP: dilation rates of its three 3×3 branches (DeepLabV3: 12, 24, 36 at output stride 8), its width
    /// (torchvision: 256) and the dropout after its projection (torchvision: 0.5, elementwise, training only).
    package var asppRates: [Int] = [12, 24, 36]
    package var asppWidth: Int = 256
    package var asppDropout: Float = 0.5

    package init(stageChannels: [Int], fpnWidth: Int = 1024, outputStride: Int = 8, variant: HeadVariant = .fpnPPM,
                 numClasses: Int = 21) {
        self.stageChannels = stageChannels
        self.fpnWidth = fpnWidth
        self.outputStride = outputStride
        self.neck = variant.neck
        self.context = variant.context
        self.numClasses = numClasses
        asppRates = Self.defaultASPPRates(workingStride: variant.usesFPN ? outputStride : 32)
    }

    /// DeepLabV3's rates 12, 24, 36 at output stride 8, scaled so they cover the same image distance at another
    /// working stride (24, 48, 72 at 4; 3, 6, 9 at 32, where the head runs on F3 without FPN).
    package static func defaultASPPRates(workingStride: Int) -> [Int] { [12, 24, 36].map { max(1, $0 * 8 / workingStride) } }

    package var variant: HeadVariant { HeadVariant(neck: neck, context: context) }
    package var useFPN: Bool { neck == .fpn }

    /// Stages the FPN reads, finest first.
    package var fpnLevels: [Int] { useFPN ? (outputStride == 4 ? [0, 1, 2, 3] : [1, 2, 3]) : [] }
    /// Stages the head needs from the cache.
    package var requiredStages: [Int] { useFPN ? fpnLevels : [3] }
    /// The stage whose resolution the head works at.
    package var workingStage: Int { useFPN ? fpnLevels[0] : 3 }
    /// Channels entering the context module (or the classifier without one).
    package var featureWidth: Int { useFPN ? fpnWidth : stageChannels[3] }
    /// semseg's PPM: reduction_dim = fea_dim / len(bins).
    package var ppmReduction: Int { featureWidth / ppmBins.count }
    package var classifierInput: Int {
        switch context {
        case .none: return featureWidth
        case .ppm: return featureWidth + ppmBins.count * ppmReduction
        case .aspp: return asppWidth
        }
    }

    /// Short name of the variant (the training log, checkpoint descriptions).
    package var variantName: String { variant.label(width: fpnWidth, outputStride: outputStride) }

    package func validate() throws {
        guard stageChannels.count == 4, stageChannels.allSatisfy({ $0 > 0 }) else {
            throw DinoSegError("head config: need 4 positive stage channel counts, got \(stageChannels)")
        }
        guard outputStride == 4 || outputStride == 8 else {
            throw DinoSegError("head config: output stride must be 4 or 8, got \(outputStride)")
        }
        guard fpnWidth > 0 else { throw DinoSegError("head config: FPN width must be positive, got \(fpnWidth)") }
        guard context != .ppm || ppmReduction > 0 else {
            throw DinoSegError("head config: PPM needs at least \(ppmBins.count) input channels, got \(featureWidth)")
        }
        if context == .aspp { try validateASPP() }
        guard numClasses > 1, numClasses <= DatasetDescription.maxClasses else { throw DinoSegError("head config: bad class count \(numClasses)") }
        guard dropout >= 0, dropout < 1 else { throw DinoSegError("head config: dropout must be in [0, 1), got \(dropout)") }
    }

    /// Bounds that keep an ASPP from reading a config (a checkpoint's metadata, a run record) into a useless or
    /// enormous network: three rates in 1...256 and a width in 1...4096.
    private func validateASPP() throws {
        guard asppRates.count == 3, asppRates.allSatisfy({ (1...256).contains($0) }) else {
            throw DinoSegError("head config: ASPP needs three dilation rates in 1...256, got \(asppRates)")
        }
        guard (1...4096).contains(asppWidth) else { throw DinoSegError("head config: ASPP width must be in 1...4096, got \(asppWidth)") }
        guard asppDropout >= 0, asppDropout < 1 else {
            throw DinoSegError("head config: ASPP dropout must be in [0, 1), got \(asppDropout)")
        }
    }

    /// The ASPP fields count only for an ASPP head (they are not recorded for others).
    package static func == (a: HeadConfig, b: HeadConfig) -> Bool {
        a.stageChannels == b.stageChannels && a.fpnWidth == b.fpnWidth && a.outputStride == b.outputStride
            && a.neck == b.neck && a.context == b.context && a.numClasses == b.numClasses
            && a.classifierWidth == b.classifierWidth && a.dropout == b.dropout && a.ppmBins == b.ppmBins
            && (a.context != .aspp || (a.asppRates == b.asppRates && a.asppWidth == b.asppWidth && a.asppDropout == b.asppDropout))
    }

    // Records written before the neck/context split said `useFPN` / `usePPM`; they still load as the same head.
    private enum CodingKeys: String, CodingKey {
        case stageChannels, fpnWidth, outputStride, neck, context, numClasses, classifierWidth, dropout, ppmBins
        case asppRates, asppWidth, asppDropout, useFPN, usePPM
    }

    package init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stageChannels = try c.decode([Int].self, forKey: .stageChannels)
        fpnWidth = try c.decode(Int.self, forKey: .fpnWidth)
        outputStride = try c.decode(Int.self, forKey: .outputStride)
        if let n = try c.decodeIfPresent(HeadNeck.self, forKey: .neck) { neck = n } else {
            neck = try c.decode(Bool.self, forKey: .useFPN) ? .fpn : .none
        }
        if let x = try c.decodeIfPresent(HeadContext.self, forKey: .context) { context = x } else {
            context = try c.decode(Bool.self, forKey: .usePPM) ? .ppm : .none
        }
        numClasses = try c.decode(Int.self, forKey: .numClasses)
        classifierWidth = try c.decode(Int.self, forKey: .classifierWidth)
        dropout = try c.decode(Float.self, forKey: .dropout)
        ppmBins = try c.decode([Int].self, forKey: .ppmBins)
        asppRates = try c.decodeIfPresent([Int].self, forKey: .asppRates) ?? asppRates
        asppWidth = try c.decodeIfPresent(Int.self, forKey: .asppWidth) ?? asppWidth
        asppDropout = try c.decodeIfPresent(Float.self, forKey: .asppDropout) ?? asppDropout
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(stageChannels, forKey: .stageChannels)
        try c.encode(fpnWidth, forKey: .fpnWidth)
        try c.encode(outputStride, forKey: .outputStride)
        try c.encode(neck, forKey: .neck)
        try c.encode(context, forKey: .context)
        try c.encode(numClasses, forKey: .numClasses)
        try c.encode(classifierWidth, forKey: .classifierWidth)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(ppmBins, forKey: .ppmBins)
        if context == .aspp {
            try c.encode(asppRates, forKey: .asppRates)
            try c.encode(asppWidth, forKey: .asppWidth)
            try c.encode(asppDropout, forKey: .asppDropout)
        }
    }
}
