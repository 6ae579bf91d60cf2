// Resizing channels-last images, PyTorch semantics (F.interpolate, align_corners = false, no antialias).
//
//   src: [inH, inW, channels]   dst: [outH, outW, channels]
//
// Bilinear: source coordinate = (dst + 0.5) * in/out - 0.5, clamped below at 0; the right/bottom neighbour is clamped
// to the last row/column. Nearest: source index = floor(dst * in/out) (PyTorch 'nearest', also OpenCV INTER_NEAREST).

/// Interpolation taps along one axis: for each output index, the two source indices and the weight of the second.
@usableFromInline package struct BilinearTaps {
    @usableFromInline package var lo: [Int32]
    @usableFromInline package var hi: [Int32]
    @usableFromInline package var frac: [Float]

    @usableFromInline package init(inSize: Int, outSize: Int) {
        lo = [Int32](repeating: 0, count: outSize)
        hi = lo
        frac = [Float](repeating: 0, count: outSize)
        let scale = Double(inSize) / Double(outSize)
        for o in 0..<outSize {
            let real = max(0, scale * (Double(o) + 0.5) - 0.5)
            let i0 = min(Int(real), inSize - 1)
            let i1 = i0 < inSize - 1 ? i0 + 1 : i0
            lo[o] = Int32(i0)
            hi[o] = Int32(i1)
            frac[o] = Float(real - Double(i0))
        }
    }
}

/// Values a bilinear resize reads: floats, or the bytes of a decoded photo (converted per tap, so no float copy of a
/// whole photo is made).
@usableFromInline package protocol BilinearSample { var bilinearValue: Float { get } }
extension Float: BilinearSample { @inlinable @inline(__always) package var bilinearValue: Float { self } }
extension UInt8: BilinearSample { @inlinable @inline(__always) package var bilinearValue: Float { Float(self) } }

// Inlinable so callers in other targets get it specialised for their element type (no per-sample witness call).
@inlinable
package func resizeBilinear<T: BilinearSample>(src: UnsafePointer<T>, inH: Int, inW: Int, channels: Int,
                                              dst: UnsafeMutablePointer<Float>, outH: Int, outW: Int) {
    let ty = BilinearTaps(inSize: inH, outSize: outH), tx = BilinearTaps(inSize: inW, outSize: outW)
    for oy in 0..<outH {
        resizeBilinearRow(src: src, inW: inW, channels: channels, taps: (ty, tx), row: oy, dst: dst + oy * outW * channels)
    }
}

/// Output row `row` of a bilinear resize ([outW, channels], outW = the column taps' count): reads two source rows.
@inlinable @inline(__always)
package func resizeBilinearRow<T: BilinearSample>(src: UnsafePointer<T>, inW: Int, channels c: Int,
                                                 taps: (BilinearTaps, BilinearTaps), row oy: Int,
                                                 dst out: UnsafeMutablePointer<Float>) {
    let (ty, tx) = taps
    let y0 = Int(ty.lo[oy]), y1 = Int(ty.hi[oy]), fy = ty.frac[oy], gy = 1 - fy
    let row0 = src + y0 * inW * c, row1 = src + y1 * inW * c
    for ox in 0..<tx.lo.count {
        let x0 = Int(tx.lo[ox]) * c, x1 = Int(tx.hi[ox]) * c, fx = tx.frac[ox], gx = 1 - fx
        let w00 = gy * gx, w01 = gy * fx, w10 = fy * gx, w11 = fy * fx
        let o = out + ox * c
        for k in 0..<c {
            o[k] = w00 * row0[x0 + k].bilinearValue + w01 * row0[x1 + k].bilinearValue
                 + w10 * row1[x0 + k].bilinearValue + w11 * row1[x1 + k].bilinearValue
        }
    }
}

/// Gradient of `resizeBilinear`: accumulates dDst into dSrc (dSrc is not cleared).
package func resizeBilinearBackward(dDst: UnsafePointer<Float>, outH: Int, outW: Int, channels: Int,
                                   dSrc: UnsafeMutablePointer<Float>, inH: Int, inW: Int) {
    let ty = BilinearTaps(inSize: inH, outSize: outH), tx = BilinearTaps(inSize: inW, outSize: outW)
    let c = channels
    for oy in 0..<outH {
        let y0 = Int(ty.lo[oy]), y1 = Int(ty.hi[oy]), fy = ty.frac[oy], gy = 1 - fy
        let row0 = dSrc + y0 * inW * c, row1 = dSrc + y1 * inW * c
        let g = dDst + oy * outW * c
        for ox in 0..<outW {
            let x0 = Int(tx.lo[ox]) * c, x1 = Int(tx.hi[ox]) * c, fx = tx.frac[ox], gx = 1 - fx
            let w00 = gy * gx, w01 = gy * fx, w10 = fy * gx, w11 = fy * fx
            let d = g + ox * c
            for k in 0..<c {
                let v = d[k]
                row0[x0 + k] += w00 * v
                row0[x1 + k] += w01 * v
                row1[x0 + k] += w10 * v
                row1[x1 + k] += w11 * v
            }
        }
    }
}

/// Nearest-neighbour source index for each output index.
@inlinable @inline(__always)
package func nearestSourceIndex(_ o: Int, inSize: Int, outSize: Int) -> Int {
    min(Int(Double(o) * Double(inSize) / Double(outSize)), inSize - 1)
}

/// Nearest-neighbour resize of any element type (labels, masks).
@inlinable
package func resizeNearest<T>(src: UnsafePointer<T>, inH: Int, inW: Int, channels: Int,
                             dst: UnsafeMutablePointer<T>, outH: Int, outW: Int) {
    let xs = (0..<outW).map { nearestSourceIndex($0, inSize: inW, outSize: outW) }
    for oy in 0..<outH {
        let sy = nearestSourceIndex(oy, inSize: inH, outSize: outH)
        for ox in 0..<outW {
            let s = src + (sy * inW + xs[ox]) * channels, d = dst + (oy * outW + ox) * channels
            for k in 0..<channels { d[k] = s[k] }
        }
    }
}
