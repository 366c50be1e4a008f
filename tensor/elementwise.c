/*
 * elementwise.c - the elementwise ops: binary with broadcasting, scalar, unary, in place.
 *
 * Every op here is one "row kernel" run by one strided loop:
 *  1. the output shape is the broadcast of the input shapes (NumPy rules);
 *  2. each input is seen through that shape with stride 0 on broadcast dims, so
 *     "repeat this row" costs nothing;
 *  3. the loop merges dims that are contiguous in every operand, so two contiguous
 *     tensors of the same shape become one long row, and calls the kernel per row
 *     (the loop and broadcasting are strided.c's).
 * The kernels are plain `for` loops over a row with a stride-1 fast path: the
 * compiler vectorizes those. There is no function call per element.
 */
#include "tensor_internal.h"
#include "tensor_math.h"

#include <math.h>
#include <string.h>

/* SOLUTION BEGIN week=1 step=3 tier=core */
/* ---------------------------------------------------------------- row kernels --- */

/*
 * A binary row kernel: o[i*so] = EXPR(x = a[i*sa], y = b[i*sb]) for i < n, with `s` a
 * scalar parameter (axpy's alpha). The branches give the compiler stride-1 loops for
 * the common layouts: same shape, and a row against one repeated value.
 */
typedef void (*BinaryRow)(float *o, int64_t so, const float *a, int64_t sa,
                          const float *b, int64_t sb, int64_t n, float s);

