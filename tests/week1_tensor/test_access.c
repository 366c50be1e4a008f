/*
 * test_access.c - numel, size, is_contiguous, same_shape, item, get/set, to_array,
 * allclose, shape_str and broadcast_shape (NumPy's rules, as PyTorch documents them:
 * align on the right; two sizes agree when equal or when one of them is 1).
 */
#include "common.h"

START_TEST(test_numel_size)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(2, 3, 4), 3));
    ck_assert_int_eq(tensor_numel(t), 24);
    ck_assert_int_eq(tensor_size(t, 0), 2);
    ck_assert_int_eq(tensor_size(t, 2), 4);
    ck_assert_int_eq(tensor_size(t, -1), 4);
    ck_assert_int_eq(tensor_size(t, -3), 2);
    ck_assert_int_eq(tensor_numel(NULL), 0);
    ck_assert_int_eq(tensor_numel(OK(tensor_scalar(1))), 1);
    strata_clear_error();
    ck_assert_int_eq(tensor_size(t, 3), -1);
    check_message_("tensor_size(t, 3)", "tensor_size", "3");
    strata_clear_error();
    ck_assert_int_eq(tensor_size(t, -4), -1);
    check_message_("tensor_size(t, -4)", "tensor_size", "-4");
    END;
}
END_TEST

START_TEST(test_is_contiguous)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(3, 4), 2));
    ck_assert(tensor_is_contiguous(t));
    ck_assert(!tensor_is_contiguous(OK(tensor_transpose(t, 0, 1))));
    /* columns 1..2 of each row: strides [4, 1] with shape [3, 2] leave gaps */
    ck_assert(!tensor_is_contiguous(OK(tensor_narrow(t, 1, 1, 2))));
    /* rows 1..2: one block, still contiguous */
    ck_assert(tensor_is_contiguous(OK(tensor_narrow(t, 0, 1, 2))));
    /* an expanded tensor (stride 0) is not contiguous */
    Tensor *row = OK(tensor_zeros(SHAPE(1, 4), 2));
    ck_assert(!tensor_is_contiguous(OK(tensor_expand(row, SHAPE(3, 4), 2))));
    ck_assert(tensor_is_contiguous(OK(tensor_scalar(2))));
    END;
}
END_TEST

/* PyTorch ignores the strides of size-1 dims (and of empty tensors) for contiguity. */
START_TEST(test_is_contiguous_size_one_dims)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(3, 1), 2));
    Tensor *tt = OK(tensor_transpose(t, 0, 1)); /* [1, 3] with strides [1, 1] */
    ck_assert(tensor_is_contiguous(tt));
    Tensor *e = OK(tensor_zeros(SHAPE(0, 4), 2));
    ck_assert(tensor_is_contiguous(OK(tensor_transpose(e, 0, 1))));
    END;
}
END_TEST

START_TEST(test_same_shape)
{
    BEGIN;
    Tensor *a = OK(tensor_zeros(SHAPE(2, 3), 2));
    Tensor *b = OK(tensor_ones(SHAPE(2, 3), 2));
    Tensor *c = OK(tensor_ones(SHAPE(3, 2), 2));
    Tensor *d = OK(tensor_ones(SHAPE(2, 3, 1), 3));
    ck_assert(tensor_same_shape(a, b));
    ck_assert(!tensor_same_shape(a, c));
    ck_assert(!tensor_same_shape(a, d));
    ck_assert(tensor_same_shape(OK(tensor_transpose(c, 0, 1)), a));
    END;
}
END_TEST

START_TEST(test_item)
{
    BEGIN;
    ck_assert_close(tensor_item(OK(tensor_full(SHAPE(1, 1), 2, -4.25f))), -4.25, 0);
    ck_assert_close(tensor_item(OK(tensor_scalar(0.5f))), 0.5, 0);
    Tensor *two = OK(tensor_zeros(SHAPE(2), 1));
    EXPECT_NAN_ERR(tensor_item(two), "tensor_item", NULL);
    EXPECT_NAN_ERR(tensor_item(OK(tensor_zeros(SHAPE(0), 1))), "tensor_item", NULL);
    END;
}
END_TEST

