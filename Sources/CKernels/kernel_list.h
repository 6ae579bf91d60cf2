// Every dispatched kernel once: X(name, parameters, arguments). dispatch.c turns each into a declaration per path
// and a public function `name(int path, parameters...)` (declared in include/ckernels.h).
#include <stddef.h>
#include <stdint.h>
#define DINOSEG_KERNEL_LIST(X)                                                                                     \
    X(dinoseg_dwconv7x7_f32,                                                                                       \
      (const float *in, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, const float *weight, const float *bias, float *out,  \
       float *pad),                                                                                                \
      (in, h, w, c, weight, bias, out, pad))                                                                       \
    X(dinoseg_layernorm_rows_f32,                                                                                  \
      (const float *x, ptrdiff_t rows, ptrdiff_t c, const float *weight, const float *bias, float eps, float *y),   \
      (x, rows, c, weight, bias, eps, y))                                                                          \
    X(dinoseg_erf_f32, (const float *x, ptrdiff_t n, float *y), (x, n, y))                                         \
    X(dinoseg_bias_gelu_f32, (float *x, ptrdiff_t rows, ptrdiff_t cols, const float *bias), (x, rows, cols, bias)) \
    X(dinoseg_scaled_residual_f32,                                                                                 \
      (float *x, const float *u, ptrdiff_t rows, ptrdiff_t c, const float *bias, const float *gamma),              \
      (x, u, rows, c, bias, gamma))                                                                                \
    X(dinoseg_wino_input_f32,                                                                                      \
      (const float *image, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, float *v, const float *zero,        \
       ptrdiff_t t0, ptrdiff_t t1),                                                                                \
      (image, n, h, w, c, v, zero, t0, t1))                                                                        \
    X(dinoseg_wino_input_backward_f32,                                                                             \
      (const float *dv, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, float *image, float *sink,             \
       ptrdiff_t parity, ptrdiff_t r0, ptrdiff_t r1),                                                              \
      (dv, n, h, w, c, image, sink, parity, r0, r1))                                                               \
    X(dinoseg_wino_output_f32,                                                                                     \
      (const float *m, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, const float *bias, float *out,          \
       ptrdiff_t t0, ptrdiff_t t1),                                                                                \
      (m, n, h, w, c, bias, out, t0, t1))                                                                          \
    X(dinoseg_wino_output_backward_f32,                                                                            \
      (const float *dout, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, float *dm, const float *zero,        \
       ptrdiff_t t0, ptrdiff_t t1),                                                                                \
      (dout, n, h, w, c, dm, zero, t0, t1))                                                                        \
    X(dinoseg_wino_weights_f32,                                                                                    \
      (const float *weight, ptrdiff_t cin, ptrdiff_t cout, float *u, ptrdiff_t ci0, ptrdiff_t ci1),                \
      (weight, cin, cout, u, ci0, ci1))                                                                            \
    X(dinoseg_wino_weights_backward_f32,                                                                           \
      (const float *du, ptrdiff_t cin, ptrdiff_t cout, float *dweight, ptrdiff_t ci0, ptrdiff_t ci1),              \
      (du, cin, cout, dweight, ci0, ci1)) \
    X(dinoseg_f32_to_bf16, (const float *x, ptrdiff_t n, uint16_t *y), (x, n, y))                                  \
    X(dinoseg_bf16_to_f32, (const uint16_t *x, ptrdiff_t n, float *y), (x, n, y)) \
    X(dinoseg_bias_gelu_bf16, (const float *x, ptrdiff_t rows, ptrdiff_t cols, const float *bias, uint16_t *y),     \
      (x, rows, cols, bias, y))
