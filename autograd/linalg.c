/*
 * linalg.c - differentiable matrix products and convolution: matmul, linear, im2col,
 * conv2d, max and average pooling.
 *
 * For C = A B with A [n, k], B [k, m], g = dL/dC [n, m]:
 *     dL/dA = g B^T   [n, m] x [m, k] -> [n, k]
 *     dL/dB = A^T g   [k, n] x [n, m] -> [k, m]
 * Transposes are views (swapped strides): tensor_matmul hands them to cblas_sgemm as
 * transposed operands, so no copy is made.
 */
#include "autograd_internal.h"

#include <cblas.h>
#include <string.h>

/*
 * The backward functions below share one contract (VarBackwardFn in
 * autograd_internal.h): given g, the gradient of the output, store in grads[i] the
 * gradient of input i (for every input with node_needs_grad), at its shape; return 0,
 * or -1 (message recorded) when a tensor op fails. Their signatures and the VarOp
 * tables are given: you write each backward's body, linear_forward and each var_* op.
 */

/* ----------------------------------------------------------------- matmul --- */

/*
 * Backward of var_matmul (torch.matmul's backward). A 1-D operand was promoted
 * (a [k] -> [1, k], b [k] -> [k, 1]) and batch dims broadcast; backward works on the
 * promoted shapes, then sums the gradients over broadcast batch dims and reshapes them
 * to the operands' shapes.
 */
static int matmul_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=-1 */
    const Tensor *a = node_input(n, 0), *b = node_input(n, 1);
    if (a->ndim == 2 && b->ndim == 2) { /* the common case, without reshapes */
        Tensor t;
        if (node_needs_grad(n, 0) && !(grads[0] = tensor_matmul(g, ag_transposed(b, &t))))
            return -1;
        if (node_needs_grad(n, 1) && !(grads[1] = tensor_matmul(ag_transposed(a, &t), g)))
            return -1;
        return 0;
    }
    int rc = -1;
    Tensor *a2 = a->ndim == 1 ? tensor_unsqueeze(a, 0) : tensor_reshape(a, a->shape, a->ndim);
    Tensor *b2 = b->ndim == 1 ? tensor_unsqueeze(b, 1) : tensor_reshape(b, b->shape, b->ndim);
    Tensor *g2 = NULL, *bt = NULL, *at = NULL, *ga = NULL, *gb = NULL;
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim;
    if (!a2 || !b2 || tensor_broadcast_shape(a2->shape, a2->ndim - 2, b2->shape,
                                             b2->ndim - 2, shape, &ndim) < 0)
        goto done;
    shape[ndim] = a2->shape[a2->ndim - 2];
    shape[ndim + 1] = b2->shape[b2->ndim - 1];
    if (!(g2 = tensor_reshape(g, shape, ndim + 2)))
        goto done;
    if (node_needs_grad(n, 0)) {
        /* grad_a = g b^T, summed over the batch dims a was broadcast along */
        bt = tensor_transpose(b2, -1, -2);
        ga = tensor_matmul(g2, bt);
        Tensor *reduced = ga ? ag_reduce_to_shape(ga, a2->shape, a2->ndim) : NULL;
        grads[0] = reduced ? tensor_reshape(reduced, a->shape, a->ndim) : NULL;
        tensor_release(reduced);
        if (!grads[0])
            goto done;
    }
    if (node_needs_grad(n, 1)) {
        if (b2->ndim == 2 && a2->ndim > 2) {
            /* b shared by every batch: fold the batch into the rows, one GEMM */
            int64_t k = a2->shape[a2->ndim - 1], m = g2->shape[g2->ndim - 1];
            int64_t rows_a[2] = {-1, k}, rows_g[2] = {-1, m};
            Tensor *a_rows = tensor_reshape(a2, rows_a, 2);
            Tensor *g_rows = tensor_reshape(g2, rows_g, 2);
            at = a_rows ? tensor_transpose(a_rows, 0, 1) : NULL;
            gb = at && g_rows ? tensor_matmul(at, g_rows) : NULL;
            tensor_release(a_rows);
            tensor_release(g_rows);
        } else {
            /* grad_b = a^T g, summed over the batch dims b was broadcast along */
            at = tensor_transpose(a2, -1, -2);
            Tensor *full = at ? tensor_matmul(at, g2) : NULL;
            gb = full ? ag_reduce_to_shape(full, b2->shape, b2->ndim) : NULL;
            tensor_release(full);
        }
        if (!gb || !(grads[1] = tensor_reshape(gb, b->shape, b->ndim)))
            goto done;
    }
    rc = 0;
