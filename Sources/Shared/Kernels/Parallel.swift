// Work splitting over the machine's cores, and dedicated threads for the benchmarks that must use exactly N.
import Foundation
import Dispatch

package enum Parallel {
    /// Number of cores this process may use (overridable with DINOSEG_THREADS).
    @usableFromInline package static var defaultThreads: Int {
        if let s = ProcessInfo.processInfo.environment["DINOSEG_THREADS"], let n = Int(s), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    /// Runs body(i) for i in 0..<count on up to `threads` threads; returns when all are done.
    // Inlinable (as is forRanges) so the serial path inlines the caller's closure in other targets too.
    @inlinable
    package static func forEach(_ count: Int, threads: Int = defaultThreads, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if threads <= 1 || count == 1 {
            for i in 0..<count { body(i) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Splits 0..<total into `parts` contiguous ranges and runs them in parallel.
    @inlinable
    package static func forRanges(_ total: Int, parts: Int = defaultThreads, _ body: (Range<Int>) -> Void) {
        let p = max(1, min(parts, total))
        forEach(p, threads: p) { i in
            let lo = total * i / p, hi = total * (i + 1) / p
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Runs `body` on exactly `count` dedicated threads (GCD would cap the width at the core count, and the benchmark
/// must report the threads it really used) and waits for all of them.
package func runOnThreads(_ count: Int, _ body: @escaping () -> Void) {
    let group = DispatchGroup()
    for _ in 0..<count {
        group.enter()
        let t = Thread { body(); group.leave() }
        t.stackSize = 8 << 20
        t.start()
    }
    group.wait()
}

/// A shared counter handing out work items to threads.
package final class WorkCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    package init() {}
    package func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
}
