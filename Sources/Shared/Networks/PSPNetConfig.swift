import Foundation
import DinoSegCore

/// The ResNet-50 PSPNet of hszhao/semseg (`model/pspnet.py`, `model/resnet.py`), trained end to end. Widths are
/// configurable so tests can build a reduced-width network with the same structure and names.
package struct PSPNetConfig: Codable, Equatable, Sendable {
    package enum Stem: String, Codable, Sendable, CaseIterable {
        /// semseg's deep stem: 3×3 convs 3→w (stride 2), w→w, w→2w, each with BN + ReLU, then max-pool 3×3/2.
        case deep
        /// torchvision's stem: 7×7 conv 3→w stride 2, BN, ReLU, then max-pool 3×3/2.
        case torchvision
    }

    package var stem: Stem = .deep
    package var stemWidth = 64
    /// Bottleneck widths per stage (outputs are 4× these).
    package var planes = [64, 128, 256, 512]
    package var blocks = [3, 4, 6, 3]
    /// 8: layer3/layer4 with stride 1 and dilation 2/4 (semseg); 32: the original ResNet strides.
    package var outputStride = 8
    package var bins = [1, 2, 3, 6]
    /// Channels per pyramid branch (semseg: 2048 / number of bins).
    package var ppmWidth = 512
    package var classifierWidth = 512
    package var auxWidth = 256
    package var numClasses = 21
    package var dropout: Float = 0.1
    package var auxWeight: Float = 0.4

    package init() {}

    /// ResNet-50 PSPNet as semseg builds it for VOC.
    package static func resnet50(outputStride: Int = 8, stem: Stem = .deep, numClasses: Int = 21) -> PSPNetConfig {
        var c = PSPNetConfig()
        c.outputStride = outputStride; c.stem = stem; c.numClasses = numClasses
        return c
    }

    /// The same structure at 1/`divisor` of the widths (tests, fixtures, the demo).
    package static func reduced(divisor: Int, blocks: [Int] = [1, 1, 1, 1], outputStride: Int = 8, stem: Stem = .deep,
                               numClasses: Int = 21) -> PSPNetConfig {
        var c = PSPNetConfig.resnet50(outputStride: outputStride, stem: stem, numClasses: numClasses)
        c.stemWidth /= divisor; c.planes = c.planes.map { $0 / divisor }; c.blocks = blocks
        c.ppmWidth /= divisor; c.classifierWidth /= divisor; c.auxWidth /= divisor
        return c
    }

    package static let expansion = 4
    package var stemOut: Int { stem == .deep ? 2 * stemWidth : stemWidth }
    package func layerOut(_ i: Int) -> Int { planes[i] * Self.expansion }
    package var featureWidth: Int { layerOut(3) }
    package var ppmOut: Int { featureWidth + bins.count * ppmWidth }
    /// Stride of the first block of each layer and the dilation of all its 3×3 convs.
    package var layerStrides: [Int] { outputStride == 8 ? [1, 2, 1, 1] : [1, 2, 2, 2] }
    package var layerDilations: [Int] { outputStride == 8 ? [1, 1, 2, 4] : [1, 1, 1, 1] }

    package func validate() throws {
        guard outputStride == 8 || outputStride == 32 else { throw DinoSegError("output stride must be 8 or 32, not \(outputStride)") }
        guard planes.count == 4, blocks.count == 4, blocks.allSatisfy({ $0 >= 1 }), planes.allSatisfy({ $0 >= 1 }), stemWidth >= 1 else {
            throw DinoSegError("PSPNet needs 4 stages with at least one block and one channel each")
        }
        guard !bins.isEmpty, bins.allSatisfy({ $0 >= 1 }), ppmWidth >= 1, classifierWidth >= 1, auxWidth >= 1 else {
            throw DinoSegError("PSPNet needs pyramid bins ≥ 1 and positive head widths")
        }
        guard numClasses >= 2 else { throw DinoSegError("PSPNet needs at least 2 classes") }
        guard dropout >= 0 && dropout < 1 else { throw DinoSegError("dropout must be in [0, 1), not \(dropout)") }
    }

    package var summary: String {
        let depth = blocks.reduce(0, +) * 3 + 2
        return "PSPNet ResNet-\(depth) (\(stem.rawValue) stem, output stride \(outputStride), widths \(stemWidth)/\(planes.map(String.init).joined(separator: ",")), PPM \(bins.map(String.init).joined(separator: ","))×\(ppmWidth), \(numClasses) classes)"
    }
}
