/*
 * compounds.c - networks built from atoms, bonds and combinators: the MLP of Modula's
 * hello-world and hello-mnist, the residual MLP and CNN of the paper's Figure 4, and the
 * attention and GPT of Modula's "Hello, GPT".
 */
#include "modular_internal.h"

#include <math.h>

ModularModule *modular_mlp(int64_t out, int64_t in, int64_t width, int depth)
{
    if (out < 1 || in < 1 || width < 1 || depth < 1) {
        strata_set_error("modular_mlp: need out, in, width and depth >= 1, got out %lld, in "
                         "%lld, width %lld, depth %d",
                         (long long)out, (long long)in, (long long)width, depth);
        return NULL;
    }
    if (depth == 1)
        return modular_linear(out, in);
    /* SOLUTION BEGIN week=5 step=8 tier=core fail=NULL */
    /* forward order: Linear(width, in), ReLU, [Linear(width, width), ReLU]*, Linear(out, width) */
    int n = 2 * depth - 1, k = 0;
    ModularModule **mods = strata_calloc((size_t)n, sizeof *mods);
    if (!mods)
        return NULL;
    mods[k++] = modular_linear(width, in);
    for (int i = 0; i < depth - 2; i++) {
        mods[k++] = modular_relu();
        mods[k++] = modular_linear(width, width);
    }
    mods[k++] = modular_relu();
    mods[k++] = modular_linear(out, width);
    ModularModule *mlp = modular_chain(n, mods); /* takes every module, NULL or not */
    strata_free(mods);
    return mlp;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=5 step=11 tier=stretch */
/* One residue: MeanSubtract o Abs o <atom> o RMSDivide, the atom a Linear or a 3x3 Conv2D. */
static ModularModule *residue_new(int64_t width, bool conv)
{
    ModularModule *parts[4] = {modular_rms_divide(),
                               conv ? modular_conv2d(width, width, 3, 1, 1)
                                    : modular_linear(width, width),
                               modular_abs(), modular_mean_subtract()};
    return modular_chain(4, parts);
}

/* block^L tared to @p mass, block = (1 - 1/L) Identity + (1/L) residue^block_depth. */
static ModularModule *residual_stack(int64_t width, int blocks, int block_depth, bool conv,
                                     float mass)
{
    double L = blocks;
    ModularModule *branch =
        modular_scale((float)(1.0 / L), modular_power(residue_new(width, conv), block_depth));
    /* with L = 1 the identity term is 0 x, which Mul refuses: the block is the branch */
    ModularModule *block =
        blocks == 1 ? branch
                    : modular_sum(modular_scale((float)(1.0 - 1.0 / L), modular_identity()),
                                  branch);
    ModularModule *stack = modular_power(block, blocks);
    if (stack && modular_tare(stack, mass) != 0) {
        modular_free(stack);
        return NULL;
    }
    return stack;
}
/* SOLUTION END */

ModularModule *modular_resmlp(int64_t width, int blocks, int block_depth)
{
    if (width < 1 || blocks < 1 || block_depth < 1) {
        strata_set_error("modular_resmlp: need width, blocks and block_depth >= 1, got width "
                         "%lld, blocks %d, block_depth %d",
                         (long long)width, blocks, block_depth);
        return NULL;
    }
    /* SOLUTION BEGIN week=5 step=11 tier=stretch fail=NULL */
    return residual_stack(width, blocks, block_depth, false, 1.0f);
    /* SOLUTION END */
}

ModularModule *modular_rescnn(int64_t out, int64_t in_channels, int64_t width, int blocks,
                              int block_depth, float blocks_mass)
{
    if (out < 1 || in_channels < 1 || width < 1 || blocks < 1 || block_depth < 1 ||
        !(blocks_mass > 0.0f) || !isfinite(blocks_mass)) {
        strata_set_error("modular_rescnn: need every size >= 1 and a finite blocks_mass > 0, "
                         "got out %lld, in_channels %lld, width %lld, blocks %d, block_depth "
                         "%d, blocks_mass %g",
                         (long long)out, (long long)in_channels, (long long)width, blocks,
                         block_depth, (double)blocks_mass);
        return NULL;
    }
    /* SOLUTION BEGIN week=5 step=11 tier=stretch fail=NULL */
    ModularModule *mods[4] = {modular_conv2d(width, in_channels, 3, 1, 1),
                              residual_stack(width, blocks, block_depth, true, blocks_mass),
                              modular_global_avg_pool(), modular_linear(out, width)};
    return modular_chain(4, mods);
    /* SOLUTION END */
}

/* Rope's base in Modula's attention. */
#define ROPE_BASE 10000.0

ModularModule *modular_attention(int64_t num_heads, int64_t d_embed, int64_t d_query,
                                 int64_t d_value, float softmax_scale, bool causal)
{
    if (num_heads < 1 || d_embed < 1 || d_query < 2 || d_query % 2 != 0 || d_value < 1 ||
        !(softmax_scale > 0.0f) || !isfinite(softmax_scale)) {
        strata_set_error("modular_attention: need num_heads, d_embed, d_value >= 1, an even "
                         "d_query >= 2 (for Rope) and a finite softmax_scale > 0, got "
                         "num_heads %lld, d_embed %lld, d_query %lld, d_value %lld, "
                         "softmax_scale %g",
                         (long long)num_heads, (long long)d_embed, (long long)d_query,
                         (long long)d_value, (double)softmax_scale);
        return NULL;
    }
    /* SOLUTION BEGIN week=5 step=11 tier=stretch fail=NULL */
    /* forward order: V; then Q and K, rotated, scored, masked, softmaxed; then the
     * scores applied to V, heads merged and projected back to d_embed */
    ModularModule *q[2] = {modular_linear(num_heads * d_query, d_embed),
                           modular_split_into_heads(num_heads)};
    ModularModule *k[2] = {modular_linear(num_heads * d_query, d_embed),
                           modular_split_into_heads(num_heads)};
    ModularModule *v[2] = {modular_linear(num_heads * d_value, d_embed),
                           modular_split_into_heads(num_heads)};
    ModularModule *qk[2] = {modular_chain(2, q), modular_chain(2, k)};
    ModularModule *scores[5] = {modular_tuple(2, qk), modular_rope(d_query, ROPE_BASE),
                                modular_attention_qk(), NULL, NULL};
    int n = 3;
    if (causal)
        scores[n++] = modular_causal_mask();
    scores[n++] = modular_softmax(softmax_scale);
    ModularModule *pair[2] = {modular_chain(2, v), modular_chain(n, scores)};
    /* (V, scores) has sensitivity 1 + 2 * scale: 1/3 brings scale 1 back to 1 */
    ModularModule *mods[4] = {modular_tuple(2, pair),
                              modular_scale((float)(1.0 / 3.0),
                                            modular_apply_attention_scores()),
                              modular_merge_heads(), modular_linear(d_embed, num_heads * d_value)};
    return modular_chain(4, mods);
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=5 step=11 tier=stretch */
/* (1 - 1/(2L)) Identity + 1/(2L) branch: a convex combination, so the block's
 * sensitivity (1 - 1/(2L)) + s_branch/(2L) is 1 when the branch's is. */
static ModularModule *convex_residual(ModularModule *branch, int num_blocks)
{
    double a = 1.0 / (2.0 * num_blocks);
    return modular_sum(modular_scale((float)(1.0 - a), modular_identity()),
                       modular_scale((float)a, branch));
}
/* SOLUTION END */

ModularModule *modular_gpt(int64_t vocab_size, int64_t num_heads, int64_t d_embed,
                           int64_t d_query, int64_t d_value, int num_blocks,
                           float blocks_mass, float attention_scale, float final_scale)
{
    if (vocab_size < 1 || num_heads < 1 || d_embed < 1 || d_query < 2 || d_query % 2 != 0 ||
        d_value < 1 || num_blocks < 1 || !(blocks_mass > 0.0f) || !isfinite(blocks_mass) ||
        !(attention_scale > 0.0f) || !isfinite(attention_scale) || final_scale == 0.0f ||
        !isfinite(final_scale)) {
        strata_set_error("modular_gpt: need vocab_size, num_heads, d_embed, d_value, "
                         "num_blocks >= 1, an even d_query >= 2, finite blocks_mass > 0 and "
                         "attention_scale > 0 and a finite final_scale != 0, got vocab_size "
                         "%lld, num_heads %lld, d_embed %lld, d_query %lld, d_value %lld, "
                         "num_blocks %d, blocks_mass %g, attention_scale %g, final_scale %g",
                         (long long)vocab_size, (long long)num_heads, (long long)d_embed,
                         (long long)d_query, (long long)d_value, num_blocks,
                         (double)blocks_mass, (double)attention_scale, (double)final_scale);
        return NULL;
    }
    /* SOLUTION BEGIN week=5 step=11 tier=stretch fail=NULL */
    ModularModule *att = modular_attention(num_heads, d_embed, d_query, d_value,
                                           attention_scale, true);
    ModularModule *embed = modular_embed(d_embed, vocab_size);
    if (embed && modular_tare(embed, 1.0f) != 0) { /* Modula's embed.tare(): mass 1 */
        modular_free(embed);
        embed = NULL;
    }
    ModularModule *mlp[3] = {modular_linear(4 * d_embed, d_embed), modular_gelu(),
                             modular_linear(d_embed, 4 * d_embed)};
    ModularModule *block = modular_compose(convex_residual(modular_chain(3, mlp), num_blocks),
                                           convex_residual(att, num_blocks));
    ModularModule *blocks = modular_power(block, num_blocks);
    if (blocks && modular_tare(blocks, blocks_mass) != 0) {
        modular_free(blocks);
        blocks = NULL;
    }
    ModularModule *mods[3] = {embed, blocks,
                              modular_scale(final_scale, modular_linear(vocab_size, d_embed))};
    return modular_chain(3, mods);
    /* SOLUTION END */
}
