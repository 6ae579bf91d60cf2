import XCTest
@testable import DinoSegCore

/// The progress line users watch during extraction and verification: rate, elapsed time and ETA for fixed counts and
/// times, and the duration and size formats it and the logs use.
final class ProgressLineTests: XCTestCase {
    func testProgressLineRateAndETA() {
        let cases: [(done: Int, total: Int, elapsed: Double, line: String)] = [
            (12, 80, 4, "images 12/80 · 3.00 images/s · elapsed 4s · ETA 23s"),              // 68 left at 3/s = 22.7 s
            (500, 2000, 250, "images 500/2000 · 2.00 images/s · elapsed 4m10s · ETA 12m30s"),  // 1500 left at 2/s
            (1, 100, 120, "images 1/100 · 0.01 images/s · elapsed 2m00s · ETA 3h18m"),        // 99 × 120 s = 11880 s
            (80, 80, 40, "images 80/80 · 2.00 images/s · elapsed 40s · ETA 0s"),
            (0, 80, 0, "images 0/80 · 0.00 images/s · elapsed 0s · ETA ?"),                   // no rate yet
            (0, 80, 30, "images 0/80 · 0.00 images/s · elapsed 30s · ETA ?"),
        ]
        for c in cases {
            XCTAssertEqual(ProgressLine.line(label: "images", done: c.done, total: c.total, elapsed: c.elapsed), c.line,
                           "\(c.done) of \(c.total) after \(c.elapsed) s")
        }
        XCTAssertEqual(ProgressLine.line(label: "shards", done: 3, total: 7, elapsed: 1.5), "shards 3/7 · 2.00 shards/s · elapsed 2s · ETA 2s")
    }

    func testDurationAndByteFormats() {
        let durations: [(Double, String)] = [(0, "0s"), (0.4, "0s"), (42, "42s"), (59.4, "59s"), (59.5, "1m00s"), (187, "3m07s"),
                                             (3599.4, "59m59s"), (3600, "1h00m"), (7530, "2h05m"), (90_000, "25h00m"),
                                             (.infinity, "?"), (.nan, "?")]
        for (seconds, text) in durations { XCTAssertEqual(formatDuration(seconds), text, "formatDuration(\(seconds))") }
        let sizes: [(Double, String)] = [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
                                         (64 * 1_048_576, "64.0 MiB"), (5 * 1_073_741_824, "5.0 GiB"), (3 * 1_099_511_627_776, "3.0 TiB"),
                                         (2048 * 1_099_511_627_776, "2048.0 TiB")]
        for (bytes, text) in sizes { XCTAssertEqual(formatBytes(bytes), text, "formatBytes(\(bytes))") }
    }
}
