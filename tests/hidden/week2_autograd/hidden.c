/*
 * hidden.c - week 2's hidden tests (instructor-only; see tests/hidden/README.md).
 * Expected values are worked out by hand in the comments.
 */
#include "autograd.h"
#include "harness.h"

const char *const SUITE_NAME = "week2_autograd_hidden";

static void *must(void *p, const char *what)
{
    ck_assert_msg(p != NULL, "%s returned NULL; error: \"%s\"", what, strata_last_error());
    return p;
}

/* y = sum(x * x * w), x = [1, -2, 3], w = [2, 0.5, -1]:
 * y = 2 + 2 - 9 = -5; dy/dx = 2 x w = [4, -2, -6]; dy/dw = x^2 = [1, 4, 9]. */
START_TEST(test_hidden_product_rule)
{
    Scope *s = scope_begin();
    const float xd[] = {1, -2, 3}, wd[] = {2, 0.5f, -1};
    Var *x = must(var_new(must(tensor_from_data(xd, (const int64_t[]){3}, 1), "tensor_from_data"),
                          true), "var_new");
    Var *w = must(var_new(must(tensor_from_data(wd, (const int64_t[]){3}, 1), "tensor_from_data"),
                          true), "var_new");
    Var *xx = must(var_mul(x, x), "var_mul(x, x)");
    Var *y = must(var_sum(must(var_mul(xx, w), "var_mul(x * x, w)"), NULL, 0, false), "var_sum");
    ck_assert_close(tensor_item(y->data), -5, 1e-5);
    ck_assert_msg(var_backward(y) == 0, "var_backward failed: %s", strata_last_error());
    Tensor *gx = must(var_grad(x), "var_grad(x)"), *gw = must(var_grad(w), "var_grad(w)");
    const float want_x[] = {4, -2, -6}, want_w[] = {1, 4, 9};
    for (int64_t i = 0; i < 3; i++) {
        ck_assert_close(tensor_get(gx, &i), want_x[i], 1e-5);
        ck_assert_close(tensor_get(gw, &i), want_w[i], 1e-5);
    }
    scope_end(s);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    GRADED(s, test_hidden_product_rule, 3);
    return s;
}
