/*
 * matmul.c - matrix products on cblas_sgemm, and the naive loop beside them.
 *
 * BLAS reads a matrix from a pointer, a leading dimension (the distance between rows)
 * and a transpose flag. A strided 2-D view whose elements are contiguous along its
 * columns (stride[1] == 1) is a row-major matrix with ld = stride[0]; one contiguous
 * along its rows (stride[0] == 1), like a transposed view, is the transpose of one with
 * ld = stride[1]. Either goes to BLAS as it is: a transposed weight costs no copy.
 * Only other layouts (broadcast stride 0, every-other-column slices, ...) are copied.
 */
#include "tensor_internal.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* SOLUTION BEGIN week=1 step=9 tier=stretch */
/*
 * A matmul operand seen as a batch of 2-D matrices: shape[ndim-2..ndim-1] are the rows
 * and columns, the dims before them the batch. A 1-D operand gets a size-1 dim.
 */
typedef struct MatOperand {
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t strides[TENSOR_MAX_DIMS];
    const float *data;
    CBLAS_TRANSPOSE trans; /* how BLAS reads each matrix */
    int64_t ld;            /* its leading dimension */
} MatOperand;

/*
 * Can a rows x cols matrix with strides (s0, s1) go to BLAS as it is? Sets trans and
 * ld. Sizes 1 never step, so their strides do not matter.
 */
static bool blas_layout(int64_t rows, int64_t cols, int64_t s0, int64_t s1,
                        CBLAS_TRANSPOSE *trans, int64_t *ld)
{
    if ((cols == 1 || s1 == 1) && (rows == 1 || s0 >= (cols > 1 ? cols : 1))) {
        *trans = CblasNoTrans;
        *ld = rows == 1 ? (cols > 1 ? cols : 1) : s0;
        return true;
    }
    if ((rows == 1 || s0 == 1) && (cols == 1 || s1 >= (rows > 1 ? rows : 1))) {
        *trans = CblasTrans;
        *ld = cols == 1 ? (rows > 1 ? rows : 1) : s1;
        return true;
    }
    return false;
}

/* Describe @p t as a matmul operand; @p is_left promotes a 1-D to [1, k], else [k, 1]. */
static void mat_operand(const Tensor *t, bool is_left, MatOperand *op)
{
    op->data = t->data;
    if (t->ndim == 1) {
        op->ndim = 2;
        op->shape[is_left ? 0 : 1] = 1;
        op->strides[is_left ? 0 : 1] = 0;
        op->shape[is_left ? 1 : 0] = t->shape[0];
        op->strides[is_left ? 1 : 0] = t->strides[0];
    } else {
        op->ndim = t->ndim;
        memcpy(op->shape, t->shape, sizeof op->shape);
        memcpy(op->strides, t->strides, sizeof op->strides);
    }
}

static bool operand_layout(MatOperand *op)
{
    int r = op->ndim - 2;
    return blas_layout(op->shape[r], op->shape[r + 1], op->strides[r], op->strides[r + 1],
                       &op->trans, &op->ld);
}

/*
 * Can every batch of @p a be stacked into one tall matrix? True when a is read without
 * transposing and its batch dims step exactly over whole matrices of ld-spaced rows
 * (batch strides 0 rule it out: a broadcast a repeats rows).
 */
static bool rows_stack(const MatOperand *a, const int64_t *batch_strides,
                       const int64_t *batch, int nbatch)
{
    if (a->trans != CblasNoTrans)
        return false;
    int64_t m = a->shape[a->ndim - 2];
    int64_t expected = a->ld * m;
    for (int d = nbatch - 1; d >= 0; d--) {
        if (batch[d] == 1)
            continue;
        if (batch_strides[d] != expected)
            return false;
        expected *= batch[d];
    }
    return true;
}

/* Whether @p v fits BLAS's int arguments. */
static bool fits_int(int64_t v)
{
    return v <= INT_MAX;
}

/* Products up to this many multiply-adds skip BLAS: its call overhead would dominate. */
#define SMALL_GEMM 512

/* What runs on each band of the output once it is computed (tensor_matmul_then()):
 * none for a plain product. */
typedef struct {
    TensorBandFn fn;
    void *ctx;
} BandThen;

