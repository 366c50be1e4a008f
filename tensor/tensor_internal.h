/*
 * tensor_internal.h - helpers shared by the files of tensor/ and never installed.
 *
 * Three groups live here:
 *  - the plumbing every file needs (making tensors and views, checking dims, shape
 *    strings for messages), which stays solved in every handout;
 *  - the strings every layer builds (StrataText, strata_strdup(), in text.c): the
 *    upper layers include this header for them and for tensor_format_shape(), so that
 *    strata has one string builder and one shape formatter, never a copy per file;
 *  - the strided loop (StridedLoop), the engine behind broadcasting, elementwise ops
 *    and reductions. Its definition in strided.c is a week-1 solution region.
 */
#ifndef STRATA_TENSOR_INTERNAL_H
#define STRATA_TENSOR_INTERNAL_H

#include "tensor.h"

/* Room for "[a, b, ...]" with TENSOR_MAX_DIMS 20-digit sizes. */
#define SHAPE_STR_SIZE 200

/*
 * A fresh contiguous tensor of @p shape, uninitialised. Validates the shape (ndim in
 * [0, TENSOR_MAX_DIMS], sizes >= 0, no overflow) and names @p fn in the error.
 */
Tensor *tensor_new(const int64_t *shape, int ndim, const char *fn);

/* A fresh contiguous tensor with @p t's shape (t must be non-NULL). */
Tensor *tensor_new_like(const Tensor *t, const char *fn);

/*
 * A new Tensor object sharing @p t's storage with the given geometry; @p offset is
 * the index of element 0 within the storage. Retains the storage.
 */
Tensor *tensor_make_view(const Tensor *t, const int64_t *shape, const int64_t *strides,
                         int ndim, int64_t offset);

/*
 * Check a requested rank: @p ndim in [0, TENSOR_MAX_DIMS], and @p shape not NULL when
 * @p ndim > 0. 0, or -1 with an error naming @p fn. tensor_check_shape() starts with it;
 * the views, whose shapes may hold a -1 to infer, use it alone.
 */
int tensor_check_rank(const int64_t *shape, int ndim, const char *fn);

/*
 * Check a shape for creation: ndim in [0, TENSOR_MAX_DIMS], sizes >= 0, an element count
 * that fits. 0, or -1 with an error naming @p fn. tensor_new() and tensor_expand() use it.
 */
int tensor_check_shape(const int64_t *shape, int ndim, const char *fn);

/*
 * @p t's shape and strides with dim @p dim (in range; the caller checks) left out, into
 * @p shape and @p strides; returns their length, t->ndim - 1.
 */
int tensor_geometry_without_dim(const Tensor *t, int dim, int64_t *shape, int64_t *strides);

/* Row-major strides for @p shape. */
void tensor_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides);

/* Product of the sizes (1 for ndim 0). The caller has validated the shape. */
int64_t tensor_shape_numel(const int64_t *shape, int ndim);

/*
 * "[2, 3]" into @p buf (at most @p size bytes, cut short if it does not fit; a buffer
 * of SHAPE_STR_SIZE always fits). Returns @p buf. The one shape formatter of every
 * layer's messages; tensor_shape_str() formats a tensor's shape with it.
 */
char *tensor_format_shape(const int64_t *shape, int ndim, char *buf, size_t size);

/*
 * Map a possibly negative @p dim into [0, ndim). An @p ndim of 0 accepts dims -1 and 0
 * (as PyTorch does for scalars) and maps them to 0. Returns -1 with an error naming
 * @p fn when out of range.
 */
int tensor_wrap_dim(int dim, int ndim, const char *fn);

/*
 * Validate a dim list for reductions: fills @p mask[d] = true for each reduced dim
 * (every dim when @p ndims == 0). Returns 0, or -1 with an error (range, repeats).
 */
int tensor_dim_mask(const int *dims, int ndims, int tensor_ndim, bool *mask,
                    const char *fn);

/* ------------------------------------------------------ strings, for every layer --- */

