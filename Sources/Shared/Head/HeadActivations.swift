import DinoSegNN
// The activations of one SegmentationHead pass as typed, shaped fields (llm.c's ActivationTensors): each module's own
// activation struct (FPNNeck, PyramidPooling / ASPP, SegmentationClassifier; shapes in their files), the logits, and the
// class probabilities `loss` adds. `backward(saved:loss:)` reads them and fills `HeadActivationGrads` (the modules'
// gradient structs). The head allocates one set per (batch, stage geometry) and reuses it while the geometry stays the
// same; a module the head does not have has no buffers.
//
// Shapes (NHWC; n = batch, h×w = the working stage, k = classes, lh×lw = the label size):
//   inputs[i]        the stage features the head reads (the caller's; FPN levels finest first, or F3)
//   features         [n, h, w, c]   the neck's output (or F3 without FPN): the context module's input
//   classifierInput  [n, h, w, cin] the context module's output (or `features` without one)
//   logits           [n, h, w, k]   the classifier's
//   probs            [n, lh, lw, k] softmax of the logits resized to the label size (filled by `loss`)
//   conv3x3Scratch   Winograd / im2col workspace shared by the 3×3 and atrous convolutions

/// A buffer of the activation memory and its shape.
package struct HeadTensor {
    package let data: UnsafeMutablePointer<Float>
    package let shape: [Int]
    package let count: Int

    package func zero() { data.update(repeating: 0, count: count) }
}

/// Owns the buffers handed out by `tensor` (zero-filled; freed together, or given back to `pool`: the PSPNet baseline
/// makes a store per pass and keeps its memory in the pool its other tensors use).
final class TensorStore {
    private var blocks: [(data: UnsafeMutablePointer<Float>, count: Int)] = []
    private let pool: TensorBufferPool?
    private(set) var bytes = 0

    init(pool: TensorBufferPool? = nil) { self.pool = pool }

    func tensor(_ shape: [Int]) -> HeadTensor {
        let count = shape.reduce(1, *), capacity = max(1, count)
        let p = pool?.take(capacity) ?? .allocate(capacity: capacity)
        p.initialize(repeating: 0, count: capacity)
        blocks.append((p, capacity))
        bytes += capacity * MemoryLayout<Float>.stride
        return HeadTensor(data: p, shape: shape, count: count)
    }

    deinit {
        for b in blocks {
            if let pool { pool.give(b.data, count: b.count) } else { b.data.deallocate() }
        }
    }
}

/// The context module's activations (the same case as the head's `HeadContextModule`).
enum ContextActivations {
    case none
    case ppm(PyramidPooling.Activations)
    case aspp(ASPP.Activations)
}

/// The context module's gradients.
enum ContextGradients {
    case none
    case ppm(PyramidPooling.Gradients)
    case aspp(ASPP.Gradients)
}

