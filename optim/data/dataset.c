/*
 * dataset.c - the in-memory Dataset: inputs and targets as contiguous tensors, one
 * example per leading index, and the transform applied to each input.
 */
#include "data.h"
#include "data_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <zlib.h>

/* -------------------------------------------------------------------- datasets --- */

/* A retained contiguous version of t (t itself when already contiguous). */
static Tensor *retained_contiguous(Tensor *t)
{
    Scope *s = scope_begin();
    Tensor *c = tensor_is_contiguous(t) ? t : tensor_contiguous(t);
    if (c)
        tensor_retain(c);
    scope_end(s);
    return c;
}

Dataset *data_tensor_dataset_new(Tensor *x, Tensor *y)
{
    STRATA_CHECK_ARG(x, NULL);
    STRATA_CHECK_ARG(y, NULL);
    if (x->ndim < 1 || y->ndim < 1 || x->shape[0] != y->shape[0]) {
        char a[128], b[128];
        strata_set_error("%s: inputs %s and targets %s must have the same first dim", __func__,
                         tensor_shape_str(x, a, sizeof a), tensor_shape_str(y, b, sizeof b));
        return NULL;
    }
    Dataset *ds = strata_calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    ds->x = retained_contiguous(x);
    ds->y = retained_contiguous(y);
    if (!ds->x || !ds->y) {
        data_dataset_free(ds);
        return NULL;
    }
    ds->n = x->shape[0];
    ds->x_row = ds->n ? tensor_numel(x) / ds->n : 0;
    ds->y_row = ds->n ? tensor_numel(y) / ds->n : 0;
    return ds;
}

void data_dataset_free(Dataset *ds)
{
    if (!ds)
        return;
    tensor_release(ds->x);
    tensor_release(ds->y);
    data_transform_free(ds->transform);
    if (ds->codes)
        strata_free(ds->codes->bytes);
    strata_free(ds->codes);
    strata_free(ds);
}

/* The dataset's bytes, or NULL when it has none or its inputs were handed out. */
static const DataCodes *trusted_codes(const Dataset *ds)
{
    return ds->codes && !atomic_load(&ds->codes->lent) ? ds->codes : NULL;
}

void data_copy_row(const Dataset *ds, int64_t idx, float *dst)
{
    const DataCodes *codes = trusted_codes(ds);
    if (!codes) {
        memcpy(dst, ds->x->data + idx * ds->x_row, sizeof(float) * (size_t)ds->x_row);
        return;
    }
    /* The same two float operations data_mnist_load used on the same byte, so the same
     * bits; local copies of the constants let the compiler vectorize (dst may not alias
     * them then). */
    const uint8_t *c = codes->bytes + idx * ds->x_row;
    const float scale = codes->scale, shift = codes->shift;
    for (int64_t j = 0; j < ds->x_row; j++)
        dst[j] = (float)c[j] * scale + shift;
}

/* Where example @p idx's inputs are stored (its bytes when the data set keeps them, else
 * its floats), and in *@p bytes how many bytes they take. */
static const char *stored_row(const Dataset *ds, int64_t idx, size_t *bytes)
{
    const DataCodes *codes = trusted_codes(ds);
    *bytes = (codes ? 1 : sizeof(float)) * (size_t)ds->x_row;
    return codes ? (const char *)(codes->bytes + idx * ds->x_row)
                 : (const char *)(ds->x->data + idx * ds->x_row);
}

void data_prefetch_row(const Dataset *ds, int64_t idx)
{
    size_t bytes;
    const char *row = stored_row(ds, idx, &bytes);
    /* One cache line each, into L2 (locality 2): a batch's rows outnumber L1's lines. On
     * AMD Zen 4, asking for them all into L1 kept an MLP batch's gather at 36-37 us in
     * training; into L2 here, then data_pull_row() a few rows ahead, it takes 19-21. */
    for (size_t at = 0; at < bytes; at += 64)
        __builtin_prefetch(row + at, 0, 2);
    __builtin_prefetch(ds->y->data + idx * ds->y_row); /* its target (a label: one line) */
}

/* Rows longer than this are not pulled into L1: they would push out the row being copied. */
#define PULL_MAX_BYTES 4096

void data_pull_row(const Dataset *ds, int64_t idx)
{
    size_t bytes;
    const char *row = stored_row(ds, idx, &bytes);
    if (bytes > PULL_MAX_BYTES)
        return;
    for (size_t at = 0; at < bytes; at += 64)
        __builtin_prefetch(row + at, 0, 3);
}

/* Rows in flight at most: half a typical 1 MB L2 cache, the other half for the copies. */
#define GATHER_AHEAD_BYTES (512 * 1024)

int64_t data_rows_ahead(const Dataset *ds)
{
    int64_t bytes = (trusted_codes(ds) ? 1 : (int64_t)sizeof(float)) * ds->x_row;
    int64_t rows = GATHER_AHEAD_BYTES / (bytes > 0 ? bytes : 1);
    return rows > 1 ? rows : 1;
}

int64_t data_dataset_size(const Dataset *ds)
{
    STRATA_CHECK_ARG(ds, -1);
    return ds->n;
}

Tensor *data_dataset_inputs(const Dataset *ds)
{
    STRATA_CHECK_ARG(ds, NULL);
    if (ds->codes) /* the caller may write into x now: batches come from x from here on */
        atomic_store(&ds->codes->lent, true);
    return ds->x;
}

Tensor *data_dataset_targets(const Dataset *ds)
{
    STRATA_CHECK_ARG(ds, NULL);
    return ds->y;
}
