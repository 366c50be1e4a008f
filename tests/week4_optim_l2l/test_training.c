/*
 * test_training.c - L2L training over several steps equals plain training: SGD with
 * momentum stepped after the backward pass, Adam updating each layer as soon as its
 * gradients are complete (eager update), clipping by the global norm; consecutive
 * steps equal fresh runs (no state left from one step to the next).
 */
#include "l2l_test.h"

#define STEPS 5

/* An optimizer of @p kind over @p m's parameters. */
static Optimizer *make_optimizer(Module *m, const char *kind)
{
    int n;
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    Optimizer *opt;
    if (strcmp(kind, "sgd") == 0) {
        OptimHparams hp = optim_sgd_defaults(0.1f);
        hp.momentum = 0.9f;
        hp.weight_decay = 1e-3f;
        opt = optim_sgd_new(ps, n, &hp);
    } else {
        OptimHparams hp = optim_adam_defaults(1e-2f);
        opt = optim_adam_new(ps, n, &hp);
    }
    strata_free(ps);
    ck_assert_ok(opt);
    return opt;
}

/* Plain training and L2L training side by side for STEPS batches. */
static void train_side_by_side(const char *kind, bool eager, float clip, double rtol,
                               double atol)
{
    Module *plain = make_mlp(101, 5, 8, 3, 2);
    Module *l2l = make_mlp(101, 5, 8, 3, 2);
    assert_params_close(plain, l2l, 0, 0, "identical start");
    Optimizer *opt_plain = make_optimizer(plain, kind);
    Optimizer *opt_l2l = make_optimizer(l2l, kind);
    L2LOptions o = l2l_options(5);
    o.optimizer = opt_l2l;
    o.eager_update = eager;
    o.clip_grad_norm = clip;
    L2LTrainer *t = l2l_new(l2l, &o);
    ck_assert_ok(t);

    for (int s = 0; s < STEPS; s++) {
        Tensor *x = make_inputs(200 + (uint64_t)s, 12, 5);
        Tensor *y = make_classes((uint64_t)s, 12, 3);
        double loss = plain_backward(plain, x, y, NULL);
        if (clip > 0.0f)
            ck_assert_msg(optim_clip_grad_norm_opt(opt_plain, clip) >= 0.0f, "clip: %s",
                          strata_last_error());
        ck_assert_status(optim_step(opt_plain));
        L2LStats st;
        ck_assert_status(l2l_step(t, x, y, &st));
        ck_assert_msg(fabs(st.loss - loss) <= atol + rtol * fabs(loss),
                      "%s step %d: L2L loss %.9g, plain %.9g", kind, s, st.loss, loss);
    }
    char what[64];
    snprintf(what, sizeof what, "%s%s after %d steps", kind, eager ? " (eager)" : "", STEPS);
    assert_params_close(l2l, plain, rtol, atol, what);
    ck_assert_int_eq(opt_l2l->steps, STEPS);
    ck_assert_int_eq(l2l_steps(t), STEPS);

    l2l_free(t);
    optim_free(opt_plain);
    optim_free(opt_l2l);
    nn_module_free(plain);
    nn_module_free(l2l);
}

START_TEST(test_l2l_sgd_steps_match_plain)
{
    BEGIN;
    train_side_by_side("sgd", false, 0.0f, L2L_RTOL, L2L_ATOL);
    END;
}
END_TEST

START_TEST(test_l2l_eager_adam_matches_plain)
{
    BEGIN;
    /* Updating layer l as soon as dW_l is complete changes nothing: the layers below
     * use the stashed gradient, computed with the old W_l, as plain backprop does.
     * Adam divides by sqrt(v): float rounding in the gradient moves a weight by up to
     * about lr * 1e-4 over 5 steps, hence atol 1e-5 here. */
    train_side_by_side("adam", true, 0.0f, 1e-4, 1e-5);
    END;
}
END_TEST

