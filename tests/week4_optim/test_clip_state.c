/*
 * test_clip_state.c - gradient clipping, and optimizer state that saves, loads and
 * continues training bit for bit.
 */
#include "helpers.h"

#include <math.h>

START_TEST(test_clip_grad_norm)
{
    Scope *s = scope_begin();
    Var *a = make_param((float[]){0.0f, 0.0f}, 2);
    Var *b = make_param((float[]){0.0f}, 1);
    Var *c = make_param((float[]){0.0f}, 1); /* no gradient: skipped */
    Var *all[3] = {a, b, c};
    set_grad(a, (float[]){3.0f, 4.0f});
    set_grad(b, (float[]){12.0f});
    /* total = sqrt(9 + 16 + 144) = 13 <= 20: nothing changes */
    ck_assert_close(optim_clip_grad_norm(all, 3, 20.0f, 2.0f), 13.0, 1e-5);
    ck_assert_close(var_grad(a)->data[0], 3.0, 0.0);
    ck_assert_close(var_grad(b)->data[0], 12.0, 0.0);
    /* max_norm 6.5: coef = 6.5 / (13 + 1e-6) -> [1.5, 2], [6] */
    ck_assert_close(optim_clip_grad_norm(all, 3, 6.5f, 2.0f), 13.0, 1e-5);
    ck_assert_close(var_grad(a)->data[0], 1.5, 1e-6);
    ck_assert_close(var_grad(a)->data[1], 2.0, 1e-6);
    ck_assert_close(var_grad(b)->data[0], 6.0, 1e-6);
    ck_assert_ptr_null(var_grad(c));
    /* the infinity norm is the largest |g|: 6 -> scale by 3 / 6 */
    ck_assert_close(optim_clip_grad_norm(all, 3, 3.0f, INFINITY), 6.0, 1e-5);
    ck_assert_close(var_grad(b)->data[0], 3.0, 1e-5);
    ck_assert_close(var_grad(a)->data[1], 1.0, 1e-5);
    /* bad arguments */
    /* A bad argument is -1 (a norm never is), NaN gradients are a NaN norm. */
    ck_assert(optim_clip_grad_norm(all, 3, -1.0f, 2.0f) == -1.0f);
    ck_assert_error("max_norm");
    strata_clear_error();
    set_grad(a, (float[]){NAN, 4.0f});
    float norm = optim_clip_grad_norm(all, 3, 1.0f, 2.0f);
    ck_assert_msg(isnan(norm), "NaN gradients: norm %g, expected NaN", (double)norm);
    ck_assert_msg(!strata_error_pending(), "a NaN norm is not an error: '%s'",
                  strata_last_error());
    ck_assert_close(var_grad(a)->data[1], 4.0, 0.0); /* nothing scaled */
    ck_assert_close(var_grad(b)->data[0], 3.0, 1e-5);
    /* the 1-norm sums |g|: 3 + 4 + 12 = 19 -> scale by 9.5 / 19 = 0.5 (a negative
     * gradient counts by its size) */
    set_grad(a, (float[]){3.0f, -4.0f});
    set_grad(b, (float[]){12.0f});
    ck_assert_close(optim_clip_grad_norm(all, 3, 9.5f, 1.0f), 19.0, 1e-5);
    ck_assert_close(var_grad(a)->data[0], 1.5, 1e-5);
    ck_assert_close(var_grad(a)->data[1], -2.0, 1e-5);
    ck_assert_close(var_grad(b)->data[0], 6.0, 1e-5);
    /* the 3-norm: (1.5^3 + 2^3 + 6^3)^(1/3) = 227.375^(1/3), under max_norm 10 */
    ck_assert_close(optim_clip_grad_norm(all, 3, 10.0f, 3.0f), cbrt(227.375), 1e-5);
    scope_end(s);
}
END_TEST

START_TEST(test_clip_grad_value)
{
    Scope *s = scope_begin();
    Var *a = make_param((float[]){0.0f, 0.0f, 0.0f}, 3);
    set_grad(a, (float[]){3.0f, -4.0f, 0.5f});
    ck_assert_int_eq(optim_clip_grad_value(&a, 1, 2.5f), 0);
    ck_assert_close(var_grad(a)->data[0], 2.5, 0.0);
    ck_assert_close(var_grad(a)->data[1], -2.5, 0.0);
    ck_assert_close(var_grad(a)->data[2], 0.5, 0.0);
    ck_assert_int_eq(optim_clip_grad_value(&a, 1, -1.0f), -1);
    ck_assert_error("clip_value");
    scope_end(s);
}
END_TEST

/* The gradient of step k (1-based) for element i: varied, deterministic. */
static void step_grads(Var *const *ps, int n, int k)
{
    for (int j = 0; j < n; j++) {
        float g[3];
        for (int i = 0; i < 3; i++)
            g[i] = sinf((float)(k * 3 + i + 7 * j)) * (float)(1 + i);
        set_grad(ps[j], g);
    }
}

/* Train @p steps steps from step @p first with optimizer @p kind. */
static void run(Optimizer *opt, Var *const *ps, int first, int steps)
{
    for (int k = first; k < first + steps; k++) {
        step_grads(ps, 2, k);
        ck_assert_msg(optim_step(opt) == 0, "optim_step: %s", strata_last_error());
    }
}