#define BINARY_ROW(name, EXPR)                                                          \
    static void name(float *o, int64_t so, const float *a, int64_t sa, const float *b,  \
                     int64_t sb, int64_t n, float s)                                    \
    {                                                                                   \
        (void)s;                                                                        \
        if (so == 1 && sa == 1 && sb == 1) {                                            \
            for (int64_t i = 0; i < n; i++) {                                           \
                float x = a[i], y = b[i];                                               \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        } else if (so == 1 && sa == 1 && sb == 0) {                                     \
            const float y = b[0];                                                       \
            for (int64_t i = 0; i < n; i++) {                                           \
                float x = a[i];                                                         \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        } else if (so == 1 && sa == 0 && sb == 1) {                                     \
            const float x = a[0];                                                       \
            for (int64_t i = 0; i < n; i++) {                                           \
                float y = b[i];                                                         \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++) {                                           \
                float x = a[i * sa], y = b[i * sb];                                     \
                o[i * so] = (EXPR);                                                     \
            }                                                                           \
        }                                                                               \
    }

BINARY_ROW(row_add, x + y)
BINARY_ROW(row_sub, x - y)
BINARY_ROW(row_mul, x * y)
BINARY_ROW(row_div, x / y)
BINARY_ROW(row_pow, powf(x, y))
/* NaN wins: x != x is true only for NaN. */
BINARY_ROW(row_maximum, (x != x || x > y) ? x : y)
BINARY_ROW(row_minimum, (x != x || x < y) ? x : y)
BINARY_ROW(row_eq, x == y ? 1.0f : 0.0f)
BINARY_ROW(row_ne, x != y ? 1.0f : 0.0f)
BINARY_ROW(row_lt, x < y ? 1.0f : 0.0f)
BINARY_ROW(row_le, x <= y ? 1.0f : 0.0f)
BINARY_ROW(row_gt, x > y ? 1.0f : 0.0f)
BINARY_ROW(row_ge, x >= y ? 1.0f : 0.0f)
BINARY_ROW(row_axpy, x + s * y)

/* A unary row kernel: o[i*so] = EXPR(x = a[i*sa]) with parameters p, q. */
typedef void (*UnaryRow)(float *o, int64_t so, const float *a, int64_t sa, int64_t n,
                         float p, float q);

#define UNARY_ROW(name, EXPR)                                                           \
    static void name(float *o, int64_t so, const float *a, int64_t sa, int64_t n,       \
                     float p, float q)                                                  \
    {                                                                                   \
        (void)p;                                                                        \
        (void)q;                                                                        \
        if (so == 1 && sa == 1) {                                                       \
            for (int64_t i = 0; i < n; i++) {                                           \
                float x = a[i];                                                         \
                (void)x;                                                                \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++) {                                           \
                float x = a[i * sa];                                                    \
                (void)x;                                                                \
                o[i * so] = (EXPR);                                                     \
            }                                                                           \
        }                                                                               \
    }

/*
 * 1 / (1 + e^-x) overflows e^-x for very negative x, and loses the tiny result; with
 * e = e^-|x| (never above 1) both halves are exact: 1 / (1 + e) and e / (1 + e).
 */
static inline float stable_sigmoid(float x)
{
    float e = math_expf(x < 0.0f ? x : -x);
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* Exact GELU: x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2. */
static inline float gelu_erf(float x)
{
    return 0.5f * x * (1.0f + math_erff(x * (float)M_SQRT1_2));
}

UNARY_ROW(row_copy, x)
UNARY_ROW(row_fill, p)
UNARY_ROW(row_neg, -x)
UNARY_ROW(row_abs, fabsf(x))
/* PyTorch's sign: (0 < x) - (x < 0), so sign(NaN) is 0. */
UNARY_ROW(row_sign, (float)(0.0f < x) - (float)(x < 0.0f))
/* math_expf and math_tanhf (tensor_math.h) vectorize; libm's expf/tanhf do not. */
UNARY_ROW(row_exp, math_expf(x))
UNARY_ROW(row_log, logf(x))
UNARY_ROW(row_sqrt, sqrtf(x))
UNARY_ROW(row_rsqrt, 1.0f / sqrtf(x))
UNARY_ROW(row_sin, sinf(x))
UNARY_ROW(row_cos, cosf(x))
UNARY_ROW(row_tanh, math_tanhf(x))
UNARY_ROW(row_sigmoid, stable_sigmoid(x))
/* x < 0 is false for NaN, so NaN passes through as in PyTorch. */
UNARY_ROW(row_relu, x < 0.0f ? 0.0f : x)
UNARY_ROW(row_gelu, gelu_erf(x))
UNARY_ROW(row_leaky_relu, x > 0.0f ? x : p * x)
/* Comparisons are false for NaN, so NaN stays NaN (PyTorch's clamp). */
UNARY_ROW(row_clamp, x < p ? p : (x > q ? q : x))
UNARY_ROW(row_add_scalar, x + p)
UNARY_ROW(row_mul_scalar, x * p)
UNARY_ROW(row_square, x * x)
UNARY_ROW(row_pow_scalar, powf(x, p))

/* ---------------------------------------------------------------------- drivers --- */

/*
 * Whether @p a is laid out exactly like @p out (same shape and strides) and without
 * gaps: then both are one row of numel elements and no loop needs to be planned.
 * Small tensors gain most: planning costs more than adding 16 floats.
 */
static bool same_dense_layout(const Tensor *out, const Tensor *a)
{
    if (a->ndim != out->ndim)
        return false;
    int64_t expected = 1;
    for (int d = out->ndim - 1; d >= 0; d--) {
        if (a->shape[d] != out->shape[d] || a->strides[d] != out->strides[d] ||
            (out->shape[d] != 1 && out->strides[d] != expected))
            return false;
        expected *= out->shape[d];
    }
    return true;
}

/* One row function over dense operands, cut into ranges for strata's threads. */
typedef struct {
    UnaryRow unary;
    BinaryRow binary;
    float *out;
    const float *a, *b;
    float p, q;
} DenseJob;

static void dense_range(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const DenseJob *job = ctx;
    (void)chunk;
    (void)thread;
    if (job->binary)
        job->binary(job->out + begin, 1, job->a + begin, 1, job->b + begin, 1, end - begin,
                    job->p);
    else
        job->unary(job->out + begin, 1, job->a + begin, 1, end - begin, job->p, job->q);
}

/* out[...] = row(a, b) with a and b broadcast to out's shape. */
static void run_binary(Tensor *out, const Tensor *a, const Tensor *b, BinaryRow row,
                       float s)
{
    if (same_dense_layout(out, a) && same_dense_layout(out, b)) {
        DenseJob job = {NULL, row, out->data, a->data, b->data, s, 0.0f};
        strata_parallel_for(tensor_numel(out), STRATA_GRAIN_ELEMENTS, dense_range, &job);
        return;
    }
    int64_t sa[TENSOR_MAX_DIMS], sb[TENSOR_MAX_DIMS];
    tensor_broadcast_strides(a, out->shape, out->ndim, sa);
    tensor_broadcast_strides(b, out->shape, out->ndim, sb);
    const int64_t *strides[3] = {out->strides, sa, sb};
    StridedLoop loop;
    loop_init(&loop, out->shape, out->ndim, 3, strides);
    for (int64_t r = 0; r < loop.rows; r++) {
        if (r)
            loop_next(&loop);
        row(out->data + loop.offset[0], loop.inner_strides[0], a->data + loop.offset[1],
            loop.inner_strides[1], b->data + loop.offset[2], loop.inner_strides[2],
            loop.inner, s);
    }
}

/* Side of the square tiles a transposing unary op works in (see run_unary_tiled). */
#define TILE 32

/*
 * A unary op whose input walks memory across the output's rows (a transposed input:
 * the output's inner dim has a large input stride, the next dim stride 1). Row by row,
 * every element would come from a different cache line; TILE x TILE tiles make the
 * TILE lines a row touches serve the next TILE - 1 rows too.
 */
static void run_unary_tiled(Tensor *out, const Tensor *a, const StridedLoop *loop,
                            UnaryRow row, float p, float q)
{
    int nd = loop->ndim;
    int64_t n0 = loop->shape[nd - 2], n1 = loop->inner;
    int64_t so0 = loop->strides[0][nd - 2], sa0 = loop->strides[1][nd - 2];
    int64_t sa1 = loop->inner_strides[1];
    /* The dims outside the two tiled ones, walked by their own loop. */
    const int64_t *outer_strides[2] = {loop->strides[0], loop->strides[1]};
    StridedLoop outer;
    loop_init(&outer, loop->shape, nd - 2, 2, outer_strides);
    for (int64_t r = 0; r < outer.rows; r++) {
        if (r)
            loop_next(&outer);
        for (int64_t e = 0; e < outer.inner; e++) {
            float *o = out->data + outer.offset[0] + e * outer.inner_strides[0];
            const float *x = a->data + outer.offset[1] + e * outer.inner_strides[1];
            for (int64_t i0 = 0; i0 < n0; i0 += TILE)
                for (int64_t j0 = 0; j0 < n1; j0 += TILE)
                    for (int64_t i = i0; i < i0 + TILE && i < n0; i++)
                        row(o + i * so0 + j0, 1, x + i * sa0 + j0 * sa1, sa1,
                            (n1 - j0 < TILE ? n1 - j0 : TILE), p, q);
        }
    }
}

/* out[...] = row(a) with a broadcast to out's shape. */
static void run_unary(Tensor *out, const Tensor *a, UnaryRow row, float p, float q)
{
    if (same_dense_layout(out, a)) {
        DenseJob job = {row, NULL, out->data, a->data, NULL, p, q};
        strata_parallel_for(tensor_numel(out), STRATA_GRAIN_ELEMENTS, dense_range, &job);
        return;
    }
    int64_t sa[TENSOR_MAX_DIMS];
    tensor_broadcast_strides(a, out->shape, out->ndim, sa);
    const int64_t *strides[2] = {out->strides, sa};
    StridedLoop loop;
    loop_init(&loop, out->shape, out->ndim, 2, strides);
    int nd = loop.ndim;
    if (nd >= 2 && loop.inner_strides[0] == 1 && loop.inner_strides[1] > 1 &&
        loop.strides[1][nd - 2] == 1 && loop.inner >= TILE && loop.shape[nd - 2] >= TILE) {
        run_unary_tiled(out, a, &loop, row, p, q);
        return;
    }
    for (int64_t r = 0; r < loop.rows; r++) {
        if (r)
            loop_next(&loop);
        row(out->data + loop.offset[0], loop.inner_strides[0], a->data + loop.offset[1],
            loop.inner_strides[1], loop.inner, p, q);
    }
}

static Tensor *binary_op(const Tensor *a, const Tensor *b, BinaryRow row, const char *fn)
{
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim;
    if (tensor_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, shape, &ndim, fn) < 0)
        return NULL;
    Tensor *out = tensor_new(shape, ndim, fn);
    if (out)
        run_binary(out, a, b, row, 0.0f);
    return out;
}

static Tensor *unary_op(const Tensor *t, UnaryRow row, float p, float q, const char *fn)
{
    Tensor *out = tensor_new_like(t, fn);
    if (out)
        run_unary(out, t, row, p, q);
    return out;
}

/* SOLUTION END */

Tensor *tensor_copy_contiguous(const Tensor *t, const char *fn)
{
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=NULL */
    return unary_op(t, row_copy, 0.0f, 0.0f, fn);
    /* SOLUTION END */
}

/* Copy @p src into @p dst elementwise; @p src broadcasts to @p dst's shape. */
static void tensor_copy_into(Tensor *dst, const Tensor *src)
{
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=void */
    run_unary(dst, src, row_copy, 0.0f, 0.0f);
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=3 tier=core */

/*
 * Writing through a tensor with a stride-0 dim of size > 1 would store several results
 * in one place (PyTorch refuses too).
 */
static int check_writable(const Tensor *t, const char *fn)
{
    for (int d = 0; d < t->ndim; d++) {
        if (t->strides[d] == 0 && t->shape[d] > 1) {
            strata_set_error("%s: more than one element of the written-to tensor refers "
                             "to a single memory location (dim %d is expanded); clone it "
                             "first", fn, d);
            return -1;
        }
    }
    return 0;
}

/* Check that @p other broadcasts to @p t's shape exactly (t's shape never changes). */
static int check_broadcasts_to(const Tensor *t, const Tensor *other, const char *fn)
{
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim;
    if (tensor_broadcast_shapes(t->shape, t->ndim, other->shape, other->ndim, shape, &ndim, fn) < 0)
        return -1;
    bool same = ndim == t->ndim;
    for (int d = 0; d < ndim && same; d++)
        same = shape[d] == t->shape[d];
    if (!same) {
        char a[SHAPE_STR_SIZE], b[SHAPE_STR_SIZE];
        strata_set_error("%s: shape %s cannot be broadcast to the in-place target's shape "
                         "%s", fn, tensor_shape_str(other, a, sizeof a),
                         tensor_shape_str(t, b, sizeof b));
        return -1;
    }
    return check_writable(t, fn);
}

/* t = row(t, other). When other shares t's memory, read from a copy of it. */
static int inplace_binary(Tensor *t, const Tensor *other, BinaryRow row, float s,
                          const char *fn)
{
    if (check_broadcasts_to(t, other, fn) < 0)
        return -1;
    Tensor *copy = NULL;
    if (other->storage == t->storage && other != t) {
        copy = tensor_copy_contiguous(other, fn);
        if (!copy)
            return -1;
        other = copy;
    }
    run_binary(t, t, other, row, s);
    tensor_release(copy);
    return 0;
}

static int inplace_unary(Tensor *t, UnaryRow row, float p, float q, const char *fn)
{
    if (check_writable(t, fn) < 0)
        return -1;
    run_unary(t, t, row, p, q);
    return 0;
}
/* SOLUTION END */

/* ------------------------------------------------------------------ binary ops --- */

Tensor *tensor_add(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_add, __func__);
    /* SOLUTION END */
}

Tensor *tensor_sub(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_sub, __func__);
    /* SOLUTION END */
}

Tensor *tensor_mul(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_mul, __func__);
    /* SOLUTION END */
}

