/*
 * test_optim.c - bad input to optim/ (week 4): optimizer construction and state,
 * learning rates, parameter groups, schedulers.
 */
#include "rb.h"

#include <stdlib.h>

#define L "optim"

START_TEST(optimizer_empty_parameter_list)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    OptimHparams hp = optim_sgd_defaults(0.1f);
    ROW_FAILS(L, "optim_sgd_new(params, 0, &hp)", "an empty parameter list (n = 0)",
              optim_sgd_new(p, 0, &hp) == NULL, "optim_new", "0");
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_model_without_parameters)
{
    BEGIN;
    Module *relu = nn_relu();
    ck_assert_ptr_nonnull(relu);
    ROW_FAILS(L, "optim_sgd(model, 0.1, 0)", "model = ReLU (no parameters)",
              optim_sgd(relu, 0.1f, 0) == NULL, "optim_sgd", NULL);
    nn_module_free(relu);
    END;
}
END_TEST

START_TEST(optimizer_null_parameter)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    Var *list[2] = {p[0], NULL};
    OptimHparams hp = optim_sgd_defaults(0.1f);
    ROW_FAILS(L, "optim_sgd_new(params, 2, &hp)", "params[1] NULL (e.g. a freed model's)",
              optim_sgd_new(list, 2, &hp) == NULL, "1", NULL);
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_duplicate_parameter)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    Var *list[2] = {p[0], p[0]};
    OptimHparams hp = optim_adam_defaults(0.01f);
    ROW_FAILS(L, "optim_adam_new(params, 2, &hp)", "params[0] == params[1]",
              optim_adam_new(list, 2, &hp) == NULL, "appears twice", NULL);
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_negative_lr)
{
    BEGIN;
    Module *m = rb_mlp();
    ROW_FAILS(L, "optim_sgd(model, -0.1, 0)", "lr -0.1", optim_sgd(m, -0.1f, 0) == NULL,
              "lr", "-0.1");
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_beta_out_of_range)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    OptimHparams hp = optim_adam_defaults(0.01f);
    hp.beta1 = 1.0f;
    ROW_FAILS(L, "optim_adam_new(params, n, &hp)", "hp.beta1 = 1",
              optim_adam_new(p, n, &hp) == NULL, "beta1", NULL);
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_lr_group_out_of_range)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0.9f);
    ck_assert_ptr_nonnull(opt);
    ROW_FAILS(L, "optim_get_lr(opt, 3)", "1 group", isnan(optim_get_lr(opt, 3)), "3", NULL);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_set_negative_lr)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0.9f);
    ck_assert_ptr_nonnull(opt);
    NnStateDict *snap = rb_snap_optim(opt);
    ROW_FAILS(L, "optim_set_lr(opt, -1, -0.5)", "lr -0.5 for every group",
              optim_set_lr(opt, -1, -0.5f) == -1, "optim_set_lr", "-0.5");
    rb_assert_optim_same(opt, snap);
    nn_state_dict_free(snap);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_param_in_two_groups)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0.9f);
    ck_assert_ptr_nonnull(opt);
    NnStateDict *snap = rb_snap_optim(opt);
    int n;
    Var **p = nn_parameters(m, &n);
    ROW_FAILS(L, "optim_add_param_group(opt, params, 1, NULL)",
              "params[0] already in group 0", optim_add_param_group(opt, p, 1, NULL) == -1,
              "optim_add_param_group", NULL);
    rb_assert_optim_same(opt, snap);
    strata_free(p);
    nn_state_dict_free(snap);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

/* One SGD-with-momentum step on the MLP, so the optimizer has state. */
static void one_step(Module *m, Optimizer *opt)
{
    Var *x = OKV(var_new(OK(tensor_ones(SHAPE(2, 4), 2)), false));
    Var *y = nn_forward(m, x);
    ck_assert_ptr_nonnull(y);
    Var *loss = var_sum(y, NULL, 0, false);
    ck_assert_int_eq(var_backward(loss), 0);
    ck_assert_int_eq(optim_step(opt), 0);
}

