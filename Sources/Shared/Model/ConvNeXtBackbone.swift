import Foundation

/// The frozen DINOv3 ConvNeXt (inference only), NHWC, matching transformers' DINOv3ConvNextModel stage outputs.
///
/// forward: image [height, width, 3] normalised RGB → stage s output [height/4/2^s, width/4/2^s, C_s] (floor division
/// at each step). Each call allocates its own scratch, so several threads may run forward concurrently (one image per
/// core; call `setBLASThreads(1)` in that mode so BLAS does not oversubscribe the cores).
public final class ConvNeXtBackbone: FeatureBackbone {
    public let weights: ConvNeXtWeights
    public var config: ConvNeXtConfig { weights.config }
    public var name: String { config.modelName }
    public var stageChannels: [Int] { config.hiddenSizes }
    public var stageStrides: [Int] { config.stageStrides }
    public var weightsSHA256: String { weights.sha256 }

    public init(weights: ConvNeXtWeights) { self.weights = weights }

    /// Loads weights from a directory (config.json + model.safetensors) or a .safetensors file.
    public convenience init(weightsPath: String) throws { self.init(weights: try ConvNeXtWeights.load(path: weightsPath)) }

    /// Spatial size of each stage output for an input of height × width.
    public func stageSizes(height: Int, width: Int) -> [(height: Int, width: Int)] {
        var h = height / 4, w = width / 4
        var sizes = [(h, w)]
        for _ in 1..<config.stageCount { h /= 2; w /= 2; sizes.append((h, w)) }
        return sizes
    }

    public func forward(image: UnsafePointer<Float>, height: Int, width: Int, stages: [Int]) -> [FeatureMap] {
        var maps = [Int: FeatureMap]()
        run(image: image, height: height, width: width, through: stages.max() ?? -1) { s, h, w, c, data in
            if stages.contains(s) { maps[s] = FeatureMap(height: h, width: w, channels: c, data: Array(UnsafeBufferPointer(start: data, count: h * w * c))) }
        }
        return stages.map { maps[$0]! }
    }

    /// Per-call working memory, sized for the largest stage.
    private struct Scratch {
        var x: UnsafeMutablePointer<Float>        // current activation [h, w, C]
        var t: UnsafeMutablePointer<Float>        // dwconv / LayerNorm output, then projection output
        var hidden: UnsafeMutablePointer<Float>   // expanded activation [h, w, 4C]
        var padded: UnsafeMutablePointer<Float>   // zero-bordered dwconv input
        var patches: UnsafeMutablePointer<Float>  // patchify rows
        func free() { for p in [x, t, hidden, padded, patches] { p.deallocate() } }
    }

    private func makeScratch(sizes: [(height: Int, width: Int)], height: Int, width: Int) -> Scratch {
        var act = 1, hid = 1, pad = 1, patches = max(1, sizes[0].height * sizes[0].width * 16 * config.inputChannels)
        for (s, size) in sizes.enumerated() {
            let c = config.hiddenSizes[s], hw = size.height * size.width
            act = max(act, hw * c)
            hid = max(hid, hw * 4 * c)
            pad = max(pad, depthwisePaddedCount(height: size.height, width: size.width, channels: c))
            if s > 0 { patches = max(patches, hw * 4 * config.hiddenSizes[s - 1]) }
        }
        return Scratch(x: .allocate(capacity: act), t: .allocate(capacity: max(act, patches)), hidden: .allocate(capacity: hid),
                       padded: .allocate(capacity: pad), patches: .allocate(capacity: patches))
    }

    /// Runs stages 0...lastStage, calling `output(stage, h, w, C, data)` with each stage's raw output (valid only
    /// during the call).
    public func run(image: UnsafePointer<Float>, height: Int, width: Int, through lastStage: Int,
                    output: (Int, Int, Int, Int, UnsafePointer<Float>) -> Void) {
        guard lastStage >= 0 else { return }
        let sizes = stageSizes(height: height, width: width)
        let scratch = makeScratch(sizes: sizes, height: height, width: width)
        defer { scratch.free() }
        let eps = config.layerNormEps
        for s in 0...min(lastStage, config.stageCount - 1) {
            let sw = weights.stages[s]
            let c = config.hiddenSizes[s]
            let (h, w) = sizes[s]
            let rows = h * w
            if s == 0 {
                patchConv(input: image, height: height, width: width, inChannels: config.inputChannels, patch: 4,
                          weight: sw.conv, bias: sw.convBias, outChannels: c, output: scratch.x, patches: scratch.patches)
                layerNormRows(input: scratch.x, rows: rows, channels: c, weight: sw.normWeight, bias: sw.normBias, eps: eps, output: scratch.x)
            } else {
                let cin = config.hiddenSizes[s - 1]
                let (ph, pw) = sizes[s - 1]
                layerNormRows(input: scratch.x, rows: ph * pw, channels: cin, weight: sw.normWeight, bias: sw.normBias, eps: eps, output: scratch.t)
                patchConv(input: scratch.t, height: ph, width: pw, inChannels: cin, patch: 2,
                          weight: sw.conv, bias: sw.convBias, outChannels: c, output: scratch.x, patches: scratch.patches)
            }
            if rows > 0 {
                for block in sw.blocks { runBlock(block, scratch: scratch, height: h, width: w, channels: c, eps: eps) }
            }
            output(s, h, w, c, scratch.x)
        }
    }

    /// x ← x + gamma · (pw2(gelu(pw1(LN(dwconv(x)))))).
    private func runBlock(_ b: ConvNeXtBlockWeights, scratch: Scratch, height: Int, width: Int, channels c: Int, eps: Float) {
        let rows = height * width
        depthwiseConv7x7(input: scratch.x, height: height, width: width, channels: c, weight: b.depthwise, bias: b.depthwiseBias,
                         output: scratch.t, padded: scratch.padded)
        layerNormRows(input: scratch.t, rows: rows, channels: c, weight: b.normWeight, bias: b.normBias, eps: eps, output: scratch.t)
        sgemm(m: rows, n: 4 * c, k: c, a: scratch.t, lda: c, b: b.expand, ldb: 4 * c, c: scratch.hidden, ldc: 4 * c)
        biasGELU(scratch.hidden, rows: rows, columns: 4 * c, bias: b.expandBias)
        sgemm(m: rows, n: c, k: 4 * c, a: scratch.hidden, lda: 4 * c, b: b.project, ldb: c, c: scratch.t, ldc: c)
        addScaledResidual(scratch.x, update: scratch.t, rows: rows, channels: c, bias: b.projectBias, gamma: b.gamma)
    }
}

/// Input normalisation: RGB in 0...255 → (x − mean) / std per channel (VOC.mean / VOC.std), channels-last.
public enum ConvNeXtInput {
    public static func normalize(rgb: UnsafePointer<UInt8>, pixels: Int, output: UnsafeMutablePointer<Float>) {
        for i in 0..<pixels {
            for ch in 0..<3 { output[3 * i + ch] = (Float(rgb[3 * i + ch]) - VOC.mean[ch]) / VOC.std[ch] }
        }
    }

    public static func normalize(rgb: UnsafePointer<Float>, pixels: Int, output: UnsafeMutablePointer<Float>) {
        for i in 0..<pixels {
            for ch in 0..<3 { output[3 * i + ch] = (rgb[3 * i + ch] - VOC.mean[ch]) / VOC.std[ch] }
        }
    }
}
