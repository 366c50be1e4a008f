/*
 * reduce.c - differentiable reductions: sum, mean, var, logsumexp, max/min along a dim,
 * max of all elements, softmax and log-softmax.
 *
 * Shapes: x [S] reduced over some dims gives y = g [R] (R is S without the reduced dims,
 * or with them as 1 when keepdim). Every backward here starts the same way: view g
 * with keepdim's shape [K] (S with reduced dims set to 1), then broadcast it back to
 * [S] (a stride-0 expand, no copy): each input element receives the gradient of the
 * output it contributed to.
 */
#include "autograd_internal.h"

#include <math.h>
#include <string.h>

/*
 * The backward functions below share one contract (VarBackwardFn in
 * autograd_internal.h): given g, the gradient of the output, store in grads[0] the
 * gradient of the input x, at x's shape; return 0, or -1 (message recorded) when a
 * tensor op fails. Their signatures, the VarOp tables and the forward helpers
 * (reduction, select_reduction, softmax_like) are given: you write keepdim_view,
 * expand_back, each backward's body and each var_* op.
 */

/* Given: remember the reduced dims in the node (normalized by ag_dim_mask at backward). */
static void save_dims(VarNode *node, const int *dims, int ndims, bool keepdim)
{
    node->p.ndims = ndims < TENSOR_MAX_DIMS ? ndims : TENSOR_MAX_DIMS;
    if (node->p.ndims > 0)
        memcpy(node->p.dims, dims, (size_t)node->p.ndims * sizeof *dims);
    node->p.keepdim = keepdim;
}

/*
 * @p t (of the reduced shape [R]) viewed with keepdim's shape [K]: the input's shape
 * with the reduced dims (n->p.dims, n->p.ndims; see ag_dim_mask, ag_keepdim_shape) set
 * to 1. Returns a new view, or NULL.
 */
static Tensor *keepdim_view(const VarNode *n, const Tensor *t)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    const Tensor *x = node_input(n, 0);
    bool mask[TENSOR_MAX_DIMS];
    int64_t keep[TENSOR_MAX_DIMS];
    ag_dim_mask(n->p.dims, n->p.ndims, x->ndim, mask);
    ag_keepdim_shape(x->shape, x->ndim, mask, keep);
    return tensor_reshape(t, keep, x->ndim);
    /* SOLUTION END */
}

/*
 * g [R] broadcast back to the input's shape [S]: a stride-0 view (no copy), through
 * keepdim_view unless g already has keepdim's shape (n->p.keepdim) or is a scalar.
 * Returns a new view, or NULL.
 */
static Tensor *expand_back(const VarNode *n, const Tensor *g)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    const Tensor *x = node_input(n, 0);
    if (n->p.keepdim || g->ndim == 0) /* already [K] (or a scalar): expand directly */
        return tensor_expand(g, x->shape, x->ndim);
    Tensor *gk = keepdim_view(n, g);
    Tensor *e = tensor_expand(gk, x->shape, x->ndim);
    tensor_release(gk);
    return e;
    /* SOLUTION END */
}

/* Given: elements of the input per element of the output (N of the mean). */
static double group_size(const VarNode *n, const Tensor *g)
{
    int64_t out = tensor_numel(g);
    return out ? (double)tensor_numel(node_input(n, 0)) / (double)out : 1.0;
}

/* Backward of var_sum: grad_x = g broadcast back to x's shape. */
static int sum_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    return (grads[0] = expand_back(n, g)) ? 0 : -1;
    /* SOLUTION END */
}

/* Backward of var_mean: grad_x = g broadcast back / N (N = group_size). */
static int mean_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    Tensor *e = expand_back(n, g);
    grads[0] = tensor_mul_scalar(e, (float)(1.0 / group_size(n, g)));
    tensor_release(e);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_var: var = sum (x - mean)^2 / (N - u), so grad_x = g * 2 (x - mean) /
 * (N - u), with u = 1 when unbiased (n->p.flag).
 */
