/*
 * test_creation.c - empty, zeros, ones, full, scalar, arange, linspace, from_data,
 * clone, *_like; shapes, contiguous strides, and the shape errors.
 */
#include "common.h"

#include <stdint.h>

/* Row-major strides of [2, 3, 4] are [3*4, 4, 1] = [12, 4, 1]. */
START_TEST(test_empty_shape_strides)
{
    BEGIN;
    Tensor *t = OK(tensor_empty(SHAPE(2, 3, 4), 3));
    EXPECT_SHAPE(t, 2, 3, 4);
    ck_assert_int_eq(t->strides[0], 12);
    ck_assert_int_eq(t->strides[1], 4);
    ck_assert_int_eq(t->strides[2], 1);
    ck_assert_int_eq(t->offset, 0);
    ck_assert_ptr_nonnull(t->storage);
    ck_assert_uint_ge(t->storage->numel, 24);
    ck_assert_ptr_eq(t->data, t->storage->data + t->offset);
    ck_assert(tensor_is_contiguous(t));
    ck_assert_int_eq(tensor_numel(t), 24);
    /* every element is writable (valgrind checks the storage is big enough) */
    for (int64_t k = 0; k < 24; k++)
        t->data[k] = (float)k;
    END;
}
END_TEST

START_TEST(test_zeros_ones_full)
{
    BEGIN;
    Tensor *z = OK(tensor_zeros(SHAPE(3, 2), 2));
    Tensor *o = OK(tensor_ones(SHAPE(2, 1, 2), 3));
    Tensor *f = OK(tensor_full(SHAPE(5), 1, -2.5f));
    EXPECT_SHAPE(z, 3, 2);
    EXPECT_SHAPE(o, 2, 1, 2);
    EXPECT_SHAPE(f, 5);
    EXPECT_VALUES(z, 0, 0, 0, 0, 0, 0, 0);
    EXPECT_VALUES(o, 0, 1, 1, 1, 1);
    EXPECT_VALUES(f, 0, -2.5, -2.5, -2.5, -2.5, -2.5);
    ck_assert(tensor_is_contiguous(z) && tensor_is_contiguous(o) && tensor_is_contiguous(f));
    /* each call gives its own storage */
    Tensor *z2 = OK(tensor_zeros(SHAPE(3, 2), 2));
    ck_assert_ptr_ne(z->storage, z2->storage);
    END;
}
END_TEST

START_TEST(test_scalar_0d)
{
    BEGIN;
    Tensor *s = OK(tensor_scalar(3.5f));
    EXPECT_SCALAR(s);
    ck_assert_int_eq(tensor_numel(s), 1);
    ck_assert(tensor_is_contiguous(s));
    ck_assert_close(tensor_item(s), 3.5, 0);
    ck_assert_close(s->data[0], 3.5, 0);
    /* ndim 0 through the shape functions: one element */
    Tensor *z = OK(tensor_zeros(SHAPE(5), 0));
    Tensor *f = OK(tensor_full(SHAPE(1), 0, 7.0f));
    EXPECT_SCALAR(z);
    ck_assert_int_eq(tensor_numel(z), 1);
    ck_assert_close(tensor_item(z), 0, 0);
    ck_assert_close(tensor_item(f), 7, 0);
    END;
}
END_TEST

START_TEST(test_empty_tensors)
{
    BEGIN;
    Tensor *e = OK(tensor_zeros(SHAPE(0, 3), 2));
    EXPECT_SHAPE(e, 0, 3);
    ck_assert_int_eq(tensor_numel(e), 0);
    Tensor *f = OK(tensor_full(SHAPE(4, 0), 2, 1.0f));
    ck_assert_int_eq(tensor_numel(f), 0);
    Tensor *c = OK(tensor_clone(e));
    EXPECT_SHAPE(c, 0, 3);
    END;
}
END_TEST

