/*
 * test_views.c - view, reshape, contiguous, transpose, permute, squeeze/unsqueeze,
 * narrow, slice, select, expand, flatten.
 *
 * A view is a new Tensor object over the same storage: same storage pointer, new
 * shape/strides/offset, and a write through it shows in the base. Expected elements
 * come from the index arithmetic written in each test.
 */
#include "common.h"

/* base[i] = i for i < n, shape given. */
static Tensor *iota(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    float *buf = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t k = 0; k < n; k++)
        buf[k] = (float)k;
    Tensor *t = tensor_from_data(buf, shape, ndim);
    free(buf);
    return OK(t);
}
#define IOTA(...) iota(SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__))

START_TEST(test_view_shares_storage)
{
    BEGIN;
    Tensor *base = IOTA(6);
    Tensor *v = OK(tensor_view(base, SHAPE(2, 3), 2));
    EXPECT_SHAPE(v, 2, 3);
    ck_assert(SHARES(v, base));
    ck_assert_ptr_ne(v, base);
    ck_assert_int_eq(v->strides[0], 3);
    ck_assert_int_eq(v->strides[1], 1);
    EXPECT_VALUES(v, 0, 0, 1, 2, 3, 4, 5);
    /* write v[1][0] (element 3 of the storage) and see it in the base */
    v->data[strided_offset(v, SHAPE(1, 0))] = 42;
    ck_assert_close(base->data[3], 42, 0);
    /* -1 is inferred: 6 / 2 = 3 rows */
    Tensor *w = OK(tensor_view(base, SHAPE(-1, 2), 2));
    EXPECT_SHAPE(w, 3, 2);
    ck_assert(SHARES(w, base));
    /* a one-element tensor views as 0-d */
    Tensor *one = OK(tensor_full(SHAPE(1, 1), 2, 5));
    Tensor *s = OK(tensor_view(one, SHAPE(0), 0));
    EXPECT_SCALAR(s);
    ck_assert_close(tensor_item(s), 5, 0);
    END;
}
END_TEST

START_TEST(test_view_errors)
{
    BEGIN;
    Tensor *base = IOTA(2, 3);
    EXPECT_NULL_ERR(tensor_view(base, SHAPE(4), 1), "tensor_view", NULL);
    EXPECT_NULL_ERR(tensor_view(base, SHAPE(-1, -1), 2), "tensor_view", NULL);
    EXPECT_NULL_ERR(tensor_view(base, SHAPE(-1, 4), 2), "tensor_view", NULL);
    /* a transposed [3, 2] cannot be flattened without a copy */
    Tensor *tv = OK(tensor_transpose(base, 0, 1));
    EXPECT_NULL_ERR(tensor_view(tv, SHAPE(6), 1), "tensor_view", NULL);
    END;
}
END_TEST

/*
 * PyTorch allows view() on a non-contiguous tensor when each new dim only splits or
 * merges dims that are contiguous with each other: base [4, 6], n = base[:, 0:3] has
 * shape [4, 3] and strides [6, 1]; n.view(2, 2, 3) splits dim 0 → strides [12, 6, 1],
 * and v[i][j][k] = base[2i + j][k].
 */
START_TEST(test_view_noncontiguous_compatible)
{
    BEGIN;
    Tensor *base = IOTA(4, 6);
    Tensor *n = OK(tensor_narrow(base, 1, 0, 3));
    Tensor *v = OK(tensor_view(n, SHAPE(2, 2, 3), 3));
    EXPECT_SHAPE(v, 2, 2, 3);
    ck_assert(SHARES(v, base));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
                ck_assert_close(AT(v, i, j, k), (2 * i + j) * 6 + k, 0);
    /* adding a trailing size-1 dim is always a view */
    Tensor *u = OK(tensor_view(n, SHAPE(4, 3, 1), 3));
    ck_assert(SHARES(u, base));
    ck_assert_close(AT(u, 3, 2, 0), 3 * 6 + 2, 0);
    END;
}
END_TEST

START_TEST(test_reshape_view_when_possible)
{
    BEGIN;
    Tensor *base = IOTA(2, 6);
    Tensor *r = OK(tensor_reshape(base, SHAPE(3, -1), 2));
    EXPECT_SHAPE(r, 3, 4);
    ck_assert(SHARES(r, base));
    r->data[strided_offset(r, SHAPE(2, 3))] = -7; /* element 11 */
    ck_assert_close(base->data[11], -7, 0);
    END;
}
END_TEST

