// oneDNN, loaded at run time with dlopen, for matrix multiplies with bf16 inputs and f32 accumulation (and f32 ones
// for comparison). Loading at run time keeps a machine without oneDNN working: it builds and runs fp32, and only
// bf16 is refused. Supported: oneDNN 2.x (libdnnl.so.2; Debian 12 ships 2.6.3). oneDNN 3.0 changed the C API
// (memory descriptors and primitive descriptors are created differently), so libdnnl.so.3 is not loaded.
#ifndef DINOSEG_DNNL_H
#define DINOSEG_DNNL_H

#include <stddef.h>
#include <stdint.h>

// 1 when this build saw oneDNN's headers (oneapi/dnnl/dnnl.h); 0 makes every call below report "not built with".
int dinoseg_dnnl_built(void);

// Loads `path` (NULL or "": $DINOSEG_DNNL if set, else libdnnl.so.2). A second call after a successful load returns 0.
// On failure returns -1 and writes a one-line reason into `error`.
int dinoseg_dnnl_open(const char *path, char *error, size_t errorSize);

typedef struct {
    int major, minor, patch;
    char path[4096];   // the file loaded, symlinks resolved
    char isa[64];      // the instruction set oneDNN chose from CPUID (dnnl_get_effective_cpu_isa), e.g. "avx512_core_bf16"
} dinoseg_dnnl_info;

// What is loaded (NULL before a successful dinoseg_dnnl_open).
const dinoseg_dnnl_info *dinoseg_dnnl_describe(void);

enum { DINOSEG_DNNL_F32 = 0, DINOSEG_DNNL_BF16 = 1 };

// Row-major C[m,n] = alpha op(A) op(B) + beta C, C in f32; A and B both f32 or both bf16 (uint16 bit patterns),
// as `type` says; trans 0 = as stored ([m, lda] / [k, ldb]), 1 = transposed ([k, lda] / [n, ldb]). Runs on
// `threads` OpenMP threads of the calling thread. Primitives are cached per shape. Returns 0, or -1 with a one-line
// reason in `error` (not loaded, or oneDNN refused the shape).
int dinoseg_dnnl_gemm(int type, int transA, int transB, int m, int n, int k, float alpha, const void *a, int lda,
                      const void *b, int ldb, float beta, float *c, int ldc, int threads, char *error, size_t errorSize);

// The implementation oneDNN picked for the last shape this thread ran (e.g. "brg:avx512_core_bf16"), or "".
const char *dinoseg_dnnl_last_impl(void);

#endif
