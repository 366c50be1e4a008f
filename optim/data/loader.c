/*
 * loader.c - the DataLoader: the epoch's example order (seeded shuffling or a sampler),
 * batches assembled by a collate function, drop_last.
 */
#include "data.h"
#include "data_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------------ DataLoader --- */

struct DataLoader {
    Dataset *ds;
    DataLoaderOptions opts;
    int64_t epoch;      /* the epoch being iterated */
    int64_t next_batch; /* index of the next batch within it */
    int64_t *order;     /* example order of this epoch (room for ds->n) */
    int64_t order_len;  /* indices in it (ds->n unless a sampler says otherwise) */
    bool order_ready;   /* order holds the current epoch's order */
    bool failed;        /* the last data_loader_next() returned false on an error */
    Var *x;             /* the batch handed out last (held) */
    Tensor *y;
    DataSampler sampler; /* optional epoch order */
    void *sampler_ctx;
    DataCollate collate; /* optional batch builder */
    void *collate_ctx;
};

int data_loader_set_sampler(DataLoader *loader, DataSampler sampler, void *ctx)
{
    STRATA_CHECK_ARG(loader, -1);
    loader->sampler = sampler;
    loader->sampler_ctx = ctx;
    if (loader->next_batch == 0)
        loader->order_ready = false; /* the current epoch has not started: use it now */
    return 0;
}

int data_loader_set_collate(DataLoader *loader, DataCollate collate, void *ctx)
{
    STRATA_CHECK_ARG(loader, -1);
    loader->collate = collate;
    loader->collate_ctx = ctx;
    return 0;
}

DataLoader *data_loader_new(Dataset *ds, const DataLoaderOptions *opts)
{
    STRATA_CHECK_ARG(ds, NULL);
    STRATA_CHECK_ARG(opts, NULL);
    if (opts->batch_size < 1) {
        strata_set_error("%s: batch_size must be >= 1 (got %" PRId64 ")", __func__,
                         opts->batch_size);
        return NULL;
    }
    DataLoader *dl = strata_calloc(1, sizeof *dl);
    if (!dl)
        return NULL;
    dl->order = strata_malloc(sizeof(int64_t) * (size_t)(ds->n > 0 ? ds->n : 1));
    if (!dl->order) {
        strata_free(dl);
        return NULL;
    }
    dl->ds = ds;
    dl->opts = *opts;
    return dl;
}

static void release_batch(DataLoader *dl)
{
    var_release(dl->x);
    tensor_release(dl->y);
    dl->x = NULL;
    dl->y = NULL;
}

void data_loader_free(DataLoader *loader)
{
    if (!loader)
        return;
    release_batch(loader);
    strata_free(loader->order);
    strata_free(loader);
}

int64_t data_loader_epoch(const DataLoader *loader)
{
    STRATA_CHECK_ARG(loader, -1);
    return loader->epoch;
}

int data_loader_set_epoch(DataLoader *loader, int64_t epoch)
{
    STRATA_CHECK_ARG(loader, -1);
    if (epoch < 0) {
        strata_set_error("data_loader_set_epoch: negative epoch %" PRId64, epoch);
        return -1;
    }
    release_batch(loader);
    loader->epoch = epoch;
    loader->next_batch = 0;
    loader->order_ready = false;
    return 0;
}

