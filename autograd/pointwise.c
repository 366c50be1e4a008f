/*
 * pointwise.c - differentiable elementwise ops: binary ops with broadcasting, ops with
 * a scalar, unary math and activations, where and masked_fill.
 *
 * Each op is a forward/backward pair. Forward computes the value with the tensor_* op
 * and records a node; backward maps the output's gradient g to each input's. Shapes:
 *
 *   binary   a [A], b [B], out = g [broadcast(A, B)]  ->  grad_a [A], grad_b [B]
 *   unary    x [S], y = out [S], g [S]                 ->  grad_x [S]
 *
 * A binary op's input gradient is first computed at the broadcast shape, then summed
 * back to the input's shape (ag_reduce_to_shape): that is "undoing the broadcast".
 */
#include "autograd_internal.h"

#include <math.h>

/* --------------------------------------------------- elementwise grad kernels --- */

/* SOLUTION BEGIN week=2 step=4 tier=core */
/* Dense pointer to @p t's elements: its own when contiguous, else a copy in *tmp. */
static const float *dense(const Tensor *t, Tensor **tmp)
{
    *tmp = NULL;
    if (!t)
        return NULL;
    if (tensor_is_contiguous(t))
        return t->data;
    *tmp = tensor_contiguous(t);
    return *tmp ? (*tmp)->data : NULL;
}
/* SOLUTION END */

/* SOLUTION BEGIN week=2 step=4 tier=core */
/* One elementwise gradient: o = kind'(x, y) * g, read with g's stride gs (0 or 1).
 * Running it over strata's threads (the job and strata_parallel_for below) is a
 * speed-up, not the lesson: a plain loop over the elements is a correct answer. */
typedef struct {
    PointwiseGrad kind;
    const float *gp, *xp, *yp;
    int64_t gs;
    float *o, f0, f1;
} PointwiseGradJob;

/* Elements [begin, end) of a PointwiseGradJob, on one thread. */
static void pointwise_grad_range(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const PointwiseGradJob *job = ctx;
    const float *gp = job->gp, *xp = job->xp, *yp = job->yp;
    const int64_t gs = job->gs;
    float *o = job->o;
    const float f0 = job->f0, f1 = job->f1;
    const float inv_sqrt2 = 0.70710678118654752f, inv_sqrt2pi = 0.39894228040143268f;
    (void)chunk;
    (void)thread;
    switch (job->kind) {
    case PW_ABS:
        for (int64_t i = begin; i < end; i++)
            o[i] = xp[i] > 0 ? gp[i * gs] : xp[i] < 0 ? -gp[i * gs] : 0.0f;
        break;
    case PW_EXP:
        for (int64_t i = begin; i < end; i++)
            o[i] = gp[i * gs] * yp[i];
        break;
    case PW_LOG:
        for (int64_t i = begin; i < end; i++)
            o[i] = gp[i * gs] / xp[i];
        break;
    case PW_SQRT:
        for (int64_t i = begin; i < end; i++)
            o[i] = gp[i * gs] / (2.0f * yp[i]);
        break;
    case PW_RSQRT:
        for (int64_t i = begin; i < end; i++)
            o[i] = -0.5f * gp[i * gs] * yp[i] * yp[i] * yp[i];
        break;
    case PW_SIN:
        for (int64_t i = begin; i < end; i++)
            o[i] = gp[i * gs] * cosf(xp[i]);
        break;
    case PW_COS:
        for (int64_t i = begin; i < end; i++)
            o[i] = -gp[i * gs] * sinf(xp[i]);
        break;
    case PW_TANH:
        for (int64_t i = begin; i < end; i++)
            o[i] = gp[i * gs] * (1.0f - yp[i] * yp[i]);
        break;
    case PW_SIGMOID:
        for (int64_t i = begin; i < end; i++)
            o[i] = gp[i * gs] * yp[i] * (1.0f - yp[i]);
        break;
    case PW_RELU:
        if (gs == 1) {
            /* the usual case, g dense: load g unconditionally so the select has no
             * branch and vectorizes (a ReLU's output is positive about half the time) */
            for (int64_t i = begin; i < end; i++) {
                float gi = gp[i];
                o[i] = yp[i] > 0 ? gi : 0.0f;
            }
        } else {
            for (int64_t i = begin; i < end; i++)
                o[i] = yp[i] > 0 ? gp[0] : 0.0f;
        }
        break;
    case PW_GELU:
        for (int64_t i = begin; i < end; i++) {
            float cdf = 0.5f * (1.0f + erff(xp[i] * inv_sqrt2));
            float pdf = inv_sqrt2pi * expf(-0.5f * xp[i] * xp[i]);
            o[i] = gp[i * gs] * (cdf + xp[i] * pdf);
        }
        break;
    case PW_LEAKY_RELU:
        for (int64_t i = begin; i < end; i++)
            o[i] = xp[i] > 0 ? gp[i * gs] : gp[i * gs] * f0;
        break;
    case PW_CLAMP:
        for (int64_t i = begin; i < end; i++)
            o[i] = (xp[i] >= f0 && xp[i] <= f1) ? gp[i * gs] : 0.0f;
        break;
    case PW_POW_SCALAR:
        for (int64_t i = begin; i < end; i++)
            o[i] = f0 == 0.0f ? 0.0f : gp[i * gs] * f0 * powf(xp[i], f0 - 1.0f);
        break;
    }
}
/* SOLUTION END */

