import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels

final class GEMMTests: XCTestCase {
    /// Table of shapes, including odd and degenerate sizes, against the naive Double-accumulating reference.
    func testSgemmMatchesNaive() {
        let cases: [(m: Int, n: Int, k: Int, ta: Bool, tb: Bool, beta: Float)] = [
            (1, 1, 1, false, false, 0), (3, 5, 7, false, false, 0), (17, 9, 33, true, false, 1),
            (8, 31, 5, false, true, 0.5), (64, 48, 96, true, true, 0), (5, 3, 0, false, false, 0.25),
        ]
        var rng = SplitMix64(seed: 11)
        for (idx, t) in cases.enumerated() {
            let lda = t.ta ? t.m : t.k, ldb = t.tb ? t.k : t.n
            let a = (0..<(t.ta ? t.k : t.m) * lda).map { _ in rng.nextFloat() * 2 - 1 }
            let b = (0..<(t.tb ? t.n : t.k) * ldb).map { _ in rng.nextFloat() * 2 - 1 }
            let c0 = (0..<t.m * t.n).map { _ in rng.nextFloat() }
            var fast = c0, ref = c0
            sgemm(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, a: a, lda: lda, b: b, ldb: ldb,
                  beta: t.beta, c: &fast, ldc: t.n)
            sgemmNaive(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, a: a, lda: lda, b: b, ldb: ldb,
                       beta: t.beta, c: &ref, ldc: t.n)
            assertClose(fast, ref, rtol: 0, atol: 1e-4, shape: [t.m, t.n], seed: 11, what: "sgemm case \(idx) \(t)")
        }
    }
}
