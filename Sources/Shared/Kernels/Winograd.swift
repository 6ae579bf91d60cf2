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
// The SIMD paths need c % 8 == 0 (callers fall back to im2col otherwise).

public typealias WinogradVector = SIMD8<Float>

@inline(__always) func wLoad(_ p: UnsafePointer<Float>) -> WinogradVector {
    UnsafeRawPointer(p).loadUnaligned(as: WinogradVector.self)
}
@inline(__always) func wStore(_ v: WinogradVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: WinogradVector.self)
}
/// Bᵀ applied to a column of 4.
@inline(__always) func wBt(_ d0: WinogradVector, _ d1: WinogradVector, _ d2: WinogradVector, _ d3: WinogradVector)
    -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector) { (d0 - d2, d1 + d2, d2 - d1, d1 - d3) }
/// (Bᵀ)ᵀ = B: the adjoint of wBt.
@inline(__always) func wB(_ t0: WinogradVector, _ t1: WinogradVector, _ t2: WinogradVector, _ t3: WinogradVector)
    -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector) { (t0, t1 - t2 + t3, t1 + t2 - t0, -t3) }
/// Aᵀ applied to a column of 4.
@inline(__always) func wAt(_ m0: WinogradVector, _ m1: WinogradVector, _ m2: WinogradVector, _ m3: WinogradVector)
    -> (WinogradVector, WinogradVector) { (m0 + m1 + m2, m1 - m2 - m3) }
/// A: the adjoint of wAt.
@inline(__always) func wA(_ y0: WinogradVector, _ y1: WinogradVector)
    -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector) { (y0, y0 + y1, y0 - y1, -y1) }

public enum WinogradF2x3 {
    public static func tiles(h: Int, w: Int) -> (th: Int, tw: Int) { ((h + 1) / 2, (w + 1) / 2) }

    /// u = G g Gᵀ for every (ci, co); cout % 8 == 0. Input channels are split across threads.
    public static func transformWeights(weight: UnsafePointer<Float>, cin: Int, cout: Int, u: UnsafeMutablePointer<Float>,
                                        threads: Int = 1) {
        let plane = cin * cout, tap = cin * cout   // tap t of (ci, co) is weight[t·tap + ci·cout + co]
        let half = WinogradVector(repeating: 0.5)
        Parallel.forRanges(cin, parts: threads) { cis in
            for ci in cis {
                let g = weight + ci * cout, o = u + ci * cout
                var co = 0
                while co < cout {
                    let p = g + co
                    let g00 = wLoad(p), g01 = wLoad(p + tap), g02 = wLoad(p + 2 * tap)
                    let g10 = wLoad(p + 3 * tap), g11 = wLoad(p + 4 * tap), g12 = wLoad(p + 5 * tap)
                    let g20 = wLoad(p + 6 * tap), g21 = wLoad(p + 7 * tap), g22 = wLoad(p + 8 * tap)
                    // G g: 4 rows × 3 columns
                    let r10 = half * (g00 + g10 + g20), r11 = half * (g01 + g11 + g21), r12 = half * (g02 + g12 + g22)
                    let r20 = half * (g00 - g10 + g20), r21 = half * (g01 - g11 + g21), r22 = half * (g02 - g12 + g22)
                    @inline(__always) func row(_ i: Int, _ a: WinogradVector, _ b: WinogradVector, _ c: WinogradVector) {
                        let q = o + co + i * 4 * plane
                        wStore(a, q)
                        wStore(half * (a + b + c), q + plane)
                        wStore(half * (a - b + c), q + 2 * plane)
                        wStore(c, q + 3 * plane)
                    }
                    row(0, g00, g01, g02); row(1, r10, r11, r12); row(2, r20, r21, r22); row(3, g20, g21, g22)
                    co += 8
                }
            }
        }
    }

