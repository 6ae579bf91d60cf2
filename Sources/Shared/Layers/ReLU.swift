// Rectified linear unit, elementwise.
//
//   inp, out [count]   (out may alias inp: backward only needs out)

package enum ReLU {
    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = max(inp[i], 0) }
    }

    /// dinp += dout where out > 0.
    package static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                out: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dinp[i] += out[i] > 0 ? dout[i] : 0 }
    }
}
