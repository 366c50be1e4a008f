/*
 * compounds.c - networks built from atoms, bonds and combinators: the MLP of Modula's
 * hello-world and hello-mnist, and the residual MLP of the paper's Figure 4.
 */
#include "modular_internal.h"

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
    /* SOLUTION BEGIN week=5 fail=NULL */
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

/* SOLUTION BEGIN week=5 */
/* One residue: MeanSubtract o Abs o <atom> o RMSDivide, the atom a Linear or a 3x3 Conv2D. */
static ModularModule *residue_new(int64_t width, bool conv)
{
    ModularModule *parts[4] = {modular_rms_divide(),
                               conv ? modular_conv2d(width, width, 3, 1, 1)
                                    : modular_linear(width, width),
                               modular_abs(), modular_mean_subtract()};
    return modular_chain(4, parts);
}

/* block^L tared to mass 1, block = (1 - 1/L) Identity + (1/L) residue^block_depth. */
static ModularModule *residual_stack(int64_t width, int blocks, int block_depth, bool conv)
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
    if (stack && modular_tare(stack, 1.0f) != 0) {
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
    /* SOLUTION BEGIN week=5 fail=NULL */
    return residual_stack(width, blocks, block_depth, false);
    /* SOLUTION END */
}

ModularModule *modular_rescnn(int64_t out, int64_t in_channels, int64_t width, int blocks,
                              int block_depth)
{
    if (out < 1 || in_channels < 1 || width < 1 || blocks < 1 || block_depth < 1) {
        strata_set_error("modular_rescnn: need every size >= 1, got out %lld, in_channels "
                         "%lld, width %lld, blocks %d, block_depth %d",
                         (long long)out, (long long)in_channels, (long long)width, blocks,
                         block_depth);
        return NULL;
    }
    /* SOLUTION BEGIN week=5 fail=NULL */
    ModularModule *mods[4] = {modular_conv2d(width, in_channels, 3, 1, 1),
                              residual_stack(width, blocks, block_depth, true),
                              modular_global_avg_pool(), modular_linear(out, width)};
    return modular_chain(4, mods);
    /* SOLUTION END */
}
