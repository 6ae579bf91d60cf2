import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegNN

/// oneDNN's convolutions (Conv2d.Route.oneDNN) against the im2col + GEMM reference (Conv2d.Route.im2col) over a table
/// of geometries: forward (with and without bias), backward data and backward weights, both accumulating into
/// gradients that already hold values. fp32 compares with the BLAS path; bf16 (inputs rounded to bf16 ties-to-even,
/// f32 accumulation) compares with the emulated engine (.roundedBLAS), which rounds the same inputs the same way. The
/// products are then exact in f32 on both sides, so they differ only in the order of the f32 additions: for an output
/// that sums K terms (plus the value accumulated into), each side is within γ_K·S of the exact sum, where
/// S = Σ|terms| (computed by the reference on absolute values) and γ_K = K·u/(1 − K·u), u = 2⁻²⁴; the two sides are
/// held to 2·γ_K·S. Winograd also rounds in its transforms, which mix the outputs of a tile: its outputs get a further
/// 256·u·max S over the pass (the largest seen over the table and random geometries was about 40·u·max S; relative to
/// an output's own S it can be far larger where few terms meet, at the corners of an unpadded map).
final class OneDNNConvTests: XCTestCase {
    struct Geometry {
        var name: String
        var g: ConvGeometry
        var h: Int, w: Int, cin: Int, cout: Int
        var bias: Bool
    }

    static let table: [Geometry] = [
        Geometry(name: "1x1", g: ConvGeometry(kernel: 1), h: 6, w: 5, cin: 5, cout: 7, bias: true),
        Geometry(name: "1x1 s2 odd", g: ConvGeometry(kernel: 1, stride: 2), h: 9, w: 8, cin: 6, cout: 17, bias: false),
        Geometry(name: "3x3 p1", g: ConvGeometry(kernel: 3, pad: 1), h: 7, w: 9, cin: 17, cout: 19, bias: true),
        Geometry(name: "3x3 p1 c16", g: ConvGeometry(kernel: 3, pad: 1), h: 8, w: 6, cin: 16, cout: 32, bias: false),
        Geometry(name: "3x3 s2 p1 cin3", g: ConvGeometry(kernel: 3, stride: 2, pad: 1), h: 13, w: 10, cin: 3, cout: 20,
                 bias: false),
        Geometry(name: "3x3 s2 p0 floor", g: ConvGeometry(kernel: 3, stride: 2), h: 10, w: 9, cin: 7, cout: 5, bias: true),
        Geometry(name: "3x3 p0", g: ConvGeometry(kernel: 3), h: 8, w: 7, cin: 12, cout: 9, bias: false),
        Geometry(name: "3x3 d2 p2", g: ConvGeometry(kernel: 3, pad: 2, dilation: 2), h: 9, w: 11, cin: 18, cout: 33,
                 bias: false),
        Geometry(name: "3x3 d4 p4 small map", g: ConvGeometry(kernel: 3, pad: 4, dilation: 4), h: 6, w: 5, cin: 20,
                 cout: 12, bias: true),
        Geometry(name: "3x3 s2 d2 p2", g: ConvGeometry(kernel: 3, stride: 2, pad: 2, dilation: 2), h: 11, w: 10, cin: 9,
                 cout: 10, bias: false),
        Geometry(name: "7x7 s2 p3", g: ConvGeometry(kernel: 7, stride: 2, pad: 3), h: 15, w: 12, cin: 3, cout: 8,
                 bias: true),
        Geometry(name: "7x7 p3 d2", g: ConvGeometry(kernel: 7, pad: 3, dilation: 2), h: 12, w: 13, cin: 5, cout: 6,
                 bias: false),
    ]

    /// The largest |x − y| / bound over the outputs, where it is, and the two values there.
    private static func worst(_ x: [Float], _ y: [Float], bound: [Float]) -> (ratio: Float, at: Int) {
        var best: (Float, Int) = (0, 0)
        for i in x.indices {
            let r = abs(x[i] - y[i]) / max(bound[i], Float.leastNormalMagnitude)
            if r > best.0 || (r.isNaN && !best.0.isNaN) { best = (r, i) }
        }
        return best
    }

    private static func gamma(_ k: Int) -> Float {
        let ku = Double(k) * 0x1p-24
        return Float(ku / (1 - ku))
    }

