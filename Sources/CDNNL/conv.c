// oneDNN's convolution primitives (forward, backward data, backward weights), one per description, cached; the
// weight reorders in and out of oneDNN's preferred layout and the accumulating copy-out are cached with them
// (see dinoseg_dnnl.h).
#include "dinoseg_dnnl.h"
#include <stdio.h>
#include <stdlib.h>

#if DINOSEG_HAVE_DNNL
#include "dnnl_loader.h"

// A call runs the convolution and, around it, the reorders its layouts need, all on the calling thread's stream and
// one per-thread scratch block laid out as [oneDNN scratchpad (shared: the primitives run one after the other) |
// first input | second input | output], each region in the convolution's layout when that is not the caller's:
//   inputs  the caller's layout (nhwc activations, hwio weights) → the convolution's, when they differ: the weights of
//           a direct convolution (oneDNN picks a blocked layout), everything for Winograd
//   output  the convolution's layout → the caller's, adding to it (sum post-op) when accumulating; also when the
//           layouts agree but the output must be added (backward passes; the direct forward pass accumulates with a
//           sum post-op of the convolution itself)
//
// Workarounds for oneDNN 2.6.3, each found by comparing every pass with a direct reference over random geometries:
//   - jit_1x1 backward weights of a strided 1×1 convolution (its "reduce to unit stride" copy) writes up to 64 bytes
//     past the scratchpad size it asks for: every region is followed by SLACK bytes.
//   - jit_bf16_1x1 backward data and weights with an odd number of output channels return wrong values for some
//     spatial sizes: such bf16 1×1 backward passes keep hwio weights, which makes oneDNN run its GEMM implementation.
//   - brgconv forward (f32 and bf16) returns wrong values for some maps narrower than the dilated kernel (7×7
//     dilation 2 on width 11), and jit_bf16 backward weights reads scratchpad it never wrote on a one-pixel-wide map
//     (3×3, w 1, stride 2): a kernel wider or taller than the map keeps hwio weights (GEMM) in every pass.
typedef struct {
    dnnl_memory_desc_t user;      // as the caller stores it
    dnnl_memory_desc_t conv;      // as the convolution reads or writes it
    dnnl_primitive_t reorder;     // user → conv (inputs) or conv → user (output); NULL: the caller's buffer is used
    dnnl_memory_desc_t scratch;   // the reorder's scratchpad (ndims 0: none)
    size_t offset;                // of the conv-layout buffer in the block
    int arg;                      // DNNL_ARG_* of the convolution
} slot;

typedef struct {
    dnnl_entry_head head;  // scratchBytes: the whole block
    dinoseg_dnnl_conv_desc key;
    dnnl_primitive_t conv;
    slot in[2], out;
    dnnl_memory_desc_t bias, convScratch;
    size_t padBytes;       // the oneDNN scratchpad region at the start of the block
} entry;

enum { SLACK = 4096 };

static void destroy(void *entry_) {
    entry *e = entry_;
    if (e->conv) p_dnnl_primitive_destroy(e->conv);
    for (int i = 0; i < 2; i++)
        if (e->in[i].reorder) p_dnnl_primitive_destroy(e->in[i].reorder);
    if (e->out.reorder) p_dnnl_primitive_destroy(e->out.reorder);
    free(e);
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

// Whether `md` is the dense plain layout `plain` describes (same type, dims and strides, no inner blocks, no padding).
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

// A reorder from `from` to `to` (adding to `to` when `sum`).
static dnnl_status_t make_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, int sum,
                                  dnnl_primitive_t *prim, dnnl_memory_desc_t *scratch, size_t *padBytes) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = user_scratchpad_attr(&attr, sum);
    if (s == dnnl_success) s = p_dnnl_reorder_primitive_desc_create(&pd, from, g_dnnl_engine, to, g_dnnl_engine, attr);
    if (s == dnnl_success) s = dnnl_finish(pd, prim, scratch, padBytes, NULL, 0);
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    if (attr) p_dnnl_primitive_attr_destroy(attr);
    return s;
}

static const char *pass_name(int pass) {
    return pass == DINOSEG_DNNL_CONV_FORWARD ? "forward" : pass == DINOSEG_DNNL_CONV_BACKWARD_DATA ? "backward data"
                                                                                                 : "backward weights";
}

