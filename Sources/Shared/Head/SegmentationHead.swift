import Foundation
import DinoSegCore
import DinoSegNN

// A segmentation head built from modules (docs/DESIGN.md §6 and "Head modules"), on channels-last stage features:
//   neck      FPNNeck (fpn.*) or none: the head then reads F3
//   context   PyramidPooling (ppm.*), ASPP (aspp.*) or none
//   classifier  SegmentationClassifier (cls.*)
// Each module declares its parameters (PyTorch state_dict names), owns its activation and gradient structs and has
// its forward and backward in its own file; the head allocates, orders and connects them.

/// The head's context module.
enum HeadContextModule {
    case none
    case ppm(PyramidPooling)
    case aspp(ASPP)
}

package final class SegmentationHead {
    package typealias StageShape = (h: Int, w: Int, c: Int)

    package let config: HeadConfig
    package let params = ParameterArena()
    /// BatchNorm running statistics (`<bn>.running_mean`, `<bn>.running_var`), not trained.
    package let stats = ParameterArena()
    /// BatchNorm layers in checkpoint order: the context module's, then the classifier's.
    package let bnPrefixes: [String]
    /// `num_batches_tracked` per BatchNorm, in `bnPrefixes` order (read and set through `batchesTracked`).
    private let counters: BatchNormCounters
    package var threads: Int
    /// 3×3 convolutions: Winograd F(2×2,3×3) when the channel counts allow it, else im2col + GEMM.
    package var useWinograd = true
    let neck: FPNNeck?
    let context: HeadContextModule
    let classifier: SegmentationClassifier
    /// The activations of the last forward, reused while batch and stage shapes stay the same.
    private var activations: HeadActivations?
    /// Data-parallel training: the part of the global batch this process holds. Training BatchNorm and the loss then
    /// use sums over the global batch, and dropout draws the global batch's mask and keeps this part of it, so the
    /// processes together compute what one process computes on the whole batch. nil: the batch is all there is.
    package var shard: BatchShard?

    package init(config: HeadConfig, seed: UInt64 = 0, threads: Int = 1) throws {
        try config.validate()
        self.config = config
        self.threads = threads
        let slots = SegmentationHead.declareParameters(config, params: params, stats: stats)
        params.allocate()
        stats.allocate()
        params.initialise(seed: seed)
        stats.initialise(seed: seed)
        neck = slots.neck?.resolve(params)
        if let ppm = slots.ppm { context = .ppm(ppm.resolve(params, stats)) }
        else if let aspp = slots.aspp { context = .aspp(aspp.resolve(params, stats)) }
        else { context = .none }
        classifier = slots.classifier.resolve(params, stats)
        bnPrefixes = slots.bnPrefixes
        counters = BatchNormCounters(count: bnPrefixes.count)
    }

    /// The modules' parameter slots, declared into `params` and `stats` (nothing is allocated): also how a
    /// checkpoint's tensors are checked against its config before a head is built.
    struct DeclaredModules {
        var neck: FPNNeck.Slots?
        var ppm: PyramidPooling.Slots?
        var aspp: ASPP.Slots?
        var classifier: SegmentationClassifier.Slots
        var bnPrefixes: [String]
    }

    static func declareParameters(_ config: HeadConfig, params: ParameterArena, stats: ParameterArena) -> DeclaredModules {
        // Declaration order is the arena (and initialisation stream) order: neck, context, classifier.
        let d = HeadParameterDeclarer(params: params, stats: stats)
        let neck = config.useFPN
            ? FPNNeck.declare(d, inputChannels: config.fpnLevels.map { config.stageChannels[$0] }, width: config.fpnWidth) : nil
        let c = config.featureWidth
        let ppm = config.context == .ppm
            ? PyramidPooling.declare(d, inputWidth: c, bins: config.ppmBins, reduction: config.ppmReduction, alignCorners: false)
            : nil
        let aspp = config.context == .aspp
            ? ASPP.declare(d, inputWidth: c, width: config.asppWidth, rates: config.asppRates, dropout: config.asppDropout) : nil
        let classifier = SegmentationClassifier.declare(d, inputWidth: config.classifierInput, width: config.classifierWidth,
                                                        classes: config.numClasses, dropout: config.dropout)
        return DeclaredModules(neck: neck, ppm: ppm, aspp: aspp, classifier: classifier, bnPrefixes: d.bnPrefixes)
    }

    /// `num_batches_tracked` per BatchNorm prefix (checkpoints, and the state data-parallel processes start from).
    package var batchesTracked: [String: Int64] {
        get { Dictionary(uniqueKeysWithValues: zip(bnPrefixes, counters.tracked)) }
        set { for (i, prefix) in bnPrefixes.enumerated() { counters.tracked[i] = newValue[prefix] ?? 0 } }
    }

    /// Bytes of the activation memory of the last forward (and backward) pass.
    package var activationBytes: Int { activations?.bytes ?? 0 }

    /// What the modules share for one pass.
    var ops: HeadOps { HeadOps(threads: threads, useWinograd: useWinograd, shard: shard, counters: counters) }

    // MARK: forward

    /// Runs the head and returns its activations (valid until the next forward; `logits` [n, h, w, classes] at the
    /// working stage's resolution). In training, BatchNorm uses batch statistics (and updates running ones) and
    /// dropout draws from `dropoutSeed`. The stage features must stay valid until `backward` has run.
    @discardableResult
    package func forward(stages: [Int: UnsafePointer<Float>], shapes: [Int: StageShape], batch n: Int,
                        training: Bool, dropoutSeed: UInt64 = 0) -> HeadActivations {
        let a = activations(batch: n, shapes: shapes)
        a.inputs = a.inputStages.map { stages[$0]! }
        let h = a.h, w = a.w, ops = ops
        if let neck, let na = a.neck {
            neck.forward(inputs: a.inputs, shapes: a.inputShapes, n: n, a: na, ops: ops, scratch: a.conv3x3Scratch)
        }
        switch (context, a.context) {
        case (.ppm(let m), .ppm(let ca)):
            m.forward(a.features, n: n, h: h, w: w, a: ca, ops: ops, training: training)
        case (.aspp(let m), .aspp(let ca)):
            m.forward(a.features, n: n, h: h, w: w, a: ca, ops: ops, training: training, dropoutSeed: dropoutSeed,
                      scratch: a.conv3x3Scratch)
        default:
            break
        }
        classifier.forward(a.classifierInput, n: n, h: h, w: w, a: a.classifier, ops: ops, training: training,
                           dropoutSeed: dropoutSeed, scratch: a.conv3x3Scratch)
        return a
    }

    /// The activation set for this batch and these stage shapes: the previous one when they match.
    private func activations(batch n: Int, shapes: [Int: StageShape]) -> HeadActivations {
        let stages = config.requiredStages
        let stageShapes = stages.map { shapes[$0]! }
        let geometry = HeadActivations.Geometry(batch: n, stageShapes: stageShapes.flatMap { [$0.h, $0.w, $0.c] },
                                                winograd: useWinograd)
        if let a = activations, a.geometry == geometry { return a }
        activations = nil   // free the old set first
        let a = HeadActivations(head: self, batch: n, inputStages: stages, inputShapes: stageShapes, winograd: useWinograd)
        activations = a
        return a
    }

    // MARK: loss

    /// Upsamples the logits of `saved` bilinearly to the label size and returns the mean cross-entropy (ignoring
    /// `ignoreLabel`) and the number of labelled pixels (of the global batch with `shard`); the probabilities are kept
    /// for `backward`.
    package func loss(_ saved: HeadActivations, labels: UnsafePointer<UInt8>, labelHeight lh: Int, labelWidth lw: Int) -> HeadLoss {
        let k = config.numClasses, n = saved.batch
        let probs = saved.probs(labelHeight: lh, labelWidth: lw, classes: k)
        BilinearResize.forward(out: probs.data, inp: saved.logits.data, n: n, inH: saved.h, inW: saved.w, c: k,
                               outH: lh, outW: lw, threads: threads)
        var r = SoftmaxCrossEntropy.forward(probs: probs.data, logits: probs.data, labels: labels, pixels: n * lh * lw,
                                            k: k, threads: threads)
        if let shard {
            // The mean over the labelled pixels of the global batch: sum of losses and labelled count over processes.
            var sums = [r.loss * Double(r.valid), Double(r.valid)]
            sums.withUnsafeMutableBufferPointer { shard.sum($0) }
            r = (sums[1] > 0 ? sums[0] / sums[1] : 0, Int(sums[1]))
        }
        return HeadLoss(loss: r.loss, valid: r.valid, labels: labels, labelHeight: lh, labelWidth: lw, probs: probs)
    }

    // MARK: inference

    /// Eval-mode logits for features of any spatial size, bilinearly resized to outHeight×outWidth:
    /// NHWC [batch, outHeight, outWidth, classes].
    package func logits(stages: [Int: UnsafePointer<Float>], shapes: [Int: (h: Int, w: Int, c: Int)], batch: Int,
                       outHeight: Int, outWidth: Int) -> [Float] {
        let a = forward(stages: stages, shapes: shapes, batch: batch, training: false)
        let k = config.numClasses
        var out = [Float](repeating: 0, count: batch * outHeight * outWidth * k)
        out.withUnsafeMutableBufferPointer { o in
            BilinearResize.forward(out: o.baseAddress!, inp: a.logits.data, n: batch, inH: a.h, inW: a.w, c: k,
                                   outH: outHeight, outW: outWidth, threads: threads)
        }
        return out
    }
}

/// Calls `body` with pointers to the arrays of `stages` for the stages `wanted` (all must be present), valid for the
/// whole call: the head reads the caller's feature arrays without copying them.
package func withStagePointers<R>(_ stages: [Int: [Float]], stages wanted: [Int],
                          _ body: ([Int: UnsafePointer<Float>]) throws -> R) rethrows -> R {
    func go(_ i: Int, _ acc: [Int: UnsafePointer<Float>]) throws -> R {
        if i == wanted.count { return try body(acc) }
        return try stages[wanted[i]]!.withUnsafeBufferPointer { p in
            var next = acc
            next[wanted[i]] = p.baseAddress!
            return try go(i + 1, next)
        }
    }
    return try go(0, [:])
}
