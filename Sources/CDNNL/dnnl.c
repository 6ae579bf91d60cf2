// Run-time loading of oneDNN, and each calling thread's stream, scratchpad and team size (see dinoseg_dnnl.h); in a
// build without oneDNN's headers, every entry point of the shim, refusing.
#define _GNU_SOURCE
#include "dinoseg_dnnl.h"
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if DINOSEG_HAVE_DNNL
#include "dnnl_loader.h"
#endif

int dinoseg_dnnl_built(void) { return DINOSEG_HAVE_DNNL; }

#if !DINOSEG_HAVE_DNNL
int dinoseg_dnnl_open(const char *path, char *error, size_t errorSize) {
    (void)path;
    snprintf(error, errorSize, "this build of DinoSeg was made without oneDNN's headers (libdnnl-dev)");
    return -1;
}
const dinoseg_dnnl_info *dinoseg_dnnl_describe(void) { return NULL; }
const char *dinoseg_dnnl_last_impl(void) { return ""; }

static int without_dnnl(char *error, size_t errorSize) {
    snprintf(error, errorSize, "this build of DinoSeg was made without oneDNN");
    return -1;
}
int dinoseg_dnnl_matmul(const dinoseg_dnnl_matmul_desc *desc, const void *a, const void *b, const float *bias, void *c,
                        int threads, char *error, size_t errorSize) {
    (void)desc, (void)a, (void)b, (void)bias, (void)c, (void)threads;
    return without_dnnl(error, errorSize);
}
int dinoseg_dnnl_conv(const dinoseg_dnnl_conv_desc *desc, const void *a, const void *b, const float *bias, float *out,
                      int threads, char *error, size_t errorSize) {
    (void)desc, (void)a, (void)b, (void)bias, (void)out, (void)threads;
    return without_dnnl(error, errorSize);
}
#else

#define DEFINE(ret, name, params) ret(*p_##name) params;
DNNL_FUNCTIONS(DEFINE)
static void (*p_omp_set_num_threads)(int);

int g_dnnl_loaded;
dnnl_engine_t g_dnnl_engine;
static dinoseg_dnnl_info g_info;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch ((int)isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

static int open_locked(const char *path, char *error, size_t errorSize) {
    const char *name = (path && *path) ? path : getenv("DINOSEG_DNNL");
    if (!name || !*name) name = "libdnnl.so.2";
    // OpenMP threads that spin after a primitive (libgomp's default) take a core from DinoSeg's own loops that run
    // between the multiplies; passive waiting measured faster for a head's training step. libgomp reads this once,
    // when it loads with oneDNN just below; a user's own setting is kept, and ours is removed again afterwards so
    // child processes (the benchmarks' peers) see the environment the user set.
    int ownWaitPolicy = getenv("OMP_WAIT_POLICY") == NULL;
    if (ownWaitPolicy) setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (ownWaitPolicy) unsetenv("OMP_WAIT_POLICY");
    if (!h) {
        const char *why = dlerror();
        snprintf(error, errorSize, "%s", why ? why : "dlopen failed");
        return -1;
    }
#define RESOLVE(ret, fname, params)                                                                                \
    p_##fname = (ret(*) params)dlsym(h, #fname);                                                                   \
    if (!p_##fname) {                                                                                              \
        snprintf(error, errorSize, "%s has no %s (not oneDNN 2.x)", name, #fname);                                 \
        dlclose(h);                                                                                                \
        return -1;                                                                                                 \
    }
    DNNL_FUNCTIONS(RESOLVE)
    const dnnl_version_t *v = p_dnnl_version();
    if (v->major != 2) {
        snprintf(error, errorSize, "%s is oneDNN %d.%d; DinoSeg's shim speaks the 2.x C API", name, v->major, v->minor);
        dlclose(h);
        return -1;
    }
    if (v->cpu_runtime != DNNL_RUNTIME_OMP && v->cpu_runtime != DNNL_RUNTIME_SEQ) {
        snprintf(error, errorSize, "%s uses CPU runtime %u; DinoSeg supports OpenMP or sequential builds", name,
                 v->cpu_runtime);
        dlclose(h);
        return -1;
    }
    // The library's OpenMP (libgomp is among its dependencies, so the handle finds it): each calling thread sets its
    // own team size, which is how one thread budget covers BLAS, oneDNN and DinoSeg's own loops.
    p_omp_set_num_threads = (void (*)(int))dlsym(h, "omp_set_num_threads");
    if (p_dnnl_engine_create(&g_dnnl_engine, dnnl_cpu, 0) != dnnl_success) {
        snprintf(error, errorSize, "%s could not create a CPU engine", name);
        dlclose(h);
        return -1;
    }
    g_info.major = v->major;
    g_info.minor = v->minor;
    g_info.patch = v->patch;
    Dl_info dl;
    char resolved[PATH_MAX];
    if (dladdr((void *)p_dnnl_version, &dl) && dl.dli_fname && realpath(dl.dli_fname, resolved))
        snprintf(g_info.path, sizeof g_info.path, "%s", resolved);
    else
        snprintf(g_info.path, sizeof g_info.path, "%s", name);
    snprintf(g_info.isa, sizeof g_info.isa, "%s", isa_name(p_dnnl_get_effective_cpu_isa()));
    g_dnnl_loaded = 1;
    return 0;
}

int dinoseg_dnnl_open(const char *path, char *error, size_t errorSize) {
    pthread_mutex_lock(&g_lock);
    int rc = g_dnnl_loaded ? 0 : open_locked(path, error, errorSize);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

const dinoseg_dnnl_info *dinoseg_dnnl_describe(void) { return g_dnnl_loaded ? &g_info : NULL; }

// ---------------------------------------------------------------------------------------------------------------
static __thread dnnl_stream_t t_stream;
static __thread void *t_scratch;
static __thread size_t t_scratchBytes;
static __thread int t_threads;
static __thread char t_impl[64];

dnnl_stream_t dnnl_thread_stream(char *error, size_t errorSize) {
    if (!t_stream && p_dnnl_stream_create(&t_stream, g_dnnl_engine, dnnl_stream_default_flags) != dnnl_success) {
        t_stream = NULL;
        snprintf(error, errorSize, "oneDNN could not create a stream");
    }
    return t_stream;
}

void *dnnl_thread_scratch(size_t bytes, char *error, size_t errorSize) {
    if (bytes > t_scratchBytes) {
        free(t_scratch);
        t_scratchBytes = 0;
        if (posix_memalign(&t_scratch, 64, bytes) != 0) {
            t_scratch = NULL;
            snprintf(error, errorSize, "out of memory for oneDNN's scratchpad (%zu bytes)", bytes);
            return NULL;
        }
        t_scratchBytes = bytes;
    }
    return t_scratch ? t_scratch : (void *)&t_scratchBytes;  // a valid pointer even for 0 bytes
}

void dnnl_thread_set_threads(int n) {
    if (p_omp_set_num_threads && n > 0 && n != t_threads) {
        p_omp_set_num_threads(n);
        t_threads = n;
    }
}

void dnnl_thread_set_impl(const char *impl) { snprintf(t_impl, sizeof t_impl, "%s", impl); }

const char *dinoseg_dnnl_last_impl(void) { return t_impl; }
#endif
