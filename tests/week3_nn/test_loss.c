/*
 * test_loss.c - the losses against values computed by hand (the arithmetic is in the
 * comments) and by naive loops, stability at extreme logits, reductions, the module
 * forms, errors, and gradchecks of each.
 */
#include "nn_test.h"

static float value_of(Var *v)
{
    ck_assert_msg(v != NULL, "loss is NULL: %s", strata_last_error());
    return tensor_item(v->data);
}

START_TEST(test_mse_l1_by_hand)
{
    Scope *s = scope_begin();
    float a[3] = {1, 2, 3}, t[3] = {1, 0, 5};
    int64_t shape[1] = {3};
    Var *x = make_var(a, shape, 1, true);
    Tensor *target = make_tensor(t, shape, 1);
    /* differences 0, 2, -2: squares 0, 4, 4; absolute values 0, 2, 2 */
    ck_assert_close(value_of(nn_mse_loss(x, target, NN_REDUCTION_MEAN)), 8.0 / 3.0, 1e-6);
    ck_assert_close(value_of(nn_mse_loss(x, target, NN_REDUCTION_SUM)), 8.0, 1e-6);
    float none[3] = {0, 4, 4};
    Var *per = nn_mse_loss(x, target, NN_REDUCTION_NONE);
    ck_assert_ok(per);
    assert_values(per->data, none, 3, 1e-6, "MSE none");
    ck_assert_close(value_of(nn_l1_loss(x, target, NN_REDUCTION_MEAN)), 4.0 / 3.0, 1e-6);
    ck_assert_close(value_of(nn_l1_loss(x, target, NN_REDUCTION_SUM)), 4.0, 1e-6);
    /* d mean((x - t)^2) / dx = 2 (x - t) / 3 = [0, 4/3, -4/3] */
    ck_assert_status(var_backward(nn_mse_loss(x, target, NN_REDUCTION_MEAN)));
    float grad[3] = {0, 4.0f / 3, -4.0f / 3};
    assert_values(var_grad(x), grad, 3, 1e-6, "MSE gradient");
    ck_assert_ptr_null(nn_mse_loss(x, make_tensor(t, (int64_t[]){1, 3}, 2), NN_REDUCTION_MEAN));
    ck_assert_error("must have the same shape");
    scope_end(s);
}
END_TEST

START_TEST(test_cross_entropy_by_hand)
{
    Scope *s = scope_begin();
    float logits[6] = {1, 2, 3, 1, 1, 1}, target[2] = {2, 0};
    Var *x = make_var(logits, (int64_t[]){2, 3}, 2, true);
    Tensor *t = make_tensor(target, (int64_t[]){2}, 1);
    /* row 0: logsumexp(1, 2, 3) = 3.40760596, loss = 3.40760596 - 3 = 0.40760596
     * row 1: logsumexp(1, 1, 1) = 1 + log 3,   loss = log 3 = 1.09861229
     * mean = 0.75310913, sum = 1.50621825 */
    ck_assert_close(value_of(nn_cross_entropy(x, t)), 0.75310913, 1e-6);
    ck_assert_close(value_of(nn_cross_entropy_loss(x, t, NN_REDUCTION_SUM, 0)), 1.50621825,
                    1e-6);
    Var *none = nn_cross_entropy_loss(x, t, NN_REDUCTION_NONE, 0);
    ck_assert_ok(none);
    float per[2] = {0.40760596f, 1.09861229f};
    assert_values(none->data, per, 2, 1e-6, "CE none");
    /* Gradient of the mean: (softmax - onehot) / N. Row 1: softmax = 1/3 each. */
    ck_assert_status(var_backward(nn_cross_entropy(x, t)));
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    float grad[6] = {(float)(exp(1.0) / z / 2), (float)(exp(2.0) / z / 2),
                     (float)((exp(3.0) / z - 1) / 2), (float)((1.0 / 3 - 1) / 2),
                     (float)(1.0 / 6), (float)(1.0 / 6)};
    assert_values(var_grad(x), grad, 6, 1e-6, "CE gradient");
    scope_end(s);
}
END_TEST