/* The triple loop for tiny products, reading a and b through their BLAS layouts. */
static void small_gemm(const MatOperand *a, const float *pa, const MatOperand *b,
                       const float *pb, float *out, int64_t m, int64_t n, int64_t k)
{
    /* Element (i, p) of a is pa[i*ai + p*ap]; element (p, j) of b is pb[p*bp + j*bj]. */
    int64_t ai = a->trans == CblasNoTrans ? a->ld : 1, ap = a->trans == CblasNoTrans ? 1 : a->ld;
    int64_t bp = b->trans == CblasNoTrans ? b->ld : 1, bj = b->trans == CblasNoTrans ? 1 : b->ld;
    for (int64_t i = 0; i < m; i++) {
        float *row = out + i * n;
        for (int64_t j = 0; j < n; j++)
            row[j] = 0.0f;
        for (int64_t p = 0; p < k; p++) {
            float x = pa[i * ai + p * ap];
            for (int64_t j = 0; j < n; j++)
                row[j] += x * pb[p * bp + j * bj];
        }
    }
}

/*
 * A large product is split among strata's threads: each band of out's rows (when out is
 * taller than wide) or of its columns is a chunk, computed with its own sgemm. The bands
 * are whole blocks of GEMM_BLOCK rows or columns (BLAS kernels work in such tiles), and
 * each has at least GEMM_GRAIN multiply-adds: below that, handing it to a thread costs
 * more than it saves. And at most GEMM_BANDS_PER_THREAD bands per thread: every sgemm
 * call packs the whole of the operand that is not split (on the MLP's products, a band
 * of an eighth costs 5-10% more per multiply-add than one of half), so the bands stay
 * few; two per thread still let one thread take over most of a slow one's share.
 * The band count is a multiple of the thread count: the bands are equal, so three bands
 * on two threads would leave one thread idle for a third of the product (the MLP's
 * weight gradient of its first layer was cut that way, 49 blocks into 3 bands).
 * Where the bands are cut shows in the last bits: OpenBLAS sums some elements of a band
 * in another order than it does in the whole product (a few percent of them differ by rounding
 * error), so the cut is part of a run's results on a given thread count; one thread
 * makes one call, the same as ever.
 * A caller's pass over the output (then) runs on each band right after its sgemm, on the
 * same thread: the band is still in that core's cache, where a later loop over the whole
 * output would read half of it from the other core's.
 */
#define GEMM_BLOCK 16
#define GEMM_GRAIN ((int64_t)1 << 21)
#define GEMM_BANDS_PER_THREAD 2

typedef struct {
    const MatOperand *a, *b;
    const float *pa, *pb;
    float *out;
    int64_t m, n, k;
    bool by_rows;        /* bands of rows, or of columns */
    int64_t blocks;      /* rows or columns in blocks of GEMM_BLOCK */
    int64_t bands;       /* how many bands they are cut into */
    BandThen then;       /* run on each band once it is computed */
} GemmBands;

/* Bands [begin, end) of one product, on one thread: band i is blocks
 * blocks*i/bands .. blocks*(i+1)/bands - 1. */
static void gemm_bands(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const GemmBands *g = ctx;
    (void)chunk;
    (void)thread;
    int64_t total = g->by_rows ? g->m : g->n;
    int64_t first = g->blocks * begin / g->bands * GEMM_BLOCK;
    int64_t last = g->blocks * end / g->bands * GEMM_BLOCK;
    last = last < total ? last : total;
    int64_t ldo = g->n > 0 ? g->n : 1;
    if (g->by_rows) { /* rows first..last of a and of out */
        int64_t step = g->a->trans == CblasNoTrans ? g->a->ld : 1;
        cblas_sgemm(CblasRowMajor, g->a->trans, g->b->trans, (int)(last - first), (int)g->n,
                    (int)g->k, 1.0f, g->pa + first * step, (int)g->a->ld, g->pb,
                    (int)g->b->ld, 0.0f, g->out + first * ldo, (int)ldo);
        if (g->then.fn)
            g->then.fn(g->then.ctx, g->out, ldo, first, last, 0, g->n);
    } else { /* columns first..last of b and of out */
        int64_t step = g->b->trans == CblasNoTrans ? 1 : g->b->ld;
        cblas_sgemm(CblasRowMajor, g->a->trans, g->b->trans, (int)g->m, (int)(last - first),
                    (int)g->k, 1.0f, g->pa, (int)g->a->ld, g->pb + first * step,
                    (int)g->b->ld, 0.0f, g->out + first, (int)ldo);
        if (g->then.fn)
            g->then.fn(g->then.ctx, g->out, ldo, 0, g->m, first, last);
    }
}

