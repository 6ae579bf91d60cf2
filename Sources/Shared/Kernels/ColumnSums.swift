// Per-column sums over the rows of row-major [rows, cols] matrices: bias gradients (Σ dout) and BatchNorm's
// per-channel statistics (channels-last maps, rows = N·H·W). Float partial sums over blocks of rows keep the inner
// loops vectorised; the blocks are combined in Double, so the sums stay accurate over large maps. The block length is
// the caller's: 64 rows for BatchNorm, 256 for bias gradients (shorter blocks: fewer Float roundings per partial sum,
// more Double adds). Changing either changes the last bits of training, which the distributed tests compare.
//
//   a, weight        [rows, cols]
//   centre, scale    [cols]
//   total            [cols] Double, accumulated into

package enum ColumnSums {
    /// What is summed per element.
    package enum Term {
        /// a[r, j]
        case value
        /// (a[r, j] − centre[j])²
        case squaredDeviation(centre: UnsafePointer<Float>)
        /// weight[r, j] · (a[r, j] − centre[j]) · scale[j]
        case weightedDeviation(weight: UnsafePointer<Float>, centre: UnsafePointer<Float>, scale: UnsafePointer<Float>)
    }

    /// total[j] += Σ_{r ∈ rows} term(r, j), in Float over `block` rows at a time. `partial`: scratch for `cols` Floats.
    package static func accumulate(_ term: Term, _ a: UnsafePointer<Float>, rows: Range<Int>, cols: Int, block: Int,
                                  into total: UnsafeMutablePointer<Double>, partial: UnsafeMutablePointer<Float>) {
        var r0 = rows.lowerBound
        while r0 < rows.upperBound {
            let r1 = min(rows.upperBound, r0 + block)
            partial.update(repeating: 0, count: cols)
            switch term {
            case .value:
                for r in r0..<r1 {
                    let x = a + r * cols
                    for j in 0..<cols { partial[j] += x[j] }
                }
            case .squaredDeviation(let m):
                for r in r0..<r1 {
                    let x = a + r * cols
                    for j in 0..<cols { let d = x[j] - m[j]; partial[j] += d * d }
                }
            case .weightedDeviation(let w, let m, let s):
                for r in r0..<r1 {
                    let x = a + r * cols, g = w + r * cols
                    for j in 0..<cols { partial[j] += g[j] * (x[j] - m[j]) * s[j] }
                }
            }
            for j in 0..<cols { total[j] += Double(partial[j]) }
            r0 = r1
        }
    }

    /// Σ over all rows of `term`, per column, with the rows split across `threads`.
    package static func sums(_ term: Term, _ a: UnsafePointer<Float>, rows: Int, cols: Int, block: Int = 64,
                            threads: Int = 1) -> [Double] {
        let parts = max(1, min(threads, rows))
        // One row of totals and one of Float scratch per part.
        let totals = UnsafeMutablePointer<Double>.allocate(capacity: parts * cols)
        totals.initialize(repeating: 0, count: parts * cols)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: parts * cols)
        scratch.initialize(repeating: 0, count: parts * cols)
        defer { totals.deallocate(); scratch.deallocate() }
        Parallel.forEach(parts, threads: parts) { part in
            accumulate(term, a, rows: (rows * part / parts)..<(rows * (part + 1) / parts), cols: cols, block: block,
                       into: totals + part * cols, partial: scratch + part * cols)
        }
        var out = [Double](repeating: 0, count: cols)
        for p in 0..<parts { for j in 0..<cols { out[j] += totals[p * cols + j] } }
        return out
    }
}

/// sums[j] += Σ_i m[i, j] for a row-major [rows, cols] matrix (bias gradients).
package func addColumnSums(_ m: UnsafePointer<Float>, rows: Int, cols: Int, into sums: UnsafeMutablePointer<Float>) {
    let total = ColumnSums.sums(.value, m, rows: rows, cols: cols, block: 256)
    for j in 0..<cols { sums[j] += Float(total[j]) }
}
