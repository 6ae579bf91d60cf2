// Residual connection: out = a + b, elementwise (out may alias a or b).
//
//   a, b, out [count]

package enum ResidualAdd {
    package static func forward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// da += dout;  db += dout
    package static func backward(da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                count: Int) {
        for i in 0..<count { da[i] += dout[i]; db[i] += dout[i] }
    }
}
