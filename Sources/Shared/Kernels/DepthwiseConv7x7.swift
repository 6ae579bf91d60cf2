// Depthwise 7×7 convolution, stride 1, zero padding 3, with bias (the ConvNeXt block's spatial mixing), NHWC.
//
//   input   [height, width, channels]
//   weight  [7, 7, channels]   (packed from PyTorch's [channels, 1, 7, 7] by packDepthwiseWeight)
//   bias    [channels]
//   output  [height, width, channels]
//   padded  scratch [(height + 6) * (width + 6) * channels]
//
// The fast kernel copies the input into a zero-bordered buffer (so the inner loops have no bounds checks) and
// vectorises over 8 channels, computing 6 neighbouring output pixels at once so each weight vector load feeds 6 FMAs.

let depthwisePad = 3

public func depthwisePaddedCount(height: Int, width: Int, channels: Int) -> Int {
    (height + 2 * depthwisePad) * (width + 2 * depthwisePad) * channels
}

/// Repacks [channels, 1, 7, 7] into [7, 7, channels].
public func packDepthwiseWeight(_ c177: [Float], channels: Int) -> [Float] {
    precondition(c177.count == channels * 49)
    var packed = [Float](repeating: 0, count: c177.count)
    for c in 0..<channels { for t in 0..<49 { packed[t * channels + c] = c177[c * 49 + t] } }
    return packed
}

public func depthwiseConv7x7(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                             output: UnsafeMutablePointer<Float>, padded: UnsafeMutablePointer<Float>) {
    let c = channels
    let pw = width + 2 * depthwisePad
    // Zero border + interior copy.
    padded.initialize(repeating: 0, count: depthwisePad * pw * c)
    (padded + (depthwisePad + height) * pw * c).initialize(repeating: 0, count: depthwisePad * pw * c)
    for y in 0..<height {
        let row = padded + (y + depthwisePad) * pw * c
        row.initialize(repeating: 0, count: depthwisePad * c)
        (row + depthwisePad * c).update(from: input + y * width * c, count: width * c)
        (row + (depthwisePad + width) * c).initialize(repeating: 0, count: depthwisePad * c)
    }
    let vecChannels = c - c % 8
    for y in 0..<height {
        let outRow = output + y * width * c
        // x outer, channel blocks inner: the 7 × 12-pixel input window of a strip (all channels) stays in L1.
        // A remainder of 3–5 columns is done by one more strip moved left to end at the border (recomputing a few
        // outputs costs less than 1-wide outputs, which need a weight load per FMA); 1–2 columns go 1-wide.
        let remainder = width % 6
        let stripEnd = width - remainder
        var x = 0
        while x < stripEnd || (x == stripEnd && remainder >= 3 && width >= 6) {
            let sx = min(x, width - 6)
            var cb = 0
            while cb < vecChannels {
                depthwiseStrip6(padded + (y * pw + sx) * c + cb, rowStride: pw * c, channels: c, weight: weight + cb,
                                bias: load8(bias + cb), output: outRow + sx * c + cb)
                cb += 8
            }
            x += 6
        }
        while x < width {
            var cb = 0
            while cb < vecChannels {
                var a = load8(bias + cb)
                for ky in 0..<7 {
                    let src = padded + ((y + ky) * pw + x) * c + cb
                    let w = weight + ky * 7 * c + cb
                    for kx in 0..<7 { a = a.addingProduct(load8(src + kx * c), load8(w + kx * c)) }
                }
                store8(a, outRow + x * c + cb)
                cb += 8
            }
            x += 1
        }
        // Channels that do not fill a vector.
        for ch in vecChannels..<c {
            for x in 0..<width {
                var a = bias[ch]
                for ky in 0..<7 {
                    let src = padded + ((y + ky) * pw + x) * c + ch
                    let w = weight + ky * 7 * c + ch
                    for kx in 0..<7 { a += src[kx * c] * w[kx * c] }
                }
                outRow[x * c + ch] = a
            }
        }
    }
}

/// Six neighbouring outputs × 8 channels: each weight load feeds 6 FMAs; the inputs in flight slide one column per tap.
/// `src` points at the top-left padded input of the first output (padded row y, column x).
@inline(__always) private func depthwiseStrip6(_ src: UnsafeMutablePointer<Float>, rowStride: Int, channels c: Int,
                                               weight: UnsafePointer<Float>, bias b: SIMD8<Float>,
                                               output dst: UnsafeMutablePointer<Float>) {
    var a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b
    for ky in 0..<7 {
        let row = src + ky * rowStride
        let w = weight + ky * 7 * c
        var i0 = load8(row), i1 = load8(row + c), i2 = load8(row + 2 * c)
        var i3 = load8(row + 3 * c), i4 = load8(row + 4 * c)
        for kx in 0..<7 {
            let wv = load8(w + kx * c)
            let i5 = load8(row + (kx + 5) * c)
            a0 = a0.addingProduct(i0, wv)
            a1 = a1.addingProduct(i1, wv)
            a2 = a2.addingProduct(i2, wv)
            a3 = a3.addingProduct(i3, wv)
            a4 = a4.addingProduct(i4, wv)
            a5 = a5.addingProduct(i5, wv)
            i0 = i1; i1 = i2; i2 = i3; i3 = i4; i4 = i5
        }
    }
    store8(a0, dst); store8(a1, dst + c); store8(a2, dst + 2 * c)
    store8(a3, dst + 3 * c); store8(a4, dst + 4 * c); store8(a5, dst + 5 * c)
}

/// Reference with the PyTorch weight layout [channels, 1, 7, 7] and explicit bounds checks, accumulating in Double.
public func depthwiseConv7x7Naive(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                                  weightC177: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                  output: UnsafeMutablePointer<Float>) {
    for y in 0..<height {
        for x in 0..<width {
            for ch in 0..<channels {
                var s = Double(bias[ch])
                for ky in 0..<7 {
                    for kx in 0..<7 {
                        let iy = y + ky - depthwisePad, ix = x + kx - depthwisePad
                        guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                        s += Double(input[(iy * width + ix) * channels + ch]) * Double(weightC177[ch * 49 + ky * 7 + kx])
                    }
                }
                output[(y * width + x) * channels + ch] = Float(s)
            }
        }
    }
}
