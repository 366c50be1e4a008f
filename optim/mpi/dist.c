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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <immintrin.h> /* non-temporal stores (copy_out) */
#endif

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

/*
 * Overlap. All gradients live end to end in one flat buffer, cut into buckets. During
 * backward each parameter's hook (var_set_grad_hook) copies its gradient into its place
 * in the buffer; when the last parameter of a bucket is complete, the bucket's
 * MPI_Iallreduce starts, while backward goes on with the layers below. Buckets start
 * strictly in bucket order, so every rank issues the same collectives in the same
 * order. Before the optimizer step, optim_ddp_allreduce_gradients() starts what has not
 * started (with blocking calls: nothing is left to overlap with), waits for all, and
 * writes the averages into .grad.
 *
 * Layout: the parameters go into the buffer in the order their gradients became
 * complete in the first step (rank 0's order, broadcast; PyTorch rebuilds its buckets
 * after the first iteration the same way), so a bucket fills with the gradients of
 * neighbouring layers and becomes ready as early as it can. The first step itself is
 * reduced the blocking way, on that layout.
 *
 * Same bits either way: each element is the MPI_SUM of the ranks' values, times
 * 1/world, whichever bucket or call carried it. With 2 ranks that sum is one addition
 * (the same bits in either order); with more, MPI picks the order of the additions by
 * call and message size, with or without overlap (and did so before buckets existed).
 */

/*
 * One machine. When every rank runs on this machine, MPI can map one block of memory
 * into all of them (MPI_Win_allocate_shared, MPI-3): each rank's gradient buffer is its
 * segment of that block, and summing needs no messages. The hooks and the step copy
 * each rank's gradients into its own segment as above; then, after one barrier, every
 * rank reads all the segments and writes sum * 1/world into its .grad itself, adding
 * in rank order, so every rank computes the same bits.
 *
 * A segment has two halves, used by alternate steps, so that no second barrier is
 * needed before a rank refills its segment while another may still be reading it:
 * a rank writes a half again two steps later, after passing the next step's barrier,
 * which no rank reaches before it has finished reading that half.
 *
 * Why not MPI_Allreduce here: on one machine "communication" is copying by the cores
 * themselves, so there is nothing for overlap to hide behind, and what counts is how
 * many bytes are touched. MPI_Allreduce on shared memory copies each rank's buffer into
 * the other process (through the kernel, in 32 KB pieces), adds, and copies the result
 * back: 0.14 ms for the MLP's 0.94 MB on the project machine, where reading the other
 * segment directly takes 0.04 ms. That difference alone is 7% of a 2-rank step.
 * Across machines there is no shared memory, and the buckets go through MPI as above,
 * started during backward, where a network adapter really moves them while the cores
 * compute.
 */

typedef struct Bucket {
    size_t start, len;   /* its floats in the flat buffer */
    int params;          /* parameters in it */
    int missing;         /* of which not complete yet in this step */
    MPI_Request request; /* MPI_REQUEST_NULL until started */
} Bucket;

/* What a parameter's hook is given: the wrapper and the parameter's index. */
typedef struct HookSlot {
    OptimDDP *ddp;
    int index;
} HookSlot;

