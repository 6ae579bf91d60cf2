// The tensors of a DINOv3 ConvNeXt that the dense features need, per config: Hugging Face name, PyTorch shape and
// the range random weights are drawn from. Written once here; the weight loader checks a file against it and both
// random-weight writers (in memory, and `extract random-weights` on disk) fill it. The final `layer_norm` is not
// used.
//
//   stage s:  conv [C, Cin, k, k] (k = 4 in stage 0, else 2), conv bias [C], LayerNorm [C] (stage 0, after the conv)
//             or [Cin] (later stages, before it)
//   block:    depthwise [C, 1, 7, 7] + [C], LayerNorm [C] + [C], pointwise_conv1 [4C, C] + [4C],
//             pointwise_conv2 [C, 4C] + [C], gamma [C]

/// Hugging Face key names of the weights the dense features need.
enum ConvNeXtKeys {
    static func convWeight(_ s: Int) -> String { "stages.\(s).downsample_layers.\(s == 0 ? 0 : 1).weight" }
    static func convBias(_ s: Int) -> String { "stages.\(s).downsample_layers.\(s == 0 ? 0 : 1).bias" }
    static func norm(_ s: Int, _ p: String) -> String { "stages.\(s).downsample_layers.\(s == 0 ? 1 : 0).\(p)" }
    static func block(_ s: Int, _ j: Int, _ rest: String) -> String { "stages.\(s).layers.\(j).\(rest)" }
}

/// One tensor of the table.
struct ConvNeXtTensor {
    /// How random weights fill it: conv/linear U(±√(3/fan_in)), biases U(±0.01), LayerNorm weights 1 ± 0.1,
    /// gamma U(0.1, 0.5).
    enum Initialisation { case fanIn(Int), bias, normWeight, gamma }

    let name: String          // Hugging Face name, without prefix
    let shape: [Int]          // PyTorch layout
    let initialisation: Initialisation

    var count: Int { shape.reduce(1, *) }

    /// The uniform range random weights are drawn from.
    var randomRange: (lo: Float, hi: Float) {
        switch initialisation {
        case .fanIn(let n): let a = (3 / Float(n)).squareRoot(); return (-a, a)
        case .bias: return (-0.01, 0.01)
        case .normWeight: return (0.9, 1.1)
        case .gamma: return (0.1, 0.5)
        }
    }
}

/// The tensors of one residual block, in checkpoint order.
struct ConvNeXtBlockTensors {
    let depthwise, depthwiseBias, normWeight, normBias, expand, expandBias, project, projectBias, gamma: ConvNeXtTensor

    var all: [ConvNeXtTensor] {
        [depthwise, depthwiseBias, normWeight, normBias, expand, expandBias, project, projectBias, gamma]
    }
}

/// The tensors of one stage: the patch convolution with its LayerNorm, then the blocks.
struct ConvNeXtStageTensors {
    let channels: Int, inChannels: Int, patch: Int
    let conv, convBias, normWeight, normBias: ConvNeXtTensor
    let blocks: [ConvNeXtBlockTensors]

    /// The stage's own tensors followed by its blocks', in checkpoint order.
    var all: [ConvNeXtTensor] { [conv, convBias, normWeight, normBias] + blocks.flatMap(\.all) }
}

extension ConvNeXtConfig {
    /// Every tensor the dense features need, stage by stage.
    var tensorTable: [ConvNeXtStageTensors] {
        (0..<stageCount).map { s in
            let c = hiddenSizes[s], cin = s == 0 ? inputChannels : hiddenSizes[s - 1]
            let k = s == 0 ? 4 : 2, normChannels = s == 0 ? c : cin
            let blocks = (0..<depths[s]).map { j in
                func t(_ rest: String, _ shape: [Int], _ i: ConvNeXtTensor.Initialisation) -> ConvNeXtTensor {
                    ConvNeXtTensor(name: ConvNeXtKeys.block(s, j, rest), shape: shape, initialisation: i)
                }
                return ConvNeXtBlockTensors(
                    depthwise: t("depthwise_conv.weight", [c, 1, 7, 7], .fanIn(49)),
                    depthwiseBias: t("depthwise_conv.bias", [c], .bias),
                    normWeight: t("layer_norm.weight", [c], .normWeight),
                    normBias: t("layer_norm.bias", [c], .bias),
                    expand: t("pointwise_conv1.weight", [4 * c, c], .fanIn(c)),
                    expandBias: t("pointwise_conv1.bias", [4 * c], .bias),
                    project: t("pointwise_conv2.weight", [c, 4 * c], .fanIn(4 * c)),
                    projectBias: t("pointwise_conv2.bias", [c], .bias),
                    gamma: t("gamma", [c], .gamma))
            }
            return ConvNeXtStageTensors(
                channels: c, inChannels: cin, patch: k,
                conv: ConvNeXtTensor(name: ConvNeXtKeys.convWeight(s), shape: [c, cin, k, k], initialisation: .fanIn(cin * k * k)),
                convBias: ConvNeXtTensor(name: ConvNeXtKeys.convBias(s), shape: [c], initialisation: .bias),
                normWeight: ConvNeXtTensor(name: ConvNeXtKeys.norm(s, "weight"), shape: [normChannels], initialisation: .normWeight),
                normBias: ConvNeXtTensor(name: ConvNeXtKeys.norm(s, "bias"), shape: [normChannels], initialisation: .bias),
                blocks: blocks)
        }
    }
}
