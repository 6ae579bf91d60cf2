// CPUID-based feature detection. Features need both the CPUID bit and the OS enabling the register state (XGETBV),
// otherwise an AVX-512 instruction would fault on a kernel that does not save zmm registers.
#include "ckernels.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void dinoseg_cpu_detect(dinoseg_cpu_features *out) {
    memset(out, 0, sizeof *out);
    out->x86 = 1;
    unsigned a, b, c, d;
    unsigned maxLeaf = __get_cpuid_max(0, 0);
    if (maxLeaf == 0) return;
    __cpuid(0, a, b, c, d);
    memcpy(out->vendor + 0, &b, 4); memcpy(out->vendor + 4, &d, 4); memcpy(out->vendor + 8, &c, 4);
    out->vendor[12] = 0;

    __cpuid(1, a, b, c, d);
    int baseFamily = (a >> 8) & 0xf, baseModel = (a >> 4) & 0xf;
    out->stepping = a & 0xf;
    out->family = baseFamily == 0xf ? baseFamily + ((a >> 20) & 0xff) : baseFamily;
    out->model = (baseFamily == 0x6 || baseFamily == 0xf) ? (((a >> 16) & 0xf) << 4) + baseModel : baseModel;
    out->sse3 = (c >> 0) & 1; out->ssse3 = (c >> 9) & 1; out->sse41 = (c >> 19) & 1; out->sse42 = (c >> 20) & 1;
    int osxsave = (c >> 27) & 1;
    int cpuAVX = (c >> 28) & 1, cpuFMA = (c >> 12) & 1, cpuF16C = (c >> 29) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int osAVX = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
    int osAVX512 = osAVX && (xcr0 & 0xe0) == 0xe0;  // opmask + upper zmm state
    out->avx = cpuAVX && osAVX; out->fma = cpuFMA && osAVX; out->f16c = cpuF16C && osAVX;

    if (maxLeaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        out->avx2 = ((b >> 5) & 1) && osAVX;
        out->avx512f = ((b >> 16) & 1) && osAVX512;
        out->avx512dq = ((b >> 17) & 1) && osAVX512;
        out->avx512cd = ((b >> 28) & 1) && osAVX512;
        out->avx512bw = ((b >> 30) & 1) && osAVX512;
        out->avx512vl = ((b >> 31) & 1) && osAVX512;
        out->avx512vnni = ((c >> 11) & 1) && osAVX512;
        out->avx512fp16 = ((d >> 23) & 1) && osAVX512;
        // AMX-BF16 (bit 22) with tiles (bit 24) and the OS saving tile state (XCR0 bits 17-18); oneDNN asks Linux
        // for the tile permission itself.
        out->amx = ((d >> 22) & 1) && ((d >> 24) & 1) && (xcr0 & 0x60000) == 0x60000;
        unsigned subleaves = a;
        if (subleaves >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            out->avx512bf16 = ((a >> 5) & 1) && osAVX512;
        }
    }
    if (__get_cpuid_max(0x80000000, 0) >= 0x80000004) {
        unsigned regs[12];
        for (unsigned i = 0; i < 3; i++) __cpuid(0x80000002 + i, regs[4 * i], regs[4 * i + 1], regs[4 * i + 2], regs[4 * i + 3]);
        memcpy(out->brand, regs, 48);
        out->brand[48] = 0;
    }
}
#else
void dinoseg_cpu_detect(dinoseg_cpu_features *out) { memset(out, 0, sizeof *out); }
#endif
