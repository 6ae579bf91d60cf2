// Run-time loading of oneDNN and its matmul primitive (see dinoseg_dnnl.h).
#define _GNU_SOURCE
#include "dinoseg_dnnl.h"
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#define HAVE_DNNL 1
#else
#define HAVE_DNNL 0
#endif

int dinoseg_dnnl_built(void) { return HAVE_DNNL; }

#if !HAVE_DNNL
int dinoseg_dnnl_open(const char *path, char *error, size_t errorSize) {
    (void)path;
    snprintf(error, errorSize, "this build of DinoSeg was made without oneDNN's headers (libdnnl-dev)");
    return -1;
}
const dinoseg_dnnl_info *dinoseg_dnnl_describe(void) { return NULL; }
int dinoseg_dnnl_gemm(int type, int transA, int transB, int m, int n, int k, float alpha, const void *a, int lda,
                      const void *b, int ldb, float beta, float *c, int ldc, int threads, char *error, size_t errorSize) {
    (void)type; (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b;
    (void)ldb; (void)beta; (void)c; (void)ldc; (void)threads;
    snprintf(error, errorSize, "this build of DinoSeg was made without oneDNN");
    return -1;
}
const char *dinoseg_dnnl_last_impl(void) { return ""; }
#else

#if DNNL_VERSION_MAJOR != 2
#error "the oneDNN shim speaks the oneDNN 2.x C API; oneDNN 3.x changed it"
#endif

// The oneDNN functions used, resolved from the loaded library. X(return type, name, parameters).
#define DNNL_FUNCTIONS(X)                                                                                          \
    X(const dnnl_version_t *, dnnl_version, (void))                                                               \
    X(dnnl_cpu_isa_t, dnnl_get_effective_cpu_isa, (void))                                                         \
    X(dnnl_status_t, dnnl_engine_create, (dnnl_engine_t *, dnnl_engine_kind_t, size_t))                           \
    X(dnnl_status_t, dnnl_stream_create, (dnnl_stream_t *, dnnl_engine_t, unsigned))                              \
    X(dnnl_status_t, dnnl_stream_wait, (dnnl_stream_t))                                                           \
    X(dnnl_status_t, dnnl_memory_desc_init_by_strides,                                                            \
      (dnnl_memory_desc_t *, int, const dnnl_dims_t, dnnl_data_type_t, const dnnl_dims_t))                        \
    X(size_t, dnnl_memory_desc_get_size, (const dnnl_memory_desc_t *))                                            \
    X(dnnl_status_t, dnnl_matmul_desc_init,                                                                       \
      (dnnl_matmul_desc_t *, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,  \
       const dnnl_memory_desc_t *))                                                                               \
    X(dnnl_status_t, dnnl_primitive_attr_create, (dnnl_primitive_attr_t *))                                       \
    X(dnnl_status_t, dnnl_primitive_attr_destroy, (dnnl_primitive_attr_t))                                        \
    X(dnnl_status_t, dnnl_primitive_attr_set_output_scales, (dnnl_primitive_attr_t, dnnl_dim_t, int, const float *)) \
    X(dnnl_status_t, dnnl_primitive_attr_set_post_ops, (dnnl_primitive_attr_t, const_dnnl_post_ops_t))            \
    X(dnnl_status_t, dnnl_primitive_attr_set_scratchpad_mode, (dnnl_primitive_attr_t, dnnl_scratchpad_mode_t))    \
    X(dnnl_status_t, dnnl_post_ops_create, (dnnl_post_ops_t *))                                                   \
    X(dnnl_status_t, dnnl_post_ops_destroy, (dnnl_post_ops_t))                                                    \
    X(dnnl_status_t, dnnl_post_ops_append_sum, (dnnl_post_ops_t, float))                                          \
    X(dnnl_status_t, dnnl_primitive_desc_create,                                                                  \
      (dnnl_primitive_desc_t *, const_dnnl_op_desc_t, const_dnnl_primitive_attr_t, dnnl_engine_t,                 \
       const_dnnl_primitive_desc_t))                                                                              \
    X(dnnl_status_t, dnnl_primitive_desc_destroy, (dnnl_primitive_desc_t))                                        \
    X(dnnl_status_t, dnnl_primitive_desc_query, (const_dnnl_primitive_desc_t, dnnl_query_t, int, void *))         \
    X(const dnnl_memory_desc_t *, dnnl_primitive_desc_query_md, (const_dnnl_primitive_desc_t, dnnl_query_t, int)) \
    X(dnnl_status_t, dnnl_primitive_create, (dnnl_primitive_t *, const_dnnl_primitive_desc_t))                    \
    X(dnnl_status_t, dnnl_primitive_destroy, (dnnl_primitive_t))                                                  \
    X(dnnl_status_t, dnnl_primitive_execute, (const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t *)) \
    X(dnnl_status_t, dnnl_memory_create, (dnnl_memory_t *, const dnnl_memory_desc_t *, dnnl_engine_t, void *))    \
    X(dnnl_status_t, dnnl_memory_destroy, (dnnl_memory_t))

#define DECLARE(ret, name, params) static ret(*p_##name) params;
DNNL_FUNCTIONS(DECLARE)
static void (*p_omp_set_num_threads)(int);

static dinoseg_dnnl_info g_info;
static int g_loaded;
static dnnl_engine_t g_engine;
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
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
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
    if (p_dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) {
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
    g_loaded = 1;
    return 0;
}

int dinoseg_dnnl_open(const char *path, char *error, size_t errorSize) {
    pthread_mutex_lock(&g_lock);
    int rc = g_loaded ? 0 : open_locked(path, error, errorSize);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

const dinoseg_dnnl_info *dinoseg_dnnl_describe(void) { return g_loaded ? &g_info : NULL; }

// ---------------------------------------------------------------------------------------------------------------
// One matmul primitive per shape. Entries are never evicted (a primitive another thread may be running stays valid);
// past the cap, a shape gets a primitive for one call only.
typedef struct {
    int type, transA, transB, m, n, k, lda, ldb, ldc;
    float alpha, beta;
} gemm_key;

typedef struct {
    gemm_key key;
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t a, b, c, scratch;
    size_t scratchBytes;
    char impl[64];
} gemm_entry;

enum { CACHE_CAP = 4096 };
static gemm_entry *g_cache[CACHE_CAP];
static int g_cached;

static void destroy_entry(gemm_entry *e) {
    if (e->primitive) p_dnnl_primitive_destroy(e->primitive);
    free(e);
}

static gemm_entry *make_entry(const gemm_key *key, char *error, size_t errorSize) {
    gemm_entry *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(error, errorSize, "out of memory");
        return NULL;
    }
    e->key = *key;
    dnnl_data_type_t in = key->type == DINOSEG_DNNL_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t da = {key->m, key->k}, sa = {key->transA ? 1 : key->lda, key->transA ? key->lda : 1};
    dnnl_dims_t db = {key->k, key->n}, sb = {key->transB ? 1 : key->ldb, key->transB ? key->ldb : 1};
    dnnl_dims_t dc = {key->m, key->n}, sc = {key->ldc, 1};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = p_dnnl_memory_desc_init_by_strides(&e->a, 2, da, in, sa);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_strides(&e->b, 2, db, in, sb);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_strides(&e->c, 2, dc, dnnl_f32, sc);
    if (s == dnnl_success) s = p_dnnl_matmul_desc_init(&desc, &e->a, &e->b, NULL, &e->c);
    if (s == dnnl_success) s = p_dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success) s = p_dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && key->alpha != 1.0f) s = p_dnnl_primitive_attr_set_output_scales(attr, 1, 0, &key->alpha);
    if (s == dnnl_success && key->beta != 0.0f) {
        s = p_dnnl_post_ops_create(&ops);
        if (s == dnnl_success) s = p_dnnl_post_ops_append_sum(ops, key->beta);
        if (s == dnnl_success) s = p_dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (s == dnnl_success) s = p_dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL);
    if (s == dnnl_success) {
        const char *impl = NULL;
        if (p_dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(e->impl, sizeof e->impl, "%s", impl);
        const dnnl_memory_desc_t *scratch = p_dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (scratch) {
            e->scratch = *scratch;
            e->scratchBytes = p_dnnl_memory_desc_get_size(scratch);
        }
        s = p_dnnl_primitive_create(&e->primitive, pd);
    }
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    if (ops) p_dnnl_post_ops_destroy(ops);
    if (attr) p_dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
        snprintf(error, errorSize, "oneDNN refused a %s matmul %dx%dx%d (status %d)", in == dnnl_bf16 ? "bf16" : "f32",
                 key->m, key->n, key->k, (int)s);
        destroy_entry(e);
        return NULL;
    }
    return e;
}

