/*
 * test_index.c - index_select, gather, scatter_add, one_hot, masked_fill, cat, stack.
 * Indices are float32 tensors holding integers (see tensor.h).
 */
#include "common.h"

START_TEST(test_index_select)
{
    BEGIN;
    Tensor *t = MK(DATA(0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23), 3, 4);
    Tensor *r = OK(tensor_index_select(t, 0, MK(DATA(2, 0, 2), 3)));
    EXPECT_SHAPE(r, 3, 4);
    EXPECT_VALUES(r, 0, 20, 21, 22, 23, 0, 1, 2, 3, 20, 21, 22, 23);
    Tensor *c = OK(tensor_index_select(t, -1, MK(DATA(3, 1), 2)));
    EXPECT_SHAPE(c, 3, 2);
    EXPECT_VALUES(c, 0, 3, 1, 13, 11, 23, 21);
    /* a copy, not a view */
    ck_assert(!SHARES(r, t));
    /* from a transposed tensor: rows of t^T are columns of t */
    Tensor *tt = OK(tensor_transpose(t, 0, 1));
    EXPECT_VALUES(OK(tensor_index_select(tt, 0, MK(DATA(1), 1))), 0, 1, 11, 21);
    /* an empty index gives an empty dim */
    EXPECT_SHAPE(OK(tensor_index_select(t, 0, OK(tensor_zeros(SHAPE(0), 1)))), 0, 4);
    END;
}
END_TEST

START_TEST(test_index_select_errors)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(3, 4), 2));
    EXPECT_NULL_ERR(tensor_index_select(t, 0, MK(DATA(0, 3), 2)), "tensor_index_select", "3");
    EXPECT_NULL_ERR(tensor_index_select(t, 0, MK(DATA(0.5), 1)), "tensor_index_select", NULL);
    EXPECT_NULL_ERR(tensor_index_select(t, 2, MK(DATA(0), 1)), "tensor_index_select", NULL);
    EXPECT_NULL_ERR(tensor_index_select(t, 0, MK(DATA(0, 1), 1, 2)), "tensor_index_select",
                    NULL);
    END;
}
END_TEST

/* out[i][j] = t[index[i][j]][j] (dim 0); out[i][j] = t[i][index[i][j]] (dim 1). */
START_TEST(test_gather)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *i1 = MK(DATA(2, 0, 1, 1), 2, 2);
    Tensor *g1 = OK(tensor_gather(t, 1, i1));
    EXPECT_SHAPE(g1, 2, 2);
    EXPECT_VALUES(g1, 0, 3, 1, 5, 5);
    Tensor *i0 = MK(DATA(1, 0, 1, 0, 0, 0), 2, 3);
    EXPECT_VALUES(OK(tensor_gather(t, 0, i0)), 0, 4, 2, 6, 1, 2, 3);
    /* the cross-entropy pattern: pick one class per row with a [N, 1] index */
    Tensor *logp = PATTERN(131, 4, 5);
    Tensor *y = MK(DATA(4, 0, 2, 2), 4, 1);
    Tensor *picked = OK(tensor_gather(logp, -1, y));
    EXPECT_SHAPE(picked, 4, 1);
    for (int i = 0; i < 4; i++)
        ck_assert_close(AT(picked, i, 0), AT(logp, i, (int64_t)y->data[i]), 0);
    EXPECT_NULL_ERR(tensor_gather(t, 1, MK(DATA(3, 0), 2, 1)), "tensor_gather", NULL);
    END;
}
END_TEST

START_TEST(test_scatter_add)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(3, 2), 2));
    /* dim 0: out[index[i][j]][j] += src[i][j]; rows 0 and 2 get two additions */
    Tensor *index = MK(DATA(0, 2, 2, 2, 0, 1), 3, 2);
    Tensor *src = MK(DATA(1, 2, 3, 4, 5, 6), 3, 2);
    Tensor *out = OK(tensor_scatter_add(t, 0, index, src));
    EXPECT_SHAPE(out, 3, 2);
    /* out[0][0] = 1 + 5; out[2][0] = 3; out[2][1] = 2 + 4; out[1][1] = 6 */
    EXPECT_VALUES(out, 0, 6, 0, 0, 6, 3, 6);
    EXPECT_VALUES(t, 0, 0, 0, 0, 0, 0, 0); /* out of place */
    /* dim 1 on a non-zero base: out[i][index[i][j]] += src[i][j] */
    Tensor *base = OK(tensor_ones(SHAPE(2, 3), 2));
    Tensor *o1 = OK(tensor_scatter_add(base, 1, MK(DATA(0, 0, 2, 1), 2, 2),
                                       MK(DATA(10, 20, 30, 40), 2, 2)));
    EXPECT_VALUES(o1, 0, 31, 1, 1, 1, 41, 31);
    EXPECT_NULL_ERR(tensor_scatter_add(t, 0, MK(DATA(3, 0), 1, 2), MK(DATA(1, 1), 1, 2)),
                    "tensor_scatter_add", NULL);
    END;
}
END_TEST

