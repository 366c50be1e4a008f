/*
 * bonds.c - the modules without weights: mass 0, a sensitivity, and a forward made of
 * autograd ops (so backward passes through them).
 *
 * The attention bonds (JAX-era Modula) work on [batch, heads, tokens, dim] tensors:
 * SplitIntoHeads and MergeHeads reshape, Rope rotates queries and keys by position,
 * AttentionQK scores every (query, key) pair with scale 1/d, CausalMask hides the
 * future, Softmax(scale) turns scores into weights, and ApplyAttentionScores averages
 * the values with those weights.
 */
#include "modular_internal.h"

#include <math.h>

/* GELU's output second moment on a standard normal input is 1.1289^2: divide it out. */
#define GELU_SCALE 1.1289

static ModularModule *bond_new(const char *name, ModBondKind kind, float sensitivity,
                               bool smooth)
{
    ModularModule *m = mod_node_new(MOD_BOND, name);
    if (!m)
        return NULL;
    m->bond = kind;
    m->mass = 0.0f;
    m->sensitivity = sensitivity;
    m->smooth = smooth;
    return m;
}

ModularModule *modular_identity(void) { return bond_new("Identity", BOND_IDENTITY, 1, true); }
ModularModule *modular_add(void) { return bond_new("Add", BOND_ADD, 1, true); }
ModularModule *modular_relu(void) { return bond_new("ReLU", BOND_RELU, 1, false); }
ModularModule *modular_scaled_relu(void)
{
    return bond_new("ScaledReLU", BOND_SCALED_RELU, 1, false);
}
ModularModule *modular_gelu(void) { return bond_new("GELU", BOND_GELU, 1, false); }
ModularModule *modular_abs(void) { return bond_new("Abs", BOND_ABS, 1, false); }
ModularModule *modular_flatten(void) { return bond_new("Flatten", BOND_FLATTEN, 1, true); }
ModularModule *modular_mean_subtract(void)
{
    return bond_new("MeanSubtract", BOND_MEAN_SUBTRACT, 1, true);
}
ModularModule *modular_rms_divide(void)
{
    return bond_new("RMSDivide", BOND_RMS_DIVIDE, 1, false);
}

ModularModule *modular_mul(float alpha)
{
    if (alpha == 0.0f) {
        strata_set_error("modular_mul: cannot multiply a module by zero (its sensitivity "
                         "would be 0, and dualize divides by the sensitivity)");
        return NULL;
    }
    if (!isfinite(alpha)) {
        strata_set_error("modular_mul: the factor must be finite, got %g", (double)alpha);
        return NULL;
    }
    ModularModule *m = bond_new("Mul", BOND_MUL, fabsf(alpha), true);
    if (m)
        m->alpha = alpha;
    return m;
}

ModularModule *modular_global_avg_pool(void)
{
    return bond_new("GlobalAvgPool", BOND_GLOBAL_POOL, 1, true);
}

ModularModule *modular_avg_pool(int kernel, int stride, int padding)
{
    if (kernel < 1 || stride < 1 || padding < 0) {
        strata_set_error("modular_avg_pool: need kernel, stride >= 1 and padding >= 0, got "
                         "kernel %d, stride %d, padding %d",
                         kernel, stride, padding);
        return NULL;
    }
    ModularModule *m = bond_new("AvgPool", BOND_AVG_POOL, 1, true);
    if (m)
        m->kernel = kernel, m->stride = stride, m->padding = padding;
    return m;
}

/* ----------------------------------------------------------------- attention --- */

ModularModule *modular_split_into_heads(int64_t num_heads)
{
    if (num_heads < 1) {
        strata_set_error("modular_split_into_heads: need num_heads >= 1, got %lld",
                         (long long)num_heads);
        return NULL;
    }
    ModularModule *m = bond_new("SplitIntoHeads", BOND_SPLIT_HEADS, 1, true);
    if (m)
        m->num_heads = num_heads;
    return m;
}

ModularModule *modular_merge_heads(void)
{
    return bond_new("MergeHeads", BOND_MERGE_HEADS, 1, true);
}

ModularModule *modular_attention_qk(void)
{
    return bond_new("AttentionQK", BOND_ATTENTION_QK, 1, true);
}

ModularModule *modular_causal_mask(void)
{
    return bond_new("CausalMask", BOND_CAUSAL_MASK, 1, true);
}

