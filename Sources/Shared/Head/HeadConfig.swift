// The shape of a segmentation head (docs/DESIGN.md §6): which modules it has and how wide they are.

public struct HeadConfig: Codable, Equatable, Sendable {
    /// Channels of backbone stages 0...3 (from the cache manifest).
    public var stageChannels: [Int]
    public var fpnWidth: Int = 1024
    /// 8 (FPN on F1..F3, output at F1) or 4 (FPN on F0..F3, output at F0). Without FPN the head runs on F3 (stride 32).
    public var outputStride: Int = 8
    public var useFPN: Bool = true
    public var usePPM: Bool = true
    public var numClasses: Int = 21
    public var classifierWidth: Int = 512
    public var dropout: Float = 0.1
    public var ppmBins: [Int] = [1, 2, 3, 6]

    public init(stageChannels: [Int], fpnWidth: Int = 1024, outputStride: Int = 8, useFPN: Bool = true,
                usePPM: Bool = true, numClasses: Int = 21) {
        self.stageChannels = stageChannels
        self.fpnWidth = fpnWidth
        self.outputStride = outputStride
        self.useFPN = useFPN
        self.usePPM = usePPM
        self.numClasses = numClasses
    }

    /// Stages the FPN reads, finest first.
    public var fpnLevels: [Int] { useFPN ? (outputStride == 4 ? [0, 1, 2, 3] : [1, 2, 3]) : [] }
    /// Stages the head needs from the cache.
    public var requiredStages: [Int] { useFPN ? fpnLevels : [3] }
    /// The stage whose resolution the head works at.
    public var workingStage: Int { useFPN ? fpnLevels[0] : 3 }
    /// Channels entering PPM / classifier.
    public var featureWidth: Int { useFPN ? fpnWidth : stageChannels[3] }
    /// semseg's PPM: reduction_dim = fea_dim / len(bins).
    public var ppmReduction: Int { featureWidth / ppmBins.count }
    public var classifierInput: Int { usePPM ? featureWidth + ppmBins.count * ppmReduction : featureWidth }

    /// Short name of the variant (the report's ablation rows).
    public var variantName: String {
        switch (useFPN, usePPM) {
        case (false, false): return "head on F3"
        case (false, true): return "PPM + head on F3"
        case (true, false): return "FPN(\(fpnWidth)) + head, OS \(outputStride)"
        case (true, true): return "FPN(\(fpnWidth)) + PPM + head, OS \(outputStride)"
        }
    }

    public func validate() throws {
        guard stageChannels.count == 4, stageChannels.allSatisfy({ $0 > 0 }) else {
            throw DinoSegError("head config: need 4 positive stage channel counts, got \(stageChannels)")
        }
        guard outputStride == 4 || outputStride == 8 else {
            throw DinoSegError("head config: output stride must be 4 or 8, got \(outputStride)")
        }
        guard fpnWidth > 0 else { throw DinoSegError("head config: FPN width must be positive, got \(fpnWidth)") }
        guard !usePPM || ppmReduction > 0 else {
            throw DinoSegError("head config: PPM needs at least \(ppmBins.count) input channels, got \(featureWidth)")
        }
        guard numClasses > 1, numClasses < 255 else { throw DinoSegError("head config: bad class count \(numClasses)") }
        guard dropout >= 0, dropout < 1 else { throw DinoSegError("head config: dropout must be in [0, 1), got \(dropout)") }
    }
}
