// What one forward pass of the PSPNet keeps for its backward pass, as typed fields (llm.c's ActivationTensors):
// every backbone map is a `Tensor` that carries its own [n, h, w, c] shape; the head modules keep their own activation
// structs (shapes in their files), in a `TensorStore` drawing on the same buffer pool. `PSPNet.forward` fills a
// `PSPNetActivations`, `PSPNet.backward(saved:loss:)` reads it.

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

/// The classifier module's activations (conv 3×3 → BN → ReLU → Dropout2d → conv 1×1 + bias), then its logits
/// resized (align corners) to the input size.
package struct ClassifierActivations {
    let module: SegmentationClassifier.Activations
    /// [n, H, W, classes] logits at the input size; `PSPNet.loss` overwrites them with their loss gradient.
    package var upsampled: Tensor
}

package struct PSPNetActivations {
    package var input: Tensor
    package var training: Bool
    package var stem: StemActivations
    package var layers: [[BottleneckActivations]]
    /// Owns the modules' activation buffers (ppm, cls and aux).
    let modules: TensorStore
    let ppm: PyramidPooling.Activations
    package var cls: ClassifierActivations
    package var aux: ClassifierActivations?     // training only

    package var bytes: Int {
        var total = input.bytes + stem.pool.bytes + stem.argmax.count * 4 + modules.bytes
        func unit(_ u: ConvBNActivations) -> Int { u.conv.bytes + u.out.bytes }
        total += stem.units.map(unit).reduce(0, +)
        for layer in layers { for b in layer { total += unit(b.conv1) + unit(b.conv2) + unit(b.conv3) + b.out.bytes + (b.downsample.map(unit) ?? 0) } }
        total += cls.upsampled.bytes + (aux?.upsampled.bytes ?? 0)
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