START_TEST(optimizer_load_other_kind)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *sgd = optim_sgd(m, 0.1f, 0.9f), *adam = optim_adam(m, 0.01f);
    ck_assert(sgd && adam);
    one_step(m, sgd);
    NnStateDict *sd = optim_state_dict(sgd);
    ck_assert_ptr_nonnull(sd);
    NnStateDict *snap = rb_snap_optim(adam);
    ROW_FAILS(L, "optim_load_state_dict(adam, sd)", "sd saved from SGD",
              optim_load_state_dict(adam, sd) == -1, "sgd", "adam");
    rb_assert_optim_same(adam, snap);
    nn_state_dict_free(snap);
    nn_state_dict_free(sd);
    optim_free(adam);
    optim_free(sgd);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_load_wrong_buffer_shape)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0.9f);
    ck_assert_ptr_nonnull(opt);
    one_step(m, opt);
    NnStateDict *sd = optim_state_dict(opt);
    ck_assert_ptr_nonnull(sd);
    ck_assert_int_gt(sd->num_tensors, 0);
    const char *name = sd->names[sd->num_tensors - 1];
    ck_assert_int_eq(nn_state_dict_set(sd, name, OK(tensor_zeros(SHAPE(7), 1))), 0);
    one_step(m, opt);
    NnStateDict *snap = rb_snap_optim(opt);
    ROW_FAILS(L, "optim_load_state_dict(opt, sd)", "the last momentum buffer of shape [7]",
              optim_load_state_dict(opt, sd) == -1, "[7]", NULL);
    rb_assert_optim_same(opt, snap);
    nn_state_dict_free(snap);
    nn_state_dict_free(sd);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_load_missing_file)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_adam(m, 0.01f);
    ck_assert_ptr_nonnull(opt);
    NnStateDict *snap = rb_snap_optim(opt);
    ROW_FAILS(L, "optim_load(opt, path)", "path does not exist",
              optim_load(opt, rb_path("absent.opt")) == -1, "absent.opt", NULL);
    rb_assert_optim_same(opt, snap);
    nn_state_dict_free(snap);
    optim_free(opt);
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(optimizer_step_null)
{
    BEGIN;
    ROW_FAILS(L, "optim_step(NULL)", "opt NULL (construction failed)",
              optim_step(NULL) == -1, "optim_step", "NULL");
    END;
}
END_TEST

/* ------------------------------------------------------------------- schedulers -- */

START_TEST(scheduler_step_size_zero)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0);
    ck_assert_ptr_nonnull(opt);
    ROW_FAILS(L, "optim_step_lr(opt, 0, 0.5)", "step_size 0",
              optim_step_lr(opt, 0, 0.5f) == NULL, "optim_step_lr", "step_size");
    ck_assert_float_eq(optim_get_lr(opt, 0), 0.1f);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(scheduler_cosine_t_max_zero)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0);
    ck_assert_ptr_nonnull(opt);
    ROW_FAILS(L, "optim_cosine_lr(opt, 0, 0)", "t_max 0", optim_cosine_lr(opt, 0, 0) == NULL,
              "optim_cosine_lr", "t_max");
    ck_assert_float_eq(optim_get_lr(opt, 0), 0.1f);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(scheduler_milestones_not_increasing)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0);
    ck_assert_ptr_nonnull(opt);
    LRScheduler *parts[3] = {optim_exponential_lr(opt, 0.9f), optim_exponential_lr(opt, 0.5f),
                             optim_exponential_lr(opt, 0.1f)};
    ck_assert(parts[0] && parts[1] && parts[2]);
    ROW_FAILS(L, "optim_sequential_lr(opt, scheds, milestones, 3)", "milestones {5, 5}",
              optim_sequential_lr(opt, parts, SHAPE(5, 5), 3) == NULL, "milestones", NULL);
    ck_assert_float_eq(optim_get_lr(opt, 0), 0.1f);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(scheduler_of_another_optimizer)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *a = optim_sgd(m, 0.1f, 0), *b = optim_sgd(m, 0.2f, 0);
    ck_assert(a && b);
    LRScheduler *parts[1] = {optim_exponential_lr(b, 0.9f)};
    ck_assert_ptr_nonnull(parts[0]);
    ROW_FAILS(L, "optim_chained_lr(a, {sched_of_b}, 1)", "a scheduler built on optimizer b",
              optim_chained_lr(a, parts, 1) == NULL, "another optimizer", NULL);
    ck_assert_float_eq(optim_get_lr(a, 0), 0.1f);
    optim_free(b);
    optim_free(a);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(scheduler_negative_epoch)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0);
    ck_assert_ptr_nonnull(opt);
    LRScheduler *s = optim_step_lr(opt, 2, 0.5f);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(optim_scheduler_step(s), 0);
    int64_t epoch = optim_scheduler_epoch(s);
    float lr = optim_get_lr(opt, 0);
    ROW_FAILS(L, "optim_scheduler_set_epoch(sched, -3)", "epoch -3",
              optim_scheduler_set_epoch(s, -3) == -1, "negative epoch", "-3");
    ck_assert_int_eq(optim_scheduler_epoch(s), epoch);
    ck_assert_float_eq(optim_get_lr(opt, 0), lr);
    optim_scheduler_free(s);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(scheduler_step_null)
{
    BEGIN;
    ROW_FAILS(L, "optim_scheduler_step(NULL)", "sched NULL (construction failed)",
              optim_scheduler_step(NULL) == -1, "optim_scheduler_step", "NULL");
    END;
}
END_TEST

