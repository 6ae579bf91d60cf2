import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels

/// Fast backbone kernels against their naive references on random shapes, odd sizes included, on every kernel path
/// this CPU runs (KernelPath.supported).
final class BackboneKernelTests: XCTestCase {
    private func randomArray(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
    }

    func testPatchConvMatchesDirectConvolution() {
        // (height, width, inChannels, outChannels, patch)
        let cases = [(64, 96, 3, 16, 4), (13, 11, 3, 5, 4), (9, 7, 17, 24, 2), (2, 2, 1, 1, 2), (30, 23, 8, 9, 2)]
        for (n, (h, w, cin, cout, p)) in cases.enumerated() {
            var rng = SplitMix64(seed: 11, n)
            let input = randomArray(h * w * cin, &rng), weight = randomArray(cout * cin * p * p, &rng), bias = randomArray(cout, &rng)
            let rows = (h / p) * (w / p)
            var fast = [Float](repeating: .nan, count: rows * cout), ref = fast
            var patches = [Float](repeating: 0, count: max(1, rows * p * p * cin))
            let packed = packPatchConvWeight(weight, outChannels: cout, inChannels: cin, patch: p)
            patchConv(input: input, height: h, width: w, inChannels: cin, patch: p, weight: packed, bias: bias,
                      outChannels: cout, output: &fast, patches: &patches)
            patchConvNaive(input: input, height: h, width: w, inChannels: cin, patch: p, weightOIHW: weight, bias: bias,
                           outChannels: cout, output: &ref)
            assertClose(fast, ref, rtol: 1e-5, relativeTo: .maxExpected, shape: [h / p, w / p, cout], seed: "11/\(n)",
                        what: "patchConv (h, w, cin, cout, patch) \((h, w, cin, cout, p))")
        }
    }

    func testDepthwiseConv7x7MatchesNaive() {
        // (height, width, channels): vector and scalar channel paths, widths not multiple of 4, maps smaller than the kernel.
        let cases = [(16, 24, 16), (7, 9, 13), (1, 1, 8), (2, 3, 5), (5, 13, 24), (14, 14, 96), (3, 6, 1), (8, 11, 40)]
        for (n, (h, w, c)) in cases.enumerated() {
            var rng = SplitMix64(seed: 22, n)
            let input = randomArray(h * w * c, &rng), weight = randomArray(c * 49, &rng), bias = randomArray(c, &rng)
            var ref = [Float](repeating: .nan, count: h * w * c)
            depthwiseConv7x7Naive(input: input, height: h, width: w, channels: c, weightC177: weight, bias: bias, output: &ref)
            for path in KernelPath.supported {
                var fast = [Float](repeating: .nan, count: h * w * c)
                var padded = [Float](repeating: .nan, count: depthwisePaddedCount(height: h, width: w, channels: c))
                depthwiseConv7x7(input: input, height: h, width: w, channels: c, weight: packDepthwiseWeight(weight, channels: c),
                                 bias: bias, output: &fast, padded: &padded, path: path)
                assertClose(fast, ref, rtol: 1e-5, relativeTo: .maxExpected, shape: [h, w, c], seed: "22/\(n)",
                            what: "depthwise 7x7 \(path) (h, w, c) \((h, w, c))")
            }
        }
    }

    func testLayerNormRowsMatchesNaive() {
        let cases = [(1, 16), (7, 13), (33, 96), (5, 1), (4, 771), (3, 40)]
        for (n, (rows, c)) in cases.enumerated() {
            var rng = SplitMix64(seed: 33, n)
            let input = randomArray(rows * c, &rng, scale: 3).map { $0 + 5 }  // offset mean exercises the two-pass variance
            let weight = randomArray(c, &rng), bias = randomArray(c, &rng)
            var ref = [Float](repeating: .nan, count: rows * c)
            layerNormRowsNaive(input: input, rows: rows, channels: c, weight: weight, bias: bias, eps: 1e-6, output: &ref)
            for path in KernelPath.supported {
                var fast = [Float](repeating: .nan, count: rows * c)
                layerNormRows(input: input, rows: rows, channels: c, weight: weight, bias: bias, eps: 1e-6, output: &fast, path: path)
                assertClose(fast, ref, rtol: 2e-6, relativeTo: .maxExpected, shape: [rows, c], seed: "33/\(n)",
                            what: "layerNorm \(path) (rows, c) \((rows, c))")
            }
        }
        // In place gives the same result.
        var rng = SplitMix64(seed: 34)
        let x = randomArray(6 * 24, &rng)
        let w = randomArray(24, &rng), b = randomArray(24, &rng)
        var ref = x
        layerNormRowsNaive(input: x, rows: 6, channels: 24, weight: w, bias: b, eps: 1e-6, output: &ref)
        for path in KernelPath.supported {
            var y = x
            y.withUnsafeMutableBufferPointer { p in
                layerNormRows(input: p.baseAddress!, rows: 6, channels: 24, weight: w, bias: b, eps: 1e-6, output: p.baseAddress!,
                              path: path)
            }
            assertClose(y, ref, rtol: 2e-6, relativeTo: .maxExpected, shape: [6, 24], seed: 34, what: "layerNorm \(path) in place")
        }
    }