/*
 * grad_in = kernel(g, x, y) elementwise; g, x (the input) and y (the output) have one
 * shape (x or y may be NULL when the kernel does not read it). Returns a fresh
 * contiguous tensor, or NULL.
 */
static Tensor *ag_pointwise_grad(PointwiseGrad kind, const Tensor *g, const Tensor *x,
                                 const Tensor *y, float f0, float f1)
{
    STRATA_CHECK_ARG(g, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    Tensor *tg = NULL, *tx, *ty;
    /* g is often one value broadcast everywhere (the backward of a sum): read it in
     * place with stride 0 rather than copying it out. */
    bool uniform = true;
    for (int d = 0; d < g->ndim; d++)
        uniform = uniform && (g->strides[d] == 0 || g->shape[d] == 1);
    const int64_t gs = uniform ? 0 : 1;
    const float *gp = uniform ? g->data : dense(g, &tg);
    const float *xp = dense(x, &tx), *yp = dense(y, &ty);
    Tensor *out = tensor_empty(g->shape, g->ndim);
    if (!gp || (x && !xp) || (y && !yp) || !out) {
        tensor_release(tg);
        tensor_release(tx);
        tensor_release(ty);
        tensor_release(out);
        return NULL;
    }
    /* Large tensors are cut into ranges on strata's threads. */
    PointwiseGradJob job = {kind, gp, xp, yp, gs, out->data, f0, f1};
    strata_parallel_for(tensor_numel(g), STRATA_GRAIN_ELEMENTS, pointwise_grad_range, &job);
    tensor_release(tg);
    tensor_release(tx);
    tensor_release(ty);
    return out;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=2 step=4 tier=core */
/* ------------------------------------------------------------- binary ops --- */

/* grads[i] = @p full (a fresh gradient at the broadcast shape) summed to input i. */
static int set_reduced(VarNode *n, int i, Tensor *full, Tensor **grads)
{
    if (!full)
        return -1;
    const Tensor *in = node_input(n, i);
    grads[i] = ag_reduce_to_shape(full, in->shape, in->ndim);
    tensor_release(full);
    return grads[i] ? 0 : -1;
}

/* grad_a = g, grad_b = g */
static int add_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    for (int i = 0; i < 2; i++)
        if (node_needs_grad(n, i)) {
            tensor_retain((Tensor *)g);
            if (set_reduced(n, i, (Tensor *)g, grads) < 0)
                return -1;
        }
    return 0;
}

/* grad_a = g, grad_b = -g */
static int sub_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    if (node_needs_grad(n, 0)) {
        tensor_retain((Tensor *)g);
        if (set_reduced(n, 0, (Tensor *)g, grads) < 0)
            return -1;
    }
    if (node_needs_grad(n, 1) && set_reduced(n, 1, tensor_neg(g), grads) < 0)
        return -1;
    return 0;
}

/* grad_a = g * b, grad_b = g * a */
static int mul_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    if (node_needs_grad(n, 0) && set_reduced(n, 0, tensor_mul(g, node_input(n, 1)), grads) < 0)
        return -1;
    if (node_needs_grad(n, 1) && set_reduced(n, 1, tensor_mul(g, node_input(n, 0)), grads) < 0)
        return -1;
    return 0;
}

