/*
 * nn_internal.h - what the files of nn/ share and nobody else sees (never installed).
 *
 * Only what several files of nn/ use is here; a function one file uses is static in it
 * (the handout cutter stubs static functions too: docs/conventions.md, "Solution
 * regions").
 */
#ifndef STRATA_NN_INTERNAL_H
#define STRATA_NN_INTERNAL_H

#include "nn.h"
#include "tensor_internal.h" /* StrataText, strata_strdup(), tensor_format_shape() */

#include <stdarg.h>

/** Most inputs a forward call takes (query, key, value, mask, ... fits easily). */
#define NN_MAX_INPUTS 8

/* ------------------------------------------------------------------- utilities --- */

/**
 * Grow the array *@p items (of @p elem_size bytes each, *@p cap allocated) to hold at
 * least @p need entries. 0, or -1 with an error and the array unchanged.
 */
int nn_grow(void **items, int *cap, int need, size_t elem_size);

/**
 * Hand @p out, computed inside the scope @p inner (opened by the caller with
 * scope_begin()), to whoever called us: keep it alive past scope_end(inner), then give
 * it to the enclosing scope (or to the caller when none is open). Intermediates that
 * nothing retains are freed by scope_end(inner); those the graph retains live on with
 * the graph. NULL @p out just ends the scope and returns NULL.
 *
 * This is the one way nn/ returns a Var it computed from several ops, so that natural
 * code leaks nothing with or without an open scope (docs/conventions.md).
 */
Var *nn_scope_return(Scope *inner, Var *out);

/** A Var that does not require grad around @p t (for targets, masks, running stats). */
Var *nn_constant(const Tensor *t);

/** Reduce per-element losses @p v by @p reduction. */
Var *nn_reduce(Var *v, NnReduction reduction, const char *function);

/** Format @p value as Python's repr(float) does for short values ("0.1", "1e-05", "1.0"). */
void nn_format_float(char *buf, size_t size, double value);


/* ------------------------------------------------------------- the module tree --- */

/** Whether @p m is a ModuleList (repr compresses repeated children). */
bool nn_is_module_list(const Module *m);
/* Whether @p first is a ReLU and @p second a MaxPool2d, neither with hooks: a pair
 * nn_sequential_forward runs as one op (var_relu_max_pool2d), *w the pooling's window. */
bool nn_relu_then_max_pool(const Module *first, const Module *second, Window2d *w);
/* When m[0], m[1], m[2] are a Conv2d, a ReLU and a MaxPool2d, none with hooks, and @p x
 * fits the Conv2d: sets *fused and returns their output as one op
 * (var_conv2d_relu_max_pool2d; NULL with an error if it fails). Otherwise clears *fused
 * and returns NULL, having done nothing. */
Var *nn_conv_relu_max_pool(Module *const *m, Var *x, bool *fused);
/* When @p first is a Linear and @p second a ReLU, neither with hooks, and @p x is
 * [B, in_features]: sets *fused and returns their output as one op (var_linear_relu;
 * NULL with an error if it fails). Otherwise clears *fused and returns NULL, having done
 * nothing. */
Var *nn_linear_relu(const Module *first, const Module *second, Var *x, bool *fused);

/**
 * Insert @p child under @p name at position @p index of @p m's children (taking
 * ownership on success only). 0, or -1 with an error.
 */
int nn_children_insert(Module *m, int index, const char *name, Module *child);

/** Unlink and return the child at @p index (the caller owns it now). */
Module *nn_children_remove(Module *m, int index);

/** Name the children of a list container "0", "1", ... again. 0 or -1. */
int nn_children_renumber(Module *m);

/** The index of child @p name of @p m, or -1 (no error recorded). */
int nn_child_index(const Module *m, const char *name);

/* ---------------------------------------------------- the layers' computations --- */

/* A Linear features -> features named NonDynamicallyQuantizableLinear (attention). */
Module *nn_out_proj_linear(int64_t features, bool bias);

/* Whether @p m is a Linear made by nn_linear() without hooks, so that its forward is
 * exactly var_linear(input, *weight, *bias): then sets *weight and *bias (NULL when the
 * layer has none; both borrowed). Otherwise returns false, setting nothing. L2L runs such
 * a layer's backward from its stashed input without recomputing its forward. */
bool nn_linear_parts(const Module *m, Var **weight, Var **bias);

#endif /* STRATA_NN_INTERNAL_H */
