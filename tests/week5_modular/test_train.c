/*
 * test_train.c - the dualized optimizer through optim.h's extension point: a short run
 * on a toy regression decreases the loss (plain, with momentum, normed Adam), the nn
 * wrapper goes through week 4's train_epoch(), and a training step leaks nothing.
 */
#include "week5.h"

#include <math.h>

/* A toy regression: 64 inputs of 8 features, targets from a fixed random teacher. */
typedef struct Toy {
    Var *x;
    Tensor *y;
} Toy;

static Toy toy_data(void)
{
    strata_manual_seed(30);
    Toy t;
    Tensor *x = w5_randn(64, 8);
    Tensor *teacher = w5_randn(8, 4);
    t.y = tensor_tanh(tensor_matmul(x, teacher));
    t.x = var_new(x, false);
    return t;
}

static double mse_step(ModularModule *m, Optimizer *opt, const Toy *t, bool step)
{
    Scope *s = scope_begin();
    optim_zero_grad(opt, true);
    Var *loss = nn_mse_loss(modular_forward(m, t->x), t->y, NN_REDUCTION_MEAN);
    ck_assert_msg(loss != NULL, "forward/loss failed: %s", strata_last_error());
    double value = tensor_item(loss->data);
    if (step) {
        ck_assert_int_eq(var_backward(loss), 0);
        ck_assert_msg(optim_step(opt) == 0, "optim_step failed: %s", strata_last_error());
    }
    scope_end(s);
    return value;
}

/* Train 40 steps; return the loss before and after. */
static void run(const ModularOptimOptions *o, double *before, double *after)
{
    Scope *s = scope_begin();
    Toy t = toy_data();
    ModularModule *m = modular_mlp(4, 8, 32, 3);
    ck_assert_int_eq(modular_initialize(m), 0);
    Optimizer *opt = modular_optimizer_new(m, o);
    ck_assert_msg(opt != NULL, "modular_optimizer_new failed: %s", strata_last_error());
    *before = mse_step(m, opt, &t, false);
    for (int k = 0; k < 40; k++)
        mse_step(m, opt, &t, true);
    *after = mse_step(m, opt, &t, false);
    ck_assert_int_eq((int)opt->steps, 40);
    optim_free(opt);
    modular_free(m);
    scope_end(s);
}

START_TEST(test_dualized_descent_decreases_loss)
{
    ModularOptimOptions o = {0};
    o.kind = MODULAR_DESCENT;
    o.lr = 0.1f;
    double before, after;
    run(&o, &before, &after);
    ck_assert_msg(after < 0.5 * before, "dualized descent: loss %g -> %g, expected to halve",
                  before, after);
}
END_TEST

START_TEST(test_momentum_and_normed_adam_decrease_loss)
{
    ModularOptimOptions o = {0};
    o.kind = MODULAR_DESCENT;
    o.lr = 0.1f;
    o.momentum = 0.9f;
    o.project = true;
    double before, after;
    run(&o, &before, &after);
    ck_assert_msg(after < 0.5 * before, "dualized momentum: loss %g -> %g", before, after);
    ModularOptimOptions a = {0};
    a.kind = MODULAR_NORMED_ADAM;
    a.lr = 0.1f;
    a.weight_decay = 0.01f;
    a.total_steps = 40;
    run(&a, &before, &after);
    ck_assert_msg(after < 0.5 * before, "normed Adam: loss %g -> %g", before, after);
}
END_TEST