/* scatter_add is the adjoint of gather: <gather(x, idx), s> = <x, scatter_add(0, idx, s)>. */
START_TEST(test_scatter_add_gather_adjoint)
{
    BEGIN;
    Tensor *x = PATTERN(141, 4, 3);
    Tensor *idx = MK(DATA(3, 0, 1, 3, 3, 2, 0, 0, 0, 1, 2, 3), 4, 3);
    Tensor *s = PATTERN(142, 4, 3);
    Tensor *g = OK(tensor_gather(x, 0, idx));
    Tensor *z = OK(tensor_zeros(SHAPE(4, 3), 2));
    Tensor *sc = OK(tensor_scatter_add(z, 0, idx, s));
    double lhs = 0, rhs = 0;
    for (int k = 0; k < 12; k++) {
        lhs += (double)g->data[k] * s->data[k];
        rhs += (double)x->data[k] * sc->data[k];
    }
    ck_assert_close(lhs, rhs, 1e-5);
    END;
}
END_TEST

START_TEST(test_one_hot)
{
    BEGIN;
    Tensor *oh = OK(tensor_one_hot(MK(DATA(0, 2, 1), 3), 4));
    EXPECT_SHAPE(oh, 3, 4);
    EXPECT_VALUES(oh, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0);
    /* -1: max index + 1 = 3 classes */
    Tensor *auto_n = OK(tensor_one_hot(MK(DATA(2, 0), 2), -1));
    EXPECT_SHAPE(auto_n, 2, 3);
    EXPECT_VALUES(auto_n, 0, 0, 0, 1, 1, 0, 0);
    /* a 2-D index gains a last dim */
    EXPECT_SHAPE(OK(tensor_one_hot(MK(DATA(0, 1, 1, 0), 2, 2), 2)), 2, 2, 2);
    EXPECT_NULL_ERR(tensor_one_hot(MK(DATA(0, 4), 2), 4), "tensor_one_hot", "4");
    EXPECT_NULL_ERR(tensor_one_hot(MK(DATA(-1, 0), 2), 4), "tensor_one_hot", NULL);
    END;
}
END_TEST

START_TEST(test_masked_fill)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *m = OK(tensor_masked_fill(t, MK(DATA(0, 1, 0, 1, 0, 0), 2, 3), -1));
    EXPECT_VALUES(m, 0, 1, -1, 3, -1, 5, 6);
    EXPECT_VALUES(t, 0, 1, 2, 3, 4, 5, 6);
    /* a [3] mask broadcasts over rows; the causal-attention pattern fills -inf */
    Tensor *b = OK(tensor_masked_fill(t, MK(DATA(0, 0, 1), 3), -INFINITY));
    EXPECT_VALUES(b, 0, 1, 2, -INFINITY, 4, 5, -INFINITY);
    /* a [2, 1] mask broadcasts along each row: row 0 is filled, row 1 kept */
    Tensor *r = OK(tensor_masked_fill(t, MK(DATA(1, 0), 2, 1), 9));
    EXPECT_VALUES(r, 0, 9, 9, 9, 4, 5, 6);
    EXPECT_NULL_ERR(tensor_masked_fill(t, MK(DATA(1, 0), 2), 0), "tensor_masked_fill", NULL);
    END;
}
END_TEST

