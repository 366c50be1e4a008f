/*
 * reduce.c - reductions over dims (sum, mean, var, std, logsumexp), max/min with their
 * indices, and softmax / log-softmax.
 *
 * A reduction over a dim list is the strided loop of elementwise.c with one trick: the
 * accumulator is seen through the input's shape with stride 0 on the reduced dims, so
 * every input element of a reduced group lands on the same accumulator slot. The loop
 * then either sums one contiguous row into one slot (reducing the inner dim) or adds a
 * row into a row of slots (reducing an outer dim): both are simple vectorizable loops.
 * Accumulators are doubles: float sums of many terms lose digits.
 */
#include "tensor_internal.h"
#include "tensor_math.h"

#include <math.h>
#include <string.h>

/* SOLUTION BEGIN week=1 step=8 tier=stretch */
/* What the accumulation pass computes per slot. */
typedef enum {
    RED_SUM,    /* acc += x */
    RED_SQDEV,  /* acc += (x - aux)^2, aux the mean */
    RED_SUMEXP, /* acc += exp(x - aux), aux the max (or 0 when it is infinite) */
    RED_MAX,    /* acc = max(acc, x), NaN wins */
    RED_MIN     /* acc = min(acc, x), NaN wins */
} ReduceKind;

/* Outputs up to this many slots accumulate in a stack buffer (no allocation). */
#define SMALL_ACC 64

/* Sum of a contiguous row in double, with 8 independent partial sums. */
static double sum_row(const float *x, int64_t n)
{
    double part[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            part[k] += x[i + k];
    double s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 8; k++)
        s += part[k];
    return s;
}

/* One row of the accumulation: slot acc[i*sa] takes element x[i*sx], i < n. */
static void reduce_row(ReduceKind kind, double *acc, int64_t sa, const double *aux,
                       const float *x, int64_t sx, int64_t n)
{
    switch (kind) {
    case RED_SUM:
        if (sa == 0 && sx == 1) {
            acc[0] += sum_row(x, n);
        } else if (sa == 1 && sx == 1) {
            for (int64_t i = 0; i < n; i++)
                acc[i] += x[i];
        } else {
            for (int64_t i = 0; i < n; i++)
                acc[i * sa] += x[i * sx];
        }
        break;
    case RED_SQDEV:
        for (int64_t i = 0; i < n; i++) {
            double d = x[i * sx] - aux[i * sa];
            acc[i * sa] += d * d;
        }
        break;
    case RED_SUMEXP:
        for (int64_t i = 0; i < n; i++)
            acc[i * sa] += math_expf((float)(x[i * sx] - aux[i * sa]));
        break;
    case RED_MAX:
        for (int64_t i = 0; i < n; i++) {
            double v = x[i * sx], m = acc[i * sa];
            if (m == m && (v != v || v > m)) /* m == m: m is not NaN yet */
                acc[i * sa] = v;
        }
        break;
    case RED_MIN:
        for (int64_t i = 0; i < n; i++) {
            double v = x[i * sx], m = acc[i * sa];
            if (m == m && (v != v || v < m))
                acc[i * sa] = v;
        }
        break;
    }
}

/*
 * Accumulate @p t into @p acc (one slot per output element, row-major over the kept
 * dims). @p aux, if used, has the same layout as @p acc.
 */
