// Non-overlapping strided convolution (kernel = stride = `patch`, no padding), as used by the ConvNeXt stem (4×4 s4)
// and downsample layers (2×2 s2). Because patches do not overlap, it is a reshape (patchify) followed by one GEMM.
//
//   input   [batch, height, width, inChannels]                  NHWC
//   weight  [patch * patch * inChannels, outChannels]           packed by packPatchConvWeight, rows ordered (ky, kx, ci)
//   bias    [outChannels]
//   output  [batch, height / patch, width / patch, outChannels] (floor division: trailing rows/columns are dropped)
//   patches scratch [batch * (height / patch) * (width / patch), patch * patch * inChannels]
// The whole batch is one GEMM (more rows per weight load).

/// Copies every patch into one row of `patches` in (ky, kx, ci) order.
package func patchify(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int, patch: Int,
                     patches: UnsafeMutablePointer<Float>) {
    let oh = height / patch, ow = width / patch
    let run = patch * channels  // one patch row is contiguous in NHWC
    for oy in 0..<oh {
        for ox in 0..<ow {
            var dst = patches + (oy * ow + ox) * patch * run
            for ky in 0..<patch {
                let src = input + ((oy * patch + ky) * width + ox * patch) * channels
                dst.update(from: src, count: run)
                dst += run
            }
        }
    }
}

/// Repacks a PyTorch conv weight [out, in, kh, kw] into the GEMM layout [(ky, kx, ci), out].
package func packPatchConvWeight(_ oihw: [Float], outChannels: Int, inChannels: Int, patch: Int) -> [Float] {
    precondition(oihw.count == outChannels * inChannels * patch * patch)
    var packed = [Float](repeating: 0, count: oihw.count)
    for o in 0..<outChannels {
        for i in 0..<inChannels {
            for ky in 0..<patch {
                for kx in 0..<patch {
                    packed[((ky * patch + kx) * inChannels + i) * outChannels + o] = oihw[((o * inChannels + i) * patch + ky) * patch + kx]
                }
            }
        }
    }
    return packed
}

/// Fast path: patchify + sgemm, bias pre-loaded into the output rows.
package func patchConv(input: UnsafePointer<Float>, batch: Int = 1, height: Int, width: Int, inChannels: Int, patch: Int,
                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                      output: UnsafeMutablePointer<Float>, patches: UnsafeMutablePointer<Float>) {
    let perImage = (height / patch) * (width / patch)
    let rows = batch * perImage
    let k = patch * patch * inChannels
    guard rows > 0 else { return }
    for b in 0..<batch {
        patchify(input: input + b * height * width * inChannels, height: height, width: width, channels: inChannels,
                 patch: patch, patches: patches + b * perImage * k)
    }
    patchRowsGEMM(patches: patches, rows: rows, patchSize: k, weight: weight, bias: bias, outChannels: outChannels, output: output)
}

/// The GEMM half of patchConv, for callers that patchify themselves (e.g. images that are not contiguous):
/// output[rows, outChannels] = patches[rows, patchSize] · weight[patchSize, outChannels] + bias.
package func patchRowsGEMM(patches: UnsafePointer<Float>, rows: Int, patchSize k: Int, weight: UnsafePointer<Float>,
                          bias: UnsafePointer<Float>, outChannels: Int, output: UnsafeMutablePointer<Float>) {
    guard rows > 0 else { return }
    for r in 0..<rows { (output + r * outChannels).update(from: bias, count: outChannels) }
    matmul(m: rows, n: outChannels, k: k, a: patches, lda: k, b: weight, ldb: outChannels, beta: 1, c: output, ldc: outChannels)
}

/// Reference: direct convolution with the unpacked PyTorch weight [out, in, kh, kw], accumulating in Double.
package func patchConvNaive(input: UnsafePointer<Float>, height: Int, width: Int, inChannels: Int, patch: Int,
                           weightOIHW: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                           output: UnsafeMutablePointer<Float>) {
    let oh = height / patch, ow = width / patch
    for oy in 0..<oh {
        for ox in 0..<ow {
            for o in 0..<outChannels {
                var s = Double(bias[o])
                for i in 0..<inChannels {
                    for ky in 0..<patch {
                        for kx in 0..<patch {
                            let v = input[((oy * patch + ky) * width + ox * patch + kx) * inChannels + i]
                            s += Double(v) * Double(weightOIHW[((o * inChannels + i) * patch + ky) * patch + kx])
                        }
                    }
                }
                output[(oy * ow + ox) * outChannels + o] = Float(s)
            }
        }
    }
}
