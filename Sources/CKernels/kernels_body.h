// The vectorised kernels, written once and compiled once per instruction set (kernels_generic.c, kernels_avx2.c,
// kernels_avx512.c). The including file defines:
//   KW        float lanes per vector (4 generic, 8 AVX2, 16 AVX-512)
//   KFMA      1 when fused multiply-add is an instruction on this path
//   KTARGET   the function attribute of this path (empty for generic)
//   KNAME(f)  f with the path's suffix
// Every kernel takes raw buffers and sizes. Channel counts that do not fill a vector finish with scalar code doing
// the same operations (the same rounding: fused where the vector code is fused), so a tail lane equals a vector lane.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef float vf __attribute__((vector_size(KW * sizeof(float))));

#define KI static inline __attribute__((always_inline)) KTARGET

KI vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
KI void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
KI vf splat(float x) { return (vf){0} + x; }
KI float lds(const float *p) { return *p; }
KI void sts(float *p, float v) { *p = v; }
KI float splats(float x) { return x; }
KI vf vmin(vf a, vf b) { return __builtin_elementwise_min(a, b); }
KI vf vmax(vf a, vf b) { return __builtin_elementwise_max(a, b); }
KI float smin(float a, float b) { return a < b ? a : b; }
KI float smax(float a, float b) { return a > b ? a : b; }
#if KFMA
KI vf vfma(vf a, vf b, vf c) { return __builtin_elementwise_fma(a, b, c); }   // a·b + c, one rounding
KI float sfma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
#else
KI vf vfma(vf a, vf b, vf c) { return a * b + c; }
KI float sfma(float a, float b, float c) { return a * b + c; }
#endif
KI float hsum(vf v) { float s = 0; for (int i = 0; i < KW; i++) s += v[i]; return s; }

// ---------------------------------------------------------------------------------------------------------------
// Depthwise 7×7, stride 1, zero padding 3, with bias; channels-last.
//   in [h, w, c]   weight [7, 7, c]   bias [c]   out [h, w, c]   pad scratch [(h + 6)·(w + 6)·c]
// The input is copied into a zero-bordered buffer so the inner loops have no bounds tests. Six neighbouring output
// pixels are computed at once so each weight load feeds six FMAs; the window slides one column per tap.

KI void dw_strip6(const float *src, ptrdiff_t rs, ptrdiff_t c, const float *w, vf b, float *dst) {
    vf a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b;
    for (int ky = 0; ky < 7; ky++) {
        const float *row = src + ky * rs, *wk = w + ky * 7 * c;
        vf i0 = ld(row), i1 = ld(row + c), i2 = ld(row + 2 * c), i3 = ld(row + 3 * c), i4 = ld(row + 4 * c);
        for (int kx = 0; kx < 7; kx++) {
            vf wv = ld(wk + kx * c), i5 = ld(row + (kx + 5) * c);
            a0 = vfma(i0, wv, a0); a1 = vfma(i1, wv, a1); a2 = vfma(i2, wv, a2);
            a3 = vfma(i3, wv, a3); a4 = vfma(i4, wv, a4); a5 = vfma(i5, wv, a5);
            i0 = i1; i1 = i2; i2 = i3; i3 = i4; i4 = i5;
        }
    }
    st(dst, a0); st(dst + c, a1); st(dst + 2 * c, a2); st(dst + 3 * c, a3); st(dst + 4 * c, a4); st(dst + 5 * c, a5);
}

