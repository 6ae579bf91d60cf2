// What one forward pass of the PSPNet keeps for its backward pass, as typed fields (llm.c's ActivationTensors):
// every map is a `Tensor` that carries its own [n, h, w, c] shape. `PSPNet.forward` fills a `PSPNetActivations`,
// `PSPNet.backward(saved:loss:)` reads it.

/// A channels-last map [n, h, w, c] owning its memory.
package final class Tensor {
    package let n: Int, h: Int, w: Int, c: Int
    package let data: UnsafeMutablePointer<Float>
    package var count: Int { n * h * w * c }
    package var rows: Int { n * h * w }

    package init(n: Int, h: Int, w: Int, c: Int) {
        self.n = n; self.h = h; self.w = w; self.c = c
        data = TensorBufferPool.shared.take(max(1, n * h * w * c))
    }

    /// A zero-filled tensor of `like`'s shape (gradients).
    package static func zeros(like t: Tensor) -> Tensor { zeros(n: t.n, h: t.h, w: t.w, c: t.c) }
    package static func zeros(n: Int, h: Int, w: Int, c: Int) -> Tensor {
        let t = Tensor(n: n, h: h, w: w, c: c)
        t.data.initialize(repeating: 0, count: max(1, t.count))
        return t
    }

    package var bytes: Int { count * MemoryLayout<Float>.stride }

    deinit { TensorBufferPool.shared.give(data, count: max(1, count)) }
}

/// conv → BatchNorm (→ ReLU, in place on `out`).
package struct ConvBNActivations {
    package var conv: Tensor           // BN input
    package var out: Tensor            // BN output (after ReLU when the unit has one)
    package var mean: [Float], rstd: [Float]
}

package struct BottleneckActivations {
    package var conv1: ConvBNActivations, conv2: ConvBNActivations, conv3: ConvBNActivations
    package var downsample: ConvBNActivations?
    package var out: Tensor            // ReLU(conv3 + shortcut)
}

package struct StemActivations {
    package var units: [ConvBNActivations]
    package var pool: Tensor
    package var argmax: [Int32]
}

package struct PPMActivations {
    package var pooled: [Tensor]       // adaptive average pools, bins×bins
    package var branches: [ConvBNActivations]
    package var upsampled: [Tensor]    // each branch resized (align corners) to the feature map
    package var concat: Tensor         // [features, branches…]
}

/// conv 3×3 → BN → ReLU → Dropout2d → conv 1×1 (+bias) → bilinear (align corners) to the input size.
package struct ClassifierActivations {
    package var unit: ConvBNActivations
    package var mask: [Float]?         // Dropout2d mask [n, c] (training)
    package var dropped: Tensor        // the final conv's input (== unit.out without dropout)
    package var logits: Tensor         // [n, fh, fw, classes]
    /// [n, H, W, classes] logits at the input size; `PSPNet.loss` overwrites them with their loss gradient.
    package var upsampled: Tensor
}

package struct PSPNetActivations {
    package var input: Tensor
    package var training: Bool
    package var stem: StemActivations
    package var layers: [[BottleneckActivations]]
    package var ppm: PPMActivations
    package var cls: ClassifierActivations
    package var aux: ClassifierActivations?     // training only

    package var bytes: Int {
        var total = input.bytes + stem.pool.bytes + stem.argmax.count * 4 + ppm.concat.bytes
        func unit(_ u: ConvBNActivations) -> Int { u.conv.bytes + u.out.bytes }
        func head(_ h: ClassifierActivations) -> Int { unit(h.unit) + (h.mask == nil ? 0 : h.dropped.bytes) + h.logits.bytes + h.upsampled.bytes }
        total += stem.units.map(unit).reduce(0, +)
        for layer in layers { for b in layer { total += unit(b.conv1) + unit(b.conv2) + unit(b.conv3) + b.out.bytes + (b.downsample.map(unit) ?? 0) } }
        total += ppm.pooled.map(\.bytes).reduce(0, +) + ppm.branches.map(unit).reduce(0, +) + ppm.upsampled.map(\.bytes).reduce(0, +)
        total += head(cls) + (aux.map(head) ?? 0)
        return total
    }
}

/// The two losses of a training step (semseg: main + auxWeight · aux) and the pixels they average over.
package struct PSPNetLoss {
    package var main: Double
    package var aux: Double
    package var total: Double
    package var valid: Int
}
