/*
 * test_gradients.c - L2L gives plain training's loss and gradients: MLPs with every
 * kind of split (including B = 12, microbatch 5: 5, 5, 2), a small CNN, MSE,
 * parameter-free and frozen layers, Linear layers run from the stash without their
 * recomputation, Dropout (replayed masks) and BatchNorm
 * (per-microbatch statistics, running statistics moved once per microbatch).
 */
#include "l2l_test.h"

/* L2L's gradients and loss for one microbatch size, compared with plain backprop. */
static void check_mlp_split(int64_t B, int64_t mb)
{
    Module *m = make_mlp(11, 6, 10, 4, 2);
    Tensor *x = make_inputs(12, B, 6);
    Tensor *y = make_classes(3, B, 4);

    double plain_loss = plain_backward(m, x, y, NULL);
    int n;
    Tensor **want = snapshot_grads(m, &n);
    nn_zero_grad(m, true);

    L2LOptions o = l2l_options(mb);
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    L2LStats st;
    ck_assert_status(l2l_step(t, x, y, &st));
    char what[64];
    snprintf(what, sizeof what, "B=%lld mb=%lld", (long long)B, (long long)mb);
    ck_assert_msg(fabs(st.loss - plain_loss) <= 1e-6 + 1e-5 * fabs(plain_loss),
                  "%s: L2L loss %.9g, plain loss %.9g", what, st.loss, plain_loss);
    ck_assert_int_eq(st.batch_size, B);
    ck_assert_int_eq(st.num_microbatches, (B + mb - 1) / mb);
    ck_assert_int_eq(st.num_layers, 7);
    assert_grads_close(m, want, n, L2L_RTOL, L2L_ATOL, what);

    l2l_free(t);
    nn_module_free(m);
    free(want);
}

START_TEST(test_l2l_mlp_gradients_match_plain)
{
    BEGIN;
    /* microbatch 1 (12 microbatches), 4 (3 even ones), 5 (5, 5, 2), 12 (one), 100 (more
     * than the batch: one microbatch of 12). */
    const int64_t sizes[] = {1, 4, 5, 12, 100};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        check_mlp_split(12, sizes[i]);
    END;
}
END_TEST

