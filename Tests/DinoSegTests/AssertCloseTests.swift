import XCTest
@testable import DinoSegCore

/// The comparison helpers print what they promise: one line with the largest errors, where they are, the first values
/// and the seed (checked through the non-failing formatting functions).
final class AssertCloseTests: XCTestCase {
    func testReportNamesLargestErrorsPositionValuesAndSeed() {
        let expected: [Float] = [1, 2, 3, 4, 5, 6], actual: [Float] = [1, 2.001, 3, 4, 5.5, 6]
        let c = closeness(actual, expected, rtol: 1e-3, shape: [2, 3], seed: 42, what: "demo")
        XCTAssertFalse(c.passed)
        XCTAssertEqual(c.maxAbsoluteError, 0.5, accuracy: 1e-6)
        XCTAssertEqual(c.maxRelativeError, 0.1, accuracy: 1e-6)
        XCTAssertFalse(c.report.contains("\n"), c.report)
        for part in ["demo (seed 42)", "1 of 6 values off", "max |Δ| 0.5 at 4 [1, 1] (5.5 vs 5)", "max |Δ|/|expected| 0.1",
                     "first values: actual [1, 2.0009999, 3, 4, …], expected [1, 2, 3, 4, …]"] {
            XCTAssertTrue(c.report.contains(part), "'\(c.report)' lacks '\(part)'")
        }
        // Relative to the largest expected value, 0.5 / 6 is still above 1e-3; 0.1 passes.
        let norm = closeness(actual, expected, rtol: 0.1, relativeTo: .maxExpected, seed: nil, what: "normwise")
        XCTAssertTrue(norm.passed, norm.report)
        XCTAssertTrue(norm.report.hasPrefix("normwise (fixed input): 6 values within |Δ| ≤ 0 + 0.1·max|expected| (6)"), norm.report)
    }

    func testExactEqualityNaNInfinityAndLengths() {
        XCTAssertTrue(closeness([1, .nan, .infinity] as [Float], [1, .nan, .infinity] as [Float], rtol: 0, seed: 1, what: "x").passed)
        let inf = closeness([1, 2] as [Float], [1, .infinity] as [Float], rtol: 0.5, atol: 1, seed: 1, what: "inf")
        XCTAssertFalse(inf.passed, inf.report)
        XCTAssertTrue(inf.report.contains("max |Δ| inf at 1 (2 vs inf)"), inf.report)
        let oneBit = closeness([1, Float(1).nextUp] as [Float], [1, 1] as [Float], rtol: 0, seed: "7/2", what: "bits")
        XCTAssertFalse(oneBit.passed)
        XCTAssertTrue(oneBit.report.hasPrefix("bits (seed 7/2): 1 of 2 values off (exact)"), oneBit.report)
        let short = closeness([1, 2] as [Double], [1, 2, 3] as [Double], rtol: 1, seed: nil, what: "len")
        XCTAssertFalse(short.passed)
        XCTAssertTrue(short.report.contains("2 values, expected 3"), short.report)
        XCTAssertEqual(multiIndex(23, [2, 3, 4]), [1, 2, 3])
    }

    func testByteDifferenceNamesFirstOffset() {
        XCTAssertNil(byteDifference(Data([1, 2, 3]), Data([1, 2, 3])))
        XCTAssertEqual(byteDifference(Data([1, 2, 3, 4]), Data([1, 2, 9, 4])), "differ at byte 2 (sizes 4 and 4): 0x03 vs 0x09")
        XCTAssertEqual(byteDifference(Data([1, 2]), Data([1, 2, 3])), "differ at byte 2 (sizes 2 and 3): end of file vs 0x03")
    }
}
