/*
 * dist.c - data-parallel training over MPI (see optim_dist.h).
 *
 * Why buckets: an allreduce has a fixed latency (microseconds on one machine, tens of
 * microseconds across a network) plus a cost per byte. One call per parameter tensor
 * pays the latency six times for a 3-layer MLP; packing all gradients into one flat
 * buffer pays it once. PyTorch's DDP does the same with 25 MB buckets.
 */
#include "optim_dist.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

static bool started_mpi; /* whether optim_dist_init() called MPI_Init itself */

static bool mpi_running(void)
{
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

int optim_dist_init(int *argc, char ***argv)
{
    if (mpi_running())
        return 0;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        strata_set_error("optim_dist_init: MPI_Init failed");
        return -1;
    }
    started_mpi = true;
    return 0;
}

void optim_dist_finalize(void)
{
    if (started_mpi && mpi_running())
        MPI_Finalize();
    started_mpi = false;
}

int optim_dist_rank(void)
{
    int rank = 0;
    if (mpi_running())
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

int optim_dist_world_size(void)
{
    int size = 1;
    if (mpi_running())
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

/* ---------------------------------------------------------------------- the wrapper --- */

struct OptimDDP {
    Module *model;          /* borrowed */
    Var **params;           /* from nn_parameters(), strata_free'd */
    int n_params;
    size_t total_floats;    /* sum of the parameters' sizes */
    float *bucket;          /* one flat buffer, reused for every bucket */
    size_t bucket_floats;   /* its capacity */
    size_t bucket_start;    /* long-vector index of bucket[0] during a reduction */
    int n_buckets;          /* MPI_Allreduce calls per reduction */
    double allreduce_seconds;
};

/* Every rank must hold the same parameter sizes, or the flat buffers would not line up. */
static int check_same_layout(const OptimDDP *ddp)
{
    long long mine[2] = {ddp->n_params, (long long)ddp->total_floats};
    long long lo[2], hi[2];
    MPI_Allreduce(mine, lo, 2, MPI_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(mine, hi, 2, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    if (lo[0] != hi[0] || lo[1] != hi[1]) {
        strata_set_error("optim_ddp_new: ranks disagree on the model (%lld..%lld parameter "
                         "tensors, %lld..%lld floats)", lo[0], hi[0], lo[1], hi[1]);
        return -1;
    }
    return 0;
}

/* Broadcast one tensor from rank 0 (through a contiguous copy if it is a view). */
static int broadcast_tensor(Tensor *t)
{
    int64_t n = tensor_numel(t);
    if (n == 0)
        return 0;
    if (tensor_is_contiguous(t))
        return MPI_Bcast(t->data, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
    Tensor *tmp = tensor_contiguous(t);
    if (!tmp)
        return -1;
    int rc = MPI_Bcast(tmp->data, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD) == MPI_SUCCESS
                 ? tensor_copy_(t, tmp) : -1;
    tensor_release(tmp);
    return rc;
}

static int broadcast_model(OptimDDP *ddp)
{
    for (int i = 0; i < ddp->n_params; i++)
        if (broadcast_tensor(var_data(ddp->params[i])) != 0)
            return -1;
    NnNamedTensors *buffers = nn_named_buffers(ddp->model);
    if (!buffers)
        return -1;
    int rc = 0;
    for (int i = 0; i < buffers->count && rc == 0; i++)
        rc = broadcast_tensor(buffers->tensors[i]);
    nn_named_tensors_free(buffers);
    return rc;
}

OptimDDP *optim_ddp_new(Module *model, size_t bucket_bytes)
{
    if (!model) {
        strata_error_null(__func__, "model");
        return NULL;
    }
    if (!mpi_running()) {
        strata_set_error("optim_ddp_new: MPI is not running (call optim_dist_init first)");
        return NULL;
    }
    OptimDDP *ddp = strata_calloc(1, sizeof *ddp);
    if (!ddp)
        return NULL;
    ddp->model = model;
    ddp->params = nn_parameters(model, &ddp->n_params);
    if (!ddp->params) {
        strata_free(ddp);
        return NULL;
    }
    for (int i = 0; i < ddp->n_params; i++)
        ddp->total_floats += (size_t)tensor_numel(var_data(ddp->params[i]));

    size_t cap = (bucket_bytes ? bucket_bytes : OPTIM_DDP_BUCKET_BYTES) / sizeof(float);
    if (cap == 0)
        cap = 1;
    ddp->bucket_floats = ddp->total_floats < cap ? ddp->total_floats : cap;
    ddp->n_buckets = ddp->total_floats == 0
                         ? 0 : (int)((ddp->total_floats + cap - 1) / cap);
    ddp->bucket = strata_malloc((ddp->bucket_floats ? ddp->bucket_floats : 1) * sizeof(float));
    if (!ddp->bucket || check_same_layout(ddp) != 0 || broadcast_model(ddp) != 0) {
        if (!strata_error_pending())
            strata_set_error("optim_ddp_new: broadcasting the parameters failed");
        optim_ddp_free(ddp);
        return NULL;
    }
    return ddp;
}

/* A zero gradient for @p p owned by @p p alone (scope-independent). */
static int ensure_grad(Var *p)
{
    if (var_grad(p))
        return 0;
    Scope *s = scope_begin();
    Tensor *g = tensor_zeros_like(var_data(p));
    tensor_retain(g); /* our reference outlives the scope; it becomes p's */
    scope_end(s);
    if (!g)
        return -1;
    p->grad = g;
    return 0;
}

/*
 * Think of all gradients laid end to end as one long vector. copy_slice moves the part
 * [start, start + len) of that vector into the bucket (to_bucket) or back out of it,
 * multiplied by scale.
 */
static void copy_slice(OptimDDP *ddp, size_t start, size_t len, bool to_bucket, float scale)
{
    size_t pos = 0; /* where parameter i starts in the long vector */
    for (int i = 0; i < ddp->n_params && len > 0; pos += (size_t)tensor_numel(var_data(ddp->params[i])), i++) {
        size_t n = (size_t)tensor_numel(var_data(ddp->params[i]));
        if (start >= pos + n)
            continue;
        size_t from = start - pos;                  /* first element of this parameter */
        size_t take = n - from < len ? n - from : len;
        float *grad = var_grad(ddp->params[i])->data + from;
        float *slot = ddp->bucket + (start - ddp->bucket_start);
        if (to_bucket)
            memcpy(slot, grad, take * sizeof(float));
        else
            for (size_t k = 0; k < take; k++)
                grad[k] = slot[k] * scale;
        start += take;
        len -= take;
    }
}

int optim_ddp_allreduce_gradients(OptimDDP *ddp)
{
    if (!ddp) {
        strata_error_null(__func__, "ddp");
        return -1;
    }
    for (int i = 0; i < ddp->n_params; i++) {
        if (ensure_grad(ddp->params[i]) != 0)
            return -1;
        Tensor *g = var_grad(ddp->params[i]);
        if (!tensor_is_contiguous(g)) {
            strata_set_error("optim_ddp_allreduce_gradients: gradient %d is not contiguous", i);
            return -1;
        }
    }
    float scale = 1.0f / (float)optim_dist_world_size();
    for (size_t start = 0; start < ddp->total_floats; start += ddp->bucket_floats) {
        size_t len = ddp->total_floats - start < ddp->bucket_floats
                         ? ddp->total_floats - start : ddp->bucket_floats;
        ddp->bucket_start = start;
        copy_slice(ddp, start, len, true, 1.0f);
        double t0 = MPI_Wtime();
        int rc = MPI_Allreduce(MPI_IN_PLACE, ddp->bucket, (int)len, MPI_FLOAT, MPI_SUM,
                               MPI_COMM_WORLD);
        ddp->allreduce_seconds += MPI_Wtime() - t0;
        if (rc != MPI_SUCCESS) {
            strata_set_error("optim_ddp_allreduce_gradients: MPI_Allreduce failed (%d)", rc);
            return -1;
        }
        copy_slice(ddp, start, len, false, scale);
    }
    return 0;
}

double optim_ddp_allreduce_seconds(const OptimDDP *ddp)
{
    return ddp ? ddp->allreduce_seconds : 0.0;
}

size_t optim_ddp_gradient_bytes(const OptimDDP *ddp)
{
    return ddp ? ddp->total_floats * sizeof(float) : 0;
}

int optim_ddp_buckets(const OptimDDP *ddp) { return ddp ? ddp->n_buckets : 0; }

void optim_ddp_free(OptimDDP *ddp)
{
    if (!ddp)
        return;
    strata_free(ddp->params);
    strata_free(ddp->bucket);
    strata_free(ddp);
}

/* ------------------------------------------------------------------ the sampler --- */

int64_t *data_distributed_indices(int64_t n, int rank, int world, uint64_t seed,
                                  int64_t epoch, bool shuffle, bool drop_last,
                                  int64_t *count)
{
    if (!count) {
        strata_error_null(__func__, "count");
        return NULL;
    }
    if (n <= 0 || world < 1 || rank < 0 || rank >= world) {
        strata_set_error("data_distributed_indices: need n > 0 and 0 <= rank < world "
                         "(n=%lld, rank=%d, world=%d)", (long long)n, rank, world);
        return NULL;
    }
    if (drop_last && n < world) {
        strata_set_error("data_distributed_indices: %lld examples cannot give each of %d "
                         "ranks one with drop_last", (long long)n, world);
        return NULL;
    }
    int64_t per_rank = drop_last ? n / world : (n + world - 1) / world;
    int64_t *order = strata_malloc((size_t)n * sizeof *order);
    int64_t *mine = strata_malloc((size_t)per_rank * sizeof *mine);
    if (!order || !mine) {
        strata_free(order);
        strata_free(mine);
        return NULL;
    }
    if (shuffle) {
        /* Same permutation on every rank: seeded by seed + epoch, global state kept. */
        uint64_t saved = strata_rng_get_state();
        strata_manual_seed(seed + (uint64_t)epoch);
        strata_randperm(order, n);
        strata_rng_set_state(saved);
    } else {
        for (int64_t i = 0; i < n; i++)
            order[i] = i;
    }
    /* Position k of the padded list is order[k mod n]: padding wraps around. */
    for (int64_t j = 0; j < per_rank; j++)
        mine[j] = order[(rank + j * world) % n];
    strata_free(order);
    *count = per_rank;
    return mine;
}

Dataset *data_distributed_shard(const Dataset *ds, int rank, int world, uint64_t seed,
                                int64_t epoch, bool shuffle, bool drop_last)
{
    if (!ds) {
        strata_error_null(__func__, "ds");
        return NULL;
    }
    int64_t count = 0;
    int64_t *idx = data_distributed_indices(data_dataset_size(ds), rank, world, seed, epoch,
                                            shuffle, drop_last, &count);
    if (!idx)
        return NULL;
    Scope *s = scope_begin();
    Tensor *index = tensor_empty(&count, 1);
    Dataset *shard = NULL;
    if (index) {
        for (int64_t i = 0; i < count; i++)
            index->data[i] = (float)idx[i];
        Tensor *x = tensor_index_select(data_dataset_inputs(ds), 0, index);
        Tensor *y = tensor_index_select(data_dataset_targets(ds), 0, index);
        shard = data_tensor_dataset_new(x, y); /* retains x and y past the scope */
    }
    scope_end(s);
    strata_free(idx);
    return shard;
}