done:
    tensor_release(a2);
    tensor_release(b2);
    tensor_release(g2);
    tensor_release(bt);
    tensor_release(at);
    tensor_release(ga);
    tensor_release(gb);
    return rc;
    /* SOLUTION END */
}

/* ----------------------------------------------------------------- linear --- */

/*
 * Backward of var_linear: y = x W^T + b with x viewed as rows [M, in], W [out, in],
 * g viewed as [M, out]:
 *     grad_x = g W      [M, out] x [out, in] -> [M, in]
 *     grad_W = g^T x    [out, M] x [M, in]   -> [out, in]
 *     grad_b = sum of g over the rows        -> [out]
 */
static int linear_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=-1 */
    const Tensor *x = node_input(n, 0), *w = node_input(n, 1);
    int64_t out_f = w->shape[0], in_f = w->shape[1];
    int64_t rows_g[2] = {-1, out_f}, rows_x[2] = {-1, in_f};
    Tensor *g2 = tensor_reshape(g, rows_g, 2);
    if (!g2)
        return -1;
    int rc = 0;
    if (node_needs_grad(n, 0)) {
        Tensor *gx = tensor_matmul(g2, w);
        grads[0] = gx ? tensor_reshape(gx, x->shape, x->ndim) : NULL;
        tensor_release(gx);
        rc = grads[0] ? 0 : -1;
    }
    if (rc == 0 && node_needs_grad(n, 1)) {
        Tensor t;
        Tensor *x2 = tensor_reshape(x, rows_x, 2);
        grads[1] = x2 ? tensor_matmul(ag_transposed(g2, &t), x2) : NULL;
        tensor_release(x2);
        rc = grads[1] ? 0 : -1;
    }
    if (rc == 0 && n->ninputs == 3 && node_needs_grad(n, 2)) {
        int dim0 = 0;
        grads[2] = tensor_sum(g2, &dim0, 1, false);
        rc = grads[2] ? 0 : -1;
    }
    tensor_release(g2);
    return rc;
    /* SOLUTION END */
}

/* ------------------------------------------------------ convolution, pooling --- */

/*
 * Backward of var_im2col: im2col's adjoint is col2im; each column entry goes back to
 * the pixel it came from.
 */
static int im2col_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=-1 */
    const Tensor *x = node_input(n, 0);
    grads[0] = tensor_col2im(g, x->shape[1], x->shape[2], x->shape[3], n->p.window);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_conv2d: its three gradients come from one tensor kernel
 * (tensor_conv2d_backward: with cols = im2col(x) and W as [O, K], grad_W = sum_n g[n]
 * cols[n]^T, grad_x = col2im(W^T g), grad_b = g summed over N, oh, ow), asked only for
 * the ones needed.
 */
static int conv2d_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=-1 */
    bool has_bias = n->ninputs == 3;
    return tensor_conv2d_backward(g, node_input(n, 0), node_input(n, 1), n->p.window,
                                  node_needs_grad(n, 0) ? &grads[0] : NULL,
                                  node_needs_grad(n, 1) ? &grads[1] : NULL,
                                  has_bias && node_needs_grad(n, 2) ? &grads[2] : NULL);
    /* SOLUTION END */
}

/*
 * Backward of var_max_pool2d: each output's gradient goes to the input element its
 * window chose (saved[0]).
 */
static int max_pool2d_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=-1 */
    grads[0] = tensor_max_pool2d_backward(g, n->saved[0], node_input(n, 0)->shape);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_avg_pool2d: each output's gradient is shared equally by the kh*kw
 * taps of its window.
 */
static int avg_pool2d_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=-1 */
    grads[0] = tensor_avg_pool2d_backward(g, node_input(n, 0)->shape, n->p.window);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/* Given: what each op records (its name in messages and its backward). */
static const VarOp MATMUL_OP = {"matmul", matmul_backward};
static const VarOp LINEAR_OP = {"linear", linear_backward};
static const VarOp IM2COL_OP = {"im2col", im2col_backward};
static const VarOp CONV2D_OP = {"conv2d", conv2d_backward};
static const VarOp MAX_POOL2D_OP = {"max_pool2d", max_pool2d_backward};
static const VarOp AVG_POOL2D_OP = {"avg_pool2d", avg_pool2d_backward};

/*
 * The forward of var_linear: y = x W^T + b in one GEMM, x as rows [M, in] times the
 * transposed view of W (ag_transposed); x of any ndim >= 1, y with x's leading dims.
 * Returns a fresh tensor, or NULL.
 */