START_TEST(test_cross_entropy_label_smoothing)
{
    Scope *s = scope_begin();
    float logits[6] = {1, 2, 3, 1, 1, 1}, target[2] = {2, 0};
    Var *x = make_var(logits, (int64_t[]){2, 3}, 2, true);
    Tensor *t = make_tensor(target, (int64_t[]){2}, 1);
    /* PyTorch: loss_i = (1 - eps) nll_i + eps * mean_c(-log p_ic), eps = 0.1
     * row 0: -log p = [2.40760596, 1.40760596, 0.40760596], mean 1.40760596
     *        0.9 * 0.40760596 + 0.1 * 1.40760596 = 0.50760596
     * row 1: every -log p = log 3: loss = log 3 = 1.09861229
     * mean = 0.80310913 */
    ck_assert_close(value_of(nn_cross_entropy_loss(x, t, NN_REDUCTION_MEAN, 0.1f)),
                    0.80310913, 1e-6);
    /* reduction none: each row smoothed by its own mean over classes, [2] */
    Var *rows = nn_cross_entropy_loss(x, t, NN_REDUCTION_NONE, 0.1f);
    ck_assert_msg(rows != NULL, "nn_cross_entropy_loss(none): %s", strata_last_error());
    ck_assert_int_eq(var_data(rows)->ndim, 1);
    ck_assert_int_eq(var_data(rows)->shape[0], 2);
    assert_values(var_data(rows), (const float[]){0.50760596f, 1.09861229f}, 2, 1e-6,
                  "CE none, eps 0.1");
    /* And against a naive double loop for a random batch and eps = 0.25. */
    strata_manual_seed(25);
    Var *r = randn_var((int64_t[]){4, 5}, 2, false);
    float rt[4] = {0, 4, 2, 2};
    double total = 0;
    for (int i = 0; i < 4; i++) {
        const float *row = r->data->data + 5 * i;
        double m = row[0], lse = 0, mean_neg = 0;
        for (int c = 1; c < 5; c++)
            m = fmax(m, row[c]);
        for (int c = 0; c < 5; c++)
            lse += exp(row[c] - m);
        lse = m + log(lse);
        for (int c = 0; c < 5; c++)
            mean_neg += (lse - row[c]) / 5;
        total += 0.75 * (lse - row[(int)rt[i]]) + 0.25 * mean_neg;
    }
    ck_assert_close(value_of(nn_cross_entropy_loss(r, make_tensor(rt, (int64_t[]){4}, 1),
                                                   NN_REDUCTION_SUM, 0.25f)),
                    total, 1e-5);
    ck_assert_ptr_null(nn_cross_entropy_loss(x, t, NN_REDUCTION_MEAN, 1.5f));
    ck_assert_error("label_smoothing");
    scope_end(s);
}
END_TEST

START_TEST(test_cross_entropy_stable)
{
    Scope *s = scope_begin();
    /* Huge logits: exp(1000) overflows, the log-sum-exp does not. loss = 1000 - 0. */
    float logits[2] = {1000, 0}, target[1] = {1};
    Var *x = make_var(logits, (int64_t[]){1, 2}, 2, true);
    float loss = value_of(nn_cross_entropy(x, make_tensor(target, (int64_t[]){1}, 1)));
    ck_assert_msg(isfinite(loss) && fabs(loss - 1000) < 1e-3, "loss %g", (double)loss);
    float bad[1] = {2};
    ck_assert_ptr_null(nn_cross_entropy(x, make_tensor(bad, (int64_t[]){1}, 1)));
    ck_assert_error("not a class index in [0, 2)");
    float frac[1] = {0.5f};
    ck_assert_ptr_null(nn_cross_entropy(x, make_tensor(frac, (int64_t[]){1}, 1)));
    ck_assert_error("not a class index");
    ck_assert_ptr_null(nn_cross_entropy(x, make_tensor(target, (int64_t[]){1, 1}, 2)));
    ck_assert_error("expected input [N, C] and target [N]");
    scope_end(s);
}
END_TEST