START_TEST(test_reshape_copies_when_needed)
{
    BEGIN;
    Tensor *base = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *tv = OK(tensor_transpose(base, 0, 1)); /* [[1, 4], [2, 5], [3, 6]] */
    Tensor *r = OK(tensor_reshape(tv, SHAPE(-1), 1));
    EXPECT_SHAPE(r, 6);
    EXPECT_VALUES(r, 0, 1, 4, 2, 5, 3, 6);
    ck_assert(!SHARES(r, base));
    r->data[0] = 100; /* the copy is independent */
    ck_assert_close(base->data[0], 1, 0);
    Tensor *r2 = OK(tensor_reshape(tv, SHAPE(2, 3), 2));
    EXPECT_VALUES(r2, 0, 1, 4, 2, 5, 3, 6);
    EXPECT_NULL_ERR(tensor_reshape(tv, SHAPE(4), 1), "tensor_reshape", NULL);
    END;
}
END_TEST

START_TEST(test_contiguous)
{
    BEGIN;
    Tensor *base = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *c = OK(tensor_contiguous(base));
    ck_assert_ptr_ne(c, base);                 /* a new object... */
    ck_assert(SHARES(c, base));                /* ...over the same storage */
    ck_assert_ptr_eq(c->data, base->data);
    Tensor *tv = OK(tensor_transpose(base, 0, 1));
    Tensor *ct = OK(tensor_contiguous(tv));
    ck_assert(!SHARES(ct, base));
    ck_assert(tensor_is_contiguous(ct));
    EXPECT_SHAPE(ct, 3, 2);
    ck_assert_int_eq(ct->strides[0], 2);
    ck_assert_int_eq(ct->strides[1], 1);
    for (int k = 0; k < 6; k++)
        ck_assert_close(ct->data[k], ((const float[]){1, 4, 2, 5, 3, 6})[k], 0);
    END;
}
END_TEST

START_TEST(test_transpose)
{
    BEGIN;
    Tensor *base = IOTA(2, 3, 4); /* base[i][j][k] = 12i + 4j + k */
    Tensor *t = OK(tensor_transpose(base, 0, 2));
    EXPECT_SHAPE(t, 4, 3, 2);
    ck_assert(SHARES(t, base));
    ck_assert_int_eq(t->strides[0], 1);
    ck_assert_int_eq(t->strides[1], 4);
    ck_assert_int_eq(t->strides[2], 12);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                ck_assert_close(AT(t, i, j, k), 12 * k + 4 * j + i, 0);
    /* negative dims: the same swap */
    Tensor *n = OK(tensor_transpose(base, -1, -3));
    EXPECT_SHAPE(n, 4, 3, 2);
    ck_assert_int_eq(n->strides[0], 1);
    /* write through: t[3][1][0] is base[0][1][3] = element 7 */
    t->data[strided_offset(t, SHAPE(3, 1, 0))] = -1;
    ck_assert_close(base->data[7], -1, 0);
    /* swapping a dim with itself changes nothing */
    Tensor *same = OK(tensor_transpose(base, 1, 1));
    EXPECT_SHAPE(same, 2, 3, 4);
    EXPECT_NULL_ERR(tensor_transpose(base, 0, 3), "tensor_transpose", "3");
    EXPECT_NULL_ERR(tensor_transpose(base, -4, 0), "tensor_transpose", "-4");
    END;
}
END_TEST

START_TEST(test_permute)
{
    BEGIN;
    Tensor *base = IOTA(2, 3, 4); /* base[i][j][k] = 12i + 4j + k */
    /* result dim d is base dim dims[d]: shape [4, 2, 3], strides [1, 12, 4] */
    Tensor *p = OK(tensor_permute(base, DIMS(2, 0, 1)));
    EXPECT_SHAPE(p, 4, 2, 3);
    ck_assert(SHARES(p, base));
    ck_assert_int_eq(p->strides[0], 1);
    ck_assert_int_eq(p->strides[1], 12);
    ck_assert_int_eq(p->strides[2], 4);
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 3; c++) /* p[a][b][c] = base[b][c][a] */
                ck_assert_close(AT(p, a, b, c), 12 * b + 4 * c + a, 0);
    Tensor *q = OK(tensor_permute(base, DIMS(-1, -3, -2)));
    EXPECT_SHAPE(q, 4, 2, 3);
    EXPECT_NULL_ERR(tensor_permute(base, DIMS(0, 0, 1)), "tensor_permute", NULL);
    EXPECT_NULL_ERR(tensor_permute(base, DIMS(0, 1, 3)), "tensor_permute", NULL);
    END;
}
END_TEST

