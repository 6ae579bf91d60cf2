// What one forward pass of the PSPNet keeps for its backward pass, as typed fields (llm.c's ActivationTensors):
// every map is a `Tensor` that carries its own [n, h, w, c] shape. `PSPNet.forward` fills a `PSPNetActivations`,
// `PSPNet.backward(saved:loss:)` reads it.

/// A channels-last map [n, h, w, c] owning its memory.
public final class Tensor {
    public let n: Int, h: Int, w: Int, c: Int
    public let data: UnsafeMutablePointer<Float>
    public var count: Int { n * h * w * c }
    public var rows: Int { n * h * w }

    public init(n: Int, h: Int, w: Int, c: Int) {
        self.n = n; self.h = h; self.w = w; self.c = c
        data = TensorBufferPool.shared.take(max(1, n * h * w * c))
    }

    /// A zero-filled tensor of `like`'s shape (gradients).
    public static func zeros(like t: Tensor) -> Tensor { zeros(n: t.n, h: t.h, w: t.w, c: t.c) }
    public static func zeros(n: Int, h: Int, w: Int, c: Int) -> Tensor {
        let t = Tensor(n: n, h: h, w: w, c: c)
        t.data.initialize(repeating: 0, count: max(1, t.count))
        return t
    }

    public var bytes: Int { count * MemoryLayout<Float>.stride }

    deinit { TensorBufferPool.shared.give(data, count: max(1, count)) }
}

/// conv → BatchNorm (→ ReLU, in place on `out`).
public struct ConvBNActivations {
    public var conv: Tensor           // BN input
    public var out: Tensor            // BN output (after ReLU when the unit has one)
    public var mean: [Float], rstd: [Float]
}

public struct BottleneckActivations {
    public var conv1: ConvBNActivations, conv2: ConvBNActivations, conv3: ConvBNActivations
    public var downsample: ConvBNActivations?
    public var out: Tensor            // ReLU(conv3 + shortcut)
}

public struct StemActivations {
    public var units: [ConvBNActivations]
    public var pool: Tensor
    public var argmax: [Int32]
}

public struct PPMActivations {
    public var pooled: [Tensor]       // adaptive average pools, bins×bins
    public var branches: [ConvBNActivations]
    public var upsampled: [Tensor]    // each branch resized (align corners) to the feature map
    public var concat: Tensor         // [features, branches…]
}

/// conv 3×3 → BN → ReLU → Dropout2d → conv 1×1 (+bias) → bilinear (align corners) to the input size.
public struct ClassifierActivations {
    public var unit: ConvBNActivations
    public var mask: [Float]?         // Dropout2d mask [n, c] (training)
    public var dropped: Tensor        // the final conv's input (== unit.out without dropout)
    public var logits: Tensor         // [n, fh, fw, classes]
    /// [n, H, W, classes] logits at the input size; `PSPNet.loss` overwrites them with their loss gradient.
    public var upsampled: Tensor
}

public struct PSPNetActivations {
    public var input: Tensor
    public var training: Bool
    public var stem: StemActivations
    public var layers: [[BottleneckActivations]]
    public var ppm: PPMActivations
    public var cls: ClassifierActivations
    public var aux: ClassifierActivations?     // training only

    public var bytes: Int {
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
public struct PSPNetLoss {
    public var main: Double
    public var aux: Double
    public var total: Double
    public var valid: Int
}
