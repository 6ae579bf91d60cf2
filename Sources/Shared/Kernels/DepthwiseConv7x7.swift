// Depthwise 7×7 convolution, stride 1, zero padding 3, with bias (the ConvNeXt block's spatial mixing), NHWC.
//
//   input   [height, width, channels]
//   weight  [7, 7, channels]   (packed from PyTorch's [channels, 1, 7, 7] by packDepthwiseWeight)
//   bias    [channels]
//   output  [height, width, channels]
//   padded  scratch [(height + 6) * (width + 6) * channels]
//
// The fast kernel (C, one build per instruction set, see KernelPath) copies the input into a zero-bordered buffer and
// vectorises over channels, computing 6 neighbouring output pixels at once so each weight load feeds 6 FMAs.
// depthwiseConv7x7Naive is the plain reference it is tested against.
import CKernels

let depthwisePad = 3

package func depthwisePaddedCount(height: Int, width: Int, channels: Int) -> Int {
    (height + 2 * depthwisePad) * (width + 2 * depthwisePad) * channels
}

/// Repacks [channels, 1, 7, 7] into [7, 7, channels].
package func packDepthwiseWeight(_ c177: [Float], channels: Int) -> [Float] {
    precondition(c177.count == channels * 49)
    var packed = [Float](repeating: 0, count: c177.count)
    for c in 0..<channels { for t in 0..<49 { packed[t * channels + c] = c177[c * 49 + t] } }
    return packed
}

/// Fast path: the C kernel `dinoseg_dwconv7x7_f32` (Sources/CKernels) on the chosen instruction set.
package func depthwiseConv7x7(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                             output: UnsafeMutablePointer<Float>, padded: UnsafeMutablePointer<Float>,
                             path: KernelPath = .best) {
    dinoseg_dwconv7x7_f32(path.rawValue, input, height, width, channels, weight, bias, output, padded)
}

/// Reference (plain loops, not used by the model) with the PyTorch weight layout [channels, 1, 7, 7] and explicit bounds checks, accumulating in Double.
package func depthwiseConv7x7Naive(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
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
