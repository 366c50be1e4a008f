/*
 * test_attention.c - the attention bonds (SplitIntoHeads, MergeHeads, AttentionQK,
 * CausalMask, Softmax(scale), ApplyAttentionScores, Rope) and the compounds Attention
 * and GPT (JAX-era Modula).
 *
 * Forwards are checked against naive loops written here, gradients against finite
 * differences (var_gradcheck), and masses, sensitivities and dualize targets against
 * the rules of the combinators worked out by hand in the comments: an atom's target is
 * t * (its mass / the total mass) / (the product of the sensitivities of everything
 * composed after it).
 */
#include "week5.h"

#include <math.h>
#include <string.h>

/* A [d0, d1, d2] or [d0, d1, d2, d3] standard normal tensor (scoped). */
static Tensor *randn_nd(int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    return tensor_randn(shape, ndim);
}

/* Fill every weight of @p m with standard normal values. */
static void randomize_weights(ModularModule *m)
{
    int n = modular_num_atoms(m);
    for (int i = 0; i < n; i++) {
        Tensor *w = modular_weight_get(m, i)->data;
        ck_assert_int_eq(tensor_copy_(w, tensor_randn(w->shape, w->ndim)), 0);
    }
}

/* y = x W^T for x [rows, in] row-major and W [out, in]: out [rows, out] (double). */
static void naive_linear(const float *x, const float *w, int64_t rows, int64_t in,
                         int64_t out, double *y)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double acc = 0.0;
            for (int64_t i = 0; i < in; i++)
                acc += (double)x[r * in + i] * w[o * in + i];
            y[r * out + o] = acc;
        }
}

/* Check that a bond has mass 0, the given sensitivity, 0 atoms and 1 bond. */
static void check_bond(ModularModule *b, double sensitivity, bool smooth)
{
    ck_assert_msg(b != NULL, "constructor failed: %s", strata_last_error());
    ck_assert_close(modular_mass(b), 0.0, 0.0);
    ck_assert_close(modular_sensitivity(b), sensitivity, 1e-7);
    ck_assert_int_eq(modular_num_atoms(b), 0);
    ck_assert_int_eq(modular_num_bonds(b), 1);
    ck_assert_msg(modular_is_smooth(b) == smooth, "%s: smooth should be %d",
                  modular_name(b), smooth);
}

START_TEST(test_split_merge_heads)
{
    Scope *s = scope_begin();
    strata_manual_seed(50);
    ModularModule *split = modular_split_into_heads(2), *merge = modular_merge_heads();
    check_bond(split, 1.0, true);
    check_bond(merge, 1.0, true);
    /* x [B=2, T=3, D=8] -> [2, 2 heads, 3, 4]: y[b][h][t][d] = x[b][t][h * 4 + d] */
    Var *x = var_new(randn_nd(3, 2, 3, 8, 0), false);
    Var *y = modular_forward(split, x);
    ck_assert_msg(y != NULL, "SplitIntoHeads failed: %s", strata_last_error());
    ck_assert_int_eq(y->data->ndim, 4);
    int64_t want[4] = {2, 2, 3, 4};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(y->data->shape[i], want[i]);
    Tensor *yc = tensor_contiguous(y->data);
    for (int b = 0; b < 2; b++)
        for (int h = 0; h < 2; h++)
            for (int t = 0; t < 3; t++)
                for (int d = 0; d < 4; d++)
                    ck_assert_close(yc->data[((b * 2 + h) * 3 + t) * 4 + d],
                                    x->data->data[(b * 3 + t) * 8 + h * 4 + d], 0.0);
    /* MergeHeads undoes it exactly */
    Var *back = modular_forward(merge, y);
    ck_assert_msg(back != NULL, "MergeHeads failed: %s", strata_last_error());
    ck_assert_msg(tensor_same_shape(back->data, x->data), "MergeHeads must give [2, 3, 8]");
    Tensor *bc = tensor_contiguous(back->data);
    for (int i = 0; i < 48; i++)
        ck_assert_close(bc->data[i], x->data->data[i], 0.0);
    /* 8 features do not split into 3 heads */
    ModularModule *three = modular_split_into_heads(3);
    ck_assert_ptr_null(modular_forward(three, x));
    ck_assert_msg(strstr(strata_last_error(), "divisible"), "message: %s", strata_last_error());
    ck_assert_ptr_null(modular_split_into_heads(0));
    ck_assert_msg(strstr(strata_last_error(), "num_heads"), "message: %s", strata_last_error());
    modular_free(split);
    modular_free(merge);
    modular_free(three);
    scope_end(s);
}
END_TEST

