/*
 * attention.c - MultiheadAttention (Vaswani et al. 2017), batch first.
 *
 *   Q = q Wq^T + bq, K = k Wk^T + bk, V = v Wv^T + bv     (Wq; Wk; Wv) = in_proj_weight
 *   split E into H heads of D = E / H:                     [N, H, L, D], [N, H, S, D]
 *   A = softmax(Q K^T / sqrt(D) + mask)                    [N, H, L, S]
 *   out = out_proj(concat of the heads of A V)             [N, L, E]
 *
 * The 1/sqrt(D) keeps the scores' variance near 1 whatever D is, so the softmax does
 * not saturate. A mask entry of -inf removes a (query, key) pair; a causal mask removes
 * every key after the query's position.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct AttentionState {
    int64_t embed_dim, num_heads;
    bool is_causal; /* set for the duration of one nn_multihead_attention_forward() call */
} AttentionState;

static void free_state(void *state) { strata_free(state); }

static Var *nn_attention_forward_n(Module *self, Var *const *inputs, int n);
static const ModuleType ATTENTION_TYPE = {"MultiheadAttention", NULL, nn_attention_forward_n,
                                          NULL, free_state};

/* SOLUTION BEGIN week=3 step=9 tier=stretch */
/* x [N, T, E] -> [N, H, T, D]: split the features into heads. */
static Var *split_heads(Var *x, int64_t heads)
{
    const Tensor *t = x->data;
    int64_t shape[4] = {t->shape[0], t->shape[1], heads, t->shape[2] / heads};
    int order[4] = {0, 2, 1, 3};
    return var_permute(var_reshape(x, shape, 4), order);
}

/* The additive mask [L, S] (or [N, H, L, S]) from the user's mask and causality. */
static Tensor *build_mask(const Tensor *attn_mask, bool causal, int64_t n, int64_t h,
                          int64_t l, int64_t s)
{
    char shape[128];
    Tensor *mask = NULL;
    if (attn_mask) {
        if (attn_mask->ndim == 2 && attn_mask->shape[0] == l && attn_mask->shape[1] == s) {
            mask = tensor_clone(attn_mask);
        } else if (attn_mask->ndim == 3 && attn_mask->shape[0] == n * h &&
                   attn_mask->shape[1] == l && attn_mask->shape[2] == s) {
            int64_t four[4] = {n, h, l, s};
            mask = tensor_reshape(attn_mask, four, 4);
        } else {
            strata_set_error("MultiheadAttention: attn_mask %s must be [%lld, %lld] or "
                             "[%lld, %lld, %lld]",
                             tensor_shape_str(attn_mask, shape, sizeof shape), (long long)l,
                             (long long)s, (long long)(n * h), (long long)l, (long long)s);
            return NULL;
        }
    }
    if (causal) {
        int64_t two[2] = {l, s};
        Tensor *c = tensor_zeros(two, 2);
        if (!c)
            return NULL;
        for (int64_t i = 0; i < l; i++)
            for (int64_t j = i + 1; j < s; j++)
                c->data[i * s + j] = -INFINITY;
        mask = mask ? tensor_add(mask, c) : c;
    }
    return mask;
}