static void reduce_into(const Tensor *t, const bool *mask, ReduceKind kind, double *acc,
                        const double *aux)
{
    int ndim = t->ndim;
    int64_t kept[TENSOR_MAX_DIMS] = {0}, acc_strides[TENSOR_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        kept[d] = mask[d] ? 1 : t->shape[d];
    tensor_contiguous_strides(kept, ndim, acc_strides);
    for (int d = 0; d < ndim; d++)
        if (mask[d])
            acc_strides[d] = 0; /* the whole reduced group shares one slot */

    /* Walk the input in memory order (largest stride outermost): same result, fewer
     * cache misses when t is a transposed view. */
    int order[TENSOR_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        int j = d;
        while (j > 0 && t->strides[order[j - 1]] < t->strides[d]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = d;
    }
    int64_t shape[TENSOR_MAX_DIMS], sa[TENSOR_MAX_DIMS], st[TENSOR_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        shape[i] = t->shape[order[i]];
        sa[i] = acc_strides[order[i]];
        st[i] = t->strides[order[i]];
    }
    const int64_t *strides[2] = {sa, st};
    StridedLoop loop;
    loop_init(&loop, shape, ndim, 2, strides);
    for (int64_t r = 0; r < loop.rows; r++) {
        if (r)
            loop_next(&loop);
        reduce_row(kind, acc + loop.offset[0], loop.inner_strides[0],
                   aux ? aux + loop.offset[0] : NULL, t->data + loop.offset[1],
                   loop.inner_strides[1], loop.inner);
    }
}

/* The result's shape: reduced dims dropped, or kept with size 1. */
static int reduced_shape(const Tensor *t, const bool *mask, bool keepdim, int64_t *shape)
{
    int n = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (!mask[d])
            shape[n++] = t->shape[d];
        else if (keepdim)
            shape[n++] = 1;
    }
    return n;
}

/* Number of input elements per output slot. */
static int64_t group_size(const Tensor *t, const bool *mask)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        if (mask[d])
            n *= t->shape[d];
    return n;
}

/* A double buffer of @p n slots: @p small if it fits, else allocated. */
static double *acc_buffer(double *small, int64_t n)
{
    if (n <= SMALL_ACC)
        return small;
    return strata_malloc((size_t)n * sizeof(double));
}

static void acc_free(double *acc, const double *small)
{
    if (acc != small)
        strata_free(acc);
}

static void acc_fill(double *acc, int64_t n, double value)
{
    for (int64_t i = 0; i < n; i++)
        acc[i] = value;
}

/* The statistics tensor_sum .. tensor_logsumexp compute. */
typedef enum { STAT_SUM, STAT_MEAN, STAT_VAR, STAT_STD, STAT_LOGSUMEXP } Stat;

/* Compute @p stat into @p acc (out slots); the mask and t are validated. */
static void compute_stat(const Tensor *t, const bool *mask, Stat stat, bool unbiased,
                         double *acc, double *aux, int64_t slots)
{
    double count = (double)group_size(t, mask);
    if (stat == STAT_LOGSUMEXP) {
        acc_fill(aux, slots, -INFINITY);
        reduce_into(t, mask, RED_MAX, aux, NULL);
        /* An infinite max would give inf - inf: shift by 0 instead, as PyTorch. */
        for (int64_t i = 0; i < slots; i++)
            if (isinf(aux[i]))
                aux[i] = 0;
        acc_fill(acc, slots, 0.0);
        reduce_into(t, mask, RED_SUMEXP, acc, aux);
        for (int64_t i = 0; i < slots; i++)
            acc[i] = log(acc[i]) + aux[i];
        return;
    }
    acc_fill(acc, slots, 0.0);
    reduce_into(t, mask, RED_SUM, acc, NULL);
    if (stat == STAT_SUM)
        return;
    for (int64_t i = 0; i < slots; i++)
        acc[i] /= count; /* 0 / 0 = NaN: the mean of nothing, as PyTorch */
    if (stat == STAT_MEAN)
        return;
    /* Two passes (mean, then squared deviations) avoid E[x^2] - E[x]^2 cancellation. */
    memcpy(aux, acc, (size_t)slots * sizeof(double));
    acc_fill(acc, slots, 0.0);
    reduce_into(t, mask, RED_SQDEV, acc, aux);
    double dof = count - (unbiased ? 1.0 : 0.0);
    for (int64_t i = 0; i < slots; i++) {
        acc[i] = dof > 0 ? acc[i] / dof : NAN;
        if (stat == STAT_STD)
            acc[i] = sqrt(acc[i]);
    }
}

