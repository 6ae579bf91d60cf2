import Foundation

/// Ctrl-C (SIGINT) asks the trainer to stop after the current step; it then saves a checkpoint and exits cleanly.
/// A second Ctrl-C while stopping terminates at once.
public enum StopSignal {
    nonisolated(unsafe) static var requested = false

    public static var isRequested: Bool { requested }

    public static func install() {
        signal(SIGINT) { _ in
            if StopSignal.requested { _exit(130) }
            StopSignal.requested = true
        }
    }

    /// For tests: request or clear a stop.
    public static func set(_ value: Bool) { requested = value }
}
