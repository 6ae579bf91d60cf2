import DinoSegNN
// The activations of one SegmentationHead pass as typed, shaped fields (llm.c's ActivationTensors): `forward` fills
// them, `loss` adds the class probabilities, `backward(saved:loss:)` reads them and fills `HeadActivationGrads`.
// The head allocates one set per (batch, stage geometry) and reuses it while the geometry stays the same; every
// buffer below exists only when the head configuration uses it (nil / empty otherwise).
//
// Shapes (NHWC; n = batch, h×w = the working stage, c = feature width, r = PPM reduction, b = PPM bins,
// mid = classifier width, k = classes, cin = classifier input, lh×lw = the label size):
//   fpnInner[i]      [n, h_i, w_i, c]   lateral 1×1 conv of FPN level i, plus the top-down sum of the coarser levels
//   fpnOut           [n, h, w, c]       3×3 conv of fpnInner[0]: the PPM / classifier input
//   ppm[j].pooled    [n, b, b, c]       ppm[j].conv, .bn  [n, b, b, r] (.bn holds BN then ReLU, in place)
//   ppm[j].mean/rstd [r]                batch (training) or running (eval) statistics used by BN
//   ppm[j].upsampled [n, h, w, r]       ppmConcat [n, h, w, cin]
//   clsConv          [n, h, w, mid]     clsBN [n, h, w, mid] (BN then ReLU, in place)   clsMean/clsRstd [mid]
//   dropoutMask      [n, mid]           dropped [n, h, w, mid]   (heads with dropout; used in training only)
//   logits           [n, h, w, k]
//   probs            [n, lh, lw, k]     softmax of the logits resized to the label size (filled by `loss`)
//   conv3x3Scratch   Winograd or im2col workspace shared by the 3×3 convolutions

/// A buffer of the activation memory and its shape.
package struct HeadTensor {
    package let data: UnsafeMutablePointer<Float>
    package let shape: [Int]
    package let count: Int

    package func zero() { data.update(repeating: 0, count: count) }
}

/// Owns the buffers handed out by `tensor` (freed together).
final class TensorStore {
    private var blocks: [UnsafeMutablePointer<Float>] = []
    private(set) var bytes = 0

    func tensor(_ shape: [Int]) -> HeadTensor {
        let count = shape.reduce(1, *)
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        p.initialize(repeating: 0, count: max(1, count))
        blocks.append(p)
        bytes += max(1, count) * MemoryLayout<Float>.stride
        return HeadTensor(data: p, shape: shape, count: count)
    }

    deinit { for p in blocks { p.deallocate() } }
}

package final class HeadActivations {
    /// What the buffer sizes depend on; a forward with another geometry gets a new set.
    struct Geometry: Equatable {
        var batch: Int
        var stageShapes: [Int]        // (h, w, c) of each input stage, in `inputStages` order
        var winograd: Bool
    }

    package struct PPMBranch {
        package let bins: Int
        package let pooled, conv, bn, upsampled, mean, rstd: HeadTensor
    }

    let geometry: Geometry
    let store: TensorStore

    package let batch: Int
    /// Working resolution of the head (the finest FPN level, or F3 without FPN).
    package let h: Int, w: Int
    /// Stages read by the head (FPN levels finest first, or [3]) and their shapes.
    package let inputStages: [Int]
    package let inputShapes: [SegmentationHead.StageShape]
    /// The stage features of the last forward, in `inputStages` order (owned by the caller; they must stay valid until
    /// backward has run).
    package internal(set) var inputs: [UnsafePointer<Float>]

    package let fpnInner: [HeadTensor]
    package let fpnOut: HeadTensor?
    package let ppm: [PPMBranch]
    package let ppmConcat: HeadTensor?
    package let clsConv, clsBN, clsMean, clsRstd: HeadTensor
    package let dropoutMask, dropped: HeadTensor?
    package let logits: HeadTensor
    let conv3x3Scratch: HeadTensor
    /// Whether the last forward applied dropout (training with dropout > 0).
    package internal(set) var dropoutApplied = false
    /// Softmax probabilities at the label size (filled by `SegmentationHead.loss`, reused while the size stays).
    package internal(set) var probs: HeadTensor?
    private var grads: HeadActivationGrads?

    init(config cfg: HeadConfig, batch n: Int, inputStages: [Int], inputShapes: [SegmentationHead.StageShape], winograd: Bool) {
        geometry = Geometry(batch: n, stageShapes: inputShapes.flatMap { [$0.h, $0.w, $0.c] }, winograd: winograd)
        batch = n
        self.inputStages = inputStages
        self.inputShapes = inputShapes
        inputs = []
        let h = inputShapes[0].h, w = inputShapes[0].w
        self.h = h; self.w = w
        let c = cfg.featureWidth, mid = cfg.classifierWidth, k = cfg.numClasses, r = cfg.ppmReduction
        let s = TensorStore()
        store = s
        fpnInner = cfg.useFPN ? inputShapes.map { s.tensor([n, $0.h, $0.w, c]) } : []
        fpnOut = cfg.useFPN ? s.tensor([n, h, w, c]) : nil
        ppm = cfg.usePPM ? cfg.ppmBins.map { b in
            PPMBranch(bins: b, pooled: s.tensor([n, b, b, c]), conv: s.tensor([n, b, b, r]), bn: s.tensor([n, b, b, r]),
                      upsampled: s.tensor([n, h, w, r]), mean: s.tensor([r]), rstd: s.tensor([r]))
        } : []
        ppmConcat = cfg.usePPM ? s.tensor([n, h, w, cfg.classifierInput]) : nil
        clsConv = s.tensor([n, h, w, mid]); clsBN = s.tensor([n, h, w, mid])
        clsMean = s.tensor([mid]); clsRstd = s.tensor([mid])
        dropoutMask = cfg.dropout > 0 ? s.tensor([n, mid]) : nil
        dropped = cfg.dropout > 0 ? s.tensor([n, h, w, mid]) : nil
        logits = s.tensor([n, h, w, k])
        var scratch = 0
        let convs = (cfg.useFPN ? [(c, c)] : []) + [(cfg.classifierInput, mid)]
        for (cin, cout) in convs {
            scratch = max(scratch, winograd && Conv3x3Winograd.supports(cin: cin, cout: cout)
                          ? Conv3x3Winograd.scratchCount(n: n, h: h, w: w, cin: cin, cout: cout)
                          : Conv3x3.scratchCount(h: h, w: w, cin: cin))
        }
        conv3x3Scratch = s.tensor([scratch])
    }

    /// The PPM / classifier input: the FPN output, or F3 without FPN.
    package var features: UnsafePointer<Float> { fpnOut.map { UnsafePointer($0.data) } ?? inputs[0] }
    /// The classifier's 3×3 conv input: the PPM concatenation, or `features` without PPM.
    package var classifierInput: UnsafePointer<Float> { ppmConcat.map { UnsafePointer($0.data) } ?? features }

    /// The probability buffer for labels of lh×lw.
    func probs(labelHeight lh: Int, labelWidth lw: Int, classes k: Int) -> HeadTensor {
        if let p = probs, p.shape == [batch, lh, lw, k] { return p }
        let p = store.tensor([batch, lh, lw, k])
        probs = p
        return p
    }

    /// The gradient buffers for this geometry (allocated by the first backward).
    func gradients(config: HeadConfig) -> HeadActivationGrads {
        if let g = grads { return g }
        let g = HeadActivationGrads(config: config, saved: self, store: store)
        grads = g
        return g
    }

    /// Bytes of all buffers (activations, probabilities, gradients, scratch): the head's activation memory.
    package var bytes: Int { store.bytes }
}

