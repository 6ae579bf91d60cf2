// Run-time choice of the kernel path: each public kernel takes the path first (DINOSEG_PATH_*) and calls that
// path's build of kernels_body.h. The caller picks the path from CPUID (Kernels/KernelPath.swift); a path this build
// lacks (AVX on a non-x86 build) runs the generic code.
#include "ckernels.h"
#include "kernel_list.h"

#define PARAMS_DECLARE(name, params, args)                                                                         \
    void name##_generic params;                                                                                    \
    void name##_avx2 params;                                                                                       \
    void name##_avx512 params;
DINOSEG_KERNEL_LIST(PARAMS_DECLARE)

#if defined(__x86_64__)
#define DISPATCH(name, params, args)                                                                               \
    void name(int path, ARGS_OF params) {                                                                          \
        switch (path) {                                                                                            \
        case DINOSEG_PATH_AVX512: name##_avx512 args; return;                                                      \
        case DINOSEG_PATH_AVX2: name##_avx2 args; return;                                                          \
        default: name##_generic args; return;                                                                      \
        }                                                                                                          \
    }
#else
#define DISPATCH(name, params, args)                                                                               \
    void name(int path, ARGS_OF params) { (void)path; name##_generic args; }
#endif
#define ARGS_OF(...) __VA_ARGS__
DINOSEG_KERNEL_LIST(DISPATCH)

int dinoseg_paths_compiled(void) {
#if defined(__x86_64__)
    return (1 << DINOSEG_PATH_GENERIC) | (1 << DINOSEG_PATH_AVX2) | (1 << DINOSEG_PATH_AVX512);
#else
    return 1 << DINOSEG_PATH_GENERIC;
#endif
}
