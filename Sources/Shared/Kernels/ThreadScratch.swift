// A per-thread buffer that only grows, freed when its thread ends, for the short-lived operands of one kernel call
// (bf16 copies, outputs to be added): every call on a thread reuses the same pages (fresh pages per call cost page
// faults comparable to a small GEMM). One key per user, so two users on one thread never share a block.
import Foundation

final class ThreadScratch: @unchecked Sendable {
    private let key: pthread_key_t
    private let what: String

    /// `what` names the user in the out-of-memory message.
    init(_ what: String) {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { block in free(block) }
        precondition(rc == 0, "pthread_key_create failed (\(rc))")
        self.key = key
        self.what = what
    }

    /// At least `bytes` bytes, 64-byte aligned, the calling thread's until its next call here.
    func forCurrentThread(bytes: Int) -> UnsafeMutableRawPointer {
        // Header of each block: its usable size. The usable area starts 64 bytes in (cache-line aligned).
        if let block = pthread_getspecific(key), block.load(as: Int.self) >= bytes { return block + 64 }
        free(pthread_getspecific(key))
        pthread_setspecific(key, nil)
        let size = max(bytes, 1 << 20)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, size + 64) == 0, let block = raw else {
            fatalError("out of memory for \(size) bytes of \(what) scratch")
        }
        block.storeBytes(of: size, as: Int.self)
        pthread_setspecific(key, block)
        return block + 64
    }
}
