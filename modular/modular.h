/**
 * @file modular.h
 * @brief Week 5: the modular norm and modular dualization (Modula in C).
 *
 * A ModularModule is a tree built from **atoms** (modules with one weight tensor each:
 * Linear, Conv2D, Embed), **bonds** (modules without weights: ReLU, Add, Mul(alpha),
 * ...) and the combinators composition, tuple, scalar multiple, sum and power. Every
 * node knows its **mass** (its share of feature learning), its **sensitivity** (an
 * estimate of its Lipschitz constant in its input) and whether it is smooth. From these
 * the weight space gets a norm, built recursively (the modular norm), and the gradient
 * a dual map under that norm (dualize): steepest descent under the modular norm, whose
 * best learning rate stays put as width and depth grow (Large et al., NeurIPS 2024;
 * Bernstein & Newhouse, 2024). See weeks/week5-modular/README.md for the math.
 *
 * Conventions (as in tensor.h):
 * - **Weight lists.** Operations on weights take arrays of tensors in **atom order**
 *   (the order in which forward meets the atoms; modular_num_atoms() entries). The
 *   caller owns the arrays; tensors in them are borrowed.
 * - **Ownership.** Constructors return a module the caller destroys with modular_free().
 *   Combinators **take ownership** of the modules given to them, even when they fail
 *   (they are then freed), so a nested construction expression never leaks. A module
 *   can be the child of one combinator only (use modular_copy() to reuse one).
 * - **Errors.** Failures return NULL, -1, NAN or false with a message in
 *   strata_last_error() naming the function and the values. Operations validate every
 *   shape before writing anything.
 */
#ifndef STRATA_MODULAR_H
#define STRATA_MODULAR_H

