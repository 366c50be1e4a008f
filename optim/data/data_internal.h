/*
 * data_internal.h - what the files of optim/data/ share and never install: the Dataset
 * itself, and the seed mixer of the loader's random streams.
 */
#ifndef STRATA_OPTIM_DATA_INTERNAL_H
#define STRATA_OPTIM_DATA_INTERNAL_H

#include "data.h"
#include "tensor_internal.h" /* StrataText, strata_strdup(), tensor_format_shape() */

/* A dataset: in-memory inputs and targets, and an optional per-example transform. */
struct Dataset {
    Tensor *x;                /* [N, ...] contiguous (retained) */
    Tensor *y;                /* [N, ...] contiguous (retained) */
    int64_t n;                /* examples */
    int64_t x_row;            /* floats per example of x */
    int64_t y_row;            /* floats per example of y */
    DataTransform *transform; /* applied to each input by the default collate (owned) */
};

#endif