/* The whole computation, given the (optional) mask. */
static Var *attention(Module *self, Var *q, Var *k, Var *v, const Tensor *attn_mask)
{
    const AttentionState *st = self->state;
    int64_t e = st->embed_dim, h = st->num_heads, d = e / h;
    const Tensor *qt = q->data, *kt = k->data, *vt = v->data;
    if (qt->ndim != 3 || kt->ndim != 3 || vt->ndim != 3 || qt->shape[2] != e ||
        kt->shape[2] != e || vt->shape[2] != e || kt->shape[0] != qt->shape[0] ||
        !tensor_same_shape(kt, vt)) {
        char a[128], b[128], c[128];
        strata_set_error("MultiheadAttention: expected query [N, L, %lld] and key, value "
                         "[N, S, %lld], got %s, %s, %s", (long long)e, (long long)e,
                         tensor_shape_str(qt, a, sizeof a), tensor_shape_str(kt, b, sizeof b),
                         tensor_shape_str(vt, c, sizeof c));
        return NULL;
    }
    int64_t n = qt->shape[0], l = qt->shape[1], s = kt->shape[1];
    if (st->is_causal && l != s) {
        strata_set_error("MultiheadAttention: a causal mask needs L == S, got %lld and %lld",
                         (long long)l, (long long)s);
        return NULL;
    }
    Tensor *mask = NULL;
    if (attn_mask || st->is_causal) {
        mask = build_mask(attn_mask, st->is_causal, n, h, l, s);
        if (!mask)
            return NULL;
    }
    /* The three projections are slices of one [3E, E] weight. */
    Var *w = nn_get_parameter(self, "in_proj_weight");
    Var *b = nn_get_parameter(self, "in_proj_bias");
    Var *qp = var_linear(q, var_narrow(w, 0, 0, e), b ? var_narrow(b, 0, 0, e) : NULL);
    Var *kp = var_linear(k, var_narrow(w, 0, e, e), b ? var_narrow(b, 0, e, e) : NULL);
    Var *vp = var_linear(v, var_narrow(w, 0, 2 * e, e), b ? var_narrow(b, 0, 2 * e, e) : NULL);
    Var *qh = split_heads(qp, h), *kh = split_heads(kp, h), *vh = split_heads(vp, h);
    Var *scores = var_mul_scalar(var_matmul(qh, var_transpose(kh, 2, 3)),
                                 (float)(1.0 / sqrt((double)d)));        /* [N, H, L, S] */
    if (mask)
        scores = var_add(scores, nn_constant(mask));
    Var *weights = var_softmax(scores, -1);
    Var *heads = var_matmul(weights, vh);                                /* [N, H, L, D] */
    int order[4] = {0, 2, 1, 3};
    int64_t merged[3] = {n, l, e};
    Var *joined = var_reshape(var_permute(heads, order), merged, 3);     /* [N, L, E] */
    return nn_forward(nn_get_submodule(self, "out_proj"), joined);
}
/* SOLUTION END */

static Var *nn_attention_forward_n(Module *self, Var *const *inputs, int n)
{
    if (n != 3 && n != 4) {
        strata_set_error("MultiheadAttention: takes (query, key, value[, attn_mask]), got %d "
                         "inputs", n);
        return NULL;
    }
    /* SOLUTION BEGIN week=3 step=9 tier=stretch fail=NULL */
    return attention(self, inputs[0], inputs[1], inputs[2], n == 4 ? inputs[3]->data : NULL);
    /* SOLUTION END */
}

Var *nn_multihead_attention_forward(Module *m, Var *query, Var *key, Var *value,
                                    const Tensor *attn_mask, bool is_causal)
{
    STRATA_CHECK_ARG(m, NULL);
    STRATA_CHECK_ARG(query, NULL);
    STRATA_CHECK_ARG(key, NULL);
    STRATA_CHECK_ARG(value, NULL);
    if (m->type != &ATTENTION_TYPE) {
        strata_set_error("nn_multihead_attention_forward: expected a MultiheadAttention, got "
                         "%s", m->type->name);
        return NULL;
    }
    /* Through nn_forward_n(), so the module's hooks run; the mask rides as a 4th input. */
    Scope *inner = scope_begin();
    AttentionState *st = m->state;
    Var *inputs[4] = {query, key, value, attn_mask ? nn_constant(attn_mask) : NULL};
    st->is_causal = is_causal;
    Var *out = nn_forward_n(m, inputs, attn_mask ? 4 : 3);
    st->is_causal = false;
    return nn_scope_return(inner, out);
}

Module *nn_multihead_attention(int64_t embed_dim, int64_t num_heads, bool bias)
{
    if (embed_dim <= 0 || num_heads <= 0 || embed_dim % num_heads != 0) {
        strata_set_error("nn_multihead_attention: embed_dim = %lld must be a positive "
                         "multiple of num_heads = %lld", (long long)embed_dim,
                         (long long)num_heads);
        return NULL;
    }
    AttentionState *s = strata_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->embed_dim = embed_dim;
    s->num_heads = num_heads;
    Module *m = nn_module_new(&ATTENTION_TYPE, s);
    int64_t w_shape[2] = {3 * embed_dim, embed_dim}, b_shape[1] = {3 * embed_dim};
    Var *w = m ? nn_add_parameter(m, "in_proj_weight", w_shape, 2) : NULL;
    bool ok = w && (bias ? nn_add_parameter(m, "in_proj_bias", b_shape, 1) != NULL
                         : nn_register_parameter(m, "in_proj_bias", NULL) == 0);
    ok = ok && nn_register_module(m, "out_proj", nn_out_proj_linear(embed_dim, bias)) == 0;
    /* PyTorch's _reset_parameters: xavier_uniform_ in_proj_weight, zero biases. */
    ok = ok && nn_init_xavier_uniform_(w->data, 1.0f) == 0;
    Var *out_bias = ok && bias ? nn_get_parameter(m, "out_proj.bias") : NULL;
    if (ok && out_bias)
        ok = nn_init_zeros_(out_bias->data) == 0;
    if (!ok) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}