// Looks the shape up, creating and caching it when new. *transient is set when the entry is the caller's to free.
static gemm_entry *find_entry(const gemm_key *key, int *transient, char *error, size_t errorSize) {
    *transient = 0;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_cached; i++) {
        if (memcmp(&g_cache[i]->key, key, sizeof *key) == 0) {
            gemm_entry *hit = g_cache[i];
            pthread_mutex_unlock(&g_lock);
            return hit;
        }
    }
    gemm_entry *e = make_entry(key, error, errorSize);
    if (e && g_cached < CACHE_CAP) g_cache[g_cached++] = e;
    else if (e) *transient = 1;
    pthread_mutex_unlock(&g_lock);
    return e;
}

// Per calling thread: its stream, its scratchpad, its OpenMP team size and the last implementation it ran.
static __thread dnnl_stream_t t_stream;
static __thread void *t_scratch;
static __thread size_t t_scratchBytes;
static __thread int t_threads;
static __thread char t_impl[64];

const char *dinoseg_dnnl_last_impl(void) { return t_impl; }

int dinoseg_dnnl_gemm(int type, int transA, int transB, int m, int n, int k, float alpha, const void *a, int lda,
                      const void *b, int ldb, float beta, float *c, int ldc, int threads, char *error, size_t errorSize) {
    if (!g_loaded) {
        snprintf(error, errorSize, "oneDNN is not loaded");
        return -1;
    }
    gemm_key key;
    memset(&key, 0, sizeof key);  // padding bytes take part in the memcmp
    key.type = type; key.transA = transA; key.transB = transB;
    key.m = m; key.n = n; key.k = k; key.lda = lda; key.ldb = ldb; key.ldc = ldc;
    key.alpha = alpha; key.beta = beta;
    int transient;
    gemm_entry *e = find_entry(&key, &transient, error, errorSize);
    if (!e) return -1;
    if (!t_stream && p_dnnl_stream_create(&t_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        snprintf(error, errorSize, "oneDNN could not create a stream");
        if (transient) destroy_entry(e);
        return -1;
    }
    if (e->scratchBytes > t_scratchBytes) {
        free(t_scratch);
        t_scratchBytes = 0;
        if (posix_memalign(&t_scratch, 64, e->scratchBytes) != 0) {
            t_scratch = NULL;
            snprintf(error, errorSize, "out of memory for oneDNN's scratchpad (%zu bytes)", e->scratchBytes);
            if (transient) destroy_entry(e);
            return -1;
        }
        t_scratchBytes = e->scratchBytes;
    }
    if (p_omp_set_num_threads && threads > 0 && threads != t_threads) {
        p_omp_set_num_threads(threads);
        t_threads = threads;
    }
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, ms = NULL;
    dnnl_status_t s = p_dnnl_memory_create(&ma, &e->a, g_engine, (void *)a);
    if (s == dnnl_success) s = p_dnnl_memory_create(&mb, &e->b, g_engine, (void *)b);
    if (s == dnnl_success) s = p_dnnl_memory_create(&mc, &e->c, g_engine, c);
    if (s == dnnl_success && e->scratchBytes) s = p_dnnl_memory_create(&ms, &e->scratch, g_engine, t_scratch);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, ms}};
        s = p_dnnl_primitive_execute(e->primitive, t_stream, ms ? 4 : 3, args);
        if (s == dnnl_success) s = p_dnnl_stream_wait(t_stream);
    }
    if (ma) p_dnnl_memory_destroy(ma);
    if (mb) p_dnnl_memory_destroy(mb);
    if (mc) p_dnnl_memory_destroy(mc);
    if (ms) p_dnnl_memory_destroy(ms);
    snprintf(t_impl, sizeof t_impl, "%s", e->impl);
    if (transient) destroy_entry(e);
    if (s != dnnl_success) {
        snprintf(error, errorSize, "oneDNN matmul %dx%dx%d failed (status %d)", m, n, k, (int)s);
        return -1;
    }
    return 0;
}
#endif
