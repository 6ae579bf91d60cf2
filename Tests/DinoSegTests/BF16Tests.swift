import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels

/// bf16 arithmetic: the conversion kernels on every path, the bf16 matmul engines against a reference that rounds
/// explicitly, and the precision choice for CPUs with and without native bf16.
final class BF16Tests: XCTestCase {
    /// Ties, carries into the exponent, overflow to infinity, subnormals, signed zeros, NaN and random values.
    func testConversionMatchesReferenceOnEveryPath() {
        var values: [Float] = [0, -0, 1, -1, 1.00390625, 1.01171875, 1.0078125, 1.0078126, 3.4028235e38, -3.4028235e38,
                               .infinity, -.infinity, .leastNonzeroMagnitude, 1e-40, -1e-40, .nan, 65504, 0.1, -2.5e-8]
        values += [Float(bitPattern: 0x3f80_8000), Float(bitPattern: 0x3f81_8000), Float(bitPattern: 0x7f7f_ffff),
                   Float(bitPattern: 0x7fc0_0001), Float(bitPattern: 0xff80_0001)]
        var rng = SplitMix64(seed: 61)
        values += (0..<1000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        let expected = values.map(bf16BitsReference)
        XCTAssertEqual(bf16BitsReference(Float(bitPattern: 0x3f80_8000)), 0x3f80, "tie rounds to even (down)")
        XCTAssertEqual(bf16BitsReference(Float(bitPattern: 0x3f81_8000)), 0x3f82, "tie rounds to even (up)")
        XCTAssertEqual(bf16BitsReference(Float(bitPattern: 0x7f7f_ffff)), 0x7f80, "largest f32 rounds to infinity")
        XCTAssertTrue(bf16RoundedReference(Float(bitPattern: 0xff80_0001)).isNaN, "a NaN stays NaN")
        for path in KernelPath.supported {
            var bits = [UInt16](repeating: 0, count: values.count)
            convertToBF16(values, count: values.count, into: &bits, path: path)
            for i in values.indices where bits[i] != expected[i] {
                XCTFail("f32→bf16 on \(path) (seed 61): \(values[i]) (0x\(String(values[i].bitPattern, radix: 16))) gave 0x\(String(bits[i], radix: 16)), expected 0x\(String(expected[i], radix: 16))")
                break
            }
            var back = [Float](repeating: 0, count: values.count)
            convertFromBF16(bits, count: bits.count, into: &back, path: path)
            for i in values.indices where back[i].bitPattern != UInt32(expected[i]) << 16 {
                XCTFail("bf16→f32 on \(path): 0x\(String(bits[i], radix: 16)) gave \(back[i])")
                break
            }
        }
    }

    /// bias + GELU written as bf16 equals the f32 bias + GELU of the same path, rounded by the reference.
    func testBiasGELUToBF16MatchesRoundedF32GELU() {
        var rng = SplitMix64(seed: 65)
        let (rows, cols) = (5, 37)   // 37: whole vectors and a scalar tail on every path
        let x = (0..<rows * cols).map { _ in (rng.nextFloat() * 2 - 1) * 6 }
        let bias = (0..<cols).map { _ in rng.nextFloat() - 0.5 }
        for path in KernelPath.supported {
            var f32 = x
            biasGELU(&f32, rows: rows, columns: cols, bias: bias, path: path)
            var bits = [UInt16](repeating: 0, count: x.count)
            biasGELUToBF16(x, rows: rows, columns: cols, bias: bias, output: &bits, path: path)
            let expected = f32.map(bf16BitsReference)
            if let i = bits.indices.first(where: { bits[$0] != expected[$0] }) {
                XCTFail("bias+GELU→bf16 on \(path) (seed 65): element \(i) gave 0x\(String(bits[i], radix: 16)), expected 0x\(String(expected[i], radix: 16))")
            }
        }
    }

    /// Shapes with transposes, strides wider than the matrix, alpha and beta.
    static let shapes: [(m: Int, n: Int, k: Int, ta: Bool, tb: Bool, alpha: Float, beta: Float, pad: Int)] = [
        (1, 1, 1, false, false, 1, 0, 0), (3, 5, 7, false, false, 1, 0, 0), (17, 9, 33, true, false, 1, 1, 0),
        (8, 31, 5, false, true, 1, 0.5, 3), (64, 48, 96, true, true, 0.75, 0, 0), (5, 3, 0, false, false, 1, 0.25, 0),
        (200, 96, 384, false, false, 1, 1, 0), (49, 128, 256, true, false, 1, 0, 5),
    ]

    /// Runs every shape through `matmul` on `engine` and compares with `matmulBF16Naive`. The only difference allowed
    /// is the order of f32 additions: atol = k · 2⁻²² · max|a|·max|b| (inputs in [-1, 1]).
    func checkEngine(_ engine: MatmulEngine, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for (idx, t) in Self.shapes.enumerated() {
            let lda = (t.ta ? t.m : t.k) + t.pad, ldb = (t.tb ? t.k : t.n) + t.pad, ldc = t.n + t.pad
            let a = (0..<(t.ta ? t.k : t.m) * lda).map { _ in rng.nextFloat() * 2 - 1 }
            let b = (0..<(t.tb ? t.n : t.k) * ldb).map { _ in rng.nextFloat() * 2 - 1 }
            let c0 = (0..<t.m * ldc).map { _ in rng.nextFloat() }
            var fast = c0, ref = c0
            withMatmulEngine(engine) {
                matmul(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: lda, b: b,
                       ldb: ldb, beta: t.beta, c: &fast, ldc: ldc)
            }
            matmulBF16Naive(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: lda, b: b,
                            ldb: ldb, beta: t.beta, c: &ref, ldc: ldc)
            let atol = Double(max(t.k, 1)) * 2.4e-7 + 1e-6
            assertClose(fast, ref, rtol: 0, atol: atol, shape: [t.m, ldc], seed: seed, what: "\(engine) matmul case \(idx) \(t)")
        }
    }

    func testEmulatedBF16MatmulMatchesExplicitRounding() {
        checkEngine(.roundedBLAS, seed: 62)
    }

    /// The bf16 result differs from fp32 by what rounding the inputs explains, and no more (so the rounding happened).
    func testBF16MatmulDiffersFromFP32ByInputRounding() {
        var rng = SplitMix64(seed: 63)
        let (m, n, k) = (64, 64, 256)
        let a = (0..<m * k).map { _ in rng.nextFloat() * 2 - 1 }, b = (0..<k * n).map { _ in rng.nextFloat() * 2 - 1 }
        var fp32 = [Float](repeating: 0, count: m * n), bf16 = fp32
        sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &fp32, ldc: n)
        withMatmulEngine(.roundedBLAS) { matmul(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &bf16, ldc: n) }
        let maxDiff = zip(fp32, bf16).map { abs($0 - $1) }.max()!
        // Each product carries ≤ 2·2⁻⁸ relative error; over k random-sign terms the sum grows like √k.
        XCTAssertGreaterThan(maxDiff, 1e-4, "bf16 matmul equals fp32 (seed 63): inputs were not rounded")
        XCTAssertLessThan(maxDiff, 2 * 0.00390625 * Float(k).squareRoot(), "bf16 matmul too far from fp32 (seed 63)")
    }

