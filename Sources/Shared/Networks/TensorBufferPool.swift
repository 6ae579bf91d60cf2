import Foundation

/// The memory of freed `Tensor`s, kept for the next tensor of the same element count. A training step of the
/// baseline allocates the same shapes in the same order every step (gigabytes at crop 473), and memory fresh from the
/// operating system costs a page fault and a zeroed page per 4 KiB: a third of a step's time when every step got new
/// memory. Kept buffers never exceed the most tensor bytes that were ever live at once, so the pool at most doubles
/// the peak (it does not grow with shapes that keep changing, e.g. whole-image evaluation).
final class TensorBufferPool: @unchecked Sendable {
    static let shared = TensorBufferPool()

    private let lock = NSLock()
    private var kept: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private(set) var keptBytes = 0
    private(set) var liveBytes = 0
    private(set) var peakLiveBytes = 0

    /// A buffer of `count` floats, uninitialised (a kept one when there is one of that count).
    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = count * MemoryLayout<Float>.stride
        lock.lock(); defer { lock.unlock() }
        liveBytes += bytes
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if let p = kept[count]?.popLast() {
            keptBytes -= bytes
            return p
        }
        return .allocate(capacity: count)
    }

    /// Takes back a buffer from `take(count)`: kept for reuse while the pool stays within the live peak, else freed.
    func give(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = count * MemoryLayout<Float>.stride
        lock.lock(); defer { lock.unlock() }
        liveBytes -= bytes
        if keptBytes + bytes <= peakLiveBytes {
            kept[count, default: []].append(p)
            keptBytes += bytes
        } else {
            p.deallocate()
        }
    }

    /// Fills every kept buffer with `value`: the tests fill them with NaN to show that no layer reads memory it did
    /// not write first.
    func fillKept(with value: Float) {
        lock.lock(); defer { lock.unlock() }
        for (count, buffers) in kept { for p in buffers { p.update(repeating: value, count: count) } }
    }
}
