/*
 * test_inplace.c - the in-place updates optimizers use: other broadcasts to t's shape,
 * t keeps its shape and storage, a view is updated through to its base, and a failing
 * call leaves t unchanged.
 */
#include "common.h"

START_TEST(test_inplace_arith_broadcast)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    float *storage = t->data;
    OK0(tensor_add_(t, MK(DATA(10, 20, 30), 3)));
    EXPECT_VALUES(t, 0, 11, 22, 33, 14, 25, 36);
    OK0(tensor_sub_(t, MK(DATA(1, 4), 2, 1)));
    EXPECT_VALUES(t, 0, 10, 21, 32, 10, 21, 32);
    OK0(tensor_mul_(t, OK(tensor_scalar(0.5f))));
    EXPECT_VALUES(t, 0, 5, 10.5, 16, 5, 10.5, 16);
    OK0(tensor_div_(t, MK(DATA(5, 0.5, 2, -1, 1, 4), 2, 3)));
    EXPECT_VALUES(t, 0, 1, 21, 8, -5, 10.5, 4);
    ck_assert_ptr_eq(t->data, storage); /* same memory, same shape */
    EXPECT_SHAPE(t, 2, 3);
    END;
}
END_TEST

START_TEST(test_axpy)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 1, 1, 1), 2, 2);
    /* t += 0.5 * x: 1 + 0.5 * [2, 4, 6, 8] */
    OK0(tensor_axpy_(t, 0.5f, MK(DATA(2, 4, 6, 8), 2, 2)));
    EXPECT_VALUES(t, 1e-7, 2, 3, 4, 5);
    /* broadcast x [2] over rows, negative alpha */
    OK0(tensor_axpy_(t, -1.0f, MK(DATA(1, 2), 2)));
    EXPECT_VALUES(t, 1e-7, 1, 1, 3, 3);
    /* a transposed x: x^T = [[1, 3], [2, 4]] */
    OK0(tensor_axpy_(t, 2.0f, OK(tensor_transpose(MK(DATA(1, 2, 3, 4), 2, 2), 0, 1))));
    EXPECT_VALUES(t, 1e-7, 3, 7, 7, 11);
    END;
}
END_TEST

START_TEST(test_scalar_inplace)
{
    BEGIN;
    Tensor *t = MK(DATA(-2, -0.5, 0.5, 2), 4);
    OK0(tensor_add_scalar_(t, 1));
    EXPECT_VALUES(t, 0, -1, 0.5, 1.5, 3);
    OK0(tensor_mul_scalar_(t, 2));
    EXPECT_VALUES(t, 0, -2, 1, 3, 6);
    OK0(tensor_clamp_(t, 0, 4));
    EXPECT_VALUES(t, 0, 0, 1, 3, 4);
    OK0(tensor_clamp_(t, 2, 1)); /* min > max: 1 everywhere, as torch.clamp_(t, 2, 1) */
    EXPECT_VALUES(t, 0, 1, 1, 1, 1);
    OK0(tensor_fill_(t, 7.5f));
    EXPECT_VALUES(t, 0, 7.5, 7.5, 7.5, 7.5);
    OK0(tensor_zero_(t));
    EXPECT_VALUES(t, 0, 0, 0, 0, 0);
    Tensor *s = OK(tensor_scalar(3));
    OK0(tensor_mul_scalar_(s, 3));
    ck_assert_close(tensor_item(s), 9, 0);
    END;
}
END_TEST

