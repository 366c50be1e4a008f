/*
 * common.c - the week-2 suite's own finite-difference checker, input generators and the
 * op dispatcher used by the gradient tables.
 */
#include "common.h"

/* ------------------------------------------------------------------ inputs --- */

static Tensor *random_signed(const int64_t *shape, int ndim)
{
    Tensor *t = OK(tensor_rand(shape, ndim));
    Tensor *sign = OK(tensor_rand(shape, ndim));
    int64_t n = tensor_numel(t);
    for (int64_t j = 0; j < n; j++)
        t->data[j] = (0.2f + t->data[j]) * (sign->data[j] < 0.5f ? -1.0f : 1.0f);
    return t;
}

Var *signed_leaf(const int64_t *shape, int ndim)
{
    return OKV(var_new(random_signed(shape, ndim), true));
}

Var *positive_leaf(const int64_t *shape, int ndim)
{
    Tensor *t = OK(tensor_rand(shape, ndim));
    int64_t n = tensor_numel(t);
    for (int64_t j = 0; j < n; j++)
        t->data[j] += 0.5f;
    return OKV(var_new(t, true));
}

Var *distinct_leaf(const int64_t *shape, int ndim)
{
    Tensor *t = OK(tensor_empty(shape, ndim));
    int64_t n = tensor_numel(t);
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    strata_randperm(perm, n);
    for (int64_t j = 0; j < n; j++)
        t->data[j] = (float)((double)(perm[j] - n / 2) * 0.1 + 0.05); /* 0.1 k + 0.05 */
    free(perm);
    return OKV(var_new(t, true));
}

Var *transposed_leaf(int64_t rows, int64_t cols)
{
    Tensor *base = random_signed(SHAPE(cols, rows), 2);
    return OKV(var_new(OK(tensor_transpose(base, 0, 1)), true));
}

Var *strided_leaf(int64_t rows, int64_t cols)
{
    Tensor *base = random_signed(SHAPE(rows, 2 * cols), 2);
    return OKV(var_new(OK(tensor_slice(base, 1, 0, 2 * cols, 2)), true));
}

/* ------------------------------------------------------------------ checks --- */

static void index_of(const Tensor *t, int64_t flat, int64_t *idx)
{
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = flat % t->shape[d];
        flat /= t->shape[d];
    }
}

static float *elem_ptr(const Tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++)
        off += idx[d] * t->strides[d];
    return t->data + off;
}

void expect_grad_at(const char *file, int line, const char *what, const Var *v,
                    const float *expected, double tol)
{
    const Tensor *g = var_grad(v);
    ck_assert_msg(g != NULL, "%s:%d: %s has no gradient (error: \"%s\")", file, line, what,
                  strata_last_error());
    const Tensor *x = var_data(v);
    ck_assert_msg(g->ndim == x->ndim, "%s:%d: grad of %s has %d dims, the value %d", file,
                  line, what, g->ndim, x->ndim);
    for (int d = 0; d < x->ndim; d++)
        ck_assert_msg(g->shape[d] == x->shape[d], "%s:%d: grad of %s has size %lld at dim "
                      "%d, the value %lld", file, line, what, (long long)g->shape[d], d,
                      (long long)x->shape[d]);
    int64_t n = tensor_numel(x);
    for (int64_t j = 0; j < n; j++) {
        int64_t idx[TENSOR_MAX_DIMS];
        index_of(g, j, idx);
        double got = *elem_ptr(g, idx);
        ck_assert_msg(got == expected[j] || fabs(got - expected[j]) <= tol, /* == for inf */
                      "%s:%d: grad of %s, element %lld: %.7g, expected %.7g", file, line,
                      what, (long long)j, got, (double)expected[j]);
    }
}

/* Fixed projection weights: every output element gets a different, nonzero weight. */
static double weight(int64_t j)
{
    return 0.5 * sin(1.3 * (double)j + 0.7) + (j % 2 ? 0.6 : -0.6);
}

/* sum_j y_j w_j at the inputs' current values, in double. */
static double objective(const char *where, VarFunction fn, Var *const *inputs, int n,
                        void *ctx)
{
    Scope *s = scope_begin();
    Var *y = fn(inputs, n, ctx);
    ck_assert_msg(y != NULL, "%s: the function failed: \"%s\"", where, strata_last_error());
    const Tensor *t = var_data(y);
    int64_t count = tensor_numel(t);
    double sum = 0;
    for (int64_t j = 0; j < count; j++) {
        int64_t idx[TENSOR_MAX_DIMS];
        index_of(t, j, idx);
        sum += (double)*elem_ptr(t, idx) * weight(j);
    }
    scope_end(s);
    return sum;
}

