// The primitive cache, call frame and argument list that the matmul and the convolution share (see dnnl_loader.h).
#include "dinoseg_dnnl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if DINOSEG_HAVE_DNNL
#include "dnnl_loader.h"

// A new entry for `key`, built; NULL with the reason in `error`.
static void *make(const dnnl_cache *cache, const void *key, char *error, size_t errorSize) {
    char *e = calloc(1, cache->entrySize);
    if (!e) {
        snprintf(error, errorSize, "out of memory");
        return NULL;
    }
    memcpy(e + cache->keyOffset, key, cache->keySize);
    if (cache->build(e, error, errorSize) == 0) return e;
    cache->destroy(e);
    return NULL;
}

// The entry of `key`, made and cached when new; *transient is set when it is the caller's to destroy.
static void *find(dnnl_cache *cache, const void *key, int *transient, char *error, size_t errorSize) {
    *transient = 0;
    pthread_mutex_lock(&cache->lock);
    for (int i = 0; i < cache->count; i++) {
        if (memcmp((const char *)cache->entries[i] + cache->keyOffset, key, cache->keySize) == 0) {
            void *hit = cache->entries[i];
            pthread_mutex_unlock(&cache->lock);
            return hit;
        }
    }
    void *e = make(cache, key, error, errorSize);
    if (e && cache->count < DNNL_CACHE_CAP) cache->entries[cache->count++] = e;
    else if (e) *transient = 1;
    pthread_mutex_unlock(&cache->lock);
    return e;
}

int dnnl_call_begin(dnnl_cache *cache, const void *key, int threads, dnnl_call *call, char *error, size_t errorSize) {
    if (!g_dnnl_loaded) {
        snprintf(error, errorSize, "oneDNN is not loaded");
        return -1;
    }
    call->entry = find(cache, key, &call->transient, error, errorSize);
    if (!call->entry) return -1;
    const dnnl_entry_head *head = call->entry;
    call->stream = dnnl_thread_stream(error, errorSize);
    call->scratch = call->stream ? dnnl_thread_scratch(head->scratchBytes, error, errorSize) : NULL;
    if (!call->stream || !call->scratch) {
        if (call->transient) cache->destroy(call->entry);
        return -1;
    }
    dnnl_thread_set_threads(threads);
    return 0;
}

void dnnl_call_end(const dnnl_cache *cache, dnnl_call *call) {
    dnnl_thread_set_impl(((const dnnl_entry_head *)call->entry)->impl);
    if (call->transient) cache->destroy(call->entry);
}

void dnnl_arg(dnnl_args *l, int name, const dnnl_memory_desc_t *md, const void *data) {
    dnnl_memory_t m = NULL;
    if (l->status == dnnl_success) l->status = p_dnnl_memory_create(&m, md, g_dnnl_engine, (void *)data);
    if (m) l->args[l->n++] = (dnnl_exec_arg_t){name, m};
}

dnnl_status_t dnnl_run(dnnl_primitive_t prim, dnnl_stream_t stream, dnnl_args *l) {
    dnnl_status_t s = l->status;
    if (s == dnnl_success) s = p_dnnl_primitive_execute(prim, stream, l->n, l->args);
    for (int i = 0; i < l->n; i++) p_dnnl_memory_destroy(l->args[i].memory);
    return s;
}

dnnl_status_t dnnl_finish(dnnl_primitive_desc_t pd, dnnl_primitive_t *prim, dnnl_memory_desc_t *scratch,
                          size_t *padBytes, char *impl, size_t implSize) {
    if (impl) {
        const char *name = NULL;
        if (p_dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
            snprintf(impl, implSize, "%s", name);
    }
    const dnnl_memory_desc_t *md = p_dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (md) {
        *scratch = *md;
        size_t bytes = p_dnnl_memory_desc_get_size(md);
        if (bytes > *padBytes) *padBytes = bytes;
    }
    return p_dnnl_primitive_create(prim, pd);
}
#endif
