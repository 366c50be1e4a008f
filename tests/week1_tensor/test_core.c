/*
 * test_core.c - tensors and scopes together (a scope collects the tensors and views
 * made in it, a view keeps its storage, with no scope the caller owns every result),
 * and the random creation functions tensor_rand, tensor_randn and tensor_bernoulli.
 *
 * The runtime itself (the error slot, the counting allocator, objects and scopes, the
 * generator, threads) is given solved and tested by tests/runtime_tensor.
 */
#include "common.h"

#include <stdint.h>

/* ------------------------------------------------------------ tensors in scopes --- */

START_TEST(test_scope_tensors)
{
    BEGIN;
    StrataMemStats m0 = strata_mem_stats();
    Scope *s = scope_begin();
    Tensor *a = OK(tensor_zeros(SHAPE(16, 16), 2));
    Tensor *v = OK(tensor_transpose(a, 0, 1));
    Tensor *b = OK(tensor_add(a, v));
    Tensor *keep = OK(tensor_ones(SHAPE(8), 1));
    tensor_retain(keep);
    (void)b;
    ck_assert_uint_gt(strata_mem_stats().bytes_live, m0.bytes_live + 16 * 16 * 4);
    scope_end(s);
    /* keep survives with its values; everything else is gone */
    EXPECT_VALUES(keep, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    ck_assert_uint_gt(strata_mem_stats().bytes_live, m0.bytes_live);
    tensor_release(keep);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    END;
}
END_TEST

START_TEST(test_view_keeps_storage)
{
    BEGIN;
    scope_end(scope_); /* no scope: this test owns every reference itself */
    StrataMemStats m0 = strata_mem_stats();
    Tensor *base = OK(tensor_from_data(DATA(1, 2, 3, 4, 5, 6), SHAPE(2, 3), 2));
    Tensor *view = OK(tensor_transpose(base, 0, 1));
    tensor_release(base);
    /* The view holds the storage: still readable, transposed. */
    EXPECT_VALUES(view, 0, 1, 4, 2, 5, 3, 6);
    tensor_release(view);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    scope_ = scope_begin();
    END;
}
END_TEST

START_TEST(test_no_scope_caller_owns)
{
    BEGIN;
    scope_end(scope_);
    StrataMemStats m0 = strata_mem_stats();
    Tensor *a = OK(tensor_ones(SHAPE(3, 4), 2));
    Tensor *b = OK(tensor_mul_scalar(a, 2.0f));
    Tensor *c = OK(tensor_sum(b, NULL, 0, false));
    ck_assert_close(tensor_item(c), 24.0, 1e-5); /* 12 elements * 2 */
    ck_assert_int_eq(a->base.refcount, 1);
    tensor_release(c);
    tensor_release(b);
    tensor_release(a);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    scope_ = scope_begin();
    END;
}
END_TEST

/* ---------------------------------------------------------- random creation --- */

START_TEST(test_tensor_rand)
{
    BEGIN;
    strata_manual_seed(7);
    Tensor *a = OK(tensor_rand(SHAPE(40, 50), 2));
    strata_manual_seed(7);
    Tensor *b = OK(tensor_rand(SHAPE(40, 50), 2));
    Tensor *c = OK(tensor_rand(SHAPE(40, 50), 2)); /* the stream continues: different */
    EXPECT_SHAPE(a, 40, 50);
    ck_assert(tensor_is_contiguous(a));
    double sum = 0, sq = 0;
    int same_c = 0;
    for (int64_t k = 0; k < 2000; k++) {
        float x = a->data[k];
        ck_assert_msg(x >= 0.0f && x < 1.0f, "rand value %g outside [0, 1)", (double)x);
        ck_assert(x == b->data[k]);
        same_c += x == c->data[k];
        sum += x;
        sq += (double)x * x;
    }
    ck_assert_int_lt(same_c, 20);
    double mean = sum / 2000, var = sq / 2000 - mean * mean;
    ck_assert_close(mean, 0.5, 0.04);     /* sd of the mean 0.0065 */
    ck_assert_close(var, 1.0 / 12, 0.015);
    END;
}
END_TEST

START_TEST(test_tensor_randn)
{
    BEGIN;
    strata_manual_seed(11);
    Tensor *a = OK(tensor_randn(SHAPE(4000), 1));
    strata_manual_seed(11);
    Tensor *b = OK(tensor_randn(SHAPE(4000), 1));
    EXPECT_SHAPE(a, 4000);
    double sum = 0, sq = 0;
    for (int64_t k = 0; k < 4000; k++) {
        ck_assert(a->data[k] == b->data[k]);
        ck_assert(isfinite(a->data[k]));
        sum += a->data[k];
        sq += (double)a->data[k] * a->data[k];
    }
    double mean = sum / 4000, var = sq / 4000 - mean * mean;
    ck_assert_close(mean, 0.0, 0.08);   /* sd of the mean 0.016 */
    ck_assert_close(var, 1.0, 0.12);    /* sd of the variance 0.022 */
    /* 0-d and empty shapes work too */
    Tensor *s = OK(tensor_randn(SHAPE(3), 0));
    EXPECT_SCALAR(s);
    Tensor *e = OK(tensor_rand(SHAPE(0, 3), 2));
    EXPECT_SHAPE(e, 0, 3);
    END;
}
END_TEST

START_TEST(test_tensor_bernoulli)
{
    BEGIN;
    strata_manual_seed(3);
    Tensor *a = OK(tensor_bernoulli(SHAPE(100, 100), 2, 0.3f));
    EXPECT_SHAPE(a, 100, 100);
    int ones = 0;
    for (int64_t k = 0; k < 10000; k++) {
        ck_assert_msg(a->data[k] == 0.0f || a->data[k] == 1.0f, "bernoulli gave %g",
                      (double)a->data[k]);
        ones += a->data[k] == 1.0f;
    }
    ck_assert_int_gt(ones, 2700); /* 3000 +- 46 (sd) */
    ck_assert_int_lt(ones, 3300);
    Tensor *zero = OK(tensor_bernoulli(SHAPE(500), 1, 0.0f));
    Tensor *one = OK(tensor_bernoulli(SHAPE(500), 1, 1.0f));
    for (int64_t k = 0; k < 500; k++) {
        ck_assert(zero->data[k] == 0.0f);
        ck_assert(one->data[k] == 1.0f);
    }
    EXPECT_NULL_ERR(tensor_bernoulli(SHAPE(3), 1, 1.5f), "tensor_bernoulli", NULL);
    EXPECT_NULL_ERR(tensor_bernoulli(SHAPE(3), 1, -0.5f), "tensor_bernoulli", NULL);
    END;
}
END_TEST

void add_core_tests(Suite *s)
{
    GRADED(s, test_scope_tensors, 4);
    GRADED(s, test_view_keeps_storage, 3);
    GRADED(s, test_no_scope_caller_owns, 3);
    GRADED(s, test_tensor_rand, 3);
    GRADED(s, test_tensor_randn, 2);
    GRADED(s, test_tensor_bernoulli, 2);
}