START_TEST(test_get_set)
{
    BEGIN;
    Tensor *t = MK(DATA(0, 1, 2, 3, 4, 5), 2, 3);
    /* t[1][2] = 1*3 + 2 = element 5 */
    ck_assert_close(tensor_get(t, SHAPE(1, 2)), 5, 0);
    OK0(tensor_set(t, SHAPE(0, 1), 9.5f));
    ck_assert_close(t->data[1], 9.5, 0);
    /* through a transposed view: tv[2][1] is t[1][2] */
    Tensor *tv = OK(tensor_transpose(t, 0, 1));
    ck_assert_close(tensor_get(tv, SHAPE(2, 1)), 5, 0);
    OK0(tensor_set(tv, SHAPE(2, 0), -1.0f)); /* t[0][2] */
    ck_assert_close(t->data[2], -1, 0);
    EXPECT_NAN_ERR(tensor_get(t, SHAPE(2, 0)), "tensor_get", NULL);
    EXPECT_FAIL_ERR(tensor_set(t, SHAPE(0, 3), 1.0f), "tensor_set", NULL);
    /* a failed set changes nothing */
    EXPECT_VALUES(t, 0, 0, 9.5, -1, 3, 4, 5);
    /* 0-d: no index entries */
    Tensor *s = OK(tensor_scalar(7));
    ck_assert_close(tensor_get(s, SHAPE(0)), 7, 0);
    END;
}
END_TEST

START_TEST(test_to_array)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    float out[6];
    OK0(tensor_to_array(t, out));
    for (int k = 0; k < 6; k++)
        ck_assert_close(out[k], k + 1, 0);
    /* transposed [[1, 4], [2, 5], [3, 6]]: row-major order of the view */
    OK0(tensor_to_array(OK(tensor_transpose(t, 0, 1)), out));
    const float want[6] = {1, 4, 2, 5, 3, 6};
    for (int k = 0; k < 6; k++)
        ck_assert_close(out[k], want[k], 0);
    /* a stepped slice: columns 0 and 2 → [[1, 3], [4, 6]] */
    OK0(tensor_to_array(OK(tensor_slice(t, 1, 0, 3, 2)), out));
    ck_assert_close(out[0], 1, 0);
    ck_assert_close(out[1], 3, 0);
    ck_assert_close(out[2], 4, 0);
    ck_assert_close(out[3], 6, 0);
    EXPECT_FAIL_ERR(tensor_to_array(t, NULL), "tensor_to_array", NULL);
    END;
}
END_TEST

START_TEST(test_allclose)
{
    BEGIN;
    Tensor *a = MK(DATA(1, 2, 100), 3);
    Tensor *b = MK(DATA(1, 2.0001f, 100.05f), 3);
    /* |2 - 2.0001| = 1e-4 and |100 - 100.05| = 0.05 <= 1e-3 * 100.05 */
    ck_assert(tensor_allclose(a, b, 1e-3f, 0));
    ck_assert(!tensor_allclose(a, b, 1e-5f, 1e-5f));
    ck_assert(tensor_allclose(a, b, 0, 0.06f));
    Tensor *n = MK(DATA(1, NAN, 100), 3);
    ck_assert(!tensor_allclose(n, n, 1, 1)); /* NaNs differ */
    Tensor *c = MK(DATA(1, 2, 100), 1, 3);
    ck_assert(!tensor_allclose(a, c, 1, 1)); /* shapes must match */
    /* compares views elementwise */
    Tensor *m = MK(DATA(1, 2, 3, 4), 2, 2);
    Tensor *mt = MK(DATA(1, 3, 2, 4), 2, 2);
    ck_assert(tensor_allclose(OK(tensor_transpose(m, 0, 1)), mt, 0, 0));
    END;
}
END_TEST

