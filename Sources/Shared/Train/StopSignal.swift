import Foundation

/// Ctrl-C (SIGINT) or SIGTERM asks the trainer to stop after the current step; it then saves a checkpoint and exits cleanly.
/// A second Ctrl-C while stopping terminates at once.
public enum StopSignal {
    nonisolated(unsafe) static var requested = false

    public static var isRequested: Bool { requested }

    /// SIGTERM is handled the same way: it is what mpirun passes on for a Ctrl-C and what Slurm sends at the time
    /// limit or on scancel (both follow with SIGKILL after a grace period; the last checkpoint then remains).
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in
                if StopSignal.requested { _exit(128 + s) }
                StopSignal.requested = true
            }
        }
    }

    /// For tests: request or clear a stop.
    public static func set(_ value: Bool) { requested = value }
}
