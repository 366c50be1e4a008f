/*
 * scenarios.c - the calls the fault-injection walks make fail (test_alloc.c walks their
 * allocations, test_io.c their file calls), each with the state it must not change.
 */
#include "scenarios.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

Tensor *seeded(const int64_t *shape, int ndim, uint64_t seed)
{
    strata_manual_seed(seed);
    Tensor *t = tensor_randn(shape, ndim);
    ck_assert_msg(t != NULL, "%s", strata_last_error());
    return t;
}

/* ------------------------------------------------------ tensors: create and print --- */

int tensors_call(void *ctx)
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


/* ------------------------------------------------------ forward and backward --- */


int forward_backward_call(void *ctx)
{
    NetCtx *c = ctx;
    Var *out = nn_forward(c->model, var_new(c->x, false));
    Var *loss = nn_cross_entropy(out, c->y);
    return loss ? var_backward(loss) : -1;
}

/* The parameters and their gradients (BatchNorm's running statistics are the forward's
 * to change: a forward that succeeded before the backward failed has run). */
void params_state(void *ctx, FaultBytes *out)
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

void module_state(void *ctx, FaultBytes *out)
{
    fault_bytes_module(out, ((NetCtx *)ctx)->model);
}

NetCtx mlp_ctx(void)
{
    NetCtx c = {fault_mlp(), seeded(SHAPE(5, 4), 2, 3), NULL};
    c.y = tensor_from_data((const float[]){0, 2, 1, 1, 0}, SHAPE(5), 1);
    return c;
}

NetCtx cnn_ctx(void)
{
    NetCtx c = {fault_cnn(), seeded(SHAPE(2, 1, 6, 6), 4, 5), NULL};
    c.y = tensor_from_data((const float[]){2, 0}, SHAPE(2), 1);
    return c;
}

void net_free(NetCtx *c)
{
    nn_module_free(c->model);
    tensor_release(c->x);
    tensor_release(c->y);
}



int forward_call(void *ctx)
{
    NetCtx *c = ctx;
    return nn_forward(c->model, var_new(c->x, false)) ? 0 : -1;
}

/* A BatchNorm layer's forward in training mode updates its running statistics: only
 * when it succeeds. (A model's forward that fails in a later layer keeps what the
 * layers before it did, as in PyTorch.) */

/* ------------------------------------------------------------ optimizer steps --- */


int step_call(void *ctx) { return optim_step(((StepCtx *)ctx)->opt); }

void step_state(void *ctx, FaultBytes *out)
{
    StepCtx *c = ctx;
    fault_bytes_module(out, c->net.model);
    fault_bytes_optim(out, c->opt);
}



/* ------------------------------------------------- state dicts and checkpoints --- */


int save_call(void *ctx)
{
    FileCtx *c = ctx;
    return nn_save(c->s.net.model, c->path);
}

int load_call(void *ctx)
{
    FileCtx *c = ctx;
    return nn_load(c->s.net.model, c->path, true);
}

int checkpoint_save_call(void *ctx)
{
    FileCtx *c = ctx;
    return train_checkpoint_save(c->path, c->s.net.model, c->s.opt, c->sched, 3);
}

int checkpoint_load_call(void *ctx)
{
    FileCtx *c = ctx;
    int64_t epoch = -1;
    int rc = train_checkpoint_load(c->path, c->s.net.model, c->s.opt, c->sched, &epoch);
    return rc == 0 && epoch == 3 ? 0 : -1;
}

void file_state(void *ctx, FaultBytes *out)
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
FileCtx file_ctx(const char *name)
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

void file_free(FileCtx *c)
{
    optim_scheduler_free(c->sched);
    optim_free(c->s.opt);
    net_free(&c->s.net);
    fault_dir_remove();
}

/* Change the model, the optimizer and the scheduler, so a load has work to do. */
void perturb(FileCtx *c)
{
    Scope *s = scope_begin();
    ck_assert_int_eq(forward_backward_call(&c->s.net), 0);
    scope_end(s);
    ck_assert_int_eq(optim_step(c->s.opt), 0);
    ck_assert_int_eq(optim_scheduler_step(c->sched), 0);
    strata_manual_seed(99);
}



/* ------------------------------------------------------------ L2L and its store --- */


int l2l_call(void *ctx)
{
    L2LCtx *c = ctx;
    return l2l_step(c->trainer, c->s.net.x, c->s.net.y, NULL);
}

void l2l_state(void *ctx, FaultBytes *out)
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
void l2l_drop_grads(void *ctx)
{
    L2LCtx *c = ctx;
    nn_zero_grad(c->s.net.model, true);
}

/* The store is kept on success (the walk ends there); the test frees it. */
int store_create_call(void *ctx)
{
    L2LCtx *c = ctx;
    c->store = l2l_store_create(fault_path("store.safetensors"), c->s.net.model, c->s.opt);
    return c->store ? 0 : -1;
}

int store_open_call(void *ctx)
{
    L2LCtx *c = ctx;
    c->store = l2l_store_open(fault_path("store.safetensors"), c->s.net.model, c->s.opt);
    return c->store ? 0 : -1;
}

L2LTrainer *l2l_trainer(L2LCtx *c)
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


