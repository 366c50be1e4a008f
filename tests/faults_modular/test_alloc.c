/*
 * test_alloc.c - allocation failure injection: each scenario's every allocation point
 * made to fail in turn (faults.h). The numbers each walk prints are the figures of
 * docs/bad-input.md ("Fault injection").
 */
#include "faults.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* The memory a test starts with must be there at its end (what the walks create and
 * free in between included). */
#define MEM_BEGIN size_t fault_live0_ = strata_mem_stats().bytes_live
#define MEM_END ck_assert_uint_eq(strata_mem_stats().bytes_live, fault_live0_)

static Tensor *seeded(const int64_t *shape, int ndim, uint64_t seed)
{
    strata_manual_seed(seed);
    Tensor *t = tensor_randn(shape, ndim);
    ck_assert_msg(t != NULL, "%s", strata_last_error());
    return t;
}

/* ------------------------------------------------------ tensors: create and print --- */

static int tensors_call(void *ctx)
{
    (void)ctx;
    Tensor *a = tensor_arange(0, 12, 1);
    Tensor *m = a ? tensor_reshape(a, SHAPE(3, 4), 2) : NULL;
    Tensor *w = tensor_full(SHAPE(4, 2), 2, 0.5f);
    Tensor *p = tensor_matmul(m, w);
    Tensor *t = tensor_transpose(p, 0, 1);
    Tensor *c = tensor_cat((Tensor *[]){t, t}, 2, 0);
    Tensor *sm = tensor_softmax(c, 1);
    Tensor *s = tensor_sum(sm, (int[]){0}, 1, true);
    Tensor *b = tensor_add(s, tensor_zeros(SHAPE(2, 1), 2));
    char *text = tensor_repr(b);
    int rc = text && strstr(text, "tensor(") ? 0 : -1;
    strata_free(text);
    return rc;
}

START_TEST(alloc_tensors_create_and_print)
{
    MEM_BEGIN;
    FaultScenario sc = {"tensors: create, compute, print", tensors_call, NULL, NULL, NULL};
    FaultWalk w = fault_walk_alloc(&sc);
    ck_assert_uint_gt(w.points, 10);
    MEM_END;
}
END_TEST

/* ------------------------------------------------------ forward and backward --- */

typedef struct NetCtx {
    Module *model;
    Tensor *x, *y;
} NetCtx;

static int forward_backward_call(void *ctx)
{
    NetCtx *c = ctx;
    Var *out = nn_forward(c->model, var_new(c->x, false));
    Var *loss = nn_cross_entropy(out, c->y);
    return loss ? var_backward(loss) : -1;
}

/* The parameters and their gradients (BatchNorm's running statistics are the forward's
 * to change: a forward that succeeded before the backward failed has run). */
static void params_state(void *ctx, FaultBytes *out)
{
    NetCtx *c = ctx;
    NnNamedVars *params = nn_named_parameters(c->model);
    ck_assert_ptr_nonnull(params);
    for (int i = 0; i < params->count; i++) {
        fault_bytes_tensor(out, params->names[i], var_data(params->vars[i]));
        fault_bytes_tensor(out, params->names[i], var_grad(params->vars[i]));
    }
    nn_named_vars_free(params);
}

static void module_state(void *ctx, FaultBytes *out)
{
    fault_bytes_module(out, ((NetCtx *)ctx)->model);
}

static NetCtx mlp_ctx(void)
{
    NetCtx c = {fault_mlp(), seeded(SHAPE(5, 4), 2, 3), NULL};
    c.y = tensor_from_data((const float[]){0, 2, 1, 1, 0}, SHAPE(5), 1);
    return c;
}

static NetCtx cnn_ctx(void)
{
    NetCtx c = {fault_cnn(), seeded(SHAPE(2, 1, 6, 6), 4, 5), NULL};
    c.y = tensor_from_data((const float[]){2, 0}, SHAPE(2), 1);
    return c;
}

static void net_free(NetCtx *c)
{
    nn_module_free(c->model);
    tensor_release(c->x);
    tensor_release(c->y);
}

START_TEST(alloc_mlp_forward_backward)
{
    MEM_BEGIN;
    NetCtx c = mlp_ctx();
    FaultScenario sc = {"MLP forward and backward", forward_backward_call, module_state, &c, NULL};
    fault_walk_alloc(&sc);
    ck_assert_ptr_nonnull(var_grad(nn_get_parameter(nn_child_at(c.model, 0), "weight")));
    net_free(&c);
    MEM_END;
}
END_TEST

START_TEST(alloc_cnn_forward_backward)
{
    MEM_BEGIN;
    NetCtx c = cnn_ctx();
    FaultScenario sc = {"CNN forward and backward", forward_backward_call, params_state, &c, NULL};
    fault_walk_alloc(&sc);
    ck_assert_ptr_nonnull(var_grad(nn_get_parameter(nn_child_at(c.model, 0), "weight")));
    net_free(&c);
    MEM_END;
}
END_TEST