START_TEST(test_step_is_the_dual_direction)
{
    Scope *s = scope_begin();
    /* one step of plain dualized descent moves the weights by exactly lr * dualize(g) */
    Toy t = toy_data();
    ModularModule *m = modular_mlp(4, 8, 16, 3);
    ck_assert_int_eq(modular_initialize(m), 0);
    ModularOptimOptions o = {0};
    o.lr = 0.05f;
    Optimizer *opt = modular_optimizer_new(m, &o);
    ck_assert_ptr_nonnull(opt);
    optim_zero_grad(opt, true);
    Var *loss = nn_mse_loss(modular_forward(m, t.x), t.y, NN_REDUCTION_MEAN);
    ck_assert_int_eq(var_backward(loss), 0);
    Tensor *w0[3], *g[3], *d[3];
    for (int i = 0; i < 3; i++) {
        w0[i] = tensor_clone(modular_weight_get(m, i)->data);
        g[i] = var_grad(modular_weight_get(m, i));
        ck_assert_msg(g[i] != NULL, "no gradient reached atom %d", i);
        d[i] = tensor_zeros_like(g[i]);
    }
    ck_assert_int_eq(modular_dualize(m, g, d, 1.0f), 0);
    ck_assert_int_eq(optim_step(opt), 0);
    for (int i = 0; i < 3; i++) {
        Tensor *w1 = modular_weight_get(m, i)->data;
        for (int64_t k = 0; k < tensor_numel(w1); k++)
            ck_assert_close(w1->data[k], w0[i]->data[k] - 0.05 * d[i]->data[k], 1e-6);
    }
    /* the step's modular norm is lr */
    Tensor *delta[3];
    for (int i = 0; i < 3; i++)
        delta[i] = tensor_sub(modular_weight_get(m, i)->data, w0[i]);
    ck_assert_close(modular_norm(m, delta), 0.05, 0.0005);
    /* with weight decay the step is followed by regularize(lr * weight_decay): three
     * atoms of mass 1 share 0.05 * 0.6 = 0.03 equally, so w1 = 0.99 (w0 - 0.05 d) */
    ModularOptimOptions wd = {0};
    wd.lr = 0.05f;
    wd.weight_decay = 0.6f;
    Optimizer *opt_wd = modular_optimizer_new(m, &wd);
    ck_assert_ptr_nonnull(opt_wd);
    optim_zero_grad(opt_wd, true);
    ck_assert_int_eq(var_backward(nn_mse_loss(modular_forward(m, t.x), t.y, NN_REDUCTION_MEAN)),
                     0);
    for (int i = 0; i < 3; i++) {
        w0[i] = tensor_clone(modular_weight_get(m, i)->data);
        g[i] = var_grad(modular_weight_get(m, i));
        ck_assert_msg(g[i] != NULL, "no gradient reached atom %d", i);
    }
    ck_assert_int_eq(modular_dualize(m, g, d, 1.0f), 0);
    ck_assert_int_eq(optim_step(opt_wd), 0);
    for (int i = 0; i < 3; i++) {
        Tensor *w1 = modular_weight_get(m, i)->data;
        for (int64_t k = 0; k < tensor_numel(w1); k++)
            ck_assert_msg(fabs(w1->data[k] - 0.99 * (w0[i]->data[k] - 0.05 * d[i]->data[k])) <
                              1e-6,
                          "weight decay 0.6, lr 0.05: atom %d element %lld is %.8g, expected "
                          "0.99 (w0 - lr d) = %.8g",
                          i, (long long)k, (double)w1->data[k],
                          0.99 * (w0[i]->data[k] - 0.05 * d[i]->data[k]));
    }
    optim_free(opt_wd);
    /* bad options are refused */
    o.momentum = 1.5f;
    ck_assert_ptr_null(modular_optimizer_new(m, &o));
    ck_assert_msg(strstr(strata_last_error(), "momentum"), "message: %s", strata_last_error());
    optim_free(opt);
    modular_free(m);
    scope_end(s);
}
END_TEST

START_TEST(test_regularize_split)
{
    Scope *s = scope_begin();
    ModularModule *mlp = modular_mlp(3, 3, 3, 3);
    ck_assert_int_eq(modular_initialize(mlp), 0);
    Tensor *before[3];
    for (int i = 0; i < 3; i++)
        before[i] = tensor_clone(modular_weight_get(mlp, i)->data);
    /* strength 0.3 split as the targets: 0.1 each, so each weight shrinks by 0.9 */
    ck_assert_int_eq(modular_regularize(mlp, 0.3f), 0);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 9; k++)
            ck_assert_close(modular_weight_get(mlp, i)->data->data[k],
                            0.9 * before[i]->data[k], 1e-6);
    ck_assert_int_eq(modular_regularize(mlp, 2.0f), -1);
    modular_free(mlp);
    scope_end(s);
}
END_TEST

