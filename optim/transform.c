/*
 * transform.c - per-example transforms (normalize, flatten, random crop, random flip,
 * compose), the CSV dataset and the IDX image dataset.
 *
 * Random transforms draw from a small generator whose state the caller passes in
 * (the DataLoader seeds it from (seed, epoch, batch, position)), never from the global
 * one, so augmentation is reproducible and does not shift other random streams.
 */
#include "optim.h"
#include "optim_internal.h"

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
    const char *fn = "data_transform_compose";
    DataTransform *t = NULL;
    if (!transforms || n < 1) {
        strata_set_error("%s: need at least one transform (got %d)", fn, transforms ? n : 0);
        goto fail;
    }
    for (int i = 0; i < n; i++)
        if (!transforms[i]) {
            strata_set_error("%s: transform %d is NULL", fn, i);
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
    const char *fn = "data_dataset_set_transform";
    if (!ds) {
        strata_error_null(fn, "ds");
        data_transform_free(t);
        return -1;
    }
    if (t) {
        int64_t shape[TENSOR_MAX_DIMS];
        int ndim = ds->x->ndim - 1;
        memcpy(shape, ds->x->shape + 1, sizeof(int64_t) * (size_t)ndim);
        if (transform_shape(t, shape, &ndim, fn) < 0) {
            data_transform_free(t);
            return -1;
        }
    }
    data_transform_free(ds->transform);
    ds->transform = t;
    return 0;
}

/* SOLUTION BEGIN week=4 */
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
    const char *fn = "data_transform_apply";
    if (!t || !x || !shape || !ndim || !rng) {
        strata_error_null(fn, !t ? "t" : !x ? "x" : !shape ? "shape" : !ndim ? "ndim" : "rng");
        return -1;
    }
    /* SOLUTION BEGIN week=4 fail=-1 */
    int64_t numel = 1;
    for (int d = 0; d < *ndim; d++)
        numel *= shape[d];
    switch (t->kind) {
    case TRANSFORM_NORMALIZE:
        for (int64_t i = 0; i < numel; i++)
            x[i] = (x[i] - t->mean) / t->std;
        return 0;
    case TRANSFORM_FLATTEN:
        return transform_shape(t, shape, ndim, fn);
    case TRANSFORM_COMPOSE:
        for (int i = 0; i < t->num_parts; i++)
            if (data_transform_apply(t->parts[i], x, shape, ndim, rng) < 0)
                return -1;
        return 0;
    case TRANSFORM_CROP:
    case TRANSFORM_HFLIP:
        break;
    }
    if (transform_shape(t, shape, ndim, fn) < 0)
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

/* ------------------------------------------------------------------ CSV dataset --- */

/* SOLUTION BEGIN week=4 */
/* Split @p line in place at @p delim into at most @p max fields (trimmed); returns the
 * number of fields found (which may exceed max: the rest are counted, not stored). */
static int split_fields(char *line, char delim, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *end = strchr(p, delim);
        if (end)
            *end = '\0';
        while (isspace((unsigned char)*p))
            p++;
        char *q = p + strlen(p);
        while (q > p && isspace((unsigned char)q[-1]))
            *--q = '\0';
        if (n < max)
            fields[n] = p;
        n++;
        if (!end)
            return n;
        p = end + 1;
    }
}

static bool blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}
/* SOLUTION END */