/* splitmix64 of (seed, salt): well-mixed seeds for epochs, batches and examples. */
static uint64_t data_mix_seed(uint64_t seed, uint64_t salt)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (salt + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* SOLUTION BEGIN week=4 step=7 tier=core */
/* This epoch's order: the sampler's, a permutation seeded by (seed, epoch), or 0..n-1. */
static int make_order(DataLoader *dl)
{
    int64_t n = dl->ds->n;
    if (dl->sampler) {
        int64_t len = dl->sampler(dl->order, n, n, dl->epoch, dl->sampler_ctx);
        if (len < 0)
            return -1;
        if (len > n) {
            strata_set_error("data_loader: the sampler returned %" PRId64 " indices, more than "
                             "its capacity %" PRId64, len, n);
            return -1;
        }
        for (int64_t i = 0; i < len; i++)
            if (dl->order[i] < 0 || dl->order[i] >= n) {
                strata_set_error("data_loader: the sampler gave index %" PRId64 " at position "
                                 "%" PRId64 ", outside [0, %" PRId64 ")", dl->order[i], i, n);
                return -1;
            }
        dl->order_len = len;
    } else if (dl->opts.shuffle) {
        uint64_t saved = strata_rng_get_state(); /* leave the global stream alone */
        strata_manual_seed(data_mix_seed(dl->opts.seed, (uint64_t)dl->epoch));
        strata_randperm(dl->order, n);
        strata_rng_set_state(saved);
        dl->order_len = n;
    } else {
        for (int64_t i = 0; i < n; i++)
            dl->order[i] = i;
        dl->order_len = n;
    }
    dl->order_ready = true;
    return 0;
}

/* Rows [begin, end) of a batch gathered from the dataset (no transform: plain copies). */
typedef struct {
    const Dataset *ds;
    const int64_t *indices;
    float *x, *y;
} GatherJob;

/*
 * A shuffled row is a jump to anywhere in the data set, so its cache lines wait on
 * memory. The gather asks for as many rows as L2 holds (all of an MNIST batch), then
 * copies them, asking for one more per copy and pulling the row four copies on into L1:
 * the requests overlap, and each copy finds its row at hand. Prefetches change no value.
 */
static void gather_rows(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const GatherJob *job = ctx;
    const Dataset *ds = job->ds;
    const int64_t ahead = data_rows_ahead(ds);
    (void)chunk;
    (void)thread;
    for (int64_t i = begin; i < end && i < begin + ahead; i++)
        data_prefetch_row(ds, job->indices[i]);
    for (int64_t i = begin; i < end; i++) {
        if (i + ahead < end)
            data_prefetch_row(ds, job->indices[i + ahead]);
        if (i + 4 < end)
            data_pull_row(ds, job->indices[i + 4]);
        int64_t idx = job->indices[i];
        data_copy_row(ds, idx, job->x + i * ds->x_row);
        memcpy(job->y + i * ds->y_row, ds->y->data + idx * ds->y_row,
               sizeof(float) * (size_t)ds->y_row);
    }
}

/* The default collate: gather rows, apply the dataset's transform to each input. */
static int default_collate(const Dataset *ds, const int64_t *indices, int64_t count,
                           uint64_t seed, Tensor **xo, Tensor **yo)
{
    int64_t xshape[TENSOR_MAX_DIMS], yshape[TENSOR_MAX_DIMS];
    memcpy(xshape, ds->x->shape, sizeof xshape);
    memcpy(yshape, ds->y->shape, sizeof yshape);
    xshape[0] = count;
    yshape[0] = count;
    Tensor *x = tensor_empty(xshape, ds->x->ndim);
    Tensor *y = x ? tensor_empty(yshape, ds->y->ndim) : NULL;
    if (!y)
        return -1;
    if (!ds->transform) {
        /* Rows from all over the data set (a shuffled order): the copies wait on memory
         * more than they compute, so a batch is gathered on strata's threads, a chunk
         * being at least 64 KB of rows (a copy that long outlasts handing it over). */
        GatherJob job = {ds, indices, x->data, y->data};
        int64_t row = ds->x_row + ds->y_row;
        strata_parallel_for(count, (STRATA_GRAIN_ELEMENTS / 4) / (row > 0 ? row : 1) + 1,
                            gather_rows, &job);
        *xo = x;
        *yo = y;
        return 0;
    }
    int64_t ex_shape[TENSOR_MAX_DIMS];
    int ex_ndim = ds->x->ndim - 1;
    for (int64_t i = 0; i < count; i++) {
        int64_t idx = indices[i];
        float *row = x->data + i * ds->x_row;
        data_copy_row(ds, idx, row);
        memcpy(y->data + i * ds->y_row, ds->y->data + idx * ds->y_row,
               sizeof(float) * (size_t)ds->y_row);
        if (ds->transform) {
            memcpy(ex_shape, ds->x->shape + 1, sizeof(int64_t) * (size_t)ex_ndim);
            ex_ndim = ds->x->ndim - 1;
            uint64_t rng = data_mix_seed(seed, (uint64_t)i);
            if (data_transform_apply(ds->transform, row, ex_shape, &ex_ndim, &rng) < 0)
                return -1;
        }
    }
    if (ds->transform && (ex_ndim != ds->x->ndim - 1 ||
                          memcmp(ex_shape, ds->x->shape + 1, sizeof(int64_t) * (size_t)ex_ndim))) {
        int64_t shape[TENSOR_MAX_DIMS];
        shape[0] = count;
        memcpy(shape + 1, ex_shape, sizeof(int64_t) * (size_t)ex_ndim);
        x = tensor_view(x, shape, ex_ndim + 1); /* same numel: a view */
        if (!x)
            return -1;
    }
    *xo = x;
    *yo = y;
    return 0;
}
/* SOLUTION END */

int64_t data_loader_num_batches(const DataLoader *loader)
{
    STRATA_CHECK_ARG(loader, -1);
    int64_t n = loader->ds->n;
    if (loader->sampler && !data_loader_order(loader, &n))
        return -1;
    int64_t b = loader->opts.batch_size;
    return loader->opts.drop_last ? n / b : (n + b - 1) / b;
}

const int64_t *data_loader_order(const DataLoader *loader, int64_t *n)
{
    STRATA_CHECK_ARG(loader, NULL);
    /* SOLUTION BEGIN week=4 step=7 tier=core fail=NULL */
    if (!loader->order_ready && make_order((DataLoader *)loader) < 0)
        return NULL;
    if (n)
        *n = loader->order_len;
    return loader->order;
    /* SOLUTION END */
}

/* data_loader_next() without its bookkeeping of why it returned false. */
static bool next_batch(DataLoader *loader, Batch *batch)
{
    /* SOLUTION BEGIN week=4 step=7 tier=core fail=false */
    release_batch(loader);
    memset(batch, 0, sizeof *batch);
    if (!loader->order_ready && make_order(loader) < 0)
        return false;
    int64_t nb = data_loader_num_batches(loader);
    if (nb < 0)
        return false;
    if (loader->next_batch >= nb) { /* end of the epoch: the next call starts another */
        loader->epoch++;
        loader->next_batch = 0;
        loader->order_ready = false;
        return false;
    }
    int64_t start = loader->next_batch * loader->opts.batch_size;
    int64_t size = loader->order_len - start < loader->opts.batch_size
                       ? loader->order_len - start
                       : loader->opts.batch_size;
    /* Build the batch in a scope of our own and keep one reference: the loader owns it
     * whether or not the caller has a scope open. */
    Scope *s = scope_begin();
    Tensor *x = NULL, *y = NULL;
    int rc;
    if (loader->collate) {
        rc = loader->collate(loader->ds, loader->order + start, size, &x, &y,
                             loader->collate_ctx);
        if (rc == 0 && (!x || !y || x->ndim < 1 || y->ndim < 1)) {
            strata_set_error("data_loader_next: the collate function returned no batch");
            rc = -1;
        }
    } else {
        uint64_t seed = data_mix_seed(data_mix_seed(loader->opts.seed, (uint64_t)loader->epoch),
                                      (uint64_t)loader->next_batch);
        rc = default_collate(loader->ds, loader->order + start, size, seed, &x, &y);
    }
    Var *v = rc == 0 ? var_new(x, false) : NULL;
    if (v) {
        var_retain(v);
        tensor_retain(y);
    }
    scope_end(s);
    if (!v)
        return false;
    loader->x = v;
    loader->y = y;
    batch->x = v;
    batch->y = y;
    batch->size = x->shape[0];
    batch->index = loader->next_batch++;
    return true;
    /* SOLUTION END */
}

bool data_loader_next(DataLoader *loader, Batch *batch)
{
    if (!loader || !batch) {
        strata_error_null(__func__, !loader ? "loader" : "batch");
        if (loader)
            loader->failed = true;
        return false;
    }
    /* The end of an epoch moves the loader on to the next one; a failure does not. That
     * is how data_loader_failed() tells the two apart, as ferror() does after fgets(). */
    int64_t epoch = loader->epoch;
    bool ok = next_batch(loader, batch);
    loader->failed = !ok && loader->epoch == epoch;
    return ok;
}

bool data_loader_failed(const DataLoader *loader)
{
    STRATA_CHECK_ARG(loader, true);
    return loader->failed;
}