static int variance_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    const Tensor *x = node_input(n, 0);
    double denom = group_size(n, g) - (n->p.flag ? 1.0 : 0.0);
    Tensor *mean = tensor_mean(x, n->p.dims, n->p.ndims, true);
    Tensor *centered = tensor_sub(x, mean);
    Tensor *e = expand_back(n, g);
    Tensor *prod = tensor_mul(centered, e);
    grads[0] = tensor_mul_scalar(prod, (float)(2.0 / denom));
    tensor_release(mean);
    tensor_release(centered);
    tensor_release(e);
    tensor_release(prod);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_logsumexp: y = log sum exp x (saved[0]), so grad_x = g * exp(x - y),
 * the softmax over the reduced dims.
 */
static int logsumexp_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    Tensor *yk = keepdim_view(n, n->saved[0]);
    Tensor *shifted = tensor_sub(node_input(n, 0), yk);
    Tensor *soft = tensor_exp(shifted);
    Tensor *e = expand_back(n, g);
    grads[0] = tensor_mul(soft, e);
    tensor_release(yk);
    tensor_release(shifted);
    tensor_release(soft);
    tensor_release(e);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_max and var_min along one dim: the gradient goes to the chosen index
 * (saved[0], the indices) alone; every other element gets 0.
 */
static int select_index_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    Tensor *gk = keepdim_view(n, g);
    Tensor *ik = keepdim_view(n, n->saved[0]);
    Tensor *zeros = tensor_zeros_like(node_input(n, 0));
    grads[0] = tensor_scatter_add(zeros, n->p.dims[0], ik, gk);
    tensor_release(gk);
    tensor_release(ik);
    tensor_release(zeros);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_max_all: the k elements equal to the max (saved[0]) share g:
 * grad_x = g [x == y] / k. A NaN max is the NaNs' (NaN == NaN is false): they share g.
 */
static int max_all_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    const Tensor *x = node_input(n, 0), *y = n->saved[0];
    Tensor *is_max = isnan(y->data[0]) ? tensor_ne(x, x) : tensor_eq(x, y);
    Tensor *count = tensor_sum(is_max, NULL, 0, false);
    Tensor *share = tensor_div(g, count);
    grads[0] = tensor_mul(is_max, share);
    tensor_release(is_max);
    tensor_release(count);
    tensor_release(share);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/* Backward of var_softmax: y = softmax x (saved[0]), grad_x = y * (g - sum(g * y, dim)). */
static int softmax_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    const Tensor *y = n->saved[0];
    int dim = n->p.dim;
    Tensor *gy = tensor_mul(g, y);
    Tensor *dot = tensor_sum(gy, &dim, 1, true);
    Tensor *diff = tensor_sub(g, dot);
    grads[0] = tensor_mul(y, diff);
    tensor_release(gy);
    tensor_release(dot);
    tensor_release(diff);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/* Backward of var_log_softmax: y (saved[0]), grad_x = g - exp(y) * sum(g, dim). */
static int log_softmax_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=-1 */
    int dim = n->p.dim;
    Tensor *soft = tensor_exp(n->saved[0]);
    Tensor *total = tensor_sum(g, &dim, 1, true);
    Tensor *prod = tensor_mul(soft, total);
    grads[0] = tensor_sub(g, prod);
    tensor_release(soft);
    tensor_release(total);
    tensor_release(prod);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/* Given: what each reduction records (its name in messages and its backward). */
static const VarOp SUM_OP = {"sum", sum_backward};
static const VarOp MEAN_OP = {"mean", mean_backward};
static const VarOp VAR_OP = {"var", variance_backward};
static const VarOp LOGSUMEXP_OP = {"logsumexp", logsumexp_backward};
static const VarOp MAX_OP = {"max", select_index_backward};
static const VarOp MIN_OP = {"min", select_index_backward};
static const VarOp MAX_ALL_OP = {"max_all", max_all_backward};
static const VarOp SOFTMAX_OP = {"softmax", softmax_backward};
static const VarOp LOG_SOFTMAX_OP = {"log_softmax", log_softmax_backward};

/*
 * Given: the forward of a reduction over a dim list: record a node with @p op, its dims
 * and keepdim, and the output in saved[0] when backward reads it.
 */