void check_grads_at(const char *file, int line, const char *what, VarFunction fn,
                    Var *const *inputs, int n, void *ctx)
{
    char where[300];
    /* A table-driven test checks apply_op: name the function under test instead. */
    if (fn == apply_op && ctx)
        what = op_name(((const OpCase *)ctx)->op);
    snprintf(where, sizeof where, "%s:%d: %s", file, line, what);
    Scope *s = scope_begin();
    for (int i = 0; i < n; i++)
        var_zero_grad(inputs[i], true);

    /* backward of y with grad_output = the projection weights */
    Var *y = fn(inputs, n, ctx);
    ck_assert_msg(y != NULL, "%s: the function failed: \"%s\"", where, strata_last_error());
    const Tensor *yt = var_data(y);
    Tensor *w = OK(tensor_empty(yt->shape, yt->ndim));
    for (int64_t j = 0; j < tensor_numel(w); j++)
        w->data[j] = (float)weight(j);
    ck_assert_msg(y->requires_grad, "%s: the output does not require grad", where);
    int rc = var_backward_ex(y, w, false);
    ck_assert_msg(rc == 0, "%s: backward failed: \"%s\"", where, strata_last_error());

    for (int i = 0; i < n; i++) {
        if (!inputs[i]->requires_grad)
            continue;
        const Tensor *x = var_data(inputs[i]);
        const Tensor *g = var_grad(inputs[i]);
        ck_assert_msg(g != NULL, "%s: input %d received no gradient", where, i);
        ck_assert_msg(tensor_same_shape(g, x), "%s: input %d's gradient has the wrong shape",
                      where, i);
        for (int64_t j = 0; j < tensor_numel(x); j++) {
            int64_t idx[TENSOR_MAX_DIMS];
            index_of(x, j, idx);
            float *p = elem_ptr(x, idx);
            float original = *p;
            *p = original + 1e-3f;
            double x_plus = *p;
            double f_plus = objective(where, fn, inputs, n, ctx);
            *p = original - 1e-3f;
            double x_minus = *p;
            double f_minus = objective(where, fn, inputs, n, ctx);
            *p = original;
            double numeric = (f_plus - f_minus) / (x_plus - x_minus);
            double analytic = *elem_ptr(g, idx);
            ck_assert_msg(fabs(analytic - numeric) <= 1e-2 + 1e-2 * fabs(numeric),
                          "%s: input %d, element %lld: backward gives %.6g, finite "
                          "differences %.6g",
                          where, i, (long long)j, analytic, numeric);
        }
    }
    for (int i = 0; i < n; i++)
        var_zero_grad(inputs[i], true);
    scope_end(s);
}

/* ----------------------------------------------------------------- dispatch --- */

const char *op_name(OpKind op)
{
    static const char *const names[] = {
        [OP_ADD] = "var_add", [OP_SUB] = "var_sub", [OP_MUL] = "var_mul",
        [OP_DIV] = "var_div", [OP_POW] = "var_pow", [OP_MAXIMUM] = "var_maximum",
        [OP_MINIMUM] = "var_minimum", [OP_ADD_SCALAR] = "var_add_scalar",
        [OP_MUL_SCALAR] = "var_mul_scalar", [OP_POW_SCALAR] = "var_pow_scalar",
        [OP_NEG] = "var_neg", [OP_ABS] = "var_abs", [OP_EXP] = "var_exp",
        [OP_LOG] = "var_log", [OP_SQRT] = "var_sqrt", [OP_RSQRT] = "var_rsqrt",
        [OP_SIN] = "var_sin", [OP_COS] = "var_cos", [OP_TANH] = "var_tanh",
        [OP_SIGMOID] = "var_sigmoid", [OP_RELU] = "var_relu", [OP_GELU] = "var_gelu",
        [OP_LEAKY_RELU] = "var_leaky_relu", [OP_CLAMP] = "var_clamp",
        [OP_WHERE] = "var_where", [OP_MASKED_FILL] = "var_masked_fill",
        [OP_SUM] = "var_sum", [OP_MEAN] = "var_mean", [OP_VAR] = "var_var",
        [OP_LOGSUMEXP] = "var_logsumexp", [OP_MAX] = "var_max", [OP_MIN] = "var_min",
        [OP_MAX_ALL] = "var_max_all", [OP_SOFTMAX] = "var_softmax",
        [OP_LOG_SOFTMAX] = "var_log_softmax", [OP_RESHAPE] = "var_reshape",
        [OP_TRANSPOSE] = "var_transpose", [OP_PERMUTE] = "var_permute",
        [OP_SQUEEZE] = "var_squeeze", [OP_UNSQUEEZE] = "var_unsqueeze",
        [OP_NARROW] = "var_narrow", [OP_SLICE] = "var_slice", [OP_SELECT] = "var_select",
        [OP_EXPAND] = "var_expand", [OP_FLATTEN] = "var_flatten",
        [OP_INDEX_SELECT] = "var_index_select", [OP_GATHER] = "var_gather",
        [OP_CAT] = "var_cat", [OP_STACK] = "var_stack", [OP_MATMUL] = "var_matmul",
        [OP_LINEAR] = "var_linear", [OP_LINEAR_NOBIAS] = "var_linear (no bias)",
        [OP_IM2COL] = "var_im2col", [OP_CONV2D] = "var_conv2d",
        [OP_CONV2D_NOBIAS] = "var_conv2d (no bias)", [OP_MAX_POOL2D] = "var_max_pool2d",
        [OP_AVG_POOL2D] = "var_avg_pool2d",
    };
    return (unsigned)op < sizeof names / sizeof names[0] && names[op] ? names[op] : "apply_op";
}