/* A target of -100, PyTorch's default ignore_index, leaves its sample out: loss 0 under
 * none, and the mean divides by the samples kept. Logits [[1, 2, 3], [1, 1, 1], [0, 5, 0]]
 * with targets [2, -100, 1]: row 0 costs -log softmax = 0.40760596 (as in
 * test_cross_entropy_label_smoothing), row 2 costs log(e^0 + e^5 + e^0) - 5 = log(1 + 2
 * e^-5) = 0.01338590; mean (0.40760596 + 0.01338590) / 2 = 0.21049593 (PyTorch 1.13's
 * F.cross_entropy(x, t) gives the same). Gradient of the mean: (softmax - onehot) / 2 on
 * the kept rows, 0 on the ignored one. */
START_TEST(test_cross_entropy_ignore_index)
{
    Scope *s = scope_begin();
    float logits[9] = {1, 2, 3, 1, 1, 1, 0, 5, 0}, target[3] = {2, -100, 1};
    Var *x = make_var(logits, (int64_t[]){3, 3}, 2, true);
    Tensor *t = make_tensor(target, (int64_t[]){3}, 1);
    Var *mean = nn_cross_entropy(x, t);
    ck_assert_msg(mean != NULL, "nn_cross_entropy with target -100: %s", strata_last_error());
    ck_assert_close(value_of(mean), 0.21049593, 1e-6);
    ck_assert_int_eq(var_backward(mean), 0);
    double z0 = exp(1.0) + exp(2.0) + exp(3.0), z2 = 2 + exp(5.0);
    float grad[9] = {(float)(exp(1.0) / z0 / 2), (float)(exp(2.0) / z0 / 2),
                     (float)((exp(3.0) / z0 - 1) / 2), 0, 0, 0, (float)(1 / z2 / 2),
                     (float)((exp(5.0) / z2 - 1) / 2), (float)(1 / z2 / 2)};
    assert_values(var_grad(x), grad, 9, 1e-6, "CE gradient, sample 1 ignored");
    ck_assert_close(value_of(nn_cross_entropy_loss(x, t, NN_REDUCTION_SUM, 0)), 0.42099187,
                    1e-6);
    /* label smoothing 0.1: row 0 as in test_cross_entropy_label_smoothing (0.50760596),
     * row 2 0.9 * 0.01338590 + 0.1 * mean_c(5.01338590 - x_c) = 0.34671924 */
    Var *rows = nn_cross_entropy_loss(x, t, NN_REDUCTION_NONE, 0.1f);
    ck_assert_msg(rows != NULL, "nn_cross_entropy_loss(none): %s", strata_last_error());
    assert_values(var_data(rows), (const float[]){0.50760596f, 0, 0.34671924f}, 3, 1e-6,
                  "CE none, eps 0.1, sample 1 ignored");
    ck_assert_close(value_of(nn_cross_entropy_loss(x, t, NN_REDUCTION_MEAN, 0.1f)),
                    0.42716260, 1e-6);
    /* NLL of the log-probabilities ignores it the same way; every sample ignored: the
     * mean is 0/0 = NaN with a gradient of 0 and the sum 0, as PyTorch's
     * F.nll_loss(lp, [-100, -100, -100]) (its backward gives zeros) */
    Var *lp = var_log_softmax(make_var(logits, (int64_t[]){3, 3}, 2, false), 1);
    ck_assert_close(value_of(nn_nll_loss(lp, t, NN_REDUCTION_MEAN)), 0.21049593, 1e-6);
    float none[3] = {-100, -100, -100};
    Tensor *tn = make_tensor(none, (int64_t[]){3}, 1);
    Var *lq = make_var(logits, (int64_t[]){3, 3}, 2, true);
    Var *all_ignored = nn_nll_loss(lq, tn, NN_REDUCTION_MEAN);
    ck_assert(isnan(value_of(all_ignored)));
    ck_assert_int_eq(var_backward(all_ignored), 0);
    assert_values(var_grad(lq), (const float[9]){0}, 9, 0, "NLL gradient, every sample ignored");
    ck_assert_close(value_of(nn_nll_loss(lp, tn, NN_REDUCTION_SUM)), 0, 0);
    scope_end(s);
}
END_TEST