/* In-place on views writes through to the base, and only where the view looks. */
START_TEST(test_inplace_on_views)
{
    BEGIN;
    Tensor *m = OK(tensor_zeros(SHAPE(3, 4), 2));
    OK0(tensor_fill_(OK(tensor_narrow(m, 1, 1, 1)), 5)); /* column 1 */
    EXPECT_VALUES(m, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0);
    OK0(tensor_add_scalar_(OK(tensor_slice(m, 1, 0, 4, 2)), 1)); /* columns 0, 2 */
    EXPECT_VALUES(m, 0, 1, 5, 1, 0, 1, 5, 1, 0, 1, 5, 1, 0);
    /* add_ on a transposed view: mt[i][j] += i (other [4, 1]) → m[j][i] += i */
    Tensor *mt = OK(tensor_transpose(m, 0, 1));
    OK0(tensor_add_(mt, MK(DATA(0, 10, 20, 30), 4, 1)));
    EXPECT_VALUES(m, 0, 1, 15, 21, 30, 1, 15, 21, 30, 1, 15, 21, 30);
    OK0(tensor_zero_(OK(tensor_select(m, 0, 1)))); /* row 1 */
    EXPECT_VALUES(m, 0, 1, 15, 21, 30, 0, 0, 0, 0, 1, 15, 21, 30);
    OK0(tensor_mul_(OK(tensor_select(m, 1, 3)), MK(DATA(2, 3, 4), 3))); /* column 3 */
    EXPECT_VALUES(m, 0, 1, 15, 21, 60, 0, 0, 0, 0, 1, 15, 21, 120);
    END;
}
END_TEST

START_TEST(test_copy_inplace)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(2, 3), 2));
    OK0(tensor_copy_(t, MK(DATA(1, 2, 3), 3))); /* broadcast over rows */
    EXPECT_VALUES(t, 0, 1, 2, 3, 1, 2, 3);
    /* from a transposed view: [[1, 4], [2, 5], [3, 6]]^T = [[1, 2, 3], [4, 5, 6]] */
    Tensor *src = OK(tensor_transpose(MK(DATA(1, 4, 2, 5, 3, 6), 3, 2), 0, 1));
    OK0(tensor_copy_(t, src));
    EXPECT_VALUES(t, 0, 1, 2, 3, 4, 5, 6);
    /* into a view: the last column */
    OK0(tensor_copy_(OK(tensor_narrow(t, 1, 2, 1)), MK(DATA(-1, -2), 2, 1)));
    EXPECT_VALUES(t, 0, 1, 2, -1, 4, 5, -2);
    /* 0-d source fills */
    OK0(tensor_copy_(t, OK(tensor_scalar(9))));
    EXPECT_VALUES(t, 0, 9, 9, 9, 9, 9, 9);
    END;
}
END_TEST

/* t.add_(t): PyTorch doubles t. */
START_TEST(test_inplace_self)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3), 3);
    OK0(tensor_add_(t, t));
    EXPECT_VALUES(t, 0, 2, 4, 6);
    OK0(tensor_mul_(t, t));
    EXPECT_VALUES(t, 0, 4, 16, 36);
    END;
}
END_TEST

START_TEST(test_inplace_errors)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3), 3);
    /* other may not grow t: [2, 3] does not broadcast into [3] */
    EXPECT_FAIL_ERR(tensor_add_(t, OK(tensor_ones(SHAPE(2, 3), 2))), "tensor_add_", NULL);
    EXPECT_FAIL_ERR(tensor_mul_(t, OK(tensor_ones(SHAPE(2), 1))), "tensor_mul_", NULL);
    EXPECT_FAIL_ERR(tensor_copy_(t, OK(tensor_ones(SHAPE(4), 1))), "tensor_copy_", NULL);
    EXPECT_FAIL_ERR(tensor_axpy_(t, 1, OK(tensor_ones(SHAPE(2), 1))), "tensor_axpy_", NULL);
    EXPECT_VALUES(t, 0, 1, 2, 3); /* untouched */
    EXPECT_FAIL_ERR(tensor_add_(NULL, t), "tensor_add_", NULL);
    EXPECT_FAIL_ERR(tensor_fill_(NULL, 1), "tensor_fill_", NULL);
    EXPECT_FAIL_ERR(tensor_sub_(t, NULL), "tensor_sub_", NULL);
    END;
}
END_TEST

void add_inplace_tests(Suite *s)
{
    GRADED(s, test_inplace_arith_broadcast, 4);
    GRADED(s, test_axpy, 3);
    GRADED(s, test_scalar_inplace, 2);
    GRADED(s, test_inplace_on_views, 4);
    GRADED(s, test_copy_inplace, 3);
    GRADED(s, test_inplace_self, 1);
    GRADED(s, test_inplace_errors, 3);
}
