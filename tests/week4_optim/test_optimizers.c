/*
 * test_optimizers.c - each optimizer's first steps against values worked out from the
 * update rules in PyTorch's documentation, parameter groups, zero_grad, custom rules.
 *
 * Most tests use the parameter p0 = [1, -2] and the gradients
 * g1 = [0.5, 1], g2 = [-1, 2], g3 = [0.25, -0.5] (set directly, as backward would).
 */
#include "helpers.h"

static const float P0[2] = {1.0f, -2.0f};
static const float G[3][2] = {{0.5f, 1.0f}, {-1.0f, 2.0f}, {0.25f, -0.5f}};
#define TOL 2e-6

/* Run @p steps steps of @p opt on p with the gradients G[0..steps-1]. */
static void run_steps(Optimizer *opt, Var *p, int steps)
{
    for (int k = 0; k < steps; k++) {
        set_grad(p, G[k]);
        ck_assert_msg(optim_step(opt) == 0, "optim_step failed: %s", strata_last_error());
    }
}

/* One step of @p opt on p with the gradient G[k]. */
static void one_step(Optimizer *opt, Var *p, int k)
{
    set_grad(p, G[k]);
    ck_assert_msg(optim_step(opt) == 0, "optim_step (gradient %d) failed: %s", k + 1,
                  strata_last_error());
}

START_TEST(test_sgd_plain)
{
    Scope *s = scope_begin();
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_sgd_defaults(0.1f);
    Optimizer *opt = optim_sgd_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_sgd_new: %s", strata_last_error());
    /* p -= lr * g: [1 - 0.1*0.5, -2 - 0.1*1] = [0.95, -2.1] */
    run_steps(opt, p, 1);
    assert_param(p, (float[]){0.95f, -2.1f}, 2, TOL, "SGD step 1");
    /* [0.95 + 0.1*1, -2.1 - 0.1*2] = [1.05, -2.3] */
    set_grad(p, G[1]);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){1.05f, -2.3f}, 2, TOL, "SGD step 2");
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_sgd_momentum_dampening_wd)
{
    Scope *s = scope_begin();
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_sgd_defaults(0.1f);
    hp.momentum = 0.9f;
    hp.dampening = 0.5f;
    hp.weight_decay = 0.1f;
    Optimizer *opt = optim_sgd_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_sgd_new: %s", strata_last_error());
    float g[2] = {0.5f, 1.0f}; /* the same gradient each step */
    /* step 1: d = g + 0.1 p = [0.6, 0.8]; b = d (no dampening on the first step);
     *         p = p - 0.1 b = [0.94, -2.08] */
    set_grad(p, g);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.94f, -2.08f}, 2, TOL, "SGD momentum step 1");
    /* step 2: d = [0.5 + 0.094, 1 - 0.208] = [0.594, 0.792];
     *         b = 0.9 [0.6, 0.8] + 0.5 d = [0.837, 1.116]; p = [0.8563, -2.1916] */
    set_grad(p, g);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.8563f, -2.1916f}, 2, TOL, "SGD momentum step 2");
    /* step 3: d = [0.58563, 0.78084]; b = 0.9 [0.837, 1.116] + 0.5 d = [1.046115, 1.39482];
     *         p = [0.7516885, -2.331082] */
    set_grad(p, g);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.7516885f, -2.331082f}, 2, TOL, "SGD momentum step 3");
    Tensor *buf = optim_state_find(&opt->groups[0].state[0], "momentum_buffer");
    ck_assert_msg(buf != NULL, "no momentum_buffer in the state");
    ck_assert_close(buf->data[0], 1.046115, TOL);
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_sgd_nesterov_maximize)
{
    Scope *s = scope_begin();
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_sgd_defaults(0.1f);
    hp.momentum = 0.9f;
    hp.nesterov = true;
    Optimizer *opt = optim_sgd_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_sgd_new: %s", strata_last_error());
    float g[2] = {0.5f, 1.0f};
    /* step 1: b = g; step = g + 0.9 b = [0.95, 1.9]; p = [0.905, -2.19] */
    set_grad(p, g);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.905f, -2.19f}, 2, TOL, "Nesterov step 1");
    /* step 2: b = 0.9 b + g = [0.95, 1.9]; step = g + 0.9 b = [1.355, 2.71];
     *         p = [0.7695, -2.461] */
    set_grad(p, g);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.7695f, -2.461f}, 2, TOL, "Nesterov step 2");
    optim_free(opt);

    /* maximize ascends: p += lr g = [1.05, -1.9] */
    Var *q = make_param(P0, 2);
    OptimHparams up = optim_sgd_defaults(0.1f);
    up.maximize = true;
    opt = optim_sgd_new(&q, 1, &up);
    ck_assert_msg(opt != NULL, "optim_sgd_new: %s", strata_last_error());
    set_grad(q, g);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(q, (float[]){1.05f, -1.9f}, 2, TOL, "SGD maximize");
    optim_free(opt);

    /* Nesterov without momentum is refused, as in PyTorch */
    hp.momentum = 0.0f;
    ck_assert_ptr_null(optim_sgd_new(&q, 1, &hp));
    ck_assert_error("Nesterov");
    scope_end(s);
}
END_TEST

