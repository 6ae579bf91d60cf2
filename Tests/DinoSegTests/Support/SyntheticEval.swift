@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegModels
@testable import DinoSegEval
@testable import DinoSegPipeline

extension HeadTrainingTests {
    /// Val "images" for the sweep and training tests: the first `count` samples (all when nil) of view 0 of a synthetic
    /// source, named <idPrefix><i>, each evaluated whole at the synthetic label size.
    static func wholeImageEval(_ source: InMemoryTrainingSource, count: Int? = nil, idPrefix: String = "img",
                               backboneNote: String?) -> EvalSettings {
        let l = label
        let p = EvalProtocol(mode: .whole, flip: false, crop: l, stride: l, longSide: l)
        let images: [EvalFeatures] = source.views[0].prefix(count ?? source.views[0].count).enumerated().map { i, s in
            var shapes: [Int: (h: Int, w: Int, c: Int)] = [:]
            for (k, _) in s.stages { shapes[k] = (l >> (2 + k), l >> (2 + k), channels[k]) }
            return SampleAsValImage(id: "\(idPrefix)\(i)", geometry: p.geometry(height: l, width: l), labelPixels: s.labels,
                                    stageFeatures: s.stages, stageShapesPerWindow: shapes)
        }
        return EvalSettings(open: { _ in var it = images.makeIterator(); return { it.next() } }, evalProtocol: p,
                            backboneNote: backboneNote)
    }
}