static Tensor *linear_forward(const Tensor *x, const Tensor *w, const Tensor *b)
{
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=NULL */
    int64_t in_f = w->shape[1], out_f = w->shape[0];
    int64_t rows[2] = {-1, in_f};
    Tensor wt;
    Tensor *x2 = x->ndim == 2 ? NULL : tensor_reshape(x, rows, 2);
    if (x->ndim != 2 && !x2)
        return NULL;
    Tensor *y2 = tensor_matmul(x2 ? x2 : x, ag_transposed(w, &wt)); /* one GEMM, no copy */
    tensor_release(x2);
    if (y2 && b && tensor_add_(y2, b) < 0) {
        tensor_release(y2);
        return NULL;
    }
    if (!y2 || x->ndim == 2)
        return y2;
    int64_t shape[TENSOR_MAX_DIMS];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[x->ndim - 1] = out_f;
    Tensor *y = tensor_reshape(y2, shape, x->ndim);
    tensor_release(y2);
    return y;
    /* SOLUTION END */
}

Var *var_matmul(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=NULL */
    Var *in[2] = {a, b};
    return ag_make_output(__func__, tensor_matmul(a->data, b->data), &MATMUL_OP, in, 2, NULL);
    /* SOLUTION END */
}

Var *var_linear(Var *x, Var *weight, Var *bias)
{
    STRATA_CHECK_ARG(x, NULL);
    STRATA_CHECK_ARG(weight, NULL);
    char xs[200], ws[200], bs[200];
    const Tensor *xd = x->data, *wd = weight->data;
    if (wd->ndim != 2 || xd->ndim < 1 || xd->shape[xd->ndim - 1] != wd->shape[1]) {
        strata_set_error("var_linear: input %s and weight %s do not align (weight must be "
                         "[out_features, in_features] with in_features the input's last "
                         "size)",
                         tensor_shape_str(xd, xs, sizeof xs), tensor_shape_str(wd, ws, sizeof ws));
        return NULL;
    }
    if (bias && (bias->data->ndim != 1 || bias->data->shape[0] != wd->shape[0])) {
        strata_set_error("var_linear: bias %s does not match weight %s (expected [%lld])",
                         tensor_shape_str(bias->data, bs, sizeof bs),
                         tensor_shape_str(wd, ws, sizeof ws), (long long)wd->shape[0]);
        return NULL;
    }
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=NULL */
    Var *in[3] = {x, weight, bias};
    Tensor *y = linear_forward(xd, wd, bias ? bias->data : NULL);
    return ag_make_output(__func__, y, &LINEAR_OP, in, bias ? 3 : 2, NULL);
    /* SOLUTION END */
}

Var *var_im2col(Var *input, Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = ag_make_output(__func__, tensor_im2col(input->data, w), &IM2COL_OP, &input, 1,
                              &node);
    if (node)
        node->p.window = w;
    return out;
    /* SOLUTION END */
}

Var *var_conv2d(Var *input, Var *weight, Var *bias, Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    STRATA_CHECK_ARG(weight, NULL);
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=NULL */
    Var *in[3] = {input, weight, bias};
    VarNode *node;
    Tensor *y = tensor_conv2d(input->data, weight->data, bias ? bias->data : NULL, w);
    Var *out = ag_make_output(__func__, y, &CONV2D_OP, in, bias ? 3 : 2, &node);
    if (node)
        node->p.window = w;
    return out;
    /* SOLUTION END */
}

Var *var_max_pool2d(Var *input, Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=NULL */
    Tensor *indices = NULL;
    VarNode *node;
    Var *out = ag_make_output(__func__, tensor_max_pool2d(input->data, w, &indices),
                              &MAX_POOL2D_OP, &input, 1, &node);
    if (node)
        ag_save_fresh(node, 0, indices);
    else
        tensor_release(indices);
    return out;
    /* SOLUTION END */
}

Var *var_avg_pool2d(Var *input, Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    /* SOLUTION BEGIN week=2 step=7 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = ag_make_output(__func__, tensor_avg_pool2d(input->data, w), &AVG_POOL2D_OP,
                              &input, 1, &node);
    if (node)
        node->p.window = w;
    return out;
    /* SOLUTION END */
}

/* ------------------------------------------------------- ReLU, then max pooling --- */

/* the pooled gradient, routed as max pooling's and masked as ReLU's (tensor/fused.c) */
static int relu_max_pool2d_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    grads[0] = tensor_relu_max_pool2d_backward(g, n->saved[1], n->saved[0],
                                               node_input(n, 0)->shape);
    return grads[0] ? 0 : -1;
}

