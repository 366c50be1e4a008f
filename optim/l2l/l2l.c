/*
 * l2l.c - layer-to-layer (L2L) execution: train a model whose layers sit in a
 * Sequential/ModuleList with a working set that stays flat as the model gets deeper
 * (Pudipeddi et al., "Training Large Neural Networks with Constant Memory using a New
 * Execution Algorithm", 2020). See docs/l2l.md for the algorithm and the design.
 *
 * One step over a batch of B rows cut into K microbatches, for layers 0..N-1, with the
 * stash holding one tensor per boundary and microbatch, S(l, k), S(0, k) = rows k of x:
 *
 *   forward   for l = 0..N-1, for k = 0..K-1 (no graph):
 *                 S(l+1, k) = layer_l(S(l, k))          (the output tensor itself)
 *             after the last layer, per microbatch: out = leaf(S(N, k)),
 *                 L_k = loss(out, y[rows k]); backward(rows_k/B * L_k);
 *                 S(N, k) = d(loss)/d(out)
 *   backward  for l = N-1..l_min, drop dW_l, for k = 0..K-1:
 *                 x = leaf(S(l, k)); y = layer_l(x) WITH a graph;
 *                 backward(y, S(l+1, k))   (dW_l += ...); free S(l+1, k)
 *                 S(l, k) = dx             (the input is not needed again)
 *             optional eager update of layer l
 *
 * A Linear layer's graph would hold only its input, S(l, k), and its weights, so it is
 * not recomputed: its backward runs from the stash with the same kernels
 * (backward_from_stash, same gradients to the bit), which spares one matrix product of
 * its four. Every other layer is recomputed; L2LOptions::recompute_all recomputes all.
 *
 * Each "unit" (one layer on one microbatch) runs inside its own scope, so everything it
 * allocates but the tensor it hands to the stash is gone when it ends: the working set
 * is the largest unit plus the current layer's weights, whatever the depth. The host
 * store is everything else: the model's parameters and gradients, the optimizer state
 * and the boundary stash. With L2LOptions::store the parameters really live elsewhere,
 * in a memory-mapped file (l2l_store.c): layer l's are fetched into working tensors
 * before its units and evicted after them, written back only after its update. A store
 * created with the optimizer holds its state too: layer l's state is fetched just
 * before the layer's update and written back with its weights.
 *
 * Memory is measured with the counting allocator (tensor.h): each unit resets the
 * high-water mark at its start and reads it at its end. This moves the allocator's
 * bytes_peak: callers that measure their own peak around l2l_step() see only the end of
 * the step (use L2LStats::peak_bytes).
 */
#include "l2l.h"
#include "l2l_internal.h"
#include "nn_internal.h" /* nn_linear_parts() */
#include "optim_internal.h"
#include "train_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ the trainer --- */

/* One layer: the child module and its parameters (borrowed from the module). */
typedef struct L2LLayer {
    Module *module; /* borrowed: a child of the model */
    Var **params;   /* nn_parameters(module) (array owned, Vars borrowed) */
    int num_params;
} L2LLayer;

struct L2LTrainer {
    Module *model;
    L2LOptions opts;
    int num_layers;
    L2LLayer *layers;
    int64_t steps;

    /* The dry run's measurements, valid for batches of the shapes below. */
    bool need_valid;
    int x_ndim, y_ndim;
    int64_t x_shape[TENSOR_MAX_DIMS], y_shape[TENSOR_MAX_DIMS];
    int need_lmin;             /* lowest layer with a trainable parameter at the time */
    int64_t need_trainable;    /* number of trainable parameters at the time */
    size_t *need_fwd;          /* per layer: largest forward unit (bytes above the host) */
    size_t *need_bwd;          /* per layer: largest backward unit */
    size_t need_stash;         /* stash bytes of a batch of that shape */

    /* The current step's measurements. */
    size_t *run_fwd, *run_bwd;
    size_t abs_peak;
};