Dataset *data_csv_load(const char *path, const DataCsvOptions *opts)
{
    const char *fn = "data_csv_load";
    if (!path) {
        strata_error_null(fn, "path");
        return NULL;
    }
    /* SOLUTION BEGIN week=4 fail=NULL */
    DataCsvOptions o = {NULL, -1, ','};
    if (opts)
        o = *opts;
    if (o.delimiter == '\0')
        o.delimiter = ',';
    FILE *f = strata_fopen(path, "r");
    if (!f) {
        strata_set_error("%s: cannot open %s: %s", fn, path, strerror(errno));
        return NULL;
    }
    char *line = NULL, **fields = NULL, **names = NULL;
    size_t cap = 0;
    float *values = NULL;
    int64_t rows = 0, rows_cap = 0;
    int ncols = 0, label = -1;
    long lineno = 0;
    Dataset *ds = NULL;
    ssize_t len;
    /* the header */
    while ((len = strata_getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (!blank(line))
            break;
    }
    if (len == -2) {
        strata_set_error("%s: cannot read %s: %s", fn, path, strerror(errno));
        goto done;
    }
    if (len < 0) {
        strata_set_error("%s: %s is empty (no header line)", fn, path);
        goto done;
    }
    line[strcspn(line, "\r\n")] = '\0';
    {
        /* count the fields on one copy (split_fields cuts its input), keep another */
        char *count = strdup(line), *copy = strdup(line);
        if (count && copy) {
            ncols = split_fields(count, o.delimiter, NULL, 0);
            fields = strata_calloc((size_t)ncols, sizeof(char *));
            names = strata_calloc((size_t)ncols, sizeof(char *));
        }
        if (fields && names) {
            split_fields(copy, o.delimiter, fields, ncols);
            for (int c = 0; c < ncols; c++)
                names[c] = strdup(fields[c]);
        }
        free(count);
        free(copy);
        if (!fields || !names) {
            strata_set_error("%s: out of memory reading %s", fn, path);
            goto done;
        }
    }
    if (ncols < 2) {
        strata_set_error("%s: %s: the header has %d column (need a label and at least one "
                         "feature)", fn, path, ncols);
        goto done;
    }
    if (o.label_column) {
        for (int c = 0; c < ncols && label < 0; c++)
            if (names[c] && strcmp(names[c], o.label_column) == 0)
                label = c;
        if (label < 0) {
            strata_set_error("%s: %s: no column named '%s' in the header", fn, path,
                             o.label_column);
            goto done;
        }
    } else {
        label = o.label_index < 0 ? ncols + o.label_index : o.label_index;
        if (label < 0 || label >= ncols) {
            strata_set_error("%s: %s: label column %d out of range (%d columns)", fn, path,
                             o.label_index, ncols);
            goto done;
        }
    }
    /* the rows */
    while ((len = strata_getline(&line, &cap, f)) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (blank(line))
            continue;
        int got = split_fields(line, o.delimiter, fields, ncols);
        if (got != ncols) {
            strata_set_error("%s: %s: line %ld: %d fields, expected %d", fn, path, lineno, got,
                             ncols);
            goto done;
        }
        if (rows == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 256;
            float *grown = strata_realloc(values, sizeof(float) * (size_t)(rows_cap * ncols));
            if (!grown)
                goto done;
            values = grown;
        }
        for (int c = 0; c < ncols; c++) {
            char *end = NULL;
            errno = 0;
            float v = strtof(fields[c], &end);
            if (fields[c][0] == '\0' || *end != '\0' || errno == ERANGE) {
                strata_set_error("%s: %s: line %ld, column '%s': '%s' is not a number", fn, path,
                                 lineno, names[c] ? names[c] : "?", fields[c]);
                goto done;
            }
            values[rows * ncols + c] = v;
        }
        rows++;
    }
    if (len == -2) { /* a read error is not the end of the file */
        strata_set_error("%s: cannot read %s after line %ld: %s", fn, path, lineno,
                         strerror(errno));
        goto done;
    }
    if (rows == 0) {
        strata_set_error("%s: %s has a header but no data rows", fn, path);
        goto done;
    }
    {
        Scope *s = scope_begin();
        Tensor *x = tensor_empty((int64_t[]){rows, ncols - 1}, 2);
        Tensor *y = x ? tensor_empty(&rows, 1) : NULL;
        if (y) {
            for (int64_t r = 0; r < rows; r++) {
                int k = 0;
                for (int c = 0; c < ncols; c++) {
                    float v = values[r * ncols + c];
                    if (c == label)
                        y->data[r] = v;
                    else
                        x->data[r * (ncols - 1) + k++] = v;
                }
            }
            ds = data_tensor_dataset_new(x, y);
        }
        scope_end(s);
    }
done:
    for (int c = 0; names && c < ncols; c++)
        free(names[c]);
    strata_free(names);
    strata_free(fields);
    strata_free(values);
    free(line);
    fclose(f);
    return ds;
    /* SOLUTION END */
}

/* ------------------------------------------------------------ IDX image dataset --- */

Dataset *data_idx_dataset(const char *images_path, const char *labels_path)
{
    const char *fn = "data_idx_dataset";
    if (!images_path || !labels_path) {
        strata_error_null(fn, !images_path ? "images_path" : "labels_path");
        return NULL;
    }
    Dataset *ds = NULL;
    Scope *s = scope_begin();
    Tensor *images = data_read_idx(images_path);
    Tensor *labels = images ? data_read_idx(labels_path) : NULL;
    if (!labels)
        goto done;
    if ((images->ndim != 3 && images->ndim != 4) || labels->ndim != 1) {
        char a[128], b[128];
        strata_set_error("%s: expected images [N, H, W] or [N, C, H, W] and labels [N], got "
                         "%s and %s", fn, tensor_shape_str(images, a, sizeof a),
                         tensor_shape_str(labels, b, sizeof b));
        goto done;
    }
    if (labels->shape[0] != images->shape[0]) {
        strata_set_error("%s: %s holds %" PRId64 " images but %s %" PRId64 " labels", fn,
                         images_path, images->shape[0], labels_path, labels->shape[0]);
        goto done;
    }
    if (images->ndim == 3) {
        int64_t shape[4] = {images->shape[0], 1, images->shape[1], images->shape[2]};
        images = tensor_view(images, shape, 4);
        if (!images)
            goto done;
    }
    int64_t total = tensor_numel(images);
    for (int64_t i = 0; i < total; i++)
        images->data[i] *= 1.0f / 255.0f;
    ds = data_tensor_dataset_new(images, labels);
done:
    scope_end(s);
    return ds;
}
