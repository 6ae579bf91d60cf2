// The one float comparison of the test suite. A failure is one line: how many elements are off, the largest absolute
// and relative error with where they are (flat index and, given a shape, the row-major multi-index), the first values
// of both sides, and the seed of the random input.
import XCTest

/// What the relative error of an element is measured against.
enum RelativeTo {
    /// |actual − expected| / |expected| element by element (numpy's allclose).
    case element
    /// |actual − expected| / max|expected| over the whole array: for outputs of normalisations and sums of many
    /// terms, where elements near zero carry the rounding error of the large ones.
    case maxExpected
}

/// The comparison of two float arrays; `report` is the one-line summary (also when they are close).
struct Closeness {
    var passed: Bool
    var report: String
    var maxAbsoluteError: Double
    var maxRelativeError: Double
}

/// Element i passes when |aᵢ − eᵢ| ≤ atol + rtol · sᵢ, sᵢ = |eᵢ| (`.element`) or max|e| (`.maxExpected`). With
/// rtol = atol = 0 this is exact equality. Equal values (NaN = NaN and ±∞ included) have error 0; a NaN or ∞ on one
/// side only has infinite error. `seed` names the random input (nil: fixed data, said as such).
func closeness<A: Collection, E: Collection>(
    _ actual: A, _ expected: E, rtol: Double, atol: Double = 0, relativeTo: RelativeTo = .element,
    shape: [Int]? = nil, seed: (any CustomStringConvertible)?, what: String
) -> Closeness where A.Element: BinaryFloatingPoint, E.Element: BinaryFloatingPoint {
    let a = actual.map { Double($0) }, e = expected.map { Double($0) }
    let seedText = seed.map { "seed \($0)" } ?? "fixed input"
    let head = "\(what) (\(seedText))"
    guard a.count == e.count else {
        return Closeness(passed: false, report: "\(head): \(a.count) values, expected \(e.count); "
                         + "first values: actual \(firstValues(a)), expected \(firstValues(e))",
                         maxAbsoluteError: .infinity, maxRelativeError: .infinity)
    }
    if let shape, shape.reduce(1, *) != a.count {
        return Closeness(passed: false, report: "\(head): shape \(shape) given for \(a.count) values",
                         maxAbsoluteError: .infinity, maxRelativeError: .infinity)
    }
    let scale = e.reduce(0.0) { $1.isFinite ? max($0, abs($1)) : $0 }
    var maxAbs = 0.0, maxAbsAt = 0, maxRel = 0.0, maxRelAt = 0, off = 0, firstOff: Int? = nil
    for i in a.indices {
        let diff: Double = a[i] == e[i] || (a[i].isNaN && e[i].isNaN) ? 0 : (a[i] - e[i]).isFinite ? abs(a[i] - e[i]) : .infinity
        let s = relativeTo == .element ? (e[i].isFinite ? abs(e[i]) : 0) : scale
        let rel = diff == 0 ? 0 : s > 0 ? diff / s : .infinity
        if diff > maxAbs { maxAbs = diff; maxAbsAt = i }
        if rel > maxRel { maxRel = rel; maxRelAt = i }
        if diff > atol + rtol * s { off += 1; if firstOff == nil { firstOff = i } }
    }
    func at(_ i: Int) -> String {
        "at \(i)\(shape.map { " \(multiIndex(i, $0))" } ?? "") (\(format(a[i])) vs \(format(e[i])))"
    }
    let bound = rtol == 0 && atol == 0 ? "exact"
        : "|Δ| ≤ \(format(atol)) + \(format(rtol))·" + (relativeTo == .element ? "|expected|" : "max|expected| (\(format(scale)))")
    var parts = [off == 0 ? "\(a.count) values within \(bound)" : "\(off) of \(a.count) values off (\(bound))"]
    if maxAbs > 0 {
        parts.append("max |Δ| \(format(maxAbs)) \(at(maxAbsAt))")
        let relName = relativeTo == .element ? "max |Δ|/|expected|" : "max |Δ|/max|expected|"
        parts.append("\(relName) \(format(maxRel))" + (maxRelAt == maxAbsAt ? "" : " \(at(maxRelAt))"))
        if let firstOff, firstOff != maxAbsAt && firstOff != maxRelAt { parts.append("first off \(at(firstOff))") }
    }
    if off > 0 { parts.append("first values: actual \(firstValues(a)), expected \(firstValues(e))") }
    return Closeness(passed: off == 0, report: head + ": " + parts.joined(separator: "; "),
                     maxAbsoluteError: maxAbs, maxRelativeError: maxRel)
}

/// XCTFail with the one-line report unless `closeness` passes. rtol = atol = 0 asserts identical values.
func assertClose<A: Collection, E: Collection>(
    _ actual: A, _ expected: E, rtol: Double, atol: Double = 0, relativeTo: RelativeTo = .element,
    shape: [Int]? = nil, seed: (any CustomStringConvertible)?, what: String,
    file: StaticString = #filePath, line: UInt = #line
) where A.Element: BinaryFloatingPoint, E.Element: BinaryFloatingPoint {
    let c = closeness(actual, expected, rtol: rtol, atol: atol, relativeTo: relativeTo, shape: shape, seed: seed, what: what)
    if !c.passed { XCTFail(c.report, file: file, line: line) }
}

/// Row-major multi-index of flat index i in `shape`, e.g. [1, 0, 2].
func multiIndex(_ i: Int, _ shape: [Int]) -> [Int] {
    var rest = i, index = [Int](repeating: 0, count: shape.count)
    for d in shape.indices.reversed() where shape[d] > 0 { index[d] = rest % shape[d]; rest /= shape[d] }
    return index
}

private func format(_ x: Double) -> String { String(format: "%.8g", x) }

private func firstValues(_ v: [Double], count: Int = 4) -> String {
    "[" + v.prefix(count).map(format).joined(separator: ", ") + (v.count > count ? ", …" : "") + "]"
}
