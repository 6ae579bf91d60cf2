import DinoSegCore
// The shape of a segmentation head (docs/DESIGN.md §6): which modules it has and how wide they are.

package struct HeadConfig: Codable, Equatable, Sendable {
    /// Channels of backbone stages 0...3 (from the cache manifest).
    package var stageChannels: [Int]
    package var fpnWidth: Int = 1024
    /// 8 (FPN on F1..F3, output at F1) or 4 (FPN on F0..F3, output at F0). Without FPN the head runs on F3 (stride 32).
    package var outputStride: Int = 8
    package var useFPN: Bool = true
    package var usePPM: Bool = true
    package var numClasses: Int = 21
    package var classifierWidth: Int = 512
    package var dropout: Float = 0.1
    package var ppmBins: [Int] = [1, 2, 3, 6]

    package init(stageChannels: [Int], fpnWidth: Int = 1024, outputStride: Int = 8, useFPN: Bool = true,
                usePPM: Bool = true, numClasses: Int = 21) {
        self.stageChannels = stageChannels
        self.fpnWidth = fpnWidth
        self.outputStride = outputStride
        self.useFPN = useFPN
        self.usePPM = usePPM
        self.numClasses = numClasses
    }

    /// Stages the FPN reads, finest first.
    package var fpnLevels: [Int] { useFPN ? (outputStride == 4 ? [0, 1, 2, 3] : [1, 2, 3]) : [] }
    /// Stages the head needs from the cache.
    package var requiredStages: [Int] { useFPN ? fpnLevels : [3] }
    /// The stage whose resolution the head works at.
    package var workingStage: Int { useFPN ? fpnLevels[0] : 3 }
    /// Channels entering PPM / classifier.
    package var featureWidth: Int { useFPN ? fpnWidth : stageChannels[3] }
    /// semseg's PPM: reduction_dim = fea_dim / len(bins).
    package var ppmReduction: Int { featureWidth / ppmBins.count }
    package var classifierInput: Int { usePPM ? featureWidth + ppmBins.count * ppmReduction : featureWidth }

    /// Short name of the variant (the report's ablation rows).
    package var variantName: String {
        switch (useFPN, usePPM) {
        case (false, false): return "head on F3"
        case (false, true): return "PPM + head on F3"
        case (true, false): return "FPN(\(fpnWidth)) + head, OS \(outputStride)"
        case (true, true): return "FPN(\(fpnWidth)) + PPM + head, OS \(outputStride)"
        }
    }

    package func validate() throws {
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