package final class HeadActivations {
    /// What the buffer sizes depend on; a forward with another geometry gets a new set.
    struct Geometry: Equatable {
        var batch: Int
        var stageShapes: [Int]        // (h, w, c) of each input stage, in `inputStages` order
        var winograd: Bool
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

    let neck: FPNNeck.Activations?
    let context: ContextActivations
    let classifier: SegmentationClassifier.Activations
    let conv3x3Scratch: HeadTensor
    /// Softmax probabilities at the label size (filled by `SegmentationHead.loss`, reused while the size stays).
    package internal(set) var probs: HeadTensor?
    private var grads: HeadActivationGrads?

    init(head: SegmentationHead, batch n: Int, inputStages: [Int], inputShapes: [SegmentationHead.StageShape], winograd: Bool) {
        let cfg = head.config
        geometry = Geometry(batch: n, stageShapes: inputShapes.flatMap { [$0.h, $0.w, $0.c] }, winograd: winograd)
        batch = n
        self.inputStages = inputStages
        self.inputShapes = inputShapes
        inputs = []
        let h = inputShapes[0].h, w = inputShapes[0].w
        self.h = h; self.w = w
        let s = TensorStore()
        store = s
        neck = head.neck.map { FPNNeck.Activations(n: n, shapes: inputShapes, width: $0.width, store: s) }
        switch head.context {
        case .none: context = .none
        case .ppm(let m): context = .ppm(PyramidPooling.Activations(m, n: n, h: h, w: w, store: s))
        case .aspp(let m): context = .aspp(ASPP.Activations(m, n: n, h: h, w: w, store: s))
        }
        classifier = SegmentationClassifier.Activations(head.classifier, n: n, h: h, w: w, store: s)
        var scratch = 0
        let convs = (cfg.useFPN ? [(cfg.featureWidth, cfg.featureWidth)] : []) + [(cfg.classifierInput, cfg.classifierWidth)]
        for (cin, cout) in convs {
            scratch = max(scratch, HeadOps.conv3x3Scratch(winograd: winograd, n: n, h: h, w: w, cin: cin, cout: cout))
        }
        if cfg.context == .aspp {
            scratch = max(scratch, ASPP.scratchCount(h: h, w: w, cin: cfg.featureWidth, rates: cfg.asppRates))
        }
        conv3x3Scratch = s.tensor([scratch])
    }

    /// The context module's input: the FPN output, or F3 without FPN.
    package var features: UnsafePointer<Float> { neck.map { UnsafePointer($0.out.data) } ?? inputs[0] }
    /// The classifier's input: the context module's output, or `features` without one.
    package var classifierInput: UnsafePointer<Float> {
        switch context {
        case .none: return features
        case .ppm(let a): return UnsafePointer(a.concat.data)
        case .aspp(let a): return UnsafePointer(a.output)
        }
    }
    package var logits: HeadTensor { classifier.logits }
    /// Whether the last forward applied the classifier's dropout (training with dropout > 0).
    package var dropoutApplied: Bool { classifier.dropoutApplied }

    /// The probability buffer for labels of lh×lw.
    func probs(labelHeight lh: Int, labelWidth lw: Int, classes k: Int) -> HeadTensor {
        if let p = probs, p.shape == [batch, lh, lw, k] { return p }
        let p = store.tensor([batch, lh, lw, k])
        probs = p
        return p
    }

    /// The gradient buffers for this geometry (allocated by the first backward).
    func gradients(head: SegmentationHead) -> HeadActivationGrads {
        if let g = grads { return g }
        let g = HeadActivationGrads(head: head, saved: self, store: store)
        grads = g
        return g
    }

    /// Bytes of all buffers (activations, probabilities, gradients, scratch): the head's activation memory.
    package var bytes: Int { store.bytes }
}

/// Gradients with respect to the activations (same shapes as their activations), written by backward.
struct HeadActivationGrads {
    let classifier: SegmentationClassifier.Gradients
    /// At the classifier's input (nil for the bare head: no trainable layer below the classifier).
    let classifierInput: HeadTensor?
    let context: ContextGradients
    /// At the context module's input (nil unless the head has both a neck and a context module: without a neck nothing
    /// below is trained, without a context module it is `classifierInput`).
    let features: HeadTensor?
    let neck: FPNNeck.Gradients?

    init(head: SegmentationHead, saved a: HeadActivations, store s: TensorStore) {
        let cfg = head.config, n = a.batch, h = a.h, w = a.w
        let hasContext = cfg.context != .none
        classifier = SegmentationClassifier.Gradients(head.classifier, n: n, h: h, w: w, store: s)
        classifierInput = cfg.useFPN || hasContext ? s.tensor([n, h, w, cfg.classifierInput]) : nil
        features = cfg.useFPN && hasContext ? s.tensor([n, h, w, cfg.featureWidth]) : nil
        switch head.context {
        case .none: context = .none
        case .ppm(let m): context = .ppm(PyramidPooling.Gradients(m, n: n, h: h, w: w, inputGradient: cfg.useFPN, store: s))
        case .aspp(let m): context = .aspp(ASPP.Gradients(m, n: n, h: h, w: w, inputGradient: cfg.useFPN, store: s))
        }
        neck = head.neck.map { FPNNeck.Gradients(n: n, shapes: a.inputShapes, width: $0.width, store: s) }
    }

    /// The gradient at the neck's output: `features`, or `classifierInput` when no context module sits between.
    var neckOutput: HeadTensor? { features ?? classifierInput }
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
