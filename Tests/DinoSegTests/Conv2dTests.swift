import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegNN

/// The im2col + GEMM convolution against the direct Double-accumulating reference, over the geometries the ResNet
/// uses (strided and dilated 3×3, 7×7 stem, strided 1×1), and max-pool / align-corners resize against hand values.
final class Conv2dTests: XCTestCase {
    func testConv2dMatchesNaiveReference() {
        let table: [(name: String, g: ConvGeometry, h: Int, w: Int, cin: Int, cout: Int)] = [
            ("3x3 s2 p1", ConvGeometry(kernel: 3, stride: 2, pad: 1), 13, 10, 5, 7),
            ("3x3 d2 p2", ConvGeometry(kernel: 3, pad: 2, dilation: 2), 9, 11, 4, 6),
            ("3x3 d4 p4", ConvGeometry(kernel: 3, pad: 4, dilation: 4), 6, 5, 3, 5),
            ("7x7 s2 p3", ConvGeometry(kernel: 7, stride: 2, pad: 3), 15, 12, 3, 8),
            ("1x1 s2", ConvGeometry(kernel: 1, stride: 2), 9, 8, 6, 4),
            ("1x1", ConvGeometry(kernel: 1), 5, 4, 6, 4),
        ]
        var rng = SplitMix64(seed: 31)
        for t in table {
            let n = 2, oh = t.g.outSize(t.h), ow = t.g.outSize(t.w)
            let inp = LayerGradientTests.random(n * t.h * t.w * t.cin, &rng)
            let weight = LayerGradientTests.random(t.g.taps * t.cin * t.cout, &rng)
            var out = [Float](repeating: 0, count: n * oh * ow * t.cout), ref = out
            var scratch = [Float](repeating: 0, count: max(1, Conv2d.scratchCount(h: t.h, w: t.w, cin: t.cin, geometry: t.g)))
            Conv2d.forward(out: &out, inp: inp, weight: weight, bias: nil, n: n, h: t.h, w: t.w, cin: t.cin, cout: t.cout,
                           geometry: t.g, scratch: &scratch, threads: 2)
            for b in 0..<n {
                inp.withUnsafeBufferPointer { i in ref.withUnsafeMutableBufferPointer { r in
                    conv2dNaive(image: i.baseAddress! + b * t.h * t.w * t.cin, h: t.h, w: t.w, cin: t.cin, geometry: t.g,
                                weight: weight, cout: t.cout, out: r.baseAddress! + b * oh * ow * t.cout)
                } }
            }
            let (err, at) = zip(out, ref).enumerated().map { (abs($1.0 - $1.1), $0) }.max { $0.0 < $1.0 }!
            XCTAssertLessThan(err, 1e-5, "conv2d \(t.name) (seed 31): largest |gemm − naive| \(err) at \(at): \(out[at]) vs \(ref[at])")
        }
    }

    func testMaxPoolPadsWithMinusInfinity() {
        // 1 image 3×3, one channel, all negative: padding must never win.
        let inp: [Float] = [-1, -5, -3,
                            -2, -4, -6,
                            -7, -8, -9]
        var out = [Float](repeating: 0, count: 4), argmax = [Int32](repeating: 0, count: 4)
        MaxPool2d.forward(out: &out, argmax: &argmax, inp: inp, n: 1, h: 3, w: 3, c: 1)
        XCTAssertEqual(out, [-1, -3, -2, -4], "maxpool 3x3 s2 p1 of a 3×3 map: got \(out)")
        XCTAssertEqual(argmax, [0, 2, 3, 4], "maxpool argmax: got \(argmax)")
    }

    func testAlignCornersResizeKeepsTheCornersAndInterpolatesLinearly() {
        // 1×2 → 1×5 with align_corners: 0, 0.25, 0.5, 0.75, 1 of the way from a to b.
        var out = [Float](repeating: 0, count: 5)
        BilinearResizeAlignCorners.forward(out: &out, inp: [2, 6], n: 1, inH: 1, inW: 2, c: 1, outH: 1, outW: 5)
        XCTAssertEqual(out, [2, 3, 4, 5, 6], "align-corners resize 2 → 5: got \(out)")
    }
}
