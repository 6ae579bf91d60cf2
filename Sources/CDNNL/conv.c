// oneDNN's convolution primitives (forward, backward data, backward weights), one per description, cached; the
// weight reorders in and out of oneDNN's preferred layout and the accumulating copy-out are cached with them
// (see dinoseg_dnnl.h).
#include "dinoseg_dnnl.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !__has_include(<oneapi/dnnl/dnnl.h>)
int dinoseg_dnnl_conv(const dinoseg_dnnl_conv_desc *desc, const void *a, const void *b, const float *bias, float *out,
                      int threads, char *error, size_t errorSize) {
    (void)desc; (void)a; (void)b; (void)bias; (void)out; (void)threads;
    snprintf(error, errorSize, "this build of DinoSeg was made without oneDNN");
    return -1;
}
#else
#include "dnnl_loader.h"

// Entries are never evicted (a primitive another thread may be running stays valid); past the cap, a description gets
// primitives for one call only.
//
// A call runs up to three primitives on the calling thread's stream, all on one per-thread scratch block laid out as
// [oneDNN scratchpad (shared by the three, which run one after the other) | weights in oneDNN's layout | output]:
//   in    (forward, backward data) hwio weights → the layout the convolution chose, when it is not hwio
//   conv  the convolution
//   out   (backward passes) the convolution's output → `out`, adding to it (sum post-op) when accumulating, when the
//         output is in another layout (weight gradients) or must be added. The forward pass accumulates with a sum
//         post-op of the convolution itself.
typedef struct {
    dinoseg_dnnl_conv_desc key;
    dnnl_primitive_t conv, in, out;
    dnnl_memory_desc_t a, b, bias, weights;   // the convolution's inputs; weights: its layout of the hwio ones (in)
    dnnl_memory_desc_t plainWeights;          // hwio, `type` (in's source)
    dnnl_memory_desc_t result, plainResult;   // the convolution's output and `out` (out's source and destination)
    dnnl_memory_desc_t convScratch, inScratch, outScratch;
    size_t padBytes, weightsBytes, resultBytes;
    char impl[96];
} entry;

enum { CACHE_CAP = 4096 };
static entry *g_cache[CACHE_CAP];
static int g_cached;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void destroy(entry *e) {
    if (e->conv) p_dnnl_primitive_destroy(e->conv);
    if (e->in) p_dnnl_primitive_destroy(e->in);
    if (e->out) p_dnnl_primitive_destroy(e->out);
    free(e);
}

static dnnl_data_type_t type_of(int t) { return t == DINOSEG_DNNL_BF16 ? dnnl_bf16 : dnnl_f32; }
static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

// Whether `md` is the dense plain layout `plain` describes (same dims and strides, no inner blocks, no padding).
static int same_layout(const dnnl_memory_desc_t *md, const dnnl_memory_desc_t *plain) {
    if (md->format_kind != dnnl_blocked || md->ndims != plain->ndims || md->data_type != plain->data_type) return 0;
    if (md->format_desc.blocking.inner_nblks != 0 || md->offset0 != 0 || md->extra.flags != 0) return 0;
    for (int i = 0; i < md->ndims; i++) {
        if (md->dims[i] != plain->dims[i] || md->padded_dims[i] != plain->dims[i]) return 0;
        if (md->dims[i] > 1 && md->format_desc.blocking.strides[i] != plain->format_desc.blocking.strides[i]) return 0;
    }
    return 1;
}

static dnnl_status_t user_scratchpad_attr(dnnl_primitive_attr_t *attr, int sum) {
    dnnl_status_t s = p_dnnl_primitive_attr_create(attr);
    if (s == dnnl_success) s = p_dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && sum) {
        dnnl_post_ops_t ops = NULL;
        s = p_dnnl_post_ops_create(&ops);
        if (s == dnnl_success) s = p_dnnl_post_ops_append_sum(ops, 1.0f);
        if (s == dnnl_success) s = p_dnnl_primitive_attr_set_post_ops(*attr, ops);
        if (ops) p_dnnl_post_ops_destroy(ops);
    }
    return s;
}

