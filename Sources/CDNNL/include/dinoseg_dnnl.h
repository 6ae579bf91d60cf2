// oneDNN, loaded at run time with dlopen, for matrix multiplies with bf16 inputs and f32 accumulation (and f32 ones
// for comparison). Loading at run time keeps a machine without oneDNN working: it builds and runs fp32, and only
// bf16 is refused. Supported: oneDNN 2.x (libdnnl.so.2; Debian 12 ships 2.6.3). oneDNN 3.0 changed the C API
// (memory descriptors and primitive descriptors are created differently), so libdnnl.so.3 is not loaded.
#ifndef DINOSEG_DNNL_H
#define DINOSEG_DNNL_H

#include <stddef.h>
#include <stdint.h>

// Whether this build compiles against oneDNN's headers; -DDINOSEG_WITHOUT_DNNL builds as a machine without them would.
#if __has_include(<oneapi/dnnl/dnnl.h>) && !defined(DINOSEG_WITHOUT_DNNL)
#define DINOSEG_HAVE_DNNL 1
#else
#define DINOSEG_HAVE_DNNL 0
#endif

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

// Row-major C[m,n] = act(alpha op(A) op(B) + bias + beta C). A and B are both `type` (bf16 as uint16 bit patterns);
// C is `outType`; trans 0 = as stored ([m, lda] / [k, ldb]), 1 = transposed ([k, lda] / [n, ldb]).
typedef struct {
    int type, outType;
    int transA, transB;
    int m, n, k, lda, ldb, ldc;
    float alpha;       // 1 when there is a bias
    float beta;        // 0 unless C is f32
    int hasBias;       // bias [n] (f32) added to every row
    int gelu;          // 1: exact GELU, 0.5·x·(1 + erf(x/√2)), after the bias
} dinoseg_dnnl_matmul_desc;

// Runs the matmul on `threads` OpenMP threads of the calling thread; primitives are cached per description.
// Returns 0, or -1 with a one-line reason in `error` (not loaded, or oneDNN refused the shape).
int dinoseg_dnnl_matmul(const dinoseg_dnnl_matmul_desc *desc, const void *a, const void *b, const float *bias, void *c,
                        int threads, char *error, size_t errorSize);

// The implementation oneDNN picked for the last shape this thread ran (e.g. "brg:avx512_core_bf16"), or "".
const char *dinoseg_dnnl_last_impl(void);

// ---------------------------------------------------------------------------------------------------------------
// Convolutions (conv.c): oneDNN's direct convolution on channels-last activations and hwio weights as DinoSeg stores
// them (src [n, h, w, cin], weights [k, k, cin, cout], dst [n, oh, ow, cout], all dense). Square kernel, equal stride,
// zero padding and dilation on both axes; oh = (h + 2·pad − dilation·(kernel − 1) − 1) / stride + 1 (floored).
// Inputs are `type` (bf16 as uint16 bit patterns); outputs, accumulation and the bias are f32.
enum { DINOSEG_DNNL_CONV_FORWARD = 0, DINOSEG_DNNL_CONV_BACKWARD_DATA = 1, DINOSEG_DNNL_CONV_BACKWARD_WEIGHTS = 2 };

typedef struct {
    int pass;          // DINOSEG_DNNL_CONV_*
    int type;          // DINOSEG_DNNL_F32 or DINOSEG_DNNL_BF16: the two inputs of the pass
    int n, h, w, cin, cout;
    int kernel, stride, pad, dilation;  // dilation 1 = dense
    int hasBias;       // forward only: bias [cout] (f32) added to every pixel
    int accumulate;    // 1: the output is added to what `out` holds (out += …), 0: overwritten
    int plainWeights;  // 1: make oneDNN use the hwio weights as stored; 0: let it pick a layout (weights reordered in
                       // the calling thread's scratch, in and out of it)
    int winograd;      // 1: oneDNN's Winograd F(4×4, 3×3) where it has one (3×3, stride 1, no dilation, on
                       // AVX-512), with activations reordered to and from its blocked layout in the thread's scratch;
                       // direct otherwise. It computes in f32 (bf16 inputs are widened exactly, so they keep their
                       // bf16 rounding); its transforms round differently from a direct convolution.
} dinoseg_dnnl_conv_desc;

// One pass on `threads` OpenMP threads of the calling thread; primitives are cached per description.
//   forward:          out [n, oh, ow, cout] (+)= conv(a = src, b = weights) + bias
//   backward data:    out [n, h, w, cin]    (+)= conv_backward_data(a = diff_dst, b = weights)
//   backward weights: out [k, k, cin, cout] (+)= conv_backward_weights(a = src, b = diff_dst)   (no bias gradient)
// Returns 0, or -1 with a one-line reason in `error` (not loaded, or oneDNN refused the shape). The implementation run
// is recorded for dinoseg_dnnl_last_impl.
int dinoseg_dnnl_conv(const dinoseg_dnnl_conv_desc *desc, const void *a, const void *b, const float *bias, float *out,
                      int threads, char *error, size_t errorSize);

#endif
