/*
 * optim_internal.h - helpers shared by the files of optim/ and never installed.
 */
#ifndef STRATA_OPTIM_INTERNAL_H
#define STRATA_OPTIM_INTERNAL_H

#include "optim.h"

/* Validate the fields the built-in rules read; -1 with an error naming @p fn. */
int optim_check_hparams(const OptimHparams *hp, const char *fn);

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

/* splitmix64 of (seed, salt): well-mixed seeds for epochs, batches and examples. */
uint64_t data_mix_seed(uint64_t seed, uint64_t salt);

#endif