KTARGET void KNAME(dinoseg_dwconv7x7_f32)(const float *in, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, const float *weight,
                                          const float *bias, float *out, float *pad) {
    const ptrdiff_t pw = w + 6, border = 3 * pw * c;
    memset(pad, 0, (size_t)border * sizeof(float));
    memset(pad + (3 + h) * pw * c, 0, (size_t)border * sizeof(float));
    for (ptrdiff_t y = 0; y < h; y++) {
        float *row = pad + (y + 3) * pw * c;
        memset(row, 0, (size_t)(3 * c) * sizeof(float));
        memcpy(row + 3 * c, in + y * w * c, (size_t)(w * c) * sizeof(float));
        memset(row + (3 + w) * c, 0, (size_t)(3 * c) * sizeof(float));
    }
    const ptrdiff_t vc = c - c % KW;
    for (ptrdiff_t y = 0; y < h; y++) {
        float *orow = out + y * w * c;
        // A remainder of 3–5 columns is one more strip moved left to end at the border (recomputing a few outputs
        // costs less than 1-wide outputs, which need a weight load per FMA); 1–2 columns go 1-wide.
        const ptrdiff_t rem = w % 6, stripEnd = w - rem;
        ptrdiff_t x = 0;
        while (x < stripEnd || (x == stripEnd && rem >= 3 && w >= 6)) {
            const ptrdiff_t sx = x < w - 6 ? x : w - 6;
            for (ptrdiff_t cb = 0; cb < vc; cb += KW)
                dw_strip6(pad + (y * pw + sx) * c + cb, pw * c, c, weight + cb, ld(bias + cb), orow + sx * c + cb);
            x += 6;
        }
        for (; x < w; x++) {
            for (ptrdiff_t cb = 0; cb < vc; cb += KW) {
                vf a = ld(bias + cb);
                for (int ky = 0; ky < 7; ky++) {
                    const float *src = pad + ((y + ky) * pw + x) * c + cb, *wk = weight + ky * 7 * c + cb;
                    for (int kx = 0; kx < 7; kx++) a = vfma(ld(src + kx * c), ld(wk + kx * c), a);
                }
                st(orow + x * c + cb, a);
            }
        }
        for (ptrdiff_t ch = vc; ch < c; ch++) {
            for (ptrdiff_t xx = 0; xx < w; xx++) {
                float a = bias[ch];
                for (int ky = 0; ky < 7; ky++) {
                    const float *src = pad + ((y + ky) * pw + xx) * c + ch, *wk = weight + ky * 7 * c + ch;
                    for (int kx = 0; kx < 7; kx++) a = sfma(src[kx * c], wk[kx * c], a);
                }
                orow[xx * c + ch] = a;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNorm over each row: y = (x − mean)/sqrt(var + eps)·weight + bias, biased variance, two passes over the row.
//   x, y [rows, c] (y may alias x)   weight, bias [c]

KTARGET void KNAME(dinoseg_layernorm_rows_f32)(const float *x, ptrdiff_t rows, ptrdiff_t c, const float *weight,
                                               const float *bias, float eps, float *y) {
    const ptrdiff_t vc = c - c % KW;
    const float invC = 1.0f / (float)c;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        vf s = splat(0);
        for (ptrdiff_t j = 0; j < vc; j += KW) s += ld(xr + j);
        float sum = hsum(s);
        for (ptrdiff_t j = vc; j < c; j++) sum += xr[j];
        const float mean = sum * invC;
        const vf m = splat(mean);
        vf q = splat(0);
        for (ptrdiff_t j = 0; j < vc; j += KW) { vf d = ld(xr + j) - m; q = vfma(d, d, q); }
        float sq = hsum(q);
        for (ptrdiff_t j = vc; j < c; j++) { float d = xr[j] - mean; sq = sfma(d, d, sq); }
        const float rstd = 1.0f / __builtin_sqrtf(sq * invC + eps);
        const vf rs = splat(rstd);
        for (ptrdiff_t j = 0; j < vc; j += KW) st(yr + j, vfma((ld(xr + j) - m) * rs, ld(weight + j), ld(bias + j)));
        for (ptrdiff_t j = vc; j < c; j++) yr[j] = sfma((xr[j] - mean) * rstd, weight[j], bias[j]);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// erf by the rational approximation of Eigen/XLA (odd degree-13 numerator, even degree-8 denominator, input clamped
// to ±4 where float erf is ±1); max relative error against double erf ≈ 4e-7 over [−5, 5]. ERF_BODY is written
// once for both the vector type (V = vf) and float (V = float).
#define ERF_BODY(V, SPLAT, MIN, MAX, FMA, v)                                                                            \
    V x = MIN(MAX(v, SPLAT(-4.0f)), SPLAT(4.0f));                                                                      \
    V x2 = x * x;                                                                                                      \
    V p = SPLAT(-2.72614225801306e-10f);                                                                               \
    p = FMA(p, x2, SPLAT(2.77068142495902e-08f));                                                                      \
    p = FMA(p, x2, SPLAT(-2.10102402082508e-06f));                                                                     \
    p = FMA(p, x2, SPLAT(-5.69250639462346e-05f));                                                                     \
    p = FMA(p, x2, SPLAT(-7.34990630326855e-04f));                                                                     \
    p = FMA(p, x2, SPLAT(-2.95459980854025e-03f));                                                                     \
    p = FMA(p, x2, SPLAT(-1.60960333262415e-02f));                                                                     \
    V q = SPLAT(-1.45660718464996e-05f);                                                                               \
    q = FMA(q, x2, SPLAT(-2.13374055278905e-04f));                                                                     \
    q = FMA(q, x2, SPLAT(-1.68282697438203e-03f));                                                                     \
    q = FMA(q, x2, SPLAT(-7.37332916720468e-03f));                                                                     \
    q = FMA(q, x2, SPLAT(-1.42647390514189e-02f));                                                                     \
    return x * p / q;

KI vf erf_v(vf v) { ERF_BODY(vf, splat, vmin, vmax, vfma, v) }
KI float erf_s(float v) { ERF_BODY(float, splats, smin, smax, sfma, v) }

KTARGET void KNAME(dinoseg_erf_f32)(const float *x, ptrdiff_t n, float *y) {
    ptrdiff_t i = 0;
    for (; i + KW <= n; i += KW) st(y + i, erf_v(ld(x + i)));
    for (; i < n; i++) y[i] = erf_s(x[i]);
}

// GELU, exact (erf) form, fused with a bias: x ← gelu(x + bias) = ½v·(1 + erf(v/√2)), v = x + bias.
//   x [rows, cols] in place   bias [cols]
KTARGET void KNAME(dinoseg_bias_gelu_f32)(float *x, ptrdiff_t rows, ptrdiff_t cols, const float *bias) {
    const ptrdiff_t vc = cols - cols % KW;
    const float invSqrt2 = 0.7071067811865476f;
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *row = x + r * cols;
        for (ptrdiff_t j = 0; j < vc; j += KW) {
            vf v = ld(row + j) + ld(bias + j), hv = splat(0.5f) * v;
            st(row + j, vfma(hv, erf_v(v * splat(invSqrt2)), hv));
        }
        for (ptrdiff_t j = vc; j < cols; j++) {
            float v = row[j] + bias[j], hv = 0.5f * v;
            row[j] = sfma(hv, erf_s(v * invSqrt2), hv);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Scaled residual fused with a bias: x ← x + gamma·(u + bias).   x, u [rows, c]   bias, gamma [c]
KTARGET void KNAME(dinoseg_scaled_residual_f32)(float *x, const float *u, ptrdiff_t rows, ptrdiff_t c,
                                                const float *bias, const float *gamma) {
    const ptrdiff_t vc = c - c % KW;
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *xr = x + r * c;
        const float *ur = u + r * c;
        for (ptrdiff_t j = 0; j < vc; j += KW) st(xr + j, vfma(ld(gamma + j), ld(ur + j) + ld(bias + j), ld(xr + j)));
        for (ptrdiff_t j = vc; j < c; j++) xr[j] = sfma(gamma[j], ur[j] + bias[j], xr[j]);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Winograd F(2×2, 3×3) transforms on channels-last data, padding 1 (see Winograd.swift for the maths and layouts).
// Tile t = (b·th + ty)·tw + tx of an [n, h, w, c] batch covers rows 2ty−1 … 2ty+2, columns 2tx−1 … 2tx+2;
// transformed arrays are [16, T, c] with T = n·th·tw. Each function does a range of tiles (or input channels, or
// tile rows) so the caller can split the work across threads. `zero` holds c zeros.
// Each block body is a macro over the element type so that vectors and the scalar channel tail share one text.

#define W_BT(a0, a1, a2, a3, o0, o1, o2, o3) o0 = a0 - a2; o1 = a1 + a2; o2 = a2 - a1; o3 = a1 - a3;
#define W_B(a0, a1, a2, a3, o0, o1, o2, o3) o0 = a0; o1 = a1 - a2 + a3; o2 = a1 + a2 - a0; o3 = -a3;
#define W_AT(a0, a1, a2, a3, o0, o1) o0 = a0 + a1 + a2; o1 = a1 - a2 - a3;
#define W_A(a0, a1, o0, o1, o2, o3) o0 = a0; o1 = a0 + a1; o2 = a0 - a1; o3 = -a1;

// v = Bᵀ d B: d from the 16 source pointers, v written at 16 strides.
// The 16 pixels of the 4×4 input tile (ty, tx) of image b (tile origin 2·ty − 1, 2·tx − 1) as element offsets into an
// [n, h, w, c] map, −1 for pixels in the zero padding: the forward transform reads them, its adjoint adds onto them.
KI void wino_tile_pixels(ptrdiff_t b, ptrdiff_t ty, ptrdiff_t tx, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t at[16]) {
    for (int i = 0; i < 4; i++) {
        const ptrdiff_t y = 2 * ty - 1 + i;
        for (int j = 0; j < 4; j++) {
            const ptrdiff_t x = 2 * tx - 1 + j;
            at[i * 4 + j] = (y >= 0 && y < h && x >= 0 && x < w) ? ((b * h + y) * w + x) * c : -1;
        }
    }
}

#define WINO_INPUT_BLOCK(V, L, S)                                                                                      \
    {                                                                                                                  \
        V d[16], t[16], o[16];                                                                                         \
        for (int q = 0; q < 16; q++) d[q] = L(src[q] + k);                                                             \
        for (int j = 0; j < 4; j++) { W_BT(d[j], d[4 + j], d[8 + j], d[12 + j], t[j], t[4 + j], t[8 + j], t[12 + j]) } \
        for (int i = 0; i < 4; i++) {                                                                                  \
            W_BT(t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3], o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]) \
        }                                                                                                              \
        for (int q = 0; q < 16; q++) S(dst + k + q * stride, o[q]);                                                    \
    }

KTARGET void KNAME(dinoseg_wino_input_f32)(const float *image, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                           float *v, const float *zero, ptrdiff_t t0, ptrdiff_t t1) {
    const ptrdiff_t th = (h + 1) / 2, tw = (w + 1) / 2, total = n * th * tw, stride = total * c;
    const float *src[16];
    for (ptrdiff_t tile = t0; tile < t1; tile++) {
        const ptrdiff_t b = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
        ptrdiff_t at[16];
        wino_tile_pixels(b, ty, tx, h, w, c, at);
        for (int q = 0; q < 16; q++) src[q] = at[q] < 0 ? zero : image + at[q];
        float *dst = v + tile * c;
        ptrdiff_t k = 0;
        for (; k + KW <= c; k += KW) WINO_INPUT_BLOCK(vf, ld, st)
        for (; k < c; k++) WINO_INPUT_BLOCK(float, lds, sts)
    }
}

// image += B dv Bᵀ scattered onto the pixels of each tile (the adjoint of the input transform), for tile rows
// r0 … r1−1 of one parity (tile row ty = 2·(r mod rowsOfParity) + parity of image r / rowsOfParity): rows of one
// parity never share pixels. `sink` is c floats of scratch that absorbs the padding pixels.
#define WINO_INPUT_BACKWARD_BLOCK(V, L, S)                                                                             \
    {                                                                                                                  \
        V a[16], t[16], d[16];                                                                                         \
        for (int q = 0; q < 16; q++) a[q] = L(srcv + k + q * stride);                                                  \
        for (int i = 0; i < 4; i++) {                                                                                  \
            W_B(a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3], t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]) \
        }                                                                                                              \
        for (int j = 0; j < 4; j++) { W_B(t[j], t[4 + j], t[8 + j], t[12 + j], d[j], d[4 + j], d[8 + j], d[12 + j]) }  \
        for (int q = 0; q < 16; q++) S(dst[q] + k, L(dst[q] + k) + d[q]);                                              \
    }

KTARGET void KNAME(dinoseg_wino_input_backward_f32)(const float *dv, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w,
                                                    ptrdiff_t c, float *image, float *sink, ptrdiff_t parity,
                                                    ptrdiff_t r0, ptrdiff_t r1) {
    const ptrdiff_t th = (h + 1) / 2, tw = (w + 1) / 2, total = n * th * tw, stride = total * c;
    const ptrdiff_t rowsOfParity = (th - parity + 1) / 2;
    float *dst[16];
    for (ptrdiff_t r = r0; r < r1; r++) {
        const ptrdiff_t b = r / rowsOfParity, ty = 2 * (r % rowsOfParity) + parity;
        for (ptrdiff_t tx = 0; tx < tw; tx++) {
            const ptrdiff_t tile = (b * th + ty) * tw + tx;
            ptrdiff_t at[16];
            wino_tile_pixels(b, ty, tx, h, w, c, at);
            for (int q = 0; q < 16; q++) dst[q] = at[q] < 0 ? sink : image + at[q];
            const float *srcv = dv + tile * c;
            ptrdiff_t k = 0;
            for (; k + KW <= c; k += KW) WINO_INPUT_BACKWARD_BLOCK(vf, ld, st)
            for (; k < c; k++) WINO_INPUT_BACKWARD_BLOCK(float, lds, sts)
        }
    }
}

// out = Aᵀ m A (+ bias) for each tile, cropped to the image.
#define WINO_OUTPUT_BLOCK(V, L, S)                                                                                     \
    {                                                                                                                  \
        V a[16], s0[4], s1[4], y00, y01, y10, y11;                                                                     \
        for (int q = 0; q < 16; q++) a[q] = L(srcm + k + q * stride);                                                  \
        for (int j = 0; j < 4; j++) { W_AT(a[j], a[4 + j], a[8 + j], a[12 + j], s0[j], s1[j]) }                        \
        W_AT(s0[0], s0[1], s0[2], s0[3], y00, y01)                                                                     \
        W_AT(s1[0], s1[1], s1[2], s1[3], y10, y11)                                                                     \
        V bv = L(bias + k);                                                                                            \
        S(o00 + k, y00 + bv);                                                                                          \
        if (hasX1) S(o00 + c + k, y01 + bv);                                                                           \
        if (hasY1) {                                                                                                   \
            S(o00 + w * c + k, y10 + bv);                                                                              \
            if (hasX1) S(o00 + w * c + c + k, y11 + bv);                                                               \
        }                                                                                                              \
    }

KTARGET void KNAME(dinoseg_wino_output_f32)(const float *m, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                            const float *bias, float *out, ptrdiff_t t0, ptrdiff_t t1) {
    const ptrdiff_t th = (h + 1) / 2, tw = (w + 1) / 2, total = n * th * tw, stride = total * c;
    for (ptrdiff_t tile = t0; tile < t1; tile++) {
        const ptrdiff_t b = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
        const ptrdiff_t y0 = 2 * ty, x0 = 2 * tx;
        const int hasY1 = y0 + 1 < h, hasX1 = x0 + 1 < w;
        float *o00 = out + ((b * h + y0) * w + x0) * c;
        const float *srcm = m + tile * c;
        ptrdiff_t k = 0;
        for (; k + KW <= c; k += KW) WINO_OUTPUT_BLOCK(vf, ld, st)
        for (; k < c; k++) WINO_OUTPUT_BLOCK(float, lds, sts)
    }
}

// dm = A dy Aᵀ for each tile (the adjoint of the output transform; pixels outside the image contribute 0).
#define WINO_OUTPUT_BACKWARD_BLOCK(V, L, S)                                                                            \
    {                                                                                                                  \
        V e0[4], e1[4], o[16];                                                                                         \
        W_A(L(p00 + k), L(p01 + k), e0[0], e0[1], e0[2], e0[3])                                                        \
        W_A(L(p10 + k), L(p11 + k), e1[0], e1[1], e1[2], e1[3])                                                        \
        for (int j = 0; j < 4; j++) { W_A(e0[j], e1[j], o[j], o[4 + j], o[8 + j], o[12 + j]) }                          \
        for (int q = 0; q < 16; q++) S(dst + k + q * stride, o[q]);                                                    \
    }

KTARGET void KNAME(dinoseg_wino_output_backward_f32)(const float *dout, ptrdiff_t n, ptrdiff_t h, ptrdiff_t w,
                                                     ptrdiff_t c, float *dm, const float *zero, ptrdiff_t t0,
                                                     ptrdiff_t t1) {
    const ptrdiff_t th = (h + 1) / 2, tw = (w + 1) / 2, total = n * th * tw, stride = total * c;
    for (ptrdiff_t tile = t0; tile < t1; tile++) {
        const ptrdiff_t b = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
        const ptrdiff_t y0 = 2 * ty, x0 = 2 * tx;
        const float *p00 = dout + ((b * h + y0) * w + x0) * c;
        const float *p01 = x0 + 1 < w ? p00 + c : zero;
        const float *p10 = y0 + 1 < h ? p00 + w * c : zero;
        const float *p11 = (x0 + 1 < w && y0 + 1 < h) ? p00 + w * c + c : zero;
        float *dst = dm + tile * c;
        ptrdiff_t k = 0;
        for (; k + KW <= c; k += KW) WINO_OUTPUT_BACKWARD_BLOCK(vf, ld, st)
        for (; k < c; k++) WINO_OUTPUT_BACKWARD_BLOCK(float, lds, sts)
    }
}

// u = G g Gᵀ for input channels ci0 … ci1−1 and every output channel. weight [9·cin, cout] (tap t of (ci, co) at
// t·cin·cout + ci·cout + co), u [16, cin, cout].
#define WINO_WEIGHTS_BLOCK(V, L, S, SPLAT)                                                                             \
    {                                                                                                                  \
        const V half = SPLAT(0.5f);                                                                                    \
        V g[9], r[12];                                                                                                 \
        for (int q = 0; q < 9; q++) g[q] = L(gp + co + q * tap);                                                       \
        /* G g: 4 rows × 3 columns */                                                                                  \
        for (int j = 0; j < 3; j++) {                                                                                  \
            r[j] = g[j];                                                                                               \
            r[3 + j] = half * (g[j] + g[3 + j] + g[6 + j]);                                                            \
            r[6 + j] = half * (g[j] - g[3 + j] + g[6 + j]);                                                            \
            r[9 + j] = g[6 + j];                                                                                       \
        }                                                                                                              \
        for (int i = 0; i < 4; i++) {                                                                                  \
            float *q = o + co + i * 4 * plane;                                                                         \
            V a = r[3 * i], b = r[3 * i + 1], cc = r[3 * i + 2];                                                       \
            S(q, a);                                                                                                   \
            S(q + plane, half * (a + b + cc));                                                                         \
            S(q + 2 * plane, half * (a - b + cc));                                                                     \
            S(q + 3 * plane, cc);                                                                                      \
        }                                                                                                              \
    }

KTARGET void KNAME(dinoseg_wino_weights_f32)(const float *weight, ptrdiff_t cin, ptrdiff_t cout, float *u,
                                             ptrdiff_t ci0, ptrdiff_t ci1) {
    const ptrdiff_t plane = cin * cout, tap = cin * cout;
    for (ptrdiff_t ci = ci0; ci < ci1; ci++) {
        const float *gp = weight + ci * cout;
        float *o = u + ci * cout;
        ptrdiff_t co = 0;
        for (; co + KW <= cout; co += KW) WINO_WEIGHTS_BLOCK(vf, ld, st, splat)
        for (; co < cout; co++) WINO_WEIGHTS_BLOCK(float, lds, sts, splats)
    }
}

// dweight += Gᵀ du G (the adjoint of the weight transform) for input channels ci0 … ci1−1.
#define WINO_WEIGHTS_BACKWARD_BLOCK(V, L, S, SPLAT)                                                                    \
    {                                                                                                                  \
        const V half = SPLAT(0.5f);                                                                                    \
        V a[12]; /* adjoint along j for each row i: (d0, d1, d2, d3) → (d0 + ½(d1+d2), ½(d1−d2), ½(d1+d2) + d3) */     \
        for (int i = 0; i < 4; i++) {                                                                                  \
            const float *q = d + co + i * 4 * plane;                                                                   \
            V d0 = L(q), d1 = L(q + plane), d2 = L(q + 2 * plane), d3 = L(q + 3 * plane);                              \
            V s = half * (d1 + d2);                                                                                    \
            a[3 * i] = d0 + s; a[3 * i + 1] = half * (d1 - d2); a[3 * i + 2] = s + d3;                                 \
        }                                                                                                              \
        /* adjoint along i: row 0 ← a + ½(b + c); row 1 ← ½(b − c); row 2 ← ½(b + c) + e */                            \
        for (int j = 0; j < 3; j++) {                                                                                  \
            V t0 = a[j] + half * (a[3 + j] + a[6 + j]);                                                                \
            V t1 = half * (a[3 + j] - a[6 + j]);                                                                       \
            V t2 = half * (a[3 + j] + a[6 + j]) + a[9 + j];                                                            \
            float *p0 = g + co + j * tap, *p1 = g + co + (3 + j) * tap, *p2 = g + co + (6 + j) * tap;                  \
            S(p0, L(p0) + t0); S(p1, L(p1) + t1); S(p2, L(p2) + t2);                                                   \
        }                                                                                                              \
    }

KTARGET void KNAME(dinoseg_wino_weights_backward_f32)(const float *du, ptrdiff_t cin, ptrdiff_t cout, float *dweight,
                                                      ptrdiff_t ci0, ptrdiff_t ci1) {
    const ptrdiff_t plane = cin * cout, tap = cin * cout;
    for (ptrdiff_t ci = ci0; ci < ci1; ci++) {
        const float *d = du + ci * cout;
        float *g = dweight + ci * cout;
        ptrdiff_t co = 0;
        for (; co + KW <= cout; co += KW) WINO_WEIGHTS_BACKWARD_BLOCK(vf, ld, st, splat)
        for (; co < cout; co++) WINO_WEIGHTS_BACKWARD_BLOCK(float, lds, sts, splats)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// f32 ↔ bf16 (bf16 = the upper half of the f32 bit pattern).   x [n] → y [n]
// Rounding adds 0x7fff plus the lowest kept bit, so a tie goes to the even neighbour; a NaN keeps its top bits and
// gets the quiet bit, so it cannot round into an infinity.
typedef uint32_t vu32 __attribute__((vector_size(KW * sizeof(uint32_t))));
typedef uint16_t vu16 __attribute__((vector_size(KW * sizeof(uint16_t))));

// Rounds a vector of f32 to bf16 and stores it (narrowed as one vector, not lane by lane).
KI void st_bf16(uint16_t *p, vf x) {
    vu32 u;
    memcpy(&u, &x, sizeof u);
    vu32 rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    vu32 nan = (vu32)((u & 0x7fffffffu) > 0x7f800000u);
    vu16 bits = __builtin_convertvector((rounded & ~nan) | (((u >> 16) | 0x40u) & nan), vu16);
    memcpy(p, &bits, sizeof bits);
}

KI uint16_t bf16_round(uint32_t u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

KTARGET void KNAME(dinoseg_f32_to_bf16)(const float *x, ptrdiff_t n, uint16_t *y) {
    ptrdiff_t i = 0;
    for (; i + KW <= n; i += KW) st_bf16(y + i, ld(x + i));
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        y[i] = bf16_round(u);
    }
}

KTARGET void KNAME(dinoseg_bf16_to_f32)(const uint16_t *x, ptrdiff_t n, float *y) {
    ptrdiff_t i = 0;
    for (; i + KW <= n; i += KW) {
        vu16 h;
        memcpy(&h, x + i, sizeof h);
        vu32 u = __builtin_convertvector(h, vu32) << 16;
        memcpy(y + i, &u, sizeof u);
    }
    for (; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(y + i, &u, sizeof u);
    }
}

// GELU with bias, written as bf16 (the rounding the next matmul applies to its input anyway):
//   y ← bf16(gelu(x + bias))   x [rows, cols] f32   bias [cols]   y [rows, cols] bf16
KTARGET void KNAME(dinoseg_bias_gelu_bf16)(const float *x, ptrdiff_t rows, ptrdiff_t cols, const float *bias,
                                           uint16_t *y) {
    const ptrdiff_t vc = cols - cols % KW;
    const float invSqrt2 = 0.7071067811865476f;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        uint16_t *out = y + r * cols;
        for (ptrdiff_t j = 0; j < vc; j += KW) {
            vf v = ld(row + j) + ld(bias + j), hv = splat(0.5f) * v;
            st_bf16(out + j, vfma(hv, erf_v(v * splat(invSqrt2)), hv));
        }
        for (ptrdiff_t j = vc; j < cols; j++) {
            float v = row[j] + bias[j], hv = 0.5f * v, g = sfma(hv, erf_s(v * invSqrt2), hv);
            uint32_t u;
            memcpy(&u, &g, sizeof u);
            out[j] = bf16_round(u);
        }
    }
}