typedef struct {
    dnnl_dims_t src, dst, wei, strides, dilates, padL, padR;
    dnnl_memory_desc_t userSrc, userDst, userWei;           // nhwc / nhwc / hwio in the input type
    dnnl_memory_desc_t userSrcF32, userDstF32, userWeiF32;  // the same in f32 (outputs)
} shapes;

// The primitive descriptor of one pass: Winograd (activations and weights in layouts it picks) or direct
// (activations as stored, weights as `weightsTag`), with its forward hint for the backward passes.
static dnnl_status_t make_pd(const dinoseg_dnnl_conv_desc *k, const shapes *sh, int winograd, dnnl_format_tag_t weightsTag,
                             const dnnl_memory_desc_t *bias, const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd) {
    // Winograd runs in f32 (oneDNN has no bf16 one): bf16 inputs are widened exactly by the reorders into its layout.
    const dnnl_data_type_t t = winograd ? dnnl_f32 : dnnl_type_of(k->type);
    const dnnl_alg_kind_t alg = winograd ? dnnl_convolution_winograd : dnnl_convolution_direct;
    const dnnl_format_tag_t act = winograd ? dnnl_format_tag_any : dnnl_nhwc;
    dnnl_memory_desc_t src, dst, dstF32, srcF32, wei, weiF32;
    dnnl_convolution_desc_t fwd, bwd;
    dnnl_primitive_desc_t hint = NULL;
    dnnl_status_t s = p_dnnl_memory_desc_init_by_tag(&src, 4, sh->src, t, act);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&srcF32, 4, sh->src, dnnl_f32, act);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&dst, 4, sh->dst, t, act);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&dstF32, 4, sh->dst, dnnl_f32, act);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&wei, 4, sh->wei, t, weightsTag);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&weiF32, 4, sh->wei, dnnl_f32, weightsTag);
    if (s == dnnl_success)
        s = p_dnnl_dilated_convolution_forward_desc_init(&fwd, dnnl_forward_training, alg, &src, &wei, bias, &dstF32,
                                                         sh->strides, sh->dilates, sh->padL, sh->padR);
    if (s != dnnl_success) return s;
    if (k->pass == DINOSEG_DNNL_CONV_FORWARD) return p_dnnl_primitive_desc_create(pd, &fwd, attr, g_dnnl_engine, NULL);
    s = p_dnnl_primitive_desc_create(&hint, &fwd, NULL, g_dnnl_engine, NULL);
    if (s == dnnl_success && k->pass == DINOSEG_DNNL_CONV_BACKWARD_DATA)
        s = p_dnnl_dilated_convolution_backward_data_desc_init(&bwd, alg, &srcF32, &wei, &dst, sh->strides, sh->dilates,
                                                               sh->padL, sh->padR);
    else if (s == dnnl_success)
        s = p_dnnl_dilated_convolution_backward_weights_desc_init(&bwd, alg, &src, &weiF32, NULL, &dst, sh->strides,
                                                                  sh->dilates, sh->padL, sh->padR);
    if (s == dnnl_success) s = p_dnnl_primitive_desc_create(pd, &bwd, attr, g_dnnl_engine, hint);
    if (hint) p_dnnl_primitive_desc_destroy(hint);
    return s;
}

