import Foundation

/// "images 12/80 · 3.40 images/s · elapsed 4s · ETA 20s" on stderr: one rewritten line on a terminal, plain lines
/// otherwise (at most every 10 s). `prefix` (e.g. "[rank 1] ") starts every line, so the lines of several processes
/// sharing one terminal or log stay apart.
package final class ProgressLine {
    let total: Int
    let label: String
    let prefix: String
    private var done = 0
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let tty = isatty(2) != 0
    private let quiet: Bool

    package init(total: Int, label: String, prefix: String = "", quiet: Bool = false) {
        self.total = total; self.label = label; self.prefix = prefix; self.quiet = quiet
    }

    package func advance() {
        done += 1
        let now = Date()
        let interval = tty ? 0.25 : 10.0
        if done == total || now.timeIntervalSince(lastPrint) >= interval {
            lastPrint = now
            emit(line())
        }
    }

    func line() -> String {
        prefix + Self.line(label: label, done: done, total: total, elapsed: Date().timeIntervalSince(start))
    }

    /// The line after `done` of `total` in `elapsed` seconds: the mean rate so far, and the rest at that rate.
    static func line(label: String, done: Int, total: Int, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : .infinity  // no rate yet: "?"
        return String(format: "%@ %d/%d · %.2f %@/s · elapsed %@ · ETA %@", label, done, total, rate, label,
                      formatDuration(elapsed), formatDuration(eta))
    }

    var rate: Double {
        let elapsed = Date().timeIntervalSince(start)
        return elapsed > 0 ? Double(done) / elapsed : 0
    }

    package func log(_ message: String) {
        guard !quiet else { return }
        if tty { FileHandle.standardError.write(Data(("\r\u{1B}[K" + prefix + message + "\n").utf8)) } else { emit(prefix + message) }
    }

    package func finishLine() { if tty && !quiet && done > 0 { FileHandle.standardError.write(Data("\n".utf8)) } }

    private func emit(_ s: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + s : s + "\n").utf8))
    }
}