Tensor *tensor_div(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_div, __func__);
    /* SOLUTION END */
}

Tensor *tensor_pow(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_pow, __func__);
    /* SOLUTION END */
}

Tensor *tensor_maximum(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_maximum, __func__);
    /* SOLUTION END */
}

Tensor *tensor_minimum(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_minimum, __func__);
    /* SOLUTION END */
}

Tensor *tensor_eq(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_eq, __func__);
    /* SOLUTION END */
}

Tensor *tensor_ne(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_ne, __func__);
    /* SOLUTION END */
}

Tensor *tensor_lt(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_lt, __func__);
    /* SOLUTION END */
}

Tensor *tensor_le(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_le, __func__);
    /* SOLUTION END */
}

Tensor *tensor_gt(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_gt, __func__);
    /* SOLUTION END */
}

Tensor *tensor_ge(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return binary_op(a, b, row_ge, __func__);
    /* SOLUTION END */
}

Tensor *tensor_where(const Tensor *cond, const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(cond, NULL);
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    int64_t ab[TENSOR_MAX_DIMS], shape[TENSOR_MAX_DIMS];
    int ab_ndim, ndim;
    if (tensor_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, ab, &ab_ndim, __func__) < 0 ||
        tensor_broadcast_shapes(cond->shape, cond->ndim, ab, ab_ndim, shape, &ndim, __func__) < 0)
        return NULL;
    Tensor *out = tensor_new(shape, ndim, __func__);
    if (!out)
        return NULL;
    int64_t sc[TENSOR_MAX_DIMS], sa[TENSOR_MAX_DIMS], sb[TENSOR_MAX_DIMS];
    tensor_broadcast_strides(cond, shape, ndim, sc);
    tensor_broadcast_strides(a, shape, ndim, sa);
    tensor_broadcast_strides(b, shape, ndim, sb);
    const int64_t *strides[4] = {out->strides, sc, sa, sb};
    StridedLoop loop;
    loop_init(&loop, shape, ndim, 4, strides);
    for (int64_t r = 0; r < loop.rows; r++) {
        if (r)
            loop_next(&loop);
        float *o = out->data + loop.offset[0];
        const float *c = cond->data + loop.offset[1];
        const float *x = a->data + loop.offset[2], *y = b->data + loop.offset[3];
        int64_t s0 = loop.inner_strides[0], s1 = loop.inner_strides[1];
        int64_t s2 = loop.inner_strides[2], s3 = loop.inner_strides[3];
        for (int64_t i = 0; i < loop.inner; i++)
            o[i * s0] = c[i * s1] != 0.0f ? x[i * s2] : y[i * s3];
    }
    return out;
    /* SOLUTION END */
}

