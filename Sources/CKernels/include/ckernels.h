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

#endif