    func testNativeBF16MatmulMatchesExplicitRounding() throws {
        if let why = PrecisionChoice.bf16Unavailable(cpu: .host, oneDNN: OneDNN.loaded) {
            throw XCTSkip("no native bf16 here: \(why)")
        }
        checkEngine(.oneDNNBF16, seed: 64)
        XCTAssertFalse(OneDNN.lastImplementation.isEmpty, "oneDNN did not name its matmul implementation")
    }

    func testPrecisionChoice() throws {
        var avx2 = CPUFeatures()
        (avx2.isX86, avx2.brand, avx2.avx2, avx2.fma, avx2.avx) = (true, "Test AVX2 CPU", true, true, true)
        var avx512 = avx2
        (avx512.brand, avx512.avx512f, avx512.avx512dq, avx512.avx512cd, avx512.avx512bw, avx512.avx512vl) =
            ("Test AVX-512 CPU", true, true, true, true, true)
        var bf16 = avx512
        (bf16.brand, bf16.avx512bf16) = ("Test BF16 CPU", true)
        var amx = avx2
        (amx.brand, amx.amx) = ("Test AMX CPU", true)
        var arm = CPUFeatures()
        arm.brand = "Test ARM CPU"
        let dnnl = Result<OneDNNInfo, DinoSegError>.success(OneDNNInfo(version: "2.6.3", library: "x", isa: "avx512_core_bf16"))
        let noDNNL = Result<OneDNNInfo, DinoSegError>.failure(DinoSegError("libdnnl.so.2: cannot open shared object file"))

        XCTAssertEqual(try PrecisionChoice.resolve(.bf16, cpu: bf16, oneDNN: dnnl), .bf16)
        XCTAssertEqual(try PrecisionChoice.resolve(.bf16, cpu: amx, oneDNN: dnnl), .bf16)
        XCTAssertEqual(try PrecisionChoice.resolve(.auto, cpu: bf16, oneDNN: dnnl), .bf16)
        XCTAssertEqual(try PrecisionChoice.resolve(.auto, cpu: avx512, oneDNN: dnnl), .fp32)
        XCTAssertEqual(try PrecisionChoice.resolve(.auto, cpu: bf16, oneDNN: noDNNL), .fp32)
        XCTAssertEqual(try PrecisionChoice.resolve(.fp32, cpu: arm, oneDNN: noDNNL), .fp32)
        let refusals: [(CPUFeatures, Result<OneDNNInfo, DinoSegError>, String)] = [
            (avx2, dnnl, "--precision bf16 needs native bf16 dot products; this CPU (Test AVX2 CPU) lacks AVX512-BF16 and AMX-BF16 (it has AVX2+FMA); use --precision fp32 or auto"),
            (avx512, dnnl, "--precision bf16 needs native bf16 dot products; this CPU (Test AVX-512 CPU) lacks AVX512-BF16 and AMX-BF16 (it has AVX-512 without BF16); use --precision fp32 or auto"),
            (arm, dnnl, "--precision bf16 needs native bf16 dot products (AVX512-BF16 or AMX-BF16 on x86-64); this CPU (Test ARM CPU) is not x86-64; use --precision fp32 or auto"),
            (bf16, noDNNL, "--precision bf16 needs oneDNN 2.x (Debian's libdnnl2, installed by `make deps`), which did not load: libdnnl.so.2: cannot open shared object file; use --precision fp32 or auto"),
        ]
        for (cpu, lib, message) in refusals {
            XCTAssertThrowsError(try PrecisionChoice.resolve(.bf16, cpu: cpu, oneDNN: lib)) {
                XCTAssertEqual("\($0)", message)
            }
        }
    }
}
