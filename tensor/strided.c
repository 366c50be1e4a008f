/*
 * strided.c - the strided loop, the engine of week 1: it walks several strided arrays
 * over one shape, merging the dims that are contiguous in every operand so that a
 * kernel runs once per long inner row; and broadcasting (NumPy's rules), which feeds
 * it stride-0 dims. Elementwise ops, reductions, indexing and batched matmul run on it.
 */
#include "tensor_internal.h"

/* ------------------------------------------------------------- the strided loop --- */

void loop_init(StridedLoop *loop, const int64_t *shape, int ndim, int nops,
               const int64_t *const *strides)
{
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=void */
    int64_t sh[TENSOR_MAX_DIMS], st[LOOP_MAX_OPS][TENSOR_MAX_DIMS];
    int64_t numel = 1;
    int n = 0;
    loop->nops = nops;
    /*
     * Walk from the innermost dim outwards. Size-1 dims never step, so drop them. A
     * dim merges into the one inside it when, for every operand, stepping it once
     * equals stepping the inner dim through its whole size.
     */
    for (int d = ndim - 1; d >= 0; d--) {
        numel *= shape[d];
        if (shape[d] == 1)
            continue;
        bool merge = n > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = strides[k][d] == st[k][n - 1] * sh[n - 1];
        if (merge) {
            sh[n - 1] *= shape[d];
            continue;
        }
        sh[n] = shape[d];
        for (int k = 0; k < nops; k++)
            st[k][n] = strides[k][d];
        n++;
    }
    if (n == 0) { /* a scalar, or only size-1 dims: one row of one element */
        sh[0] = 1;
        for (int k = 0; k < nops; k++)
            st[k][0] = 0;
        n = 1;
    }
    loop->ndim = n;
    for (int i = 0; i < n; i++) {
        loop->shape[i] = sh[n - 1 - i];
        loop->index[i] = 0;
        for (int k = 0; k < nops; k++)
            loop->strides[k][i] = st[k][n - 1 - i];
    }
    loop->inner = loop->shape[n - 1];
    for (int k = 0; k < nops; k++) {
        loop->inner_strides[k] = loop->strides[k][n - 1];
        loop->offset[k] = 0;
    }
    loop->rows = numel == 0 ? 0 : numel / loop->inner;
    /* SOLUTION END */
}

void loop_next(StridedLoop *loop)
{
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=void */
    /* An odometer over the outer dims: bump the last one, carry into the previous. */
    for (int d = loop->ndim - 2; d >= 0; d--) {
        for (int k = 0; k < loop->nops; k++)
            loop->offset[k] += loop->strides[k][d];
        if (++loop->index[d] < loop->shape[d])
            return;
        for (int k = 0; k < loop->nops; k++)
            loop->offset[k] -= loop->strides[k][d] * loop->shape[d];
        loop->index[d] = 0;
    }
    /* SOLUTION END */
}

void tensor_broadcast_strides(const Tensor *t, const int64_t *shape, int ndim,
                              int64_t *strides)
{
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=void */
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
        int td = d - lead;
        /* A missing or size-1 dim repeats the same elements: stride 0. */
        strides[d] = (td < 0 || (t->shape[td] == 1 && shape[d] != 1)) ? 0 : t->strides[td];
    }
    /* SOLUTION END */
}

/* Broadcast two shapes, naming @p fn in the error. */
int tensor_broadcast_shapes(const int64_t *a, int a_ndim, const int64_t *b, int b_ndim,
                            int64_t *out, int *out_ndim, const char *fn)
{
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=-1 */
    int n = a_ndim > b_ndim ? a_ndim : b_ndim;
    for (int i = 0; i < n; i++) {
        /* Align on the right: dim i from the end of each shape. */
        int64_t x = i < a_ndim ? a[a_ndim - 1 - i] : 1;
        int64_t y = i < b_ndim ? b[b_ndim - 1 - i] : 1;
        if (x != y && x != 1 && y != 1) {
            char sa[SHAPE_STR_SIZE], sb[SHAPE_STR_SIZE];
            strata_set_error("%s: shapes %s and %s do not broadcast (the size %lld must "
                             "match the size %lld at dim %d from the end)", fn,
                             tensor_format_shape(a, a_ndim, sa, sizeof sa),
                             tensor_format_shape(b, b_ndim, sb, sizeof sb), (long long)x,
                             (long long)y, -1 - i);
            return -1;
        }
        out[n - 1 - i] = x == 1 ? y : x;
    }
    *out_ndim = n;
    return 0;
    /* SOLUTION END */
}

int tensor_broadcast_shape(const int64_t *a, int a_ndim, const int64_t *b, int b_ndim,
                           int64_t *out, int *out_ndim)
{
    STRATA_CHECK_ARG(out, -1);
    STRATA_CHECK_ARG(out_ndim, -1);
    if (a_ndim > 0)
        STRATA_CHECK_ARG(a, -1);
    if (b_ndim > 0)
        STRATA_CHECK_ARG(b, -1);
    if (a_ndim < 0 || a_ndim > TENSOR_MAX_DIMS || b_ndim < 0 || b_ndim > TENSOR_MAX_DIMS) {
        strata_set_error("tensor_broadcast_shape: dims %d and %d must be in [0, %d]",
                         a_ndim, b_ndim, TENSOR_MAX_DIMS);
        return -1;
    }
    /* SOLUTION BEGIN week=1 step=4 tier=core fail=-1 */
    return tensor_broadcast_shapes(a, a_ndim, b, b_ndim, out, out_ndim, __func__);
    /* SOLUTION END */
}