static Var *reduction(const char *fn, Tensor *value, const VarOp *op, Var *v, const int *dims,
                      int ndims, bool keepdim, bool save_output)
{
    VarNode *node;
    Var *out = ag_make_output(fn, value, op, &v, 1, &node);
    if (node) {
        save_dims(node, dims, ndims, keepdim);
        if (save_output)
            ag_save(node, 0, out->data);
    }
    return out;
}

/* Given: the forward of max/min along one dim: keep the indices tensor_max/min chose. */
static Var *select_reduction(const char *fn, Var *v, int dim, bool keepdim, bool is_max)
{
    Tensor *indices = NULL;
    Tensor *value = is_max ? tensor_max(v->data, dim, keepdim, &indices)
                           : tensor_min(v->data, dim, keepdim, &indices);
    VarNode *node;
    Var *out = ag_make_output(fn, value, is_max ? &MAX_OP : &MIN_OP, &v, 1, &node);
    if (node) {
        int d = dim < 0 ? dim + v->data->ndim : dim;
        save_dims(node, &d, 1, keepdim);
        ag_save_fresh(node, 0, indices);
    } else {
        tensor_release(indices);
    }
    return out;
}

/* Given: the forward of softmax / log_softmax: keep the output and the normalized dim. */
static Var *softmax_like(const char *fn, Tensor *value, const VarOp *op, Var *v, int dim)
{
    VarNode *node;
    Var *out = ag_make_output(fn, value, op, &v, 1, &node);
    if (node) {
        node->p.dim = dim < 0 ? dim + v->data->ndim : dim;
        ag_save(node, 0, out->data);
    }
    return out;
}

Var *var_sum(Var *v, const int *dims, int ndims, bool keepdim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    return reduction(__func__, tensor_sum(v->data, dims, ndims, keepdim), &SUM_OP, v, dims,
                     ndims, keepdim, false);
    /* SOLUTION END */
}

Var *var_mean(Var *v, const int *dims, int ndims, bool keepdim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    return reduction(__func__, tensor_mean(v->data, dims, ndims, keepdim), &MEAN_OP, v, dims,
                     ndims, keepdim, false);
    /* SOLUTION END */
}

Var *var_var(Var *v, const int *dims, int ndims, bool unbiased, bool keepdim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    Var *out = reduction(__func__, tensor_var(v->data, dims, ndims, unbiased, keepdim),
                         &VAR_OP, v, dims, ndims, keepdim, false);
    if (out && out->node)
        out->node->p.flag = unbiased;
    return out;
    /* SOLUTION END */
}

Var *var_logsumexp(Var *v, const int *dims, int ndims, bool keepdim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    return reduction(__func__, tensor_logsumexp(v->data, dims, ndims, keepdim),
                     &LOGSUMEXP_OP, v, dims, ndims, keepdim, true);
    /* SOLUTION END */
}

Var *var_max(Var *v, int dim, bool keepdim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    return select_reduction(__func__, v, dim, keepdim, true);
    /* SOLUTION END */
}

Var *var_min(Var *v, int dim, bool keepdim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    return select_reduction(__func__, v, dim, keepdim, false);
    /* SOLUTION END */
}

Var *var_max_all(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    VarNode *node;
    Var *out = ag_make_output(__func__, tensor_max_all(v->data), &MAX_ALL_OP, &v, 1, &node);
    if (node)
        ag_save(node, 0, out->data);
    return out;
    /* SOLUTION END */
}

Var *var_softmax(Var *v, int dim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    return softmax_like(__func__, tensor_softmax(v->data, dim), &SOFTMAX_OP, v, dim);
    /* SOLUTION END */
}

Var *var_log_softmax(Var *v, int dim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=5 tier=core fail=NULL */
    return softmax_like(__func__, tensor_log_softmax(v->data, dim), &LOG_SOFTMAX_OP, v, dim);
    /* SOLUTION END */
}

/* ------------------------------------------ log-softmax, then the picked mean --- */