/* grad_a = g / b, grad_b = -g a / b^2 = -(g / b) * (a / b) */
static int div_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    const Tensor *a = node_input(n, 0), *b = node_input(n, 1);
    Tensor *g_over_b = tensor_div(g, b);
    if (!g_over_b)
        return -1;
    int rc = 0;
    if (node_needs_grad(n, 0)) {
        tensor_retain(g_over_b);
        rc = set_reduced(n, 0, g_over_b, grads);
    }
    if (rc == 0 && node_needs_grad(n, 1)) {
        Tensor *a_over_b = tensor_div(a, b);
        Tensor *prod = tensor_mul(g_over_b, a_over_b);
        Tensor *neg = tensor_neg(prod);
        tensor_release(a_over_b);
        tensor_release(prod);
        rc = set_reduced(n, 1, neg, grads);
    }
    tensor_release(g_over_b);
    return rc;
}

/* grad_a = g b a^(b-1); grad_b = g a^b log a (0 where a == 0, as PyTorch) */
static int pow_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    const Tensor *a = node_input(n, 0), *b = node_input(n, 1), *y = n->saved[0];
    if (node_needs_grad(n, 0)) {
        Tensor *bm1 = tensor_add_scalar(b, -1.0f);
        Tensor *p = tensor_pow(a, bm1);
        Tensor *bp = tensor_mul(b, p);
        Tensor *full = tensor_mul(g, bp);
        tensor_release(bm1);
        tensor_release(p);
        tensor_release(bp);
        if (set_reduced(n, 0, full, grads) < 0)
            return -1;
    }
    if (node_needs_grad(n, 1)) {
        Tensor *loga = tensor_log(a);
        Tensor *ylog = tensor_mul(y, loga);
        Tensor *zero = tensor_scalar(0.0f);
        Tensor *is_zero = tensor_eq(a, zero);
        Tensor *safe = tensor_where(is_zero, zero, ylog);
        Tensor *full = tensor_mul(g, safe);
        tensor_release(loga);
        tensor_release(ylog);
        tensor_release(zero);
        tensor_release(is_zero);
        tensor_release(safe);
        if (set_reduced(n, 1, full, grads) < 0)
            return -1;
    }
    return 0;
}

/*
 * maximum: grad_a = g where a > b, g/2 where a == b, else 0; grad_b = g - grad_a
 * (before reduction). minimum is the same with a < b.
 */
static int extremum_backward(VarNode *n, const Tensor *g, Tensor **grads, bool is_max)
{
    const Tensor *a = node_input(n, 0), *b = node_input(n, 1);
    Tensor *wins = is_max ? tensor_gt(a, b) : tensor_lt(a, b);
    Tensor *ties = tensor_eq(a, b);
    Tensor *half = tensor_mul_scalar(ties, 0.5f);
    Tensor *weight = tensor_add(wins, half);
    Tensor *ga = tensor_mul(g, weight);
    tensor_release(wins);
    tensor_release(ties);
    tensor_release(half);
    tensor_release(weight);
    if (!ga)
        return -1;
    int rc = 0;
    if (node_needs_grad(n, 1))
        rc = set_reduced(n, 1, tensor_sub(g, ga), grads);
    if (rc == 0 && node_needs_grad(n, 0)) {
        tensor_retain(ga);
        rc = set_reduced(n, 0, ga, grads);
    }
    tensor_release(ga);
    return rc;
}

static int maximum_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return extremum_backward(n, g, grads, true);
}

static int minimum_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return extremum_backward(n, g, grads, false);
}

static const VarOp ADD_OP = {"add", add_backward};
static const VarOp SUB_OP = {"sub", sub_backward};
static const VarOp MUL_OP = {"mul", mul_backward};
static const VarOp DIV_OP = {"div", div_backward};
static const VarOp POW_OP = {"pow", pow_backward};
static const VarOp MAXIMUM_OP = {"maximum", maximum_backward};
static const VarOp MINIMUM_OP = {"minimum", minimum_backward};

/* The forward shared by the binary ops: compute, record, save what backward reads. */
static Var *binary(const char *fn, Tensor *value, const VarOp *op, Var *a, Var *b,
                   bool save_output)
{
    Var *in[2] = {a, b};
    VarNode *node;
    Var *out = ag_make_output(fn, value, op, in, 2, &node);
    if (node && save_output)
        ag_save(node, 0, out->data);
    return out;
}

