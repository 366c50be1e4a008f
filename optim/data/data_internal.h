/*
 * data_internal.h - what the files of optim/data/ share and never install: the Dataset
 * itself, and the seed mixer of the loader's random streams.
 */
#ifndef STRATA_OPTIM_DATA_INTERNAL_H
#define STRATA_OPTIM_DATA_INTERNAL_H

#include "data.h"
#include "tensor_internal.h" /* StrataText, strata_strdup(), tensor_format_shape() */

#include <stdatomic.h>

/*
 * The pixels of a data set loaded from bytes (data_mnist_load): x[i] is exactly
 * (float)bytes[i] * scale + shift. A shuffled batch made from them reads a quarter of
 * the memory that one copied from x does (see data_copy_row). Once the inputs tensor has
 * been handed out (data_dataset_inputs), the caller may write into it, so the bytes are
 * no longer trusted and the loader copies x's rows as any other data set's: `lent` is
 * set by a getter that takes a const Dataset, hence a flag behind a pointer, atomic
 * because a loader's worker threads read it.
 */
typedef struct DataCodes {
    uint8_t *bytes;
    float scale, shift;
    atomic_bool lent;
} DataCodes;

/* A dataset: in-memory inputs and targets, and an optional per-example transform. */
struct Dataset {
    Tensor *x;                /* [N, ...] contiguous (retained) */
    Tensor *y;                /* [N, ...] contiguous (retained) */
    int64_t n;                /* examples */
    int64_t x_row;            /* floats per example of x */
    int64_t y_row;            /* floats per example of y */
    DataTransform *transform; /* applied to each input by the default collate (owned) */
    DataCodes *codes;         /* the inputs as the bytes they were made from, or NULL (owned) */
};

/* Example @p idx's inputs (x_row floats) written to @p dst: made from ds->codes while they
 * are trusted (the same bits as x's row), else copied from x. */
void data_copy_row(const Dataset *ds, int64_t idx, float *dst);

/* Ask the memory for example @p idx's inputs (the codes, or x's row) and its target
 * before they are copied: a hint that changes no value. */
void data_prefetch_row(const Dataset *ds, int64_t idx);

/* Example @p idx's inputs, asked for by data_prefetch_row() a while ago, pulled on into
 * L1 a few rows before they are copied (nothing for rows of more than 4 KB): a hint. */
void data_pull_row(const Dataset *ds, int64_t idx);

/* How many rows a gather asks the memory for ahead of the row it copies: enough that
 * their waits overlap, few enough that the rows asked for first are still in the core's
 * cache when their turn comes (all of an MNIST batch; one row at a time for rows of
 * hundreds of KB). At least 1. */
int64_t data_rows_ahead(const Dataset *ds);

#endif
