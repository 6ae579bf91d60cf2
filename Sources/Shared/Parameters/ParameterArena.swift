import Foundation
import DinoSegCore

// All trainable parameters, their gradients and their SGD momentum in three flat buffers, with named views.
// One flat buffer makes zeroing gradients and the optimizer step single loops, and keeps pointers stable.

/// How a parameter is stored here versus in PyTorch (checkpoints convert between the two).
package enum ParameterLayout: String, Codable {
    /// PyTorch [cout, cin, 1, 1] (or [cout, cin]); stored [cin, cout].
    case conv1x1
    /// PyTorch [cout, cin, 3, 3]; stored [ky, kx, cin, cout].
    case conv3x3
    /// PyTorch [cout, cin, k, k] for any k; stored [ky, kx, cin, cout].
    case convKxK
    /// A vector [count], identical in both.
    case vector
}

package struct ParameterView {
    package var name: String          // PyTorch state_dict key
    package var offset: Int
    package var count: Int
    package var torchShape: [Int]
    package var layout: ParameterLayout
    /// U(−bound, bound) initial values, or nil for a constant.
    package var initBound: Float?
    package var initConstant: Float
}

/// Where one parameter's value and gradient live in the arena.
package struct ParameterRef {
    package let value: UnsafeMutablePointer<Float>
    package let grad: UnsafeMutablePointer<Float>
}

package final class ParameterArena {
    package private(set) var views: [ParameterView] = []
    package private(set) var count = 0
    package private(set) var values: UnsafeMutablePointer<Float>
    package private(set) var grads: UnsafeMutablePointer<Float>
    package private(set) var momentum: UnsafeMutablePointer<Float>
    private var index: [String: Int] = [:]

    /// Declares parameters first (`add`), then `allocate()` once.
    package init() {
        values = .allocate(capacity: 1); grads = .allocate(capacity: 1); momentum = .allocate(capacity: 1)
    }

    deinit { values.deallocate(); grads.deallocate(); momentum.deallocate() }

    @discardableResult
    package func add(_ name: String, torchShape: [Int], layout: ParameterLayout, initBound: Float? = nil,
                    initConstant: Float = 0) -> Int {
        precondition(index[name] == nil, "duplicate parameter \(name)")
        let n = torchShape.reduce(1, *)
        index[name] = views.count
        views.append(ParameterView(name: name, offset: count, count: n, torchShape: torchShape, layout: layout,
                                   initBound: initBound, initConstant: initConstant))
        count += n
        return views.count - 1
    }

    package func allocate() {
        values.deallocate(); grads.deallocate(); momentum.deallocate()
        values = .allocate(capacity: max(1, count)); values.initialize(repeating: 0, count: max(1, count))
        grads = .allocate(capacity: max(1, count)); grads.initialize(repeating: 0, count: max(1, count))
        momentum = .allocate(capacity: max(1, count)); momentum.initialize(repeating: 0, count: max(1, count))
    }

    package func view(_ name: String) -> ParameterView? { index[name].map { views[$0] } }
    /// No NaN or infinity among the values (an overflowed SGD step).
    package var valuesAreFinite: Bool { UnsafeBufferPointer(start: values, count: count).allSatisfy(\.isFinite) }

    package func value(_ name: String) -> UnsafeMutablePointer<Float> { values + views[index[name]!].offset }
    package func grad(_ name: String) -> UnsafeMutablePointer<Float> { grads + views[index[name]!].offset }
    /// The value and gradient of the parameter `add` returned `index` for (after `allocate()`; stable from then on).
    package func ref(_ index: Int) -> ParameterRef {
        ParameterRef(value: values + views[index].offset, grad: grads + views[index].offset)
    }

    /// PyTorch default initialisation for every parameter, each from its own seeded stream (independent of order).
    package func initialise(seed: UInt64) {
        for (i, v) in views.enumerated() {
            let p = values + v.offset
            if let bound = v.initBound {
                var rng = SplitMix64(seed: seed, 1, i)
                var torchOrder = [Float](repeating: 0, count: v.count)
                for j in 0..<v.count { torchOrder[j] = Float(rng.uniform(-Double(bound), Double(bound))) }
                torchOrder.withUnsafeBufferPointer { fromTorchLayout($0.baseAddress!, into: p, view: v) }
            } else {
                p.update(repeating: v.initConstant, count: v.count)
            }
        }
        momentum.update(repeating: 0, count: count)
        grads.update(repeating: 0, count: count)
    }

    package func zeroGrads() { grads.update(repeating: 0, count: count) }

    /// SGD with momentum and weight decay, PyTorch semantics: v ← μ·v + (g + λ·w); w ← w − lr·v, over the
    /// parameters stored in `range` (default all; a parameter group is a contiguous range of declarations).
    package func sgdStep(lr: Float, momentum mu: Float, weightDecay: Float, range: Range<Int>? = nil) {
        let w = values, g = grads, v = momentum
        for i in range ?? 0..<count {
            let d = g[i] + weightDecay * w[i]
            let vi = mu * v[i] + d
            v[i] = vi
            w[i] -= lr * vi
        }
    }

    // MARK: layout conversion

    /// Copies a parameter from PyTorch order into its stored layout.
    package func fromTorchLayout(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, view v: ParameterView) {
        Self.forEachElement(of: v) { torch, stored in dst[stored] = src[torch] }
    }

    /// The stored buffer (values, momentum or grads at `base`) of one parameter in PyTorch order.
    package func torchLayout(_ base: UnsafePointer<Float>, view v: ParameterView) -> [Float] {
        let src = base + v.offset
        var out = [Float](repeating: 0, count: v.count)
        Self.forEachElement(of: v) { torch, stored in out[torch] = src[stored] }
        return out
    }

    /// Calls body(index in PyTorch order, index in the stored layout) for every element of a parameter: the one
    /// permutation both conversions walk, in opposite directions. Convolution weights are stored [tap, cin, cout]
    /// (a GEMM's right-hand side) from PyTorch's [cout, cin, tap].
    private static func forEachElement(of v: ParameterView, _ body: (Int, Int) -> Void) {
        switch v.layout {
        case .vector:
            for i in 0..<v.count { body(i, i) }
        case .conv1x1:
            let cout = v.torchShape[0], cin = v.count / cout
            for o in 0..<cout { for i in 0..<cin { body(o * cin + i, i * cout + o) } }
        case .conv3x3, .convKxK:
            let cout = v.torchShape[0], cin = v.torchShape[1], taps = v.count / (cout * cin)
            for o in 0..<cout { for i in 0..<cin { for t in 0..<taps { body((o * cin + i) * taps + t, (t * cin + i) * cout + o) } } }
        }
    }
}
