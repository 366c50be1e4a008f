/*
 * hidden.c - week 4's hidden tests (instructor-only; see tests/hidden/README.md).
 * Expected values are worked out by hand in the comments.
 */
#include "harness.h"
#include "optim.h"

const char *const SUITE_NAME = "week4_optim_hidden";

static void *must(void *p, const char *what)
{
    ck_assert_msg(p != NULL, "%s returned NULL; error: \"%s\"", what, strata_last_error());
    return p;
}

/* SGD, lr 0.1, momentum 0.9, on loss = sum(p * p) from p = [1, 2] (gradient 2p):
 * step 1: g = [2, 4], b = g, p = [1, 2] - 0.1 [2, 4] = [0.8, 1.6];
 * step 2: g = [1.6, 3.2], b = 0.9 [2, 4] + g = [3.4, 6.8], p = [0.46, 0.92]. */
START_TEST(test_hidden_sgd_momentum_by_hand)
{
    Scope *s = scope_begin();
    const float pd[] = {1, 2};
    Var *p = must(var_new(must(tensor_from_data(pd, (const int64_t[]){2}, 1), "tensor_from_data"),
                          true), "var_new");
    OptimHparams hp = optim_sgd_defaults(0.1f);
    hp.momentum = 0.9f;
    Optimizer *opt = must(optim_sgd_new(&p, 1, &hp), "optim_sgd_new(lr 0.1, momentum 0.9)");
    const float want[2][2] = {{0.8f, 1.6f}, {0.46f, 0.92f}};
    for (int step = 0; step < 2; step++) {
        optim_zero_grad(opt, true);
        Scope *inner = scope_begin();
        Var *loss = must(var_sum(must(var_mul(p, p), "var_mul"), NULL, 0, false), "var_sum");
        ck_assert_msg(var_backward(loss) == 0, "var_backward failed: %s", strata_last_error());
        scope_end(inner);
        ck_assert_msg(optim_step(opt) == 0, "optim_step failed: %s", strata_last_error());
        for (int64_t i = 0; i < 2; i++)
            ck_assert_msg(fabs(tensor_get(p->data, &i) - want[step][i]) <= 1e-5,
                          "after SGD step %d, p[%d] = %.7g, expected %.7g", step + 1, (int)i,
                          (double)tensor_get(p->data, &i), (double)want[step][i]);
    }
    optim_free(opt);
    scope_end(s);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    GRADED(s, test_hidden_sgd_momentum_by_hand, 3);
    return s;
}