#include "optim.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup modular Week 5: modular
 * @brief Mass, sensitivity, the modular norm, dualization by Newton-Schulz, and the
 *        dualized optimizer.
 * @{
 */

/* ------------------------------------------------------------------------------------ */
/** @name Orthogonalization and the linear algebra behind it
 *  Every function here takes a 2-D tensor (any strides) and returns a new contiguous
 *  tensor under tensor.h's ownership rule, or NULL with an error (NULL input, not 2-D).
 *  @{ */

/** Number of steps of Jiacheng You's Newton-Schulz schedule. */
#define MODULAR_NS_STEPS 6

/**
 * @brief Jiacheng You's six-step Newton-Schulz coefficients (a, b, c) for each step, in
 *        order: (3955, -8306, 5008), (3735, -6681, 3463), (3799, -6499, 3211),
 *        (4019, -6385, 2906), (2677, -3029, 1162), (2172, -1833, 682), all / 1024.
 */
STRATA_API extern const float modular_ns_coefficients[MODULAR_NS_STEPS * 3];

/**
 * @brief Approximate U V^T of the reduced SVD M = U S V^T by the six-step Newton-Schulz
 *        iteration: transpose if wide, divide by the Frobenius norm, then
 *        X <- X (a I + b A + c A^2) with A = X^T X for each step, transpose back.
 *        Singular values of the result land in about [0.995, 1.0] for singular values
 *        of M above ~1.5e-3 of its Frobenius norm; smaller ones stay small (the
 *        polynomial is odd). An exactly zero M gives zeros (no NaN).
 * @param[in] m a 2-D tensor.
 * @return A new tensor shaped like @p m, or NULL with an error.
 */
STRATA_API Tensor *modular_orthogonalize(const Tensor *m);

/**
 * @brief The odd polynomial iteration of modular_orthogonalize() with your own
 *        coefficients: X <- a X + b X A + c X A^2 for each of @p steps triples.
 *        For example the cubic (1.5, -0.5, 0) or the quintic (3, -3.2, 1.2).
 * @param[in] m a 2-D tensor.
 * @param[in] coeffs 3 * @p steps floats (a, b, c per step); NULL is an error.
 * @param[in] steps number of steps (>= 0).
 * @return A new tensor shaped like @p m, or NULL with an error.
 */
STRATA_API Tensor *modular_newton_schulz(const Tensor *m, const float *coeffs, int steps);

/**
 * @brief The exact U_r V_r^T through LAPACK's SVD (sgesdd), where r counts the singular
 *        values above max(rows, cols) * FLT_EPSILON * sigma_max (the others map to 0,
 *        as they do under any odd polynomial). The reference for the tests.
 * @param[in] m a 2-D tensor.
 * @return A new tensor shaped like @p m, or NULL with an error (LAPACK failure).
 */
STRATA_API Tensor *modular_orthogonalize_exact(const Tensor *m);

/**
 * @brief The singular values of @p m in descending order (LAPACK sgesdd).
 * @param[in] m a 2-D tensor [rows, cols].
 * @return A new 1-D tensor of min(rows, cols) values, or NULL with an error.
 */
STRATA_API Tensor *modular_singular_values(const Tensor *m);

/**
 * @brief The exact spectral norm (largest singular value) of a 2-D tensor, through SVD.
 * @return sigma_max >= 0, or NAN with an error.
 */
STRATA_API float modular_spectral_norm(const Tensor *m);

/**
 * @brief An exactly orthogonal [rows, cols] matrix drawn from the seeded generator:
 *        the Q factor of a Gaussian matrix (LAPACK sgeqrf/sorgqr, of its transpose when
 *        wide) with signs fixed by diag(R), as torch.nn.init.orthogonal_ does. All
 *        min(rows, cols) singular values are 1.
 * @param[in] rows, cols sizes (>= 1).
 * @return A new tensor, or NULL with an error.
 */
STRATA_API Tensor *modular_orthogonal(int64_t rows, int64_t cols);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Modules: atoms, bonds and combinators
 *  @{ */

/** A node of a modular network: an atom, a bond, or a combination of modules. */
typedef struct ModularModule ModularModule;

/**
 * @brief Linear(fan_out, fan_in): weight W [fan_out, fan_in], no bias, y = x W^T for x
 *        [..., fan_in]. The sizes come output first, as in Modula and as W's shape
 *        reads: the reverse of nn_linear(in, out), which follows PyTorch. A modular
 *        network is written as a composition, outputs on the left (Linear(10, 256) o
 *        ReLU o Linear(256, 784)), and each atom's arguments read the same way. Mass 1, sensitivity 1, smooth. Norm sqrt(fan_in/fan_out) *
 *        sigma_max(W); initialize orthogonal * sqrt(fan_out/fan_in); dualize
 *        orthogonalize(G) * sqrt(fan_out/fan_in) * target; project orthogonalize(W) *
 *        sqrt(fan_out/fan_in). The weight starts at zero: call modular_initialize().
 * @return A new module (modular_free()), or NULL with an error (sizes < 1).
 */
STRATA_API ModularModule *modular_linear(int64_t fan_out, int64_t fan_in);

/**
 * @brief Conv2D(out, in, kernel, stride, padding): weight [out, in, kernel, kernel], no
 *        bias, input [N, in, H, W]. The forward is scaled by sqrt(out/in) / kernel^2 (the
 *        PyTorch-era Modula convention), and each kernel position (i, j) is an [out, in]
 *        matrix treated as a unit-scale Linear: norm = max over positions of
 *        sigma_max(W[:, :, i, j]); initialize, dualize and project orthogonalize each
 *        position. Mass 1, sensitivity 1, smooth.
 * @return A new module, or NULL with an error (sizes < 1, stride < 1, padding < 0).
 */
STRATA_API ModularModule *modular_conv2d(int64_t out_channels, int64_t in_channels, int kernel,
                                         int stride, int padding);

/**
 * @brief Embed(d_embed, num_embed): weight [num_embed, d_embed], y = W[x] for a tensor x
 *        of integer indices (as floats) in [0, num_embed). Rows are kept at length
 *        sqrt(d_embed): norm = max_row ||row||_2 / sqrt(d_embed); dualize normalizes each
 *        gradient row to sqrt(d_embed) * target (zero rows stay zero). Mass 1,
 *        sensitivity 1, smooth.
 * @return A new module, or NULL with an error.
 */
STRATA_API ModularModule *modular_embed(int64_t d_embed, int64_t num_embed);

/** @brief Identity bond: y = x. Sensitivity 1, smooth. @return a new module or NULL. */
STRATA_API ModularModule *modular_identity(void);
/** @brief Add bond: the sum of a tuple of values (the output of modular_tuple()).
 *         Sensitivity 1, smooth. @return a new module or NULL. */
STRATA_API ModularModule *modular_add(void);
/**
 * @brief Mul(alpha) bond: y = alpha * x. Sensitivity |alpha|, smooth.
 * @return A new module, or NULL with "modular_mul: cannot multiply a module by zero"
 *         for alpha = 0 (its sensitivity would be 0 and dualize would divide by it),
 *         or a non-finite alpha.
 */
STRATA_API ModularModule *modular_mul(float alpha);
/** @brief ReLU bond, max(x, 0). Sensitivity 1 (JAX-era Modula), non-smooth. */
STRATA_API ModularModule *modular_relu(void);
/** @brief ScaledReLU bond, sqrt(2) * max(x, 0) (PyTorch-era Modula). Sensitivity 1,
 *         non-smooth. */
STRATA_API ModularModule *modular_scaled_relu(void);
/** @brief Scaled GELU bond, GELU(x) / 1.1289 (unit second moment on a standard normal
 *         input). Sensitivity 1, non-smooth. */
STRATA_API ModularModule *modular_gelu(void);
/** @brief Abs bond, |x|. Sensitivity 1, non-smooth. */
STRATA_API ModularModule *modular_abs(void);
/** @brief Flatten bond: [N, ...] to [N, prod(...)]. Sensitivity 1, smooth. */
STRATA_API ModularModule *modular_flatten(void);
/** @brief MeanSubtract bond: x - mean(x) over the last dim (over C, H and W for a 4-D
 *         [N, C, H, W] input, as Modula's ResCNN). Sensitivity 1, smooth. */
STRATA_API ModularModule *modular_mean_subtract(void);
/** @brief RMSDivide bond: x / sqrt(mean(x^2) + 1e-12) over the last dim (over C, H and W
 *         for a 4-D input). Sensitivity 1, non-smooth. */
STRATA_API ModularModule *modular_rms_divide(void);
/** @brief GlobalAvgPool bond: [N, C, H, W] to [N, C], the mean over H and W.
 *         Sensitivity 1, smooth. */
STRATA_API ModularModule *modular_global_avg_pool(void);
/**
 * @brief AvgPool bond on [N, C, H, W]: average pooling with a square window.
 *        Sensitivity 1, smooth.
 * @return A new module, or NULL with an error (kernel < 1, stride < 1, padding < 0).
 */
STRATA_API ModularModule *modular_avg_pool(int kernel, int stride, int padding);

/**
 * @brief SplitIntoHeads(num_heads) bond: [B, T, H*d] to [B, H, T, d], the features of
 *        each token cut into @p num_heads heads. Sensitivity 1, smooth.
 * @return A new module, or NULL with an error (num_heads < 1). The forward fails when
 *         the last dim is not divisible by the number of heads.
 */
STRATA_API ModularModule *modular_split_into_heads(int64_t num_heads);
/** @brief MergeHeads bond, the inverse of SplitIntoHeads: [B, H, T, d] to [B, T, H*d].
 *         Sensitivity 1, smooth. @return a new module or NULL. */
STRATA_API ModularModule *modular_merge_heads(void);
/**
 * @brief AttentionQK bond: the pair (q, k), both [B, H, T, d], to the scores
 *        q k^T / d, [B, H, T, T]. The scale is 1/d, not the usual 1/sqrt(d): with q and
 *        k of RMS norm at most 1 every score is then at most 1 in size whatever d is,
 *        so the sensitivity 1 holds at every width. Smooth. @return a new module or NULL.
 */
STRATA_API ModularModule *modular_attention_qk(void);
/** @brief CausalMask bond: scores [..., Tq, Tk] with -inf wherever the key comes after
 *         the query (column j > row i), so softmax gives those pairs weight 0.
 *         Sensitivity 1, smooth. @return a new module or NULL. */
STRATA_API ModularModule *modular_causal_mask(void);
/**
 * @brief Softmax(scale) bond: softmax(scale * x) over the last dim. Sensitivity
 *        @p scale (the factor in front multiplies input changes), smooth.
 * @param[in] scale the sharpness (> 0, finite).
 * @return A new module, or NULL with an error.
 */
STRATA_API ModularModule *modular_softmax(float scale);
/** @brief ApplyAttentionScores bond: the pair (v [B, H, T, d], scores [B, H, T, T]) to
 *         scores v, each query's weighted average of the values. Sensitivity 1, smooth.
 *         @return a new module or NULL. */
STRATA_API ModularModule *modular_apply_attention_scores(void);
/**
 * @brief Rope(d_head, base) bond: rotary position embedding of every value it is given
 *        (a pair (q, k) gives a pair back), each [..., T, d_head]. With h = d_head / 2,
 *        token t's pair (x[i], x[i + h]) turns by the angle t * base^(-i/h):
 *        (x[i] cos - x[i+h] sin, x[i] sin + x[i+h] cos). A rotation: sensitivity 1,
 *        smooth. Modula's base is 10000.
 * @return A new module, or NULL with an error (odd or < 2 d_head, base <= 1).
 */
STRATA_API ModularModule *modular_rope(int64_t d_head, double base);

/**
 * @brief Composition m1 o m0 (@p m0 runs first). Mass mu0 + mu1, sensitivity s0 * s1;
 *        atoms and bonds add up; smooth when both are.
 * @param[in] m1 the outer module (ownership taken).
 * @param[in] m0 the inner module (ownership taken).
 * @return A new module owning both, or NULL with an error (either is NULL or already
 *         a child elsewhere; the others given are freed).
 */
STRATA_API ModularModule *modular_compose(ModularModule *m1, ModularModule *m0);

/**
 * @brief Compose @p n modules in forward order: mods[0] runs first, mods[n-1] last
 *        (mods[n-1] o ... o mods[0]). Composition is associative for every quantity
 *        here, so this is a left fold of modular_compose().
 * @param[in] n number of modules (>= 1).
 * @param[in] mods the modules (ownership of every one is taken, also on failure).
 * @return A new module, or NULL with an error.
 */
STRATA_API ModularModule *modular_chain(int n, ModularModule *const *mods);

/**
 * @brief Tuple (M_1, ..., M_n): every module gets the same input; the output is the
 *        tuple of their outputs (feed it to modular_add()). Mass and sensitivity are
 *        the sums of the children's; dualize gives M_i the target * mu_i / mu.
 * @param[in] n number of modules (>= 1).
 * @param[in] mods the modules (ownership taken, also on failure).
 * @return A new module, or NULL with an error.
 */
STRATA_API ModularModule *modular_tuple(int n, ModularModule *const *mods);

/**
 * @brief Scalar multiple alpha * m = Mul(alpha) o m: mass mu, sensitivity |alpha| * s.
 * @param[in] alpha the factor (0 is an error, see modular_mul()).
 * @param[in] m the module (ownership taken).
 * @return A new module, or NULL with an error.
 */
STRATA_API ModularModule *modular_scale(float alpha, ModularModule *m);

/**
 * @brief Sum a + b = Add o (a, b).
 * @param[in] a, b the modules (ownership taken).
 * @return A new module, or NULL with an error.
 */
STRATA_API ModularModule *modular_sum(ModularModule *a, ModularModule *b);

/**
 * @brief Power m^n: n deep copies of @p m composed (no two share weights, so taring
 *        one never tares another twice). n = 0 gives modular_identity().
 * @param[in] m the module (ownership taken: it becomes the first copy).
 * @param[in] n the power (>= 0).
 * @return A new module, or NULL with an error.
 */
STRATA_API ModularModule *modular_power(ModularModule *m, int n);

/**
 * @brief A deep copy of @p m: the same structure, masses and weights (copied, not
 *        shared).
 * @return A new module (modular_free()), or NULL with an error.
 */
STRATA_API ModularModule *modular_copy(const ModularModule *m);

/**
 * @brief Rescale every mass in @p m's subtree by the same factor so that their total
 *        is @p absolute (Modula's tare(absolute=...)). Masses of enclosing modules are
 *        computed from their children, so they follow.
 * @param[in,out] m the module.
 * @param[in] absolute the new total mass (>= 0, finite).
 * @return 0, or -1 with an error (negative target, or a subtree of mass 0).
 */
STRATA_API int modular_tare(ModularModule *m, float absolute);

/**
 * @brief Multiply every mass in @p m's subtree by @p factor (Modula's
 *        tare(relative=...)); modular_tare() is this with factor absolute / mass.
 * @param[in,out] m the module.
 * @param[in] factor the factor (>= 0, finite).
 * @return 0, or -1 with an error.
 */
STRATA_API int modular_tare_relative(ModularModule *m, float factor);

/**
 * @brief Give an atom its own mass (Modula's atom argument mass=, 1 by default): its
 *        share of feature learning relative to the other atoms.
 * @param[in,out] m an atom (Linear, Conv2D, Embed).
 * @param[in] mass the mass (>= 0, finite).
 * @return 0, or -1 with an error (not an atom, negative or non-finite mass).
 */
STRATA_API int modular_set_mass(ModularModule *m, float mass);

/** @brief Destroy @p m, its children and their weights. NULL is ignored. */
STRATA_API void modular_free(ModularModule *m);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Compounds
 *  @{ */

/**
 * @brief MLP(out, in, width, depth) = Linear(out, width) o ReLU o [Linear(width, width)
 *        o ReLU]^(depth-2) o Linear(width, in): depth atoms, depth-1 bonds, mass depth,
 *        sensitivity 1. Input [N, in], output [N, out]. Depth 1 is Linear(out, in).
 * @return A new (uninitialized) module, or NULL with an error (sizes or depth < 1).
 */
STRATA_API ModularModule *modular_mlp(int64_t out, int64_t in, int64_t width, int depth);

/**
 * @brief ResMLP(width, blocks, block_depth): block^L tared to mass 1, with L = blocks,
 *        block = (1 - 1/L) Identity + (1/L) residue^block_depth and residue =
 *        MeanSubtract o Abs o Linear(width, width) o RMSDivide. Maps [N, width] to
 *        [N, width]; compose input and output Linears around it. With one block the
 *        identity term (1 - 1/1 = 0) is dropped, since Mul(0) is refused.
 * @return A new module, or NULL with an error (width, blocks or block_depth < 1).
 */
STRATA_API ModularModule *modular_resmlp(int64_t width, int blocks, int block_depth);

/** Modula's default mass of ResCNN's residual blocks (tared together). */
#define MODULAR_RESCNN_BLOCKS_MASS 20.0f

/**
 * @brief ResCNN(out, in_channels, width, blocks, block_depth, blocks_mass) (Modula's
 *        PyTorch era): Linear(out, width) o GlobalAvgPool o stack o
 *        Conv2D(width, in_channels, 3, 1, 1), where the stack is ResMLP's with residue =
 *        MeanSubtract o Abs o Conv2D(width, width, 3, 1, 1) o RMSDivide (normalizing over
 *        C, H, W), tared to @p blocks_mass (Modula's default
 *        MODULAR_RESCNN_BLOCKS_MASS, 20: the blocks get 20 of the 22 shares of feature
 *        learning). Input [N, in_channels, H, W], output [N, out]. Mass 2 + blocks_mass,
 *        sensitivity 1.
 * @return A new module, or NULL with an error (any size < 1, blocks_mass <= 0).
 */
STRATA_API ModularModule *modular_rescnn(int64_t out, int64_t in_channels, int64_t width, int blocks,
                                         int block_depth, float blocks_mass);

/** Modula's default mass of GPT's residual blocks (tared together). */
#define MODULAR_GPT_BLOCKS_MASS 5.0f

/**
 * @brief Attention(num_heads, d_embed, d_query, d_value, softmax_scale, causal), the
 *        JAX-era Modula compound, for x [B, T, d_embed]:
 *        W o (1/3 ApplyAttentionScores) o (V, scores), with
 *        Q = SplitIntoHeads o Linear(H d_query, d_embed), K the same,
 *        V = SplitIntoHeads o Linear(H d_value, d_embed), W = Linear(d_embed, H d_value)
 *        o MergeHeads and scores = Softmax(softmax_scale) o CausalMask o AttentionQK o
 *        Rope(d_query, 10000) o (Q, K). The tuple (V, scores) has sensitivity 1 + 2 *
 *        softmax_scale, so with scale 1 the 1/3 brings attention to sensitivity 1.
 *        4 atoms, 10 bonds (9 without the mask), mass 4. Atoms in the order forward
 *        meets them: V, Q, K, W.
 * @param[in] num_heads heads (>= 1).
 * @param[in] d_embed model width (>= 1).
 * @param[in] d_query query/key size per head (even, for Rope).
 * @param[in] d_value value size per head (>= 1).
 * @param[in] softmax_scale Softmax's sharpness (> 0; Modula's attention_scale, 1).
 * @param[in] causal whether to mask future keys (Modula's GPT always does).
 * @return A new (uninitialized) module, or NULL with an error.
 */
STRATA_API ModularModule *modular_attention(int64_t num_heads, int64_t d_embed, int64_t d_query,
                                            int64_t d_value, float softmax_scale, bool causal);

/**
 * @brief GPT(vocab_size, num_heads, d_embed, d_query, d_value, num_blocks, blocks_mass,
 *        attention_scale, final_scale), the JAX-era Modula compound: token indices
 *        [B, T] to logits [B, T, vocab_size] as
 *        final_scale * Linear(vocab, d_embed) o blocks o Embed(d_embed, vocab), where
 *        Embed is tared to mass 1, blocks = (mlp_block o att_block)^num_blocks tared to
 *        @p blocks_mass, att_block = (1 - 1/(2L)) Identity + 1/(2L) Attention(...,
 *        causal), mlp_block the same around Linear(d_embed, 4 d_embed) o GELU o
 *        Linear(4 d_embed, d_embed), and L = num_blocks (each block has two residual
 *        connections, hence 2L). Mass 2 + blocks_mass, sensitivity
 *        final_scale. With 4 blocks: 26 atoms and 77 bonds (Modula counts 78: its power
 *        ends in an extra Identity).
 * @param[in] vocab_size tokens (>= 1).
 * @param[in] num_heads, d_embed, d_query, d_value as modular_attention().
 * @param[in] num_blocks L (>= 1).
 * @param[in] blocks_mass mass of all blocks together (> 0; Modula's default
 *            MODULAR_GPT_BLOCKS_MASS).
 * @param[in] attention_scale Softmax's scale in every attention (> 0; Modula: 1).
 * @param[in] final_scale factor on the logits (!= 0; Modula: 1).
 * @return A new (uninitialized) module, or NULL with an error.
 */
STRATA_API ModularModule *modular_gpt(int64_t vocab_size, int64_t num_heads, int64_t d_embed,
                                      int64_t d_query, int64_t d_value, int num_blocks,
                                      float blocks_mass, float attention_scale, float final_scale);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Attributes and weights
 *  Accessors return NAN, -1, false or NULL with an error for a NULL module.
 *  @{ */

/** @brief The mass (>= 0): an atom's own, a combination's sum over its children. */
STRATA_API float modular_mass(const ModularModule *m);
/** @brief The input sensitivity (> 0). */
STRATA_API float modular_sensitivity(const ModularModule *m);
/** @brief Whether every part of @p m is smooth. */
STRATA_API bool modular_is_smooth(const ModularModule *m);
/** @brief Number of atoms (= weight tensors) in @p m. */
STRATA_API int modular_num_atoms(const ModularModule *m);
/** @brief Number of bonds in @p m. */
STRATA_API int modular_num_bonds(const ModularModule *m);
/** @brief The node's kind name ("Linear", "ReLU", "Compose", "Tuple", ...), borrowed. */
STRATA_API const char *modular_name(const ModularModule *m);
/** @brief Number of direct children (0 for atoms and bonds). */
STRATA_API int modular_num_children(const ModularModule *m);
/** @brief Child @p i (borrowed; compose: child 0 runs first), or NULL with an error. */
STRATA_API ModularModule *modular_child_get(const ModularModule *m, int i);
/**
 * @brief The weight of atom @p i in atom order, borrowed while @p m lives (a leaf Var
 *        that requires grad; its gradient is var_grad() after backward).
 * @return The Var, or NULL with an error (index out of range).
 */
STRATA_API Var *modular_weight_get(const ModularModule *m, int i);
/**
 * @brief Fill @p out with the weights of all atoms in atom order (borrowed).
 * @param[in] m the module.
 * @param[out] out room for modular_num_atoms(m) pointers.
 * @return The number written, or -1 with an error.
 */
STRATA_API int modular_weights(const ModularModule *m, Var **out);
/**
 * @brief The target each atom receives when @p m is dualized to @p target (the mass
 *        and sensitivity splits of the combinators), in atom order.
 * @param[in] m the module.
 * @param[in] target the total target norm.
 * @param[out] out room for modular_num_atoms(m) floats.
 * @return 0, or -1 with an error.
 */
STRATA_API int modular_atom_targets(const ModularModule *m, float target, float *out);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Operations
 *  @{ */

/**
 * @brief Run @p m on @p x through autograd ops, so backward reaches every weight.
 * @param[in,out] m the module (its weights are read; power-iteration state untouched).
 * @param[in] x the input (borrowed).
 * @return A fresh Var (tensor.h's ownership rule), or NULL with an error (shape
 *         mismatch named by the failing op, or a tuple output: compose with
 *         modular_add()). Intermediates are released whether or not a scope is open.
 */
STRATA_API Var *modular_forward(ModularModule *m, Var *x);

/**
 * @brief Draw fresh weights from the seeded generator, each atom at its own norm 1 (exact
 *        orthogonal matrices via QR for Linear and Conv2D, row-normalized Gaussians for
 *        Embed). Gradients are cleared.
 * @return 0, or -1 with an error.
 */
STRATA_API int modular_initialize(ModularModule *m);

/**
 * @brief The modular norm of a weight-shaped list: atoms by their own norms,
 *        composition max((mu/mu0) s1 ||w0||, (mu/mu1) ||w1||), tuple max_i (mu/mu_i)
 *        ||w_i||, terms of mass 0 dropped (0 when the whole mass is 0).
 * @param[in] m the module.
 * @param[in] w modular_num_atoms(m) tensors shaped like the weights; a NULL entry counts
 *            as zero. NULL @p w is an error.
 * @return The norm (>= 0), or NAN with an error (a shape differs).
 */
STRATA_API float modular_norm(const ModularModule *m, Tensor *const *w);

/**
 * @brief modular_norm() of @p m's own weights. Right after modular_initialize() every atom
 *        is at norm 1, so this is max over atoms of (mu / mu_i) times the sensitivity of
 *        what follows atom i: 1 for a single atom, 3 for a 3-layer MLP.
 * @return The norm, or NAN with an error.
 */
STRATA_API float modular_weight_norm(const ModularModule *m);

/**
 * @brief Dualize a gradient list: the steepest-ascent direction of modular norm
 *        @p target, each atom dualizing its share (composition: m0 gets
 *        target mu0/mu/s1, m1 target mu1/mu; tuple: m_i target mu_i/mu; mass 0: zeros).
 *        Then modular_norm(m, out) = target and <g, out> >= 0.
 * @param[in] m the module.
 * @param[in] grads gradients in atom order (a NULL entry counts as zero).
 * @param[out] out tensors shaped like the weights, overwritten (may be @p grads itself).
 * @param[in] target the norm wanted (>= 0).
 * @return 0, or -1 with an error (shapes, negative target); nothing is written then.
 */
STRATA_API int modular_dualize(const ModularModule *m, Tensor *const *grads, Tensor *const *out,
                               float target);

/**
 * @brief Project a weight list to the well-normed set (each Linear to an orthogonal
 *        matrix times sqrt(fan_out/fan_in) by Newton-Schulz, each Embed row to length
 *        sqrt(d_embed)). Idempotent up to Newton-Schulz's tolerance.
 * @param[in] m the module.
 * @param[in] w weights in atom order.
 * @param[out] out overwritten (may be @p w).
 * @return 0, or -1 with an error.
 */
STRATA_API int modular_project(const ModularModule *m, Tensor *const *w, Tensor *const *out);

/**
 * @brief PyTorch-era normalize: scale each atom's update in place to its share of
 *        @p target (the dualize splits), measuring Linear/Conv2D spectral norms by power
 *        iteration with persistent vectors kept in the atoms (3 iterations per call,
 *        20 on the first). The direction is kept; zero updates stay zero.
 * @param[in,out] m the module (its power-iteration vectors advance).
 * @param[in,out] updates the updates in atom order (NULL entries are skipped).
 * @param[in] target the total norm wanted (>= 0).
 * @return 0, or -1 with an error.
 */
STRATA_API int modular_normalize(ModularModule *m, Tensor *const *updates, float target);

/**
 * @brief Weight decay split by mass: each atom's weight is multiplied by
 *        1 - its share of @p strength (shares as in modular_atom_targets()).
 * @param[in,out] m the module whose weights shrink.
 * @param[in] strength in [0, 1].
 * @return 0, or -1 with an error.
 */
STRATA_API int modular_regularize(ModularModule *m, float strength);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Printing
 *  @{ */

/**
 * @brief A summary in the spirit of Modula's print: the type, then
 *        "...consists of A atoms and B bonds", "...smooth"/"...non-smooth",
 *        "...input sensitivity is S", "...contributes proportion M to feature learning
 *        of any supermodule".
 * @return A string the caller frees with strata_free() (as every string strata
 *         returns), or NULL with an error.
 */
STRATA_API char *modular_repr(const ModularModule *m);

/**
 * @brief The tree of @p m, one node per line with its atoms, bonds, mass and
 *        sensitivity, indented by depth.
 * @return A string the caller frees with strata_free() (as every string strata
 *         returns), or NULL with an error.
 */
STRATA_API char *modular_tree_repr(const ModularModule *m);

/** @brief Write modular_repr() and a newline to @p stream. @return 0 or -1. */
STRATA_API int modular_fprint(FILE *stream, const ModularModule *m);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name The dualized optimizer
 *  @{ */

/** Which update modular_optimizer_new() makes. */
typedef enum ModularOptimKind {
    MODULAR_DESCENT,    /**< w -= lr * dualize(g, 1), optionally with momentum */
    MODULAR_NORMED_ADAM /**< PyTorch-era "normed Adam": u = m_hat / sqrt(v_hat) (NaN
                             zeroed), normalize(u, lr * schedule), w -= u, then
                             regularize(lr * schedule * weight_decay) */
} ModularOptimKind;

/** Options of modular_optimizer_new(). Zero-initialise, then set what you need. */
typedef struct ModularOptimOptions {
    ModularOptimKind kind; /**< the update */
    float lr;              /**< learning rate = target norm of each step (>= 0); lives in
                                the group's hp.lr, so week-4 schedulers drive it */
    float momentum;        /**< DESCENT: m = beta m + (1 - beta) g dualized (0: none) */
    float beta1;           /**< NORMED_ADAM first moment (0: 0.9) */
    float beta2;           /**< NORMED_ADAM second moment (0: 0.99) */
    float weight_decay;    /**< NORMED_ADAM: regularize strength factor; DESCENT:
                                regularize(lr * weight_decay) after the step */
    int64_t total_steps;   /**< NORMED_ADAM linear decay lr * (1 - step/total) (0: off),
                                step = the steps taken before this one (0 on the first:
                                Modula's loop index, not Adam's 1-based t), the factor
                                held at 0 from step total on */
    bool project;          /**< DESCENT: project the weights after each step */
} ModularOptimOptions;

/**
 * @brief A week-4 Optimizer (optim.h's extension point) over the weights of @p m,
 *        applying the dualized update of @p opts. optim_step() reads every gradient at
 *        once (missing gradients count as zero), so use it as any other optimizer,
 *        including with train_epoch().
 * @param[in] m the module (borrowed: it must outlive the optimizer).
 * @param[in] opts the options; NULL is an error, as are negative lr or momentum, or
 *            betas outside [0, 1).
 * @return A new optimizer (optim_free()), or NULL with an error.
 */
STRATA_API Optimizer *modular_optimizer_new(ModularModule *m, const ModularOptimOptions *opts);

/**
 * @brief Wrap @p m as an nn Module (week 3), so that week 4's train_epoch() and
 *        train_evaluate() can drive it: its forward is modular_forward(), its
 *        parameters are the atoms' weights named "w0", "w1", ... in atom order.
 * @param[in] m the network (ownership taken: nn_module_free() of the wrapper frees it;
 *            on failure it is freed too).
 * @return A new Module (nn_module_free()), or NULL with an error.
 */
STRATA_API Module *modular_nn_module(ModularModule *m);

/**
 * @brief The modular network inside a wrapper made by modular_nn_module().
 * @return The network, borrowed from @p mod, or NULL with an error (another kind of
 *         module).
 */
STRATA_API ModularModule *modular_from_nn(const Module *mod);
/** @} */

/** @} */ /* end of group modular */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_MODULAR_H */
