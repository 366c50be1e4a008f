/*
 * optim_internal.h - helpers shared by the files of optim/ and never installed.
 */
#ifndef STRATA_OPTIM_INTERNAL_H
#define STRATA_OPTIM_INTERNAL_H

#include "optim.h"

/* Validate the fields the built-in rules read; -1 with an error naming @p fn. */
int optim_check_hparams(const OptimizerOps *ops, const OptimHparams *hp, const char *fn);

/* Format a float so that strtof gives back the same bits ("%.9g"). */
void optim_format_float(char *buf, size_t size, float value);

/* A dataset: in-memory inputs and targets, and an optional per-example transform. */
struct Dataset {
    Tensor *x;                /* [N, ...] contiguous (retained) */
    Tensor *y;                /* [N, ...] contiguous (retained) */
    int64_t n;                /* examples */
    int64_t x_row;            /* floats per example of x */
    int64_t y_row;            /* floats per example of y */
    DataTransform *transform; /* applied to each input by the default collate (owned) */
};

/*
 * Placing a parameter's optimizer state elsewhere (the L2L host store, l2l_store.c).
 * The update rules only ever see OptimParamState: these let the store swap the tensor
 * behind a named buffer (a view of a memory-mapped file, or a working copy in counted
 * memory) without touching the rules' arithmetic.
 */

/* The state of parameter @p p in @p opt (and its group in *group if not NULL), or NULL
 * without an error when @p p is not one of the optimizer's parameters. */
OptimParamState *optim_param_state(Optimizer *opt, const Var *p, OptimParamGroup **group);

/* Make buffer @p name of @p state hold @p t (retained), releasing the tensor it held; a
 * buffer not there yet is added. @p t must have the parameter's shape (not checked).
 * 0, or -1 with an error (name too long, no room). */
int optim_state_put(OptimParamState *state, const char *name, Tensor *t);

/* Remove buffer @p name from @p state (released), keeping the others in order; a name
 * that is not there is ignored. */
void optim_state_drop(OptimParamState *state, const char *name);

/* Bytes of the optimizer-state slots the store @p store keeps for @p params (0 without
 * an optimizer): what l2l_store_fetch_state() brings into working memory for them. */
size_t l2l_store_state_bytes(const L2LStore *store, Var *const *params, int count);

/* splitmix64 of (seed, salt): well-mixed seeds for epochs, batches and examples. */
uint64_t data_mix_seed(uint64_t seed, uint64_t salt);

/*
 * optim_load_state_dict(), with @p then (if not NULL) called once @p sd is validated and
 * the new state allocated, just before the optimizer takes it: when @p then fails (-1),
 * the optimizer is left unchanged. The commit after it cannot fail, so a caller can
 * load something else all-or-nothing together with the optimizer (checkpoints).
 */
int optim_load_state_dict_then(Optimizer *opt, const NnStateDict *sd, int (*then)(void *ctx),
                               void *ctx);

#endif