static int forward_call(void *ctx)
{
    NetCtx *c = ctx;
    return nn_forward(c->model, var_new(c->x, false)) ? 0 : -1;
}

/* A BatchNorm layer's forward in training mode updates its running statistics: only
 * when it succeeds. (A model's forward that fails in a later layer keeps what the
 * layers before it did, as in PyTorch.) */
START_TEST(alloc_batchnorm_forward_train_mode)
{
    MEM_BEGIN;
    strata_manual_seed(13);
    NetCtx c = {nn_batch_norm2d(4), seeded(SHAPE(2, 4, 3, 3), 4, 5), NULL};
    ck_assert_ptr_nonnull(c.model);
    FaultScenario sc = {"BatchNorm2d forward (stats)", forward_call, module_state, &c, NULL};
    fault_walk_alloc(&sc);
    net_free(&c);
    MEM_END;
}
END_TEST

/* ------------------------------------------------------------ optimizer steps --- */

typedef struct StepCtx {
    NetCtx net;
    Optimizer *opt;
} StepCtx;

static int step_call(void *ctx) { return optim_step(((StepCtx *)ctx)->opt); }

static void step_state(void *ctx, FaultBytes *out)
{
    StepCtx *c = ctx;
    fault_bytes_module(out, c->net.model);
    fault_bytes_optim(out, c->opt);
}

/* One optimizer's step walked twice: the first (its state created) and a later one. */
static void walk_steps(const char *name, Optimizer *(*make)(Module *))
{
    MEM_BEGIN;
    StepCtx c = {mlp_ctx(), NULL};
    c.opt = make(c.net.model);
    ck_assert_msg(c.opt != NULL, "%s", strata_last_error());
    Scope *s = scope_begin();
    ck_assert_int_eq(forward_backward_call(&c.net), 0);
    scope_end(s);
    char first[64], later[64];
    snprintf(first, sizeof first, "%s: first step", name);
    snprintf(later, sizeof later, "%s: later step", name);
    FaultScenario sc = {first, step_call, step_state, &c, NULL};
    fault_walk_alloc(&sc);
    sc.name = later;
    fault_walk_alloc(&sc);
    optim_free(c.opt);
    net_free(&c.net);
    MEM_END;
}

static Optimizer *make_sgd(Module *m) { return optim_sgd(m, 0.1f, 0.9f); }
static Optimizer *make_adam(Module *m) { return optim_adam(m, 0.01f); }
static Optimizer *make_adamw(Module *m) { return optim_adamw(m, 0.01f, 0.1f); }
static Optimizer *make_rmsprop(Module *m) { return optim_rmsprop(m, 0.01f); }

START_TEST(alloc_step_sgd) { walk_steps("SGD (momentum)", make_sgd); }
END_TEST
START_TEST(alloc_step_adam) { walk_steps("Adam", make_adam); }
END_TEST
START_TEST(alloc_step_adamw) { walk_steps("AdamW", make_adamw); }
END_TEST
START_TEST(alloc_step_rmsprop) { walk_steps("RMSprop", make_rmsprop); }
END_TEST

/* ------------------------------------------------- state dicts and checkpoints --- */

typedef struct FileCtx {
    StepCtx s;
    LRScheduler *sched;
    const char *path;
} FileCtx;

static int save_call(void *ctx)
{
    FileCtx *c = ctx;
    return nn_save(c->s.net.model, c->path);
}

static int load_call(void *ctx)
{
    FileCtx *c = ctx;
    return nn_load(c->s.net.model, c->path, true);
}

static int checkpoint_save_call(void *ctx)
{
    FileCtx *c = ctx;
    return train_checkpoint_save(c->path, c->s.net.model, c->s.opt, c->sched, 3);
}

static int checkpoint_load_call(void *ctx)
{
    FileCtx *c = ctx;
    int64_t epoch = -1;
    int rc = train_checkpoint_load(c->path, c->s.net.model, c->s.opt, c->sched, &epoch);
    return rc == 0 && epoch == 3 ? 0 : -1;
}

static void file_state(void *ctx, FaultBytes *out)
{
    FileCtx *c = ctx;
    step_state(&c->s, out);
    if (c->sched) {
        int64_t e = optim_scheduler_epoch(c->sched);
        fault_bytes_add(out, &e, sizeof e);
    }
    uint64_t rng = strata_rng_get_state();
    fault_bytes_add(out, &rng, sizeof rng);
}