/* The common body of the dim-list reductions. */
static Tensor *reduce_stat(const Tensor *t, const int *dims, int ndims, bool keepdim,
                           Stat stat, bool unbiased, const char *fn)
{
    bool mask[TENSOR_MAX_DIMS];
    if (tensor_dim_mask(dims, ndims, t->ndim, mask, fn) < 0)
        return NULL;
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim = reduced_shape(t, mask, keepdim, shape);
    Tensor *out = tensor_new(shape, ndim, fn);
    if (!out)
        return NULL;
    int64_t slots = tensor_numel(out);
    double small_acc[SMALL_ACC], small_aux[SMALL_ACC];
    /* Sums and means need no second buffer (the mean of var, the max of logsumexp). */
    bool two = stat != STAT_SUM && stat != STAT_MEAN;
    double *acc = acc_buffer(small_acc, slots);
    double *aux = two ? acc_buffer(small_aux, slots) : small_aux;
    if (!acc || !aux) {
        acc_free(acc, small_acc);
        acc_free(aux, small_aux);
        tensor_release(out);
        return NULL;
    }
    compute_stat(t, mask, stat, unbiased, acc, aux, slots);
    for (int64_t i = 0; i < slots; i++)
        out->data[i] = (float)acc[i];
    acc_free(acc, small_acc);
    acc_free(aux, small_aux);
    return out;
}
/* SOLUTION END */

Tensor *tensor_sum(const Tensor *t, const int *dims, int ndims, bool keepdim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return reduce_stat(t, dims, ndims, keepdim, STAT_SUM, false, __func__);
    /* SOLUTION END */
}

Tensor *tensor_mean(const Tensor *t, const int *dims, int ndims, bool keepdim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return reduce_stat(t, dims, ndims, keepdim, STAT_MEAN, false, __func__);
    /* SOLUTION END */
}

Tensor *tensor_var(const Tensor *t, const int *dims, int ndims, bool unbiased, bool keepdim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return reduce_stat(t, dims, ndims, keepdim, STAT_VAR, unbiased, __func__);
    /* SOLUTION END */
}

Tensor *tensor_std(const Tensor *t, const int *dims, int ndims, bool unbiased, bool keepdim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return reduce_stat(t, dims, ndims, keepdim, STAT_STD, unbiased, __func__);
    /* SOLUTION END */
}