/*
 * A string that grows as it is written, on the counting allocator. Start from
 * `StrataText text = {0};`, append with strata_text_printf()/strata_text_put() without
 * checking each call (after a failed allocation the builder ignores further appends and
 * remembers the failure), and end with strata_text_finish() (hand the string out) or
 * strata_text_clear() (drop it):
 *
 *     StrataText text = {0};
 *     strata_text_printf(&text, "%s(", name);
 *     ...
 *     return strata_text_finish(&text, __func__);   // NULL + error if memory ran out
 */
typedef struct StrataText {
    char *data;  /* the text so far, NUL-terminated (NULL before the first append) */
    size_t len;  /* characters in data, without the NUL */
    size_t cap;  /* bytes allocated */
    bool failed; /* an allocation failed: the text is incomplete */
} StrataText;

/* Append what printf(@p fmt, ...) would print. */
void strata_text_printf(StrataText *text, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Append the @p n characters at @p s. */
void strata_text_put(StrataText *text, const char *s, size_t n);

/*
 * Hand out the text (an empty string if nothing was appended), for the caller to free
 * with strata_free(); or, if an allocation failed, free it and return NULL with
 * "<fn>: out of memory". Either way @p text is empty again.
 */
char *strata_text_finish(StrataText *text, const char *fn);

/* Drop the text and empty @p text (for a builder whose result is not handed out). */
void strata_text_clear(StrataText *text);

/* A copy of @p s from strata_malloc(), or NULL with an error (NULL @p s, out of memory). */
char *strata_strdup(const char *s);

/*
 * strerror(@p err), but "out of memory" for ENOMEM (io.c): a message about a file call
 * that failed for want of memory says so in the allocator's words (strata_getline()
 * fails with ENOMEM when its line cannot grow).
 */
const char *strata_strerror(int err);

/* ------------------------------------------------------------- the strided loop --- */

/* Up to four operands: an output and three inputs (tensor_where). */
#define LOOP_MAX_OPS 4

/*
 * Walks @p nops strided arrays over one common shape. Dims of size 1 are dropped and
 * neighbouring dims that are contiguous in every operand are merged, so that the
 * innermost dim (inner, with stride inner_strides[k] for operand k) is as long as
 * possible: a kernel runs once per inner row and its loop is what the compiler
 * vectorizes. Offsets are in elements of each operand's own type.
 */
typedef struct StridedLoop {
    int ndim;                                      /* merged dims, outer ones first */
    int nops;                                      /* operands */
    int64_t shape[TENSOR_MAX_DIMS];                /* merged sizes */
    int64_t strides[LOOP_MAX_OPS][TENSOR_MAX_DIMS];/* merged strides per operand */
    int64_t inner;                                 /* length of the inner row */
    int64_t inner_strides[LOOP_MAX_OPS];           /* stride of each operand in it */
    int64_t rows;                                  /* number of inner rows (0: empty) */
    int64_t index[TENSOR_MAX_DIMS];                /* odometer over the outer dims */
    int64_t offset[LOOP_MAX_OPS];                  /* current row start per operand */
} StridedLoop;

/*
 * Prepare a loop over @p shape (@p ndim dims) for @p nops operands whose strides (one
 * array of ndim entries each, 0 on broadcast dims) are @p strides[k].
 */
void loop_init(StridedLoop *loop, const int64_t *shape, int ndim, int nops,
               const int64_t *const *strides);

/* Advance loop->offset to the next inner row (call rows - 1 times after init). */
void loop_next(StridedLoop *loop);

/*
 * The broadcast of shapes @p a and @p b (NumPy's rules) into @p out and *out_ndim; 0, or
 * -1 with an error naming @p fn when they do not broadcast. tensor_broadcast_shape() is
 * its public face (which also checks its arguments). The reference's own helper
 * (strided.c, used by elementwise.c): declared in every handout, so a submitted
 * strided.c that defines it builds against the instructor's header.
 */
int tensor_broadcast_shapes(const int64_t *a, int a_ndim, const int64_t *b, int b_ndim,
                            int64_t *out, int *out_ndim, const char *fn);

/*
 * Strides of @p t seen through @p shape (NumPy broadcasting, aligned on the right):
 * 0 on dims @p t lacks or has of size 1. The caller has checked that they broadcast.
 */
void tensor_broadcast_strides(const Tensor *t, const int64_t *shape, int ndim,
                              int64_t *strides);

/* A contiguous copy of @p t (always a new storage). */
Tensor *tensor_copy_contiguous(const Tensor *t, const char *fn);

/*
 * The checks of a sliding window over [N, C, H, W] images (conv.c), shared by
 * convolution and pooling (pool.c). tensor_check_window() validates @p w (kernel,
 * stride, dilation >= 1, padding >= 0) and stores the output size of an @p h x @p wd
 * input, failing when no window fits; tensor_check_image() checks that @p t is 4-D,
 * calling it @p what in the error. Both return 0, or -1 with an error naming @p fn.
 * The reference's own helpers: the handout cuts them with their callers.
 */
int tensor_check_window(Window2d w, int64_t h, int64_t wd, int64_t *out_h, int64_t *out_w,
                        const char *fn);
int tensor_check_image(const Tensor *t, const char *what, const char *fn);

/*
 * Max pooling's rule over one 2x2 window [a b; c d] whose a sits at flat index @p at of
 * a plane @p w wide: a larger value or a NaN takes over, ties keep the first (as
 * tensor_max_pool2d's general loop). Returns the maximum and stores its flat index in
 * @p where (a float: exact below 2^24). Bitwise | and selects instead of || and if: no
 * branches for random data to mispredict, so the loops that call it (pool.c's 2x2
 * kernel, fused.c's ReLU-pool) vectorize.
 */
static inline float tensor_max_2x2(float a, float b, float c, float d, float at, float w,
                                   float *where)
{
    float best = a, pos = at;
    bool take = (b > best) | (b != b);
    best = take ? b : best;
    pos = take ? at + 1.0f : pos;
    take = (c > best) | (c != c);
    best = take ? c : best;
    pos = take ? at + w : pos;
    take = (d > best) | (d != d);
    best = take ? d : best;
    pos = take ? at + w + 1.0f : pos;
    *where = pos;
    return best;
}

/*
 * Where a convolution's output goes when nobody needs it whole (conv2d_forward()): the
 * forward pass works through the batch a step of a few images at a time, and hands
 * each step's output [b, C_out, oh, ow] (contiguous, images n0 .. n0+b-1, in the
 * calling thread's scratch) to fn while it is still in cache. fn runs on strata's
 * threads, on disjoint steps; @p thread is the calling thread's number.
 * tensor_conv2d_relu_max_pool2d() (fused.c) pools each step this way, so the
 * convolution's output, the largest tensor of a CNN's step, is never written whole.
 */
typedef struct ConvSink {
    void (*fn)(void *ctx, int64_t n0, int64_t b, const float *out, int thread);
    void *ctx;
    /* When not NULL, fn is ReLU then max pooling over 2x2 windows of stride 2 into
     * pooled and indices ([N, C_out, oh/2, ow/2], tensor_relu_max_pool2d()'s values
     * and positions). The convolutions then pool by the same rule themselves and never
     * call fn: Winograd each 2x2 output tile as it makes it, the im2col path straight
     * from its product (tensor_relu_max_pool_2x2_plane()), the bias added on the way. */
    float *pooled, *indices;
} ConvSink;

/*
 * ReLU then 2x2 max pooling (stride 2) of one plane (relu_pool.c), as
 * tensor_relu_max_pool2d() pools it: @p plane has rows @p sh floats apart and @p W
 * columns (the positions stored in @p idx count W per row); its @p oh x @p ow pooled
 * outputs go to @p out and @p idx. When @p bias is not NULL, each value is taken as
 * its float plus *bias first: the plane a convolution would write with its bias, so a
 * convolution can pool its product straight (conv.c's im2col path).
 */
void tensor_relu_max_pool_2x2_plane(const float *restrict plane, int64_t sh, int64_t W,
                                    int64_t oh, int64_t ow, const float *bias,
                                    float *restrict out, float *restrict idx);

/*
 * Check conv2d's operands (as tensor_conv2d() does) and store its output size. 0, or
 * -1 with an error naming tensor_conv2d.
 */
int conv2d_check(const Tensor *input, const Tensor *weight, const Tensor *bias, Window2d w,
                 int64_t *oh, int64_t *ow);

/*
 * conv2d forward, for operands conv2d_check() accepted, into @p out [N, C_out, oh, ow]
 * (contiguous), or, when @p out is NULL, a step at a time into @p sink. Returns 0, or
 * -1 with an error when scratch memory runs out.
 */
int conv2d_forward(const Tensor *input, const Tensor *weight, const Tensor *bias, Window2d w,
                   int64_t oh, int64_t ow, float *out, const ConvSink *sink);

/*
 * Max pooling's backward scatter (pool.c): a fresh @p input_shape tensor, zero but where
 * each window's gradient in @p grad_output goes to the input position @p indices names
 * (an index within its [H, W] plane), and only where @p mask (NULL: everywhere) holds a
 * positive value at that window. tensor_max_pool2d_backward and the fused ReLU-pool's
 * backward (fused.c, which masks with the pooled values) share it; both check the shapes
 * first. Returns NULL with an error naming @p fn on an index outside its plane or when
 * memory runs out.
 */
Tensor *tensor_max_pool_scatter(const Tensor *grad_output, const Tensor *indices,
                                const Tensor *mask, const int64_t *input_shape,
                                const char *fn);

/*
 * One [H, W] plane of that scatter for 2x2 windows with stride 2, done as a gather that
 * writes every position of @p dst once (conv.c): the same bits, as long as every index
 * lies in its own window. Returns false when one does not; @p dst then holds garbage
 * and the caller must scatter instead.
 */
bool tensor_max_unpool_2x2_plane(const float *restrict g, const float *restrict idx,
                                 const float *restrict mask, int64_t H, int64_t W,
                                 float *restrict dst);

/*
 * The gradients of a convolution followed by ReLU and 2x2 max pooling (stride 2), as
 * tensor_relu_max_pool2d_backward() into the convolution's [N, C_out, oh, ow] output
 * and tensor_conv2d_backward() from there compute them, bit for bit, for a convolution
 * that does not go to Winograd (conv.c), without writing that output gradient whole.
 * The caller has checked the operands (conv2d_check()) and @p grad_output, @p pooled
 * and @p indices to be [N, C_out, oh/2, ow/2]. Returns 1 with the gradients stored
 * (each of @p grad_input, @p grad_weight, @p grad_bias may be NULL: not wanted); 0 when
 * it does not apply (a Winograd convolution, other shapes, or an index outside its own
 * window), storing nothing, for the two passes; -1 with an error naming @p fn when
 * memory runs out.
 */
int conv2d_relu_max_pool2d_backward_im2col(const Tensor *grad_output, const Tensor *pooled,
                                           const Tensor *indices, const Tensor *input,
                                           const Tensor *weight, Window2d w, int64_t oh,
                                           int64_t ow, Tensor **grad_input,
                                           Tensor **grad_weight, Tensor **grad_bias,
                                           const char *fn);

/*
 * Winograd's F(2x2, 3x3) convolution (winograd.c), the week-1 reference's fast path for
 * 3x3 convolutions of stride 1 with many channels: 2.25x fewer multiplies than im2col.
 * The handout cuts its definitions; conv.c's reference is the only caller.
 */

/* Whether conv2d with window @p w, @p C_in and @p C_out channels goes to Winograd. */
bool winograd_applies(Window2d w, int64_t C_in, int64_t C_out);

/*
 * conv2d forward into @p out [N, C_out, oh, ow] (contiguous, non-empty) or, when @p out
 * is NULL, into @p sink (as conv2d_forward()), for operands conv.c has checked and
 * winograd_applies() accepts. Returns 0, or -1 with an error when scratch memory runs
 * out.
 */
int winograd_conv2d(const Tensor *input, const Tensor *weight, const Tensor *bias, Window2d w,
                    int64_t oh, int64_t ow, float *out, const ConvSink *sink);

/*
 * conv2d's input and weight gradients from contiguous @p grad_output [N, C_out, oh, ow]:
 * fills @p grad_input (contiguous like input, or NULL) and overwrites @p grad_weight
 * (contiguous [C_out, C_in, 3, 3], or NULL). Returns 0, or -1 when memory runs out.
 */
int winograd_conv2d_backward(const float *grad_output, const Tensor *input,
                             const Tensor *weight, Window2d w, int64_t oh, int64_t ow,
                             float *grad_input, float *grad_weight);

/*
 * The gradients of a convolution followed by ReLU and 2x2 max pooling (stride 2), from
 * the pooled gradient, as tensor_conv2d_relu_max_pool2d_backward() (which has checked
 * the operands, and @p grad_output, @p pooled and @p indices to be [N, C_out, oh/2,
 * ow/2]) computes them, bit for bit, without making the [N, C_out, oh, ow] gradient.
 * Returns 1 with the gradients stored; 0 when it does not apply (not a convolution
 * for Winograd, or an index outside its own window), storing nothing, for the caller's
 * general path; -1 with an error when memory runs out.
 */
int winograd_conv2d_relu_max_pool2d_backward(const Tensor *grad_output, const Tensor *pooled,
                                             const Tensor *indices, const Tensor *input,
                                             const Tensor *weight, Window2d w, int64_t oh,
                                             int64_t ow, Tensor **grad_input,
                                             Tensor **grad_weight, Tensor **grad_bias);

/* ------------------------------------------------ how the pool's threads wait --- */

/*
 * threads.c: a thread of the pool with nothing to do (a worker waiting for the next
 * loop, the caller waiting for the last chunks of its loop) spins for a while, looking
 * at the clock every few dozen turns, and asks this at each look whether to go on.
 * It stops, and sleeps, for the first of these reasons that holds:
 *  - STRATA_SPIN_INTERRUPTED: more than 20 us passed since its last look (@p last_look),
 *    so it was not running: the system gave its core to another thread, which wants it;
 *  - STRATA_SPIN_SHARED_CORE: it runs on the core of the thread it waits for (@p my_cpu
 *    == @p awaited_cpu, both known, i.e. >= 0): its spinning would keep that thread off;
 *  - STRATA_SPIN_SPENT: @p now is past @p until, the end of its spinning budget.
 * Else STRATA_SPIN_ON: it spins on. Times in nanoseconds of CLOCK_MONOTONIC.
 */
typedef enum {
    STRATA_SPIN_ON,          /* goes on (in the counts: the wait ended while spinning) */
    STRATA_SPIN_INTERRUPTED, /* its core was taken away since the last look */
    STRATA_SPIN_SHARED_CORE, /* it would spin on the core of the thread it waits for */
    STRATA_SPIN_SPENT,       /* its time to spin is over */
    STRATA_SPIN_VERDICTS
} StrataSpinVerdict;

StrataSpinVerdict strata_spin_verdict(int64_t now, int64_t last_look, int64_t until,
                                      int my_cpu, int awaited_cpu);

/*
 * How the waits of the pool's threads have ended since the program started:
 * counts[STRATA_SPIN_ON] waits ended while their thread spun (what it waited for came),
 * counts[v] for each other verdict, the waits that ended in sleep for that reason.
 */
void strata_pool_wait_counts(int64_t counts[STRATA_SPIN_VERDICTS]);

/*
 * threads.c: how many loops the caller has run alone, in order, because the workers sat
 * out (they had lately made loops slower than the caller alone would have been: on a
 * busy machine, a worker without a core holds up the loop whose chunk it took).
 */
int64_t strata_pool_loops_alone(void);

#endif /* STRATA_TENSOR_INTERNAL_H */
