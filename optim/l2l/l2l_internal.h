/*
 * l2l_internal.h - what the L2L trainer (l2l.c) asks of its host store (l2l_store.c);
 * never installed.
 */
#ifndef STRATA_OPTIM_L2L_INTERNAL_H
#define STRATA_OPTIM_L2L_INTERNAL_H

#include "l2l.h"

/* Bytes of the optimizer-state slots the store @p store keeps for @p params (0 without
 * an optimizer): what l2l_store_fetch_state() brings into working memory for them. */
size_t l2l_store_state_bytes(const L2LStore *store, Var *const *params, int count);

#endif