/* Replace the error slot with "<prefix>: <what it held>". */
static void prefix_error(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void prefix_error(const char *fmt, ...)
{
    char inner[1024], head[512];
    snprintf(inner, sizeof inner, "%s", strata_last_error());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    strata_set_error("%s: %s", head, inner[0] ? inner : "(no message)");
}

uint64_t l2l_unit_seed(uint64_t seed, int64_t step, int layer, int64_t microbatch)
{
    /* SplitMix64's finaliser applied after mixing in each value in turn. */
    uint64_t values[3] = {(uint64_t)step, (uint64_t)(int64_t)layer, (uint64_t)microbatch};
    uint64_t h = seed;
    for (int i = 0; i < 4; i++) {
        h += 0x9e3779b97f4a7c15ULL;
        uint64_t z = h;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        h = i < 3 ? z ^ values[i] : z;
    }
    return h;
}

/* ----------------------------------------------------------------------- losses --- */

Var *l2l_cross_entropy_loss(Var *output, const Tensor *target, void *ctx)
{
    (void)ctx;
    return nn_cross_entropy(output, target);
}

Var *l2l_mse_loss(Var *output, const Tensor *target, void *ctx)
{
    (void)ctx;
    return nn_mse_loss(output, target, NN_REDUCTION_MEAN);
}

/* ------------------------------------------------------- construction, queries --- */

static void free_layers(L2LLayer *layers, int n)
{
    if (!layers)
        return;
    for (int l = 0; l < n; l++)
        strata_free(layers[l].params);
    strata_free(layers);
}

void l2l_free(L2LTrainer *t)
{
    if (!t)
        return;
    free_layers(t->layers, t->num_layers);
    strata_free(t->need_fwd);
    strata_free(t->need_bwd);
    strata_free(t->run_fwd);
    strata_free(t->run_bwd);
    strata_free(t);
}

/* ------------------------------------------------------- the phases of l2l_new --- */

/*
 * The checks of l2l_new come first and in this order (the model, the options, the store,
 * each layer), so that a bad call is refused before anything is allocated: the first
 * problem found is the one reported, and a refused call leaves nothing behind.
 * Each check reports for @p fn, the public function.
 */

/* The model: a Sequential or ModuleList with children and no parameters of its own
 * (L2L moves layers, and a parameter outside every layer belongs to none of them). */
static int check_model(const char *fn, Module *model)
{
    const char *kind = nn_module_type_name(model);
    if (strcmp(kind, "Sequential") != 0 && strcmp(kind, "ModuleList") != 0) {
        strata_set_error("%s: the model is a %s; L2L runs the children of a Sequential or "
                         "ModuleList as its layers, in order",
                         fn, kind);
        return -1;
    }
    if (nn_num_children(model) < 1) {
        strata_set_error("%s: the model's layer list is empty (a %s without children)", fn,
                         kind);
        return -1;
    }
    if (model->num_params > 0) {
        strata_set_error("%s: the model has %d parameter(s) of its own ('%s', ...) outside "
                         "its layers; L2L trains only the layers' parameters",
                         fn, model->num_params, model->params[0].name);
        return -1;
    }
    return 0;
}

/* The options on their own: sizes, clipping, and what eager updates need (an optimizer
 * that can update one parameter at a time, and no global-norm clipping, which would
 * need every gradient before the first update). */
static int check_options(const char *fn, const L2LOptions *opts)
{
    if (opts->microbatch_size < 1) {
        strata_set_error("%s: microbatch_size is %lld; it must be >= 1", fn,
                         (long long)opts->microbatch_size);
        return -1;
    }
    if (!(opts->clip_grad_norm >= 0.0f)) { /* NaN fails too */
        strata_set_error("%s: clip_grad_norm is %g; it must be >= 0 (0 turns clipping off)",
                         fn, (double)opts->clip_grad_norm);
        return -1;
    }
    if (!opts->eager_update)
        return 0;
    if (!opts->optimizer) {
        strata_set_error("%s: eager_update needs an optimizer (opts->optimizer is NULL)", fn);
        return -1;
    }
    if (opts->clip_grad_norm > 0.0f) {
        strata_set_error("%s: eager_update cannot be combined with clip_grad_norm = %g: "
                         "clipping by the global norm needs every layer's gradient "
                         "before any update",
                         fn, (double)opts->clip_grad_norm);
        return -1;
    }
    const OptimizerOps *ops = opts->optimizer->ops;
    if (!ops || !ops->update) {
        strata_set_error("%s: eager_update needs a per-parameter update, and optimizer "
                         "'%s' only updates every parameter at once (ops->step)",
                         fn, ops && ops->name ? ops->name : "?");
        return -1;
    }
    return 0;
}

/* The store, if any, against the model and the options: it must have been made for
 * this model and this optimizer, and a store with an optimizer needs eager updates. */
static int check_store(const char *fn, Module *model, const L2LOptions *opts)
{
    if (!opts->store)
        return 0;
    if (l2l_store_model(opts->store) != model) {
        strata_set_error("%s: the store holds another model than the one given "
                         "(l2l_store_create() it from this model)",
                         fn);
        return -1;
    }
    Optimizer *held = l2l_store_optimizer(opts->store);
    if (held && opts->optimizer && held != opts->optimizer) {
        strata_set_error("%s: the store holds the state of another optimizer than "
                         "opts->optimizer (l2l_store_create() it with this one)",
                         fn);
        return -1;
    }
    if (opts->optimizer && !opts->eager_update) {
        strata_set_error("%s: a store with an optimizer needs eager_update: a "
                         "whole-model optim_step() would need every layer's weights "
                         "in memory at once",
                         fn);
        return -1;
    }
    return 0;
}

/* Every layer must have a one-input forward: L2L feeds each layer's output to the next. */
static int check_layer_forwards(const char *fn, Module *model, int n)
{
    for (int l = 0; l < n; l++) {
        Module *layer = nn_child_at(model, l);
        if (!layer)
            return -1;
        if (!layer->type->forward && !layer->type->forward_n) {
            strata_set_error("%s: layer %d (%s) has no forward: every layer must take one "
                             "input and give one output",
                             fn, l, nn_module_type_name(layer));
            return -1;
        }
    }
    return 0;
}

/* The trainer and its per-layer arrays, each layer with its parameters; NULL (nothing
 * left allocated) on failure. */
static L2LTrainer *trainer_alloc(const char *fn, Module *model, const L2LOptions *opts, int n)
{
    L2LTrainer *t = strata_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->model = model;
    t->opts = *opts;
    if (!t->opts.loss_fn)
        t->opts.loss_fn = l2l_cross_entropy_loss;
    t->num_layers = n;
    t->layers = strata_calloc((size_t)n, sizeof *t->layers);
    t->need_fwd = strata_calloc((size_t)n, sizeof *t->need_fwd);
    t->need_bwd = strata_calloc((size_t)n, sizeof *t->need_bwd);
    t->run_fwd = strata_calloc((size_t)n, sizeof *t->run_fwd);
    t->run_bwd = strata_calloc((size_t)n, sizeof *t->run_bwd);
    if (!t->layers || !t->need_fwd || !t->need_bwd || !t->run_fwd || !t->run_bwd) {
        l2l_free(t);
        return NULL;
    }
    for (int l = 0; l < n; l++) {
        L2LLayer *layer = &t->layers[l];
        layer->module = nn_child_at(model, l);
        layer->params = nn_parameters(layer->module, &layer->num_params);
        if (!layer->params) {
            prefix_error("%s: layer %d", fn, l);
            l2l_free(t);
            return NULL;
        }
    }
    return t;
}

/* A parameter shared by two layers: each layer's backward would zero the gradient the
 * other one computed (and an eager update would use half a gradient). This check needs
 * the layers' parameter lists, so it runs after trainer_alloc. */
static int check_untied(const char *fn, const L2LTrainer *t)
{
    const int n = t->num_layers;
    for (int a = 0; a < n; a++)
        for (int i = 0; i < t->layers[a].num_params; i++)
            for (int b = a + 1; b < n; b++)
                for (int j = 0; j < t->layers[b].num_params; j++)
                    if (t->layers[a].params[i] == t->layers[b].params[j]) {
                        strata_set_error("%s: layers %d and %d share a parameter; L2L "
                                         "computes each layer's gradients on their own and "
                                         "cannot train tied weights",
                                         fn, a, b);
                        return -1;
                    }
    return 0;
}

L2LTrainer *l2l_new(Module *model, const L2LOptions *opts)
{
    STRATA_CHECK_ARG(model, NULL);
    STRATA_CHECK_ARG(opts, NULL);
    if (check_model(__func__, model) < 0 || check_options(__func__, opts) < 0 ||
        check_store(__func__, model, opts) < 0)
        return NULL;
    int n = nn_num_children(model);
    if (check_layer_forwards(__func__, model, n) < 0)
        return NULL;
    L2LTrainer *t = trainer_alloc(__func__, model, opts, n);
    if (!t)
        return NULL;
    if (check_untied(__func__, t) < 0) {
        l2l_free(t);
        return NULL;
    }
    return t;
}

int l2l_num_layers(const L2LTrainer *t)
{
    STRATA_CHECK_ARG(t, -1);
    return t->num_layers;
}

int64_t l2l_steps(const L2LTrainer *t)
{
    STRATA_CHECK_ARG(t, -1);
    return t->steps;
}

/* The checks shared by l2l_step() and l2l_estimate(); B receives the batch size. */
static int check_batch(const char *fn, const L2LTrainer *t, const Tensor *x, const Tensor *y,
                       int64_t *B)
{
    if (!t) {
        strata_error_null(fn, "t");
        return -1;
    }
    if (!x) {
        strata_error_null(fn, "x");
        return -1;
    }
    if (!y) {
        strata_error_null(fn, "y");
        return -1;
    }
    char a[128], b[128];
    if (x->ndim < 1 || x->shape[0] < 1) {
        strata_set_error("%s: x has shape %s; it must be [B, ...] with B >= 1 rows", fn,
                         tensor_shape_str(x, a, sizeof a));
        return -1;
    }
    if (y->ndim < 1 || y->shape[0] != x->shape[0]) {
        strata_set_error("%s: x has shape %s but y has shape %s: y needs one row per row of x",
                         fn, tensor_shape_str(x, a, sizeof a), tensor_shape_str(y, b, sizeof b));
        return -1;
    }
    if (!autograd_is_grad_enabled()) {
        strata_set_error("%s: grad mode is off (called inside autograd_no_grad_begin()); the "
                         "backward pass needs to record graphs",
                         fn);
        return -1;
    }
    *B = x->shape[0];
    return 0;
}

/* SOLUTION BEGIN week=4 step=10 tier=stretch */
/* ---------------------------------------------------------------------- helpers --- */

static size_t tensor_bytes(const Tensor *t)
{
    return t ? (size_t)tensor_numel(t) * sizeof(float) : 0;
}

/* Bytes of layer l's parameters, and of the gradients of the trainable ones. */
static void layer_sizes(const L2LLayer *layer, size_t *param_bytes, size_t *grad_bytes)
{
    *param_bytes = 0;
    *grad_bytes = 0;
    for (int i = 0; i < layer->num_params; i++) {
        Var *p = layer->params[i];
        *param_bytes += tensor_bytes(var_data(p));
        if (p->requires_grad)
            *grad_bytes += tensor_bytes(var_data(p));
    }
}

/* The lowest layer with a trainable parameter (num_layers when there is none), and the
 * number of trainable parameters. */
static int lowest_trainable(const L2LTrainer *t, int64_t *trainable)
{
    int lmin = t->num_layers;
    *trainable = 0;
    for (int l = t->num_layers - 1; l >= 0; l--)
        for (int i = 0; i < t->layers[l].num_params; i++)
            if (t->layers[l].params[i]->requires_grad) {
                (*trainable)++;
                lmin = l;
            }
    return lmin;
}

/* ------------------------------------------------------------------- host store --- */

/* Bring layer l's parameters into the working set (a no-op without a store). */
static int layer_in(L2LTrainer *t, int l)
{
    if (!t->opts.store)
        return 0;
    L2LLayer *layer = &t->layers[l];
    if (l2l_store_fetch(t->opts.store, layer->params, layer->num_params) < 0) {
        prefix_error("bringing layer %d's parameters in from the store", l);
        return -1;
    }
    return 0;
}

/* Bring layer l's optimizer state into the working set for its update (a no-op without
 * a store, or with a store that does not hold the optimizer's state). */
static int layer_state_in(L2LTrainer *t, int l)
{
    if (!t->opts.store)
        return 0;
    L2LLayer *layer = &t->layers[l];
    if (l2l_store_fetch_state(t->opts.store, layer->params, layer->num_params) < 0) {
        prefix_error("bringing layer %d's optimizer state in from the store", l);
        return -1;
    }
    return 0;
}

/* Take layer l's parameters (and its optimizer state, if in) out of the working set,
 * writing their values to the file only if @p write_back (after a successful update). */
static int layer_out(L2LTrainer *t, int l, bool write_back)
{
    if (!t->opts.store)
        return 0;
    L2LLayer *layer = &t->layers[l];
    if (l2l_store_evict(t->opts.store, layer->params, layer->num_params, write_back) < 0) {
        prefix_error("writing layer %d's parameters to the store", l);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ buffer snapshots --- */

/*
 * A copy of every buffer of a module tree, to undo what a forward in training mode does
 * to them (BatchNorm's running statistics and num_batches_tracked). Restoring copies the
 * values back into whatever tensor each slot holds by then.
 */
typedef struct BufferSnapshot {
    int count;
    Tensor **copies; /* owned (retained) */
} BufferSnapshot;

static int count_buffers(const Module *m)
{
    int n = 0;
    for (int i = 0; i < m->num_buffers; i++)
        n += m->buffers[i].tensor != NULL;
    for (int c = 0; c < m->num_children; c++)
        n += count_buffers(m->children[c].module);
    return n;
}

static int copy_buffers_out(const Module *m, Tensor **copies, int *k)
{
    for (int i = 0; i < m->num_buffers; i++) {
        if (!m->buffers[i].tensor)
            continue;
        Scope *s = scope_begin();
        Tensor *copy = tensor_clone(m->buffers[i].tensor);
        tensor_retain(copy);
        scope_end(s);
        if (!copy)
            return -1;
        copies[(*k)++] = copy;
    }
    for (int c = 0; c < m->num_children; c++)
        if (copy_buffers_out(m->children[c].module, copies, k) < 0)
            return -1;
    return 0;
}

static void copy_buffers_in(Module *m, Tensor *const *copies, int *k)
{
    for (int i = 0; i < m->num_buffers; i++) {
        if (!m->buffers[i].tensor)
            continue;
        tensor_copy_(m->buffers[i].tensor, copies[(*k)++]);
    }
    for (int c = 0; c < m->num_children; c++)
        copy_buffers_in(m->children[c].module, copies, k);
}

static void snapshot_free(BufferSnapshot *snap)
{
    for (int i = 0; i < snap->count; i++)
        tensor_release(snap->copies[i]);
    strata_free(snap->copies);
    snap->copies = NULL;
    snap->count = 0;
}

/* Take a snapshot of @p m's buffers (an empty one when it has none). 0 or -1. */
static int snapshot_take(const Module *m, BufferSnapshot *snap)
{
    snap->count = 0;
    snap->copies = NULL;
    int n = count_buffers(m);
    if (n == 0)
        return 0;
    snap->copies = strata_calloc((size_t)n, sizeof *snap->copies);
    if (!snap->copies)
        return -1;
    int k = 0;
    int rc = copy_buffers_out(m, snap->copies, &k);
    snap->count = k;
    if (rc < 0)
        snapshot_free(snap);
    return rc;
}

static void snapshot_restore(Module *m, const BufferSnapshot *snap)
{
    if (snap->count == 0)
        return;
    int k = 0;
    copy_buffers_in(m, snap->copies, &k);
}

/* ------------------------------------------------------- measuring the working set --- */

/*
 * A unit of work measures the bytes it allocates above what was live when it began
 * (the host store), including the tensor it hands to the stash (computed in the
 * working set, as on a device, before it goes to the host).
 */
typedef struct Meter {
    size_t mark;     /* bytes live when the unit began */
    size_t peak;     /* largest working bytes seen */
    size_t abs_peak; /* largest bytes_peak seen (everything) */
} Meter;

static void meter_begin(Meter *m)
{
    m->mark = strata_mem_stats().bytes_live;
    m->peak = 0;
    m->abs_peak = m->mark;
    strata_mem_reset_peak();
}

/* Read the high-water mark since the last reset. */
static void meter_sample(Meter *m)
{
    size_t peak = strata_mem_stats().bytes_peak;
    if (peak > m->abs_peak)
        m->abs_peak = peak;
    size_t above = peak > m->mark ? peak - m->mark : 0;
    if (above > m->peak)
        m->peak = above;
}

/* ---------------------------------------------------------------- one step's run --- */

/* What the units of one pass over a batch share. */
typedef struct Run {
    L2LTrainer *t;
    const Tensor *y;  /* targets [B, ...] */
    int64_t B;        /* rows of the batch */
    int64_t mb;       /* microbatch size */
    int64_t K;        /* microbatches */
    int64_t step;     /* step index for the seeds */
    const Tensor *x;  /* inputs [B, ...]: level 0 of the stash, read through views */
    Tensor **cells;   /* the stash: cell (level, k) at [level * K + k], levels 1..N, one
                         tensor per microbatch (owned) */
    size_t ncells;    /* allocated cells */
    size_t *fwd_peak; /* per-layer largest forward unit (t->run_* or t->need_*) */
    size_t *bwd_peak; /* per-layer largest backward unit */
    size_t stash_bytes;
    double loss;      /* sum over microbatches of rows/B * mean loss */
    TrainProgress *bar;
    int64_t done;     /* units finished, for the progress display */
    int64_t recomputed; /* backward units that recomputed their layer's forward */
} Run;

static int64_t rows_of(const Run *r, int64_t k)
{
    int64_t r0 = k * r->mb;
    return r->B - r0 < r->mb ? r->B - r0 : r->mb;
}

/* Seed the generator for unit (layer, microbatch); returns the caller's state. */
static uint64_t seed_unit(const Run *r, int layer, int64_t k)
{
    uint64_t saved = strata_rng_get_state();
    strata_manual_seed(l2l_unit_seed(r->t->opts.seed, r->step, layer, k));
    return saved;
}

/* A progress display for one pass of the step on the trainer's stream, or NULL. */
static TrainProgress *progress_begin(const L2LTrainer *t, const char *pass, int64_t units,
                                     int64_t every, int64_t *done)
{
    *done = 0;
    if (!t->opts.progress || units < 1)
        return NULL;
    char label[64];
    snprintf(label, sizeof label, "l2l step %lld %s", (long long)t->steps, pass);
    return train_progress_begin(t->opts.progress, units, label, every < 1 ? 1 : every);
}

static void progress(Run *r)
{
    r->done++;
    if (r->bar)
        train_progress_update(r->bar, r->done, r->loss);
}

/* Cell (level, k) of the stash. */
static Tensor **cell(const Run *r, int level, int64_t k)
{
    return &r->cells[(size_t)level * (size_t)r->K + (size_t)k];
}

/* The input rows of microbatch k at boundary @p level: a view of x for level 0, else the
 * stashed tensor (borrowed). */
static Tensor *stash_input(const Run *r, int level, int64_t k)
{
    if (level > 0)
        return *cell(r, level, k);
    return tensor_narrow(r->x, 0, k * r->mb, rows_of(r, k));
}

/*
 * Keep @p value as cell (level, k), without copying when it owns its storage outright
 * (a fresh layer output); a view that shares storage with something else (Flatten,
 * Identity) is copied, so that a cell never keeps more than its own floats alive.
 */
static int stash_keep(Run *r, int level, int64_t k, Tensor *value)
{
    char a[128], b[128];
    const Tensor *first = *cell(r, level, 0);
    if (k > 0 && first) {
        bool same = first->ndim == value->ndim;
        for (int d = 1; same && d < value->ndim; d++)
            same = first->shape[d] == value->shape[d];
        if (!same) {
            strata_set_error("microbatch %lld gives shape %s where the first microbatch gave %s",
                             (long long)k, tensor_shape_str(value, a, sizeof a),
                             tensor_shape_str(first, b, sizeof b));
            return -1;
        }
    }
    bool owned = tensor_is_contiguous(value) && value->offset == 0 &&
                 value->storage->numel == (size_t)tensor_numel(value) &&
                 value->storage->base.refcount == 1;
    Tensor *kept = owned ? value : tensor_clone(value);
    if (!kept)
        return -1;
    tensor_retain(kept);
    Tensor **slot = cell(r, level, k);
    tensor_release(*slot);
    *slot = kept;
    return 0;
}

/*
 * The end of the last layer's forward unit: the loss of microbatch @p k on the layer's
 * output @p out, and its gradient with respect to @p out, which starts the backward pass
 * (it is what the stash keeps for that unit). Allocates in the caller's scope; NULL with
 * an error on failure.
 */
static Tensor *loss_gradient(Run *r, int64_t k, Tensor *out)
{
    L2LTrainer *t = r->t;
    const int64_t r0 = k * r->mb, rows = rows_of(r, k);
    char a[128];
    /* The loss of this microbatch, weighted by its share of the batch: the sum over
     * microbatches of (rows_k / B) * mean_k is the mean over the whole batch, even
     * when the last microbatch is smaller (weighting by 1/K would not be). */
    Var *ov = var_new(out, true);
    Tensor *target = tensor_narrow(r->y, 0, r0, rows);
    Var *loss = ov && target ? t->opts.loss_fn(ov, target, t->opts.loss_ctx) : NULL;
    if (!loss) {
        prefix_error("the loss failed on microbatch %lld (output %s)", (long long)k,
                     tensor_shape_str(out, a, sizeof a));
        return NULL;
    }
    if (tensor_numel(var_data(loss)) != 1) {
        strata_set_error("the loss returned shape %s; it must return one element (the "
                         "mean over the microbatch)",
                         tensor_shape_str(var_data(loss), a, sizeof a));
        return NULL;
    }
    const double weight = (double)rows / (double)r->B;
    Var *weighted = var_mul_scalar(loss, (float)weight);
    if (!weighted || var_backward(weighted) < 0) {
        prefix_error("backward through the loss failed on microbatch %lld", (long long)k);
        return NULL;
    }
    r->loss += weight * (double)tensor_item(var_data(loss));
    Tensor *grad = var_grad(ov);
    if (!grad)
        strata_set_error("the loss does not depend on the last layer's output");
    return grad;
}

/*
 * Forward unit: layer l on microbatch k without a graph; its output becomes S(l+1, k).
 * For the last layer, the loss of the microbatch is computed here instead and the
 * gradient of (rows/B) * loss with respect to the output is stashed.
 */
static int forward_unit(Run *r, int l, int64_t k)
{
    L2LTrainer *t = r->t;
    Module *layer = t->layers[l].module;
    const bool last = l == t->num_layers - 1;
    const int64_t rows = rows_of(r, k);
    char a[128], b[128];
    Meter meter;
    int rc = -1;

    meter_begin(&meter);
    Scope *s = scope_begin();
    Tensor *in = stash_input(r, l, k);
    Var *xv = var_new(in, false);
    uint64_t saved = seed_unit(r, l, k);
    autograd_no_grad_begin();
    Var *yv = xv ? nn_forward(layer, xv) : NULL;
    autograd_no_grad_end();
    strata_rng_set_state(saved);
    if (!yv) {
        prefix_error("layer %d (%s) failed on microbatch %lld, input shape %s", l,
                     nn_module_type_name(layer), (long long)k,
                     tensor_shape_str(in, a, sizeof a));
        goto out;
    }
    Tensor *out = var_data(yv);
    if (out->ndim < 1 || out->shape[0] != rows) {
        strata_set_error("layer %d (%s) maps input %s to output %s: L2L needs layers that "
                         "keep the batch rows (one output row per input row)",
                         l, nn_module_type_name(layer), tensor_shape_str(in, a, sizeof a),
                         tensor_shape_str(out, b, sizeof b));
        goto out;
    }
    Tensor *value = out;
    if (last && !(value = loss_gradient(r, k, out)))
        goto out;
    if (stash_keep(r, l + 1, k, value) < 0) {
        prefix_error("layer %d (%s)", l, nn_module_type_name(layer));
        goto out;
    }
    r->stash_bytes += tensor_bytes(value);
    rc = 0;
out:
    scope_end(s);
    meter_sample(&meter);
    if (meter.peak > r->fwd_peak[l])
        r->fwd_peak[l] = meter.peak;
    if (meter.abs_peak > t->abs_peak)
        t->abs_peak = meter.abs_peak;
    if (rc == 0)
        progress(r);
    return rc;
}

/* SOLUTION END */

/* SOLUTION BEGIN week=4 step=10 tier=given */
/*
 * Skipping the recomputation where the stash already holds what the backward needs (a
 * speed-up, given: the exercise is the recomputation in backward_unit below).
 *
 * The recomputation exists to rebuild what a layer's graph saves for its backward pass.
 * A Linear layer's graph saves nothing but its input and its weights: the input is the
 * stash cell S(l, k), and the weights are in the working set anyway. So its backward
 * runs straight from the stash, with the kernels var_linear's backward uses
 * (autograd/linalg.c), and its gradients reach the parameters as autograd's engine
 * hands them over (autograd/backward.c): the results are the same to the bit as the
 * recomputation's. This saves one matrix product of four per Linear layer and
 * microbatch, the recomputed forward: L2L then runs the three products plain training
 * runs (on microbatches) instead of four, 4/3 of plain at best.
 *
 * Every other layer is recomputed. A pointwise activation's graph holds only its input
 * or its output, but its backward kernel is private to autograd, and its recomputation
 * is one pass over a microbatch's floats (under 0.5% of a step in bench_l2l: not worth a
 * second copy of the kernel); Dropout, BatchNorm and any layer with hooks must be
 * recomputed (masks, statistics, user code).
 */

/* Parameter @p p's gradient += @p g (fresh, made in the caller's scope), as autograd
 * gives it to a leaf: the first microbatch's gradient is adopted as it is, the next ones
 * are added in place (tensor_add_ on equal shapes allocates nothing: it cannot fail). */
static void give_param_grad(Var *p, Tensor *g)
{
    if (p->grad) {
        tensor_add_(p->grad, g);
        return;
    }
    tensor_retain(g); /* the parameter's own reference: it outlives the caller's scope */
    p->grad = g;
}

/*
 * The backward of layer @p layer (index @p l) on microbatch @p k from the stash alone,
 * when the layer is a Linear (weight W, bias b) without hooks. With x = S(l, k) and
 * g = S(l+1, k) seen as rows ([M, in] and [M, out]), as var_linear's backward computes
 * them: grad_W += g^T x, grad_b += the sum of g's rows and, if @p need_input_grad,
 * *gx = g W at x's shape (made in the caller's scope). Everything that can fail runs
 * before a gradient changes. Returns 1 when done, 0 (nothing done) for any other layer,
 * which must be recomputed, or -1 with an error.
 */
static int backward_from_stash(Module *layer, int l, int64_t k, const Tensor *x,
                               const Tensor *g, bool need_input_grad, Tensor **gx)
{
    Var *weight, *bias;
    if (!nn_linear_parts(layer, &weight, &bias))
        return 0;
    const Tensor *w = var_data(weight);
    const bool want_w = weight->requires_grad, want_b = bias && bias->requires_grad;
    const int64_t rows_g[2] = {-1, w->shape[0]}, rows_x[2] = {-1, w->shape[1]};
    const int dim0 = 0;
    Tensor *g2 = tensor_reshape(g, rows_g, 2);
    Tensor *x2 = g2 ? tensor_reshape(x, rows_x, 2) : NULL;
    Tensor *gt = x2 ? tensor_transpose(g2, 0, 1) : NULL; /* a view: the GEMM reads g^T */
    Tensor *gw = gt && want_w ? tensor_matmul(gt, x2) : NULL;
    Tensor *gb = gt && want_b ? tensor_sum(g2, &dim0, 1, false) : NULL;
    *gx = NULL;
    if (gt && need_input_grad) {
        Tensor *gx2 = tensor_matmul(g2, w);
        *gx = gx2 ? tensor_reshape(gx2, x->shape, x->ndim) : NULL;
        tensor_release(gx2); /* *gx alone holds its floats: the stash keeps it, no copy */
    }
    if (!gt || (want_w && !gw) || (want_b && !gb) || (need_input_grad && !*gx)) {
        prefix_error("backward through layer %d (Linear) failed on microbatch %lld", l,
                     (long long)k);
        return -1;
    }
    if (gw)
        give_param_grad(weight, gw);
    if (gb)
        give_param_grad(bias, gb);
    return 1;
}
/* SOLUTION END */

/* SOLUTION BEGIN week=4 step=10 tier=stretch */
/*
 * Backward unit: recompute layer l on microbatch k from its stashed input WITH a graph
 * (same seed, buffers restored after), backpropagate the stashed output gradient into
 * the layer's parameters (accumulating), and, if @p need_input_grad, overwrite the
 * stashed input rows with their gradient. A Linear layer skips the recomputation
 * (backward_from_stash) unless L2LOptions::recompute_all.
 */
static int backward_unit(Run *r, int l, int64_t k, bool need_input_grad)
{
    L2LTrainer *t = r->t;
    Module *layer = t->layers[l].module;
    char a[128], b[128];
    Meter meter;
    BufferSnapshot snap = {0, NULL};
    int rc = -1;

    meter_begin(&meter);
    Scope *s = scope_begin();
    Tensor *in = stash_input(r, l, k);
    Tensor *gout = *cell(r, l + 1, k);
    Tensor *gx_direct = NULL;
    int direct = in && gout && !t->opts.recompute_all
                     ? backward_from_stash(layer, l, k, in, gout, need_input_grad, &gx_direct)
                     : 0;
    if (direct != 0) {
        rc = direct < 0 || (gx_direct && stash_keep(r, l, k, gx_direct) < 0) ? -1 : 0;
        goto out;
    }
    r->recomputed++;
    Var *xv = var_new(in, need_input_grad);
    if (!xv || !gout || snapshot_take(layer, &snap) < 0)
        goto out;
    uint64_t saved = seed_unit(r, l, k);
    Var *yv = nn_forward(layer, xv);
    strata_rng_set_state(saved);
    snapshot_restore(layer, &snap); /* the forward pass already moved them */
    if (!yv) {
        prefix_error("recomputing layer %d (%s) failed on microbatch %lld", l,
                     nn_module_type_name(layer), (long long)k);
        goto out;
    }
    if (!tensor_same_shape(var_data(yv), gout)) {
        strata_set_error("recomputing layer %d (%s) gave shape %s where the forward pass "
                         "gave %s",
                         l, nn_module_type_name(layer),
                         tensor_shape_str(var_data(yv), a, sizeof a),
                         tensor_shape_str(gout, b, sizeof b));
        goto out;
    }
    if (yv->requires_grad && var_backward_ex(yv, gout, false) < 0) {
        prefix_error("backward through layer %d (%s) failed on microbatch %lld", l,
                     nn_module_type_name(layer), (long long)k);
        goto out;
    }
    if (need_input_grad) {
        /* The input is not needed any more: its cell becomes its gradient. */
        Tensor *gx = var_grad(xv);
        if (!gx)
            gx = tensor_zeros_like(in);
        if (!gx || stash_keep(r, l, k, gx) < 0)
            goto out;
    }
    rc = 0;
out:
    snapshot_free(&snap);
    scope_end(s);
    meter_sample(&meter);
    if (meter.peak > r->bwd_peak[l])
        r->bwd_peak[l] = meter.peak;
    if (meter.abs_peak > t->abs_peak)
        t->abs_peak = meter.abs_peak;
    if (rc == 0)
        progress(r);
    return rc;
}

/*
 * Drop the gradients of layer l's trainable parameters before its backward units: the
 * first microbatch's gradient is then adopted as it is (autograd keeps a fresh leaf
 * gradient without copying) and the others are added to it, so the step pays no pass to
 * zero the gradients. A parameter that gets no gradient keeps none, as in plain backprop.
 */
static void drop_layer_grads(L2LLayer *layer)
{
    for (int i = 0; i < layer->num_params; i++)
        if (layer->params[i]->requires_grad)
            var_zero_grad(layer->params[i], true);
}

/* Where parameter @p p sits in @p opt: group and index, or -1. */
static int find_in_optimizer(const Optimizer *opt, const Var *p, int *group, int *index)
{
    for (int g = 0; g < opt->num_groups; g++)
        for (int i = 0; i < opt->groups[g].num_params; i++)
            if (opt->groups[g].params[i] == p) {
                *group = g;
                *index = i;
                return 0;
            }
    return -1;
}

/* Eager update: step the optimizer on layer l's parameters alone. */
static int eager_update(L2LTrainer *t, int l)
{
    Optimizer *opt = t->opts.optimizer;
    L2LLayer *layer = &t->layers[l];
    int rc = 0;
    autograd_no_grad_begin();
    for (int i = 0; i < layer->num_params && rc == 0; i++) {
        Var *p = layer->params[i];
        int g, j;
        if (!p->requires_grad || !p->grad || find_in_optimizer(opt, p, &g, &j) < 0)
            continue;
        rc = opt->ops->update(opt, &opt->groups[g], p, p->grad, &opt->groups[g].state[j]);
        if (rc < 0)
            prefix_error("eager update of layer %d", l);
    }
    autograd_no_grad_end();
    return rc;
}

static void run_release(Run *r)
{
    for (size_t i = 0; r->cells && i < r->ncells; i++)
        tensor_release(r->cells[i]);
    strata_free(r->cells);
    r->cells = NULL;
}

static int run_init(Run *r, L2LTrainer *t, const Tensor *x, const Tensor *y, int64_t B,
                    size_t *fwd_peak, size_t *bwd_peak)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->x = x;
    r->y = y;
    r->B = B;
    r->mb = t->opts.microbatch_size < B ? t->opts.microbatch_size : B;
    r->K = (B + r->mb - 1) / r->mb;
    r->step = t->steps;
    r->fwd_peak = fwd_peak;
    r->bwd_peak = bwd_peak;
    r->ncells = ((size_t)t->num_layers + 1) * (size_t)r->K;
    r->cells = strata_calloc(r->ncells, sizeof *r->cells);
    if (!r->cells)
        return -1;
    for (int l = 0; l < t->num_layers; l++)
        fwd_peak[l] = bwd_peak[l] = 0;
    return 0;
}

/* The working set of a pass: per layer, its parameters plus its largest unit; the max
 * over layers. A backward unit's peak includes the layer's gradients: the first one
 * creates them, the others hold a temporary gradient of the same size to add. With a
 * store that holds the optimizer's state, an eager update also holds the layer's
 * parameters, gradients and state at once (computed from their sizes: the update
 * allocates nothing else). */
static size_t working_set(const L2LTrainer *t, const size_t *fwd, const size_t *bwd, int lmin)
{
    size_t need = 0;
    for (int l = 0; l < t->num_layers; l++) {
        size_t pb, gb;
        layer_sizes(&t->layers[l], &pb, &gb);
        size_t f = pb + fwd[l];
        if (f > need)
            need = f;
        if (l >= lmin) {
            size_t b = pb + bwd[l];
            if (b > need)
                need = b;
        }
        if (l >= lmin && t->opts.eager_update && t->opts.store) {
            const L2LLayer *layer = &t->layers[l];
            size_t u = pb + gb +
                       l2l_store_state_bytes(t->opts.store, layer->params, layer->num_params);
            if (u > need)
                need = u;
        }
    }
    return need;
}

/*
 * The dry run: the first microbatch through every layer, each forward unit followed by
 * that layer's backward unit, with the real units' code, so their allocations are
 * measured exactly. Side effects are undone: buffers (snapshot of the whole model),
 * gradients (each parameter's gradient is set aside and a fresh zero one used), the
 * generator (every unit restores it). Fills t->need_*.
 */
static int dry_run(L2LTrainer *t, const Tensor *x, const Tensor *y, int64_t B)
{
    Run r;
    BufferSnapshot model_buffers;
    if (snapshot_take(t->model, &model_buffers) < 0)
        return -1;
    int64_t trainable;
    const int lmin = lowest_trainable(t, &trainable);
    if (run_init(&r, t, x, y, B, t->need_fwd, t->need_bwd) < 0) {
        snapshot_free(&model_buffers);
        return -1;
    }
    /* One microbatch: a pass over a batch of mb rows; the loss weight stays rows/B. */
    r.B = r.mb;
    r.K = 1;
    int rc = 0;
    for (int l = 0; l < t->num_layers && rc == 0; l++) {
        rc = layer_in(t, l);
        if (rc == 0)
            rc = forward_unit(&r, l, 0);
        if (rc < 0 || l < lmin) {
            layer_out(t, l, false);
            continue;
        }
        /* Set the gradients aside; the unit accumulates into fresh zero ones. */
        L2LLayer *layer = &t->layers[l];
        Tensor **kept = strata_calloc((size_t)layer->num_params + 1, sizeof *kept);
        if (!kept) {
            layer_out(t, l, false);
            rc = -1;
            break;
        }
        for (int i = 0; i < layer->num_params; i++) {
            kept[i] = layer->params[i]->grad;
            layer->params[i]->grad = NULL;
        }
        rc = backward_unit(&r, l, 0, l > lmin);
        for (int i = 0; i < layer->num_params; i++) {
            tensor_release(layer->params[i]->grad);
            layer->params[i]->grad = kept[i];
        }
        strata_free(kept);
        if (layer_out(t, l, false) < 0)
            rc = -1;
        /* The input level is not needed any more (the next unit reads level l+1). */
        if (l > 0) {
            tensor_release(*cell(&r, l, 0));
            *cell(&r, l, 0) = NULL;
        }
    }
    snapshot_restore(t->model, &model_buffers);
    snapshot_free(&model_buffers);
    /* Each level held mb rows: the stash of a full batch holds B. */
    size_t stash_full = r.stash_bytes / (size_t)r.mb * (size_t)B;
    run_release(&r);
    if (rc < 0)
        return -1;
    t->need_stash = stash_full;
    t->need_valid = true;
    t->x_ndim = x->ndim;
    t->y_ndim = y->ndim;
    memcpy(t->x_shape, x->shape, sizeof t->x_shape);
    memcpy(t->y_shape, y->shape, sizeof t->y_shape);
    t->need_lmin = lmin;
    t->need_trainable = trainable;
    return 0;
}

/* Run the dry run unless its measurements hold for this batch's shapes. */
static int ensure_need(L2LTrainer *t, const Tensor *x, const Tensor *y, int64_t B)
{
    int64_t trainable;
    const int lmin = lowest_trainable(t, &trainable);
    bool valid = t->need_valid && t->x_ndim == x->ndim && t->y_ndim == y->ndim &&
                 t->need_lmin == lmin && t->need_trainable == trainable;
    for (int d = 0; valid && d < x->ndim; d++)
        valid = t->x_shape[d] == x->shape[d];
    for (int d = 0; valid && d < y->ndim; d++)
        valid = t->y_shape[d] == y->shape[d];
    if (valid)
        return 0;
    t->need_valid = false;
    return dry_run(t, x, y, B);
}

static void fill_need(const L2LTrainer *t, int64_t B, L2LStats *out)
{
    memset(out, 0, sizeof *out);
    int64_t mb = t->opts.microbatch_size < B ? t->opts.microbatch_size : B;
    out->loss = NAN;
    out->batch_size = B;
    out->num_microbatches = (B + mb - 1) / mb;
    out->num_layers = t->num_layers;
    out->working_need_bytes = working_set(t, t->need_fwd, t->need_bwd, t->need_lmin);
    out->stash_bytes = t->need_stash;
}

/* ------------------------------------------------------- the phases of l2l_step --- */

/*
 * Phase 1 of l2l_step, validate: the dry run checks every layer on a real microbatch and
 * measures the working set (ensure_need), then the budget is checked against it. Nothing
 * has changed yet, so a failure here needs no undoing. Fills @p need with the estimates.
 */
static int check_step(const char *fn, L2LTrainer *t, const Tensor *x, const Tensor *y,
                      int64_t B, L2LStats *need)
{
    if (ensure_need(t, x, y, B) < 0) {
        prefix_error("%s", fn);
        return -1;
    }
    fill_need(t, B, need);
    if (t->opts.memory_budget > 0 && need->working_need_bytes > t->opts.memory_budget) {
        strata_set_error("%s: this configuration needs %zu bytes of working memory (the "
                         "largest layer's weights and gradients plus one microbatch of "
                         "size %lld through it) but the budget is %zu bytes; use a smaller "
                         "microbatch or a larger budget",
                         fn, need->working_need_bytes, (long long)t->opts.microbatch_size,
                         t->opts.memory_budget);
        return -1;
    }
    return 0;
}

/*
 * Phase 2 of l2l_step, forward: layer by layer over every microbatch, no graph; the
 * boundary activations go to the stash, the last layer's to the loss. The weights are
 * not changed by a forward pass, so each layer leaves without a write-back. The only
 * state a forward pass changes is the buffers (BatchNorm's running statistics): on a
 * failure they are put back from @p buffers, taken before the pass. The snapshot is
 * freed either way.
 */
static int forward_pass(Run *r, L2LTrainer *t, BufferSnapshot *buffers)
{
    int rc = 0;
    for (int l = 0; l < t->num_layers && rc == 0; l++) {
        rc = layer_in(t, l); /* with a store: layer l's weights come in for its units */
        for (int64_t k = 0; k < r->K && rc == 0; k++)
            rc = forward_unit(r, l, k);
        if (layer_out(t, l, false) < 0) /* unchanged: nothing to write back */
            rc = -1;
    }
    if (rc < 0)
        snapshot_restore(t->model, buffers);
    snapshot_free(buffers);
    return rc;
}

/*
 * Phase 3 of l2l_step, backward: from the last layer down to @p lmin, the lowest one with
 * something to train (below it no gradient is needed). Layer l reads cell (l, k) (its
 * input) and cell (l+1, k) (the gradient of its output) and leaves the gradient of its
 * input in cell (l, k); the gradient of the output is released as soon as it is used,
 * so the stash shrinks as the pass goes down. With eager updates a layer is updated
 * here, as soon as its gradients are complete.
 */
static int backward_pass(Run *r, L2LTrainer *t, int lmin)
{
    int rc = 0;
    for (int l = t->num_layers - 1; l >= lmin && rc == 0; l--) {
        rc = layer_in(t, l);
        if (rc == 0)
            drop_layer_grads(&t->layers[l]);
        for (int64_t k = 0; k < r->K && rc == 0; k++) {
            rc = backward_unit(r, l, k, l > lmin);
            tensor_release(*cell(r, l + 1, k)); /* the gradient of the output: done */
            *cell(r, l + 1, k) = NULL;
        }
        if (rc == 0 && t->opts.eager_update) {
            rc = layer_state_in(t, l); /* the state comes in for the update alone */
            if (rc == 0)
                rc = eager_update(t, l);
        }
        /* With a store, the new weights reach the file only after a successful update
         * (a failed one leaves the file as it was); the gradients, consumed, go too. */
        const bool updated = rc == 0 && t->opts.eager_update;
        if (layer_out(t, l, updated) < 0)
            rc = -1;
        if (updated && t->opts.store)
            drop_layer_grads(&t->layers[l]);
    }
    return rc;
}

/*
 * Phase 4 of l2l_step (without eager updates), the update that needs every gradient:
 * clipping by the global norm (it needs all @p trainable parameters at once), then the
 * optimizer's step.
 */
static int clip_and_step(L2LTrainer *t, int64_t trainable)
{
    if (t->opts.clip_grad_norm > 0.0f && trainable > 0) {
        Var **params = strata_malloc((size_t)trainable * sizeof *params);
        int n = 0;
        for (int l = 0; params && l < t->num_layers; l++)
            for (int i = 0; i < t->layers[l].num_params; i++)
                if (t->layers[l].params[i]->requires_grad)
                    params[n++] = t->layers[l].params[i];
        /* A negative norm is the call's failure; NaN gradients give a NaN norm
         * (as in PyTorch), which is not an error here. */
        float norm = params ? optim_clip_grad_norm(params, n, t->opts.clip_grad_norm, 2.0f)
                            : -1.0f;
        strata_free(params);
        if (norm < 0.0f)
            return -1;
    }
    return t->opts.optimizer ? optim_step(t->opts.optimizer) : 0;
}
/* SOLUTION END */

int l2l_estimate(L2LTrainer *t, const Tensor *x, const Tensor *y, L2LStats *out)
{
    int64_t B;
    if (check_batch("l2l_estimate", t, x, y, &B) < 0)
        return -1;
    /* SOLUTION BEGIN week=4 step=13 tier=stretch fail=-1 */
    double t0 = train_now_seconds();
    if (ensure_need(t, x, y, B) < 0) {
        prefix_error("l2l_estimate");
        return -1;
    }
    if (out) {
        fill_need(t, B, out);
        out->seconds = train_now_seconds() - t0;
    }
    return 0;
    /* SOLUTION END */
}

int l2l_step(L2LTrainer *t, const Tensor *x, const Tensor *y, L2LStats *stats)
{
    int64_t B;
    if (check_batch(__func__, t, x, y, &B) < 0)
        return -1;
    /* SOLUTION BEGIN week=4 step=10 tier=stretch fail=-1 */
    double t0 = train_now_seconds();
    t->abs_peak = strata_mem_stats().bytes_live;

    /* 1. Validate (dry run, budget): nothing has changed yet. */
    L2LStats need;
    if (check_step(__func__, t, x, y, B, &need) < 0)
        return -1;

    Run r;
    BufferSnapshot buffers;
    if (snapshot_take(t->model, &buffers) < 0)
        return -1;
    if (run_init(&r, t, x, y, B, t->run_fwd, t->run_bwd) < 0) {
        snapshot_free(&buffers);
        return -1;
    }
    int64_t trainable;
    const int lmin = lowest_trainable(t, &trainable);
    const int N = t->num_layers;
    /* The progress display: one bar (or a few plain lines) per pass, counting units
     * (one layer on one microbatch) in the order they run. */
    int64_t every_fwd = (int64_t)N * r.K / 10, every_bwd = (int64_t)(N - lmin) * r.K / 10;
    r.bar = progress_begin(t, "forward", (int64_t)N * r.K, every_fwd, &r.done);

    /* 2. Forward, every layer; a failure has undone itself (the buffers). */
    if (forward_pass(&r, t, &buffers) < 0) {
        train_progress_end(r.bar);
        run_release(&r);
        prefix_error("%s", __func__);
        return -1;
    }
    train_progress_end(r.bar);
    r.bar = progress_begin(t, "backward", (int64_t)(N - lmin) * r.K, every_bwd, &r.done);

    /* 3. Backward, down to the lowest layer with something to train (with eager
     *    updates, each layer is updated as soon as its gradients are complete). */
    int rc = backward_pass(&r, t, lmin);

    /* 4. The update that needs every gradient, or the count of the eager one. */
    if (rc == 0 && !t->opts.eager_update)
        rc = clip_and_step(t, trainable);
    else if (rc == 0)
        t->opts.optimizer->steps++; /* one optimizer step, taken layer by layer */
    train_progress_end(r.bar);
    size_t stash_bytes = r.stash_bytes;
    double loss = r.loss;
    run_release(&r);
    if (rc == 0 && t->opts.store)
        rc = l2l_store_sync(t->opts.store); /* the buffers, and a flush */
    if (rc < 0) {
        prefix_error("%s", __func__);
        return -1;
    }

    /* 5. The step counts: its statistics, measured and estimated. */
    size_t live = strata_mem_stats().bytes_live;
    if (live > t->abs_peak)
        t->abs_peak = live;
    if (stats) {
        *stats = need;
        stats->loss = loss;
        stats->working_peak_bytes = working_set(t, t->run_fwd, t->run_bwd, lmin);
        stats->stash_bytes = stash_bytes;
        stats->peak_bytes = t->abs_peak;
        stats->seconds = train_now_seconds() - t0;
        stats->recomputed_units = r.recomputed;
    }
    t->steps++;
    return 0;
    /* SOLUTION END */
}
