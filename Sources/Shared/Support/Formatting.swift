import Foundation

/// A duration for progress lines and logs: "42s", "3m07s", "2h05m" ("?" when unknown).
package func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}

/// A byte count in binary units for plans and logs: "512 B", "1.5 KiB", "89.0 GiB".
package func formatBytes(_ bytes: Double) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = bytes, u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return String(format: u == 0 ? "%.0f %@" : "%.1f %@", v, units[u])
}