START_TEST(test_arange)
{
    BEGIN;
    Tensor *a = OK(tensor_arange(0, 5, 1));
    EXPECT_SHAPE(a, 5);
    EXPECT_VALUES(a, 0, 0, 1, 2, 3, 4);
    /* ceil((2 - 1) / 0.3) = ceil(3.33) = 4 values: 1, 1.3, 1.6, 1.9 */
    Tensor *b = OK(tensor_arange(1, 2, 0.3));
    EXPECT_SHAPE(b, 4);
    EXPECT_VALUES(b, 1e-6, 1.0, 1.3, 1.6, 1.9);
    /* negative step: 5, 3, 1 (stops before 0) */
    Tensor *c = OK(tensor_arange(5, 0, -2));
    EXPECT_VALUES(c, 0, 5, 3, 1);
    /* empty range */
    Tensor *d = OK(tensor_arange(3, 3, 1));
    EXPECT_SHAPE(d, 0);
    /* fractional end: 0, 1, 2 (2 < 2.5) */
    Tensor *e = OK(tensor_arange(0, 2.5, 1));
    EXPECT_VALUES(e, 0, 0, 1, 2);
    ck_assert(tensor_is_contiguous(e));
    END;
}
END_TEST

START_TEST(test_arange_errors)
{
    BEGIN;
    EXPECT_NULL_ERR(tensor_arange(0, 5, 0), "tensor_arange", NULL);
    EXPECT_NULL_ERR(tensor_arange(0, 5, -1), "tensor_arange", NULL);
    EXPECT_NULL_ERR(tensor_arange(5, 0, 1), "tensor_arange", NULL);
    EXPECT_NULL_ERR(tensor_arange(5, 0, 0.5), "tensor_arange", NULL); /* any step > 0 */
    EXPECT_NULL_ERR(tensor_arange(0, 1e30, 1), "tensor_arange", NULL); /* too many */
    EXPECT_NULL_ERR(tensor_arange(0, NAN, 1), "tensor_arange", NULL);
    END;
}
END_TEST

START_TEST(test_linspace)
{
    BEGIN;
    /* step (1 - 0) / (5 - 1) = 0.25 */
    Tensor *a = OK(tensor_linspace(0, 1, 5));
    EXPECT_SHAPE(a, 5);
    EXPECT_VALUES(a, 1e-6, 0, 0.25, 0.5, 0.75, 1);
    /* decreasing: step (-1 - 2) / 3 = -1 */
    Tensor *b = OK(tensor_linspace(2, -1, 4));
    EXPECT_VALUES(b, 1e-6, 2, 1, 0, -1);
    /* one step gives [start]; zero steps an empty tensor (torch.linspace) */
    Tensor *c = OK(tensor_linspace(3, 9, 1));
    EXPECT_VALUES(c, 0, 3);
    Tensor *d = OK(tensor_linspace(3, 9, 0));
    EXPECT_SHAPE(d, 0);
    /* the end point is exact */
    Tensor *e = OK(tensor_linspace(-1, 1, 101));
    ck_assert_close(e->data[100], 1.0, 1e-6);
    ck_assert_close(e->data[50], 0.0, 1e-6);
    EXPECT_NULL_ERR(tensor_linspace(0, 1, -2), "tensor_linspace", NULL);
    END;
}
END_TEST

START_TEST(test_from_data_copies)
{
    BEGIN;
    float src[6] = {1, 2, 3, 4, 5, 6};
    Tensor *t = OK(tensor_from_data(src, SHAPE(2, 3), 2));
    EXPECT_SHAPE(t, 2, 3);
    src[0] = 100; /* the tensor has its own copy */
    EXPECT_VALUES(t, 0, 1, 2, 3, 4, 5, 6);
    ck_assert_close(AT(t, 1, 0), 4, 0);
    ck_assert_close(AT(t, 0, 2), 3, 0);
    Tensor *s = OK(tensor_from_data(DATA(9), SHAPE(4), 0));
    EXPECT_SCALAR(s);
    ck_assert_close(tensor_item(s), 9, 0);
    EXPECT_NULL_ERR(tensor_from_data(NULL, SHAPE(2), 1), "tensor_from_data", NULL);
    END;
}
END_TEST