/* A model and Adam after one step, a step scheduler after two epochs. */
static FileCtx file_ctx(const char *name)
{
    FileCtx c = {{mlp_ctx(), NULL}, NULL, fault_path(name)};
    c.s.opt = optim_adam(c.s.net.model, 0.01f);
    ck_assert_ptr_nonnull(c.s.opt);
    Scope *s = scope_begin();
    ck_assert_int_eq(forward_backward_call(&c.s.net), 0);
    scope_end(s);
    ck_assert_int_eq(optim_step(c.s.opt), 0);
    c.sched = optim_step_lr(c.s.opt, 1, 0.5f);
    ck_assert_ptr_nonnull(c.sched);
    ck_assert_int_eq(optim_scheduler_step(c.sched), 0);
    ck_assert_int_eq(optim_scheduler_step(c.sched), 0);
    return c;
}

static void file_free(FileCtx *c)
{
    optim_scheduler_free(c->sched);
    optim_free(c->s.opt);
    net_free(&c->s.net);
    fault_dir_remove();
}

/* Change the model, the optimizer and the scheduler, so a load has work to do. */
static void perturb(FileCtx *c)
{
    Scope *s = scope_begin();
    ck_assert_int_eq(forward_backward_call(&c->s.net), 0);
    scope_end(s);
    ck_assert_int_eq(optim_step(c->s.opt), 0);
    ck_assert_int_eq(optim_scheduler_step(c->sched), 0);
    strata_manual_seed(99);
}

START_TEST(alloc_state_dict_save_and_load)
{
    MEM_BEGIN;
    FileCtx c = file_ctx("model.safetensors");
    FaultScenario save = {"nn_save", save_call, file_state, &c, NULL};
    fault_walk_alloc(&save); /* the first save: no previous file */
    fault_walk_alloc(&save); /* over the previous file */
    perturb(&c);
    FaultScenario load = {"nn_load", load_call, file_state, &c, NULL};
    fault_walk_alloc(&load);
    file_free(&c);
    MEM_END;
}
END_TEST

START_TEST(alloc_checkpoint_save_and_resume)
{
    MEM_BEGIN;
    FileCtx c = file_ctx("run.ckpt");
    FaultScenario save = {"train_checkpoint_save", checkpoint_save_call, file_state, &c, NULL};
    fault_walk_alloc(&save);
    fault_walk_alloc(&save);
    perturb(&c);
    FaultScenario load = {"train_checkpoint_load", checkpoint_load_call, file_state, &c, NULL};
    fault_walk_alloc(&load);
    file_free(&c);
    MEM_END;
}
END_TEST

/* ------------------------------------------------------------ L2L and its store --- */

typedef struct L2LCtx {
    StepCtx s;
    L2LStore *store;
    L2LTrainer *trainer;
} L2LCtx;

static int l2l_call(void *ctx)
{
    L2LCtx *c = ctx;
    return l2l_step(c->trainer, c->s.net.x, c->s.net.y, NULL);
}

static void l2l_state(void *ctx, FaultBytes *out)
{
    L2LCtx *c = ctx;
    step_state(&c->s, out);
    int64_t steps = l2l_steps(c->trainer);
    fault_bytes_add(out, &steps, sizeof steps);
    uint64_t rng = strata_rng_get_state();
    fault_bytes_add(out, &rng, sizeof rng);
}

/*
 * l2l_step's promise (optim.h): a failure leaves the model, its buffers, the optimizer
 * and the generator as they were, except that once the forward pass has succeeded an
 * allocation failure in the backward pass keeps the gradients of the layers already
 * done (it computes them layer by layer, in constant memory). The walk starts with no
 * gradients and drops those after a failure; everything else must be unchanged.
 */
static void l2l_drop_grads(void *ctx)
{
    L2LCtx *c = ctx;
    nn_zero_grad(c->s.net.model, true);
}

/* The store is kept on success (the walk ends there); the test frees it. */
static int store_create_call(void *ctx)
{
    L2LCtx *c = ctx;
    c->store = l2l_store_create(fault_path("store.safetensors"), c->s.net.model, c->s.opt);
    return c->store ? 0 : -1;
}

static int store_open_call(void *ctx)
{
    L2LCtx *c = ctx;
    c->store = l2l_store_open(fault_path("store.safetensors"), c->s.net.model, c->s.opt);
    return c->store ? 0 : -1;
}

static L2LTrainer *l2l_trainer(L2LCtx *c)
{
    L2LOptions o = {0};
    o.microbatch_size = 2;
    o.optimizer = c->s.opt;
    o.eager_update = c->s.opt != NULL;
    o.store = c->store;
    L2LTrainer *t = l2l_new(c->s.net.model, &o);
    ck_assert_msg(t != NULL, "%s", strata_last_error());
    return t;
}