START_TEST(test_squeeze)
{
    BEGIN;
    Tensor *base = IOTA(2, 1, 3, 1);
    Tensor *a = OK(tensor_squeeze(base, 1));
    EXPECT_SHAPE(a, 2, 3, 1);
    ck_assert(SHARES(a, base));
    ck_assert_close(AT(a, 1, 2, 0), 5, 0); /* base[1][0][2][0] = 3 * 1 + 2 */
    Tensor *b = OK(tensor_squeeze(base, 0)); /* size 2: unchanged view */
    EXPECT_SHAPE(b, 2, 1, 3, 1);
    ck_assert(SHARES(b, base));
    Tensor *c = OK(tensor_squeeze(base, -1));
    EXPECT_SHAPE(c, 2, 1, 3);
    EXPECT_NULL_ERR(tensor_squeeze(base, 4), "tensor_squeeze", "4");
    END;
}
END_TEST

START_TEST(test_squeeze_all)
{
    BEGIN;
    Tensor *base = IOTA(2, 1, 3, 1);
    Tensor *all = OK(tensor_squeeze_all(base));
    EXPECT_SHAPE(all, 2, 3);
    ck_assert(SHARES(all, base));
    EXPECT_VALUES(all, 0, 0, 1, 2, 3, 4, 5);
    Tensor *ones = OK(tensor_zeros(SHAPE(1, 1), 2));
    EXPECT_SCALAR(OK(tensor_squeeze_all(ones)));
    END;
}
END_TEST

START_TEST(test_unsqueeze)
{
    BEGIN;
    Tensor *m = IOTA(2, 3);
    EXPECT_SHAPE(OK(tensor_unsqueeze(m, 0)), 1, 2, 3);
    EXPECT_SHAPE(OK(tensor_unsqueeze(m, 1)), 2, 1, 3);
    EXPECT_SHAPE(OK(tensor_unsqueeze(m, 2)), 2, 3, 1);
    EXPECT_SHAPE(OK(tensor_unsqueeze(m, -1)), 2, 3, 1);
    EXPECT_SHAPE(OK(tensor_unsqueeze(m, -3)), 1, 2, 3);
    Tensor *u = OK(tensor_unsqueeze(m, 1));
    ck_assert(SHARES(u, m));
    ck_assert_close(AT(u, 1, 0, 2), 5, 0); /* m[1][2] = 3 * 1 + 2 */
    EXPECT_SHAPE(OK(tensor_unsqueeze(OK(tensor_scalar(1)), 0)), 1);
    EXPECT_NULL_ERR(tensor_unsqueeze(m, 3), "tensor_unsqueeze", "3");
    EXPECT_NULL_ERR(tensor_unsqueeze(m, -4), "tensor_unsqueeze", "-4");
    END;
}
END_TEST

START_TEST(test_narrow)
{
    BEGIN;
    Tensor *base = IOTA(3, 4); /* base[i][j] = 4i + j */
    Tensor *n = OK(tensor_narrow(base, 1, 1, 2));
    EXPECT_SHAPE(n, 3, 2);
    ck_assert(SHARES(n, base));
    ck_assert_int_eq(n->offset, base->offset + 1);
    EXPECT_VALUES(n, 0, 1, 2, 5, 6, 9, 10);
    Tensor *r = OK(tensor_narrow(base, 0, 1, 2));
    EXPECT_VALUES(r, 0, 4, 5, 6, 7, 8, 9, 10, 11);
    Tensor *neg = OK(tensor_narrow(base, -1, 2, 2));
    EXPECT_VALUES(neg, 0, 2, 3, 6, 7, 10, 11);
    /* write through */
    n->data[strided_offset(n, SHAPE(2, 1))] = -3; /* base[2][2] */
    ck_assert_close(base->data[10], -3, 0);
    Tensor *e = OK(tensor_narrow(base, 0, 3, 0));
    EXPECT_SHAPE(e, 0, 4);
    EXPECT_NULL_ERR(tensor_narrow(base, 1, 3, 2), "tensor_narrow", NULL);
    EXPECT_NULL_ERR(tensor_narrow(base, 1, 0, -1), "tensor_narrow", NULL);
    EXPECT_NULL_ERR(tensor_narrow(base, 2, 0, 1), "tensor_narrow", NULL);
    END;
}
END_TEST