/*
 * var_log_softmax_nll: a classifier's loss, mean_i -log_softmax(x)[i, t_i], as one op.
 * Composed, it is five nodes (log_softmax, gather, squeeze, neg, mean) and a backward
 * that writes a [N, C] tensor of zeros, scatters into it, then reads it three more times
 * (exp, row sums, product, difference). Here backward is one pass over the rows, with
 * the float operations of the composed backward, in their order:
 *   mean:        s   = g * (float)(1 / N)
 *   neg, gather: z   = 0 + -s          (scatter_add into zeros; z is never -0)
 *   row sum:     sum = z               (the other C - 1 terms are +0)
 *   log_softmax: dx  = G - exp(y) * sum, G = z at the target, +0 elsewhere.
 * so the gradient is the same bits. saved[0] holds y = log_softmax(x), saved[1] the
 * index [N, 1].
 */
static int log_softmax_nll_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    const Tensor *index = n->saved[1];
    const int64_t rows = n->saved[0]->shape[0], cols = n->saved[0]->shape[1];
    Tensor *soft = tensor_exp(n->saved[0]); /* contiguous [N, C]: tensor_exp's values */
    grads[0] = soft ? tensor_empty(soft->shape, 2) : NULL;
    if (!grads[0]) {
        tensor_release(soft);
        return -1;
    }
    const float s = tensor_item(g) * (float)(1.0 / (double)rows);
    const float z = 0.0f + -s;
    for (int64_t i = 0; i < rows; i++) {
        const int64_t t = (int64_t)index->data[i * index->strides[0]];
        const float *e = soft->data + i * cols;
        float *dx = grads[0]->data + i * cols;
        for (int64_t j = 0; j < cols; j++) {
            float picked = j == t ? z : 0.0f;
            float prod = e[j] * z;
            dx[j] = picked - prod;
        }
    }
    tensor_release(soft);
    return 0;
}

static const VarOp LOG_SOFTMAX_NLL_OP = {"log_softmax_nll", log_softmax_nll_backward};

/* Whether @p index is [N, 1] of class numbers in [0, C) for x [N, C]; if not, an error. */
static bool class_indices_ok(const char *fn, const Tensor *x, const Tensor *index)
{
    char a[128], b[128];
    if (x->ndim != 2 || index->ndim != 2 || index->shape[0] != x->shape[0] ||
        index->shape[1] != 1) {
        strata_set_error("%s: expected input [N, C] and index [N, 1], got %s and %s", fn,
                         tensor_shape_str(x, a, sizeof a), tensor_shape_str(index, b, sizeof b));
        return false;
    }
    for (int64_t i = 0; i < index->shape[0]; i++) {
        float c = index->data[i * index->strides[0]];
        if (!(c >= 0.0f && c < (float)x->shape[1] && c == (float)(int64_t)c)) {
            strata_set_error("%s: index %g of row %lld is not a class in [0, %lld)", fn,
                             (double)c, (long long)i, (long long)x->shape[1]);
            return false;
        }
    }
    return true;
}

Var *var_log_softmax_nll(Var *x, const Tensor *index)
{
    STRATA_CHECK_ARG(x, NULL);
    STRATA_CHECK_ARG(index, NULL);
    if (!class_indices_ok(__func__, x->data, index))
        return NULL;
    /* The forward of the composed ops: the same log-softmax, the picked values negated,
     * their mean by tensor_mean (so the same sum and division). */
    Tensor *y = tensor_log_softmax(x->data, 1);
    const int64_t rows = x->data->shape[0];
    Tensor *nll = y ? tensor_empty(&rows, 1) : NULL;
    if (nll)
        for (int64_t i = 0; i < rows; i++) {
            int64_t t = (int64_t)index->data[i * index->strides[0]];
            nll->data[i] = -y->data[i * y->strides[0] + t * y->strides[1]];
        }
    Tensor *loss = nll ? tensor_mean(nll, NULL, 0, false) : NULL;
    tensor_release(nll);
    if (!loss) {
        tensor_release(y);
        return NULL;
    }
    VarNode *node;
    Var *out = ag_make_output(__func__, loss, &LOG_SOFTMAX_NLL_OP, &x, 1, &node);
    if (node) {
        ag_save_fresh(node, 0, y);
        ag_save(node, 1, index);
    } else {
        tensor_release(y);
    }
    return out;
}