    /// dweight += Gᵀ du G (the adjoint of transformWeights); cout % 8 == 0.
    public static func transformWeightsBackward(du: UnsafePointer<Float>, cin: Int, cout: Int, dweight: UnsafeMutablePointer<Float>,
                                                threads: Int = 1) {
        let plane = cin * cout, tap = cin * cout
        let half = WinogradVector(repeating: 0.5)
        Parallel.forRanges(cin, parts: threads) { cis in
            for ci in cis {
                let d = du + ci * cout, g = dweight + ci * cout
                var co = 0
                while co < cout {
                    // adjoint along j for each row i: (d0, d1, d2, d3) → (d0 + ½(d1+d2), ½(d1−d2), ½(d1+d2) + d3)
                    @inline(__always) func rowAdj(_ i: Int) -> (WinogradVector, WinogradVector, WinogradVector) {
                        let q = d + co + i * 4 * plane
                        let d0 = wLoad(q), d1 = wLoad(q + plane), d2 = wLoad(q + 2 * plane), d3 = wLoad(q + 3 * plane)
                        let s = half * (d1 + d2)
                        return (d0 + s, half * (d1 - d2), s + d3)
                    }
                    let a = rowAdj(0), b = rowAdj(1), c = rowAdj(2), e = rowAdj(3)
                    // adjoint along i: row 0 ← a + ½(b + c); row 1 ← ½(b − c); row 2 ← ½(b + c) + e
                    @inline(__always) func add(_ t: Int, _ v: WinogradVector) { let q = g + co + t * tap; wStore(wLoad(q) + v, q) }
                    add(0, a.0 + half * (b.0 + c.0)); add(1, a.1 + half * (b.1 + c.1)); add(2, a.2 + half * (b.2 + c.2))
                    add(3, half * (b.0 - c.0)); add(4, half * (b.1 - c.1)); add(5, half * (b.2 - c.2))
                    add(6, half * (b.0 + c.0) + e.0); add(7, half * (b.1 + c.1) + e.1); add(8, half * (b.2 + c.2) + e.2)
                    co += 8
                }
            }
        }
    }

    /// v = Bᵀ d B for every tile of images [0, n) (T = n·th·tw); `zero` holds c zeros for the padding.
    public static func transformInput(image: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                      v: UnsafeMutablePointer<Float>, zero: UnsafePointer<Float>, threads: Int) {
        let (th, tw) = tiles(h: h, w: w), total = n * th * tw
        Parallel.forRanges(total, parts: threads) { range in
            var src = [UnsafePointer<Float>](repeating: zero, count: 16)
            for t in range {
                let b = t / (th * tw), ty = (t / tw) % th, tx = t % tw
                for i in 0..<4 {
                    let y = 2 * ty - 1 + i
                    for j in 0..<4 {
                        let x = 2 * tx - 1 + j
                        src[i * 4 + j] = (y >= 0 && y < h && x >= 0 && x < w) ? image + ((b * h + y) * w + x) * c : zero
                    }
                }
                let dst = v + t * c, stride = total * c
                var k = 0
                while k < c {
                    let d00 = wLoad(src[0] + k), d01 = wLoad(src[1] + k), d02 = wLoad(src[2] + k), d03 = wLoad(src[3] + k)
                    let d10 = wLoad(src[4] + k), d11 = wLoad(src[5] + k), d12 = wLoad(src[6] + k), d13 = wLoad(src[7] + k)
                    let d20 = wLoad(src[8] + k), d21 = wLoad(src[9] + k), d22 = wLoad(src[10] + k), d23 = wLoad(src[11] + k)
                    let d30 = wLoad(src[12] + k), d31 = wLoad(src[13] + k), d32 = wLoad(src[14] + k), d33 = wLoad(src[15] + k)
                    let (t00, t10, t20, t30) = wBt(d00, d10, d20, d30)
                    let (t01, t11, t21, t31) = wBt(d01, d11, d21, d31)
                    let (t02, t12, t22, t32) = wBt(d02, d12, d22, d32)
                    let (t03, t13, t23, t33) = wBt(d03, d13, d23, d33)
                    let (v00, v01, v02, v03) = wBt(t00, t01, t02, t03)
                    let (v10, v11, v12, v13) = wBt(t10, t11, t12, t13)
                    let (v20, v21, v22, v23) = wBt(t20, t21, t22, t23)
                    let (v30, v31, v32, v33) = wBt(t30, t31, t32, t33)
                    let o = dst + k
                    wStore(v00, o); wStore(v01, o + stride); wStore(v02, o + 2 * stride); wStore(v03, o + 3 * stride)
                    wStore(v10, o + 4 * stride); wStore(v11, o + 5 * stride); wStore(v12, o + 6 * stride); wStore(v13, o + 7 * stride)
                    wStore(v20, o + 8 * stride); wStore(v21, o + 9 * stride); wStore(v22, o + 10 * stride); wStore(v23, o + 11 * stride)
                    wStore(v30, o + 12 * stride); wStore(v31, o + 13 * stride); wStore(v32, o + 14 * stride); wStore(v33, o + 15 * stride)
                    k += 8
                }
            }
        }
    }

