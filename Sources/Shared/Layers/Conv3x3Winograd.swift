import DinoSegKernels
// 3×3 convolution, padding 1, stride 1, channels-last, with Winograd F(2×2, 3×3): 16 GEMMs of
// (tiles × cin)·(cin × cout) instead of one (pixels × 9cin)·(9cin × cout), i.e. 2.25× fewer multiplies.
// Forward and both gradients run in the transformed domain and are exact adjoints of the forward transforms; the
// im2col path (Conv3x3) is the reference they are tested against.
//
//   inp    [n, h, w, cin]      weight [9·cin, cout] (as Conv3x3)      bias [cout] or nil      out [n, h, w, cout]
//   scratch [scratchCount(...)]
// Requires cin % 8 == 0 and cout % 8 == 0 (`supports`). Images are processed in slices of about `tileTarget` tiles so
// the transformed buffers stay small while the GEMMs stay large.

package enum Conv3x3Winograd {
    static let tileTarget = 1024

    package static func supports(cin: Int, cout: Int) -> Bool { cin % 8 == 0 && cout % 8 == 0 && cin > 0 && cout > 0 }

    static func sliceImages(n: Int, h: Int, w: Int) -> Int {
        let (th, tw) = WinogradF2x3.tiles(h: h, w: w)
        return max(1, min(n, tileTarget / max(1, th * tw)))
    }

    package static func scratchCount(n: Int, h: Int, w: Int, cin: Int, cout: Int) -> Int {
        let (th, tw) = WinogradF2x3.tiles(h: h, w: w)
        let tiles = sliceImages(n: n, h: h, w: w) * th * tw
        return 2 * 16 * cin * cout + 16 * tiles * (cin + cout) + max(cin, cout)
    }

    struct Buffers {
        var u, du, v, m, zero: UnsafeMutablePointer<Float>
        init(_ scratch: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int, cin: Int, cout: Int) {
            let (th, tw) = WinogradF2x3.tiles(h: h, w: w)
            let tiles = sliceImages(n: n, h: h, w: w) * th * tw
            u = scratch
            du = u + 16 * cin * cout
            v = du + 16 * cin * cout
            m = v + 16 * tiles * cin
            zero = m + 16 * tiles * cout
            zero.update(repeating: 0, count: max(cin, cout))
        }
    }

    /// Walks the images in slices of `sliceImages`: transforms each slice's input into buf.v, then calls
    /// body(first image, images in the slice, tiles in the slice).
    static func forEachSlice(_ buf: Buffers, inp: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, threads: Int,
                             path: KernelPath, _ body: (Int, Int, Int) -> Void) {
        let (th, tw) = WinogradF2x3.tiles(h: h, w: w)
        let slice = sliceImages(n: n, h: h, w: w)
        for b0 in stride(from: 0, to: n, by: slice) {
            let nb = min(slice, n - b0)
            WinogradF2x3.transformInput(image: inp + b0 * h * w * cin, n: nb, h: h, w: w, c: cin, v: buf.v, zero: buf.zero,
                                        threads: threads, path: path)
            body(b0, nb, nb * th * tw)
        }
    }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, h: Int, w: Int, cin: Int, cout: Int,
                               scratch: UnsafeMutablePointer<Float>, threads: Int = 1, path: KernelPath = .best) {
        let buf = Buffers(scratch, n: n, h: h, w: w, cin: cin, cout: cout)
        WinogradF2x3.transformWeights(weight: weight, cin: cin, cout: cout, u: buf.u, threads: threads, path: path)
        forEachSlice(buf, inp: inp, n: n, h: h, w: w, cin: cin, threads: threads, path: path) { b0, nb, tiles in
            for x in 0..<16 {
                matmul(m: tiles, n: cout, k: cin, a: buf.v + x * tiles * cin, lda: cin, b: buf.u + x * cin * cout, ldb: cout,
                      c: buf.m + x * tiles * cout, ldc: cout)
            }
            WinogradF2x3.transformOutput(m: buf.m, n: nb, h: h, w: w, c: cout, bias: bias, out: out + b0 * h * w * cout,
                                         zero: buf.zero, threads: threads, path: path)
        }
    }

    /// dweight += ∂/∂weight;  dbias += Σ dout;  dinp += ∂/∂inp (skipped when dinp is nil).
    package static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, cin: Int, cout: Int,
                                scratch: UnsafeMutablePointer<Float>, threads: Int = 1, path: KernelPath = .best) {
        let buf = Buffers(scratch, n: n, h: h, w: w, cin: cin, cout: cout)
        if let dbias { addColumnSums(dout, rows: n * h * w, cols: cout, into: dbias) }
        if dinp != nil { WinogradF2x3.transformWeights(weight: weight, cin: cin, cout: cout, u: buf.u, threads: threads, path: path) }
        buf.du.update(repeating: 0, count: 16 * cin * cout)
        forEachSlice(buf, inp: inp, n: n, h: h, w: w, cin: cin, threads: threads, path: path) { b0, nb, tiles in
            WinogradF2x3.transformOutputBackward(dout: dout + b0 * h * w * cout, n: nb, h: h, w: w, c: cout, dm: buf.m,
                                                 zero: buf.zero, threads: threads, path: path)
            for x in 0..<16 {
                matmul(transA: true, m: cin, n: cout, k: tiles, a: buf.v + x * tiles * cin, lda: cin,
                      b: buf.m + x * tiles * cout, ldb: cout, beta: 1, c: buf.du + x * cin * cout, ldc: cout)
            }
            if let dinp {
                for x in 0..<16 {
                    matmul(transB: true, m: tiles, n: cin, k: cout, a: buf.m + x * tiles * cout, lda: cout,
                          b: buf.u + x * cin * cout, ldb: cout, c: buf.v + x * tiles * cin, ldc: cin)
                }
                WinogradF2x3.transformInputBackward(dv: buf.v, n: nb, h: h, w: w, c: cin, image: dinp + b0 * h * w * cin,
                                                    threads: threads, path: path)
            }
        }
        WinogradF2x3.transformWeightsBackward(du: buf.du, cin: cin, cout: cout, dweight: dweight, threads: threads, path: path)
    }
}