ModularModule *modular_softmax(float scale)
{
    if (!(scale > 0.0f) || !isfinite(scale)) {
        strata_set_error("modular_softmax: the scale must be finite and > 0 (it is the "
                         "bond's sensitivity), got %g",
                         (double)scale);
        return NULL;
    }
    ModularModule *m = bond_new("Softmax", BOND_SOFTMAX, scale, true);
    if (m)
        m->scale = scale;
    return m;
}

ModularModule *modular_apply_attention_scores(void)
{
    return bond_new("ApplyAttentionScores", BOND_APPLY_SCORES, 1, true);
}

ModularModule *modular_rope(int64_t d_head, double base)
{
    if (d_head < 2 || d_head % 2 != 0 || !(base > 1.0) || !isfinite(base)) {
        strata_set_error("modular_rope: need an even d_head >= 2 and a finite base > 1, got "
                         "d_head %lld, base %g",
                         (long long)d_head, base);
        return NULL;
    }
    ModularModule *m = bond_new("Rope", BOND_ROPE, 1, true);
    if (m)
        m->rope_dim = d_head / 2, m->rope_base = base;
    return m;
}

/* SOLUTION BEGIN week=5 step=10 tier=core */
/* Name the shape of @p x in an error of @p bond wanting @p want. */
static int shape_error(const ModularModule *m, const Var *x, const char *want)
{
    char buf[128];
    strata_set_error("modular_forward: %s takes %s, got %s", m->name, want,
                     tensor_shape_str(x->data, buf, sizeof buf));
    return -1;
}

/* x [B, T, H*d] -> [B, H, T, d]: the features of each token cut into H heads. */
static Var *split_heads(const ModularModule *m, Var *x)
{
    const Tensor *t = x->data;
    if (t->ndim != 3 || t->shape[2] % m->num_heads != 0) {
        char want[96];
        snprintf(want, sizeof want, "[batch, tokens, dim] with dim divisible by %lld heads",
                 (long long)m->num_heads);
        shape_error(m, x, want);
        return NULL;
    }
    int64_t shape[4] = {t->shape[0], t->shape[1], m->num_heads, t->shape[2] / m->num_heads};
    int order[4] = {0, 2, 1, 3};
    Var *r = var_reshape(x, shape, 4);
    Var *y = r ? var_permute(r, order) : NULL;
    mod_drop_temp(r);
    return y;
}

/* x [B, H, T, d] -> [B, T, H*d]: the heads of each token side by side again. */
static Var *merge_heads(const ModularModule *m, Var *x)
{
    const Tensor *t = x->data;
    if (t->ndim != 4) {
        shape_error(m, x, "[batch, heads, tokens, dim]");
        return NULL;
    }
    int order[4] = {0, 2, 1, 3};
    int64_t shape[3] = {t->shape[0], t->shape[2], t->shape[1] * t->shape[3]};
    Var *p = var_permute(x, order);
    Var *y = p ? var_reshape(p, shape, 3) : NULL;
    mod_drop_temp(p);
    return y;
}

/* (q, k) -> q k^T / d: the score of every (query, key) pair. The scale 1/d (not the
 * usual 1/sqrt(d)) bounds the score by the product of the RMS norms of q and k, whatever
 * d is: |q.k|/d <= |q|/sqrt(d) * |k|/sqrt(d). */
static Var *attention_qk(const ModularModule *m, Var *q, Var *k)
{
    const Tensor *a = q->data, *b = k->data;
    if (a->ndim < 2 || a->ndim != b->ndim || a->shape[a->ndim - 1] != b->shape[b->ndim - 1]) {
        shape_error(m, q, "(q, k) of the same rank >= 2 with one last dim");
        return NULL;
    }
    Var *kt = var_transpose(k, b->ndim - 2, b->ndim - 1);
    Var *s = kt ? var_matmul(q, kt) : NULL;
    Var *y = s ? var_mul_scalar(s, (float)(1.0 / (double)a->shape[a->ndim - 1])) : NULL;
    mod_drop_temp(kt);
    mod_drop_temp(s);
    return y;
}

/* scores [..., Tq, Tk]: -inf where key j comes after query i (j > i), as tril keeps. */
static Var *causal_mask(const ModularModule *m, Var *x)
{
    const Tensor *t = x->data;
    if (t->ndim < 2) {
        shape_error(m, x, "scores [..., queries, keys]");
        return NULL;
    }
    int64_t shape[2] = {t->shape[t->ndim - 2], t->shape[t->ndim - 1]};
    Tensor *mask = tensor_zeros(shape, 2);
    if (!mask)
        return NULL;
    for (int64_t i = 0; i < shape[0]; i++)
        for (int64_t j = i + 1; j < shape[1]; j++)
            mask->data[i * shape[1] + j] = 1.0f;
    return var_masked_fill(x, mask, -INFINITY);
}

