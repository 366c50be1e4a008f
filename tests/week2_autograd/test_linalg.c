/*
 * test_linalg.c - matmul (every torch.matmul case), linear, im2col, conv2d and pooling
 * against finite differences; pooling routing by hand.
 */
#include "common.h"

#define CASE(...) (&(OpCase){__VA_ARGS__})

START_TEST(test_grad_matmul_2d)
{
    BEGIN;
    OpCase *c = CASE(.op = OP_MATMUL);
    CHECK_GRADS(apply_op, c, SIGNED(3, 4), SIGNED(4, 2));
    CHECK_GRADS(apply_op, c, transposed_leaf(3, 4), SIGNED(4, 2));
    CHECK_GRADS(apply_op, c, SIGNED(2, 3), transposed_leaf(3, 4));
    CHECK_GRADS(apply_op, c, strided_leaf(2, 3), strided_leaf(3, 2));
    END;
}
END_TEST

START_TEST(test_grad_matmul_vectors_and_batches)
{
    BEGIN;
    OpCase *c = CASE(.op = OP_MATMUL);
    CHECK_GRADS(apply_op, c, SIGNED(4), SIGNED(4));          /* dot product */
    CHECK_GRADS(apply_op, c, SIGNED(3), SIGNED(3, 2));       /* vector @ matrix */
    CHECK_GRADS(apply_op, c, SIGNED(2, 3), SIGNED(3));       /* matrix @ vector */
    CHECK_GRADS(apply_op, c, SIGNED(2, 3, 4), SIGNED(2, 4, 2)); /* batched */
    CHECK_GRADS(apply_op, c, SIGNED(2, 3, 4), SIGNED(4, 2));    /* shared right operand */
    CHECK_GRADS(apply_op, c, SIGNED(3, 4), SIGNED(2, 4, 2));    /* shared left operand */
    CHECK_GRADS(apply_op, c, SIGNED(2, 1, 2, 3), SIGNED(3, 3, 2)); /* batch broadcast */
    CHECK_GRADS(apply_op, c, SIGNED(2, 2, 3), SIGNED(3));       /* batch @ vector */
    END;
}
END_TEST

START_TEST(test_grad_linear)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_LINEAR), SIGNED(3, 4), SIGNED(2, 4), SIGNED(2));
    CHECK_GRADS(apply_op, CASE(.op = OP_LINEAR), SIGNED(2, 3, 4), SIGNED(5, 4), SIGNED(5));
    CHECK_GRADS(apply_op, CASE(.op = OP_LINEAR), SIGNED(4), SIGNED(3, 4), SIGNED(3));
    CHECK_GRADS(apply_op, CASE(.op = OP_LINEAR), transposed_leaf(3, 4), transposed_leaf(2, 4),
                SIGNED(2));
    CHECK_GRADS(apply_op, CASE(.op = OP_LINEAR_NOBIAS), SIGNED(3, 4), SIGNED(2, 4));
    END;
}
END_TEST

/* y = x W^T + b by hand: x = [[1, 2]], W = [[1, 0], [2, 3]], b = [1, -1]:
 *   y = [[1 + 1, 2 + 6 - 1]] = [[2, 7]]; with grad_output [[1, 1]]:
 *   grad x = g W = [[3, 3]], grad W = g^T x = [[1, 2], [1, 2]], grad b = [1, 1]. */
START_TEST(test_linear_by_hand)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 1, 2), true));
    Var *w = OKV(var_new(MK(DATA(1, 0, 2, 3), 2, 2), true));
    Var *b = OKV(var_new(MK(DATA(1, -1), 2), true));
    Var *y = OKV(var_linear(x, w, b));
    ck_assert_float_eq_tol(AT(var_data(y), 0, 0), 2.0f, 1e-6f);
    ck_assert_float_eq_tol(AT(var_data(y), 0, 1), 7.0f, 1e-6f);
    OK0(var_backward(OKV(var_sum(y, NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 3, 3);
    EXPECT_GRAD(w, 1e-6, 1, 2, 1, 2);
    EXPECT_GRAD(b, 1e-6, 1, 1);
    END;
}
END_TEST

START_TEST(test_grad_im2col)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_IM2COL, .window = window2d(2, 1, 0)),
                SIGNED(1, 2, 3, 3));
    CHECK_GRADS(apply_op, CASE(.op = OP_IM2COL, .window = window2d(3, 2, 1)),
                SIGNED(2, 1, 4, 4));
    END;
}
END_TEST

START_TEST(test_grad_conv2d)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_CONV2D, .window = window2d(3, 1, 1)),
                SIGNED(2, 2, 4, 4), SIGNED(3, 2, 3, 3), SIGNED(3));
    CHECK_GRADS(apply_op, CASE(.op = OP_CONV2D, .window = window2d(2, 2, 0)),
                SIGNED(1, 3, 5, 4), SIGNED(2, 3, 2, 2), SIGNED(2));
    CHECK_GRADS(apply_op, CASE(.op = OP_CONV2D_NOBIAS, .window = window2d(1, 1, 0)),
                SIGNED(2, 3, 2, 2), SIGNED(4, 3, 1, 1));
    END;
}
END_TEST

/* max pooling against finite differences (distinct values: no ties), and by hand:
 * 2x2 max pooling of [[1, 5], [3, 2]] sends the gradient to the 5. */
START_TEST(test_grad_max_pool2d)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_MAX_POOL2D, .window = window2d(2, 2, 0)),
                DISTINCT(2, 2, 4, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_MAX_POOL2D, .window = window2d(3, 1, 1)),
                DISTINCT(1, 2, 4, 3));
    Var *x = OKV(var_new(MK(DATA(1, 5, 3, 2), 1, 1, 2, 2), true));
    OK0(var_backward(OKV(var_sum(OKV(var_max_pool2d(x, window2d(2, 2, 0))), NULL, 0, false))));
    EXPECT_GRAD(x, 0, 0, 1, 0, 0);
    END;
}
END_TEST

/* average pooling against finite differences, and by hand: 2x2 average pooling of one
 * 2x2 window shares the gradient, 1/4 each. */
START_TEST(test_grad_avg_pool2d)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_AVG_POOL2D, .window = window2d(2, 2, 0)),
                SIGNED(2, 2, 4, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_AVG_POOL2D, .window = window2d(3, 1, 1)),
                SIGNED(1, 2, 3, 5));
    Var *x = OKV(var_new(MK(DATA(1, 5, 3, 2), 1, 1, 2, 2), true));
    OK0(var_backward(OKV(var_sum(OKV(var_avg_pool2d(x, window2d(2, 2, 0))), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 0.25f, 0.25f, 0.25f, 0.25f);
    END;
}
END_TEST

void add_linalg_tests(Suite *s)
{
    GRADED(s, test_grad_matmul_2d, 5);
    GRADED(s, test_grad_matmul_vectors_and_batches, 4);
    GRADED(s, test_grad_linear, 4);
    GRADED(s, test_linear_by_hand, 3);
    GRADED(s, test_grad_im2col, 2);
    GRADED(s, test_grad_conv2d, 3);
    GRADED(s, test_grad_max_pool2d, 2);
    GRADED(s, test_grad_avg_pool2d, 2);
}
