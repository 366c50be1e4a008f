/*
 * test_memory.c - the working set and its budget, and the configurations L2L refuses.
 *
 * Memory is the counting allocator's (tensor.h). The working set is what L2L holds
 * besides the host store (parameters, gradients, optimizer state, boundary stash): it
 * must not depend on the depth, nor on the batch size at a fixed microbatch size.
 */
#include "l2l_test.h"

/* [Linear(w, w), ReLU] x depth, then Linear(w, classes). */
static Module *make_deep(int depth, int64_t w, int64_t classes)
{
    strata_manual_seed(300 + (uint64_t)depth);
    Module *m = new_sequential();
    for (int i = 0; i < depth; i++) {
        add_layer(m, nn_linear(w, w, true));
        add_layer(m, nn_relu());
    }
    add_layer(m, nn_linear(w, classes, true));
    return m;
}

/* SGD with momentum over @p m's parameters (it keeps state, which must not move). */
static Optimizer *make_optimizer_for_budget(Module *m)
{
    int n;
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    OptimHparams hp = optim_sgd_defaults(0.05f);
    hp.momentum = 0.9f;
    Optimizer *opt = optim_sgd_new(ps, n, &hp);
    strata_free(ps);
    ck_assert_ok(opt);
    return opt;
}

/* Bytes plain training allocates above the model and its gradients in one step. */
static size_t plain_working_bytes(Module *m, Tensor *x, Tensor *y)
{
    plain_backward(m, x, y, NULL); /* gradients exist from here on */
    Scope *s = scope_begin();
    size_t base = strata_mem_stats().bytes_live;
    strata_mem_reset_peak();
    Var *out = nn_forward(m, var_new(x, false));
    ck_assert_ok(out);
    Var *loss = nn_cross_entropy(out, y);
    ck_assert_ok(loss);
    ck_assert_status(var_backward(loss));
    size_t peak = strata_mem_stats().bytes_peak;
    scope_end(s);
    return peak - base;
}

START_TEST(test_l2l_working_memory_flat_in_depth)
{
    BEGIN;
    const int64_t w = 32, C = 5, B = 16, mb = 4;
    const int depths[] = {2, 4, 8};
    size_t need[3], peak[3], plain[3], abs_peak[3];
    Tensor *x = make_inputs(301, B, w);
    Tensor *y = make_classes(3, B, C);
    for (int i = 0; i < 3; i++) {
        Module *m = make_deep(depths[i], w, C);
        plain[i] = plain_working_bytes(m, x, y);
        nn_zero_grad(m, true);
        L2LOptions o = l2l_options(mb);
        L2LTrainer *t = l2l_new(m, &o);
        ck_assert_ok(t);
        L2LStats st;
        ck_assert_status(l2l_step(t, x, y, &st));
        need[i] = st.working_need_bytes;
        peak[i] = st.working_peak_bytes;
        abs_peak[i] = st.peak_bytes;
        /* The stash is exactly B x (2 depth w + C) floats. */
        ck_assert_uint_eq(st.stash_bytes, 4u * (size_t)B * (size_t)(2 * depths[i] * w + C));
        ck_assert_msg(peak[i] > 0 && peak[i] <= need[i],
                      "depth %d: measured working set %zu, need %zu", depths[i], peak[i],
                      need[i]);
        l2l_free(t);
        nn_module_free(m);
    }
    for (int i = 1; i < 3; i++) {
        ck_assert_msg(peak[i] == peak[0] && need[i] == need[0],
                      "working set at depth %d: %zu (need %zu); at depth %d: %zu (need %zu)",
                      depths[i], peak[i], need[i], depths[0], peak[0], need[0]);
        /* Plain training's activations grow with depth; the host store grows too. */
        ck_assert_msg(plain[i] > plain[i - 1], "plain working set %zu at depth %d, %zu at %d",
                      plain[i], depths[i], plain[i - 1], depths[i - 1]);
        ck_assert_msg(abs_peak[i] > abs_peak[i - 1], "the host store does not grow?");
    }
    ck_assert_msg(plain[2] > peak[2], "depth 8: plain %zu bytes, L2L %zu", plain[2], peak[2]);
    END;
}
END_TEST