START_TEST(test_cat)
{
    BEGIN;
    Tensor *a = MK(DATA(1, 2, 3, 4), 2, 2);
    Tensor *b = MK(DATA(5, 6), 1, 2);
    Tensor *r = OK(tensor_cat((Tensor *const[]){a, b}, 2, 0));
    EXPECT_SHAPE(r, 3, 2);
    EXPECT_VALUES(r, 0, 1, 2, 3, 4, 5, 6);
    Tensor *c = MK(DATA(7, 8, 9, 10, 11, 12), 2, 3);
    Tensor *r1 = OK(tensor_cat((Tensor *const[]){a, c}, 2, -1));
    EXPECT_SHAPE(r1, 2, 5);
    EXPECT_VALUES(r1, 0, 1, 2, 7, 8, 9, 3, 4, 10, 11, 12);
    /* non-contiguous inputs: a^T next to a */
    Tensor *at = OK(tensor_transpose(a, 0, 1));
    EXPECT_VALUES(OK(tensor_cat((Tensor *const[]){at, a}, 2, 1)), 0, 1, 3, 1, 2, 2, 4, 3, 4);
    /* one tensor: a copy */
    Tensor *one = OK(tensor_cat((Tensor *const[]){a}, 1, 0));
    ck_assert(!SHARES(one, a));
    EXPECT_VALUES(one, 0, 1, 2, 3, 4);
    /* an empty piece contributes nothing */
    Tensor *e = OK(tensor_zeros(SHAPE(0, 2), 2));
    EXPECT_SHAPE(OK(tensor_cat((Tensor *const[]){e, a, e}, 3, 0)), 2, 2);
    END;
}
END_TEST

START_TEST(test_cat_errors)
{
    BEGIN;
    Tensor *a = OK(tensor_zeros(SHAPE(2, 2), 2));
    Tensor *b = OK(tensor_zeros(SHAPE(2, 3), 2));
    EXPECT_NULL_ERR(tensor_cat((Tensor *const[]){a, b}, 2, 0), "tensor_cat", NULL);
    EXPECT_NULL_ERR(tensor_cat((Tensor *const[]){a, b}, 2, 2), "tensor_cat", NULL);
    EXPECT_NULL_ERR(tensor_cat((Tensor *const[]){a, OK(tensor_zeros(SHAPE(2), 1))}, 2, 0),
                    "tensor_cat", NULL);
    EXPECT_NULL_ERR(tensor_cat((Tensor *const[]){a}, 0, 0), "tensor_cat", NULL);
    EXPECT_NULL_ERR(tensor_cat((Tensor *const[]){a, NULL}, 2, 0), "tensor_cat", NULL);
    END;
}
END_TEST

START_TEST(test_stack)
{
    BEGIN;
    Tensor *a = MK(DATA(1, 2, 3), 3);
    Tensor *b = MK(DATA(4, 5, 6), 3);
    Tensor *s0 = OK(tensor_stack((Tensor *const[]){a, b}, 2, 0));
    EXPECT_SHAPE(s0, 2, 3);
    EXPECT_VALUES(s0, 0, 1, 2, 3, 4, 5, 6);
    Tensor *s1 = OK(tensor_stack((Tensor *const[]){a, b}, 2, 1));
    EXPECT_SHAPE(s1, 3, 2);
    EXPECT_VALUES(s1, 0, 1, 4, 2, 5, 3, 6);
    Tensor *sl = OK(tensor_stack((Tensor *const[]){a, b, a}, 3, -1));
    EXPECT_SHAPE(sl, 3, 3);
    EXPECT_VALUES(sl, 0, 1, 4, 1, 2, 5, 2, 3, 6, 3);
    /* 0-d tensors stack into a vector */
    Tensor *v = OK(tensor_stack((Tensor *const[]){OK(tensor_scalar(7)), OK(tensor_scalar(8))}, 2, 0));
    EXPECT_SHAPE(v, 2);
    EXPECT_VALUES(v, 0, 7, 8);
    EXPECT_NULL_ERR(tensor_stack((Tensor *const[]){a, OK(tensor_zeros(SHAPE(4), 1))}, 2, 0),
                    "tensor_stack", NULL);
    EXPECT_NULL_ERR(tensor_stack((Tensor *const[]){a, b}, 2, 2), "tensor_stack", NULL);
    END;
}
END_TEST

void add_index_tests(Suite *s)
{
    GRADED(s, test_index_select, 3);
    GRADED(s, test_index_select_errors, 2);
    GRADED(s, test_gather, 4);
    GRADED(s, test_scatter_add, 4);
    GRADED(s, test_scatter_add_gather_adjoint, 2);
    GRADED(s, test_one_hot, 2);
    GRADED(s, test_masked_fill, 2);
    GRADED(s, test_cat, 4);
    GRADED(s, test_cat_errors, 2);
    GRADED(s, test_stack, 3);
}
