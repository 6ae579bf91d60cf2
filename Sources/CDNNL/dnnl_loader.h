// Inside the oneDNN shim: the oneDNN functions resolved at load time, the engine, each calling thread's stream,
// scratchpad and OpenMP team size, and the primitive cache and call frame every primitive shares. Shared by the loader
// (dnnl.c), the cache (primitive_cache.c) and the primitives (matmul.c, conv.c).
#ifndef DINOSEG_DNNL_LOADER_H
#define DINOSEG_DNNL_LOADER_H
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stddef.h>

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
    X(dnnl_status_t, dnnl_memory_destroy, (dnnl_memory_t))                                                        \
    X(dnnl_status_t, dnnl_memory_desc_init_by_tag,                                                                \
      (dnnl_memory_desc_t *, int, const dnnl_dims_t, dnnl_data_type_t, dnnl_format_tag_t))                        \
    X(dnnl_status_t, dnnl_post_ops_append_eltwise, (dnnl_post_ops_t, float, dnnl_alg_kind_t, float, float))       \
    X(dnnl_status_t, dnnl_reorder_primitive_desc_create,                                                          \
      (dnnl_primitive_desc_t *, const dnnl_memory_desc_t *, dnnl_engine_t, const dnnl_memory_desc_t *,            \
       dnnl_engine_t, const_dnnl_primitive_attr_t))                                                               \
    X(dnnl_status_t, dnnl_dilated_convolution_forward_desc_init,                                                  \
      (dnnl_convolution_desc_t *, dnnl_prop_kind_t, dnnl_alg_kind_t, const dnnl_memory_desc_t *,                  \
       const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_dims_t,     \
       const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t))                                                  \
    X(dnnl_status_t, dnnl_dilated_convolution_backward_data_desc_init,                                            \
      (dnnl_convolution_desc_t *, dnnl_alg_kind_t, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,        \
       const dnnl_memory_desc_t *, const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t))   \
    X(dnnl_status_t, dnnl_dilated_convolution_backward_weights_desc_init,                                         \
      (dnnl_convolution_desc_t *, dnnl_alg_kind_t, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,        \
       const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_dims_t, const dnnl_dims_t,              \
       const dnnl_dims_t, const dnnl_dims_t))


#define DNNL_DECLARE(ret, name, params) extern ret(*p_##name) params;
DNNL_FUNCTIONS(DNNL_DECLARE)

extern int g_dnnl_loaded;
extern dnnl_engine_t g_dnnl_engine;

// The calling thread's stream (created on first use); NULL with a reason in `error` when oneDNN refuses one.
dnnl_stream_t dnnl_thread_stream(char *error, size_t errorSize);
// The calling thread's scratchpad of at least `bytes` (grown as needed, kept for the thread's life); NULL when out of memory.
void *dnnl_thread_scratch(size_t bytes, char *error, size_t errorSize);
// Sets the calling thread's OpenMP team size for oneDNN's next primitives (no-op when unchanged or n <= 0).
void dnnl_thread_set_threads(int n);
// Records the implementation name the calling thread ran last (dinoseg_dnnl_last_impl).
void dnnl_thread_set_impl(const char *impl);

static inline dnnl_data_type_t dnnl_type_of(int t) { return t == DINOSEG_DNNL_BF16 ? dnnl_bf16 : dnnl_f32; }

// What every cached entry starts with (its first member), read by the call frame.
typedef struct {
    size_t scratchBytes;  // the per-thread scratch block one call needs
    char impl[96];        // oneDNN's name for the implementation of the entry's main primitive
} dnnl_entry_head;

// One kind of primitive's cache, one entry per description (the key: a plain struct without padding, stored in the
// entry at keyOffset and compared with memcmp). The cache allocates a zeroed entry, copies the key in and has `build`
// fill in the rest (0, or -1 with the reason in `error`: the entry is then destroyed). Entries are never evicted (a
// primitive another thread may be running stays valid); past DNNL_CACHE_CAP, a description gets an entry for one
// call only.
enum { DNNL_CACHE_CAP = 4096 };
typedef struct {
    size_t entrySize, keySize, keyOffset;
    int (*build)(void *entry, char *error, size_t errorSize);
    void (*destroy)(void *entry);  // frees what build made, then the entry
    void *entries[DNNL_CACHE_CAP];
    int count;
    pthread_mutex_t lock;
} dnnl_cache;
#define DNNL_CACHE(type, keyField, buildEntry, destroyEntry)                                                       \
    {.entrySize = sizeof(type), .keySize = sizeof(((type *)0)->keyField), .keyOffset = offsetof(type, keyField),  \
     .build = (buildEntry), .destroy = (destroyEntry), .lock = PTHREAD_MUTEX_INITIALIZER}

// One call of a cached primitive: its entry (transient: made for this call only), the thread's stream and scratch.
typedef struct {
    void *entry;
    int transient;
    dnnl_stream_t stream;
    char *scratch;
} dnnl_call;

// Starts a call of the primitive `key` describes: finds or makes its entry, takes the thread's stream and scratch and
// sets the thread's team size. 0, or -1 with the reason in `error`.
int dnnl_call_begin(dnnl_cache *cache, const void *key, int threads, dnnl_call *call, char *error, size_t errorSize);
// Ends a call begun with dnnl_call_begin: records the implementation run and frees a transient entry.
void dnnl_call_end(const dnnl_cache *cache, dnnl_call *call);

// The arguments of one primitive execution, each a memory object over the caller's buffer.
typedef struct {
    dnnl_exec_arg_t args[6];
    int n;
    dnnl_status_t status;  // the first failure to create one
} dnnl_args;
void dnnl_arg(dnnl_args *l, int name, const dnnl_memory_desc_t *md, const void *data);
// Executes `prim` with the arguments (unless one failed) and destroys their memory objects.
dnnl_status_t dnnl_run(dnnl_primitive_t prim, dnnl_stream_t stream, dnnl_args *l);
// Creates the primitive of `pd` and reads its scratchpad (raising *padBytes to its size) and implementation name
// (when `impl`).
dnnl_status_t dnnl_finish(dnnl_primitive_desc_t pd, dnnl_primitive_t *prim, dnnl_memory_desc_t *scratch,
                          size_t *padBytes, char *impl, size_t implSize);

#endif
