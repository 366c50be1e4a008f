/*
 * test_data.c - bad configurations of the DataLoader and the L2L trainer (optim/, week 4).
 */
#include "rb.h"

#include <stdlib.h>

#define L "optim"

/* A dataset of 5 examples [5, 4] with labels [5]. */
static Dataset *small_dataset(void)
{
    Tensor *x = OK(tensor_rand(SHAPE(5, 4), 2));
    Tensor *y = MK(DATA(0, 1, 0, 1, 1), 5);
    Dataset *ds = data_tensor_dataset_new(x, y);
    ck_assert_msg(ds != NULL, "%s", strata_last_error());
    return ds;
}

START_TEST(loader_batch_size_zero)
{
    BEGIN;
    Dataset *ds = small_dataset();
    DataLoaderOptions o = {.batch_size = 0};
    ROW_FAILS(L, "data_loader_new(ds, &opts)", "opts.batch_size 0",
              data_loader_new(ds, &o) == NULL, "batch_size", "0");
    ck_assert_int_eq(data_dataset_size(ds), 5);
    data_dataset_free(ds);
    END;
}
END_TEST

START_TEST(loader_null_options)
{
    BEGIN;
    Dataset *ds = small_dataset();
    ROW_FAILS(L, "data_loader_new(ds, NULL)", "opts NULL", data_loader_new(ds, NULL) == NULL,
              "data_loader_new", "opts");
    data_dataset_free(ds);
    END;
}
END_TEST

START_TEST(dataset_rows_differ)
{
    BEGIN;
    Tensor *x = OK(tensor_zeros(SHAPE(5, 4), 2)), *y = OK(tensor_zeros(SHAPE(4), 1));
    Tensor *sx = rb_snap(x), *sy = rb_snap(y);
    ROW_FAILS(L, "data_tensor_dataset_new(x, y)", "x [5, 4], y [4]",
              data_tensor_dataset_new(x, y) == NULL, "5", "4");
    rb_assert_same(x, sx, "x");
    rb_assert_same(y, sy, "y");
    END;
}
END_TEST

START_TEST(loader_next_null)
{
    BEGIN;
    Batch b;
    ROW_FAILS(L, "data_loader_next(NULL, &batch)", "loader NULL (construction failed)",
              !data_loader_next(NULL, &b), "data_loader_next", "NULL");
    END;
}
END_TEST

static int64_t bad_sampler(int64_t *order, int64_t capacity, int64_t n, int64_t epoch,
                           void *ctx)
{
    (void)capacity;
    (void)epoch;
    (void)ctx;
    order[0] = 0;
    order[1] = n + 2; /* out of range */
    return 2;
}

START_TEST(loader_sampler_index_out_of_range)
{
    BEGIN;
    Dataset *ds = small_dataset();
    DataLoaderOptions o = {.batch_size = 2};
    DataLoader *dl = data_loader_new(ds, &o);
    ck_assert_ptr_nonnull(dl);
    ck_assert_int_eq(data_loader_set_sampler(dl, bad_sampler, NULL), 0);
    Batch b;
    ROW_FAILS(L, "data_loader_next(loader, &batch)", "a sampler returning index 7 of 5",
              !data_loader_next(dl, &b), "7", NULL);
    data_loader_free(dl);
    data_dataset_free(ds);
    END;
}
END_TEST

START_TEST(loader_negative_epoch)
{
    BEGIN;
    Dataset *ds = small_dataset();
    DataLoaderOptions o = {.batch_size = 2, .shuffle = true, .seed = 3};
    DataLoader *dl = data_loader_new(ds, &o);
    ck_assert_ptr_nonnull(dl);
    ROW_FAILS(L, "data_loader_set_epoch(loader, -1)", "epoch -1",
              data_loader_set_epoch(dl, -1) == -1, "data_loader_set_epoch", "-1");
    ck_assert_int_eq(data_loader_epoch(dl), 0);
    data_loader_free(dl);
    data_dataset_free(ds);
    END;
}
END_TEST

/* --------------------------------------------------------------------------- L2L -- */

START_TEST(l2l_model_not_a_list)
{
    BEGIN;
    Module *lin = nn_linear(4, 2, true);
    ck_assert_ptr_nonnull(lin);
    L2LOptions o = {.microbatch_size = 2};
    ROW_FAILS(L, "l2l_new(model, &opts)", "model = a Linear", l2l_new(lin, &o) == NULL,
              "Sequential", NULL);
    nn_module_free(lin);
    END;
}
END_TEST

START_TEST(l2l_empty_model)
{
    BEGIN;
    Module *list = nn_module_list();
    ck_assert_ptr_nonnull(list);
    L2LOptions o = {.microbatch_size = 2};
    ROW_FAILS(L, "l2l_new(model, &opts)", "an empty ModuleList", l2l_new(list, &o) == NULL,
              "empty", NULL);
    nn_module_free(list);
    END;
}
END_TEST