START_TEST(test_l2l_working_memory_flat_in_batch)
{
    BEGIN;
    /* B = mb, 4 mb, 16 mb at microbatch 4: the same working set. */
    Module *m = make_deep(3, 16, 4);
    L2LOptions o = l2l_options(4);
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    const int64_t batches[] = {4, 16, 64};
    size_t peak[3];
    for (int i = 0; i < 3; i++) {
        Tensor *x = make_inputs(310 + (uint64_t)i, batches[i], 16);
        Tensor *y = make_classes(1, batches[i], 4);
        L2LStats st;
        ck_assert_status(l2l_step(t, x, y, &st));
        peak[i] = st.working_peak_bytes;
        ck_assert_uint_eq(st.stash_bytes, 4u * (size_t)batches[i] * (2 * 3 * 16 + 4));
    }
    ck_assert_msg(peak[1] == peak[0] && peak[2] == peak[0],
                  "working set %zu, %zu, %zu bytes for B = 4, 16, 64", peak[0], peak[1],
                  peak[2]);
    l2l_free(t);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(test_l2l_budget_one_byte_short)
{
    BEGIN;
    /* A model with BatchNorm and Dropout, an optimizer: a budget one byte below the need
     * is refused before anything changes (weights, gradients, running statistics,
     * optimizer, generator); the exact need is accepted and respected. */
    strata_manual_seed(401);
    Module *m = new_sequential();
    add_layer(m, nn_linear(6, 10, true));
    add_layer(m, nn_batch_norm1d(10));
    add_layer(m, nn_relu());
    add_layer(m, nn_dropout(0.2f));
    add_layer(m, nn_linear(10, 3, true));
    Tensor *x = make_inputs(402, 12, 6);
    Tensor *y = make_classes(0, 12, 3);
    Optimizer *opt = make_optimizer_for_budget(m);

    L2LOptions o = l2l_options(5);
    L2LTrainer *probe = l2l_new(m, &o);
    ck_assert_ok(probe);
    L2LStats need;
    ck_assert_status(l2l_estimate(probe, x, y, &need));
    l2l_free(probe);
    ck_assert_msg(need.working_need_bytes > 0, "need is 0");
    ck_assert_uint_eq(need.stash_bytes, 4u * 12u * (10 + 10 + 10 + 10 + 3));
    ck_assert_int_eq(need.num_microbatches, 3);

    int n;
    Tensor **weights = snapshot_params(m, &n);
    Tensor *running_mean = tensor_clone(nn_get_buffer(m, "1.running_mean"));
    strata_manual_seed(77);
    uint64_t rng = strata_rng_get_state();

    o.optimizer = opt;
    o.memory_budget = need.working_need_bytes - 1;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    strata_clear_error();
    ck_assert_int_eq(l2l_step(t, x, y, NULL), -1);
    ck_assert_error("budget");
    char number[32];
    snprintf(number, sizeof number, "%zu", need.working_need_bytes);
    ck_assert_error(number);
    /* Nothing changed. */
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(tensors_equal(ps[i]->data, weights[i]), "parameter %d changed", i);
        ck_assert_msg(ps[i]->grad == NULL, "parameter %d got a gradient", i);
    }
    strata_free(ps);
    ck_assert(tensors_equal(nn_get_buffer(m, "1.running_mean"), running_mean));
    ck_assert_float_eq(tensor_item(nn_get_buffer(m, "1.num_batches_tracked")), 0.0f);
    ck_assert_int_eq(opt->steps, 0);
    ck_assert_int_eq(l2l_steps(t), 0);
    ck_assert_msg(strata_rng_get_state() == rng, "the generator moved");
    l2l_free(t);

    /* Exactly the need: accepted, and the step stays within it. */
    o.memory_budget = need.working_need_bytes;
    t = l2l_new(m, &o);
    ck_assert_ok(t);
    L2LStats st;
    ck_assert_status(l2l_step(t, x, y, &st));
    ck_assert_uint_eq(st.working_need_bytes, need.working_need_bytes);
    ck_assert_msg(st.working_peak_bytes <= o.memory_budget, "used %zu bytes, budget %zu",
                  st.working_peak_bytes, o.memory_budget);
    ck_assert_int_eq(opt->steps, 1);
    l2l_free(t);
    optim_free(opt);
    nn_module_free(m);
    free(weights);
    END;
}
END_TEST

/* The working set is a max over every layer, the first ones included: each trainable
 * layer's parameters and gradients are in memory at once during its backward unit, so
 * the need (from the dry run) and the peak (measured during the step) are at least
 * that, wherever the largest layer sits. */
START_TEST(test_l2l_need_covers_every_layer)
{
    BEGIN;
    for (int big_first = 0; big_first < 2; big_first++) {
        Module *m = new_sequential();
        if (big_first) {
            add_layer(m, nn_linear(64, 32, true)); /* 2080 parameters */
            add_layer(m, nn_relu());
            add_layer(m, nn_linear(32, 3, true));
        } else {
            add_layer(m, nn_linear(3, 32, true));
            add_layer(m, nn_relu());
            add_layer(m, nn_linear(32, 64, true)); /* 2112 parameters */
        }
        const int64_t in = big_first ? 64 : 3, out = big_first ? 3 : 64;
        const size_t largest = (size_t)(big_first ? 64 * 32 + 32 : 32 * 64 + 64) * sizeof(float);
        Tensor *x = make_inputs(404, 6, in);
        Tensor *y = make_classes(1, 6, out);
        L2LOptions o = l2l_options(3);
        L2LTrainer *t = l2l_new(m, &o);
        ck_assert_ok(t);
        L2LStats need, st;
        ck_assert_status(l2l_estimate(t, x, y, &need));
        ck_assert_msg(need.working_need_bytes >= 2 * largest, "largest layer %s: need %zu bytes, "
                      "less than its parameters and gradients (%zu)", big_first ? "first" : "last",
                      need.working_need_bytes, 2 * largest);
        ck_assert_status(l2l_step(t, x, y, &st));
        ck_assert_msg(st.working_peak_bytes >= 2 * largest, "largest layer %s: peak %zu bytes, "
                      "less than its parameters and gradients (%zu)", big_first ? "first" : "last",
                      st.working_peak_bytes, 2 * largest);
        ck_assert_uint_le(st.working_peak_bytes, st.working_need_bytes);
        l2l_free(t);
        nn_module_free(m);
    }
    END;
}
END_TEST

