import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegNN

/// im2col + GEMM 3×3 convolution against the direct reference, and col2im as the exact adjoint of im2col.
final class ConvKernelTests: XCTestCase {
    func testConv3x3GEMMMatchesDirect() {
        let cases: [(n: Int, h: Int, w: Int, cin: Int, cout: Int, threads: Int)] = [
            (1, 1, 1, 1, 1, 1), (2, 3, 5, 4, 6, 2), (1, 7, 7, 16, 8, 2), (3, 4, 2, 3, 5, 1), (1, 9, 6, 33, 17, 2),
        ]
        for (idx, t) in cases.enumerated() {
            var rng = SplitMix64(seed: 21, idx)
            let x = (0..<t.n * t.h * t.w * t.cin).map { _ in rng.nextFloat() * 2 - 1 }
            let wgt = (0..<9 * t.cin * t.cout).map { _ in rng.nextFloat() * 2 - 1 }
            var fast = [Float](repeating: 0, count: t.n * t.h * t.w * t.cout), ref = fast
            var scratch = [Float](repeating: 0, count: Conv3x3.scratchCount(h: t.h, w: t.w, cin: t.cin))
            Conv3x3.forward(out: &fast, inp: x, weight: wgt, bias: nil, n: t.n, h: t.h, w: t.w, cin: t.cin, cout: t.cout,
                            scratch: &scratch, threads: t.threads)
            let hw = t.h * t.w
            for b in 0..<t.n {
                x.withUnsafeBufferPointer { xp in ref.withUnsafeMutableBufferPointer { rp in
                    conv3x3Naive(image: xp.baseAddress! + b * hw * t.cin, h: t.h, w: t.w, cin: t.cin, weight: wgt, cout: t.cout,
                                 out: rp.baseAddress! + b * hw * t.cout) } }
            }
            assertClose(fast, ref, rtol: 0, atol: 1e-4 * Double(9 * t.cin), shape: [t.n, t.h, t.w, t.cout], seed: "21/\(idx)",
                        what: "conv3x3 im2col+GEMM vs direct, case \(t)")
        }
    }

    func testCol2imIsAdjointOfIm2col() {
        for (idx, (h, w, c)) in [(1, 1, 1), (3, 4, 2), (5, 5, 7), (2, 9, 3)].enumerated() {
            var rng = SplitMix64(seed: 22, idx)
            let x = (0..<h * w * c).map { _ in rng.nextFloat() * 2 - 1 }
            let y = (0..<h * w * 9 * c).map { _ in rng.nextFloat() * 2 - 1 }
            var cols = [Float](repeating: 0, count: y.count), back = [Float](repeating: 0, count: x.count)
            im2col3x3(image: x, h: h, w: w, c: c, cols: &cols, threads: 2)
            col2im3x3(cols: y, h: h, w: w, c: c, image: &back, threads: 2)
            let lhs = zip(cols, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "case \(idx) (\(h),\(w),\(c)), seed 22")
        }
    }

    /// Winograd F(2×2,3×3) forward, weight, bias and input gradients against the im2col path, including odd sizes
    /// (cropped tiles), channel counts that leave a scalar tail on wide vectors, batches split into several slices, on
    /// every kernel path this CPU runs.
    func testWinogradMatchesIm2col() {
        let cases: [(n: Int, h: Int, w: Int, cin: Int, cout: Int, threads: Int)] = [
            (1, 1, 1, 8, 8, 1), (2, 3, 5, 8, 16, 2), (1, 7, 7, 16, 8, 2), (3, 4, 2, 24, 8, 1), (1, 9, 6, 32, 16, 2),
            (7, 28, 28, 8, 16, 2), (2, 5, 6, 40, 24, 2),
        ]
        for (idx, t) in cases.enumerated() {
            var rng = SplitMix64(seed: 23, idx)
            func rand(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextFloat() * 2 - 1 } }
            let x = rand(t.n * t.h * t.w * t.cin), wgt = rand(9 * t.cin * t.cout), bias = rand(t.cout)
            let dy = rand(t.n * t.h * t.w * t.cout)
            var scratchD = [Float](repeating: 0, count: Conv3x3.scratchCount(h: t.h, w: t.w, cin: t.cin))
            var yD = [Float](repeating: 0, count: dy.count)
            Conv3x3.forward(out: &yD, inp: x, weight: wgt, bias: bias, n: t.n, h: t.h, w: t.w, cin: t.cin, cout: t.cout,
                            scratch: &scratchD, threads: t.threads)
            var dxD = [Float](repeating: 0.5, count: x.count)      // nonzero: backward must accumulate
            var dwD = [Float](repeating: 0.25, count: wgt.count)
            var dbD = [Float](repeating: 0, count: t.cout)
            Conv3x3.backward(dinp: &dxD, dweight: &dwD, dbias: &dbD, dout: dy, inp: x, weight: wgt, n: t.n, h: t.h, w: t.w,
                             cin: t.cin, cout: t.cout, scratch: &scratchD, threads: t.threads)
            for path in KernelPath.supported {
                var scratchW = [Float](repeating: 0, count: Conv3x3Winograd.scratchCount(n: t.n, h: t.h, w: t.w, cin: t.cin, cout: t.cout))
                var yW = [Float](repeating: 0, count: dy.count)
                Conv3x3Winograd.forward(out: &yW, inp: x, weight: wgt, bias: bias, n: t.n, h: t.h, w: t.w, cin: t.cin, cout: t.cout,
                                        scratch: &scratchW, threads: t.threads, path: path)
                var dxW = [Float](repeating: 0.5, count: x.count), dwW = [Float](repeating: 0.25, count: wgt.count)
                var dbW = [Float](repeating: 0, count: t.cout)
                Conv3x3Winograd.backward(dinp: &dxW, dweight: &dwW, dbias: &dbW, dout: dy, inp: x, weight: wgt, n: t.n, h: t.h,
                                         w: t.w, cin: t.cin, cout: t.cout, scratch: &scratchW, threads: t.threads, path: path)
                for (what, a, b) in [("output", yW, yD), ("dinp", dxW, dxD), ("dweight", dwW, dwD), ("dbias", dbW, dbD)] {
assertClose(a, b, rtol: 1e-5, relativeTo: .maxExpected, seed: 23, what: "Winograd \(path) case \(idx) \(t): \(what)")
                }
            }
        }
    }
}
