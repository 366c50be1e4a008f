/*
 * transform.c - per-example transforms (normalize, flatten, random crop, random flip,
 * compose) and attaching one to a dataset.
 *
 * Random transforms draw from a small generator whose state the caller passes in
 * (the DataLoader seeds it from (seed, epoch, batch, position)), never from the global
 * one, so augmentation is reproducible and does not shift other random streams.
 */
#include "data.h"
#include "data_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum TransformKind {
    TRANSFORM_NORMALIZE,
    TRANSFORM_FLATTEN,
    TRANSFORM_CROP,
    TRANSFORM_HFLIP,
    TRANSFORM_COMPOSE
} TransformKind;

struct DataTransform {
    TransformKind kind;
    float mean, std;        /* normalize */
    int padding;            /* crop */
    float p;                /* hflip */
    DataTransform **parts;  /* compose (owned) */
    int num_parts;
};

static DataTransform *transform_new(TransformKind kind)
{
    DataTransform *t = strata_calloc(1, sizeof *t);
    if (t)
        t->kind = kind;
    return t;
}

DataTransform *data_transform_normalize(float mean, float std)
{
    if (!(std > 0.0f) || isnan(mean)) {
        strata_set_error("data_transform_normalize: need std > 0 (got mean %g, std %g)",
                         (double)mean, (double)std);
        return NULL;
    }
    DataTransform *t = transform_new(TRANSFORM_NORMALIZE);
    if (t) {
        t->mean = mean;
        t->std = std;
    }
    return t;
}

DataTransform *data_transform_flatten(void)
{
    return transform_new(TRANSFORM_FLATTEN);
}

DataTransform *data_transform_random_crop(int padding)
{
    if (padding < 0) {
        strata_set_error("data_transform_random_crop: negative padding %d", padding);
        return NULL;
    }
    DataTransform *t = transform_new(TRANSFORM_CROP);
    if (t)
        t->padding = padding;
    return t;
}

DataTransform *data_transform_random_hflip(float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) {
        strata_set_error("data_transform_random_hflip: p %g is not in [0, 1]", (double)p);
        return NULL;
    }
    DataTransform *t = transform_new(TRANSFORM_HFLIP);
    if (t)
        t->p = p;
    return t;
}

DataTransform *data_transform_compose(DataTransform **transforms, int n)
{
    DataTransform *t = NULL;
    if (!transforms || n < 1) {
        strata_set_error("%s: need at least one transform (got %d)", __func__, transforms ? n : 0);
        goto fail;
    }
    for (int i = 0; i < n; i++)
        if (!transforms[i]) {
            strata_set_error("%s: transform %d is NULL", __func__, i);
            goto fail;
        }
    t = transform_new(TRANSFORM_COMPOSE);
    if (!t || !(t->parts = strata_malloc(sizeof(DataTransform *) * (size_t)n)))
        goto fail;
    memcpy(t->parts, transforms, sizeof(DataTransform *) * (size_t)n);
    t->num_parts = n;
    return t;
fail:
    strata_free(t);
    for (int i = 0; transforms && i < n; i++)
        data_transform_free(transforms[i]);
    return NULL;
}

void data_transform_free(DataTransform *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->num_parts; i++)
        data_transform_free(t->parts[i]);
    strata_free(t->parts);
    strata_free(t);
}

/* The shape @p t produces from (shape, ndim), or -1 if it does not apply. */
static int transform_shape(const DataTransform *t, int64_t *shape, int *ndim, const char *fn)
{
    switch (t->kind) {
    case TRANSFORM_NORMALIZE:
        return 0;
    case TRANSFORM_FLATTEN: {
        int64_t n = 1;
        for (int d = 0; d < *ndim; d++)
            n *= shape[d];
        shape[0] = n;
        *ndim = 1;
        return 0;
    }
    case TRANSFORM_CROP:
    case TRANSFORM_HFLIP:
        if (*ndim < 2) {
            strata_set_error("%s: %s needs images ([H, W] or [C, H, W]), got examples with %d "
                             "dim%s", fn, t->kind == TRANSFORM_CROP ? "random_crop" : "random_hflip",
                             *ndim, *ndim == 1 ? "" : "s");
            return -1;
        }
        return 0;
    case TRANSFORM_COMPOSE:
        for (int i = 0; i < t->num_parts; i++)
            if (transform_shape(t->parts[i], shape, ndim, fn) < 0)
                return -1;
        return 0;
    }
    return 0;
}