// Fills in the entry of e->key. 0, or -1 with the reason in `error`.
static int build(void *entry_, char *error, size_t errorSize) {
    entry *e = entry_;
    const dinoseg_dnnl_conv_desc *k = &e->key;
    const int kr = (k->kernel - 1) * k->dilation + 1;
    const int oh = (k->h + 2 * k->pad - kr) / k->stride + 1, ow = (k->w + 2 * k->pad - kr) / k->stride + 1;
    // Right/bottom padding as far as the last output reaches (≤ pad; the floor may leave input rows unread).
    int padB = (oh - 1) * k->stride + kr - k->h - k->pad, padR = (ow - 1) * k->stride + kr - k->w - k->pad;
    shapes sh = {.src = {k->n, k->cin, k->h, k->w}, .dst = {k->n, k->cout, oh, ow},
                 .wei = {k->cout, k->cin, k->kernel, k->kernel}, .strides = {k->stride, k->stride},
                 .dilates = {k->dilation - 1, k->dilation - 1}, .padL = {k->pad, k->pad},
                 .padR = {padB < 0 ? 0 : padB, padR < 0 ? 0 : padR}};
    const dnnl_data_type_t t = dnnl_type_of(k->type);
    const int oddBF16x1 = k->type == DINOSEG_DNNL_BF16 && k->kernel == 1 && (k->cout & 1) && k->pass != DINOSEG_DNNL_CONV_FORWARD;
    const int wideKernel = kr > k->h || kr > k->w;
    const dnnl_format_tag_t weightsTag = k->plainWeights || oddBF16x1 || wideKernel ? dnnl_hwio : dnnl_format_tag_any;
    const int forward = k->pass == DINOSEG_DNNL_CONV_FORWARD;

    dnnl_memory_desc_t biasDesc;
    dnnl_dims_t biasDims = {k->cout};
    dnnl_primitive_attr_t plainAttr = NULL, sumAttr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int sumInConv = 0;
    dnnl_status_t s = p_dnnl_memory_desc_init_by_tag(&sh.userSrc, 4, sh.src, t, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&sh.userDst, 4, sh.dst, t, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&sh.userWei, 4, sh.wei, t, dnnl_hwio);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&sh.userSrcF32, 4, sh.src, dnnl_f32, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&sh.userDstF32, 4, sh.dst, dnnl_f32, dnnl_nhwc);
    if (s == dnnl_success) s = p_dnnl_memory_desc_init_by_tag(&sh.userWeiF32, 4, sh.wei, dnnl_f32, dnnl_hwio);
    if (s == dnnl_success && k->hasBias) s = p_dnnl_memory_desc_init_by_tag(&biasDesc, 1, biasDims, dnnl_f32, dnnl_x);
    if (s == dnnl_success) s = user_scratchpad_attr(&plainAttr, 0);
    if (s == dnnl_success) s = user_scratchpad_attr(&sumAttr, 1);
    const dnnl_memory_desc_t *bias = k->hasBias ? &biasDesc : NULL;
    // Winograd where oneDNN has one for this shape (its output always goes through a reorder, which accumulates);
    // else direct, whose forward output is the caller's and accumulates with a sum post-op.
    const int winograd =
        s == dnnl_success && k->winograd && make_pd(k, &sh, 1, dnnl_format_tag_any, bias, plainAttr, &pd) == dnnl_success;
    if (s == dnnl_success && !winograd) {
        sumInConv = forward && k->accumulate;
        s = make_pd(k, &sh, 0, weightsTag, bias, sumInConv ? sumAttr : plainAttr, &pd);
    }
    if (s == dnnl_success) s = dnnl_finish(pd, &e->conv, &e->convScratch, &e->padBytes, e->head.impl, sizeof e->head.impl);
    if (s == dnnl_success) {
        if (k->hasBias) e->bias = biasDesc;
        // The caller's layouts of the pass's two inputs and its output, and the convolution's.
        const dnnl_memory_desc_t *user[3];
        dnnl_query_t query[3];
        int arg[3];
        switch (k->pass) {
        case DINOSEG_DNNL_CONV_FORWARD:
            user[0] = &sh.userSrc, query[0] = dnnl_query_src_md, arg[0] = DNNL_ARG_SRC;
            user[1] = &sh.userWei, query[1] = dnnl_query_weights_md, arg[1] = DNNL_ARG_WEIGHTS;
            user[2] = &sh.userDstF32, query[2] = dnnl_query_dst_md, arg[2] = DNNL_ARG_DST;
            break;
        case DINOSEG_DNNL_CONV_BACKWARD_DATA:
            user[0] = &sh.userDst, query[0] = dnnl_query_diff_dst_md, arg[0] = DNNL_ARG_DIFF_DST;
            user[1] = &sh.userWei, query[1] = dnnl_query_weights_md, arg[1] = DNNL_ARG_WEIGHTS;
            user[2] = &sh.userSrcF32, query[2] = dnnl_query_diff_src_md, arg[2] = DNNL_ARG_DIFF_SRC;
            break;
        default:
            user[0] = &sh.userSrc, query[0] = dnnl_query_src_md, arg[0] = DNNL_ARG_SRC;
            user[1] = &sh.userDst, query[1] = dnnl_query_diff_dst_md, arg[1] = DNNL_ARG_DIFF_DST;
            user[2] = &sh.userWeiF32, query[2] = dnnl_query_diff_weights_md, arg[2] = DNNL_ARG_DIFF_WEIGHTS;
            break;
        }
        size_t offset = 0;
        for (int i = 0; i < 3 && s == dnnl_success; i++) {
            slot *sl = i < 2 ? &e->in[i] : &e->out;
            sl->user = *user[i];
            sl->conv = *p_dnnl_primitive_desc_query_md(pd, query[i], 0);
            sl->arg = arg[i];
            const int output = i == 2, differ = !same_layout(&sl->conv, &sl->user);
            if (!differ && !(output && k->accumulate && !sumInConv)) continue;
            sl->offset = offset;
            offset += round64(p_dnnl_memory_desc_get_size(&sl->conv)) + SLACK;
            s = output ? make_reorder(&sl->conv, &sl->user, k->accumulate, &sl->reorder, &sl->scratch, &e->padBytes)
                       : make_reorder(&sl->user, &sl->conv, 0, &sl->reorder, &sl->scratch, &e->padBytes);
        }
        e->padBytes = round64(e->padBytes) + SLACK;
        e->head.scratchBytes = e->padBytes + offset;
    }
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    if (plainAttr) p_dnnl_primitive_attr_destroy(plainAttr);
    if (sumAttr) p_dnnl_primitive_attr_destroy(sumAttr);
    if (s != dnnl_success) {
        snprintf(error, errorSize,
                 "oneDNN refused a %s %s convolution n%d %dx%dx%d→%d k%d s%d p%d d%d (status %d)",
                 k->type ? "bf16" : "f32", pass_name(k->pass), k->n, k->h, k->w, k->cin, k->cout, k->kernel, k->stride,
                 k->pad, k->dilation, (int)s);
        return -1;
    }
    return 0;
}

