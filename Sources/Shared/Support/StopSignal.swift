import CStopSignal

/// Ctrl-C (SIGINT) or SIGTERM asks the running command to stop after its current unit of work: `extract train/val`
/// after the shard being written, `headtrain train` after the current step (it then saves a checkpoint), a sweep after
/// the current job's step. A second signal ends the process at once. The flag lives in the CStopSignal shim (a
/// lock-free atomic), so the handler is async-signal-safe and any thread may read it.
package enum StopSignal {
    package static var isRequested: Bool { stop_signal_requested() != 0 }

    /// SIGTERM is handled the same way: it is what mpirun passes on for a Ctrl-C and what Slurm sends at the time
    /// limit or on scancel (both follow with SIGKILL after a grace period; what was finished then remains).
    package static func install() { stop_signal_install() }

    /// Requests or clears a stop without a signal (tests; a sweep passing on another process's stop).
    package static func set(_ value: Bool) { stop_signal_set(value ? 1 : 0) }
}
