/*
 * test_mode.c - no-grad mode (nested), detach, requires_grad_, in-place updates.
 */
#include "common.h"

START_TEST(test_no_grad_nested)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 2), true));
    ck_assert(autograd_is_grad_enabled());
    autograd_no_grad_begin();
    autograd_no_grad_begin();
    ck_assert(!autograd_is_grad_enabled());
    autograd_no_grad_end();
    ck_assert_msg(!autograd_is_grad_enabled(), "one end leaves one level of no-grad");
    Var *y = OKV(var_mul_scalar(x, 3));
    ck_assert_msg(!y->requires_grad && var_is_leaf(y), "no graph is recorded in no-grad");
    ck_assert_float_eq(AT(var_data(y), 1), 6.0f);
    autograd_no_grad_end();
    ck_assert(autograd_is_grad_enabled());
    /* recording again: y2 = 3 x, grad 3 */
    Var *y2 = OKV(var_sum(OKV(var_mul_scalar(x, 3)), NULL, 0, false));
    ck_assert(y2->requires_grad && !var_is_leaf(y2));
    OK0(var_backward(y2));
    EXPECT_GRAD(x, 1e-6, 3, 3);
    /* backward from a Var made in no-grad mode is an error, not a silent no-op */
    EXPECT_FAIL_ERR(var_backward(OKV(var_sum(y, NULL, 0, false))), "does not require grad", NULL);
    END;
}
END_TEST

/* detach cuts the graph: z = sum(x * detach(x * x)) treats x*x as a constant c, so
 * dz/dx = c = x^2 = [1, 4, 9], not 3 x^2. The detached Var shares the value. */
START_TEST(test_detach)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3), 3), true));
    Var *sq = OKV(var_mul(x, x));
    Var *d = OKV(var_detach(sq));
    ck_assert(var_is_leaf(d) && !d->requires_grad);
    ck_assert_ptr_eq(var_data(d)->data, var_data(sq)->data);
    OK0(var_backward(OKV(var_sum(OKV(var_mul(x, d)), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-5, 1, 4, 9);
    ck_assert_ptr_null(var_grad(d));
    END;
}
END_TEST

START_TEST(test_requires_grad_)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 2), false));
    Var *y0 = OKV(var_mul_scalar(x, 2));
    ck_assert(!y0->requires_grad);
    OK0(var_requires_grad_(x, true));
    Var *y = OKV(var_sum(OKV(var_mul_scalar(x, 2)), NULL, 0, false));
    ck_assert(y->requires_grad);
    EXPECT_FAIL_ERR(var_requires_grad_(y, false), "only a leaf", NULL);
    OK0(var_backward(y));
    EXPECT_GRAD(x, 1e-6, 2, 2);
    END;
}
END_TEST

START_TEST(test_in_place_rules)
{
    BEGIN;
    Var *w = OKV(var_new(MK(DATA(1, 2), 2), true));
    Tensor *delta = MK(DATA(10, 20), 2);
    EXPECT_FAIL_ERR(var_add_(w, delta), "leaf", "requires grad");
    EXPECT_FAIL_ERR(var_mul_scalar_(w, 2), "leaf", "requires grad");
    ck_assert_float_eq(AT(var_data(w), 0), 1.0f); /* refused: nothing changed */
    autograd_no_grad_begin();                     /* how an optimizer updates */
    OK0(var_add_(w, delta));
    OK0(var_mul_scalar_(w, 0.5f));
    autograd_no_grad_end();
    ck_assert_float_eq(AT(var_data(w), 0), 5.5f); /* (1 + 10) / 2 */
    ck_assert_float_eq(AT(var_data(w), 1), 11.0f);
    Var *c = OKV(var_new(MK(DATA(1, 2), 2), false));
    OK0(var_add_(c, delta)); /* a constant may change in place */
    ck_assert_float_eq(AT(var_data(c), 1), 22.0f);
    END;
}
END_TEST

void add_mode_tests(Suite *s)
{
    GRADED(s, test_no_grad_nested, 3);
    GRADED(s, test_detach, 3);
    GRADED(s, test_requires_grad_, 2);
    GRADED(s, test_in_place_rules, 3);
}
