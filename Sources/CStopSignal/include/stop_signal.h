#ifndef STOP_SIGNAL_H
#define STOP_SIGNAL_H
// The stop request of Ctrl-C (SIGINT) and SIGTERM, shared by extraction and training. The flag is a lock-free C11
// atomic, so the handler is async-signal-safe and any thread may poll it. The first signal sets the flag (the program
// stops after its current unit of work); a second one ends the process at once with _exit(128 + signal).

/// Installs the handler for SIGINT and SIGTERM (sigaction, restarting interrupted system calls).
void stop_signal_install(void);
/// 1 once a stop was requested (by a signal or stop_signal_set(1)), else 0.
int stop_signal_requested(void);
/// Requests (1) or clears (0) a stop without a signal.
void stop_signal_set(int requested);
#endif