struct OptimDDP {
    Module *model;          /* borrowed */
    Var **params;           /* from nn_parameters(), strata_free'd */
    int n_params;
    size_t total_floats;    /* sum of the parameters' sizes */
    size_t bucket_cap;      /* most floats per bucket (a larger parameter gets its own) */
    float *flat;            /* every gradient, bucket after bucket */
    size_t *offset;         /* where parameter i starts in flat */
    int *bucket_of;         /* parameter i's bucket */
    int *parts;             /* gradient parts of parameter i received in this step */
    bool *complete;         /* parameter i's gradient complete in this step */
    HookSlot *slots;
    Bucket *buckets;
    int n_buckets;
    int started;            /* buckets [0, started) are on their way */
    bool laid_out;          /* buckets made (after the first step's backward) */
    int *first_order;       /* first step: parameters in the order they became complete */
    int n_first;
    bool overlap;           /* start buckets during backward (else at the step) */
    bool stale;             /* a part came after its bucket left: redo the step blocking */
    double mpi_seconds;     /* inside the MPI calls that sum the buckets, start to end */
    long started_in_backward; /* buckets the hooks started, over all steps */
    /* Shared memory (all ranks on one machine; see "One machine" below). */
    MPI_Comm node;          /* the ranks of this machine, MPI_COMM_NULL if not all */
    MPI_Win window;         /* every rank's gradient buffer, MPI_WIN_NULL without */
    float **segment;        /* segment[r]: rank r's two buffers, mapped into this process */
    int half;               /* which of them this step fills (0 or 1) */
    bool use_shared;        /* sum through the segments (else MPI's collectives) */
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

static size_t numel(const OptimDDP *ddp, int i)
{
    return (size_t)tensor_numel(var_data(ddp->params[i]));
}

/* Where this rank's gradients are gathered for summing: its shared segment, or its
 * private buffer for MPI's collectives. */
static float *buffer(const OptimDDP *ddp)
{
    return ddp->use_shared ? ddp->segment[optim_dist_rank()] + (size_t)ddp->half * ddp->total_floats
                           : ddp->flat;
}

#if defined(__SSE2__)
/* One 64-byte cache line of floats, written past the caches (@p dst aligned to 64). */
static inline void stream_line(float *dst, const float *src)
{
#if defined(__AVX512F__)
    _mm512_stream_ps(dst, _mm512_loadu_ps(src));
#else
    for (int k = 0; k < 16; k += 4)
        _mm_stream_ps(dst + k, _mm_loadu_ps(src + k));
#endif
}
#endif

/*
 * Copy @p n floats of a gradient to @p dst, in this rank's gathering buffer.
 *
 * Into a shared segment the copy goes past this core's caches (non-temporal stores):
 * this rank does not read those floats again, only the other rank does, at the step.
 * An ordinary store must first own the line: fetch it, and take it away from the
 * other core, whose reading two steps ago left a copy in the shared cache. For the
 * MLP's 0.94 MB per step that took 36-60 us on AMD Zen 4, against 24-28 us streamed,
 * and the lines it brought in pushed the layers below out of this core's L2 in the
 * middle of backward. MPI's private buffer is read again by this rank (inside MPI),
 * so it gets a plain copy. The bits are the same either way.
 */
static void copy_out(const OptimDDP *ddp, float *dst, const float *src, size_t n)
{
#if defined(__SSE2__)
    if (ddp->use_shared) {
        size_t k = 0;
        for (; k < n && (uintptr_t)(dst + k) % 64 != 0; k++) /* up to a line's start */
            dst[k] = src[k];
        for (; k + 16 <= n; k += 16)
            stream_line(dst + k, src + k);
        for (; k < n; k++)
            dst[k] = src[k];
        _mm_sfence(); /* the streamed stores are ordered before what follows (the barrier) */
        return;
    }
#endif
    (void)ddp;
    memcpy(dst, src, n * sizeof(float));
}

/* Forget this step: no part received, no bucket started. */
static void reset_step(OptimDDP *ddp)
{
    for (int i = 0; i < ddp->n_params; i++) {
        ddp->parts[i] = 0;
        ddp->complete[i] = false;
    }
    for (int b = 0; b < ddp->n_buckets; b++) {
        ddp->buckets[b].missing = ddp->buckets[b].params;
        ddp->buckets[b].request = MPI_REQUEST_NULL;
    }
    ddp->started = 0;
    ddp->stale = false;
}

/*
 * Sum bucket b across ranks, in place in the flat buffer: started (MPI_Iallreduce) when
 * backward is still running, or done at once (MPI_Allreduce) when nothing is left to
 * overlap with. The blocking call is there for speed: Open MPI 4.1's default
 * non-blocking algorithm takes about 1.7x as long for a bucket of 800 KB.
 */
static int reduce_bucket(OptimDDP *ddp, int b, bool start_only)
{
    Bucket *k = &ddp->buckets[b];
    double t0 = MPI_Wtime();
    int rc = start_only ? MPI_Iallreduce(MPI_IN_PLACE, ddp->flat + k->start, (int)k->len,
                                         MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &k->request)
                        : MPI_Allreduce(MPI_IN_PLACE, ddp->flat + k->start, (int)k->len,
                                        MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    ddp->mpi_seconds += MPI_Wtime() - t0;
    if (rc != MPI_SUCCESS) {
        strata_set_error("optim_ddp: summing bucket %d (%zu floats) across ranks failed (%d)",
                         b, k->len, rc);
        return -1;
    }
    return 0;
}

/*
 * The hook of parameter slot->index: add this part of its gradient into its place in
 * the flat buffer (the first part copied, later ones added, in the order backward adds
 * them to .grad), and start every bucket, in order, whose parameters are all complete.
 */
static int grad_ready(Var *param, const Tensor *grad, bool last, void *ctx)
{
    HookSlot *slot = ctx;
    OptimDDP *ddp = slot->ddp;
    int i = slot->index;
    if (!ddp->laid_out) { /* first step: only note the order */
        if (last && ddp->n_first < ddp->n_params)
            ddp->first_order[ddp->n_first++] = i;
        return 0;
    }
    if (!ddp->overlap || ddp->stale)
        return 0;
    /* A part after the bucket left (a second backward before the step, accumulating
     * gradients), or a .grad that already holds something: the buffer would miss it. */
    if (ddp->complete[i] || param->grad) {
        ddp->stale = true;
        return 0;
    }
    Scope *s = scope_begin();
    const Tensor *dense = tensor_is_contiguous(grad) ? grad : tensor_contiguous(grad);
    if (!dense) {
        scope_end(s);
        return -1;
    }
    float *dst = buffer(ddp) + ddp->offset[i];
    size_t n = numel(ddp, i);
    if (ddp->parts[i]++ == 0)
        copy_out(ddp, dst, dense->data, n);
    else
        for (size_t k = 0; k < n; k++)
            dst[k] += dense->data[k];
    scope_end(s);
    if (!last)
        return 0;
    ddp->complete[i] = true;
    ddp->buckets[ddp->bucket_of[i]].missing--;
    if (ddp->use_shared) /* nothing to send: the other ranks read the segment at the step */
        return 0;
    while (ddp->started < ddp->n_buckets && ddp->buckets[ddp->started].missing == 0) {
        if (reduce_bucket(ddp, ddp->started++, true) != 0)
            return -1;
        ddp->started_in_backward++;
    }
    /* MPI moves a message only inside MPI calls: give the started ones a push. */
    double t0 = MPI_Wtime();
    int done;
    for (int b = 0; b < ddp->started; b++)
        MPI_Test(&ddp->buckets[b].request, &done, MPI_STATUS_IGNORE);
    ddp->mpi_seconds += MPI_Wtime() - t0;
    return 0;
}

/*
 * Make the buckets: the parameters in the order they became complete in the first step
 * (rank 0's order, so all ranks agree), then those that never did, last registered
 * first; a bucket closes when the next parameter would take it past bucket_cap.
 */
static int lay_out(OptimDDP *ddp)
{
    int *order = ddp->first_order;
    bool *placed = strata_calloc(ddp->n_params ? (size_t)ddp->n_params : 1, sizeof *placed);
    if (!placed)
        return -1;
    int n = 0;
    for (int k = 0; k < ddp->n_first; k++)
        if (!placed[order[k]])
            placed[order[n++] = order[k]] = true;
    for (int i = ddp->n_params - 1; i >= 0; i--)
        if (!placed[i])
            order[n++] = i;
    strata_free(placed);
    if (MPI_Bcast(order, ddp->n_params, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
        strata_set_error("optim_ddp_allreduce_gradients: broadcasting the bucket layout failed");
        return -1;
    }
    size_t pos = 0;
    ddp->n_buckets = 0;
    for (int k = 0; k < ddp->n_params; k++) {
        int i = order[k];
        Bucket *last = ddp->n_buckets ? &ddp->buckets[ddp->n_buckets - 1] : NULL;
        if (!last || (last->len > 0 && last->len + numel(ddp, i) > ddp->bucket_cap)) {
            last = &ddp->buckets[ddp->n_buckets++];
            *last = (Bucket){.start = pos, .len = 0, .params = 0};
        }
        ddp->offset[i] = pos;
        ddp->bucket_of[i] = ddp->n_buckets - 1;
        last->len += numel(ddp, i);
        last->params++;
        pos += numel(ddp, i);
    }
    ddp->laid_out = true;
    return 0;
}

/*
 * When every rank runs on this machine, map one shared block with a segment per rank
 * (see "One machine" above) and sum through it from now on; otherwise leave the
 * summing to MPI's collectives. Collective: every rank calls it at the same point.
 */
static int share_buffers(OptimDDP *ddp)
{
    int world = optim_dist_world_size(), here = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
                            &ddp->node) != MPI_SUCCESS ||
        MPI_Comm_size(ddp->node, &here) != MPI_SUCCESS)
        return -1;
    if (here != world) /* ranks on several machines */
        return 0;
    float *mine = NULL;
    MPI_Aint bytes = (MPI_Aint)(2 * ddp->total_floats * sizeof(float)); /* two halves */
    if (MPI_Win_allocate_shared(bytes, (int)sizeof(float), MPI_INFO_NULL, ddp->node, &mine,
                                &ddp->window) != MPI_SUCCESS)
        return -1;
    for (int r = 0; r < world; r++) {
        MPI_Aint size = 0;
        int unit = 0;
        if (MPI_Win_shared_query(ddp->window, r, &size, &unit, &ddp->segment[r]) != MPI_SUCCESS)
            return -1;
    }
    /* One access epoch for the wrapper's life; MPI_Win_sync and the barriers order the
     * reads and writes of each step (MPI-3's idiom for shared memory). */
    if (MPI_Win_lock_all(MPI_MODE_NOCHECK, ddp->window) != MPI_SUCCESS)
        return -1;
    ddp->use_shared = true;
    return 0;
}

void optim_ddp_free(OptimDDP *ddp)
{
    if (!ddp)
        return;
    for (int i = 0; ddp->params && i < ddp->n_params; i++)
        var_set_grad_hook(ddp->params[i], NULL, NULL);
    for (int b = 0; b < ddp->n_buckets; b++) /* started, never waited for (a failed step) */
        if (ddp->buckets[b].request != MPI_REQUEST_NULL)
            MPI_Wait(&ddp->buckets[b].request, MPI_STATUS_IGNORE);
    if (ddp->window != MPI_WIN_NULL) { /* collective: every rank frees its wrapper */
        MPI_Win_unlock_all(ddp->window);
        MPI_Win_free(&ddp->window);
    }
    if (ddp->node != MPI_COMM_NULL)
        MPI_Comm_free(&ddp->node);
    strata_free(ddp->segment);
    strata_free(ddp->params);
    strata_free(ddp->flat);
    strata_free(ddp->offset);
    strata_free(ddp->bucket_of);
    strata_free(ddp->parts);
    strata_free(ddp->complete);
    strata_free(ddp->slots);
    strata_free(ddp->buckets);
    strata_free(ddp->first_order);
    strata_free(ddp);
}

OptimDDP *optim_ddp_new(Module *model, size_t bucket_bytes)
{
    STRATA_CHECK_ARG(model, NULL);
    if (!mpi_running()) {
        strata_set_error("optim_ddp_new: MPI is not running (call optim_dist_init first)");
        return NULL;
    }
    OptimDDP *ddp = strata_calloc(1, sizeof *ddp);
    if (!ddp)
        return NULL;
    ddp->model = model;
    ddp->overlap = true;
    ddp->node = MPI_COMM_NULL; /* before anything can fail: optim_ddp_free reads them */
    ddp->window = MPI_WIN_NULL;
    ddp->params = nn_parameters(model, &ddp->n_params);
    if (!ddp->params) {
        strata_free(ddp);
        return NULL;
    }
    for (int i = 0; i < ddp->n_params; i++)
        ddp->total_floats += numel(ddp, i);
    ddp->bucket_cap = (bucket_bytes ? bucket_bytes : OPTIM_DDP_BUCKET_BYTES) / sizeof(float);
    if (ddp->bucket_cap == 0)
        ddp->bucket_cap = 1;

    size_t np = ddp->n_params ? (size_t)ddp->n_params : 1;
    ddp->flat = strata_malloc((ddp->total_floats ? ddp->total_floats : 1) * sizeof(float));
    ddp->offset = strata_calloc(np, sizeof *ddp->offset);
    ddp->bucket_of = strata_calloc(np, sizeof *ddp->bucket_of);
    ddp->parts = strata_calloc(np, sizeof *ddp->parts);
    ddp->complete = strata_calloc(np, sizeof *ddp->complete);
    ddp->slots = strata_calloc(np, sizeof *ddp->slots);
    ddp->buckets = strata_calloc(np, sizeof *ddp->buckets);
    ddp->first_order = strata_calloc(np, sizeof *ddp->first_order);
    ddp->segment = strata_calloc((size_t)optim_dist_world_size(), sizeof *ddp->segment);
    bool ok = ddp->flat && ddp->offset && ddp->bucket_of && ddp->parts && ddp->complete &&
              ddp->slots && ddp->buckets && ddp->first_order && ddp->segment;
    for (int i = 0; ok && i < ddp->n_params; i++) {
        ddp->slots[i] = (HookSlot){ddp, i};
        ok = var_set_grad_hook(ddp->params[i], grad_ready, &ddp->slots[i]) == 0;
    }
    if (!ok || check_same_layout(ddp) != 0 || broadcast_model(ddp) != 0 ||
        share_buffers(ddp) != 0) {
        if (!strata_error_pending())
            strata_set_error("optim_ddp_new: broadcasting the parameters or sharing the "
                             "gradient buffers failed");
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

/* Wait for every started bucket. */
static int wait_started(OptimDDP *ddp)
{
    double t0 = MPI_Wtime();
    int rc = MPI_SUCCESS;
    for (int b = 0; b < ddp->started; b++)
        if (MPI_Wait(&ddp->buckets[b].request, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            rc = -1;
    ddp->mpi_seconds += MPI_Wtime() - t0;
    if (rc != MPI_SUCCESS)
        strata_set_error("optim_ddp_allreduce_gradients: waiting for a bucket failed");
    return rc == MPI_SUCCESS ? 0 : -1;
}

/* Through MPI: the buckets backward did not start, in bucket order; then wait for those
 * it started, and write sum * 1/world into every .grad. */
static int sum_buckets(OptimDDP *ddp)
{
    int rc = 0;
    for (int b = ddp->started; rc == 0 && b < ddp->n_buckets; b++)
        rc = reduce_bucket(ddp, b, false);
    if (rc == 0)
        rc = wait_started(ddp);
    if (rc != 0)
        return -1;
    float scale = 1.0f / (float)optim_dist_world_size();
    for (int i = 0; i < ddp->n_params; i++) {
        float *grad = var_grad(ddp->params[i])->data;
        const float *sum = ddp->flat + ddp->offset[i];
        /* The count is read once: numel() calls into two other libraries, which the
         * compiler cannot hoist out of the loop, and as the loop's condition it cost
         * about a millisecond per step for this MLP's 235,146 floats (as long as the
         * whole computation of a 2-rank step). */
        size_t n = numel(ddp, i);
        for (size_t k = 0; k < n; k++)
            grad[k] = sum[k] * scale;
    }
    return 0;
}

/*
 * grad = (segment[0] + ... + segment[world - 1]) * scale over @p n floats from @p at,
 * added in rank order with the running sum kept in grad, so every rank gets the same
 * bits. Each rank adds its slice in one pass (for 2 ranks: (a + b) * scale, which is
 * MPI_SUM's a + b in either order, times 1/2: the same bits as MPI_Allreduce). The
 * passes before the last multiply by 1, which is exact.
 *
 * With 2 ranks, this rank's own term is read from grad itself, which holds the same
 * bits as its segment (the segment was copied from it, or summed part by part in the
 * order backward summed grad): one stream of 4 bytes per float fewer to read, and the
 * one read is the copy already in this core's cache. The operands still go in rank
 * order, segment 0's value first, so even the payload of a NaN is the same on both.
 */
static void add_segments(float *grad, float *const *segment, int world, int rank, size_t at,
                         size_t n, float scale)
{
    if (world == 1)
        for (size_t k = 0; k < n; k++)
            grad[k] = segment[0][at + k] * scale;
    if (world == 2) {
        const float *other = segment[1 - rank] + at;
        if (rank == 0)
            for (size_t k = 0; k < n; k++)
                grad[k] = (grad[k] + other[k]) * scale;
        else
            for (size_t k = 0; k < n; k++)
                grad[k] = (other[k] + grad[k]) * scale;
        return;
    }
    for (int r = 1; r < world; r++) {
        const float *sum = r == 1 ? segment[0] + at : grad;
        const float *next = segment[r] + at;
        float times = r == world - 1 ? scale : 1.0f;
        for (size_t k = 0; k < n; k++)
            grad[k] = (sum[k] + next[k]) * times;
    }
}

/* Through the shared segments: wait until every rank's half for this step is complete,
 * read them all into .grad, and make the next step fill the other half. The time counts
 * as communication (optim_ddp_allreduce_seconds). */
static int sum_shared(OptimDDP *ddp)
{
    double t0 = MPI_Wtime();
    int world = optim_dist_world_size();
    MPI_Win_sync(ddp->window); /* this rank's writes reach the shared block */
    int rc = MPI_Barrier(ddp->node);
    MPI_Win_sync(ddp->window); /* and it sees the others' */
    size_t at = (size_t)ddp->half * ddp->total_floats;
    for (int i = 0; rc == MPI_SUCCESS && i < ddp->n_params; i++)
        add_segments(var_grad(ddp->params[i])->data, ddp->segment, world, optim_dist_rank(),
                     at + ddp->offset[i], numel(ddp, i), 1.0f / (float)world);
    ddp->half = 1 - ddp->half;
    ddp->mpi_seconds += MPI_Wtime() - t0;
    if (rc != MPI_SUCCESS) {
        strata_set_error("optim_ddp_allreduce_gradients: waiting for the other ranks failed (%d)",
                         rc);
        return -1;
    }
    return 0;
}

int optim_ddp_allreduce_gradients(OptimDDP *ddp)
{
    STRATA_CHECK_ARG(ddp, -1);
    for (int i = 0; i < ddp->n_params; i++) {
        if (ensure_grad(ddp->params[i]) != 0)
            return -1;
        if (!tensor_is_contiguous(var_grad(ddp->params[i]))) {
            strata_set_error("optim_ddp_allreduce_gradients: gradient %d is not contiguous", i);
            return -1;
        }
    }
    int rc = 0;
    if (!ddp->laid_out)
        rc = lay_out(ddp);
    if (rc == 0 && ddp->stale) { /* the buffer misses parts: start over from .grad */
        rc = wait_started(ddp);
        reset_step(ddp);
    }
    /* A parameter the hook did not complete (never reached by backward, or the first
     * step) goes in from its .grad, which backward has now written. */
    for (int i = 0; rc == 0 && i < ddp->n_params; i++)
        if (!ddp->complete[i])
            copy_out(ddp, buffer(ddp) + ddp->offset[i], var_grad(ddp->params[i])->data,
                     numel(ddp, i));
    if (rc == 0)
        rc = ddp->use_shared ? sum_shared(ddp) : sum_buckets(ddp);
    reset_step(ddp);
    return rc;
}

void optim_ddp_set_overlap(OptimDDP *ddp, bool overlap)
{
    if (ddp)
        ddp->overlap = overlap;
}

void optim_ddp_set_shared_memory(OptimDDP *ddp, bool shared)
{
    if (ddp)
        ddp->use_shared = shared && ddp->window != MPI_WIN_NULL;
}

bool optim_ddp_shared_memory(const OptimDDP *ddp) { return ddp && ddp->use_shared; }

double optim_ddp_allreduce_seconds(const OptimDDP *ddp)
{
    return ddp ? ddp->mpi_seconds : 0.0;
}

long optim_ddp_buckets_started_in_backward(const OptimDDP *ddp)
{
    return ddp ? ddp->started_in_backward : 0;
}

size_t optim_ddp_gradient_bytes(const OptimDDP *ddp)
{
    return ddp ? ddp->total_floats * sizeof(float) : 0;
}

int optim_ddp_buckets(const OptimDDP *ddp) { return ddp ? ddp->n_buckets : 0; }

/* ------------------------------------------------------------------ the sampler --- */

int64_t *data_distributed_indices(int64_t n, int rank, int world, uint64_t seed,
                                  int64_t epoch, bool shuffle, bool drop_last,
                                  int64_t *count)
{
    STRATA_CHECK_ARG(count, NULL);
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
    STRATA_CHECK_ARG(ds, NULL);
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