Tensor *tensor_logsumexp(const Tensor *t, const int *dims, int ndims, bool keepdim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return reduce_stat(t, dims, ndims, keepdim, STAT_LOGSUMEXP, false, __func__);
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=8 tier=stretch */
/* ------------------------------------------------------------------- max / min --- */

/*
 * Prepare a loop over the lanes of @p t along @p dim: the loop runs over t's shape with
 * that dim of size 1, and operand k+1 follows @p outs[k] (tensors holding one element
 * per lane, with or without the dim). Element i of a row starts lane i.
 */
static void lane_loop(StridedLoop *loop, const Tensor *t, int dim, Tensor *const *outs,
                      int nouts)
{
    int64_t shape[TENSOR_MAX_DIMS], os[LOOP_MAX_OPS - 1][TENSOR_MAX_DIMS];
    const int64_t *strides[LOOP_MAX_OPS];
    for (int d = 0; d < t->ndim; d++)
        shape[d] = d == dim ? 1 : t->shape[d];
    for (int k = 0; k < nouts; k++) {
        /* outs[k] may lack dim: re-insert it (any stride will do for a size-1 dim). */
        int skip = outs[k]->ndim < t->ndim;
        for (int d = 0, j = 0; d < t->ndim; d++)
            os[k][d] = (skip && d == dim) ? 0 : outs[k]->strides[j++];
        strides[k] = os[k];
    }
    strides[nouts] = t->strides;
    loop_init(loop, shape, t->ndim, nouts + 1, strides);
}

/*
 * Max (or min, when @p want_min) of each of @p n lanes (lane i starts at x + i*sx, its
 * elements are sd apart) with the index of the first winner; a NaN wins and stays.
 * Whichever of the two strides is smaller runs innermost, so memory is walked in order
 * both along dim 0 (lanes side by side) and along the last dim (one lane at a time).
 */
static void extreme_rows(const float *x, int64_t sx, int64_t sd, int64_t len, float *val,
                         int64_t sv, float *idx, int64_t si, int64_t n, bool want_min)
{
    if (sd < sx) { /* lanes are contiguous-ish: scan each lane on its own instead */
        for (int64_t i = 0; i < n; i++)
            extreme_rows(x + i * sx, 0, sd, len, val + i * sv, 0, idx ? idx + i * si : NULL,
                         0, 1, want_min);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        val[i * sv] = x[i * sx];
        if (idx)
            idx[i * si] = 0.0f;
    }
    for (int64_t j = 1; j < len; j++) {
        const float *xj = x + j * sd;
        for (int64_t i = 0; i < n; i++) {
            float v = xj[i * sx], m = val[i * sv];
            bool better = want_min ? v < m : v > m;
            if (m == m && (v != v || better)) {
                val[i * sv] = v;
                if (idx)
                    idx[i * si] = (float)j;
            }
        }
    }
}

/* The body of tensor_max / tensor_min / argmax / argmin. */
static Tensor *extreme(const Tensor *t, int dim, bool keepdim, Tensor **indices,
                       bool want_min, const char *fn)
{
    int d = tensor_wrap_dim(dim, t->ndim, fn);
    if (d < 0)
        return NULL;
    int64_t len = t->ndim ? t->shape[d] : 1;
    if (len == 0) {
        strata_set_error("%s: cannot reduce over dim %d of size 0 (no identity for "
                         "max/min)", fn, d);
        return NULL;
    }
    bool mask[TENSOR_MAX_DIMS] = {false};
    mask[d] = t->ndim > 0;
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim = reduced_shape(t, mask, keepdim, shape);
    Tensor *outs[2] = {tensor_new(shape, ndim, fn), NULL};
    if (outs[0] && indices)
        outs[1] = tensor_new(shape, ndim, fn);
    if (!outs[0] || (indices && !outs[1])) {
        tensor_release(outs[0]);
        return NULL;
    }
    if (t->ndim == 0) { /* a scalar is its own max, at index 0 */
        outs[0]->data[0] = t->data[0];
        if (outs[1])
            outs[1]->data[0] = 0.0f;
    } else {
        StridedLoop loop;
        int nouts = indices ? 2 : 1;
        lane_loop(&loop, t, d, outs, nouts);
        for (int64_t r = 0; r < loop.rows; r++) {
            if (r)
                loop_next(&loop);
            const int64_t *s = loop.inner_strides;
            float *idx = indices ? outs[1]->data + loop.offset[1] : NULL;
            extreme_rows(t->data + loop.offset[nouts], s[nouts], t->strides[d], len,
                         outs[0]->data + loop.offset[0], s[0], idx, indices ? s[1] : 0,
                         loop.inner, want_min);
        }
    }
    if (indices)
        *indices = outs[1];
    return outs[0];
}

/* Max or min of every element, as a 0-d tensor. */
static Tensor *extreme_all(const Tensor *t, bool want_min, const char *fn)
{
    if (tensor_numel(t) == 0) {
        strata_set_error("%s: the tensor is empty (max/min of nothing is undefined)", fn);
        return NULL;
    }
    bool mask[TENSOR_MAX_DIMS];
    for (int d = 0; d < TENSOR_MAX_DIMS; d++)
        mask[d] = true;
    double acc = want_min ? INFINITY : -INFINITY;
    reduce_into(t, mask, want_min ? RED_MIN : RED_MAX, &acc, NULL);
    Tensor *out = tensor_new(NULL, 0, fn);
    if (out)
        out->data[0] = (float)acc;
    return out;
}

/* Where the max or min along @p dim is: extreme()'s indices alone. */
static Tensor *extreme_index(const Tensor *t, int dim, bool keepdim, bool want_min,
                             const char *fn)
{
    Tensor *indices = NULL;
    Tensor *values = extreme(t, dim, keepdim, &indices, want_min, fn);
    tensor_release(values);
    return indices;
}
/* SOLUTION END */

Tensor *tensor_max(const Tensor *t, int dim, bool keepdim, Tensor **indices)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return extreme(t, dim, keepdim, indices, false, __func__);
    /* SOLUTION END */
}

Tensor *tensor_min(const Tensor *t, int dim, bool keepdim, Tensor **indices)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return extreme(t, dim, keepdim, indices, true, __func__);
    /* SOLUTION END */
}

Tensor *tensor_max_all(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return extreme_all(t, false, __func__);
    /* SOLUTION END */
}

Tensor *tensor_min_all(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return extreme_all(t, true, __func__);
    /* SOLUTION END */
}

Tensor *tensor_argmax(const Tensor *t, int dim, bool keepdim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return extreme_index(t, dim, keepdim, false, __func__);
    /* SOLUTION END */
}