START_TEST(test_attention_qk)
{
    Scope *s = scope_begin();
    strata_manual_seed(51);
    ModularModule *bond = modular_attention_qk();
    check_bond(bond, 1.0, true);
    modular_free(bond);
    /* (q, k) = (x A^T, x B^T) for x [T=4, 3], q and k [4, d=5]; scores q k^T / 5 */
    ModularModule *pair[2] = {modular_linear(5, 3), modular_linear(5, 3)};
    ModularModule *mods[2] = {modular_tuple(2, pair), modular_attention_qk()};
    ModularModule *m = modular_chain(2, mods);
    ck_assert_msg(m != NULL, "chain failed: %s", strata_last_error());
    ck_assert_int_eq(modular_num_bonds(m), 1);
    ck_assert_close(modular_sensitivity(m), 2.0, 1e-7); /* tuple 1 + 1, then 1 */
    randomize_weights(m);
    Var *x = var_new(w5_randn(4, 3), false);
    Var *y = modular_forward(m, x);
    ck_assert_msg(y != NULL, "forward failed: %s", strata_last_error());
    ck_assert_int_eq(y->data->shape[0], 4);
    ck_assert_int_eq(y->data->shape[1], 4);
    double q[20], k[20];
    naive_linear(x->data->data, modular_weight_get(m, 0)->data->data, 4, 3, 5, q);
    naive_linear(x->data->data, modular_weight_get(m, 1)->data->data, 4, 3, 5, k);
    Tensor *yc = tensor_contiguous(y->data);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double acc = 0.0;
            for (int d = 0; d < 5; d++)
                acc += q[i * 5 + d] * k[j * 5 + d];
            ck_assert_close(yc->data[i * 4 + j], acc / 5.0, 1e-4); /* 1/d, not 1/sqrt(d) */
        }
    /* one value is not a pair */
    ModularModule *qk = modular_attention_qk();
    ck_assert_ptr_null(modular_forward(qk, x));
    ck_assert_msg(strstr(strata_last_error(), "pair"), "message: %s", strata_last_error());
    modular_free(qk);
    modular_free(m);
    scope_end(s);
}
END_TEST

START_TEST(test_causal_mask_softmax)
{
    Scope *s = scope_begin();
    strata_manual_seed(52);
    ModularModule *mask = modular_causal_mask(), *soft = modular_softmax(2.0f);
    check_bond(mask, 1.0, true);
    check_bond(soft, 2.0, true); /* Softmax(scale)'s sensitivity is its scale */
    ModularModule *mods[2] = {mask, soft};
    ModularModule *m = modular_chain(2, mods);
    ck_assert_close(modular_sensitivity(m), 2.0, 1e-7);
    /* scores [1, 2, 4, 4]: row i keeps columns j <= i, softmax of 2 x over those */
    Var *x = var_new(randn_nd(4, 1, 2, 4, 4), false);
    Var *y = modular_forward(m, x);
    ck_assert_msg(y != NULL, "forward failed: %s", strata_last_error());
    Tensor *yc = tensor_contiguous(y->data);
    const float *X = x->data->data;
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            double z = 0.0;
            for (int j = 0; j <= i; j++)
                z += exp(2.0 * X[(h * 4 + i) * 4 + j]);
            for (int j = 0; j < 4; j++) {
                double want = j <= i ? exp(2.0 * X[(h * 4 + i) * 4 + j]) / z : 0.0;
                ck_assert_close(yc->data[(h * 4 + i) * 4 + j], want, 1e-5);
            }
        }
    ck_assert_ptr_null(modular_softmax(0.0f));
    ck_assert_msg(strstr(strata_last_error(), "scale"), "message: %s", strata_last_error());
    ck_assert_ptr_null(modular_softmax(-1.0f));
    modular_free(m);
    scope_end(s);
}
END_TEST

