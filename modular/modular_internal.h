/*
 * modular_internal.h - what the files of modular/ share and never install: the module
 * node, the per-kind tables, and the raw-buffer linear algebra (row-major float arrays).
 */
#ifndef STRATA_MODULAR_INTERNAL_H
#define STRATA_MODULAR_INTERNAL_H

#include "modular.h"
#include "tensor_internal.h" /* StrataText, strata_strdup(), tensor_format_shape() */

/* ------------------------------------------------------------ raw linear algebra --- */

/*
 * Newton-Schulz on a row-major rows x cols buffer: dst = the odd polynomial iteration
 * (a, b, c per step, @p steps of them) applied to src / ||src||_F, transposing wide
 * inputs. src and dst may alias. Zero in, zero out. Returns 0 or -1 (allocation).
 */
int mod_newton_schulz_raw(const float *src, float *dst, int64_t rows, int64_t cols,
                          const float *coeffs, int steps);

/* Frobenius norm in double. */
double mod_frobenius(const float *a, int64_t n);

/*
 * Largest singular value of a rows x cols buffer by power iteration from (and updating)
 * the unit vector @p v of length cols; @p iters iterations. Returns sigma >= 0.
 */
double mod_power_iteration(const float *a, int64_t rows, int64_t cols, float *v, int iters);

/* Singular values (descending, min(rows, cols) of them) through LAPACK. 0 or -1. */
int mod_singular_values_raw(const float *a, int64_t rows, int64_t cols, float *s);

/* Fill dst (rows x cols, row-major) with an exactly orthogonal matrix (QR of a
 * Gaussian, signs fixed as torch.nn.init.orthogonal_). 0 or -1. */
int mod_orthogonal_raw(float *dst, int64_t rows, int64_t cols);

/* ---------------------------------------------------------------- module nodes --- */

typedef enum ModKind { MOD_ATOM, MOD_BOND, MOD_COMPOSE, MOD_TUPLE } ModKind;

/* A value flowing through forward: one Var or a tuple of them. */
typedef struct ModVals {
    int n;    /* number of values (1 for a plain value) */
    Var **v;  /* the values (fresh objects made by forward, or the caller's input) */
} ModVals;

typedef struct ModAtomOps ModAtomOps;

/* The bonds (modules without weights). */
typedef enum ModBondKind {
    BOND_IDENTITY, BOND_ADD, BOND_MUL, BOND_RELU, BOND_SCALED_RELU, BOND_GELU, BOND_ABS,
    BOND_FLATTEN, BOND_MEAN_SUBTRACT, BOND_RMS_DIVIDE, BOND_AVG_POOL, BOND_GLOBAL_POOL,
    /* attention (keep them last: mod_bond_forward (bonds.c) hands every kind from
     * BOND_SPLIT_HEADS on to the attention bonds' own forward) */
    BOND_SPLIT_HEADS, BOND_MERGE_HEADS, BOND_ATTENTION_QK, BOND_CAUSAL_MASK, BOND_SOFTMAX,
    BOND_APPLY_SCORES, BOND_ROPE
} ModBondKind;

struct ModularModule {
    ModKind kind;
    char name[32];             /* "Linear", "ReLU", "Compose", ... */
    bool owned;                /* already a child of some combinator */
    /* atoms and bonds */
    float mass;                /* atoms: own mass (tare scales it); bonds: 0 */
    float sensitivity;         /* atoms and bonds */
    bool smooth;               /* atoms and bonds */
    const ModAtomOps *atom;    /* MOD_ATOM */
    ModBondKind bond;          /* MOD_BOND */
    /* atom parameters */
    int64_t fan_out, fan_in;   /* Linear [out, in]; Conv2D channels; Embed d, num */
    int kernel, stride, padding;
    Var *weight;               /* the atom's weight (owned), a leaf requiring grad */
    float *pi_vectors;         /* persistent power-iteration vectors (normalize) */
    int64_t pi_length;         /* floats per vector */
    int pi_count;              /* vectors (1, or kernel^2 for Conv2D) */
    bool pi_fresh;             /* vectors not yet iterated: iterate longer once */
    /* bond parameters */
    float alpha;               /* Mul */
    float scale;               /* Softmax: the sharpness (= its sensitivity) */
    int64_t num_heads;         /* SplitIntoHeads */
    int64_t rope_dim;          /* Rope: half the head dimension */
    double rope_base;          /* Rope: frequencies base^(-i/rope_dim) */
    /* children (compose: children[0] runs first) */
    ModularModule **children;
    int num_children;
};

struct ModAtomOps {
    Var *(*forward)(ModularModule *m, Var *x);
    int (*initialize)(ModularModule *m);
    double (*norm)(const ModularModule *m, const Tensor *w);
    int (*dualize)(const ModularModule *m, const Tensor *g, Tensor *out, float target);
    int (*project)(const ModularModule *m, const Tensor *w, Tensor *out);
    int (*normalize)(ModularModule *m, Tensor *u, float target);
};

/* The node itself (node.c, which uses no other file of modular/). */

/* Allocate a zeroed node of @p kind named @p name (NULL on allocation failure). */
ModularModule *mod_node_new(ModKind kind, const char *name);

/* Make a leaf weight Var of @p shape (zeros, requires grad) owned by nobody's scope. */
Var *mod_weight_new(const int64_t *shape, int ndim);

/* Release @p v if no scope holds it (a temporary of forward the graph now retains). */
void mod_drop_temp(Var *v);

/* A fresh Var equal to @p x (a view), for bonds that pass their input through. */
Var *mod_pass(Var *x);

/* Make @p out the one-value tuple (@p y), which it then owns: 0, or -1 when @p y is
 * NULL (a failed forward) or memory runs out (then @p y is dropped). */
int mod_vals_one(ModVals *out, Var *y);

/* A bond's forward (bonds.c): consume @p in (borrowed), fresh values in @p out. 0/-1. */
int mod_bond_forward(ModularModule *m, const ModVals *in, ModVals *out);

/* Deep copy of one atom (weights copied). */
ModularModule *mod_atom_copy(const ModularModule *m);

#endif /* STRATA_MODULAR_INTERNAL_H */