/* ------------------------------------------------------- ops with a scalar --- */

/* grad = g */
static int add_scalar_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    (void)n;
    tensor_retain((Tensor *)g);
    grads[0] = (Tensor *)g;
    return 0;
}

/* grad = g * s */
static int mul_scalar_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return (grads[0] = tensor_mul_scalar(g, n->p.f0)) ? 0 : -1;
}

/* grad = -g */
static int neg_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    (void)n;
    return (grads[0] = tensor_neg(g)) ? 0 : -1;
}

static const VarOp ADD_SCALAR_OP = {"add_scalar", add_scalar_backward};
static const VarOp MUL_SCALAR_OP = {"mul_scalar", mul_scalar_backward};
static const VarOp NEG_OP = {"neg", neg_backward};

/* --------------------------------------------------------------- unary ops --- */

/*
 * The unary ops whose backward is one elementwise kernel. The node keeps the output
 * (saved[0]) when the kernel reads y; the input x is the node's input already.
 */
#define UNARY_BACKWARD(name, KIND)                                                      \
    static int name##_backward(VarNode *n, const Tensor *g, Tensor **grads)             \
    {                                                                                   \
        grads[0] = ag_pointwise_grad(KIND, g, node_input(n, 0), n->saved[0], n->p.f0,   \
                                     n->p.f1);                                          \
        return grads[0] ? 0 : -1;                                                       \
    }                                                                                   \
    static const VarOp name##_OP_DEF = {#name, name##_backward};

UNARY_BACKWARD(pow_scalar, PW_POW_SCALAR)
UNARY_BACKWARD(abs, PW_ABS)
UNARY_BACKWARD(exp, PW_EXP)
UNARY_BACKWARD(log, PW_LOG)
UNARY_BACKWARD(sqrt, PW_SQRT)
UNARY_BACKWARD(rsqrt, PW_RSQRT)
UNARY_BACKWARD(sin, PW_SIN)
UNARY_BACKWARD(cos, PW_COS)
UNARY_BACKWARD(tanh, PW_TANH)
UNARY_BACKWARD(sigmoid, PW_SIGMOID)
UNARY_BACKWARD(relu, PW_RELU)
UNARY_BACKWARD(gelu, PW_GELU)
UNARY_BACKWARD(leaky_relu, PW_LEAKY_RELU)
UNARY_BACKWARD(clamp, PW_CLAMP)

/* Forward of a unary op: record, keep the output if backward reads it, and scalars. */
static Var *unary(const char *fn, Tensor *value, const VarOp *op, Var *v, bool save_output,
                  float f0, float f1)
{
    VarNode *node;
    Var *out = ag_make_output(fn, value, op, &v, 1, &node);
    if (node) {
        if (save_output)
            ag_save(node, 0, out->data);
        node->p.f0 = f0;
        node->p.f1 = f1;
    }
    return out;
}

/* ------------------------------------------------------- where, masked_fill --- */

/* grad_a = where(cond, g, 0), grad_b = where(cond, 0, g), each reduced to its input */
static int where_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    const Tensor *cond = n->saved[0];
    Tensor *zero = tensor_scalar(0.0f);
    int rc = 0;
    if (node_needs_grad(n, 0))
        rc = set_reduced(n, 0, tensor_where(cond, g, zero), grads);
    if (rc == 0 && node_needs_grad(n, 1))
        rc = set_reduced(n, 1, tensor_where(cond, zero, g), grads);
    tensor_release(zero);
    return rc;
}

/* grad = g with 0 where the mask is set */
static int masked_fill_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return (grads[0] = tensor_masked_fill(g, n->saved[0], 0.0f)) ? 0 : -1;
}

static const VarOp WHERE_OP = {"where", where_backward};
static const VarOp MASKED_FILL_OP = {"masked_fill", masked_fill_backward};
/* SOLUTION END */

/* ---------------------------------------------------------------- public API --- */

Var *var_add(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return binary(__func__, tensor_add(a->data, b->data), &ADD_OP, a, b, false);
    /* SOLUTION END */
}

Var *var_sub(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return binary(__func__, tensor_sub(a->data, b->data), &SUB_OP, a, b, false);
    /* SOLUTION END */
}

Var *var_mul(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return binary(__func__, tensor_mul(a->data, b->data), &MUL_OP, a, b, false);
    /* SOLUTION END */
}

