// Portable path: 4-lane vectors (SSE2 on x86-64, NEON on arm64), multiply and add rounded separately.
#define KW 4
#define KFMA 0
#define KTARGET
#define KNAME(f) f##_generic
#include "kernels_body.h"
