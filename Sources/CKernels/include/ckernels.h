// DinoSeg's own C kernels and CPU feature detection (no system library behind this target).
#ifndef DINOSEG_CKERNELS_H
#define DINOSEG_CKERNELS_H

#include <stdint.h>

// What the CPU supports *and* the OS has enabled (XCR0 state for AVX / AVX-512), read with CPUID once.
typedef struct {
    int x86;              // 1 on x86-64, 0 elsewhere (every other field is then 0 / empty)
    char vendor[13];      // "GenuineIntel", "AuthenticAMD", ...
    char brand[49];       // marketing name, e.g. "AMD EPYC 9R14 96-Core Processor"
    int family, model, stepping;  // display family / model (extended fields folded in)
    int sse3, ssse3, sse41, sse42, avx, fma, f16c, avx2;
    int avx512f, avx512dq, avx512cd, avx512bw, avx512vl, avx512vnni, avx512bf16, avx512fp16, amx;
} dinoseg_cpu_features;

// Fills *out; never fails (zeros where a leaf is missing).
void dinoseg_cpu_detect(dinoseg_cpu_features *out);

// ---------------------------------------------------------------------------------------------------------------
// Vectorised kernels, one build per instruction set in one binary; `path` picks the build at run time.
// Raw buffers and sizes; layouts in kernels_body.h. A path the CPU lacks must not be requested (it would fault).
#include <stddef.h>

enum { DINOSEG_PATH_GENERIC = 0, DINOSEG_PATH_AVX2 = 1, DINOSEG_PATH_AVX512 = 2 };

// Bit mask (1 << path) of the paths compiled into this build (generic only on non-x86 builds).
int dinoseg_paths_compiled(void);

void dinoseg_dwconv7x7_f32(int path, const float *in, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, const float *weight,
                           const float *bias, float *out, float *pad);
void dinoseg_layernorm_rows_f32(int path, const float *x, ptrdiff_t rows, ptrdiff_t c, const float *weight,
                                const float *bias, float eps, float *y);
void dinoseg_erf_f32(int path, const float *x, ptrdiff_t n, float *y);
void dinoseg_bias_gelu_f32(int path, float *x, ptrdiff_t rows, ptrdiff_t cols, const float *bias);
void dinoseg_scaled_residual_f32(int path, float *x, const float *u, ptrdiff_t rows, ptrdiff_t c, const float *bias,
                                 const float *gamma);
void dinoseg_wino_input_f32(int path, const float *image, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                            float *v, const float *zero, ptrdiff_t t0, ptrdiff_t t1);
void dinoseg_wino_input_backward_f32(int path, const float *dv, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                     float *image, float *sink, ptrdiff_t parity, ptrdiff_t r0, ptrdiff_t r1);
void dinoseg_wino_output_f32(int path, const float *m, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                             const float *bias, float *out, ptrdiff_t t0, ptrdiff_t t1);
void dinoseg_wino_output_backward_f32(int path, const float *dout, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                      float *dm, const float *zero, ptrdiff_t t0, ptrdiff_t t1);
void dinoseg_wino_weights_f32(int path, const float *weight, ptrdiff_t cin, ptrdiff_t cout, float *u, ptrdiff_t ci0,
                              ptrdiff_t ci1);
void dinoseg_wino_weights_backward_f32(int path, const float *du, ptrdiff_t cin, ptrdiff_t cout, float *dweight,
                                       ptrdiff_t ci0, ptrdiff_t ci1);
// bf16 as the upper 16 bits of an IEEE f32. To bf16: round to nearest, ties to even (as PyTorch, oneDNN and the
// AVX512-BF16 instructions); a NaN stays a quiet NaN. From bf16: exact.
void dinoseg_f32_to_bf16(int path, const float *x, ptrdiff_t n, uint16_t *y);
void dinoseg_bf16_to_f32(int path, const uint16_t *x, ptrdiff_t n, float *y);
// y ← bf16(gelu(x + bias)), exact-erf GELU as dinoseg_bias_gelu_f32.   x [rows, cols]   bias [cols]   y [rows, cols]
void dinoseg_bias_gelu_bf16(int path, const float *x, ptrdiff_t rows, ptrdiff_t cols, const float *bias, uint16_t *y);

#endif