START_TEST(alloc_l2l_step_with_store)
{
    MEM_BEGIN;
    L2LCtx c = {{mlp_ctx(), NULL}, NULL, NULL};
    c.s.opt = optim_adam(c.s.net.model, 0.01f);
    ck_assert_ptr_nonnull(c.s.opt);
    c.trainer = l2l_trainer(&c);
    FaultScenario create = {"l2l_store_create", store_create_call, l2l_state, &c, NULL};
    fault_walk_alloc(&create); /* no file yet */
    l2l_store_free(c.store);
    fault_walk_alloc(&create); /* over the previous file */
    l2l_store_free(c.store);
    FaultScenario open = {"l2l_store_open", store_open_call, l2l_state, &c, NULL};
    fault_walk_alloc(&open);
    l2l_free(c.trainer);
    l2l_store_free(c.store);

    /* The step: gradients only. (With an optimizer and eager_update each layer is
     * updated as soon as its gradients are complete, so a step that runs out of memory
     * in a later layer keeps the earlier layers' updates: optim.h says so.) */
    Optimizer *opt = c.s.opt;
    c.s.opt = NULL;
    c.store = l2l_store_create(fault_path("grads.safetensors"), c.s.net.model, NULL);
    ck_assert_msg(c.store != NULL, "%s", strata_last_error());
    c.trainer = l2l_trainer(&c);
    c.s.opt = opt;
    FaultScenario first = {"l2l_step with store: first", l2l_call, l2l_state, &c,
                           l2l_drop_grads};
    fault_walk_alloc(&first);
    FaultScenario later = {"l2l_step with store: later", l2l_call, l2l_state, &c,
                           l2l_drop_grads};
    nn_zero_grad(c.s.net.model, true);
    fault_walk_alloc(&later);
    l2l_free(c.trainer);
    l2l_store_free(c.store);
    optim_free(c.s.opt);
    net_free(&c.s.net);
    fault_dir_remove();
    MEM_END;
}
END_TEST

/* --------------------------------------------------------- modular norm, dualize --- */

typedef struct ModCtx {
    ModularModule *m;
    Tensor *g[3], *out[3];
    int n;
} ModCtx;

static int modular_call(void *ctx)
{
    ModCtx *c = ctx;
    float norm = modular_norm(c->m, c->g);
    if (isnan(norm))
        return -1;
    return modular_dualize(c->m, c->g, c->out, 1.0f);
}

static void modular_state(void *ctx, FaultBytes *out)
{
    ModCtx *c = ctx;
    for (int i = 0; i < c->n; i++) {
        fault_bytes_tensor(out, "g", c->g[i]);
        fault_bytes_tensor(out, "out", c->out[i]);
    }
}

START_TEST(alloc_modular_norm_and_dualize)
{
    MEM_BEGIN;
    strata_manual_seed(21);
    ModCtx c = {modular_mlp(3, 6, 8, 3), {NULL}, {NULL}, 0};
    ck_assert_msg(c.m != NULL, "%s", strata_last_error());
    ck_assert_int_eq(modular_initialize(c.m), 0);
    c.n = modular_num_atoms(c.m);
    ck_assert_int_eq(c.n, 3);
    for (int i = 0; i < c.n; i++) {
        Tensor *w = var_data(modular_weight_get(c.m, i));
        c.g[i] = seeded(w->shape, w->ndim, 30 + (uint64_t)i);
        c.out[i] = tensor_zeros(w->shape, w->ndim);
        ck_assert_ptr_nonnull(c.out[i]);
    }
    FaultScenario sc = {"modular_norm and dualize", modular_call, modular_state, &c, NULL};
    fault_walk_alloc(&sc);
    for (int i = 0; i < c.n; i++) {
        tensor_release(c.g[i]);
        tensor_release(c.out[i]);
    }
    modular_free(c.m);
    MEM_END;
}
END_TEST

void add_alloc_tests(Suite *s)
{
    GRADED_TIMED(s, alloc_tensors_create_and_print, 1, 60);
    GRADED_TIMED(s, alloc_mlp_forward_backward, 1, 60);
    GRADED_TIMED(s, alloc_cnn_forward_backward, 1, 60);
    GRADED_TIMED(s, alloc_batchnorm_forward_train_mode, 1, 60);
    GRADED_TIMED(s, alloc_step_sgd, 1, 60);
    GRADED_TIMED(s, alloc_step_adam, 1, 60);
    GRADED_TIMED(s, alloc_step_adamw, 1, 60);
    GRADED_TIMED(s, alloc_step_rmsprop, 1, 60);
    GRADED_TIMED(s, alloc_state_dict_save_and_load, 1, 60);
    GRADED_TIMED(s, alloc_checkpoint_save_and_resume, 1, 60);
    GRADED_TIMED(s, alloc_l2l_step_with_store, 1, 60);
    GRADED_TIMED(s, alloc_modular_norm_and_dualize, 1, 60);
}