static dnnl_cache g_cache = DNNL_CACHE(entry, key, build, destroy);

int dinoseg_dnnl_conv(const dinoseg_dnnl_conv_desc *desc, const void *a, const void *b, const float *bias, float *out,
                      int threads, char *error, size_t errorSize) {
    dinoseg_dnnl_conv_desc key = *desc;  // a plain struct of ints: no padding, so memcmp compares it
    if (key.pass != DINOSEG_DNNL_CONV_FORWARD) key.hasBias = 0;
    dnnl_call call;
    if (dnnl_call_begin(&g_cache, &key, threads, &call, error, errorSize) != 0) return -1;
    const entry *e = call.entry;
    char *block = call.scratch;
    char *data = block + e->padBytes;
    const void *user[3] = {a, b, out};
    dnnl_status_t s = dnnl_success;
    for (int i = 0; i < 2 && s == dnnl_success; i++) {
        const slot *sl = &e->in[i];
        if (!sl->reorder) continue;
        dnnl_args l = {.status = dnnl_success};
        dnnl_arg(&l, DNNL_ARG_FROM, &sl->user, user[i]);
        dnnl_arg(&l, DNNL_ARG_TO, &sl->conv, data + sl->offset);
        if (sl->scratch.ndims) dnnl_arg(&l, DNNL_ARG_SCRATCHPAD, &sl->scratch, block);
        s = dnnl_run(sl->reorder, call.stream, &l);
    }
    if (s == dnnl_success) {
        dnnl_args l = {.status = dnnl_success};
        for (int i = 0; i < 2; i++)
            dnnl_arg(&l, e->in[i].arg, &e->in[i].conv, e->in[i].reorder ? data + e->in[i].offset : user[i]);
        dnnl_arg(&l, e->out.arg, &e->out.conv, e->out.reorder ? data + e->out.offset : (void *)out);
        if (key.hasBias) dnnl_arg(&l, DNNL_ARG_BIAS, &e->bias, bias);
        if (e->convScratch.ndims) dnnl_arg(&l, DNNL_ARG_SCRATCHPAD, &e->convScratch, block);
        s = dnnl_run(e->conv, call.stream, &l);
    }
    if (s == dnnl_success && e->out.reorder) {
        dnnl_args l = {.status = dnnl_success};
        dnnl_arg(&l, DNNL_ARG_FROM, &e->out.conv, data + e->out.offset);
        dnnl_arg(&l, DNNL_ARG_TO, &e->out.user, out);
        if (e->out.scratch.ndims) dnnl_arg(&l, DNNL_ARG_SCRATCHPAD, &e->out.scratch, block);
        s = dnnl_run(e->out.reorder, call.stream, &l);
    }
    if (s == dnnl_success) s = p_dnnl_stream_wait(call.stream);
    dnnl_call_end(&g_cache, &call);
    if (s != dnnl_success) {
        snprintf(error, errorSize, "oneDNN %s convolution n%d %dx%dx%d→%d k%d failed (status %d)", pass_name(key.pass),
                 key.n, key.h, key.w, key.cin, key.cout, key.kernel, (int)s);
        return -1;
    }
    return 0;
}
#endif