int data_dataset_set_transform(Dataset *ds, DataTransform *t)
{
    if (!ds) {
        strata_error_null(__func__, "ds");
        data_transform_free(t);
        return -1;
    }
    if (t) {
        int64_t shape[TENSOR_MAX_DIMS];
        int ndim = ds->x->ndim - 1;
        memcpy(shape, ds->x->shape + 1, sizeof(int64_t) * (size_t)ndim);
        if (transform_shape(t, shape, &ndim, __func__) < 0) {
            data_transform_free(t);
            return -1;
        }
    }
    data_transform_free(ds->transform);
    ds->transform = t;
    return 0;
}

/* SOLUTION BEGIN week=4 step=9 tier=stretch */
/* splitmix64 step: the next 64 random bits of *state. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double next_uniform(uint64_t *state)
{
    return (double)(next_u64(state) >> 11) * (1.0 / 9007199254740992.0);
}
/* SOLUTION END */

int data_transform_apply(const DataTransform *t, float *x, int64_t *shape, int *ndim,
                         uint64_t *rng)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(x, -1);
    STRATA_CHECK_ARG(shape, -1);
    STRATA_CHECK_ARG(ndim, -1);
    STRATA_CHECK_ARG(rng, -1);
    /* SOLUTION BEGIN week=4 step=9 tier=stretch fail=-1 */
    int64_t numel = 1;
    for (int d = 0; d < *ndim; d++)
        numel *= shape[d];
    switch (t->kind) {
    case TRANSFORM_NORMALIZE:
        for (int64_t i = 0; i < numel; i++)
            x[i] = (x[i] - t->mean) / t->std;
        return 0;
    case TRANSFORM_FLATTEN:
        return transform_shape(t, shape, ndim, __func__);
    case TRANSFORM_COMPOSE:
        for (int i = 0; i < t->num_parts; i++)
            if (data_transform_apply(t->parts[i], x, shape, ndim, rng) < 0)
                return -1;
        return 0;
    case TRANSFORM_CROP:
    case TRANSFORM_HFLIP:
        break;
    }
    if (transform_shape(t, shape, ndim, __func__) < 0)
        return -1;
    const int64_t h = shape[*ndim - 2], w = shape[*ndim - 1];
    const int64_t planes = h * w > 0 ? numel / (h * w) : 0;
    if (t->kind == TRANSFORM_HFLIP) {
        if (next_uniform(rng) >= (double)t->p)
            return 0;
        for (int64_t r = 0; r < planes * h; r++) {
            float *row = x + r * w;
            for (int64_t j = 0; j < w / 2; j++) {
                float tmp = row[j];
                row[j] = row[w - 1 - j];
                row[w - 1 - j] = tmp;
            }
        }
        return 0;
    }
    /* Random crop: the window's top-left corner in the padded image is (dy, dx), each
     * uniform in [0, 2 * padding]; output (i, j) = input (i + dy - pad, j + dx - pad),
     * zero outside the input. */
    const int64_t pad = t->padding;
    const int64_t dy = (int64_t)(next_uniform(rng) * (double)(2 * pad + 1));
    const int64_t dx = (int64_t)(next_uniform(rng) * (double)(2 * pad + 1));
    float *tmp = strata_malloc(sizeof(float) * (size_t)(h * w > 0 ? h * w : 1));
    if (!tmp)
        return -1;
    for (int64_t c = 0; c < planes; c++) {
        float *plane = x + c * h * w;
        memcpy(tmp, plane, sizeof(float) * (size_t)(h * w));
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) {
                int64_t si = i + dy - pad, sj = j + dx - pad;
                plane[i * w + j] = si >= 0 && si < h && sj >= 0 && sj < w ? tmp[si * w + sj] : 0.0f;
            }
    }
    strata_free(tmp);
    return 0;
    /* SOLUTION END */
}