START_TEST(test_l2l_uneven_split_loss)
{
    BEGIN;
    /* B = 12, microbatch 5: microbatches of 5, 5 and 2 rows. The batch mean is
     * (5 m0 + 5 m1 + 2 m2) / 12; the public port's (m0 + m1 + m2) / 3 differs. */
    Module *m = make_mlp(21, 5, 8, 3, 1);
    Tensor *x = make_inputs(22, 12, 5);
    Tensor *y = make_classes(1, 12, 3);
    double plain = plain_backward(m, x, y, NULL);
    nn_zero_grad(m, true);

    /* The per-microbatch means, by plain forwards of each slice. */
    double means[3];
    const int64_t starts[3] = {0, 5, 10}, rows[3] = {5, 5, 2};
    autograd_no_grad_begin();
    for (int k = 0; k < 3; k++) {
        Var *out = nn_forward(m, var_new(tensor_narrow(x, 0, starts[k], rows[k]), false));
        ck_assert_ok(out);
        Var *l = nn_cross_entropy(out, tensor_narrow(y, 0, starts[k], rows[k]));
        ck_assert_ok(l);
        means[k] = tensor_item(var_data(l));
    }
    autograd_no_grad_end();
    double by_rows = (5 * means[0] + 5 * means[1] + 2 * means[2]) / 12.0;
    double by_count = (means[0] + means[1] + means[2]) / 3.0;
    ck_assert_msg(fabs(by_rows - plain) < 1e-5, "weighting by rows gives %.9g, plain %.9g",
                  by_rows, plain);
    ck_assert_msg(fabs(by_count - plain) > 1e-3,
                  "this data does not tell the two weightings apart (%.9g vs %.9g)", by_count,
                  plain);

    L2LOptions o = l2l_options(5);
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    L2LStats st;
    ck_assert_status(l2l_step(t, x, y, &st));
    ck_assert_int_eq(st.num_microbatches, 3);
    ck_assert_msg(fabs(st.loss - plain) <= 1e-6 + 1e-5 * fabs(plain),
                  "L2L loss %.9g, plain %.9g (1/K weighting would give %.9g)", st.loss, plain,
                  by_count);
    l2l_free(t);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(test_l2l_cnn_gradients_match_plain)
{
    BEGIN;
    /* [B,1,8,8] -conv3 pad1-> [B,4,8,8] -pool2-> [B,4,4,4] -conv3-> [B,4,2,2]
     * -flatten-> [B,16] -linear-> [B,3] */
    strata_manual_seed(31);
    Module *m = new_sequential();
    add_layer(m, nn_conv2d(1, 4, 3, 1, 1, 1, true));
    add_layer(m, nn_relu());
    add_layer(m, nn_max_pool2d(2, 0, 0));
    add_layer(m, nn_conv2d(4, 4, 3, 1, 0, 1, true));
    add_layer(m, nn_relu());
    add_layer(m, nn_flatten(1, -1));
    add_layer(m, nn_linear(16, 3, true));
    strata_manual_seed(32);
    Tensor *x = tensor_randn((const int64_t[]){6, 1, 8, 8}, 4);
    ck_assert_ok(x);
    Tensor *y = make_classes(2, 6, 3);
    double plain = plain_backward(m, x, y, NULL);
    int n;
    Tensor **want = snapshot_grads(m, &n);

    const int64_t sizes[] = {1, 4, 6};
    for (int i = 0; i < 3; i++) {
        nn_zero_grad(m, true);
        L2LOptions o = l2l_options(sizes[i]);
        L2LTrainer *t = l2l_new(m, &o);
        ck_assert_ok(t);
        L2LStats st;
        ck_assert_status(l2l_step(t, x, y, &st));
        ck_assert_msg(fabs(st.loss - plain) <= 1e-6 + 1e-5 * fabs(plain),
                      "mb %lld: loss %.9g, plain %.9g", (long long)sizes[i], st.loss, plain);
        char what[32];
        snprintf(what, sizeof what, "CNN mb=%lld", (long long)sizes[i]);
        assert_grads_close(m, want, n, L2L_RTOL, L2L_ATOL, what);
        /* The stash: 6 rows of 256 + 256 + 64 + 16 + 16 + 16 + 3 floats. */
        ck_assert_uint_eq(st.stash_bytes, 4u * 6u * (256 + 256 + 64 + 16 + 16 + 16 + 3));
        l2l_free(t);
    }
    nn_module_free(m);
    free(want);
    END;
}
END_TEST

START_TEST(test_l2l_mse_loss)
{
    BEGIN;
    /* A regression MLP with the MSE loss (mean over every element: still a mean over
     * rows times a constant, so rows/B weighting gives the plain loss). */
    Module *m = make_mlp(41, 3, 6, 2, 2);
    Tensor *x = make_inputs(42, 10, 3);
    strata_manual_seed(43);
    Tensor *y = tensor_randn((const int64_t[]){10, 2}, 2);
    ck_assert_ok(y);
    double plain = plain_backward(m, x, y, l2l_mse_loss);
    int n;
    Tensor **want = snapshot_grads(m, &n);
    nn_zero_grad(m, true);
    L2LOptions o = l2l_options(3);
    o.loss_fn = l2l_mse_loss;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    L2LStats st;
    ck_assert_status(l2l_step(t, x, y, &st));
    ck_assert_msg(fabs(st.loss - plain) <= 1e-6 + 1e-5 * fabs(plain), "loss %.9g, plain %.9g",
                  st.loss, plain);
    assert_grads_close(m, want, n, L2L_RTOL, L2L_ATOL, "MSE mb=3");
    l2l_free(t);
    nn_module_free(m);
    free(want);
    END;
}
END_TEST

/* NLL of log-probabilities, for a model whose last layer is LogSoftmax. */
static Var *nll_loss(Var *output, const Tensor *target, void *ctx)
{
    (void)ctx;
    return nn_nll_loss(output, target, NN_REDUCTION_MEAN);
}

START_TEST(test_l2l_parameter_free_layers)
{
    BEGIN;
    /* Parameter-free layers first (nothing to train below them: skipped in backward),
     * in the middle and last (LogSoftmax feeding an NLL loss). */
    strata_manual_seed(51);
    Module *m = new_sequential();
    add_layer(m, nn_identity());
    add_layer(m, nn_tanh());
    add_layer(m, nn_linear(4, 7, true));
    add_layer(m, nn_relu());
    add_layer(m, nn_gelu());
    add_layer(m, nn_linear(7, 3, true));
    add_layer(m, nn_log_softmax(1));
    Tensor *x = make_inputs(52, 9, 4);
    Tensor *y = make_classes(4, 9, 3);
    double plain = plain_backward(m, x, y, nll_loss);
    int n;
    Tensor **want = snapshot_grads(m, &n);
    nn_zero_grad(m, true);
    L2LOptions o = l2l_options(4);
    o.loss_fn = nll_loss;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    L2LStats st;
    ck_assert_status(l2l_step(t, x, y, &st));
    ck_assert_msg(fabs(st.loss - plain) <= 1e-6 + 1e-5 * fabs(plain), "loss %.9g, plain %.9g",
                  st.loss, plain);
    assert_grads_close(m, want, n, L2L_RTOL, L2L_ATOL, "parameter-free layers");
    l2l_free(t);
    nn_module_free(m);
    free(want);

    /* A model with no parameter at all: the loss, and nothing to train. */
    Module *flat = new_sequential();
    add_layer(flat, nn_relu());
    add_layer(flat, nn_log_softmax(1));
    o = l2l_options(2);
    o.loss_fn = nll_loss;
    t = l2l_new(flat, &o);
    ck_assert_ok(t);
    Tensor *x3 = make_inputs(53, 5, 3);
    Tensor *y3 = make_classes(0, 5, 3);
    ck_assert_status(l2l_step(t, x3, y3, &st));
    Var *ref = nll_loss(nn_forward(flat, var_new(x3, false)), y3, NULL);
    ck_assert_ok(ref);
    ck_assert_msg(fabs(st.loss - tensor_item(var_data(ref))) < 1e-6, "loss %.9g, plain %.9g",
                  st.loss, (double)tensor_item(var_data(ref)));
    l2l_free(t);
    nn_module_free(flat);
    END;
}
END_TEST

START_TEST(test_l2l_frozen_layers)
{
    BEGIN;
    /* Layer 0 frozen entirely (the backward pass can stop above it) and the bias of
     * layer 2 frozen: frozen gradients stay NULL, the others are plain's. */
    Module *m = make_mlp(61, 5, 6, 3, 2);
    Module *l0 = nn_child_at(m, 0), *l2 = nn_child_at(m, 2);
    ck_assert_status(var_requires_grad_(nn_get_parameter(l0, "weight"), false));
    ck_assert_status(var_requires_grad_(nn_get_parameter(l0, "bias"), false));
    ck_assert_status(var_requires_grad_(nn_get_parameter(l2, "bias"), false));
    Tensor *x = make_inputs(62, 11, 5);
    Tensor *y = make_classes(5, 11, 3);
    double plain = plain_backward(m, x, y, NULL);
    int n;
    Tensor **want = snapshot_grads(m, &n);
    ck_assert_ptr_null(want[0]);
    ck_assert_ptr_null(want[3]);
    nn_zero_grad(m, true);

    /* With an optimizer (frozen parameters included: they have no gradient, so it
     * leaves them alone), eager and not. */
    for (int eager = 0; eager < 2; eager++) {
        nn_zero_grad(m, true);
        int np;
        Var **ps = nn_parameters(m, &np);
        ck_assert_ok(ps);
        OptimHparams hp = optim_sgd_defaults(0.0f); /* lr 0: weights stay, grads show */
        Optimizer *opt = optim_sgd_new(ps, np, &hp);
        ck_assert_ok(opt);
        strata_free(ps);
        L2LOptions o = l2l_options(4);
        o.optimizer = opt;
        o.eager_update = eager;
        L2LTrainer *t = l2l_new(m, &o);
        ck_assert_ok(t);
        L2LStats st;
        ck_assert_status(l2l_step(t, x, y, &st));
        ck_assert_msg(fabs(st.loss - plain) <= 1e-6 + 1e-5 * fabs(plain),
                      "loss %.9g, plain %.9g", st.loss, plain);
        assert_grads_close(m, want, n, L2L_RTOL, L2L_ATOL, eager ? "frozen, eager" : "frozen");
        ck_assert_int_eq(opt->steps, 1);
        l2l_free(t);
        optim_free(opt);
    }
    nn_module_free(m);
    free(want);
    END;
}
END_TEST

/* A forward hook that leaves the output as it is, counting its calls. */
static Var *count_calls(Module *m, Var *const *inputs, int n, Var *output, void *user)
{
    (void)m;
    (void)inputs;
    (void)n;
    (*(int *)user)++;
    return output;
}

START_TEST(test_l2l_linear_backward_from_stash)
{
    BEGIN;
    /* A Linear layer's backward needs only its input (the stash cell) and its weights:
     * L2L runs it from the stash instead of recomputing the layer. The gradients must be
     * those of the recomputing trainer (recompute_all) bit for bit, and those of gradient
     * accumulation over the same microbatches (the same kernels, summed in the same
     * order) bit for bit too. Covered: a Linear on 3-D input (its rows are B x 3), one
     * without bias, a frozen weight beside a trainable bias, and a Linear with a hook,
     * which must be recomputed (a hook may change the output). */
    strata_manual_seed(81);
    Module *m = new_sequential();
    add_layer(m, nn_linear(5, 6, true));  /* 0: input [B, 3, 5] */
    add_layer(m, nn_relu());              /* 1 */
    add_layer(m, nn_flatten(1, -1));      /* 2: [B, 18] */
    add_layer(m, nn_linear(18, 8, false)); /* 3: no bias */
    add_layer(m, nn_tanh());              /* 4 */
    add_layer(m, nn_linear(8, 8, true));  /* 5: frozen weight */
    add_layer(m, nn_linear(8, 4, true));  /* 6: hooked */
    ck_assert_status(var_requires_grad_(nn_get_parameter(nn_child_at(m, 5), "weight"), false));
    int hook_calls = 0;
    ck_assert_msg(nn_register_forward_hook(nn_child_at(m, 6), count_calls, &hook_calls) > 0,
                  "nn_register_forward_hook: %s", strata_last_error());
    const int64_t B = 10, mb = 4, K = 3;
    Tensor *x = tensor_reshape(make_inputs(82, B, 15), (const int64_t[]){B, 3, 5}, 3);
    ck_assert_ok(x);
    Tensor *y = make_classes(2, B, 4);

    double plain = plain_backward(m, x, y, NULL);
    int n;
    Tensor **want_plain = snapshot_grads(m, &n);
    double acc = accumulate_backward(m, x, y, mb, NULL, false, 0, 0);
    Tensor **want_acc = snapshot_grads(m, &n);

    L2LStats st[2];
    Tensor **got[2];
    for (int all = 0; all < 2; all++) {
        nn_zero_grad(m, true);
        L2LOptions o = l2l_options(mb);
        o.recompute_all = all;
        L2LTrainer *t = l2l_new(m, &o);
        ck_assert_ok(t);
        L2LStats est;
        ck_assert_status(l2l_estimate(t, x, y, &est));
        ck_assert_int_eq(est.recomputed_units, 0);
        hook_calls = 0;
        ck_assert_status(l2l_step(t, x, y, &st[all]));
        /* The hooked Linear runs K times forward and K times again in the backward pass
         * (the dry run, cached by l2l_estimate(), does not run again). */
        ck_assert_int_eq(hook_calls, 2 * K);
        got[all] = snapshot_grads(m, &n);
        l2l_free(t);
    }
    /* Recomputed: ReLU, Flatten, Tanh and the hooked Linear, or all 7 layers. */
    ck_assert_int_eq(st[0].recomputed_units, 4 * K);
    ck_assert_int_eq(st[1].recomputed_units, 7 * K);
    ck_assert_msg(st[0].loss == st[1].loss, "loss %.9g from the stash, %.9g recomputing",
                  st[0].loss, st[1].loss);
    ck_assert_msg(fabs(st[0].loss - plain) <= 1e-6 + 1e-5 * fabs(plain), "loss %.9g, plain %.9g",
                  st[0].loss, plain);
    ck_assert_msg(st[0].loss == acc, "loss %.9g, accumulation %.9g", st[0].loss, acc);
    ck_assert_uint_eq(st[0].stash_bytes, st[1].stash_bytes);
    /* Without the recomputed output and graph a unit needs no more memory. */
    ck_assert_uint_le(st[0].working_peak_bytes, st[1].working_peak_bytes);
    for (int i = 0; i < n; i++) {
        char what[96];
        snprintf(what, sizeof what, "gradient of parameter %d", i);
        if (!want_plain[i]) { /* the frozen weight */
            ck_assert_msg(!got[0][i] && !got[1][i], "%s: frozen, yet it has one", what);
            continue;
        }
        ck_assert_msg(tensors_equal(got[0][i], got[1][i]),
                      "%s: from the stash and recomputing differ", what);
        ck_assert_msg(tensors_equal(got[0][i], want_acc[i]),
                      "%s: differs from gradient accumulation", what);
    }
    assert_grads_close(m, want_plain, n, L2L_RTOL, L2L_ATOL, "Linear from the stash vs plain");
    free(want_plain);
    free(want_acc);
    free(got[0]);
    free(got[1]);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(test_l2l_dropout_replay)
{
    BEGIN;
    /* Dropout inside the stack: the recomputation must replay the forward's masks.
     * Reference: gradient accumulation over the same microbatches with the generator
     * seeded with l2l_unit_seed(seed, step, layer, microbatch) before each layer, which
     * is plain training with L2L's masks. Two steps (step index 0 and 1). */
    strata_manual_seed(71);
    Module *m = new_sequential();
    add_layer(m, nn_linear(6, 12, true));
    add_layer(m, nn_relu());
    add_layer(m, nn_dropout(0.5f));
    add_layer(m, nn_linear(12, 12, true));
    add_layer(m, nn_dropout(0.3f));
    add_layer(m, nn_linear(12, 4, true));
    nn_train(m, true);
    Tensor *x = make_inputs(72, 10, 6);
    Tensor *y = make_classes(6, 10, 4);
    const uint64_t seed = 1234;

    L2LOptions o = l2l_options(4);
    o.seed = seed;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    for (int64_t step = 0; step < 2; step++) {
        double ref_loss = accumulate_backward(m, x, y, 4, NULL, true, seed, step);
        int n;
        Tensor **want = snapshot_grads(m, &n);
        /* The masks matter: another seed gives other gradients. */
        accumulate_backward(m, x, y, 4, NULL, true, seed + 1, step);
        ck_assert_msg(!tensors_equal(nn_get_parameter(nn_child_at(m, 0), "weight")->grad,
                                     want[0]),
                      "dropout does not change the gradient: the test cannot see masks");
        nn_zero_grad(m, true);

        strata_manual_seed(999);
        uint64_t before = strata_rng_get_state();
        ck_assert_int_eq(l2l_steps(t), step);
        L2LStats st;
        ck_assert_status(l2l_step(t, x, y, &st));
        ck_assert_msg(strata_rng_get_state() == before,
                      "l2l_step moved the caller's generator");
        ck_assert_msg(fabs(st.loss - ref_loss) <= 1e-6 + 1e-5 * fabs(ref_loss),
                      "step %lld: loss %.9g, reference %.9g", (long long)step, st.loss,
                      ref_loss);
        assert_grads_close(m, want, n, L2L_RTOL, L2L_ATOL, "dropout replay");
        free(want);
    }
    l2l_free(t);
    nn_module_free(m);
    END;
}
END_TEST

/*
 * BatchNorm normalises each microbatch on its own (documented): the reference is
 * gradient accumulation over the same microbatches on an identical model. Its running
 * statistics move once per microbatch (3 times for 12 rows in fives), never in the
 * recomputation (the public port moved them twice as often), and a dry run or a failed
 * step leaves them as they were. @p build makes the model (seeded identically each
 * call); @p bn names its BatchNorm's buffers' prefix ("1." or "0.0.").
 */
static void check_batchnorm_statistics(Module *(*build)(void), const char *bn)
{
    char mean_name[64], var_name[64], count_name[64];
    snprintf(mean_name, sizeof mean_name, "%srunning_mean", bn);
    snprintf(var_name, sizeof var_name, "%srunning_var", bn);
    snprintf(count_name, sizeof count_name, "%snum_batches_tracked", bn);
    Module *ref = build(), *m = build();
    Tensor *x = make_inputs(82, 12, 4);
    Tensor *y = make_classes(2, 12, 3);
    double ref_loss = accumulate_backward(ref, x, y, 5, NULL, false, 0, 0);
    int n;
    Tensor **want = snapshot_grads(ref, &n);

    L2LOptions o = l2l_options(5);
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    /* The dry run leaves the statistics alone. */
    Tensor *fresh_mean = tensor_clone(nn_get_buffer(m, mean_name));
    L2LStats need;
    ck_assert_status(l2l_estimate(t, x, y, &need));
    ck_assert_float_eq(tensor_item(nn_get_buffer(m, count_name)), 0.0f);
    ck_assert_msg(tensors_equal(nn_get_buffer(m, mean_name), fresh_mean),
                  "%s moved in l2l_estimate", mean_name);
    L2LStats st;
    ck_assert_status(l2l_step(t, x, y, &st));
    ck_assert_msg(fabs(st.loss - ref_loss) <= 1e-6 + 1e-5 * fabs(ref_loss),
                  "%s: loss %.9g, reference %.9g", bn, st.loss, ref_loss);
    assert_grads_close(m, want, n, L2L_RTOL, L2L_ATOL, "BatchNorm");
    ck_assert_msg(tensor_item(nn_get_buffer(m, count_name)) == 3.0f,
                  "%s after one step of 3 microbatches: %g, expected 3", count_name,
                  (double)tensor_item(nn_get_buffer(m, count_name)));
    assert_tensors_close(nn_get_buffer(m, mean_name), nn_get_buffer(ref, mean_name), L2L_RTOL,
                         L2L_ATOL, mean_name);
    assert_tensors_close(nn_get_buffer(m, var_name), nn_get_buffer(ref, var_name), L2L_RTOL,
                         L2L_ATOL, var_name);

    /* 11 rows in fives leave a last microbatch of one row, which BatchNorm refuses in
     * training mode: the step fails in its forward pass, and the statistics the first
     * two microbatches moved are put back. */
    Tensor *x11 = tensor_narrow(x, 0, 0, 11), *y11 = tensor_narrow(y, 0, 0, 11);
    Tensor *mean_before = tensor_clone(nn_get_buffer(m, mean_name));
    strata_clear_error();
    ck_assert_int_eq(l2l_step(t, x11, y11, NULL), -1);
    ck_assert_error("BatchNorm1d");
    ck_assert_float_eq(tensor_item(nn_get_buffer(m, count_name)), 3.0f);
    ck_assert_msg(tensors_equal(nn_get_buffer(m, mean_name), mean_before),
                  "%s moved in a failed step", mean_name);
    l2l_free(t);
    nn_module_free(m);
    nn_module_free(ref);
    free(want);
}

/* Linear(4, 6), BatchNorm1d(6), ReLU, Linear(6, 3). */
static Module *bn_second(void)
{
    strata_manual_seed(81);
    Module *m = new_sequential();
    add_layer(m, nn_linear(4, 6, true));
    add_layer(m, nn_batch_norm1d(6));
    add_layer(m, nn_relu());
    add_layer(m, nn_linear(6, 3, true));
    return m;
}

/* A first layer that is itself a Sequential whose first child has the buffers:
 * [BatchNorm1d(4), Linear(4, 6)], then ReLU, Linear(6, 3). Its buffers are those of a
 * child of a child, which a snapshot of the layer (the recomputation) or of the model
 * (the dry run, a failed step) must reach like any other. */
static Module *bn_first_nested(void)
{
    strata_manual_seed(83);
    Module *m = new_sequential(), *first = new_sequential();
    add_layer(first, nn_batch_norm1d(4));
    add_layer(first, nn_linear(4, 6, true));
    add_layer(m, first);
    add_layer(m, nn_relu());
    add_layer(m, nn_linear(6, 3, true));
    return m;
}

START_TEST(test_l2l_batchnorm_statistics)
{
    BEGIN;
    check_batchnorm_statistics(bn_second, "1.");
    check_batchnorm_statistics(bn_first_nested, "0.0.");
    END;
}
END_TEST

void add_l2l_gradient_tests(Suite *s)
{
    GRADED(s, test_l2l_mlp_gradients_match_plain, 5);
    GRADED(s, test_l2l_uneven_split_loss, 3);
    GRADED(s, test_l2l_cnn_gradients_match_plain, 4);
    GRADED(s, test_l2l_mse_loss, 2);
    GRADED(s, test_l2l_parameter_free_layers, 2);
    GRADED(s, test_l2l_frozen_layers, 2);
    GRADED(s, test_l2l_linear_backward_from_stash, 2);
    GRADED(s, test_l2l_dropout_replay, 3);
    GRADED(s, test_l2l_batchnorm_statistics, 3);
}
