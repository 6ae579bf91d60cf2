// Concatenation along channels of channels-last maps with the same pixels.
//
//   parts[i] [rows, widths[i]]   out [rows, Σ widths]

package enum ChannelConcat {
    package static func forward(out: UnsafeMutablePointer<Float>, parts: [UnsafePointer<Float>], widths: [Int], rows: Int) {
        let total = widths.reduce(0, +)
        var offset = 0
        for (p, cw) in zip(parts, widths) {
            for r in 0..<rows { (out + r * total + offset).update(from: p + r * cw, count: cw) }
            offset += cw
        }
    }

    /// dparts[i] += the matching channel slice of dout (nil entries are skipped).
    package static func backward(dparts: [UnsafeMutablePointer<Float>?], dout: UnsafePointer<Float>, widths: [Int], rows: Int) {
        let total = widths.reduce(0, +)
        var offset = 0
        for (d, cw) in zip(dparts, widths) {
            if let d {
                for r in 0..<rows {
                    let src = dout + r * total + offset, dst = d + r * cw
                    for k in 0..<cw { dst[k] += src[k] }
                }
            }
            offset += cw
        }
    }
}