Tensor *tensor_argmin(const Tensor *t, int dim, bool keepdim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return extreme_index(t, dim, keepdim, true, __func__);
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=8 tier=stretch */
/* -------------------------------------------------------------------- softmax --- */

/* Max of a lane (NaN wins), for the shift that keeps exp() from overflowing. */
static float lane_max(const float *x, int64_t sx, int64_t n)
{
    float m = -INFINITY;
    bool nan = false;
    int64_t j = 0;
    if (sx == 1) { /* 8 independent maxima: no chain of dependent comparisons */
        float part[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                         -INFINITY, -INFINITY, -INFINITY, -INFINITY};
        for (; j + 8 <= n; j += 8) {
            for (int k = 0; k < 8; k++) {
                part[k] = x[j + k] > part[k] ? x[j + k] : part[k];
                nan |= x[j + k] != x[j + k];
            }
        }
        for (int k = 0; k < 8; k++)
            m = part[k] > m ? part[k] : m;
    }
    for (; j < n; j++) {
        float v = x[j * sx];
        m = v > m ? v : m;
        nan |= v != v;
    }
    return nan ? NAN : m;
}

/* y[j] = exp(x[j] - m), and their sum in double. */
static double lane_exp(const float *x, int64_t sx, float *y, int64_t sy, int64_t n, float m)
{
    if (sx == 1 && sy == 1) { /* the common case: a vectorized loop, then the sum */
        for (int64_t j = 0; j < n; j++)
            y[j] = math_expf(x[j] - m);
        return sum_row(y, n);
    }
    double sum = 0;
    for (int64_t j = 0; j < n; j++) {
        y[j * sy] = math_expf(x[j * sx] - m);
        sum += y[j * sy];
    }
    return sum;
}

/*
 * Softmax of one lane of @p n elements (x stride sx, y stride sy). Subtracting the max
 * first keeps exp() from overflowing; the result is unchanged because the factor
 * e^-max cancels between numerator and denominator.
 */
static void softmax_lane(const float *x, int64_t sx, float *y, int64_t sy, int64_t n,
                         bool log_out)
{
    float m = lane_max(x, sx, n);
    /* A lane of -inf only: shift by 0 instead, so exp gives 0s and 0/0 = NaN (PyTorch's
     * answer) rather than -inf - -inf. A +inf max stays: x - inf is NaN for the +inf
     * entries and -inf for the rest, the sum is NaN, and so is every output, as PyTorch. */
    if (m == -INFINITY)
        m = 0.0f;
    double sum = lane_exp(x, sx, y, sy, n, m);
    if (log_out) {
        /* log softmax = (x - max) - log(sum): no exp/log round trip, no log(0). The
         * parentheses matter: x - max is exact, while max + log(sum) would round away
         * the digits of log(sum) when max is large. */
        float lse = (float)log(sum);
        for (int64_t j = 0; j < n; j++)
            y[j * sy] = (x[j * sx] - m) - lse;
    } else {
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < n; j++)
            y[j * sy] *= inv;
    }
}

/*
 * Sixteen rows of a contiguous [rows, n] tensor at once, each row in its own vector lane:
 * a short row (a classifier's 10 classes) leaves most of a vector unused and spends its
 * time in scalar tails when done alone. Every row goes through softmax_lane's own float
 * operations in its order (lane_max's eight partial maxima then the tail, lane_exp's
 * exponentials and sum_row's eight partial sums, then the log or the reciprocal), so
 * the same bits; only the loops run across rows. n <= SOFTMAX_ROWS_MAX_N.
 */
enum { SOFTMAX_ROWS = 16, SOFTMAX_ROWS_MAX_N = 32 };