static Optimizer *make_opt(const char *kind, Var *const *ps)
{
    OptimHparams hp;
    if (kind[0] == 's') {
        hp = optim_sgd_defaults(0.05f);
        hp.momentum = 0.9f;
        hp.nesterov = true;
    } else if (kind[0] == 'r') {
        hp = optim_rmsprop_defaults(0.01f);
        hp.centered = true;
        hp.momentum = 0.5f;
    } else {
        hp = optim_adam_defaults(0.01f);
        hp.amsgrad = true;
        hp.weight_decay = 0.01f;
    }
    Optimizer *opt = optim_by_name(kind, ps, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_by_name: %s", strata_last_error());
    OptimHparams second = hp;
    second.lr *= 0.5f;
    ck_assert_int_eq(optim_add_param_group(opt, ps + 1, 1, &second), 1);
    return opt;
}

START_TEST(test_state_save_load_bit_identical)
{
    const char *kinds[4] = {"sgd", "adam", "adamw", "rmsprop"};
    for (int k = 0; k < 4; k++) {
        Scope *s = scope_begin();
        char path[512];
        tmp_path(path, sizeof path, "optim.safetensors");
        const float init[3] = {0.5f, -1.0f, 2.0f};
        /* run A: 3 steps, save, 3 more */
        Var *a[2] = {make_param(init, 3), make_param(init, 3)};
        Optimizer *opt = make_opt(kinds[k], a);
        run(opt, a, 1, 3);
        ck_assert_msg(optim_save(opt, path) == 0, "optim_save: %s", strata_last_error());
        float mid[2][3];
        memcpy(mid[0], a[0]->data->data, sizeof mid[0]);
        memcpy(mid[1], a[1]->data->data, sizeof mid[1]);
        run(opt, a, 4, 3);
        /* run B: fresh parameters at the saved values, a fresh optimizer, load, 3 steps */
        Var *b[2] = {make_param(mid[0], 3), make_param(mid[1], 3)};
        Optimizer *opt2 = make_opt(kinds[k], b);
        ck_assert_msg(optim_load(opt2, path) == 0, "optim_load: %s", strata_last_error());
        ck_assert_int_eq(opt2->steps, 3);
        ck_assert_int_eq(opt2->groups[1].state[0].step, kinds[k][0] == 's' ? 3 : 3);
        run(opt2, b, 4, 3);
        for (int j = 0; j < 2; j++)
            ck_assert_msg(memcmp(a[j]->data->data, b[j]->data->data, 3 * sizeof(float)) == 0,
                          "%s: parameter %d differs after resuming (%.9g vs %.9g)", kinds[k], j,
                          (double)a[j]->data->data[0], (double)b[j]->data->data[0]);
        optim_free(opt);
        optim_free(opt2);
        remove(path);
        scope_end(s);
    }
}
END_TEST

START_TEST(test_state_dict_contents_and_mismatch)
{
    Scope *s = scope_begin();
    char path[512];
    tmp_path(path, sizeof path, "adam.safetensors");
    const float init[3] = {0.5f, -1.0f, 2.0f};
    Var *a[2] = {make_param(init, 3), make_param(init, 3)};
    Optimizer *opt = make_opt("adam", a);
    run(opt, a, 1, 2);
    NnStateDict *sd = optim_state_dict(opt);
    ck_assert_msg(sd != NULL, "optim_state_dict: %s", strata_last_error());
    ck_assert_ptr_nonnull(nn_state_dict_get(sd, "state.0.0.exp_avg"));
    ck_assert_ptr_nonnull(nn_state_dict_get(sd, "state.1.0.max_exp_avg_sq"));
    ck_assert_str_eq(nn_state_dict_get_meta(sd, "optimizer"), "adam");
    ck_assert_str_eq(nn_state_dict_get_meta(sd, "state.1.0.step"), "2");
    ck_assert_str_eq(nn_state_dict_get_meta(sd, "group.1.lr"), "0.00499999989");
    /* the state dict holds copies: stepping again does not change it */
    float before = nn_state_dict_get(sd, "state.0.0.exp_avg")->data[0];
    run(opt, a, 3, 1);
    ck_assert_float_eq(nn_state_dict_get(sd, "state.0.0.exp_avg")->data[0], before);
    ck_assert_int_eq(optim_save(opt, path), 0);

    /* another kind of optimizer refuses it */
    Var *b[2] = {make_param(init, 3), make_param(init, 3)};
    Optimizer *sgd = make_opt("sgd", b);
    ck_assert_int_eq(optim_load(sgd, path), -1);
    ck_assert_error("adam");
    /* parameters of another shape: refused, and the optimizer keeps its state */
    const float two[2] = {1.0f, 2.0f};
    Var *c[2] = {make_param(two, 2), make_param(two, 2)};
    Optimizer *other = make_opt("adam", c);
    set_grad(c[0], two);
    set_grad(c[1], two);
    ck_assert_int_eq(optim_step(other), 0);
    ck_assert_int_eq(optim_load(other, path), -1);
    ck_assert_error("shape");
    ck_assert_int_eq(other->steps, 1);
    ck_assert_int_eq(other->groups[0].state[0].step, 1);
    ck_assert_close(other->groups[0].hp.lr, 0.01, 1e-9);
    /* a missing file names the path */
    ck_assert_int_eq(optim_load(other, "/nonexistent/dir/opt.safetensors"), -1);
    ck_assert_error("/nonexistent/dir/opt.safetensors");

    nn_state_dict_free(sd);
    optim_free(opt);
    optim_free(sgd);
    optim_free(other);
    remove(path);
    scope_end(s);
}
END_TEST

void add_clip_state_tests(Suite *s)
{
    GRADED(s, test_clip_grad_norm, 3);
    GRADED(s, test_clip_grad_value, 1);
    GRADED(s, test_state_save_load_bit_identical, 4);
    GRADED(s, test_state_dict_contents_and_mismatch, 3);
}
