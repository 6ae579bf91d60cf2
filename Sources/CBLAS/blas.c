// Run-time loading of the BLAS (see dinoseg_blas.h).
#define _GNU_SOURCE
#include "dinoseg_blas.h"
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ORDER_ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };  // the CBLAS enum values every CBLAS shares

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
static sgemm_fn g_sgemm;
static void (*g_openblas_set)(int);
static int (*g_openblas_get)(void);
static void (*g_blis_set)(int64_t);      // BLIS dim_t is 64-bit in the default (and Debian) builds
static int64_t (*g_blis_get)(void);
static void (*g_mkl_set)(int);
static int (*g_mkl_get)(void);
static dinoseg_blas_info g_info;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void copy(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src ? src : "");
}

static int try_open(const char *name, char *error, size_t errorSize) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(error, errorSize, "%s", why ? why : "dlopen failed");  // dlerror names the file
        return -1;
    }
    sgemm_fn sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!sgemm) {
        snprintf(error, errorSize, "%s has no cblas_sgemm (not a CBLAS library)", name);
        dlclose(h);
        return -1;
    }
    g_sgemm = sgemm;
    copy(g_info.requested, sizeof g_info.requested, name);
    Dl_info where;
    char resolved[PATH_MAX];
    if (dladdr((void *)sgemm, &where) && where.dli_fname && realpath(where.dli_fname, resolved)) {
        copy(g_info.path, sizeof g_info.path, resolved);
    } else {
        copy(g_info.path, sizeof g_info.path, name);
    }
    char *(*openblas_config)(void) = (char *(*)(void))dlsym(h, "openblas_get_config");
    char *(*openblas_core)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
    const char *(*blis_version)(void) = (const char *(*)(void))dlsym(h, "bli_info_get_version_str");
    void (*mkl_version)(char *, int) = (void (*)(char *, int))dlsym(h, "MKL_Get_Version_String");
    g_openblas_set = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    g_openblas_get = (int (*)(void))dlsym(h, "openblas_get_num_threads");
    g_blis_set = (void (*)(int64_t))dlsym(h, "bli_thread_set_num_threads");
    g_blis_get = (int64_t (*)(void))dlsym(h, "bli_thread_get_num_threads");
    g_mkl_set = (void (*)(int))dlsym(h, "MKL_Set_Num_Threads");
    g_mkl_get = (int (*)(void))dlsym(h, "MKL_Get_Max_Threads");
    if (openblas_config) {
        g_info.family = DINOSEG_BLAS_OPENBLAS;
        copy(g_info.version, sizeof g_info.version, openblas_config());
        if (openblas_core) copy(g_info.core, sizeof g_info.core, openblas_core());
    } else if (blis_version) {
        g_info.family = DINOSEG_BLAS_BLIS;
        snprintf(g_info.version, sizeof g_info.version, "BLIS %s", blis_version());
    } else if (mkl_version) {
        g_info.family = DINOSEG_BLAS_MKL;
        mkl_version(g_info.version, (int)sizeof g_info.version);
    } else {
        g_info.family = DINOSEG_BLAS_OTHER;
    }
    // The handle stays open for the life of the process (BLAS worker threads run its code).
    return 0;
}

int dinoseg_blas_open(const char *path, char *error, size_t errorSize) {
    pthread_mutex_lock(&g_lock);
    int rc = 0;
    if (g_info.loaded) goto done;
    const char *env = getenv("DINOSEG_BLAS");
    if (path && *path) {
        rc = try_open(path, error, errorSize);
        if (rc != 0) {
            char inner[1536];
            copy(inner, sizeof inner, error);
            snprintf(error, errorSize, "cannot load the BLAS library: %s", inner);
        }
    } else if (env && *env) {
        rc = try_open(env, error, errorSize);
        if (rc != 0) {
            char inner[1536];
            copy(inner, sizeof inner, error);
            snprintf(error, errorSize, "DINOSEG_BLAS: %s", inner);
        }
    } else {
#if defined(__APPLE__)
        const char *defaults[] = {"libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
                                  "/usr/local/opt/openblas/lib/libopenblas.dylib",
                                  "/System/Library/Frameworks/Accelerate.framework/Accelerate"};
#else
        const char *defaults[] = {"libopenblas.so.0", "libblas.so.3"};
#endif
        rc = -1;
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0] && rc != 0; i++) rc = try_open(defaults[i], error, errorSize);
        if (rc != 0) {
            char inner[1536];
            copy(inner, sizeof inner, error);
            snprintf(error, errorSize, "no BLAS library found (%s); install OpenBLAS (Debian: apt-get install libopenblas0) "
                     "or set DINOSEG_BLAS=/path/to/libblas.so", inner);
        }
    }
    if (rc == 0) __atomic_store_n(&g_info.loaded, 1, __ATOMIC_RELEASE);
done:
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static void ensure_loaded(void) {
    if (__builtin_expect(__atomic_load_n(&g_info.loaded, __ATOMIC_ACQUIRE), 1)) return;
    char error[2048];
    if (dinoseg_blas_open(NULL, error, sizeof error) != 0) {
        fprintf(stderr, "error: %s\n", error);
        exit(1);
    }
}

const dinoseg_blas_info *dinoseg_blas_describe(void) {
    ensure_loaded();
    return &g_info;
}

void dinoseg_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc) {
    ensure_loaded();
    g_sgemm(ORDER_ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
            beta, c, ldc);
}

void dinoseg_blas_set_threads(int n) {
    ensure_loaded();
    if (n < 1) n = 1;
    if (g_openblas_set) g_openblas_set(n);
    else if (g_blis_set) g_blis_set(n);
    else if (g_mkl_set) g_mkl_set(n);
}

int dinoseg_blas_get_threads(void) {
    ensure_loaded();
    if (g_openblas_get) return g_openblas_get();
    if (g_blis_get) return (int)g_blis_get();
    if (g_mkl_get) return g_mkl_get();
    return 1;
}

static const int g_guard_signals[] = {SIGILL, SIGSEGV, SIGBUS, SIGFPE};
enum { GUARD_SIGNALS = sizeof g_guard_signals / sizeof g_guard_signals[0] };
static struct sigaction g_guard_saved[GUARD_SIGNALS];
static const char *g_guard_message, *g_guard_path;
static char *const *g_guard_argv, *const *g_guard_envp;

static void guard_handler(int sig) {
    (void)sig;
    ssize_t written = write(STDERR_FILENO, g_guard_message, strlen(g_guard_message));
    (void)written;
    execve(g_guard_path, g_guard_argv, g_guard_envp);
    // execve failed: SA_RESETHAND restored the default action, so the faulting instruction ends the process as before.
}

void dinoseg_blas_guard_arm(const char *message, const char *path, char *const argv[], char *const envp[]) {
    g_guard_message = message;
    g_guard_path = path;
    g_guard_argv = argv;
    g_guard_envp = envp;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = guard_handler;
    sigemptyset(&action.sa_mask);
    // SA_NODEFER: the signal is not blocked while the handler runs, so the new process does not inherit it blocked.
    action.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (int i = 0; i < GUARD_SIGNALS; i++) sigaction(g_guard_signals[i], &action, &g_guard_saved[i]);
}

void dinoseg_blas_guard_disarm(void) {
    for (int i = 0; i < GUARD_SIGNALS; i++) sigaction(g_guard_signals[i], &g_guard_saved[i], NULL);
}