START_TEST(test_shape_str)
{
    BEGIN;
    char buf[64];
    Tensor *t = OK(tensor_zeros(SHAPE(2, 3), 2));
    ck_assert_ptr_eq(tensor_shape_str(t, buf, sizeof buf), buf);
    ck_assert_str_eq(buf, "[2, 3]");
    tensor_shape_str(OK(tensor_zeros(SHAPE(7), 1)), buf, sizeof buf);
    ck_assert_str_eq(buf, "[7]");
    tensor_shape_str(OK(tensor_scalar(1)), buf, sizeof buf);
    ck_assert_str_eq(buf, "[]");
    /* a short buffer is truncated and still NUL-terminated */
    char small[4];
    memset(small, 'x', sizeof small);
    tensor_shape_str(t, small, sizeof small);
    ck_assert_int_lt((int)strlen(small), 4);
    END;
}
END_TEST

static void check_broadcast(const int64_t *a, int an, const int64_t *b, int bn,
                            const int64_t *want, int wn)
{
    int64_t out[TENSOR_MAX_DIMS];
    int out_n = -7;
    int rc = tensor_broadcast_shape(a, an, b, bn, out, &out_n);
    ck_assert_msg(rc == 0, "broadcast failed: %s", strata_last_error());
    ck_assert_int_eq(out_n, wn);
    for (int d = 0; d < wn; d++)
        ck_assert_int_eq(out[d], want[d]);
}

START_TEST(test_broadcast_shape)
{
    BEGIN;
    /* [3, 1] with [1, 4] -> [3, 4] */
    check_broadcast(SHAPE(3, 1), 2, SHAPE(1, 4), 2, SHAPE(3, 4), 2);
    /* [5, 3, 4] with [4] -> [5, 3, 4] (aligned on the right) */
    check_broadcast(SHAPE(5, 3, 4), 3, SHAPE(4), 1, SHAPE(5, 3, 4), 3);
    /* [4] with [5, 1, 1] -> [5, 1, 4] */
    check_broadcast(SHAPE(4), 1, SHAPE(5, 1, 1), 3, SHAPE(5, 1, 4), 3);
    /* 0-d with [2, 2] -> [2, 2]; 0-d with 0-d -> 0-d */
    check_broadcast(SHAPE(0), 0, SHAPE(2, 2), 2, SHAPE(2, 2), 2);
    check_broadcast(SHAPE(0), 0, SHAPE(0), 0, SHAPE(0), 0);
    /* size 0 broadcasts against 1 (to 0) */
    check_broadcast(SHAPE(2, 0), 2, SHAPE(2, 1), 2, SHAPE(2, 0), 2);
    int64_t out[TENSOR_MAX_DIMS];
    int out_n;
    EXPECT_FAIL_ERR(tensor_broadcast_shape(SHAPE(2, 3), 2, SHAPE(4, 3), 2, out, &out_n),
                    "broadcast", "[2, 3]");
    check_message_("broadcast [2, 3] [4, 3]", "broadcast", "[4, 3]");
    EXPECT_FAIL_ERR(tensor_broadcast_shape(SHAPE(3), 1, SHAPE(0), 1, out, &out_n),
                    "broadcast", NULL);
    END;
}
END_TEST

void add_access_tests(Suite *s)
{
    GRADED(s, test_numel_size, 2);
    GRADED(s, test_is_contiguous, 3);
    GRADED(s, test_is_contiguous_size_one_dims, 1);
    GRADED(s, test_same_shape, 1);
    GRADED(s, test_item, 1);
    GRADED(s, test_get_set, 3);
    GRADED(s, test_to_array, 3);
    GRADED(s, test_allclose, 2);
    GRADED(s, test_shape_str, 1);
    GRADED(s, test_broadcast_shape, 4);
}