/* out (m x n, row-major, ld n) = a (m x k) @ b (k x n), on sgemm; then on every band. */
static void gemm(const MatOperand *a, const float *pa, const MatOperand *b,
                 const float *pb, float *out, int64_t m, int64_t n, int64_t k, BandThen then)
{
    if (m * n * k <= SMALL_GEMM) {
        small_gemm(a, pa, b, pb, out, m, n, k);
        if (then.fn)
            then.fn(then.ctx, out, n, 0, m, 0, n);
        return;
    }
    GemmBands g = {a, b, pa, pb, out, m, n, k, m >= n, 0, 1, then};
    g.blocks = ((g.by_rows ? m : n) + GEMM_BLOCK - 1) / GEMM_BLOCK;
    int64_t per_block = GEMM_BLOCK * (g.by_rows ? n : m) * k;
    int64_t grain = (GEMM_GRAIN + per_block - 1) / per_block; /* blocks per band, at least */
    int64_t threads = strata_parallel_threads(g.blocks, grain);
    int64_t bands = g.blocks / grain; /* the most bands the grain allows */
    if (bands > GEMM_BANDS_PER_THREAD * threads)
        bands = GEMM_BANDS_PER_THREAD * threads;
    if (bands > threads)
        bands -= bands % threads; /* equal shares for every thread */
    g.bands = bands > 1 ? bands : 1;
    /* one item per band: the loop cuts them into as many chunks as there are bands */
    strata_parallel_for(g.bands, 1, gemm_bands, &g);
}

/* Batch shape and strides of @p op seen through the broadcast batch shape. */
static void batch_strides(const MatOperand *op, const int64_t *batch, int nbatch,
                          int64_t *strides)
{
    int lead = nbatch - (op->ndim - 2);
    for (int d = 0; d < nbatch; d++) {
        int od = d - lead;
        strides[d] = (od < 0 || (op->shape[od] == 1 && batch[d] != 1)) ? 0 : op->strides[od];
    }
}

/* Run the products for every batch; a, b have BLAS layouts, out is contiguous. */
static void batched_gemm(const MatOperand *a, const MatOperand *b, const int64_t *batch,
                         int nbatch, float *out, int64_t m, int64_t n, int64_t k,
                         BandThen then)
{
    int64_t sa[TENSOR_MAX_DIMS], sb[TENSOR_MAX_DIMS], so[TENSOR_MAX_DIMS];
    batch_strides(a, batch, nbatch, sa);
    batch_strides(b, batch, nbatch, sb);
    int64_t count = tensor_shape_numel(batch, nbatch);
    bool b_shared = true;
    for (int d = 0; d < nbatch; d++)
        b_shared = b_shared && (sb[d] == 0 || batch[d] == 1);
    /* [B, m, k] @ [k, n]: one [B*m, k] @ [k, n] product is much faster than B small ones. */
    if (b_shared && rows_stack(a, sa, batch, nbatch) && fits_int(count * m)) {
        gemm(a, a->data, b, b->data, out, count * m, n, k, then);
        return;
    }
    int64_t mat[2] = {m, n};
    int64_t out_shape[TENSOR_MAX_DIMS + 2];
    memcpy(out_shape, batch, (size_t)nbatch * sizeof(int64_t));
    memcpy(out_shape + nbatch, mat, sizeof mat);
    int64_t out_strides[TENSOR_MAX_DIMS + 2];
    tensor_contiguous_strides(out_shape, nbatch + 2, out_strides);
    memcpy(so, out_strides, (size_t)nbatch * sizeof(int64_t));
    const int64_t *strides[3] = {so, sa, sb};
    StridedLoop loop;
    loop_init(&loop, batch, nbatch, 3, strides);
    for (int64_t r = 0; r < loop.rows; r++) {
        if (r)
            loop_next(&loop);
        for (int64_t i = 0; i < loop.inner; i++)
            gemm(a, a->data + loop.offset[1] + i * loop.inner_strides[1], b,
                 b->data + loop.offset[2] + i * loop.inner_strides[2],
                 out + loop.offset[0] + i * loop.inner_strides[0], m, n, k, then);
    }
}

/* Check the shapes and work out the result's; returns its ndim or -1 (errors name @p fn). */
static int matmul_shapes(const char *fn, const Tensor *a, const Tensor *b, const MatOperand *oa,
                         const MatOperand *ob, int64_t *batch, int *nbatch,
                         int64_t *out_shape)
{
    char sa[SHAPE_STR_SIZE], sb[SHAPE_STR_SIZE];
    int64_t k = oa->shape[oa->ndim - 1], kb = ob->shape[ob->ndim - 2];
    if (k != kb) {
        strata_set_error("%s: shapes %s and %s do not align (%lld != %lld)", fn,
                         tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb),
                         (long long)k, (long long)kb);
        return -1;
    }
    if (tensor_broadcast_shape(oa->shape, oa->ndim - 2, ob->shape, ob->ndim - 2, batch,
                               nbatch) < 0) {
        strata_set_error("%s: batch dims of shapes %s and %s do not broadcast", fn,
                         tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
        return -1;
    }
    int n = 0;
    for (int d = 0; d < *nbatch; d++)
        out_shape[n++] = batch[d];
    if (a->ndim > 1) /* a promoted 1-D operand's added dim is removed again */
        out_shape[n++] = oa->shape[oa->ndim - 2];
    if (b->ndim > 1)
        out_shape[n++] = ob->shape[ob->ndim - 1];
    int64_t dims[3] = {oa->shape[oa->ndim - 2], k, ob->shape[ob->ndim - 1]};
    for (int i = 0; i < 3; i++) {
        if (!fits_int(dims[i])) {
            strata_set_error("%s: size %lld is too large for BLAS", fn,
                             (long long)dims[i]);
            return -1;
        }
    }
    return n;
}