static const VarOp RELU_MAX_POOL2D_OP = {"relu_max_pool2d", relu_max_pool2d_backward};

Var *var_relu_max_pool2d(Var *input, Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    Tensor *indices = NULL;
    VarNode *node;
    Var *out = ag_make_output(__func__, tensor_relu_max_pool2d(input->data, w, &indices),
                              &RELU_MAX_POOL2D_OP, &input, 1, &node);
    if (node) {
        ag_save_fresh(node, 0, indices);
        ag_save(node, 1, out->data); /* the mask: where the pooled value is positive */
    } else {
        tensor_release(indices);
    }
    return out;
}

/* --------------------------------------- convolution, then ReLU and max pooling --- */

/*
 * The pooled gradient back through the pooling and ReLU to the convolution's output,
 * then through the convolution (tensor/fused.c): the two nodes' backward passes, with
 * the same bits.
 */
static int conv2d_relu_max_pool2d_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    bool has_bias = n->ninputs == 3;
    return tensor_conv2d_relu_max_pool2d_backward(
        g, n->saved[1], n->saved[0], node_input(n, 0), node_input(n, 1), n->p.window,
        node_needs_grad(n, 0) ? &grads[0] : NULL, node_needs_grad(n, 1) ? &grads[1] : NULL,
        has_bias && node_needs_grad(n, 2) ? &grads[2] : NULL);
}

static const VarOp CONV2D_RELU_MAX_POOL2D_OP = {"conv2d_relu_max_pool2d",
                                                conv2d_relu_max_pool2d_backward};

Var *var_conv2d_relu_max_pool2d(Var *input, Var *weight, Var *bias, Window2d conv,
                                Window2d pool)
{
    STRATA_CHECK_ARG(input, NULL);
    STRATA_CHECK_ARG(weight, NULL);
    Var *in[3] = {input, weight, bias};
    Tensor *indices = NULL;
    VarNode *node;
    Tensor *y = tensor_conv2d_relu_max_pool2d(input->data, weight->data,
                                              bias ? bias->data : NULL, conv, pool, &indices);
    Var *out = ag_make_output(__func__, y, &CONV2D_RELU_MAX_POOL2D_OP, in, bias ? 3 : 2,
                              &node);
    if (node) {
        node->p.window = conv;
        ag_save_fresh(node, 0, indices);
        ag_save(node, 1, out->data); /* the mask: where the pooled value is positive */
    } else {
        tensor_release(indices);
    }
    return out;
}

/* ------------------------------------------------------------ Linear, then ReLU --- */

/*
 * var_relu(var_linear(x, W, b)) for x [B, in] as one op. The unfused pair writes the
 * GEMM's output, adds the bias in a second pass, writes the ReLU'd copy in a third;
 * backward masks the gradient into a fresh tensor, then reads it again for the bias's
 * gradient. Here the bias and the ReLU go over each band of the GEMM's output right
 * after the band is computed, on the thread that computed it (tensor_matmul_then()),
 * and backward masks and sums in one pass. Every float operation is the unfused ops'
 * own, in their order, so values and gradients are the same bits.
 */

/* A band of y: y = max(y + b, 0), as tensor_add_ then tensor_relu compute it
 * (v < 0 ? 0 : v keeps a -0 and a NaN as the ReLU does). b NULL: no bias. */
static void bias_relu_band(void *ctx, float *y, int64_t ld, int64_t row0, int64_t row1,
                           int64_t col0, int64_t col1)
{
    const float *b = ctx;
    for (int64_t r = row0; r < row1; r++) {
        float *restrict yr = y + r * ld;
        if (b) {
            for (int64_t j = col0; j < col1; j++) {
                float v = yr[j] + b[j];
                yr[j] = v < 0.0f ? 0.0f : v;
            }
        } else {
            for (int64_t j = col0; j < col1; j++)
                yr[j] = yr[j] < 0.0f ? 0.0f : yr[j];
        }
    }
}

/* Columns [begin, end) of the ReLU's backward, d = g where the output is positive, else
 * 0 (var_relu's rule), and, when acc is set, each column's sum of d in double, row
 * after row from 0: tensor_sum's order over dim 0, hence the same float in the end. */
typedef struct {
    const float *g, *out;
    float *d;
    double *acc;
    int64_t rows, cols;
} ReluBiasGradJob;