/* softmax(scale * x) over the last dim. */
static Var *scaled_softmax(const ModularModule *m, Var *x)
{
    Var *s = var_mul_scalar(x, m->scale);
    Var *y = s ? var_softmax(s, -1) : NULL;
    mod_drop_temp(s);
    return y;
}

/* (v, scores) -> scores v: each query's weighted average of the values. */
static Var *apply_scores(const ModularModule *m, Var *v, Var *scores)
{
    const Tensor *a = v->data, *s = scores->data;
    if (a->ndim < 2 || a->ndim != s->ndim || s->shape[s->ndim - 1] != a->shape[a->ndim - 2]) {
        shape_error(m, v, "(v [..., keys, dim], scores [..., queries, keys])");
        return NULL;
    }
    return var_matmul(scores, v);
}

/*
 * Rotate x [..., T, 2h]: the pair (x[i], x[i + h]) of token t turns by the angle
 * t * base^(-i/h). A rotation keeps lengths (sensitivity 1), and since q and k of
 * tokens t and s turn by angles that differ by (t - s) * freq, their dot product
 * depends on where they are only through t - s: relative positions.
 */
static Var *rope_rotate(const ModularModule *m, Var *x)
{
    const Tensor *t = x->data;
    int64_t h = m->rope_dim;
    if (t->ndim < 2 || t->shape[t->ndim - 1] != 2 * h) {
        char want[64];
        snprintf(want, sizeof want, "[..., tokens, %lld]", (long long)(2 * h));
        shape_error(m, x, want);
        return NULL;
    }
    int64_t tokens = t->shape[t->ndim - 2], shape[2] = {tokens, h};
    Tensor *c = tensor_zeros(shape, 2), *sn = tensor_zeros(shape, 2);
    if (!c || !sn)
        return NULL;
    for (int64_t p = 0; p < tokens; p++)
        for (int64_t i = 0; i < h; i++) {
            double angle = (double)p * pow(m->rope_base, -(double)i / (double)h);
            c->data[p * h + i] = (float)cos(angle);
            sn->data[p * h + i] = (float)sin(angle);
        }
    Var *cv = var_new(c, false), *sv = var_new(sn, false);
    int last = t->ndim - 1;
    Var *x1 = var_narrow(x, last, 0, h), *x2 = var_narrow(x, last, h, h);
    Var *a = var_mul(x1, cv), *b = var_mul(x2, sv), *d = var_mul(x1, sv), *e = var_mul(x2, cv);
    Var *halves[2] = {a && b ? var_sub(a, b) : NULL, d && e ? var_add(d, e) : NULL};
    Var *y = halves[0] && halves[1] ? var_cat(halves, 2, last) : NULL;
    Var *temps[10] = {cv, sv, x1, x2, a, b, d, e, halves[0], halves[1]};
    for (int i = 0; i < 10; i++)
        mod_drop_temp(temps[i]);
    return y;
}
/* SOLUTION END */

/* The attention bonds' forward (split/merge heads, q k^T, causal mask, softmax, scores v,
 * rope), as mod_bond_forward: consume @p in (borrowed), fresh values in @p out. 0/-1.
 * A function of its own, so that it is a handout step of its own. */