START_TEST(test_clone)
{
    BEGIN;
    Tensor *base = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *c = OK(tensor_clone(base));
    ck_assert_ptr_ne(c->storage, base->storage);
    c->data[0] = 50;
    ck_assert_close(base->data[0], 1, 0);
    /* cloning a transposed view gives a contiguous tensor in the view's order */
    Tensor *tv = OK(tensor_transpose(base, 0, 1));
    Tensor *ct = OK(tensor_clone(tv));
    EXPECT_SHAPE(ct, 3, 2);
    ck_assert(tensor_is_contiguous(ct));
    ck_assert_int_eq(ct->strides[0], 2);
    ck_assert_int_eq(ct->strides[1], 1);
    /* tv = [[1, 4], [2, 5], [3, 6]] */
    for (int k = 0; k < 6; k++)
        ck_assert_close(ct->data[k], ((const float[]){1, 4, 2, 5, 3, 6})[k], 0);
    END;
}
END_TEST

START_TEST(test_like)
{
    BEGIN;
    Tensor *base = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *tv = OK(tensor_transpose(base, 0, 1)); /* shape [3, 2], not contiguous */
    Tensor *z = OK(tensor_zeros_like(tv));
    Tensor *o = OK(tensor_ones_like(tv));
    Tensor *f = OK(tensor_full_like(tv, 0.5f));
    EXPECT_SHAPE(z, 3, 2);
    EXPECT_SHAPE(o, 3, 2);
    EXPECT_SHAPE(f, 3, 2);
    ck_assert(tensor_is_contiguous(z) && tensor_is_contiguous(o) && tensor_is_contiguous(f));
    EXPECT_VALUES(z, 0, 0, 0, 0, 0, 0, 0);
    EXPECT_VALUES(o, 0, 1, 1, 1, 1, 1, 1);
    EXPECT_VALUES(f, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5);
    ck_assert_ptr_ne(z->storage, base->storage);
    Tensor *s = OK(tensor_ones_like(OK(tensor_scalar(2))));
    EXPECT_SCALAR(s);
    END;
}
END_TEST

START_TEST(test_creation_shape_errors)
{
    BEGIN;
    EXPECT_NULL_ERR(tensor_zeros(SHAPE(2, -3), 2), "tensor_zeros", "-3");
    EXPECT_NULL_ERR(tensor_empty(SHAPE(-1), 1), "tensor_empty", "-1");
    EXPECT_NULL_ERR(tensor_ones(SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), 9), "tensor_ones", "9");
    EXPECT_NULL_ERR(tensor_full(SHAPE(2), -1, 0.0f), "tensor_full", NULL);
    /* 2^40 * 2^40 elements overflow int64 sizes in bytes */
    EXPECT_NULL_ERR(tensor_zeros(SHAPE(INT64_C(1) << 40, INT64_C(1) << 40), 2),
                    "tensor_zeros", NULL);
    EXPECT_NULL_ERR(tensor_zeros_like(NULL), "tensor_zeros_like", NULL);
    EXPECT_NULL_ERR(tensor_clone(NULL), "tensor_clone", NULL);
    /* 8 dims is the maximum and works */
    Tensor *t = OK(tensor_ones(SHAPE(1, 2, 1, 2, 1, 2, 1, 2), 8));
    ck_assert_int_eq(tensor_numel(t), 16);
    END;
}
END_TEST

void add_creation_tests(Suite *s)
{
    GRADED(s, test_empty_shape_strides, 4);
    GRADED(s, test_zeros_ones_full, 3);
    GRADED(s, test_scalar_0d, 3);
    GRADED(s, test_empty_tensors, 2);
    GRADED(s, test_arange, 3);
    GRADED(s, test_arange_errors, 1);
    GRADED(s, test_linspace, 2);
    GRADED(s, test_from_data_copies, 3);
    GRADED(s, test_clone, 3);
    GRADED(s, test_like, 2);
    GRADED(s, test_creation_shape_errors, 2);
}