START_TEST(test_nll_loss)
{
    Scope *s = scope_begin();
    float lp[4] = {-0.1f, -2.3f, -1.2f, -0.4f}, target[2] = {1, 0};
    Var *x = make_var(lp, (int64_t[]){2, 2}, 2, true);
    Tensor *t = make_tensor(target, (int64_t[]){2}, 1);
    /* -(-2.3 + -1.2) / 2 = 1.75 */
    ck_assert_close(value_of(nn_nll_loss(x, t, NN_REDUCTION_MEAN)), 1.75, 1e-6);
    ck_assert_close(value_of(nn_nll_loss(x, t, NN_REDUCTION_SUM)), 3.5, 1e-6);
    /* NLL of log_softmax equals cross-entropy. */
    strata_manual_seed(26);
    Var *r = randn_var((int64_t[]){3, 4}, 2, false);
    float rt[3] = {3, 1, 0};
    Tensor *rtt = make_tensor(rt, (int64_t[]){3}, 1);
    ck_assert_close(value_of(nn_nll_loss(var_log_softmax(r, 1), rtt, NN_REDUCTION_MEAN)),
                    value_of(nn_cross_entropy(r, rtt)), 1e-6);
    scope_end(s);
}
END_TEST

/*
 * BCELoss's gradient at p = 0 or 1 (a confident or saturated prediction) must stay
 * finite, as PyTorch's: d/dp = (p - t) / max(p (1 - p), 1e-12), divided by N for the mean.
 * p = [0, 0, 1], t = [0, 1, 1], N = 3:
 *   p=0, t=0: 0 / 1e-12 = 0;  p=0, t=1: -1 / 1e-12 = -1e12, / 3;  p=1, t=1: 0.
 */
START_TEST(test_bce_gradient_at_edges)
{
    Scope *s = scope_begin();
    float p[3] = {0, 0, 1}, t[3] = {0, 1, 1};
    Var *probs = make_var(p, (int64_t[]){3}, 1, true);
    Var *loss = nn_bce_loss(probs, make_tensor(t, (int64_t[]){3}, 1), NN_REDUCTION_MEAN);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(var_backward(loss), 0);
    Tensor *g = var_grad(probs);
    ck_assert_ptr_nonnull(g);
    ck_assert_close(g->data[0], 0.0, 1e-6);
    ck_assert_msg(fabs(g->data[1] / (-1e12 / 3.0) - 1.0) < 1e-3, "grad[1] = %g, want %g",
                  (double)g->data[1], -1e12 / 3.0);
    ck_assert_close(g->data[2], 0.0, 1e-6);
    scope_end(s);
}
END_TEST

