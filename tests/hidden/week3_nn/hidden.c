/*
 * hidden.c - week 3's hidden tests (instructor-only; see tests/hidden/README.md).
 * Expected values are worked out by hand in the comments.
 */
#include "harness.h"
#include "nn.h"

const char *const SUITE_NAME = "week3_nn_hidden";

static void *must(void *p, const char *what)
{
    ck_assert_msg(p != NULL, "%s returned NULL; error: \"%s\"", what, strata_last_error());
    return p;
}

/* MSE of x = [1, 2, 3] against t = [2, 2, 5]: ((-1)^2 + 0 + (-2)^2) / 3 = 5/3;
 * dL/dx = 2 (x - t) / 3 = [-2/3, 0, -4/3]. */
START_TEST(test_hidden_mse_by_hand)
{
    Scope *s = scope_begin();
    const float xd[] = {1, 2, 3}, td[] = {2, 2, 5};
    Var *x = must(var_new(must(tensor_from_data(xd, (const int64_t[]){3}, 1), "tensor_from_data"),
                          true), "var_new");
    Tensor *t = must(tensor_from_data(td, (const int64_t[]){3}, 1), "tensor_from_data");
    Var *loss = must(nn_mse_loss(x, t, NN_REDUCTION_MEAN), "nn_mse_loss(x, t, mean)");
    ck_assert_close(tensor_item(loss->data), 5.0 / 3.0, 1e-5);
    ck_assert_msg(var_backward(loss) == 0, "var_backward failed: %s", strata_last_error());
    Tensor *g = must(var_grad(x), "var_grad(x)");
    const double want[] = {-2.0 / 3.0, 0, -4.0 / 3.0};
    for (int64_t i = 0; i < 3; i++)
        ck_assert_close(tensor_get(g, &i), want[i], 1e-5);
    scope_end(s);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    GRADED(s, test_hidden_mse_by_hand, 3);
    return s;
}
