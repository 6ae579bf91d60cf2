// Named activation buffers that persist between forward and backward and are reused across steps; they grow when a
// larger batch or map arrives. Their total is the activation memory of the head.

public final class Workspace {
    private var buffers: [String: (pointer: UnsafeMutablePointer<Float>, capacity: Int)] = [:]

    public init() {}
    deinit { for (_, b) in buffers { b.pointer.deallocate() } }

    /// A buffer of at least `count` floats under `name` (contents undefined unless `zeroed`).
    public func get(_ name: String, _ count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<Float> {
        let n = max(1, count)
        if let b = buffers[name], b.capacity >= n {
            if zeroed { b.pointer.update(repeating: 0, count: n) }
            return b.pointer
        }
        if let old = buffers[name] { old.pointer.deallocate() }
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        p.initialize(repeating: 0, count: n)
        buffers[name] = (p, n)
        return p
    }

    public var bytes: Int { buffers.values.reduce(0) { $0 + $1.capacity * 4 } }

    public func release() {
        for (_, b) in buffers { b.pointer.deallocate() }
        buffers = [:]
    }
}
