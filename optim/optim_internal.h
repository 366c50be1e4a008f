/*
 * optim_internal.h - helpers shared by the files of optim/ and never installed: what the
 * optimizer part lends its neighbours (the state dict's checks, the L2L store's access
 * to a parameter's state).
 */
#ifndef STRATA_OPTIM_INTERNAL_H
#define STRATA_OPTIM_INTERNAL_H

#include "optimizer.h"

/* Validate the fields the built-in rules read; -1 with an error naming @p fn. */
int optim_check_hparams(const OptimizerOps *ops, const OptimHparams *hp, const char *fn);

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

/*
 * optim_load_state_dict(), with @p then (if not NULL) called once @p sd is validated and
 * the new state allocated, just before the optimizer takes it: when @p then fails (-1),
 * the optimizer is left unchanged. The commit after it cannot fail, so a caller can
 * load something else all-or-nothing together with the optimizer (checkpoints).
 */
int optim_load_state_dict_then(Optimizer *opt, const NnStateDict *sd, int (*then)(void *ctx),
                               void *ctx);

#endif