START_TEST(test_apply_attention_scores)
{
    Scope *s = scope_begin();
    strata_manual_seed(53);
    ModularModule *bond = modular_apply_attention_scores();
    check_bond(bond, 1.0, true);
    modular_free(bond);
    /* (v, scores) = (x A^T, softmax(x B^T)) for x [2, T=3, 4]: v [2, 3, 2], scores
     * [2, 3, 3]; out[b][i] = sum_j scores[b][i][j] v[b][j] */
    ModularModule *sm[2] = {modular_linear(3, 4), modular_softmax(1.0f)};
    ModularModule *pair[2] = {modular_linear(2, 4), modular_chain(2, sm)};
    ModularModule *mods[2] = {modular_tuple(2, pair), modular_apply_attention_scores()};
    ModularModule *m = modular_chain(2, mods);
    ck_assert_msg(m != NULL, "chain failed: %s", strata_last_error());
    randomize_weights(m);
    Var *x = var_new(randn_nd(3, 2, 3, 4, 0), false);
    Var *y = modular_forward(m, x);
    ck_assert_msg(y != NULL, "forward failed: %s", strata_last_error());
    ck_assert_int_eq(y->data->shape[2], 2);
    double v[12], sc[18];
    naive_linear(x->data->data, modular_weight_get(m, 0)->data->data, 6, 4, 2, v);
    naive_linear(x->data->data, modular_weight_get(m, 1)->data->data, 6, 4, 3, sc);
    for (int r = 0; r < 6; r++) { /* softmax of each row of scores */
        double z = 0.0;
        for (int j = 0; j < 3; j++)
            z += exp(sc[r * 3 + j]);
        for (int j = 0; j < 3; j++)
            sc[r * 3 + j] = exp(sc[r * 3 + j]) / z;
    }
    Tensor *yc = tensor_contiguous(y->data);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int d = 0; d < 2; d++) {
                double acc = 0.0;
                for (int j = 0; j < 3; j++)
                    acc += sc[(b * 3 + i) * 3 + j] * v[(b * 3 + j) * 2 + d];
                ck_assert_close(yc->data[(b * 3 + i) * 2 + d], acc, 1e-4);
            }
    modular_free(m);
    scope_end(s);
}
END_TEST