Var *var_div(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return binary(__func__, tensor_div(a->data, b->data), &DIV_OP, a, b, false);
    /* SOLUTION END */
}

Var *var_pow(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return binary(__func__, tensor_pow(a->data, b->data), &POW_OP, a, b, true);
    /* SOLUTION END */
}

Var *var_maximum(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return binary(__func__, tensor_maximum(a->data, b->data), &MAXIMUM_OP, a, b, false);
    /* SOLUTION END */
}

Var *var_minimum(Var *a, Var *b)
{
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return binary(__func__, tensor_minimum(a->data, b->data), &MINIMUM_OP, a, b, false);
    /* SOLUTION END */
}

Var *var_add_scalar(Var *v, float s)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_add_scalar(v->data, s), &ADD_SCALAR_OP, v, false, s, 0);
    /* SOLUTION END */
}

Var *var_mul_scalar(Var *v, float s)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_mul_scalar(v->data, s), &MUL_SCALAR_OP, v, false, s, 0);
    /* SOLUTION END */
}

Var *var_pow_scalar(Var *v, float e)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_pow_scalar(v->data, e), &pow_scalar_OP_DEF, v, false, e,
                 0);
    /* SOLUTION END */
}

Var *var_neg(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_neg(v->data), &NEG_OP, v, false, 0, 0);
    /* SOLUTION END */
}

Var *var_abs(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_abs(v->data), &abs_OP_DEF, v, false, 0, 0);
    /* SOLUTION END */
}

Var *var_exp(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_exp(v->data), &exp_OP_DEF, v, true, 0, 0);
    /* SOLUTION END */
}

Var *var_log(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_log(v->data), &log_OP_DEF, v, false, 0, 0);
    /* SOLUTION END */
}

Var *var_sqrt(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_sqrt(v->data), &sqrt_OP_DEF, v, true, 0, 0);
    /* SOLUTION END */
}

Var *var_rsqrt(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_rsqrt(v->data), &rsqrt_OP_DEF, v, true, 0, 0);
    /* SOLUTION END */
}

Var *var_sin(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_sin(v->data), &sin_OP_DEF, v, false, 0, 0);
    /* SOLUTION END */
}

Var *var_cos(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_cos(v->data), &cos_OP_DEF, v, false, 0, 0);
    /* SOLUTION END */
}

Var *var_tanh(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_tanh(v->data), &tanh_OP_DEF, v, true, 0, 0);
    /* SOLUTION END */
}

Var *var_sigmoid(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_sigmoid(v->data), &sigmoid_OP_DEF, v, true, 0, 0);
    /* SOLUTION END */
}

Var *var_relu(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_relu(v->data), &relu_OP_DEF, v, true, 0, 0);
    /* SOLUTION END */
}

Var *var_gelu(Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_gelu(v->data), &gelu_OP_DEF, v, false, 0, 0);
    /* SOLUTION END */
}

Var *var_leaky_relu(Var *v, float slope)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_leaky_relu(v->data, slope), &leaky_relu_OP_DEF, v, false,
                 slope, 0);
    /* SOLUTION END */
}

Var *var_clamp(Var *v, float lo, float hi)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    return unary(__func__, tensor_clamp(v->data, lo, hi), &clamp_OP_DEF, v, false, lo, hi);
    /* SOLUTION END */
}

Var *var_where(const Tensor *cond, Var *a, Var *b)
{
    STRATA_CHECK_ARG(cond, NULL);
    STRATA_CHECK_ARG(a, NULL);
    STRATA_CHECK_ARG(b, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    Var *in[2] = {a, b};
    VarNode *node;
    Var *out = ag_make_output(__func__, tensor_where(cond, a->data, b->data), &WHERE_OP,
                              in, 2, &node);
    if (node)
        ag_save(node, 0, cond);
    return out;
    /* SOLUTION END */
}

Var *var_masked_fill(Var *v, const Tensor *mask, float value)
{
    STRATA_CHECK_ARG(v, NULL);
    STRATA_CHECK_ARG(mask, NULL);
    /* SOLUTION BEGIN week=2 step=4 tier=core fail=NULL */
    VarNode *node;
    Var *out = ag_make_output(__func__, tensor_masked_fill(v->data, mask, value),
                              &MASKED_FILL_OP, &v, 1, &node);
    if (node)
        ag_save(node, 0, mask);
    return out;
    /* SOLUTION END */
}
