// AVX-512 path (x86-64 only): 16-lane vectors, fused multiply-add. Chosen at run time (dispatch.c).
#if defined(__x86_64__)
#define KW 16
#define KFMA 1
#define KTARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define KNAME(f) f##_avx512
#include "kernels_body.h"
#endif