static int mod_attention_bond_forward(ModularModule *m, const ModVals *in, ModVals *out)
{
    /* SOLUTION BEGIN week=5 step=10 tier=core fail=-1 */
    out->n = 0;
    out->v = NULL;
    Var *y = NULL;
    switch (m->bond) {
    case BOND_ROPE:
        /* Rope rotates every value it is given: (q, k) in, (q, k) out */
        out->v = strata_calloc((size_t)in->n, sizeof *out->v);
        if (!out->v)
            return -1;
        for (int i = 0; i < in->n; i++) {
            out->v[i] = rope_rotate(m, in->v[i]);
            if (!out->v[i]) {
                for (int j = 0; j < i; j++)
                    mod_drop_temp(out->v[j]);
                strata_free(out->v);
                out->v = NULL;
                return -1;
            }
        }
        out->n = in->n;
        return 0;
    case BOND_ATTENTION_QK:
    case BOND_APPLY_SCORES:
        if (in->n != 2) {
            strata_set_error("modular_forward: %s takes a pair (%s), got %d value(s)", m->name,
                             m->bond == BOND_ATTENTION_QK ? "q, k" : "v, scores", in->n);
            return -1;
        }
        y = m->bond == BOND_ATTENTION_QK ? attention_qk(m, in->v[0], in->v[1])
                                         : apply_scores(m, in->v[0], in->v[1]);
        break;
    default:
        if (in->n != 1) {
            strata_set_error("modular_forward: %s takes one value, got a tuple of %d (use Add)",
                             m->name, in->n);
            return -1;
        }
        y = m->bond == BOND_SPLIT_HEADS   ? split_heads(m, in->v[0])
            : m->bond == BOND_MERGE_HEADS ? merge_heads(m, in->v[0])
            : m->bond == BOND_CAUSAL_MASK ? causal_mask(m, in->v[0])
                                          : scaled_softmax(m, in->v[0]);
        break;
    }
    return mod_vals_one(out, y);
    /* SOLUTION END */
}

int mod_bond_forward(ModularModule *m, const ModVals *in, ModVals *out)
{
    /* SOLUTION BEGIN week=5 step=5 tier=core fail=-1 */
    out->n = 0;
    out->v = NULL;
    Var *y = NULL;
    if (m->bond >= BOND_SPLIT_HEADS) /* the attention bonds: their own step */
        return mod_attention_bond_forward(m, in, out);
    if (m->bond == BOND_ADD) {
        /* the sum of a tuple: fold with var_add, dropping the partial sums */
        y = mod_pass(in->v[0]);
        for (int i = 1; y && i < in->n; i++) {
            Var *next = var_add(y, in->v[i]);
            mod_drop_temp(y);
            y = next;
        }
    } else if (in->n != 1) {
        strata_set_error("modular_forward: %s takes one value, got a tuple of %d (use Add)",
                         m->name, in->n);
        return -1;
    } else {
        Var *x = in->v[0], *t = NULL, *t2 = NULL;
        /* normalizing bonds: the last dim, or (C, H, W) of an image batch, as Modula */
        int img[3] = {1, 2, 3}, last[1] = {-1}, hw[2] = {2, 3};
        bool image = x->data->ndim == 4;
        int *nd = image ? img : last, nnd = image ? 3 : 1;
        switch (m->bond) {
        case BOND_IDENTITY: y = mod_pass(x); break;
        case BOND_MUL: y = var_mul_scalar(x, m->alpha); break;
        case BOND_RELU: y = var_relu(x); break;
        case BOND_SCALED_RELU:
            t = var_relu(x);
            y = t ? var_mul_scalar(t, (float)sqrt(2.0)) : NULL;
            break;
        case BOND_GELU:
            t = var_gelu(x);
            y = t ? var_mul_scalar(t, (float)(1.0 / GELU_SCALE)) : NULL;
            break;
        case BOND_ABS: y = var_abs(x); break;
        case BOND_FLATTEN: y = var_flatten(x, 1, -1); break;
        case BOND_MEAN_SUBTRACT:
            t = var_mean(x, nd, nnd, true);
            y = t ? var_sub(x, t) : NULL;
            break;
        case BOND_RMS_DIVIDE: {
            Var *sq = var_mul(x, x);
            t = sq ? var_mean(sq, nd, nnd, true) : NULL;
            mod_drop_temp(sq);
            Var *shifted = t ? var_add_scalar(t, 1e-12f) : NULL;
            t2 = shifted ? var_rsqrt(shifted) : NULL;
            mod_drop_temp(shifted);
            y = t2 ? var_mul(x, t2) : NULL;
            break;
        }
        case BOND_AVG_POOL:
            y = var_avg_pool2d(x, window2d(m->kernel, m->stride, m->padding));
            break;
        case BOND_GLOBAL_POOL:
            if (!image) {
                strata_set_error("modular_forward: GlobalAvgPool takes [N, C, H, W], got %d "
                                 "dims",
                                 x->data->ndim);
                return -1;
            }
            y = var_mean(x, hw, 2, false); /* [N, C] */
            break;
        default: break; /* BOND_ADD and the attention bonds: handled above */
        }
        mod_drop_temp(t);
        mod_drop_temp(t2);
    }
    return mod_vals_one(out, y);
    /* SOLUTION END */
}