static void relu_bias_grad_cols(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const ReluBiasGradJob *job = ctx;
    const int64_t cols = job->cols, rows = job->rows;
    (void)chunk;
    (void)thread;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict g = job->g + r * cols, *restrict out = job->out + r * cols;
        float *restrict d = job->d + r * cols;
        for (int64_t j = begin; j < end; j++) {
            float gj = g[j]; /* loaded unconditionally: the select vectorizes */
            d[j] = out[j] <= 0 ? 0.0f : gj; /* NaN passes, as relu's backward */
        }
        /* The column sums take four rows per pass, each still added in row order:
         * one load and store of acc for four rows instead of one per row. */
        double *restrict acc = job->acc;
        if (!acc || (r % 4 != 3 && r != rows - 1))
            continue;
        int64_t first = r - r % 4;
        const float *restrict d0 = job->d + first * cols;
        if (r - first == 3) {
            const float *restrict d1 = d0 + cols, *restrict d2 = d1 + cols, *restrict d3 = d2 + cols;
            for (int64_t j = begin; j < end; j++)
                acc[j] = (((acc[j] + d0[j]) + d1[j]) + d2[j]) + d3[j];
        } else {
            for (int64_t q = first; q <= r; q++, d0 += cols)
                for (int64_t j = begin; j < end; j++)
                    acc[j] += d0[j];
        }
    }
}

/* The ReLU's backward, then the Linear's (linear_backward's GEMMs on the masked
 * gradient, with the bias's sum taken in the masking pass). */
static int linear_relu_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    const Tensor *x = node_input(n, 0), *w = node_input(n, 1), *out = n->saved[0];
    const int64_t rows = out->shape[0], cols = out->shape[1];
    const bool bias_grad = n->ninputs == 3 && node_needs_grad(n, 2);
    Tensor *gc = tensor_contiguous(g);
    Tensor *d = gc ? tensor_empty(out->shape, 2) : NULL;
    Tensor *gb = d && bias_grad ? tensor_empty(&cols, 1) : NULL;
    double *acc = gb ? strata_calloc((size_t)cols, sizeof *acc) : NULL;
    if (!d || (bias_grad && !acc))
        return -1;
    ReluBiasGradJob job = {gc->data, out->data, d->data, acc, rows, cols};
    strata_parallel_for(cols, STRATA_GRAIN_ELEMENTS / (rows > 0 ? rows : 1) + 1,
                        relu_bias_grad_cols, &job);
    if (bias_grad) {
        for (int64_t j = 0; j < cols; j++)
            gb->data[j] = (float)acc[j];
        strata_free(acc);
        grads[2] = gb;
    }
    if (node_needs_grad(n, 0)) {
        grads[0] = tensor_matmul(d, w);
        if (!grads[0])
            return -1;
    }
    if (node_needs_grad(n, 1)) {
        Tensor t;
        const int64_t rows_x[2] = {-1, w->shape[1]};
        Tensor *x2 = tensor_reshape(x, rows_x, 2); /* as linear_backward reads x */
        grads[1] = x2 ? tensor_matmul(ag_transposed(d, &t), x2) : NULL;
        if (!grads[1])
            return -1;
    }
    return 0;
}

static const VarOp LINEAR_RELU_OP = {"linear_relu", linear_relu_backward};

Var *var_linear_relu(Var *x, Var *weight, Var *bias)
{
    STRATA_CHECK_ARG(x, NULL);
    STRATA_CHECK_ARG(weight, NULL);
    const Tensor *xd = x->data, *wd = weight->data, *bd = bias ? bias->data : NULL;
    /* Only the plain case is fused; any other goes through the two ops, which also
     * report what is wrong with it. */
    if (xd->ndim != 2 || wd->ndim != 2 || xd->shape[1] != wd->shape[1] ||
        (bd && (bd->ndim != 1 || bd->shape[0] != wd->shape[0] || !tensor_is_contiguous(bd))))
        return var_relu(var_linear(x, weight, bias));
    Tensor wt;
    /* linear_forward's GEMM, the bias and the ReLU on each band as it is made */
    Tensor *y = tensor_matmul_then(xd, ag_transposed(wd, &wt), bias_relu_band,
                                   bd ? (void *)bd->data : NULL);
    Var *in[3] = {x, weight, bias};
    VarNode *node;
    Var *out = ag_make_output(__func__, y, &LINEAR_RELU_OP, in, bias ? 3 : 2, &node);
    if (node)
        ag_save(node, 0, out->data); /* the mask: where the output is positive */
    return out;
}
