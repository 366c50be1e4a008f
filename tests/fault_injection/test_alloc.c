/*
 * test_alloc.c - allocation failure injection: each scenario's every allocation point
 * made to fail in turn (faults.h). The numbers each walk prints are the figures of
 * docs/bad-input.md ("Fault injection").
 */
#include "scenarios.h"

#include <math.h>
#include <string.h>

START_TEST(alloc_tensors_create_and_print)
{
    MEM_BEGIN;
    FaultScenario sc = {"tensors: create, compute, print", tensors_call, NULL, NULL, NULL};
    FaultWalk w = fault_walk_alloc(&sc);
    ck_assert_uint_gt(w.points, 10);
    MEM_END;
}
END_TEST
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