/*
 * Give @p op a BLAS layout: as it is when possible, else from a contiguous copy that
 * the caller releases (*copy). Returns -1 on allocation failure.
 */
static int prepare_operand(const char *fn, const Tensor *t, bool is_left, MatOperand *op,
                           Tensor **copy)
{
    mat_operand(t, is_left, op);
    *copy = NULL;
    if (operand_layout(op))
        return 0;
    *copy = tensor_copy_contiguous(t, fn);
    if (!*copy)
        return -1;
    mat_operand(*copy, is_left, op);
    operand_layout(op);
    return 0;
}


/* The product of a and b (tensor_matmul()), with then run on each band of its output;
 * errors name @p fn, the public function the caller called. */
static Tensor *matmul_then(const char *fn, const Tensor *a, const Tensor *b, BandThen then)
{
    if (a->ndim == 0 || b->ndim == 0) {
        strata_set_error("%s: both arguments need at least 1 dim, got %d and %d", fn,
                         a->ndim, b->ndim);
        return NULL;
    }
    MatOperand oa, ob;
    mat_operand(a, true, &oa);
    mat_operand(b, false, &ob);
    int64_t batch[TENSOR_MAX_DIMS], out_shape[TENSOR_MAX_DIMS];
    int nbatch;
    int ndim = matmul_shapes(fn, a, b, &oa, &ob, batch, &nbatch, out_shape);
    if (ndim < 0)
        return NULL;
    Tensor *out = tensor_new(out_shape, ndim, fn);
    if (!out)
        return NULL;
    int64_t m = oa.shape[oa.ndim - 2], k = oa.shape[oa.ndim - 1], n = ob.shape[ob.ndim - 1];
    if (tensor_numel(out) == 0)
        return out;
    if (k == 0) { /* a sum of nothing */
        memset(out->data, 0, (size_t)tensor_numel(out) * sizeof(float));
        if (then.fn) /* every matrix at once: they are stacked rows of n columns */
            then.fn(then.ctx, out->data, n, 0, tensor_numel(out) / n, 0, n);
        return out;
    }
    Tensor *ca = NULL, *cb = NULL;
    if (prepare_operand(fn, a, true, &oa, &ca) < 0 ||
        prepare_operand(fn, b, false, &ob, &cb) < 0) {
        tensor_release(ca);
        tensor_release(out);
        return NULL;
    }
    batched_gemm(&oa, &ob, batch, nbatch, out->data, m, n, k, then);
    tensor_release(ca);
    tensor_release(cb);
    return out;
}
/* SOLUTION END */

Tensor *tensor_matmul(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=9 tier=stretch fail=NULL */
    return matmul_then(__func__, a, b, (BandThen){NULL, NULL});
    /* SOLUTION END */
}

Tensor *tensor_matmul_then(const Tensor *a, const Tensor *b, TensorBandFn then, void *ctx)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=9 tier=stretch fail=NULL */
    return matmul_then(__func__, a, b, (BandThen){then, ctx});
    /* SOLUTION END */
}

Tensor *tensor_matmul_naive(const Tensor *a, const Tensor *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=1 step=9 tier=stretch fail=NULL */
    char sa[SHAPE_STR_SIZE], sb[SHAPE_STR_SIZE];
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0]) {
        strata_set_error("tensor_matmul_naive: shapes %s and %s do not align (2-D [m, k] "
                         "and [k, n] expected)", tensor_shape_str(a, sa, sizeof sa),
                         tensor_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    int64_t shape[2] = {m, n};
    Tensor *out = tensor_new(shape, 2, __func__);
    if (!out)
        return NULL;
    /* out[i][j] = sum_p a[i][p] * b[p][j], read through the strides, summed in double. */
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)a->data[i * a->strides[0] + p * a->strides[1]] *
                       (double)b->data[p * b->strides[0] + j * b->strides[1]];
            out->data[i * n + j] = (float)acc;
        }
    }
    return out;
    /* SOLUTION END */
}
