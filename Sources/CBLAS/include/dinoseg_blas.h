// The BLAS, loaded at run time with dlopen: DinoSeg needs only cblas_sgemm plus the thread-count and identification
// calls that OpenBLAS, BLIS and MKL each name differently. Loading at run time (instead of linking) lets DinoSeg
// choose OpenBLAS's kernel core before the library initialises and lets a user pick another BLAS by path.
#ifndef DINOSEG_BLAS_H
#define DINOSEG_BLAS_H

#include <stddef.h>

// Which family the loaded library belongs to (decides the thread-count calls and the version string).
typedef enum { DINOSEG_BLAS_OTHER = 0, DINOSEG_BLAS_OPENBLAS = 1, DINOSEG_BLAS_BLIS = 2, DINOSEG_BLAS_MKL = 3 } dinoseg_blas_family;

typedef struct {
    int loaded;
    dinoseg_blas_family family;
    char requested[1024];  // the name or path given to dlopen
    char path[4096];       // the file cblas_sgemm came from (symlinks resolved)
    char version[512];     // openblas_get_config / bli_info_get_version_str / MKL_Get_Version_String, or ""
    char core[64];         // openblas_get_corename (the kernel core chosen at load), or ""
} dinoseg_blas_info;

// Loads `path` (NULL or "": $DINOSEG_BLAS if set, else libopenblas.so.0, then libblas.so.3). Call before any other
// BLAS call; a second call after a successful load does nothing and returns 0. On failure returns -1 and writes a
// one-line reason into `error`.
int dinoseg_blas_open(const char *path, char *error, size_t errorSize);

// What was loaded (loads the default first if nothing is; exits with a one-line message if that fails).
const dinoseg_blas_info *dinoseg_blas_describe(void);

// Row-major C[m,n] = alpha op(A) op(B) + beta C (trans: 0 = as stored, 1 = transposed). Loads the default on first use.
void dinoseg_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc);

// Threads the BLAS uses per call (no-ops / 1 for a BLAS without thread controls).
void dinoseg_blas_set_threads(int n);
int dinoseg_blas_get_threads(void);

// While armed, SIGILL, SIGSEGV, SIGBUS and SIGFPE write `message` to stderr and replace the process with
// execve(path, argv, envp): an OpenBLAS core that crashes on a CPU newer than itself is then retried with another core.
// Everything is prepared by the caller because a signal handler may only make async-signal-safe calls; the strings
// must stay valid until disarmed. Disarming restores the handlers that were there before.
void dinoseg_blas_guard_arm(const char *message, const char *path, char *const argv[], char *const envp[]);
void dinoseg_blas_guard_disarm(void);

#endif