START_TEST(l2l_microbatch_zero)
{
    BEGIN;
    Module *m = rb_mlp();
    L2LOptions o = {.microbatch_size = 0};
    ROW_FAILS(L, "l2l_new(mlp, &opts)", "opts.microbatch_size 0", l2l_new(m, &o) == NULL,
              "microbatch_size", ">= 1");
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(l2l_eager_without_optimizer)
{
    BEGIN;
    Module *m = rb_mlp();
    L2LOptions o = {.microbatch_size = 2, .eager_update = true};
    ROW_FAILS(L, "l2l_new(mlp, &opts)", "eager_update, optimizer NULL",
              l2l_new(m, &o) == NULL, "eager_update", "optimizer");
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(l2l_eager_with_clipping)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0);
    ck_assert_ptr_nonnull(opt);
    L2LOptions o = {.microbatch_size = 2, .eager_update = true, .optimizer = opt,
                    .clip_grad_norm = 1.0f};
    ROW_FAILS(L, "l2l_new(mlp, &opts)", "eager_update with clip_grad_norm 1",
              l2l_new(m, &o) == NULL, "eager_update", "clip_grad_norm");
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(l2l_negative_clip)
{
    BEGIN;
    Module *m = rb_mlp();
    L2LOptions o = {.microbatch_size = 2, .clip_grad_norm = -1.0f};
    ROW_FAILS(L, "l2l_new(mlp, &opts)", "clip_grad_norm -1", l2l_new(m, &o) == NULL,
              "clip_grad_norm", "-1");
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(l2l_shared_parameter)
{
    BEGIN;
    Module *a = nn_linear(3, 3, false), *seq = nn_sequential(1, a);
    ck_assert(a && seq);
    Module *b = nn_linear(3, 3, false);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(nn_register_parameter(b, "shared", nn_get_parameter(a, "weight")), 0);
    ck_assert_int_eq(nn_sequential_append(seq, b), 0);
    L2LOptions o = {.microbatch_size = 2};
    ROW_FAILS(L, "l2l_new(seq, &opts)", "layers 0 and 1 share a weight",
              l2l_new(seq, &o) == NULL, "share a parameter", NULL);
    nn_module_free(seq);
    END;
}
END_TEST

START_TEST(l2l_rows_differ)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    L2LOptions o = {.microbatch_size = 2};
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ptr_nonnull(t);
    Tensor *x = OK(tensor_ones(SHAPE(4, 4), 2)), *y = MK(DATA(0, 1, 1), 3);
    ROW_FAILS(L, "l2l_step(t, x, y, NULL)", "x [4, 4], y [3]",
              l2l_step(t, x, y, NULL) == -1, "[4, 4]", "[3]");
    rb_assert_module_same(m, snap);
    ck_assert_int_eq(l2l_steps(t), 0);
    l2l_free(t);
    nn_state_dict_free(snap);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(l2l_over_memory_budget)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.1f, 0.9f);
    ck_assert_ptr_nonnull(opt);
    NnStateDict *snap = rb_snap_module(m), *osnap = rb_snap_optim(opt);
    L2LOptions o = {.microbatch_size = 2, .optimizer = opt, .memory_budget = 16};
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ptr_nonnull(t);
    Tensor *x = OK(tensor_ones(SHAPE(4, 4), 2)), *y = MK(DATA(0, 1, 1, 0), 4);
    uint64_t rng = strata_rng_get_state();
    ROW_FAILS(L, "l2l_step(t, x, y, NULL)", "opts.memory_budget 16 bytes",
              l2l_step(t, x, y, NULL) == -1, "budget", "16 bytes");
    rb_assert_module_same(m, snap);
    rb_assert_optim_same(opt, osnap);
    ck_assert_uint_eq(strata_rng_get_state(), rng);
    l2l_free(t);
    nn_state_dict_free(osnap);
    nn_state_dict_free(snap);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(l2l_under_no_grad)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    L2LOptions o = {.microbatch_size = 2};
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ptr_nonnull(t);
    Tensor *x = OK(tensor_ones(SHAPE(4, 4), 2)), *y = MK(DATA(0, 1, 1, 0), 4);
    autograd_no_grad_begin();
    int rc = 0;
    ROW_FAILS(L, "l2l_step(t, x, y, NULL)", "inside autograd_no_grad_begin()",
              (rc = l2l_step(t, x, y, NULL)) == -1, "grad mode is off", NULL);
    autograd_no_grad_end();
    rb_assert_module_same(m, snap);
    l2l_free(t);
    nn_state_dict_free(snap);
    nn_module_free(m);
    END;
}
END_TEST

void add_data_rows(Suite *s)
{
    GRADED(s, loader_batch_size_zero, 1);
    GRADED(s, loader_null_options, 1);
    GRADED(s, dataset_rows_differ, 1);
    GRADED(s, loader_next_null, 1);
    GRADED(s, loader_sampler_index_out_of_range, 1);
    GRADED(s, loader_negative_epoch, 1);
    GRADED(s, l2l_model_not_a_list, 1);
    GRADED(s, l2l_empty_model, 1);
    GRADED(s, l2l_microbatch_zero, 1);
    GRADED(s, l2l_eager_without_optimizer, 1);
    GRADED(s, l2l_eager_with_clipping, 1);
    GRADED(s, l2l_negative_clip, 1);
    GRADED(s, l2l_shared_parameter, 1);
    GRADED(s, l2l_rows_differ, 1);
    GRADED(s, l2l_over_memory_budget, 1);
    GRADED(s, l2l_under_no_grad, 1);
}
