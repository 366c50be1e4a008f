/*
 * test_shape.c - views and joins against finite differences, and the scatter-add rule
 * of index_select by hand.
 */
#include "common.h"

#define CASE(...) (&(OpCase){__VA_ARGS__})

/* One test per view, each against finite differences (common.c), so each op scores on
 * its own. */
START_TEST(test_grad_reshape)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_RESHAPE, .shape = {2, 6}, .shape_ndim = 2), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_RESHAPE, .shape = {-1}, .shape_ndim = 1),
                transposed_leaf(3, 4)); /* a copy, not a view */
    END;
}
END_TEST

START_TEST(test_grad_flatten)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_FLATTEN, .i0 = 1, .i1 = 2), SIGNED(2, 3, 2));
    END;
}
END_TEST

START_TEST(test_grad_squeeze)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_SQUEEZE, .dim = 1), SIGNED(3, 1, 2));
    END;
}
END_TEST

START_TEST(test_grad_unsqueeze)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_UNSQUEEZE, .dim = -1), strided_leaf(2, 3));
    END;
}
END_TEST

START_TEST(test_grad_transpose)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_TRANSPOSE, .i0 = 0, .i1 = 1), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_TRANSPOSE, .i0 = -1, .i1 = 0), SIGNED(2, 3, 4));
    END;
}
END_TEST

START_TEST(test_grad_permute)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_PERMUTE, .dims = {2, 0, 1}), SIGNED(2, 3, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_PERMUTE, .dims = {1, 0}), transposed_leaf(3, 2));
    END;
}
END_TEST

START_TEST(test_grad_narrow)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_NARROW, .dim = 1, .i0 = 1, .i1 = 2), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_NARROW, .dim = -1, .i0 = 0, .i1 = 3),
                transposed_leaf(2, 4));
    END;
}
END_TEST

START_TEST(test_grad_slice)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_SLICE, .dim = 1, .i0 = 0, .i1 = 5, .i2 = 2),
                SIGNED(3, 5));
    CHECK_GRADS(apply_op, CASE(.op = OP_SLICE, .dim = 0, .i0 = -3, .i1 = 100, .i2 = 1),
                SIGNED(4, 2));
    END;
}
END_TEST

START_TEST(test_grad_select)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_SELECT, .dim = 0, .i0 = 2), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_SELECT, .dim = 1, .i0 = -1), strided_leaf(2, 3));
    END;
}
END_TEST

/* expand [3, 1] -> [2, 3, 4]: each element is used 8 times, its gradient is the sum of
 * the 8 copies' gradients (by hand below with a grad of ones: 8 each). */
START_TEST(test_grad_expand)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_EXPAND, .shape = {2, 3, 4}, .shape_ndim = 3),
                SIGNED(3, 1));
    CHECK_GRADS(apply_op, CASE(.op = OP_EXPAND, .shape = {3, -1}, .shape_ndim = 2), SIGNED(4));
    Var *x = OKV(var_new(MK(DATA(1, 2, 3), 3, 1), true));
    OK0(var_backward(OKV(var_sum(OKV(var_expand(x, SHAPE(2, 3, 4), 3)), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 8, 8, 8);
    END;
}
END_TEST

/* index_select with a repeated index adds both gradients: rows [2, 0, 2] of a [3, 2]
 * summed: grad = [[1, 1], [0, 0], [2, 2]]. */
START_TEST(test_grad_index_select)
{
    BEGIN;
    Tensor *rows = MK(DATA(2, 0, 2), 3);
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4, 5, 6), 3, 2), true));
    OK0(var_backward(OKV(var_sum(OKV(var_index_select(x, 0, rows)), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 1, 1, 0, 0, 2, 2);
    CHECK_GRADS(apply_op, CASE(.op = OP_INDEX_SELECT, .dim = 0, .tensor = rows), SIGNED(3, 4));
    Tensor *cols = MK(DATA(3, 0, 0, 1), 4);
    CHECK_GRADS(apply_op, CASE(.op = OP_INDEX_SELECT, .dim = -1, .tensor = cols),
                transposed_leaf(2, 4));
    END;
}
END_TEST

/* gather: out[i][j] = x[i][idx[i][j]], against finite differences. */
START_TEST(test_grad_gather)
{
    BEGIN;
    Tensor *idx = MK(DATA(0, 2, 2, 1, 1, 0), 2, 3);
    CHECK_GRADS(apply_op, CASE(.op = OP_GATHER, .dim = 1, .tensor = idx), SIGNED(2, 4));
    Tensor *idx0 = MK(DATA(1, 0, 1, 1), 2, 2);
    CHECK_GRADS(apply_op, CASE(.op = OP_GATHER, .dim = 0, .tensor = idx0), SIGNED(3, 2));
    END;
}
END_TEST

START_TEST(test_grad_cat)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_CAT, .dim = 0), SIGNED(2, 3), SIGNED(1, 3),
                transposed_leaf(3, 3));
    CHECK_GRADS(apply_op, CASE(.op = OP_CAT, .dim = -1), SIGNED(2, 1), SIGNED(2, 3));
    /* a Var that does not require grad among them gets nothing, the others do */
    Var *a = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *c = OKV(var_new(MK(DATA(3), 1), false));
    Var *parts[2] = {a, c};
    Tensor *g = MK(DATA(5, 6, 7), 3);
    OK0(var_backward_ex(OKV(var_cat(parts, 2, 0)), g, false));
    EXPECT_GRAD(a, 0, 5, 6);
    ck_assert_ptr_null(var_grad(c));
    /* more inputs than a node usually has room for: nine, each gets its slice */
    Var *nine[9];
    float gv[9];
    for (int i = 0; i < 9; i++) {
        nine[i] = OKV(var_new(MK(DATA((float)i), 1), true));
        gv[i] = (float)(10 * i + 1);
    }
    OK0(var_backward_ex(OKV(var_cat(nine, 9, 0)), MK(gv, 9), false));
    for (int i = 0; i < 9; i++)
        EXPECT_GRAD(nine[i], 0, 10 * i + 1);
    END;
}
END_TEST

START_TEST(test_grad_stack)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_STACK, .dim = 0), SIGNED(2, 3), strided_leaf(2, 3));
    CHECK_GRADS(apply_op, CASE(.op = OP_STACK, .dim = 2), SIGNED(2, 3), SIGNED(2, 3),
                SIGNED(2, 3));
    END;
}
END_TEST

void add_shape_tests(Suite *s)
{
    GRADED(s, test_grad_reshape, 2);
    GRADED(s, test_grad_flatten, 1);
    GRADED(s, test_grad_squeeze, 1);
    GRADED(s, test_grad_unsqueeze, 1);
    GRADED(s, test_grad_transpose, 2);
    GRADED(s, test_grad_permute, 1);
    GRADED(s, test_grad_narrow, 1);
    GRADED(s, test_grad_slice, 2);
    GRADED(s, test_grad_select, 1);
    GRADED(s, test_grad_expand, 3);
    GRADED(s, test_grad_index_select, 2);
    GRADED(s, test_grad_gather, 1);
    GRADED(s, test_grad_cat, 2);
    GRADED(s, test_grad_stack, 1);
}