    /// image += B dv Bᵀ scattered back onto the pixels of every tile (the adjoint of transformInput). Tile rows of the
    /// same parity never share pixels, so even and odd tile rows run as two parallel passes.
    public static func transformInputBackward(dv: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                              image: UnsafeMutablePointer<Float>, threads: Int) {
        let (th, tw) = tiles(h: h, w: w), total = n * th * tw, stride = total * c
        for parity in 0..<2 {
            let rowsOfParity = (th - parity + 1) / 2
            Parallel.forRanges(n * rowsOfParity, parts: threads) { range in
                // padding pixels accumulate into a private sink that is thrown away
                let sink = UnsafeMutablePointer<Float>.allocate(capacity: c)
                sink.initialize(repeating: 0, count: c)
                defer { sink.deallocate() }
                var dst = [UnsafeMutablePointer<Float>](repeating: sink, count: 16)
                for r in range {
                    let b = r / rowsOfParity, ty = 2 * (r % rowsOfParity) + parity
                    for tx in 0..<tw {
                        let t = (b * th + ty) * tw + tx
                        for i in 0..<4 {
                            let y = 2 * ty - 1 + i
                            for j in 0..<4 {
                                let x = 2 * tx - 1 + j
                                let ok = y >= 0 && y < h && x >= 0 && x < w
                                dst[i * 4 + j] = ok ? image + ((b * h + y) * w + x) * c : sink
                            }
                        }
                        let src = dv + t * c
                        var k = 0
                        while k < c {
                            let s = src + k
                            let v00 = wLoad(s), v01 = wLoad(s + stride), v02 = wLoad(s + 2 * stride), v03 = wLoad(s + 3 * stride)
                            let v10 = wLoad(s + 4 * stride), v11 = wLoad(s + 5 * stride), v12 = wLoad(s + 6 * stride), v13 = wLoad(s + 7 * stride)
                            let v20 = wLoad(s + 8 * stride), v21 = wLoad(s + 9 * stride), v22 = wLoad(s + 10 * stride), v23 = wLoad(s + 11 * stride)
                            let v30 = wLoad(s + 12 * stride), v31 = wLoad(s + 13 * stride), v32 = wLoad(s + 14 * stride), v33 = wLoad(s + 15 * stride)
                            // adjoint along j (rows), then along i (columns)
                            let (t00, t01, t02, t03) = wB(v00, v01, v02, v03)
                            let (t10, t11, t12, t13) = wB(v10, v11, v12, v13)
                            let (t20, t21, t22, t23) = wB(v20, v21, v22, v23)
                            let (t30, t31, t32, t33) = wB(v30, v31, v32, v33)
                            let (d00, d10, d20, d30) = wB(t00, t10, t20, t30)
                            let (d01, d11, d21, d31) = wB(t01, t11, t21, t31)
                            let (d02, d12, d22, d32) = wB(t02, t12, t22, t32)
                            let (d03, d13, d23, d33) = wB(t03, t13, t23, t33)
                            @inline(__always) func add(_ idx: Int, _ v: WinogradVector) {
                                let p = dst[idx] + k; wStore(wLoad(p) + v, p)
                            }
                            add(0, d00); add(1, d01); add(2, d02); add(3, d03)
                            add(4, d10); add(5, d11); add(6, d12); add(7, d13)
                            add(8, d20); add(9, d21); add(10, d22); add(11, d23)
                            add(12, d30); add(13, d31); add(14, d32); add(15, d33)
                            k += 8
                        }
                    }
                }
            }
        }
    }

