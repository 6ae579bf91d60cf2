#include "stop_signal.h"
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

// A signal handler may only touch lock-free atomics (C11) and call async-signal-safe functions such as _exit.
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flag must be lock-free to be set from a signal handler");
static atomic_int requested = 0;

static void on_signal(int sig) {
    if (atomic_exchange(&requested, 1)) _exit(128 + sig);
}

void stop_signal_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

int stop_signal_requested(void) { return atomic_load(&requested); }

void stop_signal_set(int value) { atomic_store(&requested, value != 0); }
