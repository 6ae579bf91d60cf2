import Foundation

// Deterministic, seedable random numbers: the same seed replays the same augmentation, init and shuffle.

/// SplitMix64 (Steele et al.): tiny state, good statistics, and trivially derived sub-streams. The per-number methods
/// are inlinable: dropout, augmentation and the synthetic data draw one per element from other targets.
package struct SplitMix64: RandomNumberGenerator, Codable, Equatable {
    @usableFromInline package var state: UInt64
    @inlinable package init(seed: UInt64) { state = seed }

    /// A stream for (seed, a, b, ...) that does not depend on how many numbers other streams drew.
    package init(seed: UInt64, _ keys: Int...) {
        var s = SplitMix64(seed: seed)
        for k in keys { s = SplitMix64(seed: s.next() ^ (UInt64(bitPattern: Int64(k)) &* 0x9E37_79B9_7F4A_7C15)) }
        state = s.next()
    }

    @inlinable package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inlinable package mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
    /// Uniform in [0, 1) with 53 random bits.
    @inlinable package mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
    /// Uniform in [lo, hi).
    @inlinable package mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * nextDouble() }
    /// Standard normal (Box–Muller).
    package mutating func normal() -> Double {
        let u1 = max(nextDouble(), 1e-300), u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