// Creates the primitive of `pd`, and reads its scratchpad size (and implementation name when `impl`).
static dnnl_status_t finish(dnnl_primitive_desc_t pd, dnnl_primitive_t *prim, dnnl_memory_desc_t *scratch,
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

// A reorder from `from` to `to` (adding to `to` when `sum`).
static dnnl_status_t make_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, int sum,
                                  dnnl_primitive_t *prim, dnnl_memory_desc_t *scratch, size_t *padBytes) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = user_scratchpad_attr(&attr, sum);
    if (s == dnnl_success) s = p_dnnl_reorder_primitive_desc_create(&pd, from, g_dnnl_engine, to, g_dnnl_engine, attr);
    if (s == dnnl_success) s = finish(pd, prim, scratch, padBytes, NULL, 0);
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    if (attr) p_dnnl_primitive_attr_destroy(attr);
    return s;
}

static const char *pass_name(int pass) {
    return pass == DINOSEG_DNNL_CONV_FORWARD ? "forward" : pass == DINOSEG_DNNL_CONV_BACKWARD_DATA ? "backward data"
                                                                                                 : "backward weights";
}

static entry *make(const dinoseg_dnnl_conv_desc *k, char *error, size_t errorSize) {
    entry *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(error, errorSize, "out of memory");
        return NULL;
    }
    e->key = *k;
    const int kr = (k->kernel - 1) * k->dilation + 1;
    const int oh = (k->h + 2 * k->pad - kr) / k->stride + 1, ow = (k->w + 2 * k->pad - kr) / k->stride + 1;
    // Right/bottom padding as far as the last output reaches (≤ pad; the floor may leave input rows unread).
    int padR = (oh - 1) * k->stride + kr - k->h - k->pad, padB = (ow - 1) * k->stride + kr - k->w - k->pad;
    if (padR < 0) padR = 0;
    if (padB < 0) padB = 0;
    dnnl_dims_t srcDims = {k->n, k->cin, k->h, k->w}, dstDims = {k->n, k->cout, oh, ow};
    dnnl_dims_t weiDims = {k->cout, k->cin, k->kernel, k->kernel}, biasDims = {k->cout};
    dnnl_dims_t strides = {k->stride, k->stride}, dilates = {k->dilation - 1, k->dilation - 1};
    dnnl_dims_t padL = {k->pad, k->pad}, padRight = {padR, padB};
    const dnnl_data_type_t t = type_of(k->type);
    const dnnl_format_tag_t weightsTag = k->plainWeights ? dnnl_hwio : dnnl_format_tag_any;

    dnnl_memory_desc_t src, dst, wei, plainSrcF32, plainDstF32, anyWei;
    dnnl_convolution_desc_t fwd, bwd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    dnnl_status_t s = p_dnnl_memory_desc_init_by_tag(&src, 4, srcDims, t, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&dst, 4, dstDims, t, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&plainSrcF32, 4, srcDims, dnnl_f32, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&plainDstF32, 4, dstDims, dnnl_f32, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&wei, 4, weiDims, t, weightsTag);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&e->plainWeights, 4, weiDims, t, dnnl_hwio);
    if (s == dnnl_success && k->hasBias) s = p_dnnl_memory_desc_init_by_tag(&e->bias, 1, biasDims, dnnl_f32, dnnl_x);
    // The forward description: the primitive itself, or the hint of a backward one.
    if (s == dnnl_success)
        s = p_dnnl_dilated_convolution_forward_desc_init(&fwd, dnnl_forward_training, dnnl_convolution_direct, &src, &wei,
                                                         k->hasBias ? &e->bias : NULL, &plainDstF32, strides, dilates,
                                                         padL, padRight);
    if (s == dnnl_success) s = user_scratchpad_attr(&attr, k->pass == DINOSEG_DNNL_CONV_FORWARD && k->accumulate);
    if (s == dnnl_success && k->pass == DINOSEG_DNNL_CONV_FORWARD) {
        s = p_dnnl_primitive_desc_create(&pd, &fwd, attr, g_dnnl_engine, NULL);
        e->a = src;
        e->result = e->plainResult = plainDstF32;
    } else if (s == dnnl_success) {
        s = p_dnnl_primitive_desc_create(&hint, &fwd, NULL, g_dnnl_engine, NULL);
        if (k->pass == DINOSEG_DNNL_CONV_BACKWARD_DATA) {
            if (s == dnnl_success)
                s = p_dnnl_dilated_convolution_backward_data_desc_init(&bwd, dnnl_convolution_direct, &plainSrcF32, &wei,
                                                                       &dst, strides, dilates, padL, padRight);
            e->a = dst;
            e->plainResult = plainSrcF32;
        } else {
            if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&anyWei, 4, weiDims, dnnl_f32, weightsTag);
            if (s == dnnl_success)
                s = p_dnnl_dilated_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &src, &anyWei,
                                                                          NULL, &dst, strides, dilates, padL, padRight);
            e->a = src;
            e->b = dst;
            if (s == dnnl_success)
                s = p_dnnl_memory_desc_init_by_tag(&e->plainResult, 4, weiDims, dnnl_f32, dnnl_hwio);
        }
        if (s == dnnl_success) s = p_dnnl_primitive_desc_create(&pd, &bwd, attr, g_dnnl_engine, hint);
    }
    if (s == dnnl_success) s = finish(pd, &e->conv, &e->convScratch, &e->padBytes, e->impl, sizeof e->impl);
    if (s == dnnl_success && k->pass != DINOSEG_DNNL_CONV_BACKWARD_WEIGHTS) {
        // The weights as the convolution reads them, reordered from hwio when it chose another layout.
        e->weights = *p_dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        e->b = e->weights;
        if (!same_layout(&e->weights, &e->plainWeights)) {
            e->weightsBytes = round64(p_dnnl_memory_desc_get_size(&e->weights));
            s = make_reorder(&e->plainWeights, &e->weights, 0, &e->in, &e->inScratch, &e->padBytes);
        }
    }
    if (s == dnnl_success && k->pass != DINOSEG_DNNL_CONV_FORWARD) {
        e->result = *p_dnnl_primitive_desc_query_md(
            pd, k->pass == DINOSEG_DNNL_CONV_BACKWARD_DATA ? dnnl_query_diff_src_md : dnnl_query_diff_weights_md, 0);
        if (k->accumulate || !same_layout(&e->result, &e->plainResult)) {
            e->resultBytes = round64(p_dnnl_memory_desc_get_size(&e->result));
            s = make_reorder(&e->result, &e->plainResult, k->accumulate, &e->out, &e->outScratch, &e->padBytes);
        }
    }
    e->padBytes = round64(e->padBytes);
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    if (hint) p_dnnl_primitive_desc_destroy(hint);
    if (attr) p_dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
        snprintf(error, errorSize,
                 "oneDNN refused a %s %s convolution n%d %dx%dx%d→%d k%d s%d p%d d%d (status %d)",
                 k->type ? "bf16" : "f32", pass_name(k->pass), k->n, k->h, k->w, k->cin, k->cout, k->kernel, k->stride,
                 k->pad, k->dilation, (int)s);
        destroy(e);
        return NULL;
    }
    return e;
}

