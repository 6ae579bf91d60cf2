// Winograd F(2×2, 3×3) transforms (Lavin & Gray 2015) for channels-last 3×3 convolutions with padding 1, and their
// adjoints for the backward pass. A 4×4 input tile d gives a 2×2 output tile y:
//   y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Aᵀ = [1 1 1 0; 0 1 −1 −1]
// The 16 products become 16 independent GEMMs over (tiles × cin) · (cin × cout).
//
// Layouts (ξ = 4·i + j indexes the 4×4 transformed tile; T = tiles in the batch slice):
//   image  [n, h, w, c]             tile t = (b·th + ty)·tw + tx covers rows 2ty−1 … 2ty+2 and columns 2tx−1 … 2tx+2
//   v, dv  [16, T, c]               transformed input tiles
//   m, dm  [16, T, cout]            products (before the output transform)
//   weight [9·cin, cout] (row (ky·3+kx)·cin + ci)      u, du [16, cin, cout]
// The transforms are C kernels (`dinoseg_wino_*_f32`, one build per instruction set, see KernelPath); here they are
// split across threads. Callers use them for c % 8 == 0 (and fall back to im2col otherwise); the im2col path
// (Conv3x3) is the reference the Winograd convolution is tested against.
import CKernels

package enum WinogradF2x3 {
    package static func tiles(h: Int, w: Int) -> (th: Int, tw: Int) { ((h + 1) / 2, (w + 1) / 2) }

    /// u = G g Gᵀ for every (ci, co). Input channels are split across threads.
    package static func transformWeights(weight: UnsafePointer<Float>, cin: Int, cout: Int, u: UnsafeMutablePointer<Float>,
                                        threads: Int = 1, path: KernelPath = .best) {
        Parallel.forRanges(cin, parts: threads) { cis in
            dinoseg_wino_weights_f32(path.rawValue, weight, cin, cout, u, cis.lowerBound, cis.upperBound)
        }
    }

    /// dweight += Gᵀ du G (the adjoint of transformWeights).
    package static func transformWeightsBackward(du: UnsafePointer<Float>, cin: Int, cout: Int, dweight: UnsafeMutablePointer<Float>,
                                                threads: Int = 1, path: KernelPath = .best) {
        Parallel.forRanges(cin, parts: threads) { cis in
            dinoseg_wino_weights_backward_f32(path.rawValue, du, cin, cout, dweight, cis.lowerBound, cis.upperBound)
        }
    }

    /// Splits the tiles of images [0, n) (T = n·th·tw) across `threads`: body(first tile, end tile) for each part.
    static func forTileRanges(n: Int, h: Int, w: Int, threads: Int, _ body: (Int, Int) -> Void) {
        let (th, tw) = tiles(h: h, w: w)
        Parallel.forRanges(n * th * tw, parts: threads) { range in body(range.lowerBound, range.upperBound) }
    }

    /// v = Bᵀ d B for every tile of images [0, n) (T = n·th·tw); `zero` holds c zeros for the padding.
    package static func transformInput(image: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                      v: UnsafeMutablePointer<Float>, zero: UnsafePointer<Float>, threads: Int,
                                      path: KernelPath = .best) {
        forTileRanges(n: n, h: h, w: w, threads: threads) { t0, t1 in
            dinoseg_wino_input_f32(path.rawValue, image, n, h, w, c, v, zero, t0, t1)
        }
    }

    /// image += B dv Bᵀ scattered back onto the pixels of every tile (the adjoint of transformInput). Tile rows of the
    /// same parity never share pixels, so even and odd tile rows run as two parallel passes.
    package static func transformInputBackward(dv: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                              image: UnsafeMutablePointer<Float>, threads: Int, path: KernelPath = .best) {
        let th = tiles(h: h, w: w).th
        for parity in 0..<2 {
            let rowsOfParity = (th - parity + 1) / 2
            Parallel.forRanges(n * rowsOfParity, parts: threads) { range in
                // padding pixels accumulate into a private sink that is thrown away
                let sink = UnsafeMutablePointer<Float>.allocate(capacity: c)
                sink.initialize(repeating: 0, count: c)
                defer { sink.deallocate() }
                dinoseg_wino_input_backward_f32(path.rawValue, dv, n, h, w, c, image, sink, parity,
                                                range.lowerBound, range.upperBound)
            }
        }
    }

    /// out = Aᵀ m A (+ bias) for every tile, cropped to the image.
    package static func transformOutput(m: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int, bias: UnsafePointer<Float>?,
                                       out: UnsafeMutablePointer<Float>, zero: UnsafePointer<Float>, threads: Int,
                                       path: KernelPath = .best) {
        let bias = bias ?? zero
        forTileRanges(n: n, h: h, w: w, threads: threads) { t0, t1 in
            dinoseg_wino_output_f32(path.rawValue, m, n, h, w, c, bias, out, t0, t1)
        }
    }

    /// dm = A dy Aᵀ for every tile (the adjoint of transformOutput; pixels outside the image contribute 0).
    package static func transformOutputBackward(dout: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                               dm: UnsafeMutablePointer<Float>, zero: UnsafePointer<Float>, threads: Int,
                                               path: KernelPath = .best) {
        forTileRanges(n: n, h: h, w: w, threads: threads) { t0, t1 in
            dinoseg_wino_output_backward_f32(path.rawValue, dout, n, h, w, c, dm, zero, t0, t1)
        }
    }
}