START_TEST(test_l2l_bad_configurations)
{
    BEGIN;
    L2LOptions o = l2l_options(4);

    strata_clear_error();
    ck_assert_ptr_null(l2l_new(NULL, &o));
    ck_assert_error("model");

    Module *empty = new_sequential();
    strata_clear_error();
    ck_assert_ptr_null(l2l_new(empty, &o));
    ck_assert_error("empty");
    nn_module_free(empty);

    Module *lin = nn_linear(3, 3, true);
    ck_assert_ok(lin);
    strata_clear_error();
    ck_assert_ptr_null(l2l_new(lin, &o));
    ck_assert_error("Sequential");
    nn_module_free(lin);

    Module *m = make_mlp(501, 4, 5, 3, 0);
    o.microbatch_size = 0;
    strata_clear_error();
    ck_assert_ptr_null(l2l_new(m, &o));
    ck_assert_error("microbatch_size");
    o.microbatch_size = 2;
    o.eager_update = true;
    strata_clear_error();
    ck_assert_ptr_null(l2l_new(m, &o));
    ck_assert_error("optimizer");
    int n;
    Var **ps = nn_parameters(m, &n);
    OptimHparams hp = optim_sgd_defaults(0.1f);
    Optimizer *opt = optim_sgd_new(ps, n, &hp);
    ck_assert_ok(opt);
    strata_free(ps);
    o.optimizer = opt;
    o.clip_grad_norm = 1.0f;
    strata_clear_error();
    ck_assert_ptr_null(l2l_new(m, &o));
    ck_assert_error("clip");
    optim_free(opt);

    /* Arguments of a step. */
    o = l2l_options(2);
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    Tensor *x = make_inputs(502, 6, 4);
    Tensor *y5 = make_classes(0, 5, 3);
    strata_clear_error();
    ck_assert_int_eq(l2l_step(t, x, y5, NULL), -1);
    ck_assert_error("[5]");
    strata_clear_error();
    ck_assert_int_eq(l2l_step(t, NULL, y5, NULL), -1);
    ck_assert_error("x");
    Tensor *y = make_classes(0, 6, 3);
    autograd_no_grad_begin();
    strata_clear_error();
    ck_assert_int_eq(l2l_step(t, x, y, NULL), -1);
    autograd_no_grad_end();
    ck_assert_error("grad mode");
    l2l_free(t);
    nn_module_free(m);

    /* A layer whose output does not feed the next: Linear(4, 8) then Linear(6, 3). The
     * step fails naming layer 1, before anything changes. */
    Module *bad = new_sequential();
    add_layer(bad, nn_linear(4, 8, true));
    add_layer(bad, nn_relu());
    add_layer(bad, nn_linear(6, 3, true));
    t = l2l_new(bad, &o);
    ck_assert_ok(t);
    strata_clear_error();
    ck_assert_int_eq(l2l_step(t, x, y, NULL), -1);
    ck_assert_error("layer 2");
    ck_assert_error("Linear");
    ps = nn_parameters(bad, &n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(ps[i]->grad == NULL, "parameter %d got a gradient", i);
    strata_free(ps);
    ck_assert_int_eq(l2l_steps(t), 0);
    l2l_free(t);
    nn_module_free(bad);

    /* A layer that does not keep the batch rows: Flatten(0, -1) makes one row of all. */
    Module *rows = new_sequential();
    add_layer(rows, nn_linear(4, 3, true));
    add_layer(rows, nn_flatten(0, -1));
    t = l2l_new(rows, &o);
    ck_assert_ok(t);
    strata_clear_error();
    ck_assert_int_eq(l2l_step(t, x, y, NULL), -1);
    ck_assert_error("rows");
    l2l_free(t);
    nn_module_free(rows);

    /* A parameter shared by two layers. */
    Module *shared = new_sequential();
    Module *first = nn_linear(3, 3, false);
    ck_assert_ok(first);
    Module *id = nn_identity();
    ck_assert_ok(id);
    ck_assert_status(nn_register_parameter(id, "tied", nn_get_parameter(first, "weight")));
    add_layer(shared, first);
    add_layer(shared, id);
    strata_clear_error();
    ck_assert_ptr_null(l2l_new(shared, &o));
    ck_assert_error("share");
    nn_module_free(shared);
    END;
}
END_TEST

void add_l2l_memory_tests(Suite *s)
{
    GRADED(s, test_l2l_working_memory_flat_in_depth, 3);
    GRADED(s, test_l2l_working_memory_flat_in_batch, 2);
    GRADED(s, test_l2l_budget_one_byte_short, 3);
    GRADED(s, test_l2l_bad_configurations, 2);
    GRADED(s, test_l2l_need_covers_every_layer, 2);
}