START_TEST(scheduler_listed_twice)
{
    /* Found by this table: the combined scheduler owned it twice and freed it twice. */
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0);
    ck_assert_ptr_nonnull(opt);
    LRScheduler *x = optim_step_lr(opt, 1, 0.5f);
    ck_assert_ptr_nonnull(x);
    ROW_FAILS(L, "optim_sequential_lr(opt, {x, x}, {1}, 2)", "the same scheduler twice",
              optim_sequential_lr(opt, (LRScheduler *[]){x, x}, SHAPE(1), 2) == NULL, "again",
              NULL);
    ck_assert_float_eq(optim_get_lr(opt, 0), 0.1f);
    optim_free(opt); /* x was freed once by the failed call (ownership passes) */
    nn_module_free(m);
    END;
}
END_TEST

/* Not a failure row: an optimizer retains its parameters, so freeing the array it was
 * given and then the model itself leaves it working (valgrind watches for stale reads). */
START_TEST(optimizer_outlives_its_model_and_list)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    Var *first = p[0];
    var_retain(first);
    Optimizer *opt = optim_sgd_new(p, n, &(OptimHparams){.lr = 0.5f});
    ck_assert_ptr_nonnull(opt);
    Var *x = OKV(var_new(OK(tensor_ones(SHAPE(2, 4), 2)), false));
    ck_assert_int_eq(var_backward(var_sum(nn_forward(m, x), NULL, 0, false)), 0);
    Tensor *before = rb_snap(var_data(first)), *grad = rb_snap(var_grad(first));
    strata_free(p);   /* the list is gone */
    nn_module_free(m); /* and the model */
    ck_assert_int_eq(optim_step(opt), 0);
    /* SGD: w - 0.5 g, computed here element by element */
    Tensor *want = OK(tensor_sub(before, OK(tensor_mul_scalar(grad, 0.5f))));
    ck_assert(tensor_allclose(var_data(first), want, 0, 1e-6f));
    optim_free(opt);
    var_release(first);
    END;
}
END_TEST

void add_optim_rows(Suite *s)
{
    GRADED(s, optimizer_empty_parameter_list, 1);
    GRADED(s, optimizer_model_without_parameters, 1);
    GRADED(s, optimizer_null_parameter, 1);
    GRADED(s, optimizer_duplicate_parameter, 1);
    GRADED(s, optimizer_negative_lr, 1);
    GRADED(s, optimizer_beta_out_of_range, 1);
    GRADED(s, optimizer_lr_group_out_of_range, 1);
    GRADED(s, optimizer_set_negative_lr, 1);
    GRADED(s, optimizer_param_in_two_groups, 1);
    GRADED(s, optimizer_load_other_kind, 1);
    GRADED(s, optimizer_load_wrong_buffer_shape, 1);
    GRADED(s, optimizer_load_missing_file, 1);
    GRADED(s, optimizer_step_null, 1);
    GRADED(s, scheduler_step_size_zero, 1);
    GRADED(s, scheduler_cosine_t_max_zero, 1);
    GRADED(s, scheduler_milestones_not_increasing, 1);
    GRADED(s, scheduler_of_another_optimizer, 1);
    GRADED(s, scheduler_negative_epoch, 1);
    GRADED(s, scheduler_step_null, 1);
    GRADED(s, scheduler_listed_twice, 1);
    GRADED(s, optimizer_outlives_its_model_and_list, 1);
}
