/*
 * test_autograd.c - bad input to autograd/ (week 2): wrong states and shapes.
 */
#include "rb.h"

#define L "autograd"

START_TEST(backward_twice)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3), 3), true));
    Var *y = OKV(var_sum(var_mul(x, x), NULL, 0, false));
    ck_assert_int_eq(var_backward(y), 0);
    Tensor *sd = rb_snap(var_data(x)), *sg = rb_snap(var_grad(x));
    ROW_FAILS(L, "var_backward(y), a second time", "y = sum(x * x), graph freed by the first",
              var_backward(y) == -1, "var_backward", "graph");
    rb_assert_var_same(x, sd, sg, true); /* the gradient did not double */
    END;
}
END_TEST

START_TEST(backward_non_scalar)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), true));
    Var *y = OKV(var_mul_scalar(x, 2));
    Tensor *sd = rb_snap(var_data(x));
    ROW_FAILS(L, "var_backward(y)", "y [2, 3] and no grad_output", var_backward(y) == -1,
              "one-element", "[2, 3]");
    rb_assert_var_same(x, sd, NULL, true);
    END;
}
END_TEST

START_TEST(backward_grad_output_wrong_shape)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), true));
    Var *y = OKV(var_mul_scalar(x, 2));
    Tensor *sd = rb_snap(var_data(x));
    ROW_FAILS(L, "var_backward_ex(y, g, false)", "y [2, 3], g [3]",
              var_backward_ex(y, MK(DATA(1, 1, 1), 3), false) == -1, "grad_output", "[3]");
    rb_assert_var_same(x, sd, NULL, true);
    ck_assert_int_eq(var_backward_ex(y, OK(tensor_ones(SHAPE(2, 3), 2)), false), 0); /* graph kept */
    END;
}
END_TEST

START_TEST(backward_without_grad)
{
    BEGIN;
    Var *c = OKV(var_new(MK(DATA(1), 1), false));
    Tensor *sd = rb_snap(var_data(c));
    ROW_FAILS(L, "var_backward(c)", "c a leaf with requires_grad false", var_backward(c) == -1,
              "var_backward", "does not require grad");
    rb_assert_var_same(c, sd, NULL, false);
    END;
}
END_TEST

START_TEST(inplace_on_leaf_requiring_grad)
{
    BEGIN;
    Var *w = OKV(var_new(MK(DATA(1, 2), 2), true));
    Tensor *sd = rb_snap(var_data(w));
    ROW_FAILS(L, "var_add_(w, t)", "w a leaf with requires_grad, grad mode on",
              var_add_(w, MK(DATA(1, 1), 2)) == -1, "var_add_", "requires grad");
    rb_assert_var_same(w, sd, NULL, true);
    END;
}
END_TEST

START_TEST(inplace_on_recorded_output)
{
    BEGIN;
    Var *w = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *h = OKV(var_mul_scalar(w, 2));
    Tensor *sd = rb_snap(var_data(h));
    ROW_FAILS(L, "var_mul_scalar_(h, 3)", "h = w * 2, a recorded output",
              var_mul_scalar_(h, 3) == -1, "var_mul_scalar_", NULL);
    rb_assert_same(var_data(h), sd, "h");
    END;
}
END_TEST

START_TEST(requires_grad_on_non_leaf)
{
    BEGIN;
    Var *w = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *h = OKV(var_mul_scalar(w, 2));
    ROW_FAILS(L, "var_requires_grad_(h, false)", "h = w * 2, a non-leaf",
              var_requires_grad_(h, false) == -1, "var_requires_grad_", "leaf");
    ck_assert(h->requires_grad);
    END;
}
END_TEST

START_TEST(var_matmul_shapes)
{
    BEGIN;
    Var *a = OKV(var_new(OK(tensor_ones(SHAPE(2, 3), 2)), true));
    Var *b = OKV(var_new(OK(tensor_ones(SHAPE(4, 5), 2)), true));
    Tensor *sa = rb_snap(var_data(a)), *sb = rb_snap(var_data(b));
    ROW_FAILS(L, "var_matmul(a, b)", "a [2, 3], b [4, 5]", var_matmul(a, b) == NULL,
              "var_matmul", "align");
    rb_assert_var_same(a, sa, NULL, true);
    rb_assert_var_same(b, sb, NULL, true);
    END;
}
END_TEST

START_TEST(var_linear_bias_shape)
{
    BEGIN;
    Var *x = OKV(var_new(OK(tensor_ones(SHAPE(2, 3), 2)), false));
    Var *w = OKV(var_new(OK(tensor_ones(SHAPE(5, 3), 2)), true));
    Var *b = OKV(var_new(OK(tensor_ones(SHAPE(4), 1)), true));
    ROW_FAILS(L, "var_linear(x, w, b)", "x [2, 3], w [5, 3], b [4]",
              var_linear(x, w, b) == NULL, "var_linear", "bias");
    END;
}
END_TEST

START_TEST(var_sum_dim_out_of_range)
{
    BEGIN;
    Var *a = OKV(var_new(OK(tensor_ones(SHAPE(2, 3), 2)), true));
    ROW_FAILS(L, "var_sum(a, {5}, 1, false)", "a [2, 3]",
              var_sum(a, (const int[]){5}, 1, false) == NULL, "var_sum", "5");
    END;
}
END_TEST

START_TEST(var_cat_empty_list)
{
    BEGIN;
    Var *a = OKV(var_new(OK(tensor_ones(SHAPE(2), 1)), true));
    ROW_FAILS(L, "var_cat(vars, 0, 0)", "n = 0", var_cat((Var *const[]){a}, 0, 0) == NULL,
              "var_cat", "at least one");
    END;
}
END_TEST

START_TEST(var_new_null_data)
{
    BEGIN;
    ROW_FAILS(L, "var_new(NULL, true)", "data NULL (nothing failed before)",
              var_new(NULL, true) == NULL, "var_new", "NULL");
    END;
}
END_TEST

START_TEST(var_null_propagation)
{
    BEGIN;
    Var *a = OKV(var_new(OK(tensor_ones(SHAPE(2, 3), 2)), true));
    Var *b = OKV(var_new(OK(tensor_ones(SHAPE(4), 1)), true));
    ROW_FAILS(L, "var_sum(var_relu(var_add(a, b)), NULL, 0, false)",
              "a [2, 3], b [4]: the inner call fails",
              var_sum(var_relu(var_add(a, b)), NULL, 0, false) == NULL, "var_add",
              "broadcast");
    END;
}
END_TEST

void add_autograd_rows(Suite *s)
{
    GRADED(s, backward_twice, 1);
    GRADED(s, backward_non_scalar, 1);
    GRADED(s, backward_grad_output_wrong_shape, 1);
    GRADED(s, backward_without_grad, 1);
    GRADED(s, inplace_on_leaf_requiring_grad, 1);
    GRADED(s, inplace_on_recorded_output, 1);
    GRADED(s, requires_grad_on_non_leaf, 1);
    GRADED(s, var_matmul_shapes, 1);
    GRADED(s, var_linear_bias_shape, 1);
    GRADED(s, var_sum_dim_out_of_range, 1);
    GRADED(s, var_cat_empty_list, 1);
    GRADED(s, var_new_null_data, 1);
    GRADED(s, var_null_propagation, 1);
}