START_TEST(test_bce_losses)
{
    Scope *s = scope_begin();
    float p[2] = {0.8f, 0.3f}, t[2] = {1, 0};
    Var *probs = make_var(p, (int64_t[]){2}, 1, true);
    Tensor *target = make_tensor(t, (int64_t[]){2}, 1);
    /* -(log 0.8 + log 0.7) / 2 = (0.22314355 + 0.35667494) / 2 = 0.28990925 */
    ck_assert_close(value_of(nn_bce_loss(probs, target, NN_REDUCTION_MEAN)), 0.28990925, 1e-6);
    /* log(0) is clamped at -100, as PyTorch: p = 0 with t = 1 costs 100. */
    float zero[1] = {0}, one[1] = {1};
    ck_assert_close(value_of(nn_bce_loss(make_var(zero, (int64_t[]){1}, 1, false),
                                         make_tensor(one, (int64_t[]){1}, 1),
                                         NN_REDUCTION_MEAN)),
                    100.0, 1e-4);
    float out_of_range[1] = {1.5f};
    ck_assert_ptr_null(nn_bce_loss(make_var(out_of_range, (int64_t[]){1}, 1, false),
                                   make_tensor(one, (int64_t[]){1}, 1), NN_REDUCTION_MEAN));
    ck_assert_error("not a probability");
    /* With logits x = [0, 2, -3], t = [1, 0, 1]: softplus(x) - t x
     * = log 2, log(1 + e^2) = 2.12692801, log(1 + e^-3) + 3 = 3.04858735; mean 1.95621843 */
    float x[3] = {0, 2, -3}, tl[3] = {1, 0, 1};
    Var *logits = make_var(x, (int64_t[]){3}, 1, true);
    Tensor *tt = make_tensor(tl, (int64_t[]){3}, 1);
    ck_assert_close(value_of(nn_bce_with_logits_loss(logits, tt, NN_REDUCTION_MEAN)),
                    1.95621843, 1e-5);
    /* Gradient (sigmoid(x) - t) / 3, exact at x = 0 too: (0.5 - 1) / 3. */
    ck_assert_status(var_backward(nn_bce_with_logits_loss(logits, tt, NN_REDUCTION_MEAN)));
    float grad[3] = {(float)(-0.5 / 3), (float)(1 / (1 + exp(-2.0)) / 3),
                     (float)((1 / (1 + exp(3.0)) - 1) / 3)};
    assert_values(var_grad(logits), grad, 3, 1e-6, "BCEWithLogits gradient");
    /* Stable at extreme logits: x = 100, t = 0 and x = -100, t = 1 both cost 100. */
    float big[2] = {100, -100}, bt[2] = {0, 1};
    ck_assert_close(value_of(nn_bce_with_logits_loss(make_var(big, (int64_t[]){2}, 1, false),
                                                     make_tensor(bt, (int64_t[]){2}, 1),
                                                     NN_REDUCTION_SUM)),
                    200.0, 1e-3);
    scope_end(s);
}
END_TEST

/* gradcheck helpers: the loss of inputs[0] against a fixed target in ctx. */
typedef struct LossCase {
    int kind;
    Tensor *target;
    NnReduction reduction;
} LossCase;

static Var *loss_function(Var *const *inputs, int n, void *ctx)
{
    (void)n;
    LossCase *c = ctx;
    switch (c->kind) {
    case 0: return nn_mse_loss(inputs[0], c->target, c->reduction);
    case 1: return nn_l1_loss(inputs[0], c->target, c->reduction);
    case 2: return nn_cross_entropy_loss(inputs[0], c->target, c->reduction, 0.2f);
    case 3: return nn_nll_loss(inputs[0], c->target, c->reduction);
    case 4: return nn_bce_loss(inputs[0], c->target, c->reduction);
    default: return nn_bce_with_logits_loss(inputs[0], c->target, c->reduction);
    }
}

START_TEST(test_loss_gradchecks)
{
    Scope *s = scope_begin();
    strata_manual_seed(27);
    int64_t shape[2] = {4, 3};
    Tensor *dense = tensor_randn(shape, 2);
    float classes[4] = {2, 0, 1, 2};
    Tensor *labels = make_tensor(classes, (int64_t[]){4}, 1);
    Tensor *bits = tensor_bernoulli(shape, 2, 0.5f);
    /* Probabilities in (0.1, 0.9) for BCE. */
    Var *probs = var_new(tensor_add_scalar(tensor_mul_scalar(tensor_rand(shape, 2), 0.8f), 0.1f),
                         true);
    const char *names[6] = {"mse", "l1", "cross_entropy", "nll", "bce", "bce_with_logits"};
    NnReduction reductions[3] = {NN_REDUCTION_MEAN, NN_REDUCTION_SUM, NN_REDUCTION_NONE};
    for (int kind = 0; kind < 6; kind++) {
        for (int r = 0; r < 3; r++) {
            LossCase c = {kind, kind == 2 || kind == 3 ? labels : kind >= 4 ? bits : dense,
                          reductions[r]};
            Var *x = kind == 4 ? probs : randn_var(shape, 2, true);
            ck_assert_msg(var_gradcheck(loss_function, &x, 1, &c, GRADCHECK_EPS,
                                        GRADCHECK_ATOL, GRADCHECK_RTOL),
                          "gradcheck of %s (reduction %d): %s", names[kind], r,
                          strata_last_error());
        }
    }
    scope_end(s);
}
END_TEST