    func testErfApproximationAccuracy() {
        // 200 001 points (odd: the last ones take the scalar tail, which must match the vector code).
        let xs = (0...200_000).map { Float(-5 + 10 * Double($0) / 200_000) }
        for path in KernelPath.supported {
            var ys = [Float](repeating: .nan, count: xs.count)
            erfApprox(xs, count: xs.count, output: &ys, path: path)
            assertClose(ys, xs.map { erf(Double($0)) }, rtol: 5e-7, seed: nil, what: "erf \(path) on a grid of [−5, 5]")
            let tail = xs.count - 3
            XCTAssertEqual(Array(ys[tail...]), xs[tail...].map { erfApprox($0, path: path) }, "erf \(path) scalar tail")
            XCTAssertEqual(erfApprox(10, path: path), 1); XCTAssertEqual(erfApprox(-10, path: path), -1)
            XCTAssertEqual(erfApprox(0, path: path), 0)
        }
    }

    func testBiasGELUMatchesNaive() {
        let cases = [(3, 64), (5, 13), (1, 1), (9, 384), (2, 40)]
        for (n, (rows, cols)) in cases.enumerated() {
            var rng = SplitMix64(seed: 44, n)
            let x = randomArray(rows * cols, &rng, scale: 6), bias = randomArray(cols, &rng)
            var ref = x
            biasGELUNaive(&ref, rows: rows, columns: cols, bias: bias)
            for path in KernelPath.supported {
                var fast = x
                biasGELU(&fast, rows: rows, columns: cols, bias: bias, path: path)
                // Absolute error relative to the input scale (element-wise relative error is meaningless near 0).
                let scale = max(1, x.map { abs($0) }.max()!)
assertClose(fast, ref, rtol: 0, atol: 3e-7 * Double(scale), shape: [rows, cols], seed: "44/\(n)",
                            what: "bias+GELU \(path) (rows, cols) \((rows, cols))")
            }
        }
        // GELU(x) values that pin the exact (erf) form rather than the tanh one: gelu(1) = 0.8413447, tanh form 0.8411920.
        for path in KernelPath.supported {
            var one: [Float] = [1, -1, 3]
            biasGELU(&one, rows: 1, columns: 3, bias: [0, 0, 0], path: path)
            XCTAssertEqual(one[0], 0.84134475, accuracy: 2e-7, "\(path)")
            XCTAssertEqual(one[1], -0.15865525, accuracy: 2e-7, "\(path)")
            XCTAssertEqual(one[2], 2.9959502, accuracy: 5e-7, "\(path)")
        }
    }

    func testScaledResidualMatchesNaive() {
        let cases = [(4, 16), (3, 13), (1, 1), (2, 40)]
        for (n, (rows, c)) in cases.enumerated() {
            var rng = SplitMix64(seed: 55, n)
            let x = randomArray(rows * c, &rng), u = randomArray(rows * c, &rng)
            let b = randomArray(c, &rng), g = randomArray(c, &rng)
            var ref = x
            addScaledResidualNaive(&ref, update: u, rows: rows, channels: c, bias: b, gamma: g)
            for path in KernelPath.supported {
                var fast = x
                addScaledResidual(&fast, update: u, rows: rows, channels: c, bias: b, gamma: g, path: path)
                assertClose(fast, ref, rtol: 1e-6, relativeTo: .maxExpected, shape: [rows, c], seed: "55/\(n)",
                            what: "scaled residual \(path) (rows, c) \((rows, c))")
            }
        }
    }

    func testSHA256KnownVectors() throws {
        XCTAssertEqual(SHA256.hex(of: Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven pieces to exercise the buffering; also through a file.
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        var s = SHA256()
        var i = 0, step = 1
        while i < million.count { let j = min(million.count, i + step); s.update(million[i..<j]); i = j; step = step * 3 % 1001 + 1 }
        XCTAssertEqual(s.finalizeHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let path = try tempDir("sha") + "/million-a"
        try million.write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try SHA256.hex(ofFile: path), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        XCTAssertThrowsError(try SHA256.hex(ofFile: path + ".missing"))
    }
}
