// AVX2 + FMA path (x86-64 only): 8-lane vectors, fused multiply-add. Chosen at run time (dispatch.c).
#if defined(__x86_64__)
#define KW 8
#define KFMA 1
#define KTARGET __attribute__((target("avx2,fma")))
#define KNAME(f) f##_avx2
#include "kernels_body.h"
#endif
