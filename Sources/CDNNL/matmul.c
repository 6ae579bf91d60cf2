// oneDNN's matmul primitive, one per description, cached (see dinoseg_dnnl.h).
#include "dinoseg_dnnl.h"
#include <stdio.h>
#include <stdlib.h>

#if DINOSEG_HAVE_DNNL
#include "dnnl_loader.h"

typedef struct {
    dnnl_entry_head head;
    dinoseg_dnnl_matmul_desc key;
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t a, b, c, bias, scratch;
} entry;

static void destroy(void *e) {
    if (((entry *)e)->primitive) p_dnnl_primitive_destroy(((entry *)e)->primitive);
    free(e);
}

// Fills in the entry of e->key. 0, or -1 with the reason in `error`.
static int build(void *entry_, char *error, size_t errorSize) {
    entry *e = entry_;
    const dinoseg_dnnl_matmul_desc *k = &e->key;
    dnnl_dims_t da = {k->m, k->k}, sa = {k->transA ? 1 : k->lda, k->transA ? k->lda : 1};
    dnnl_dims_t db = {k->k, k->n}, sb = {k->transB ? 1 : k->ldb, k->transB ? k->ldb : 1};
    dnnl_dims_t dc = {k->m, k->n}, sc = {k->ldc, 1};
    dnnl_dims_t dbias = {1, k->n}, sbias = {k->n, 1};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = p_dnnl_memory_desc_init_by_strides(&e->a, 2, da, dnnl_type_of(k->type), sa);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_strides(&e->b, 2, db, dnnl_type_of(k->type), sb);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_strides(&e->c, 2, dc, dnnl_type_of(k->outType), sc);
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
    if (s == dnnl_success)
        s = dnnl_finish(pd, &e->primitive, &e->scratch, &e->head.scratchBytes, e->head.impl, sizeof e->head.impl);
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    if (ops) p_dnnl_post_ops_destroy(ops);
    if (attr) p_dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_success) return 0;
    snprintf(error, errorSize, "oneDNN refused a %s matmul %dx%dx%d (status %d)", k->type ? "bf16" : "f32", k->m, k->n,
             k->k, (int)s);
    return -1;
}

static dnnl_cache g_cache = DNNL_CACHE(entry, key, build, destroy);

int dinoseg_dnnl_matmul(const dinoseg_dnnl_matmul_desc *desc, const void *a, const void *b, const float *bias, void *c,
                        int threads, char *error, size_t errorSize) {
    dinoseg_dnnl_matmul_desc key = *desc;  // a plain struct of ints and floats: no padding, so memcmp compares it
    dnnl_call call;
    if (dnnl_call_begin(&g_cache, &key, threads, &call, error, errorSize) != 0) return -1;
    const entry *e = call.entry;
    dnnl_args l = {.status = dnnl_success};
    dnnl_arg(&l, DNNL_ARG_SRC, &e->a, a);
    dnnl_arg(&l, DNNL_ARG_WEIGHTS, &e->b, b);
    dnnl_arg(&l, DNNL_ARG_DST, &e->c, c);
    if (key.hasBias) dnnl_arg(&l, DNNL_ARG_BIAS, &e->bias, bias);
    if (e->head.scratchBytes) dnnl_arg(&l, DNNL_ARG_SCRATCHPAD, &e->scratch, call.scratch);
    dnnl_status_t s = dnnl_run(e->primitive, call.stream, &l);
    if (s == dnnl_success) s = p_dnnl_stream_wait(call.stream);
    dnnl_call_end(&g_cache, &call);
    if (s != dnnl_success) {
        snprintf(error, errorSize, "oneDNN matmul %dx%dx%d failed (status %d)", key.m, key.n, key.k, (int)s);
        return -1;
    }
    return 0;
}
#endif