START_TEST(test_loss_modules)
{
    Scope *s = scope_begin();
    strata_manual_seed(28);
    Var *x = randn_var((int64_t[]){3, 4}, 2, true);
    float classes[3] = {1, 3, 0};
    Tensor *labels = make_tensor(classes, (int64_t[]){3}, 1);
    Module *ce = MUST(nn_cross_entropy_module(NN_REDUCTION_MEAN, 0.1f));
    ck_assert_close(value_of(nn_forward2(ce, x, var_new(labels, false))),
                    value_of(nn_cross_entropy_loss(x, labels, NN_REDUCTION_MEAN, 0.1f)), 1e-6);
    Module *mse = MUST(nn_mse_loss_module(NN_REDUCTION_NONE));
    Tensor *y = tensor_zeros((int64_t[]){3, 4}, 2);
    Var *per = nn_forward2(mse, x, var_new(y, false));
    ck_assert_ok(per);
    int64_t ps[2] = {3, 4};
    assert_shape(per->data, ps, 2, "MSELoss(reduction='none')");
    Module *mods[4] = {MUST(nn_l1_loss_module(NN_REDUCTION_SUM)),
                       MUST(nn_nll_loss_module(NN_REDUCTION_MEAN)),
                       MUST(nn_bce_loss_module(NN_REDUCTION_MEAN)),
                       MUST(nn_bce_with_logits_loss_module(NN_REDUCTION_MEAN))};
    ck_assert_close(value_of(nn_forward2(mods[0], x, var_new(y, false))),
                    value_of(nn_l1_loss(x, y, NN_REDUCTION_SUM)), 1e-6);
    ck_assert_close(value_of(nn_forward2(mods[1], x, var_new(labels, false))),
                    value_of(nn_nll_loss(x, labels, NN_REDUCTION_MEAN)), 1e-6);
    Var *p = var_sigmoid(x);
    ck_assert_close(value_of(nn_forward2(mods[2], p, var_new(y, false))),
                    value_of(nn_bce_loss(p, y, NN_REDUCTION_MEAN)), 1e-6);
    ck_assert_close(value_of(nn_forward2(mods[3], x, var_new(y, false))),
                    value_of(nn_bce_with_logits_loss(x, y, NN_REDUCTION_MEAN)), 1e-6);
    for (int i = 0; i < 4; i++)
        nn_module_free(mods[i]);
    scope_end(s);
    nn_module_free(ce);
    nn_module_free(mse);
}
END_TEST

void add_loss_tests(Suite *s)
{
    GRADED(s, test_mse_l1_by_hand, 3);
    GRADED(s, test_cross_entropy_by_hand, 4);
    GRADED(s, test_cross_entropy_label_smoothing, 3);
    GRADED(s, test_cross_entropy_stable, 3);
    GRADED(s, test_nll_loss, 2);
    GRADED(s, test_cross_entropy_ignore_index, 2);
    GRADED(s, test_bce_losses, 3);
    GRADED(s, test_bce_gradient_at_edges, 2);
    GRADED_TIMED(s, test_loss_gradchecks, 4, 30.0);
    GRADED(s, test_loss_modules, 2);
}