START_TEST(test_l2l_clip_then_step)
{
    BEGIN;
    /* Clipping by the global norm (0.05 is well below these gradients' norm, so it
     * always acts) needs every gradient before the step. */
    train_side_by_side("sgd", false, 0.05f, L2L_RTOL, L2L_ATOL);
    END;
}
END_TEST

START_TEST(test_l2l_consecutive_steps_are_fresh)
{
    BEGIN;
    /* Two steps without an optimizer on batches a then b: the second step's gradients
     * and loss equal a fresh trainer's single step on b, bit for bit (nothing from step
     * one is reused; the public port appended to stale activations), and nothing is
     * left allocated between steps but the gradients. */
    Module *m = make_mlp(111, 4, 6, 3, 1);
    Tensor *xa = make_inputs(112, 7, 4), *ya = make_classes(1, 7, 3);
    Tensor *xb = make_inputs(113, 9, 4), *yb = make_classes(2, 9, 3);
    L2LOptions o = l2l_options(2);
    L2LTrainer *fresh = l2l_new(m, &o);
    ck_assert_ok(fresh);
    L2LStats sb;
    ck_assert_status(l2l_step(fresh, xb, yb, &sb));
    int n;
    Tensor **want = snapshot_grads(m, &n);
    l2l_free(fresh);
    nn_zero_grad(m, true);

    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    L2LStats s1, s2, s3;
    ck_assert_status(l2l_step(t, xa, ya, &s1));
    size_t live_after_one = strata_mem_stats().bytes_live;
    ck_assert_status(l2l_step(t, xb, yb, &s2));
    ck_assert_msg(s2.loss == sb.loss, "second step loss %.9g, fresh %.9g", s2.loss, sb.loss);
    assert_grads_close(m, want, n, 0.0, 0.0, "second step vs fresh");
    /* A third step on a again: the same state as after the first. */
    ck_assert_status(l2l_step(t, xa, ya, &s3));
    ck_assert_msg(s3.loss == s1.loss, "third step loss %.9g, first %.9g", s3.loss, s1.loss);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live_after_one);
    ck_assert_int_eq(l2l_steps(t), 3);
    l2l_free(t);
    nn_module_free(m);
    free(want);
    END;
}
END_TEST

/* Lines the L2L step wrote to a progress stream that is not a terminal. */
static int progress_lines(Module *m, int64_t rows, int64_t in, int64_t microbatch)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    L2LOptions o = l2l_options(microbatch);
    o.progress = f;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    ck_assert_status(l2l_step(t, make_inputs(120, rows, in), make_classes(3, rows, 3), NULL));
    l2l_free(t);
    rewind(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines += line[0] != '\n';
    fclose(f);
    return lines;
}

/* With a progress stream, a step reports on it as its units run (plain lines when the
 * stream is not a terminal): for a deep model cut into microbatches, and for the
 * smallest step, one layer on one microbatch. */
START_TEST(test_l2l_progress_lines)
{
    BEGIN;
    Module *deep = make_mlp(121, 4, 6, 3, 2);
    int lines = progress_lines(deep, 8, 4, 2);
    ck_assert_msg(lines >= 1, "a step of 7 layers x 4 microbatches wrote %d progress lines", lines);
    nn_module_free(deep);
    Module *one = new_sequential();
    add_layer(one, nn_linear(4, 3, true));
    lines = progress_lines(one, 5, 4, 5);
    ck_assert_msg(lines >= 1, "a step of 1 layer x 1 microbatch wrote %d progress lines", lines);
    nn_module_free(one);
    END;
}
END_TEST

void add_l2l_training_tests(Suite *s)
{
    GRADED(s, test_l2l_sgd_steps_match_plain, 3);
    GRADED(s, test_l2l_eager_adam_matches_plain, 3);
    GRADED(s, test_l2l_clip_then_step, 1);
    GRADED(s, test_l2l_consecutive_steps_are_fresh, 2);
    GRADED(s, test_l2l_progress_lines, 1);
}