START_TEST(test_nn_wrapper_train_epoch)
{
    Scope *s = scope_begin();
    strata_manual_seed(31);
    /* 3 classes separated along the first feature */
    Tensor *x = w5_randn(96, 6), *y = tensor_zeros((int64_t[]){96}, 1);
    for (int i = 0; i < 96; i++) {
        y->data[i] = (float)(i % 3);
        x->data[i * 6] += 3.0f * (float)(i % 3);
    }
    Dataset *ds = data_tensor_dataset_new(x, y);
    DataLoaderOptions lo = {.batch_size = 32, .shuffle = true, .seed = 1};
    DataLoader *dl = data_loader_new(ds, &lo);
    Module *net = modular_nn_module(modular_mlp(3, 6, 16, 3));
    ck_assert_msg(ds && dl && net, "setup failed: %s", strata_last_error());
    int count = 0;
    Var **params = nn_parameters(net, &count);
    ck_assert_int_eq(count, 3);
    strata_free(params);
    ModularModule *m = modular_from_nn(net);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(modular_initialize(m), 0);
    ModularOptimOptions o = {0};
    o.lr = 0.2f;
    Optimizer *opt = modular_optimizer_new(m, &o);
    TrainStats first, last;
    ck_assert_msg(train_epoch(net, opt, dl, NULL, &first) == 0, "train_epoch failed: %s",
                  strata_last_error());
    for (int e = 0; e < 5; e++)
        ck_assert_int_eq(train_epoch(net, opt, dl, NULL, &last), 0);
    ck_assert_msg(last.loss < first.loss, "cross-entropy did not fall: %g -> %g", first.loss,
                  last.loss);
    optim_free(opt);
    nn_module_free(net);
    data_loader_free(dl);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

START_TEST(test_training_step_leaks_nothing)
{
    Toy t;
    Scope *outer = scope_begin();
    t = toy_data();
    ModularModule *m = modular_mlp(4, 8, 16, 3);
    ck_assert_int_eq(modular_initialize(m), 0);
    ModularOptimOptions o = {0};
    o.lr = 0.1f;
    o.momentum = 0.5f;
    Optimizer *opt = modular_optimizer_new(m, &o);
    mse_step(m, opt, &t, true); /* creates the momentum buffers */
    optim_zero_grad(opt, true);
    size_t live = strata_mem_stats().bytes_live;
    size_t objects = scope_depth_objects();
    mse_step(m, opt, &t, true);
    optim_zero_grad(opt, true);
    ck_assert_msg(strata_mem_stats().bytes_live == live,
                  "a training step left %zd bytes behind",
                  (ptrdiff_t)(strata_mem_stats().bytes_live - live));
    ck_assert_int_eq(scope_depth_objects(), objects);
    /* forward without any scope open: the caller owns only the result */
    scope_end(outer);
    size_t before = strata_mem_stats().bytes_live;
    Tensor *xt = w5_randn(2, 8);
    Var *x = var_new(xt, false);
    tensor_release(xt); /* x holds it now */
    Var *y = modular_forward(m, x);
    ck_assert_ptr_nonnull(y);
    var_release(y);
    var_release(x);
    ck_assert_msg(strata_mem_stats().bytes_live == before,
                  "forward without a scope leaked %zd bytes",
                  (ptrdiff_t)(strata_mem_stats().bytes_live - before));
    optim_free(opt);
    modular_free(m); /* t's objects went with the outer scope */
}
END_TEST

START_TEST(test_forward_errors)
{
    Scope *s = scope_begin();
    ModularModule *parts[2] = {modular_linear(3, 4), modular_linear(3, 4)};
    ModularModule *tup = modular_tuple(2, parts);
    Var *x = var_new(w5_randn(2, 4), false);
    strata_clear_error();
    ck_assert_ptr_null(modular_forward(tup, x));
    ck_assert_msg(strstr(strata_last_error(), "tuple"), "message: %s", strata_last_error());
    ModularModule *lin = modular_linear(3, 5);
    strata_clear_error();
    ck_assert_ptr_null(modular_forward(lin, x)); /* 4 features into a Linear(3, 5) */
    ck_assert_msg(strlen(strata_last_error()) > 0, "a shape mismatch must set an error");
    /* inside a composition the inner module's failure is the error reported (5 -> 3 -> 2
     * fed 4 features): the outer module is never run on nothing */
    ModularModule *chain = modular_compose(modular_linear(2, 3), modular_linear(3, 5));
    ck_assert_ptr_nonnull(chain);
    strata_clear_error();
    ck_assert_ptr_null(modular_forward(chain, x));
    ck_assert_msg(strstr(strata_last_error(), "[2, 4]") && !strstr(strata_last_error(), "tuple"),
                  "compose fed [2, 4] where it takes 5 features: message \"%s\" should "
                  "name the input's shape [2, 4]",
                  strata_last_error());
    modular_free(chain);
    modular_free(tup);
    modular_free(lin);
    scope_end(s);
}
END_TEST

/* One normed-Adam step of a single Linear atom with the gradient @p c (the loss is
 * sum(W * C)); returns the weight's change w0 - w1 in @p dw. */
static void adam_step_with_grad(ModularModule *m, Optimizer *opt, const float *c, float *dw)
{
    Scope *s = scope_begin();
    Var *w = modular_weight_get(m, 0);
    Tensor *w0 = tensor_clone(w->data);
    optim_zero_grad(opt, true);
    Var *cv = var_new(tensor_from_data(c, (int64_t[]){2, 3}, 2), false);
    ck_assert_int_eq(var_backward(var_sum(var_mul(w, cv), NULL, 0, false)), 0);
    ck_assert_msg(optim_step(opt) == 0, "optim_step failed: %s", strata_last_error());
    for (int k = 0; k < 6; k++)
        dw[k] = w0->data[k] - w->data->data[k];
    scope_end(s);
}

/* @p dw must point along @p u: dw = a u with a > 0 (normalize keeps the direction). */
static void expect_along(const float *dw, const double *u, const char *what)
{
    double du = 0, uu = 0, dd = 0;
    for (int k = 0; k < 6; k++) {
        du += dw[k] * u[k];
        uu += u[k] * u[k];
        dd += (double)dw[k] * dw[k];
    }
    ck_assert_msg(du > 0 && du / sqrt(uu * dd) > 1 - 1e-5,
                  "%s: the step is not along m_hat / sqrt(v_hat) (cosine %g)", what,
                  du / sqrt(uu * dd + 1e-300));
}

/* Normed Adam's update direction is m_hat / sqrt(v_hat), by hand over two steps
 * (beta1 0.9, beta2 0.99): step 1 gives g1 / |g1| elementwise; step 2 gives
 * (0.9 * 0.1 g1 + 0.1 g2) / 0.19 over sqrt((0.99 * 0.01 g1^2 + 0.01 g2^2) / 0.0199);
 * and its learning-rate decay over total_steps. */
START_TEST(test_normed_adam_direction_by_hand)
{
    Scope *s = scope_begin();
    strata_manual_seed(33);
    ModularModule *m = modular_linear(2, 3);
    ck_assert_int_eq(modular_initialize(m), 0);
    ModularOptimOptions a = {0};
    a.kind = MODULAR_NORMED_ADAM;
    a.lr = 0.1f;
    Optimizer *opt = modular_optimizer_new(m, &a);
    ck_assert_msg(opt != NULL, "modular_optimizer_new failed: %s", strata_last_error());
    const float g1[6] = {0.5f, -2.0f, 1.0f, 0.25f, -0.5f, 3.0f};
    const float g2[6] = {1.0f, 1.0f, -1.0f, 0.5f, 2.0f, -1.5f};
    float dw[6];
    double u[6];
    adam_step_with_grad(m, opt, g1, dw);
    for (int k = 0; k < 6; k++)
        u[k] = g1[k] > 0 ? 1.0 : -1.0;
    expect_along(dw, u, "step 1");
    adam_step_with_grad(m, opt, g2, dw);
    for (int k = 0; k < 6; k++) {
        double mh = (0.9 * 0.1 * g1[k] + 0.1 * g2[k]) / (1 - 0.9 * 0.9);
        double vh = (0.99 * 0.01 * g1[k] * g1[k] + 0.01 * g2[k] * g2[k]) / (1 - 0.99 * 0.99);
        u[k] = mh / sqrt(vh);
    }
    expect_along(dw, u, "step 2");
    optim_free(opt);

    /* total_steps = 4 decays the step's norm linearly, lr (1 - steps taken / 4), and
     * holds it at 0 after: 0.1, 0.075, 0.05, 0.025, 0, 0. A constant gradient keeps the
     * direction (sign(g) elementwise), so each norm is measured exactly (LAPACK). */
    a.total_steps = 4;
    opt = modular_optimizer_new(m, &a);
    ck_assert_msg(opt != NULL, "modular_optimizer_new failed: %s", strata_last_error());
    for (int step = 0; step < 6; step++) {
        adam_step_with_grad(m, opt, g1, dw);
        Tensor *d = tensor_from_data(dw, (int64_t[]){2, 3}, 2);
        double want = step < 4 ? 0.1 * (1 - step / 4.0) : 0.0;
        ck_assert_msg(fabs(w5_linear_norm(d) - want) < 1e-4,
                      "normed Adam, total_steps 4: step %d has norm %.6g, expected %.6g",
                      step + 1, w5_linear_norm(d), want);
    }
    optim_free(opt);
    modular_free(m);
    scope_end(s);
}
END_TEST

void add_train_tests(Suite *s)
{
    GRADED_TIMED(s, test_dualized_descent_decreases_loss, 5, 30.0);
    GRADED_TIMED(s, test_momentum_and_normed_adam_decrease_loss, 3, 30.0);
    GRADED(s, test_step_is_the_dual_direction, 3);
    GRADED(s, test_normed_adam_direction_by_hand, 2);
    GRADED(s, test_regularize_split, 2);
    GRADED_TIMED(s, test_nn_wrapper_train_epoch, 3, 30.0);
    GRADED(s, test_training_step_leaks_nothing, 2);
    GRADED(s, test_forward_errors, 1);
}