    /// out = Aᵀ m A (+ bias) for every tile, cropped to the image.
    public static func transformOutput(m: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int, bias: UnsafePointer<Float>?,
                                       out: UnsafeMutablePointer<Float>, zero: UnsafePointer<Float>, threads: Int) {
        let (th, tw) = tiles(h: h, w: w), total = n * th * tw, stride = total * c
        let bias = bias ?? zero
        Parallel.forRanges(total, parts: threads) { range in
            for t in range {
                let b = t / (th * tw), ty = (t / tw) % th, tx = t % tw
                let y0 = 2 * ty, x0 = 2 * tx
                let hasY1 = y0 + 1 < h, hasX1 = x0 + 1 < w
                let o00 = out + ((b * h + y0) * w + x0) * c
                let src = m + t * c
                var k = 0
                while k < c {
                    let s = src + k
                    let m00 = wLoad(s), m01 = wLoad(s + stride), m02 = wLoad(s + 2 * stride), m03 = wLoad(s + 3 * stride)
                    let m10 = wLoad(s + 4 * stride), m11 = wLoad(s + 5 * stride), m12 = wLoad(s + 6 * stride), m13 = wLoad(s + 7 * stride)
                    let m20 = wLoad(s + 8 * stride), m21 = wLoad(s + 9 * stride), m22 = wLoad(s + 10 * stride), m23 = wLoad(s + 11 * stride)
                    let m30 = wLoad(s + 12 * stride), m31 = wLoad(s + 13 * stride), m32 = wLoad(s + 14 * stride), m33 = wLoad(s + 15 * stride)
                    let (s00, s10) = wAt(m00, m10, m20, m30)
                    let (s01, s11) = wAt(m01, m11, m21, m31)
                    let (s02, s12) = wAt(m02, m12, m22, m32)
                    let (s03, s13) = wAt(m03, m13, m23, m33)
                    let (y00, y01) = wAt(s00, s01, s02, s03)
                    let (y10, y11) = wAt(s10, s11, s12, s13)
                    let bv = wLoad(bias + k)
                    wStore(y00 + bv, o00 + k)
                    if hasX1 { wStore(y01 + bv, o00 + c + k) }
                    if hasY1 {
                        wStore(y10 + bv, o00 + w * c + k)
                        if hasX1 { wStore(y11 + bv, o00 + w * c + c + k) }
                    }
                    k += 8
                }
            }
        }
    }

    /// dm = A dy Aᵀ for every tile (the adjoint of transformOutput; pixels outside the image contribute 0).
    public static func transformOutputBackward(dout: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                               dm: UnsafeMutablePointer<Float>, zero: UnsafePointer<Float>, threads: Int) {
        let (th, tw) = tiles(h: h, w: w), total = n * th * tw, stride = total * c
        Parallel.forRanges(total, parts: threads) { range in
            for t in range {
                let b = t / (th * tw), ty = (t / tw) % th, tx = t % tw
                let y0 = 2 * ty, x0 = 2 * tx
                let p00 = dout + ((b * h + y0) * w + x0) * c
                let p01 = x0 + 1 < w ? p00 + c : zero
                let p10 = y0 + 1 < h ? p00 + w * c : zero
                let p11 = (x0 + 1 < w && y0 + 1 < h) ? p00 + w * c + c : zero
                let dst = dm + t * c
                var k = 0
                while k < c {
                    let y00 = wLoad(p00 + k), y01 = wLoad(p01 + k), y10 = wLoad(p10 + k), y11 = wLoad(p11 + k)
                    let (e00, e01, e02, e03) = wA(y00, y01)
                    let (e10, e11, e12, e13) = wA(y10, y11)
                    let (m00, m10, m20, m30) = wA(e00, e10)
                    let (m01, m11, m21, m31) = wA(e01, e11)
                    let (m02, m12, m22, m32) = wA(e02, e12)
                    let (m03, m13, m23, m33) = wA(e03, e13)
                    let o = dst + k
                    wStore(m00, o); wStore(m01, o + stride); wStore(m02, o + 2 * stride); wStore(m03, o + 3 * stride)
                    wStore(m10, o + 4 * stride); wStore(m11, o + 5 * stride); wStore(m12, o + 6 * stride); wStore(m13, o + 7 * stride)
                    wStore(m20, o + 8 * stride); wStore(m21, o + 9 * stride); wStore(m22, o + 10 * stride); wStore(m23, o + 11 * stride)
                    wStore(m30, o + 12 * stride); wStore(m31, o + 13 * stride); wStore(m32, o + 14 * stride); wStore(m33, o + 15 * stride)
                    k += 8
                }
            }
        }
    }
}