START_TEST(test_slice)
{
    BEGIN;
    Tensor *a = IOTA(10);
    /* a[1:8:3] = 1, 4, 7 */
    Tensor *s = OK(tensor_slice(a, 0, 1, 8, 3));
    EXPECT_VALUES(s, 0, 1, 4, 7);
    ck_assert_int_eq(s->strides[0], 3);
    ck_assert(SHARES(s, a));
    /* a[-3:100] = 7, 8, 9 (start from the end, end clamped) */
    EXPECT_VALUES(OK(tensor_slice(a, 0, -3, 100, 1)), 0, 7, 8, 9);
    /* a[-100:2] = 0, 1 */
    EXPECT_VALUES(OK(tensor_slice(a, 0, -100, 2, 1)), 0, 0, 1);
    /* a[0:10:2] */
    EXPECT_VALUES(OK(tensor_slice(a, 0, 0, 10, 2)), 0, 0, 2, 4, 6, 8);
    /* a[2:-2:4] = 2, 6 */
    EXPECT_VALUES(OK(tensor_slice(a, 0, 2, -2, 4)), 0, 2, 6);
    /* a[5:2] is empty */
    EXPECT_SHAPE(OK(tensor_slice(a, 0, 5, 2, 1)), 0);

    Tensor *m = IOTA(3, 4); /* m[i][j] = 4i + j */
    Tensor *cols = OK(tensor_slice(m, 1, 0, 4, 2)); /* m[:, ::2] */
    EXPECT_SHAPE(cols, 3, 2);
    ck_assert_int_eq(cols->strides[0], 4);
    ck_assert_int_eq(cols->strides[1], 2);
    EXPECT_VALUES(cols, 0, 0, 2, 4, 6, 8, 10);
    /* slice of a slice: m[:, ::2][1:, 1:] = [[6], [10]] */
    Tensor *ss = OK(tensor_slice(OK(tensor_slice(cols, 0, 1, 3, 1)), -1, 1, 2, 1));
    EXPECT_SHAPE(ss, 2, 1);
    EXPECT_VALUES(ss, 0, 6, 10);
    ss->data[strided_offset(ss, SHAPE(1, 0))] = 99;
    ck_assert_close(m->data[10], 99, 0);
    EXPECT_NULL_ERR(tensor_slice(a, 0, 0, 5, 0), "tensor_slice", NULL);
    EXPECT_NULL_ERR(tensor_slice(a, 0, 5, 0, -1), "tensor_slice", NULL);
    EXPECT_NULL_ERR(tensor_slice(a, 1, 0, 5, 1), "tensor_slice", NULL);
    END;
}
END_TEST

START_TEST(test_select)
{
    BEGIN;
    Tensor *base = IOTA(2, 3, 4); /* 12i + 4j + k */
    Tensor *s = OK(tensor_select(base, 1, 2));
    EXPECT_SHAPE(s, 2, 4);
    ck_assert(SHARES(s, base));
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            ck_assert_close(AT(s, i, k), 12 * i + 8 + k, 0);
    Tensor *last = OK(tensor_select(base, 0, -1)); /* base[1] */
    EXPECT_SHAPE(last, 3, 4);
    ck_assert_close(AT(last, 0, 0), 12, 0);
    Tensor *row = OK(tensor_select(OK(tensor_select(base, 0, 1)), 0, 2)); /* base[1][2] */
    Tensor *x = OK(tensor_select(row, 0, 3));
    EXPECT_SCALAR(x);
    ck_assert_close(tensor_item(x), 23, 0);
    EXPECT_NULL_ERR(tensor_select(base, 1, 3), "tensor_select", "3");
    EXPECT_NULL_ERR(tensor_select(base, 3, 0), "tensor_select", NULL);
    EXPECT_NULL_ERR(tensor_select(x, 0, 0), "tensor_select", NULL); /* a 0-d tensor */
    END;
}
END_TEST