Var *apply_op(Var *const *in, int n, void *ctx)
{
    const OpCase *c = ctx;
    (void)n;
    switch (c->op) {
    case OP_ADD: return var_add(in[0], in[1]);
    case OP_SUB: return var_sub(in[0], in[1]);
    case OP_MUL: return var_mul(in[0], in[1]);
    case OP_DIV: return var_div(in[0], in[1]);
    case OP_POW: return var_pow(in[0], in[1]);
    case OP_MAXIMUM: return var_maximum(in[0], in[1]);
    case OP_MINIMUM: return var_minimum(in[0], in[1]);
    case OP_ADD_SCALAR: return var_add_scalar(in[0], c->f0);
    case OP_MUL_SCALAR: return var_mul_scalar(in[0], c->f0);
    case OP_POW_SCALAR: return var_pow_scalar(in[0], c->f0);
    case OP_NEG: return var_neg(in[0]);
    case OP_ABS: return var_abs(in[0]);
    case OP_EXP: return var_exp(in[0]);
    case OP_LOG: return var_log(in[0]);
    case OP_SQRT: return var_sqrt(in[0]);
    case OP_RSQRT: return var_rsqrt(in[0]);
    case OP_SIN: return var_sin(in[0]);
    case OP_COS: return var_cos(in[0]);
    case OP_TANH: return var_tanh(in[0]);
    case OP_SIGMOID: return var_sigmoid(in[0]);
    case OP_RELU: return var_relu(in[0]);
    case OP_GELU: return var_gelu(in[0]);
    case OP_LEAKY_RELU: return var_leaky_relu(in[0], c->f0);
    case OP_CLAMP: return var_clamp(in[0], c->f0, c->f1);
    case OP_WHERE: return var_where(c->tensor, in[0], in[1]);
    case OP_MASKED_FILL: return var_masked_fill(in[0], c->tensor, c->f0);
    case OP_SUM: return var_sum(in[0], c->dims, c->ndims, c->keepdim);
    case OP_MEAN: return var_mean(in[0], c->dims, c->ndims, c->keepdim);
    case OP_VAR: return var_var(in[0], c->dims, c->ndims, c->flag, c->keepdim);
    case OP_LOGSUMEXP: return var_logsumexp(in[0], c->dims, c->ndims, c->keepdim);
    case OP_MAX: return var_max(in[0], c->dim, c->keepdim);
    case OP_MIN: return var_min(in[0], c->dim, c->keepdim);
    case OP_MAX_ALL: return var_max_all(in[0]);
    case OP_SOFTMAX: return var_softmax(in[0], c->dim);
    case OP_LOG_SOFTMAX: return var_log_softmax(in[0], c->dim);
    case OP_RESHAPE: return var_reshape(in[0], c->shape, c->shape_ndim);
    case OP_TRANSPOSE: return var_transpose(in[0], (int)c->i0, (int)c->i1);
    case OP_PERMUTE: return var_permute(in[0], c->dims);
    case OP_SQUEEZE: return var_squeeze(in[0], c->dim);
    case OP_UNSQUEEZE: return var_unsqueeze(in[0], c->dim);
    case OP_NARROW: return var_narrow(in[0], c->dim, c->i0, c->i1);
    case OP_SLICE: return var_slice(in[0], c->dim, c->i0, c->i1, c->i2);
    case OP_SELECT: return var_select(in[0], c->dim, c->i0);
    case OP_EXPAND: return var_expand(in[0], c->shape, c->shape_ndim);
    case OP_FLATTEN: return var_flatten(in[0], (int)c->i0, (int)c->i1);
    case OP_INDEX_SELECT: return var_index_select(in[0], c->dim, c->tensor);
    case OP_GATHER: return var_gather(in[0], c->dim, c->tensor);
    case OP_CAT: return var_cat(in, n, c->dim);
    case OP_STACK: return var_stack(in, n, c->dim);
    case OP_MATMUL: return var_matmul(in[0], in[1]);
    case OP_LINEAR: return var_linear(in[0], in[1], in[2]);
    case OP_LINEAR_NOBIAS: return var_linear(in[0], in[1], NULL);
    case OP_IM2COL: return var_im2col(in[0], c->window);
    case OP_CONV2D: return var_conv2d(in[0], in[1], in[2], c->window);
    case OP_CONV2D_NOBIAS: return var_conv2d(in[0], in[1], NULL, c->window);
    case OP_MAX_POOL2D: return var_max_pool2d(in[0], c->window);
    case OP_AVG_POOL2D: return var_avg_pool2d(in[0], c->window);
    }
    return NULL;
}