/// Gradients with respect to the activations (same shapes as their activations), written by backward.
package struct HeadActivationGrads {
    package struct PPMBranch {
        package let upsampled, relu, bn, conv: HeadTensor
        /// nil without FPN (nothing upstream to train).
        package let pooled: HeadTensor?
    }

    package let logits: HeadTensor
    /// Gradient at the 1×1 classifier conv input (the dropout output, or the ReLU output without dropout).
    package let dropped: HeadTensor
    /// Gradient at the ReLU output when dropout sits between (nil without dropout).
    package let relu: HeadTensor?
    package let clsBN, clsConv: HeadTensor
    /// nil for the bare head (no trainable layer below the classifier).
    package let classifierInput: HeadTensor?
    /// Gradient at the PPM input (nil unless FPN and PPM are both used).
    package let features: HeadTensor?
    package let ppm: [PPMBranch]
    package let fpnInner: [HeadTensor]

    init(config cfg: HeadConfig, saved a: HeadActivations, store s: TensorStore) {
        let n = a.batch, h = a.h, w = a.w, mid = cfg.classifierWidth, c = cfg.featureWidth, r = cfg.ppmReduction
        logits = s.tensor([n, h, w, cfg.numClasses])
        dropped = s.tensor([n, h, w, mid])
        relu = cfg.dropout > 0 ? s.tensor([n, h, w, mid]) : nil
        clsBN = s.tensor([n, h, w, mid]); clsConv = s.tensor([n, h, w, mid])
        classifierInput = cfg.useFPN || cfg.usePPM ? s.tensor([n, h, w, cfg.classifierInput]) : nil
        features = cfg.useFPN && cfg.usePPM ? s.tensor([n, h, w, c]) : nil
        ppm = cfg.usePPM ? cfg.ppmBins.map { b in
            PPMBranch(upsampled: s.tensor([n, h, w, r]), relu: s.tensor([n, b, b, r]), bn: s.tensor([n, b, b, r]),
                      conv: s.tensor([n, b, b, r]), pooled: cfg.useFPN ? s.tensor([n, b, b, c]) : nil)
        } : []
        fpnInner = cfg.useFPN ? a.inputShapes.map { s.tensor([n, $0.h, $0.w, c]) } : []
    }
}

/// The result of `SegmentationHead.loss`, which backward starts from.
package struct HeadLoss {
    /// Mean cross-entropy over the labelled pixels.
    package let loss: Double
    /// Number of labelled pixels (not `ignoreLabel`).
    package let valid: Int
    /// The labels [n, labelHeight, labelWidth] (owned by the caller; valid until backward has run).
    package let labels: UnsafePointer<UInt8>
    package let labelHeight: Int, labelWidth: Int
    /// Softmax probabilities at the label size (backward turns them into the logit gradient in place).
    package let probs: HeadTensor
}