START_TEST(test_adam_three_steps)
{
    Scope *s = scope_begin();
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_adam_defaults(0.1f);
    Optimizer *opt = optim_adam_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_adam_new: %s", strata_last_error());
    /* step 1: m = 0.1 g1 = [0.05, 0.1]; v = 0.001 g1^2 = [0.00025, 0.001];
     *   mhat = m / (1 - 0.9) = [0.5, 1]; vhat = v / (1 - 0.999) = [0.25, 1];
     *   p -= 0.1 mhat / (sqrt(vhat) + 1e-8) = 0.1 [1, 1] (to 1e-8): [0.9, -2.1] */
    run_steps(opt, p, 1);
    assert_param(p, (float[]){0.9f, -2.1f}, 2, TOL, "Adam step 1");
    /* step 2 (g2 = [-1, 2]): m = 0.9 m + 0.1 g2 = [-0.055, 0.29];
     *   v = 0.999 v + 0.001 g2^2 = [0.00124975, 0.004999];
     *   mhat = m / 0.19 = [-0.28947368, 1.52631579]; vhat = v / 0.001999 = [0.62518759,
     *   2.50075038]; p -= 0.1 mhat / sqrt(vhat) = [-0.03661035, 0.09651820]
     *   -> [0.93661035, -2.19651820] */
    set_grad(p, G[1]);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.93661035f, -2.19651820f}, 2, TOL, "Adam step 2");
    /* step 3 (g3 = [0.25, -0.5]), the same recurrence: [0.95027942, -2.25537887] */
    set_grad(p, G[2]);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.95027942f, -2.25537887f}, 2, TOL, "Adam step 3");
    ck_assert_int_eq(opt->groups[0].state[0].step, 3);
    ck_assert_ptr_nonnull(optim_state_find(&opt->groups[0].state[0], "exp_avg"));
    ck_assert_ptr_nonnull(optim_state_find(&opt->groups[0].state[0], "exp_avg_sq"));
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_adam_weight_decay_amsgrad)
{
    Scope *s = scope_begin();
    /* L2 weight decay 0.1 adds 0.1 p to each gradient before the moments:
     *   step 1 d = [0.6, 0.8]: the update is still 0.1 sign(d) -> [0.9, -2.1];
     *   steps 2-3 by the same recurrence -> [0.92526352, -2.19527201], [0.92473057, -2.24238446] */
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_adam_defaults(0.1f);
    hp.weight_decay = 0.1f;
    Optimizer *opt = optim_adam_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_adam_new: %s", strata_last_error());
    run_steps(opt, p, 3);
    assert_param(p, (float[]){0.92473057f, -2.24238446f}, 2, TOL, "Adam weight decay");
    optim_free(opt);

    /* AMSGrad with beta2 = 0.5 and gradients [2, -1], [0.1, 0.1], [0.1, -0.1]: v shrinks
     * after the first step, so the running max vmax = v1 = 0.5 [4, 1] is what divides.
     *   step 1 -> [0.9, -1.9] (as Adam)
     *   step 2: m = [0.19, -0.08]; vmax = [2, 0.5]; mhat = m/0.19 = [1, -0.42105263];
     *           vhat = vmax/0.75 = [2.6666667, 0.6666667]; p -= 0.1 mhat/sqrt(vhat)
     *           -> [0.83876276, -1.84843180]
     *   step 3 -> [0.79458554, -1.80840383]  (plain Adam would give [0.72591403, -1.75003287]) */
    float a[3][2] = {{2.0f, -1.0f}, {0.1f, 0.1f}, {0.1f, -0.1f}};
    Var *q = make_param(P0, 2);
    hp = optim_adam_defaults(0.1f);
    hp.beta2 = 0.5f;
    hp.amsgrad = true;
    opt = optim_adam_new(&q, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_adam_new: %s", strata_last_error());
    for (int k = 0; k < 3; k++) {
        set_grad(q, a[k]);
        ck_assert_int_eq(optim_step(opt), 0);
    }
    assert_param(q, (float[]){0.79458554f, -1.80840383f}, 2, TOL, "AMSGrad");
    ck_assert_ptr_nonnull(optim_state_find(&opt->groups[0].state[0], "max_exp_avg_sq"));
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_adamw_decoupled)
{
    Scope *s = scope_begin();
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_adamw_defaults(0.1f);
    ck_assert_close(hp.weight_decay, 0.01, 1e-9); /* PyTorch's AdamW default */
    hp.weight_decay = 0.1f;
    Optimizer *opt = optim_adamw_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_adamw_new: %s", strata_last_error());
    /* step 1: p *= 1 - 0.1*0.1 = 0.99 -> [0.99, -1.98]; then the Adam step on g1 alone
     *   (no L2 term): -0.1 sign(g1) -> [0.89, -2.08] */
    run_steps(opt, p, 1);
    assert_param(p, (float[]){0.89f, -2.08f}, 2, TOL, "AdamW step 1");
    /* steps 2-3, same recurrence: [0.91771035, -2.15571820], [0.92220232, -2.19302169] */
    set_grad(p, G[1]);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.91771035f, -2.15571820f}, 2, TOL, "AdamW step 2");
    set_grad(p, G[2]);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.92220232f, -2.19302169f}, 2, TOL, "AdamW step 3");
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_rmsprop)
{
    Scope *s = scope_begin();
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_rmsprop_defaults(0.01f);
    hp.alpha = 0.9f;
    Optimizer *opt = optim_rmsprop_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_rmsprop_new: %s", strata_last_error());
    /* step 1: v = 0.1 g1^2 = [0.025, 0.1]; p -= 0.01 g1 / sqrt(v)
     *   = 0.01 [0.5/0.15811388, 1/0.31622777] = [0.03162278, 0.03162278]
     *   -> [0.96837722, -2.03162278] */
    run_steps(opt, p, 1);
    assert_param(p, (float[]){0.96837722f, -2.03162278f}, 2, TOL, "RMSprop step 1");
    /* steps 2-3 by the same recurrence: [0.99694865, -2.06019420], [0.98962417, -2.05286972] */
    set_grad(p, G[1]);
    ck_assert_int_eq(optim_step(opt), 0);
    set_grad(p, G[2]);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){0.98962417f, -2.05286972f}, 2, TOL, "RMSprop step 3");
    /* as in PyTorch, the state holds square_avg only: no momentum buffer without
     * momentum, no grad_avg unless centered */
    ck_assert_ptr_nonnull(optim_state_find(&opt->groups[0].state[0], "square_avg"));
    ck_assert_ptr_null(optim_state_find(&opt->groups[0].state[0], "momentum_buffer"));
    ck_assert_ptr_null(optim_state_find(&opt->groups[0].state[0], "grad_avg"));
    optim_free(opt);

    /* centered, momentum 0.5, weight decay 0.1:
     *   step 1: d = g1 + 0.1 p0 = [0.6, 0.8]; v = 0.1 d^2 = [0.036, 0.064];
     *   ga = 0.1 d = [0.06, 0.08]; avg = sqrt(v - ga^2) = sqrt([0.0324, 0.0576]) = [0.18, 0.24];
     *   b = d / avg = [3.3333333, 3.3333333]; p -= 0.01 b -> [0.96666667, -2.03333333]
     *   steps 2-3 by the same recurrence -> [0.97691056, -2.08190754], [0.97176561, -2.09452487] */
    Var *q = make_param(P0, 2);
    hp = optim_rmsprop_defaults(0.01f);
    hp.alpha = 0.9f;
    hp.momentum = 0.5f;
    hp.centered = true;
    hp.weight_decay = 0.1f;
    opt = optim_rmsprop_new(&q, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_rmsprop_new: %s", strata_last_error());
    run_steps(opt, q, 1);
    assert_param(q, (float[]){0.96666667f, -2.03333333f}, 2, TOL, "RMSprop centered step 1");
    set_grad(q, G[1]);
    ck_assert_int_eq(optim_step(opt), 0);
    set_grad(q, G[2]);
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(q, (float[]){0.97176561f, -2.09452487f}, 2, 1e-5, "RMSprop centered step 3");
    ck_assert_ptr_nonnull(optim_state_find(&opt->groups[0].state[0], "grad_avg"));
    optim_free(opt);
    scope_end(s);
}
END_TEST