    /// Runs forward, backward data and backward weights of every geometry by `route` under `engine`, and by im2col
    /// under `reference`, and holds them to the accumulation-order bound.
    private func compare(engine: MatmulEngine, reference: MatmulEngine, route: Conv2d.Route = .oneDNN, label: String) {
        var rng = SplitMix64(seed: 0x0D11)
        for t in Self.table {
            let n = 2, oh = t.g.outSize(t.h), ow = t.g.outSize(t.w)
            let inCount = n * t.h * t.w * t.cin, outCount = n * oh * ow * t.cout, wCount = t.g.taps * t.cin * t.cout
            let inp = LayerGradientTests.random(inCount, &rng)
            let weight = LayerGradientTests.random(wCount, &rng, scale: 0.5)
            let bias = t.bias ? LayerGradientTests.random(t.cout, &rng) : nil
            let dout = LayerGradientTests.random(outCount, &rng)
            let dinp0 = LayerGradientTests.random(inCount, &rng), dweight0 = LayerGradientTests.random(wCount, &rng)
            let dbias0 = LayerGradientTests.random(t.cout, &rng)
            var scratch = [Float](repeating: 0, count: max(1, Conv2d.scratchCount(h: t.h, w: t.w, cin: t.cin, geometry: t.g)))

            typealias Result = (out: [Float], dinp: [Float], dweight: [Float], dbias: [Float])
            func run(_ route: Conv2d.Route, _ engine: MatmulEngine, inp: [Float], weight: [Float], bias: [Float]?,
                     dout: [Float], dinp0: [Float], dweight0: [Float], dbias0: [Float]) -> Result {
                withMatmulEngine(engine) {
                    var out = [Float](repeating: .nan, count: outCount)
                    var dinp = dinp0, dweight = dweight0, dbias = dbias0
                    Conv2d.forward(out: &out, inp: inp, weight: weight, bias: bias, n: n, h: t.h, w: t.w, cin: t.cin,
                                   cout: t.cout, geometry: t.g, scratch: &scratch, threads: 2, route: route)
                    Conv2d.backward(dinp: &dinp, dweight: &dweight, dbias: &dbias, dout: dout, inp: inp, weight: weight,
                                    n: n, h: t.h, w: t.w, cin: t.cin, cout: t.cout, geometry: t.g, scratch: &scratch,
                                    threads: 2, route: route)
                    return (out, dinp, dweight, dbias)
                }
            }
            let got = run(route, engine, inp: inp, weight: weight, bias: bias, dout: dout, dinp0: dinp0,
                          dweight0: dweight0, dbias0: dbias0)
            let impl = OneDNN.lastImplementation
            XCTAssertFalse(impl.isEmpty, "\(label) \(t.name): oneDNN ran nothing")
            let ref = run(.im2col, reference, inp: inp, weight: weight, bias: bias, dout: dout, dinp0: dinp0,
                          dweight0: dweight0, dbias0: dbias0)
            // S per output: the same computation on absolute values (bf16 rounding commutes with |·|).
            let abs = run(.im2col, reference, inp: inp.map(Swift.abs), weight: weight.map(Swift.abs),
                          bias: bias?.map(Swift.abs), dout: dout.map(Swift.abs), dinp0: dinp0.map(Swift.abs),
                          dweight0: dweight0.map(Swift.abs), dbias0: dbias0.map(Swift.abs))
            // Terms per output (+1 for the bias or the value accumulated into); the bound is computed in f32 too, so
            // it carries a factor 2 of slack.
            let checks: [(String, [Float], [Float], [Float], Int)] = [
                ("forward", got.out, ref.out, abs.out, t.g.taps * t.cin + 1),
                ("backward data (accumulated)", got.dinp, ref.dinp, abs.dinp, t.g.taps * t.cout + 1),
                ("backward weights (accumulated)", got.dweight, ref.dweight, abs.dweight, n * oh * ow + 1),
                ("bias gradient (accumulated)", got.dbias, ref.dbias, abs.dbias, n * oh * ow + 1),
            ]
            for (pass, x, y, s, k) in checks {
                let transforms = route == .oneDNNWinograd && pass != "bias gradient (accumulated)"
                    ? 256 * 0x1p-24 * (s.max() ?? 0) : 0
                let bound = s.map { 2 * 2 * Self.gamma(k) * $0 + transforms }
                let (ratio, at) = Self.worst(x, y, bound: bound)
                XCTAssertLessThanOrEqual(ratio, 1, "\(label) \(t.name) \(pass) (n \(n), \(t.h)x\(t.w)x\(t.cin)→\(t.cout), "
                    + "seed 0x0D11, \(impl)): |oneDNN − im2col| = \(Swift.abs(x[at] - y[at])) at \(at) (\(x[at]) vs "
                    + "\(y[at])) exceeds the accumulation-order bound \(bound[at])")
            }
        }
    }

    func testFP32MatchesIm2col() throws {
        if case .failure(let why) = OneDNN.loaded { throw XCTSkip("oneDNN is not loaded: \(why.message)") }
        compare(engine: .blas, reference: .blas, label: "fp32")
    }

    func testFP32WinogradMatchesIm2col() throws {
        if case .failure(let why) = OneDNN.loaded { throw XCTSkip("oneDNN is not loaded: \(why.message)") }
        compare(engine: .blas, reference: .blas, route: .oneDNNWinograd, label: "fp32 Winograd")
    }

    /// Winograd on bf16-rounded inputs (f32 transforms and accumulation) against the emulated bf16 im2col.
    func testBF16WinogradMatchesRoundedIm2col() throws {
        if let why = PrecisionChoice.bf16Unavailable(cpu: .host, oneDNN: OneDNN.loaded) {
            throw XCTSkip("no native bf16 here: \(why)")
        }
        compare(engine: .oneDNNBF16, reference: .roundedBLAS, route: .oneDNNWinograd, label: "bf16 Winograd")
    }

    func testBF16MatchesRoundedIm2col() throws {
        if let why = PrecisionChoice.bf16Unavailable(cpu: .host, oneDNN: OneDNN.loaded) {
            throw XCTSkip("no native bf16 here: \(why)")
        }
        compare(engine: .oneDNNBF16, reference: .roundedBLAS, label: "bf16")
    }

    /// Emulated bf16 (the reference) keeps the im2col path whatever the geometry and pass.
    func testAutoRouteKeepsIm2colForTheEmulatedEngine() {
        for t in Self.table {
            for pass in [OneDNN.ConvPass.forward, .backwardData, .backwardWeights] {
                let engine = withMatmulEngine(.roundedBLAS) {
                    Conv2d.engine(.auto, pass, geometry: t.g, n: 2, h: t.h, w: t.w, cin: t.cin, cout: t.cout)
                }
                XCTAssertEqual(engine, .im2col, "\(t.name) \(pass): .roundedBLAS must stay on im2col + matmul")
                XCTAssertEqual(Conv2d.engine(.im2col, pass, geometry: t.g, n: 2, h: t.h, w: t.w, cin: t.cin, cout: t.cout),
                               .im2col, "\(t.name) \(pass): .im2col")
            }
        }
    }
}
