import Foundation

/// Per-operation CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID, so other processes' load does not count).
/// Used by `extract bench --profile` for the time breakdown; not thread-safe (one profile per thread).
package final class OpProfile {
    package private(set) var nanoseconds: [String: UInt64] = [:]
    package private(set) var order: [String] = []

    package init() {}

    package static func threadCPUTime() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    package func start() -> UInt64 { OpProfile.threadCPUTime() }

    /// Charges the time since `mark` to `op` and moves `mark` to now.
    package func add(_ op: String, _ mark: inout UInt64?) {
        let now = OpProfile.threadCPUTime()
        if nanoseconds[op] == nil { order.append(op) }
        nanoseconds[op, default: 0] += now - (mark ?? now)
        mark = now
    }

    package var total: UInt64 { nanoseconds.values.reduce(0, +) }
}
