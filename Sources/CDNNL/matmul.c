// oneDNN's matmul primitive, one per description, cached (see dinoseg_dnnl.h).
#include "dinoseg_dnnl.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !DINOSEG_HAVE_DNNL
int dinoseg_dnnl_matmul(const dinoseg_dnnl_matmul_desc *desc, const void *a, const void *b, const float *bias, void *c,
                        int threads, char *error, size_t errorSize) {
    (void)desc; (void)a; (void)b; (void)bias; (void)c; (void)threads;
    snprintf(error, errorSize, "this build of DinoSeg was made without oneDNN");
    return -1;
}
#else
#include "dnnl_loader.h"

// Entries are never evicted (a primitive another thread may be running stays valid); past the cap, a description gets
// a primitive for one call only.
typedef struct {
    dinoseg_dnnl_matmul_desc key;
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t a, b, c, bias, scratch;
    size_t scratchBytes;
    char impl[64];
} entry;

enum { CACHE_CAP = 4096 };
static entry *g_cache[CACHE_CAP];
static int g_cached;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void destroy(entry *e) {
    if (e->primitive) p_dnnl_primitive_destroy(e->primitive);
    free(e);
}

static dnnl_data_type_t type_of(int t) { return t == DINOSEG_DNNL_BF16 ? dnnl_bf16 : dnnl_f32; }

static entry *make(const dinoseg_dnnl_matmul_desc *k, char *error, size_t errorSize) {
    entry *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(error, errorSize, "out of memory");
        return NULL;
    }
    e->key = *k;
    dnnl_dims_t da = {k->m, k->k}, sa = {k->transA ? 1 : k->lda, k->transA ? k->lda : 1};
    dnnl_dims_t db = {k->k, k->n}, sb = {k->transB ? 1 : k->ldb, k->transB ? k->ldb : 1};
    dnnl_dims_t dc = {k->m, k->n}, sc = {k->ldc, 1};
    dnnl_dims_t dbias = {1, k->n}, sbias = {k->n, 1};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = p_dnnl_memory_desc_init_by_strides(&e->a, 2, da, type_of(k->type), sa);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_strides(&e->b, 2, db, type_of(k->type), sb);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_strides(&e->c, 2, dc, type_of(k->outType), sc);
    if (s == dnnl_success && k->hasBias) s = p_dnnl_memory_desc_init_by_strides(&e->bias, 2, dbias, dnnl_f32, sbias);
    if (s == dnnl_success) s = p_dnnl_matmul_desc_init(&desc, &e->a, &e->b, k->hasBias ? &e->bias : NULL, &e->c);
    if (s == dnnl_success) s = p_dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success) s = p_dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && k->alpha != 1.0f) s = p_dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha);
    if (s == dnnl_success && (k->beta != 0.0f || k->gelu)) {
        s = p_dnnl_post_ops_create(&ops);
        if (s == dnnl_success && k->beta != 0.0f) s = p_dnnl_post_ops_append_sum(ops, k->beta);
        if (s == dnnl_success && k->gelu) s = p_dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_gelu_erf, 0, 0);
        if (s == dnnl_success) s = p_dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (s == dnnl_success) s = p_dnnl_primitive_desc_create(&pd, &desc, attr, g_dnnl_engine, NULL);
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
        snprintf(error, errorSize, "oneDNN refused a %s matmul %dx%dx%d (status %d)", k->type ? "bf16" : "f32", k->m,
                 k->n, k->k, (int)s);
        destroy(e);
        return NULL;
    }
    return e;
}

// Looks the description up, creating and caching it when new. *transient is set when the entry is the caller's to free.
static entry *find(const dinoseg_dnnl_matmul_desc *key, int *transient, char *error, size_t errorSize) {
    *transient = 0;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_cached; i++) {
        if (memcmp(&g_cache[i]->key, key, sizeof *key) == 0) {
            entry *hit = g_cache[i];
            pthread_mutex_unlock(&g_lock);
            return hit;
        }
    }
    entry *e = make(key, error, errorSize);
    if (e && g_cached < CACHE_CAP) g_cache[g_cached++] = e;
    else if (e) *transient = 1;
    pthread_mutex_unlock(&g_lock);
    return e;
}

int dinoseg_dnnl_matmul(const dinoseg_dnnl_matmul_desc *desc, const void *a, const void *b, const float *bias, void *c,
                        int threads, char *error, size_t errorSize) {
    if (!g_dnnl_loaded) {
        snprintf(error, errorSize, "oneDNN is not loaded");
        return -1;
    }
    dinoseg_dnnl_matmul_desc key = *desc;  // a plain struct of ints and floats: no padding, so memcmp compares it
    int transient;
    entry *e = find(&key, &transient, error, errorSize);
    if (!e) return -1;
    dnnl_stream_t stream = dnnl_thread_stream(error, errorSize);
    void *scratch = stream ? dnnl_thread_scratch(e->scratchBytes, error, errorSize) : NULL;
    if (!stream || !scratch) {
        if (transient) destroy(e);
        return -1;
    }
    dnnl_thread_set_threads(threads);
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, mbias = NULL, ms = NULL;
    dnnl_status_t s = p_dnnl_memory_create(&ma, &e->a, g_dnnl_engine, (void *)a);
    if (s == dnnl_success) s = p_dnnl_memory_create(&mb, &e->b, g_dnnl_engine, (void *)b);
    if (s == dnnl_success) s = p_dnnl_memory_create(&mc, &e->c, g_dnnl_engine, c);
    if (s == dnnl_success && key.hasBias) s = p_dnnl_memory_create(&mbias, &e->bias, g_dnnl_engine, (void *)bias);
    if (s == dnnl_success && e->scratchBytes) s = p_dnnl_memory_create(&ms, &e->scratch, g_dnnl_engine, scratch);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
        int n = 3;
        if (mbias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mbias};
        if (ms) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, ms};
        s = p_dnnl_primitive_execute(e->primitive, stream, n, args);
        if (s == dnnl_success) s = p_dnnl_stream_wait(stream);
    }
    if (ma) p_dnnl_memory_destroy(ma);
    if (mb) p_dnnl_memory_destroy(mb);
    if (mc) p_dnnl_memory_destroy(mc);
    if (mbias) p_dnnl_memory_destroy(mbias);
    if (ms) p_dnnl_memory_destroy(ms);
    dnnl_thread_set_impl(e->impl);
    if (transient) destroy(e);
    if (s != dnnl_success) {
        snprintf(error, errorSize, "oneDNN matmul %dx%dx%d failed (status %d)", key.m, key.n, key.k, (int)s);
        return -1;
    }
    return 0;
}
#endif