// Looks the description up, creating and caching it when new. *transient is set when the entry is the caller's to free.
static entry *find(const dinoseg_dnnl_conv_desc *key, int *transient, char *error, size_t errorSize) {
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

typedef struct {
    dnnl_exec_arg_t args[6];
    int n;
    dnnl_status_t status;
} arglist;

static void arg(arglist *l, int name, const dnnl_memory_desc_t *md, const void *data) {
    dnnl_memory_t m = NULL;
    if (l->status == dnnl_success) l->status = p_dnnl_memory_create(&m, md, g_dnnl_engine, (void *)data);
    if (m) l->args[l->n++] = (dnnl_exec_arg_t){name, m};
}

static dnnl_status_t run(dnnl_primitive_t prim, dnnl_stream_t stream, arglist *l) {
    dnnl_status_t s = l->status;
    if (s == dnnl_success) s = p_dnnl_primitive_execute(prim, stream, l->n, l->args);
    for (int i = 0; i < l->n; i++) p_dnnl_memory_destroy(l->args[i].memory);
    return s;
}

int dinoseg_dnnl_conv(const dinoseg_dnnl_conv_desc *desc, const void *a, const void *b, const float *bias, float *out,
                      int threads, char *error, size_t errorSize) {
    if (!g_dnnl_loaded) {
        snprintf(error, errorSize, "oneDNN is not loaded");
        return -1;
    }
    dinoseg_dnnl_conv_desc key = *desc;  // a plain struct of ints: no padding, so memcmp compares it
    if (key.pass != DINOSEG_DNNL_CONV_FORWARD) key.hasBias = 0;
    int transient;
    entry *e = find(&key, &transient, error, errorSize);
    if (!e) return -1;
    dnnl_stream_t stream = dnnl_thread_stream(error, errorSize);
    char *block = stream ? dnnl_thread_scratch(e->padBytes + e->weightsBytes + e->resultBytes, error, errorSize) : NULL;
    if (!stream || !block) {
        if (transient) destroy(e);
        return -1;
    }
    dnnl_thread_set_threads(threads);
    char *weights = block + e->padBytes, *result = weights + e->weightsBytes;
    dnnl_status_t s = dnnl_success;
    if (e->in) {
        arglist l = {.status = dnnl_success};
        arg(&l, DNNL_ARG_FROM, &e->plainWeights, b);
        arg(&l, DNNL_ARG_TO, &e->weights, weights);
        if (e->inScratch.ndims) arg(&l, DNNL_ARG_SCRATCHPAD, &e->inScratch, block);
        s = run(e->in, stream, &l);
    }
    if (s == dnnl_success) {
        arglist l = {.status = dnnl_success};
        void *convOut = e->out ? (void *)result : (void *)out;
        switch (key.pass) {
        case DINOSEG_DNNL_CONV_FORWARD:
            arg(&l, DNNL_ARG_SRC, &e->a, a);
            arg(&l, DNNL_ARG_WEIGHTS, &e->weights, e->in ? weights : b);
            if (key.hasBias) arg(&l, DNNL_ARG_BIAS, &e->bias, bias);
            arg(&l, DNNL_ARG_DST, &e->result, out);
            break;
        case DINOSEG_DNNL_CONV_BACKWARD_DATA:
            arg(&l, DNNL_ARG_DIFF_DST, &e->a, a);
            arg(&l, DNNL_ARG_WEIGHTS, &e->weights, e->in ? weights : b);
            arg(&l, DNNL_ARG_DIFF_SRC, &e->result, convOut);
            break;
        default:
            arg(&l, DNNL_ARG_SRC, &e->a, a);
            arg(&l, DNNL_ARG_DIFF_DST, &e->b, b);
            arg(&l, DNNL_ARG_DIFF_WEIGHTS, &e->result, convOut);
            break;
        }
        if (e->convScratch.ndims) arg(&l, DNNL_ARG_SCRATCHPAD, &e->convScratch, block);
        s = run(e->conv, stream, &l);
    }
    if (s == dnnl_success && e->out) {
        arglist l = {.status = dnnl_success};
        arg(&l, DNNL_ARG_FROM, &e->result, result);
        arg(&l, DNNL_ARG_TO, &e->plainResult, out);
        if (e->outScratch.ndims) arg(&l, DNNL_ARG_SCRATCHPAD, &e->outScratch, block);
        s = run(e->out, stream, &l);
    }
    if (s == dnnl_success) s = p_dnnl_stream_wait(stream);
    dnnl_thread_set_impl(e->impl);
    if (transient) destroy(e);
    if (s != dnnl_success) {
        snprintf(error, errorSize, "oneDNN %s convolution n%d %dx%dx%d→%d k%d failed (status %d)", pass_name(key.pass),
                 key.n, key.h, key.w, key.cin, key.cout, key.kernel, (int)s);
        return -1;
    }
    return 0;
}
#endif