START_TEST(test_rope)
{
    Scope *s = scope_begin();
    strata_manual_seed(54);
    ModularModule *rope = modular_rope(4, 10000.0);
    check_bond(rope, 1.0, true); /* a rotation keeps lengths */
    /* x [1, 2, T=5, 4]: h = 2 pairs (x[i], x[i+2]) turn by t * 10000^(-i/2) */
    Var *x = var_new(randn_nd(4, 1, 2, 5, 4), false);
    Var *y = modular_forward(rope, x);
    ck_assert_msg(y != NULL, "Rope failed: %s", strata_last_error());
    ck_assert_msg(tensor_same_shape(y->data, x->data), "Rope keeps the shape");
    Tensor *yc = tensor_contiguous(y->data);
    const float *X = x->data->data;
    for (int h = 0; h < 2; h++)
        for (int t = 0; t < 5; t++) {
            const float *row = X + (h * 5 + t) * 4;
            const float *out = yc->data + (h * 5 + t) * 4;
            for (int i = 0; i < 2; i++) {
                double a = t * pow(10000.0, -i / 2.0);
                ck_assert_close(out[i], row[i] * cos(a) - row[i + 2] * sin(a), 1e-5);
                ck_assert_close(out[i + 2], row[i] * sin(a) + row[i + 2] * cos(a), 1e-5);
            }
        }
    /* the same vector at every position: the dot product of positions t and s depends
     * only on t - s (relative positions), so (2, 0) and (4, 2) agree */
    int64_t shape[4] = {1, 1, 5, 4};
    Tensor *same = tensor_zeros(shape, 4);
    for (int t = 0; t < 5; t++)
        for (int d = 0; d < 4; d++)
            same->data[t * 4 + d] = (float)(d + 1) * (d % 2 ? -0.5f : 1.0f);
    Var *r = modular_forward(rope, var_new(same, false));
    ck_assert_msg(r != NULL, "Rope failed: %s", strata_last_error());
    Tensor *rc = tensor_contiguous(r->data);
    double d20 = 0.0, d42 = 0.0, d10 = 0.0;
    for (int d = 0; d < 4; d++) {
        d20 += (double)rc->data[2 * 4 + d] * rc->data[0 * 4 + d];
        d42 += (double)rc->data[4 * 4 + d] * rc->data[2 * 4 + d];
        d10 += (double)rc->data[1 * 4 + d] * rc->data[0 * 4 + d];
    }
    ck_assert_close(d20, d42, 1e-4);
    ck_assert_msg(fabs(d20 - d10) > 1e-2, "distance 2 and distance 1 should differ");
    /* a pair in, a pair out: Rope o (I, I) feeds AttentionQK */
    ModularModule *ids[2] = {modular_identity(), modular_identity()};
    ModularModule *mods[3] = {modular_tuple(2, ids), modular_copy(rope), modular_attention_qk()};
    ModularModule *m = modular_chain(3, mods);
    Var *sc = modular_forward(m, x);
    ck_assert_msg(sc != NULL, "AttentionQK o Rope o (I, I) failed: %s", strata_last_error());
    ck_assert_int_eq(sc->data->shape[3], 5);
    /* wrong last dim, odd d_head */
    ck_assert_ptr_null(modular_forward(rope, var_new(randn_nd(4, 1, 1, 3, 6), false)));
    ck_assert_msg(strstr(strata_last_error(), "Rope"), "message: %s", strata_last_error());
    ck_assert_ptr_null(modular_rope(5, 10000.0));
    ck_assert_msg(strstr(strata_last_error(), "even"), "message: %s", strata_last_error());
    modular_free(m);
    modular_free(rope);
    scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- gradcheck --- */

static Var *forward_fn(Var *const *inputs, int n, void *ctx)
{
    (void)n;
    return modular_forward(ctx, inputs[0]);
}

/* gradcheck @p m on input @p x and on every weight (perturbed through its Var). */
static void gradcheck_module(ModularModule *m, Tensor *x)
{
    int n = modular_num_atoms(m);
    Var *inputs[8];
    ck_assert_int_lt(n, 8);
    inputs[0] = var_new(x, true);
    modular_weights(m, inputs + 1);
    bool ok = var_gradcheck(forward_fn, inputs, n + 1, m, 1e-2, 2e-2, 2e-2);
    ck_assert_msg(ok, "%s: gradcheck failed: %s", modular_name(m), strata_last_error());
}

START_TEST(test_attention_bonds_gradcheck)
{
    Scope *s = scope_begin();
    strata_manual_seed(55);
    /* each bond behind the atoms that make its input, so its backward is the only new
     * part: SplitIntoHeads o Linear, MergeHeads o SplitIntoHeads o Linear, Rope, the QK
     * scores, the mask and softmax, the weighted average */
    ModularModule *a[2] = {modular_linear(4, 3), modular_split_into_heads(2)};
    ModularModule *split = modular_chain(2, a);
    randomize_weights(split);
    gradcheck_module(split, randn_nd(3, 1, 3, 3, 0));

    ModularModule *b[3] = {modular_linear(4, 3), modular_split_into_heads(2),
                           modular_merge_heads()};
    ModularModule *merge = modular_chain(3, b);
    randomize_weights(merge);
    gradcheck_module(merge, randn_nd(3, 1, 3, 3, 0));

    ModularModule *qk[2] = {modular_linear(4, 3), modular_linear(4, 3)};
    ModularModule *c[5] = {modular_tuple(2, qk), modular_rope(4, 10000.0),
                           modular_attention_qk(), modular_causal_mask(),
                           modular_softmax(2.0f)};
    ModularModule *scores = modular_chain(5, c);
    randomize_weights(scores);
    gradcheck_module(scores, randn_nd(3, 2, 4, 3, 0));

    ModularModule *sm[2] = {modular_linear(3, 3), modular_softmax(1.0f)};
    ModularModule *pair[2] = {modular_linear(2, 3), modular_chain(2, sm)};
    ModularModule *d[2] = {modular_tuple(2, pair), modular_apply_attention_scores()};
    ModularModule *apply = modular_chain(2, d);
    randomize_weights(apply);
    gradcheck_module(apply, randn_nd(3, 1, 3, 3, 0));

    modular_free(split);
    modular_free(merge);
    modular_free(scores);
    modular_free(apply);
    scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- compounds --- */

START_TEST(test_attention_compound)
{
    Scope *s = scope_begin();
    strata_manual_seed(56);
    /* W o (1/3 Apply) o (V, Softmax o Mask o QK o Rope o (Q, K)): 4 atoms; bonds: 3
     * SplitIntoHeads, MergeHeads, Rope, QK, Mask, Softmax, Mul(1/3), Apply = 10.
     * Sensitivity: (V, scores) = 1 + 2 * 1 = 3, times 1/3 = 1. */
    ModularModule *att = modular_attention(2, 8, 4, 4, 1.0f, true);
    ck_assert_msg(att != NULL, "modular_attention failed: %s", strata_last_error());
    ck_assert_int_eq(modular_num_atoms(att), 4);
    ck_assert_int_eq(modular_num_bonds(att), 10);
    ck_assert_close(modular_mass(att), 4.0, 1e-6);
    ck_assert_close(modular_sensitivity(att), 1.0, 1e-6);
    ck_assert_msg(modular_is_smooth(att), "attention is smooth (every bond is)");
    /* targets for t = 1: W (mass 1 of 4, nothing after) gets 1/4; V, Q, K: 1/4 / (1/3)
     * for the Mul(1/3) after them = 3/4 (Rope, QK, Mask and Softmax(1) have s = 1) */
    float t[4];
    ck_assert_int_eq(modular_atom_targets(att, 1.0f, t), 0);
    double want[4] = {0.75, 0.75, 0.75, 0.25}; /* atom order: V, Q, K, W */
    for (int i = 0; i < 4; i++)
        ck_assert_close(t[i], want[i], 1e-6);
    /* atom order is forward order: V [H d_value, d_embed] first, W [d_embed, H d_value] */
    ck_assert_int_eq(modular_weight_get(att, 3)->data->shape[0], 8);
    /* forward [B, T, 8] -> [B, T, 8], causal: changing the last token leaves the
     * outputs at earlier positions alone */
    ck_assert_int_eq(modular_initialize(att), 0);
    Tensor *x = randn_nd(3, 1, 4, 8, 0);
    Var *y = modular_forward(att, var_new(x, false));
    ck_assert_msg(y != NULL, "forward failed: %s", strata_last_error());
    ck_assert_msg(tensor_same_shape(y->data, x), "attention keeps [B, T, d_embed]");
    Tensor *x2 = tensor_clone(x);
    for (int d = 0; d < 8; d++)
        x2->data[3 * 8 + d] += 1.0f;
    Var *y2 = modular_forward(att, var_new(x2, false));
    ck_assert_ptr_nonnull(y2);
    Tensor *a = tensor_contiguous(y->data), *b = tensor_contiguous(y2->data);
    for (int i = 0; i < 3 * 8; i++)
        ck_assert_close(b->data[i], a->data[i], 1e-6);
    double moved = 0.0;
    for (int i = 3 * 8; i < 4 * 8; i++)
        moved += fabs(b->data[i] - a->data[i]);
    ck_assert_msg(moved > 1e-3, "the last position must see its own token");
    /* without the mask: 9 bonds; Softmax(2): sensitivity (1 + 2 * 2) / 3 */
    ModularModule *open = modular_attention(2, 8, 4, 4, 2.0f, false);
    ck_assert_int_eq(modular_num_bonds(open), 9);
    ck_assert_close(modular_sensitivity(open), 5.0 / 3.0, 1e-6);
    ck_assert_ptr_null(modular_attention(2, 8, 3, 4, 1.0f, true));
    ck_assert_msg(strstr(strata_last_error(), "d_query"), "message: %s", strata_last_error());
    modular_free(open);
    modular_free(att);
    scope_end(s);
}
END_TEST

START_TEST(test_attention_dualize)
{
    Scope *s = scope_begin();
    strata_manual_seed(57);
    ModularModule *att = modular_attention(2, 8, 4, 4, 1.0f, true);
    ck_assert_ptr_nonnull(att);
    Tensor *g[4], *d[4];
    w5_like_weights(att, g, true);
    w5_like_weights(att, d, false);
    ck_assert_int_eq(modular_dualize(att, g, d, 2.0f), 0);
    /* each Linear's RMS->RMS norm is its target (2 * 3/4 or 2 * 1/4), up to
     * Newton-Schulz's band [0.995, 1.0]; the direction ascends: <g, d> > 0 */
    double want[4] = {1.5, 1.5, 1.5, 0.5};
    for (int i = 0; i < 4; i++) {
        double n = w5_linear_norm(d[i]);
        ck_assert_msg(n > 0.99 * want[i] && n < 1.001 * want[i], "atom %d: norm %g, want %g",
                      i, n, want[i]);
        ck_assert_msg(w5_dot(g[i], d[i]) > 0, "atom %d: dualize must ascend", i);
    }
    /* the modular norm of the dualized gradient is the target */
    float norm = modular_norm(att, d);
    ck_assert_msg(norm > 0.99f * 2.0f && norm < 1.001f * 2.0f, "modular norm %g", (double)norm);
    /* gradcheck through the whole attention, weights included */
    randomize_weights(att);
    for (int i = 0; i < 4; i++) /* small weights keep softmax away from saturation */
        ck_assert_int_eq(tensor_mul_scalar_(modular_weight_get(att, i)->data, 0.3f), 0);
    gradcheck_module(att, randn_nd(3, 1, 3, 8, 0));
    modular_free(att);
    scope_end(s);
}
END_TEST

START_TEST(test_gpt_tree)
{
    Scope *s = scope_begin();
    strata_manual_seed(58);
    /* GPT(vocab 11, 2 heads, d 8, dq = dv = 4, L = 4): atoms 1 + 4 * (4 + 2) + 1 = 26.
     * Bonds per block: attention 10 + two residuals (Identity, 2 Mul, Add = 4 each) +
     * GELU = 19; 4 blocks 76, plus Mul(final_scale) = 77. Mass 1 + 5 + 1 = 7. */
    ModularModule *gpt = modular_gpt(11, 2, 8, 4, 4, 4, MODULAR_GPT_BLOCKS_MASS, 1.0f, 1.0f);
    ck_assert_msg(gpt != NULL, "modular_gpt failed: %s", strata_last_error());
    ck_assert_int_eq(modular_num_atoms(gpt), 26);
    ck_assert_int_eq(modular_num_bonds(gpt), 77);
    ck_assert_close(modular_mass(gpt), 7.0, 1e-5);
    ck_assert_close(modular_sensitivity(gpt), 1.0, 1e-5);
    ck_assert_msg(!modular_is_smooth(gpt), "GELU makes GPT non-smooth");
    /* targets for t = 1: Embed and the output Linear get 1/7 (mass 1 of 7, everything
     * after has sensitivity 1). Inside the blocks each of 24 atoms has mass 5/24; the
     * branch's Mul(1/8) after W and the MLP Linears gives (5/24)/7 * 8 = 5/21; V, Q, K
     * have Mul(1/3) too: (5/24)/7 * 24 = 5/7. The same in every block: depth does not
     * shrink any block's share of the update. */
    float t[26];
    ck_assert_int_eq(modular_atom_targets(gpt, 1.0f, t), 0);
    ck_assert_close(t[0], 1.0 / 7.0, 1e-6);
    ck_assert_close(t[25], 1.0 / 7.0, 1e-6);
    for (int blk = 0; blk < 4; blk++) {
        const float *bt = t + 1 + 6 * blk; /* V, Q, K, W, MLP in, MLP out */
        double want[6] = {5.0 / 7, 5.0 / 7, 5.0 / 7, 5.0 / 21, 5.0 / 21, 5.0 / 21};
        for (int i = 0; i < 6; i++)
            ck_assert_close(bt[i], want[i], 1e-6);
    }
    /* Embed was tared to mass 1; blocks_mass 10 makes the total 12 */
    ModularModule *heavy = modular_gpt(11, 2, 8, 4, 4, 2, 10.0f, 1.0f, 1.0f);
    ck_assert_close(modular_mass(heavy), 12.0, 1e-5);
    /* sensitivity 1 at every depth: each residual is (1 - 1/(2L)) + 1/(2L) * 1 */
    for (int L = 1; L <= 8; L *= 2) {
        ModularModule *g = modular_gpt(11, 2, 8, 4, 4, L, 5.0f, 1.0f, 1.0f);
        ck_assert_close(modular_sensitivity(g), 1.0, 1e-5);
        modular_free(g);
    }
    /* final_scale multiplies the sensitivity */
    ModularModule *scaled = modular_gpt(11, 2, 8, 4, 4, 1, 5.0f, 1.0f, 3.0f);
    ck_assert_close(modular_sensitivity(scaled), 3.0, 1e-5);
    ck_assert_ptr_null(modular_gpt(11, 2, 8, 4, 4, 0, 5.0f, 1.0f, 1.0f));
    ck_assert_msg(strstr(strata_last_error(), "num_blocks"), "message: %s", strata_last_error());
    modular_free(scaled);
    modular_free(heavy);
    modular_free(gpt);
    scope_end(s);
}
END_TEST

START_TEST(test_gpt_forward)
{
    Scope *s = scope_begin();
    strata_manual_seed(59);
    ModularModule *gpt = modular_gpt(11, 2, 8, 4, 4, 2, 5.0f, 1.0f, 1.0f);
    ck_assert_ptr_nonnull(gpt);
    ck_assert_int_eq(modular_initialize(gpt), 0);
    /* tokens [2, 5] -> logits [2, 5, 11]; causal: the logits at positions 0..3 do not
     * depend on token 4 */
    int64_t shape[2] = {2, 5};
    Tensor *x = tensor_zeros(shape, 2), *x2 = tensor_zeros(shape, 2);
    for (int i = 0; i < 10; i++)
        x->data[i] = x2->data[i] = (float)((3 * i + 1) % 11);
    x2->data[4] = x2->data[9] = 0.0f;
    Var *y = modular_forward(gpt, var_new(x, false));
    Var *y2 = modular_forward(gpt, var_new(x2, false));
    ck_assert_msg(y && y2, "forward failed: %s", strata_last_error());
    ck_assert_int_eq(y->data->ndim, 3);
    ck_assert_int_eq(y->data->shape[2], 11);
    Tensor *a = tensor_contiguous(y->data), *b = tensor_contiguous(y2->data);
    for (int bt = 0; bt < 2; bt++)
        for (int p = 0; p < 4; p++)
            for (int v = 0; v < 11; v++)
                ck_assert_close(b->data[(bt * 5 + p) * 11 + v], a->data[(bt * 5 + p) * 11 + v],
                                1e-5);
    /* the loss reaches every weight, and one dualized step of norm 0.5 lowers it */
    int64_t n = 10, flat[2] = {10, 11};
    Tensor *target = tensor_zeros(&n, 1);
    for (int i = 0; i < 10; i++)
        target->data[i] = (float)((3 * i + 4) % 11);
    Var *loss = nn_cross_entropy(var_reshape(y, flat, 2), target);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(var_backward(loss), 0);
    Tensor *g[14], *d[14];
    ck_assert_int_eq(modular_num_atoms(gpt), 14);
    for (int i = 0; i < 14; i++) {
        g[i] = var_grad(modular_weight_get(gpt, i));
        ck_assert_msg(g[i] != NULL, "no gradient reached atom %d", i);
        d[i] = tensor_zeros_like(g[i]);
    }
    ck_assert_int_eq(modular_dualize(gpt, g, d, 0.05f), 0);
    for (int i = 0; i < 14; i++)
        ck_assert_int_eq(tensor_axpy_(modular_weight_get(gpt, i)->data, -1.0f, d[i]), 0);
    Var *after = nn_cross_entropy(var_reshape(modular_forward(gpt, var_new(x, false)), flat, 2),
                                  target);
    ck_assert_ptr_nonnull(after);
    ck_assert_msg(after->data->data[0] < loss->data->data[0], "loss %g -> %g",
                  (double)loss->data->data[0], (double)after->data->data[0]);
    modular_free(gpt);
    scope_end(s);
}
END_TEST

START_TEST(test_mass_and_tare_relative)
{
    Scope *s = scope_begin();
    /* Modula's Linear(..., mass=3): the atom's own mass; an MLP of Linear(mass 3) and
     * Linear(mass 1) has mass 4, and the first Linear's share of t = 1 is 3/4 */
    ModularModule *a = modular_linear(4, 4);
    ck_assert_int_eq(modular_set_mass(a, 3.0f), 0);
    ck_assert_close(modular_mass(a), 3.0, 0.0);
    ModularModule *mods[3] = {a, modular_relu(), modular_linear(4, 4)};
    ModularModule *m = modular_chain(3, mods);
    ck_assert_close(modular_mass(m), 4.0, 1e-6);
    float t[2];
    ck_assert_int_eq(modular_atom_targets(m, 1.0f, t), 0);
    ck_assert_close(t[0], 0.75, 1e-6);
    ck_assert_close(t[1], 0.25, 1e-6);
    /* tare(relative = 0.5) halves every mass, so the shares stay */
    ck_assert_int_eq(modular_tare_relative(m, 0.5f), 0);
    ck_assert_close(modular_mass(m), 2.0, 1e-6);
    ck_assert_close(modular_mass(modular_child_get(m, 1)), 0.5, 1e-6);
    ck_assert_int_eq(modular_atom_targets(m, 1.0f, t), 0);
    ck_assert_close(t[0], 0.75, 1e-6);
    /* mass 0 on a bond-only module is fine for relative, refused for absolute */
    ModularModule *r = modular_relu();
    ck_assert_int_eq(modular_tare_relative(r, 2.0f), 0);
    ck_assert_close(modular_mass(r), 0.0, 0.0);
    ck_assert_int_eq(modular_set_mass(r, 1.0f), -1);
    ck_assert_msg(strstr(strata_last_error(), "not an atom"), "message: %s",
                  strata_last_error());
    ck_assert_int_eq(modular_set_mass(modular_child_get(m, 1), -1.0f), -1);
    ck_assert_int_eq(modular_tare_relative(m, -1.0f), -1);
    ck_assert_close(modular_mass(m), 2.0, 1e-6); /* nothing changed */
    modular_free(r);
    modular_free(m);
    scope_end(s);
}
END_TEST

void add_attention_tests(Suite *s)
{
    GRADED(s, test_split_merge_heads, 2);
    GRADED(s, test_attention_qk, 2);
    GRADED(s, test_causal_mask_softmax, 2);
    GRADED(s, test_apply_attention_scores, 2);
    GRADED(s, test_rope, 3);
    GRADED(s, test_attention_bonds_gradcheck, 3);
    GRADED(s, test_attention_compound, 3);
    GRADED(s, test_attention_dualize, 3);
    GRADED(s, test_gpt_tree, 3);
    GRADED(s, test_gpt_forward, 2);
    GRADED(s, test_mass_and_tare_relative, 2);
}