/* maximize ascends: the gradient's sign flips before anything else, weight decay
 * included (PyTorch: g = -g, then g += wd p). Adam and RMSprop divide by the gradient's
 * scale, so weight decay is what makes a wrong magnitude show. Expected values from
 * torch.optim (1.13) in float64 on p0 and g1..g3. */
START_TEST(test_adam_rmsprop_maximize)
{
    Scope *s = scope_begin();
    const float adam[3][2] = {{1.1f, -1.9f}, {1.05269535f, -1.80254724f},
                              {1.02418312f, -1.73594481f}};
    const float adamw[2] = {1.01839568f, -1.68817431f};
    const float rms[3][2] = {{1.03162277f, -1.96837722f}, {1.00171972f, -1.94030041f},
                             {1.00596205f, -1.94438782f}};
    /* Adam(lr 0.1, weight_decay 0.1, maximize) */
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_adam_defaults(0.1f);
    hp.weight_decay = 0.1f;
    hp.maximize = true;
    Optimizer *opt = optim_adam_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_adam_new: %s", strata_last_error());
    for (int k = 0; k < 3; k++) {
        one_step(opt, p, k);
        assert_param(p, adam[k], 2, TOL, "Adam maximize with weight decay");
    }
    optim_free(opt);
    /* AdamW(lr 0.1, weight_decay 0.1, maximize): the decay still shrinks p */
    Var *q = make_param(P0, 2);
    hp = optim_adamw_defaults(0.1f);
    hp.weight_decay = 0.1f;
    hp.maximize = true;
    opt = optim_adamw_new(&q, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_adamw_new: %s", strata_last_error());
    run_steps(opt, q, 3);
    assert_param(q, adamw, 2, TOL, "AdamW maximize with weight decay");
    optim_free(opt);
    /* RMSprop(lr 0.01, alpha 0.9, weight_decay 0.1, maximize) */
    Var *r = make_param(P0, 2);
    hp = optim_rmsprop_defaults(0.01f);
    hp.alpha = 0.9f;
    hp.weight_decay = 0.1f;
    hp.maximize = true;
    opt = optim_rmsprop_new(&r, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_rmsprop_new: %s", strata_last_error());
    for (int k = 0; k < 3; k++) {
        one_step(opt, r, k);
        assert_param(r, rms[k], 2, TOL, "RMSprop maximize with weight decay");
    }
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_param_groups)
{
    Scope *s = scope_begin();
    Var *a = make_param(P0, 2);
    Var *b = make_param(P0, 2);
    OptimHparams hp = optim_sgd_defaults(0.1f);
    Optimizer *opt = optim_sgd_new(&a, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_sgd_new: %s", strata_last_error());
    OptimHparams slow = optim_sgd_defaults(0.01f);
    ck_assert_int_eq(optim_add_param_group(opt, &b, 1, &slow), 1);
    ck_assert_int_eq(opt->num_groups, 2);
    ck_assert_close(optim_get_lr(opt, 0), 0.1, 1e-8);
    ck_assert_close(optim_get_lr(opt, 1), 0.01, 1e-8);
    set_grad(a, G[0]);
    set_grad(b, G[0]);
    ck_assert_int_eq(optim_step(opt), 0);
    /* a: lr 0.1 -> [0.95, -2.1]; b: lr 0.01 -> [0.995, -2.01] */
    assert_param(a, (float[]){0.95f, -2.1f}, 2, TOL, "group 0");
    assert_param(b, (float[]){0.995f, -2.01f}, 2, TOL, "group 1");

    /* a parameter already in a group is refused, and nothing changes */
    ck_assert_int_eq(optim_add_param_group(opt, &a, 1, NULL), -1);
    ck_assert_error("already");
    ck_assert_int_eq(opt->num_groups, 2);
    /* a group added with NULL hyperparameters takes the defaults */
    Var *c = make_param(P0, 2);
    ck_assert_int_eq(optim_add_param_group(opt, &c, 1, NULL), 2);
    ck_assert_close(optim_get_lr(opt, 2), 0.1, 1e-8);
    /* set_lr on one group, then on all */
    ck_assert_int_eq(optim_set_lr(opt, 1, 0.5f), 0);
    ck_assert_close(optim_get_lr(opt, 1), 0.5, 1e-8);
    ck_assert_int_eq(optim_set_lr(opt, -1, 0.25f), 0);
    ck_assert_close(optim_get_lr(opt, 0), 0.25, 1e-8);
    ck_assert_close(optim_get_lr(opt, 2), 0.25, 1e-8);
    ck_assert(isnan(optim_get_lr(opt, 3)));
    ck_assert_error("out of range");
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_step_skips_missing_grads_and_zero_grad)
{
    Scope *s = scope_begin();
    Var *a = make_param(P0, 2);
    Var *b = make_param(P0, 2);
    Var *both[2] = {a, b};
    OptimHparams hp = optim_sgd_defaults(0.1f);
    hp.momentum = 0.9f;
    Optimizer *opt = optim_sgd_new(both, 2, &hp);
    ck_assert_msg(opt != NULL, "optim_sgd_new: %s", strata_last_error());
    set_grad(a, G[0]); /* b has no gradient */
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(a, (float[]){0.95f, -2.1f}, 2, TOL, "a");
    assert_param(b, P0, 2, 0.0, "b (no gradient: untouched)");
    ck_assert_ptr_null(optim_state_find(&opt->groups[0].state[1], "momentum_buffer"));
    /* zero_grad(set_to_none = false) keeps a zero tensor; true drops it */
    optim_zero_grad(opt, false);
    ck_assert_ptr_nonnull(var_grad(a));
    ck_assert_float_eq(var_grad(a)->data[0], 0.0f);
    ck_assert_float_eq(var_grad(a)->data[1], 0.0f);
    optim_zero_grad(opt, true);
    ck_assert_ptr_null(var_grad(a));
    ck_assert_ptr_null(var_grad(b));
    /* a gradient of the wrong shape is an error that changes nothing */
    float three[3] = {1.0f, 2.0f, 3.0f};
    int64_t n3 = 3;
    Tensor *bad = tensor_from_data(three, &n3, 1);
    tensor_retain(bad);
    a->grad = bad;
    ck_assert_int_eq(optim_step(opt), -1);
    ck_assert_error("gradient");
    assert_param(a, (float[]){0.95f, -2.1f}, 2, 0.0, "a after a failed step");
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_bad_hyperparameters)
{
    Scope *s = scope_begin();
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_adam_defaults(-0.1f);
    ck_assert_ptr_null(optim_adam_new(&p, 1, &hp));
    ck_assert_error("lr");
    hp = optim_adam_defaults(0.1f);
    hp.beta1 = 1.0f;
    ck_assert_ptr_null(optim_adam_new(&p, 1, &hp));
    ck_assert_error("beta1");
    hp = optim_sgd_defaults(0.1f);
    hp.momentum = -1.0f;
    ck_assert_ptr_null(optim_sgd_new(&p, 1, &hp));
    ck_assert_error("momentum");
    Var *dup[2] = {p, p};
    hp = optim_sgd_defaults(0.1f);
    ck_assert_ptr_null(optim_sgd_new(dup, 2, &hp));
    ck_assert_error("twice");
    ck_assert_ptr_null(optim_sgd_new(&p, 0, &hp));
    ck_assert_error("at least one");
    ck_assert_ptr_null(optim_by_name("lion", &p, 1, &hp));
    ck_assert_error("unknown optimizer");
    strata_clear_error();
    ck_assert_int_eq(optim_step(NULL), -1);
    ck_assert_error("optim_step");
    /* the refusals left p alone: a valid optimizer still steps it (p -= 0.1 g) */
    Optimizer *ok = optim_sgd_new(&p, 1, &hp);
    ck_assert_msg(ok != NULL, "optim_sgd_new: %s", strata_last_error());
    set_grad(p, G[0]);
    ck_assert_int_eq(optim_step(ok), 0);
    assert_param(p, (float[]){0.95f, -2.1f}, 2, TOL, "SGD after refused constructions");
    optim_free(ok);
    scope_end(s);
}
END_TEST

/* A user-written rule: sign descent, p -= lr * sign(g), counting its calls in ctx. */
static int sign_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                       OptimParamState *state)
{
    int *calls = opt->ctx;
    (*calls)++;
    Tensor *data = var_data(param);
    for (int64_t i = 0; i < tensor_numel(data); i++) {
        float g = grad->data[i];
        data->data[i] -= group->hp.lr * (float)((g > 0) - (g < 0));
    }
    state->step++;
    return 0;
}

START_TEST(test_custom_optimizer_ops)
{
    Scope *s = scope_begin();
    static const OptimizerOps sign_ops = {"sign", sign_update, NULL, NULL};
    int calls = 0;
    Var *p = make_param(P0, 2);
    OptimHparams hp = optim_sgd_defaults(0.25f);
    Optimizer *opt = optim_new(&sign_ops, &calls, &p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_new: %s", strata_last_error());
    set_grad(p, G[1]); /* [-1, 2]: p -= 0.25 [-1, 1] -> [1.25, -2.25] */
    ck_assert_int_eq(optim_step(opt), 0);
    assert_param(p, (float[]){1.25f, -2.25f}, 2, 0.0, "sign descent");
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(opt->steps, 1);
    optim_free(opt);
    static const OptimizerOps empty = {"empty", NULL, NULL, NULL};
    ck_assert_ptr_null(optim_new(&empty, NULL, &p, 1, &hp));
    ck_assert_error("neither");
    scope_end(s);
}
END_TEST

void add_optimizer_tests(Suite *s)
{
    GRADED(s, test_sgd_plain, 2);
    GRADED(s, test_sgd_momentum_dampening_wd, 3);
    GRADED(s, test_sgd_nesterov_maximize, 3);
    GRADED(s, test_adam_three_steps, 3);
    GRADED(s, test_adam_weight_decay_amsgrad, 3);
    GRADED(s, test_adamw_decoupled, 2);
    GRADED(s, test_rmsprop, 3);
    GRADED(s, test_adam_rmsprop_maximize, 2);
    GRADED(s, test_param_groups, 3);
    GRADED(s, test_step_skips_missing_grads_and_zero_grad, 2);
    GRADED(s, test_bad_hyperparameters, 2);
    GRADED(s, test_custom_optimizer_ops, 2);
}