START_TEST(test_expand)
{
    BEGIN;
    Tensor *col = MK(DATA(1, 2, 3), 3, 1);
    Tensor *e = OK(tensor_expand(col, SHAPE(3, 4), 2));
    EXPECT_SHAPE(e, 3, 4);
    ck_assert(SHARES(e, col));
    ck_assert_int_eq(e->strides[1], 0);
    EXPECT_VALUES(e, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    /* -1 keeps a size; new leading dims get stride 0 */
    Tensor *e2 = OK(tensor_expand(col, SHAPE(2, -1, 2), 3));
    EXPECT_SHAPE(e2, 2, 3, 2);
    ck_assert_int_eq(e2->strides[0], 0);
    ck_assert_close(AT(e2, 1, 2, 1), 3, 0);
    Tensor *row = MK(DATA(5, 6, 7), 3);
    Tensor *e3 = OK(tensor_expand(row, SHAPE(2, 3), 2));
    EXPECT_VALUES(e3, 0, 5, 6, 7, 5, 6, 7);
    EXPECT_VALUES(OK(tensor_expand(OK(tensor_scalar(4)), SHAPE(2, 2), 2)), 0, 4, 4, 4, 4);
    EXPECT_NULL_ERR(tensor_expand(row, SHAPE(4), 1), "tensor_expand", NULL);
    EXPECT_NULL_ERR(tensor_expand(OK(tensor_zeros(SHAPE(2, 3), 2)), SHAPE(3), 1),
                    "tensor_expand", NULL);
    END;
}
END_TEST

START_TEST(test_flatten)
{
    BEGIN;
    Tensor *base = IOTA(2, 3, 4);
    Tensor *f = OK(tensor_flatten(base, 1, 2));
    EXPECT_SHAPE(f, 2, 12);
    ck_assert(SHARES(f, base));
    Tensor *all = OK(tensor_flatten(base, 0, -1));
    EXPECT_SHAPE(all, 24);
    ck_assert_close(AT(all, 17), 17, 0);
    EXPECT_SHAPE(OK(tensor_flatten(base, 1, 1)), 2, 3, 4);
    /* a transposed [4, 3, 2] flattened: row-major order of the view (a copy is fine) */
    Tensor *t = OK(tensor_transpose(base, 0, 2)); /* t[i][j][k] = 12k + 4j + i */
    Tensor *ft = OK(tensor_flatten(t, 0, 1));
    EXPECT_SHAPE(ft, 12, 2);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                ck_assert_close(AT(ft, 3 * i + j, k), 12 * k + 4 * j + i, 0);
    EXPECT_NULL_ERR(tensor_flatten(base, 2, 1), "tensor_flatten", NULL);
    EXPECT_NULL_ERR(tensor_flatten(base, 0, 3), "tensor_flatten", NULL);
    END;
}
END_TEST

/* torch.flatten of a 0-d tensor gives a 1-d tensor of one element. */
START_TEST(test_flatten_scalar)
{
    BEGIN;
    Tensor *f = OK(tensor_flatten(OK(tensor_scalar(3)), 0, -1));
    EXPECT_SHAPE(f, 1);
    EXPECT_VALUES(f, 0, 3);
    END;
}
END_TEST

/*
 * A chain of views: m[i][j] = 6i + j on [5, 6]; s = m[1:5:2] (rows 1, 3);
 * t = s^T ([6, 2]); n = t.narrow(0, 2, 3) (rows 2..4 of t). n[a][b] = m[1 + 2b][2 + a].
 */
START_TEST(test_view_chain)
{
    BEGIN;
    Tensor *m = IOTA(5, 6);
    Tensor *s = OK(tensor_slice(m, 0, 1, 5, 2));
    Tensor *t = OK(tensor_transpose(s, 0, 1));
    Tensor *n = OK(tensor_narrow(t, 0, 2, 3));
    EXPECT_SHAPE(n, 3, 2);
    ck_assert(SHARES(n, m));
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++)
            ck_assert_close(AT(n, a, b), 6 * (1 + 2 * b) + 2 + a, 0);
    /* n[2][1] = m[3][4] = element 22 */
    n->data[strided_offset(n, SHAPE(2, 1))] = -5;
    ck_assert_close(m->data[22], -5, 0);
    /* and reshape of the chain copies with the right values */
    Tensor *r = OK(tensor_reshape(n, SHAPE(6), 1));
    EXPECT_VALUES(r, 0, 8, 20, 9, 21, 10, -5);
    END;
}
END_TEST

void add_view_tests(Suite *s)
{
    GRADED(s, test_view_shares_storage, 5);
    GRADED(s, test_view_errors, 2);
    GRADED(s, test_view_noncontiguous_compatible, 2);
    GRADED(s, test_reshape_view_when_possible, 3);
    GRADED(s, test_reshape_copies_when_needed, 4);
    GRADED(s, test_contiguous, 3);
    GRADED(s, test_transpose, 4);
    GRADED(s, test_permute, 4);
    GRADED(s, test_squeeze, 1);
    GRADED(s, test_squeeze_all, 1);
    GRADED(s, test_unsqueeze, 1);
    GRADED(s, test_narrow, 3);
    GRADED(s, test_slice, 4);
    GRADED(s, test_select, 3);
    GRADED(s, test_expand, 4);
    GRADED(s, test_flatten, 3);
    GRADED(s, test_flatten_scalar, 1);
    GRADED(s, test_view_chain, 4);
}
