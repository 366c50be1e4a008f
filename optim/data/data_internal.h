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
    /* The inputs as the bytes they were made from, or NULL (owned): data_mnist_load keeps
     * the images' pixels, x[i] being exactly (float)codes[i] * code_scale + code_shift.
     * A shuffled batch gathered from them reads a quarter of the memory that one copied
     * from x does (see data_copy_row). */
    uint8_t *codes;
    float code_scale, code_shift;
};

/* Example @p idx's inputs (x_row floats) written to @p dst: made from ds->codes when the
 * dataset keeps them (the same bits as x's row), else copied from x. */
void data_copy_row(const Dataset *ds, int64_t idx, float *dst);

/* Ask the memory for example @p idx's inputs (the codes, or x's row) and its target
 * before they are copied: a hint that changes no value. */
void data_prefetch_row(const Dataset *ds, int64_t idx);

#endif