/* ------------------------------------------------------------------ scalar ops --- */

Tensor *tensor_add_scalar(const Tensor *t, float s)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return unary_op(t, row_add_scalar, s, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_mul_scalar(const Tensor *t, float s)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    return unary_op(t, row_mul_scalar, s, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_pow_scalar(const Tensor *t, float e)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=NULL */
    /* Squaring is common (losses, variance) and x * x is faster than powf. */
    return unary_op(t, e == 2.0f ? row_square : row_pow_scalar, e, 0.0f, __func__);
    /* SOLUTION END */
}

/* ------------------------------------------------------------------- unary ops --- */

Tensor *tensor_neg(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_neg, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_abs(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_abs, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_sign(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_sign, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_exp(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_exp, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_log(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_log, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_sqrt(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_sqrt, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_rsqrt(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_rsqrt, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_sin(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_sin, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_cos(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_cos, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_tanh(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_tanh, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_sigmoid(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_sigmoid, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_relu(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_relu, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_gelu(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_gelu, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_leaky_relu(const Tensor *t, float slope)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_leaky_relu, slope, 0.0f, __func__);
    /* SOLUTION END */
}

Tensor *tensor_clamp(const Tensor *t, float lo, float hi)
{
    STRATA_CHECK_ARG(t, NULL);
    /* PyTorch's rules, kept out of the kernel: a NaN bound makes every element NaN, and
     * lo > hi gives min(max(x, lo), hi) = hi for every x (NaN stays NaN), which is the
     * kernel's answer with lo lowered to hi. */
    if (isnan(lo) || isnan(hi))
        return tensor_full_like(t, NAN);
    if (lo > hi)
        lo = hi;
    /* SOLUTION BEGIN week=1 step=5 tier=core fail=NULL */
    return unary_op(t, row_clamp, lo, hi, __func__);
    /* SOLUTION END */
}

/* ------------------------------------------------------------------- in place --- */

int tensor_add_(Tensor *t, const Tensor *other)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(other, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_binary(t, other, row_add, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_sub_(Tensor *t, const Tensor *other)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(other, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_binary(t, other, row_sub, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_mul_(Tensor *t, const Tensor *other)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(other, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_binary(t, other, row_mul, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_div_(Tensor *t, const Tensor *other)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(other, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_binary(t, other, row_div, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_axpy_(Tensor *t, float alpha, const Tensor *x)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(x, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_binary(t, x, row_axpy, alpha, __func__);
    /* SOLUTION END */
}

int tensor_add_scalar_(Tensor *t, float s)
{
    STRATA_CHECK_ARG(t, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_unary(t, row_add_scalar, s, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_mul_scalar_(Tensor *t, float s)
{
    STRATA_CHECK_ARG(t, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_unary(t, row_mul_scalar, s, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_clamp_(Tensor *t, float lo, float hi)
{
    STRATA_CHECK_ARG(t, -1);
    if (isnan(lo) || isnan(hi)) /* PyTorch's rules, as tensor_clamp() */
        return tensor_fill_(t, NAN);
    if (lo > hi)
        lo = hi;
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_unary(t, row_clamp, lo, hi, __func__);
    /* SOLUTION END */
}

int tensor_fill_(Tensor *t, float value)
{
    STRATA_CHECK_ARG(t, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_unary(t, row_fill, value, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_zero_(Tensor *t)
{
    STRATA_CHECK_ARG(t, -1);
    /* SOLUTION BEGIN week=1 step=6 tier=core fail=-1 */
    return inplace_unary(t, row_fill, 0.0f, 0.0f, __func__);
    /* SOLUTION END */
}

int tensor_copy_(Tensor *t, const Tensor *src)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(src, -1);
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=-1 */
    if (check_broadcasts_to(t, src, __func__) < 0)
        return -1;
    if (src == t)
        return 0;
    Tensor *copy = NULL;
    if (src->storage == t->storage) {
        copy = tensor_copy_contiguous(src, __func__);
        if (!copy)
            return -1;
        src = copy;
    }
    tensor_copy_into(t, src);
    tensor_release(copy);
    return 0;
    /* SOLUTION END */
}