static void softmax_rows(const float *x, float *y, int64_t n, bool log_out)
{
    enum { R = SOFTMAX_ROWS };
    float xt[SOFTMAX_ROWS_MAX_N][R], yt[SOFTMAX_ROWS_MAX_N][R], part[8][R], m[R], lse[R];
    double sum_part[8][R], sum[R];
    bool nan[R];
    for (int64_t j = 0; j < n; j++) /* row r's element j goes to xt[j][r] */
        for (int r = 0; r < R; r++)
            xt[j][r] = x[r * n + j];
    for (int r = 0; r < R; r++) {
        m[r] = -INFINITY;
        nan[r] = false;
        sum[r] = 0;
    }
    for (int k = 0; k < 8; k++)
        for (int r = 0; r < R; r++) {
            part[k][r] = -INFINITY;
            sum_part[k][r] = 0;
        }
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) /* lane_max */
        for (int k = 0; k < 8; k++)
            for (int r = 0; r < R; r++) {
                float v = xt[j + k][r];
                part[k][r] = v > part[k][r] ? v : part[k][r];
                nan[r] |= v != v;
            }
    for (int k = 0; k < 8; k++)
        for (int r = 0; r < R; r++)
            m[r] = part[k][r] > m[r] ? part[k][r] : m[r];
    for (; j < n; j++)
        for (int r = 0; r < R; r++) {
            float v = xt[j][r];
            m[r] = v > m[r] ? v : m[r];
            nan[r] |= v != v;
        }
    for (int r = 0; r < R; r++) {
        m[r] = nan[r] ? NAN : m[r];
        m[r] = m[r] == -INFINITY ? 0.0f : m[r]; /* softmax_lane's rule */
    }
    for (j = 0; j < n; j++) /* lane_exp */
        for (int r = 0; r < R; r++)
            yt[j][r] = math_expf(xt[j][r] - m[r]);
    for (j = 0; j + 8 <= n; j += 8) /* sum_row */
        for (int k = 0; k < 8; k++)
            for (int r = 0; r < R; r++)
                sum_part[k][r] += yt[j + k][r];
    for (; j < n; j++)
        for (int r = 0; r < R; r++)
            sum[r] += yt[j][r];
    for (int k = 0; k < 8; k++)
        for (int r = 0; r < R; r++)
            sum[r] += sum_part[k][r];
    if (log_out) {
        for (int r = 0; r < R; r++)
            lse[r] = (float)log(sum[r]);
        for (j = 0; j < n; j++)
            for (int r = 0; r < R; r++)
                yt[j][r] = (xt[j][r] - m[r]) - lse[r];
    } else {
        for (int r = 0; r < R; r++)
            lse[r] = (float)(1.0 / sum[r]); /* here the reciprocal */
        for (j = 0; j < n; j++)
            for (int r = 0; r < R; r++)
                yt[j][r] *= lse[r];
    }
    for (int r = 0; r < R; r++)
        for (j = 0; j < n; j++)
            y[r * n + j] = yt[j][r];
}

static Tensor *softmax_impl(const Tensor *t, int dim, bool log_out, const char *fn)
{
    int d = tensor_wrap_dim(dim, t->ndim, fn);
    if (d < 0)
        return NULL;
    Tensor *out = tensor_new_like(t, fn);
    if (!out)
        return NULL;
    if (t->ndim == 0) {
        softmax_lane(t->data, 1, out->data, 1, 1, log_out);
        return out;
    }
    int64_t len = t->shape[d], sx = t->strides[d], sy = out->strides[d];
    if (d == t->ndim - 1 && len <= SOFTMAX_ROWS_MAX_N && tensor_is_contiguous(t)) {
        /* Contiguous short rows: sixteen at a time, the rest one by one. */
        int64_t rows = len > 0 ? tensor_numel(t) / len : 0, r = 0;
        for (; r + SOFTMAX_ROWS <= rows; r += SOFTMAX_ROWS)
            softmax_rows(t->data + r * len, out->data + r * len, len, log_out);
        for (; r < rows; r++)
            softmax_lane(t->data + r * len, 1, out->data + r * len, 1, len, log_out);
        return out;
    }
    StridedLoop loop;
    lane_loop(&loop, t, d, &out, 1);
    for (int64_t r = 0; r < loop.rows; r++) {
        if (r)
            loop_next(&loop);
        for (int64_t i = 0; i < loop.inner; i++)
            softmax_lane(t->data + loop.offset[1] + i * loop.inner_strides[1], sx,
                         out->data + loop.offset[0] + i * loop.inner_strides[0], sy, len,
                         log_out);
    }
    return out;
}
/* SOLUTION END */

Tensor *tensor_softmax(const Tensor *t, int dim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return softmax_impl(t, dim, false, __func__);
    /* SOLUTION END */
}

Tensor *tensor_log_softmax(const Tensor *t, int dim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=8 tier=stretch fail=NULL */
    return softmax_impl(t, dim, true, __func__);
    /* SOLUTION END */
}
