/*
 * test_reduce.c - sum, mean, var, std, logsumexp, max/min (with indices), argmax/argmin,
 * softmax, log_softmax. Expected values by hand or from naive loops in double.
 */
#include "common.h"

START_TEST(test_sum_all_and_dims)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *all = OK(tensor_sum(t, NULL, 0, false));
    EXPECT_SCALAR(all);
    ck_assert_close(tensor_item(all), 21, 1e-6); /* 1+2+...+6 */
    Tensor *d0 = OK(tensor_sum(t, DIMS(0), 1, false));
    EXPECT_SHAPE(d0, 3);
    EXPECT_VALUES(d0, 1e-6, 5, 7, 9);
    Tensor *d1 = OK(tensor_sum(t, DIMS(1), 1, false));
    EXPECT_VALUES(d1, 1e-6, 6, 15);
    Tensor *neg = OK(tensor_sum(t, DIMS(-1), 1, true));
    EXPECT_SHAPE(neg, 2, 1);
    EXPECT_VALUES(neg, 1e-6, 6, 15);
    Tensor *k0 = OK(tensor_sum(t, DIMS(0), 1, true));
    EXPECT_SHAPE(k0, 1, 3);
    Tensor *both = OK(tensor_sum(t, DIMS(1, 0), 2, true));
    EXPECT_SHAPE(both, 1, 1);
    ck_assert_close(both->data[0], 21, 1e-6);
    Tensor *allk = OK(tensor_sum(t, NULL, 0, true));
    EXPECT_SHAPE(allk, 1, 1);
    END;
}
END_TEST

/* Reduce dims {0, 2} of a [3, 4, 5] tensor, and of its permuted view, vs a naive loop. */
START_TEST(test_sum_multi_dims_naive)
{
    BEGIN;
    Tensor *t = PATTERN(21, 3, 4, 5);
    Tensor *s = OK(tensor_sum(t, DIMS(0, 2), 2, false));
    EXPECT_SHAPE(s, 4);
    float want[4];
    for (int j = 0; j < 4; j++) {
        double acc = 0;
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 5; k++)
                acc += AT(t, i, j, k);
        want[j] = (float)acc;
    }
    EXPECT_ARRAY(s, want, 4, 1e-5);
    /* p = t.permute(2, 0, 1): [5, 3, 4]; sum over dims {0, 1} is the same vector */
    Tensor *p = OK(tensor_permute(t, DIMS(2, 0, 1)));
    Tensor *ps = OK(tensor_sum(p, DIMS(-3, 1), 2, true));
    EXPECT_SHAPE(ps, 1, 1, 4);
    EXPECT_ARRAY(ps, want, 4, 1e-5);
    /* a stepped slice: columns 0, 2, 4 of t[1] */
    Tensor *sl = OK(tensor_slice(OK(tensor_select(t, 0, 1)), 1, 0, 5, 2)); /* [4, 3] */
    Tensor *ss = OK(tensor_sum(sl, DIMS(1), 1, false));
    for (int j = 0; j < 4; j++)
        want[j] = AT(t, 1, j, 0) + AT(t, 1, j, 2) + AT(t, 1, j, 4);
    EXPECT_ARRAY(ss, want, 4, 1e-5);
    END;
}
END_TEST

/*
 * Sums accumulate in double (or pairwise): 2^24 followed by 1000 ones is 16778216,
 * which float32 holds exactly; a float accumulator gets stuck at 16777216 because
 * 2^24 + 1 rounds back to 2^24.
 */
START_TEST(test_sum_accuracy)
{
    BEGIN;
    float *buf = malloc(sizeof(float) * 1001);
    buf[0] = 16777216.0f;
    for (int k = 1; k <= 1000; k++)
        buf[k] = 1.0f;
    Tensor *t = OK(tensor_from_data(buf, SHAPE(1001), 1));
    free(buf);
    ck_assert_close(tensor_item(OK(tensor_sum(t, NULL, 0, false))), 16778216.0, 0);
    /* mean of 1e5 copies of 0.1 is 0.1 to float precision */
    Tensor *f = OK(tensor_full(SHAPE(100000), 1, 0.1f));
    ck_assert_close(tensor_item(OK(tensor_mean(f, NULL, 0, false))), 0.1f, 5e-8);
    END;
}
END_TEST

START_TEST(test_sum_empty_and_0d)
{
    BEGIN;
    /* torch: the sum of no elements is 0, along a dim too */
    Tensor *e = OK(tensor_zeros(SHAPE(0, 3), 2));
    ck_assert_close(tensor_item(OK(tensor_sum(e, NULL, 0, false))), 0, 0);
    Tensor *s0 = OK(tensor_sum(e, DIMS(0), 1, false));
    EXPECT_SHAPE(s0, 3);
    EXPECT_VALUES(s0, 0, 0, 0, 0);
    /* mean of nothing is NaN (0/0) */
    ck_assert(isnan(tensor_item(OK(tensor_mean(e, NULL, 0, false)))));
    /* a 0-d tensor reduces to itself; dim 0 and -1 are accepted */
    Tensor *s = OK(tensor_scalar(2.5f));
    ck_assert_close(tensor_item(OK(tensor_sum(s, NULL, 0, false))), 2.5, 0);
    Tensor *sd = OK(tensor_sum(s, DIMS(0), 1, false));
    EXPECT_SCALAR(sd);
    ck_assert_close(tensor_item(sd), 2.5, 0);
    END;
}
END_TEST

START_TEST(test_mean)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    ck_assert_close(tensor_item(OK(tensor_mean(t, NULL, 0, false))), 3.5, 1e-6);
    EXPECT_VALUES(OK(tensor_mean(t, DIMS(0), 1, false)), 1e-6, 2.5, 3.5, 4.5);
    Tensor *m1 = OK(tensor_mean(t, DIMS(-1), 1, true));
    EXPECT_SHAPE(m1, 2, 1);
    EXPECT_VALUES(m1, 1e-6, 2, 5);
    /* of the transpose: same numbers, other layout */
    EXPECT_VALUES(OK(tensor_mean(OK(tensor_transpose(t, 0, 1)), DIMS(1), 1, false)), 1e-6,
                  2.5, 3.5, 4.5);
    END;
}
END_TEST

/*
 * Rows [1, 2, 3, 4] and [2, 4, 6, 8]: means 2.5 and 5; squared deviations sum to
 * 2.25 + 0.25 + 0.25 + 2.25 = 5 and 20. Unbiased var 5/3, 20/3; biased 5/4, 20/4.
 */
START_TEST(test_var_std)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 2, 4, 6, 8), 2, 4);
    EXPECT_VALUES(OK(tensor_var(t, DIMS(1), 1, true, false)), 1e-6, 5.0 / 3, 20.0 / 3);
    EXPECT_VALUES(OK(tensor_var(t, DIMS(1), 1, false, false)), 1e-6, 1.25, 5);
    Tensor *sd = OK(tensor_std(t, DIMS(-1), 1, true, true));
    EXPECT_SHAPE(sd, 2, 1);
    EXPECT_VALUES(sd, 1e-6, sqrt(5.0 / 3), sqrt(20.0 / 3));
    EXPECT_VALUES(OK(tensor_std(t, DIMS(1), 1, false, false)), 1e-6, sqrt(1.25), sqrt(5.0));
    /* all 8 values: mean 3.75, sum of squared deviations 150 - 8 * 3.75^2 = 37.5; /7 and /8 */
    ck_assert_close(tensor_item(OK(tensor_var(t, NULL, 0, true, false))), 37.5 / 7, 1e-5);
    ck_assert_close(tensor_item(OK(tensor_var(t, NULL, 0, false, false))), 37.5 / 8, 1e-5);
    /* along dim 0: columns (1,2) (2,4) (3,6) (4,8): unbiased var = (b-a)^2 / 2 */
    EXPECT_VALUES(OK(tensor_var(t, DIMS(0), 1, true, false)), 1e-6, 0.5, 2, 4.5, 8);
    END;
}
END_TEST

/* A large common offset must not cost the variance its digits (two-pass or Welford). */
START_TEST(test_var_large_offset)
{
    BEGIN;
    /* 10000 + [1, 2, 3, 4]: the variance is still 5/3 */
    Tensor *t = MK(DATA(10001, 10002, 10003, 10004), 4);
    ck_assert_close(tensor_item(OK(tensor_var(t, NULL, 0, true, false))), 5.0 / 3, 1e-3);
    /* one element: unbiased variance divides 0 by 0 (NaN, as torch) */
    ck_assert(isnan(tensor_item(OK(tensor_var(MK(DATA(3), 1), NULL, 0, true, false)))));
    ck_assert_close(tensor_item(OK(tensor_var(MK(DATA(3), 1), NULL, 0, false, false))), 0, 0);
    END;
}
END_TEST

START_TEST(test_logsumexp)
{
    BEGIN;
    /* log(e^1 + e^2 + e^3) = 3 + log(1 + e^-1 + e^-2) = 3.40760596 */
    Tensor *t = MK(DATA(1, 2, 3), 3);
    ck_assert_close(tensor_item(OK(tensor_logsumexp(t, NULL, 0, false))), 3.40760596, 1e-5);
    /* huge values: log(2 e^1000) = 1000 + log 2 = 1000.693147; naive exp overflows */
    Tensor *big = MK(DATA(1000, 1000, -1000, -1000), 2, 2);
    Tensor *l = OK(tensor_logsumexp(big, DIMS(1), 1, false));
    EXPECT_VALUES(l, 1e-6, 1000.693147, -999.306853);
    Tensor *lk = OK(tensor_logsumexp(big, DIMS(0), 1, true));
    EXPECT_SHAPE(lk, 1, 2);
    /* log(e^1000 + e^-1000) = 1000 */
    EXPECT_VALUES(lk, 1e-6, 1000, 1000);
    END;
}
END_TEST

START_TEST(test_max_min_dim)
{
    BEGIN;
    Tensor *t = MK(DATA(3, 7, 7, 1, -2, 5, 0, 5), 2, 4);
    Tensor *idx = NULL;
    Tensor *m = OK(tensor_max(t, 1, false, &idx));
    EXPECT_SHAPE(m, 2);
    EXPECT_VALUES(m, 0, 7, 5);
    ck_assert_ptr_nonnull(idx);
    EXPECT_SHAPE(idx, 2);
    EXPECT_VALUES(idx, 0, 1, 1); /* first index on ties */
    Tensor *mi = NULL;
    Tensor *n = OK(tensor_min(t, -1, true, &mi));
    EXPECT_SHAPE(n, 2, 1);
    EXPECT_VALUES(n, 0, 1, -2);
    EXPECT_SHAPE(mi, 2, 1);
    EXPECT_VALUES(mi, 0, 3, 0);
    /* along dim 0 with no indices wanted */
    EXPECT_VALUES(OK(tensor_max(t, 0, false, NULL)), 0, 3, 7, 7, 5);
    EXPECT_VALUES(OK(tensor_min(t, 0, false, NULL)), 0, -2, 5, 0, 1);
    /* on a transposed view: t^T is [4, 2]; max over dim 0 = max of t over dim 1 */
    Tensor *ti = NULL;
    EXPECT_VALUES(OK(tensor_max(OK(tensor_transpose(t, 0, 1)), 0, false, &ti)), 0, 7, 5);
    EXPECT_VALUES(ti, 0, 1, 1);
    END;
}
END_TEST

START_TEST(test_max_nan)
{
    BEGIN;
    Tensor *t = MK(DATA(1, NAN, 3, 4, 5, 6), 2, 3);
    Tensor *idx = NULL;
    Tensor *m = OK(tensor_max(t, 1, false, &idx));
    ck_assert(isnan(m->data[0]));
    ck_assert_close(m->data[1], 6, 0);
    EXPECT_VALUES(idx, 0, 1, 2);
    ck_assert(isnan(tensor_item(OK(tensor_max_all(t)))));
    ck_assert(isnan(tensor_item(OK(tensor_min_all(t)))));
    ck_assert(isnan(OK(tensor_min(t, 1, false, NULL))->data[0]));
    END;
}
END_TEST

START_TEST(test_max_all_argmax)
{
    BEGIN;
    Tensor *t = MK(DATA(3, -1, 8, 8, 0, -5), 2, 3);
    Tensor *mx = OK(tensor_max_all(t));
    EXPECT_SCALAR(mx);
    ck_assert_close(tensor_item(mx), 8, 0);
    ck_assert_close(tensor_item(OK(tensor_min_all(t))), -5, 0);
    Tensor *am = OK(tensor_argmax(t, 1, false));
    EXPECT_SHAPE(am, 2);
    EXPECT_VALUES(am, 0, 2, 0);
    EXPECT_VALUES(OK(tensor_argmin(t, 1, false)), 0, 1, 2);
    Tensor *a0 = OK(tensor_argmax(t, 0, true));
    EXPECT_SHAPE(a0, 1, 3);
    EXPECT_VALUES(a0, 0, 1, 1, 0); /* columns (3, 8) (-1, 0) (8, -5) */
    EXPECT_VALUES(OK(tensor_argmin(t, -2, false)), 0, 0, 0, 1);
    END;
}
END_TEST

static void check_softmax_rows(const Tensor *x, const Tensor *y, bool log_space)
{
    /* rows along the last dim of a 2-D x, reference in double */
    for (int64_t i = 0; i < x->shape[0]; i++) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < x->shape[1]; j++)
            mx = fmax(mx, AT(x, i, j));
        double z = 0;
        for (int64_t j = 0; j < x->shape[1]; j++)
            z += exp(AT(x, i, j) - mx);
        for (int64_t j = 0; j < x->shape[1]; j++) {
            double want = log_space ? AT(x, i, j) - mx - log(z) : exp(AT(x, i, j) - mx) / z;
            double got = AT(y, i, j);
            ck_assert_msg(close_to(got, want, 1e-5), "%s row %lld col %lld: %.9g vs %.9g",
                          log_space ? "log_softmax" : "softmax", (long long)i,
                          (long long)j, got, want);
        }
    }
}

START_TEST(test_softmax)
{
    BEGIN;
    /* softmax([1, 2, 3]) = e^(x-3) / (e^-2 + e^-1 + 1) = 0.09003057, 0.24472847, 0.66524096 */
    Tensor *x = MK(DATA(1, 2, 3), 3);
    EXPECT_VALUES(OK(tensor_softmax(x, 0)), 1e-6, 0.09003057, 0.24472847, 0.66524096);
    Tensor *m = PATTERN(31, 4, 6);
    Tensor *sm = OK(tensor_softmax(m, -1));
    EXPECT_SHAPE(sm, 4, 6);
    check_softmax_rows(m, sm, false);
    /* along dim 0 = along dim 1 of the transpose */
    Tensor *s0 = OK(tensor_softmax(OK(tensor_transpose(m, 0, 1)), 0)); /* [6, 4] */
    check_softmax_rows(m, OK(tensor_transpose(s0, 0, 1)), false);
    END;
}
END_TEST

START_TEST(test_softmax_stable)
{
    BEGIN;
    /* e^1000 overflows float and double: only x - max keeps it finite */
    Tensor *x = MK(DATA(1000, 1001, 1002, -1000, -1001, -1002), 2, 3);
    Tensor *s = OK(tensor_softmax(x, 1));
    EXPECT_VALUES(s, 1e-6, 0.09003057, 0.24472847, 0.66524096, 0.66524096, 0.24472847,
                  0.09003057);
    Tensor *l = OK(tensor_log_softmax(x, 1));
    /* log_softmax([0, 1, 2]) = x - 2 - log(1 + e^-1 + e^-2) = x - 2.40760596 */
    EXPECT_VALUES(l, 1e-5, -2.40760596, -1.40760596, -0.40760596, -0.40760596, -1.40760596,
                  -2.40760596);
    /* a very negative entry: log_softmax stays finite where log(softmax) is -inf */
    Tensor *y = MK(DATA(0, -200), 2);
    Tensor *ly = OK(tensor_log_softmax(y, 0));
    ck_assert(isfinite(ly->data[1]));
    ck_assert_close(ly->data[1], -200, 1e-4);
    END;
}
END_TEST

START_TEST(test_log_softmax)
{
    BEGIN;
    Tensor *m = PATTERN(41, 3, 7);
    Tensor *l = OK(tensor_log_softmax(m, 1));
    EXPECT_SHAPE(l, 3, 7);
    check_softmax_rows(m, l, true);
    /* 3-D along the middle dim, vs naive */
    Tensor *c = PATTERN(42, 2, 3, 2);
    Tensor *lc = OK(tensor_log_softmax(c, 1));
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++) {
            double z = 0;
            for (int j = 0; j < 3; j++)
                z += exp(AT(c, i, j, k));
            for (int j = 0; j < 3; j++)
                ck_assert_close(AT(lc, i, j, k), AT(c, i, j, k) - log(z), 1e-5);
        }
    END;
}
END_TEST

START_TEST(test_reduce_errors)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(2, 3), 2));
    EXPECT_NULL_ERR(tensor_sum(t, DIMS(2), 1, false), "tensor_sum", "2");
    EXPECT_NULL_ERR(tensor_sum(t, DIMS(0, 0), 2, false), "tensor_sum", NULL);
    EXPECT_NULL_ERR(tensor_sum(t, DIMS(1, -1), 2, false), "tensor_sum", NULL);
    EXPECT_NULL_ERR(tensor_mean(t, DIMS(-3), 1, false), "tensor_mean", "-3");
    EXPECT_NULL_ERR(tensor_var(t, DIMS(5), 1, true, false), "tensor_var", "5");
    EXPECT_NULL_ERR(tensor_max(t, 2, false, NULL), "tensor_max", "2");
    EXPECT_NULL_ERR(tensor_argmin(t, -3, false), "tensor_argmin", "-3");
    EXPECT_NULL_ERR(tensor_softmax(t, 2), "tensor_softmax", "2");
    EXPECT_NULL_ERR(tensor_log_softmax(t, -3), "tensor_log_softmax", "-3");
    EXPECT_NULL_ERR(tensor_logsumexp(t, DIMS(4), 1, false), "tensor_logsumexp", "4");
    /* max over an empty dim has no answer */
    Tensor *e = OK(tensor_zeros(SHAPE(0, 3), 2));
    EXPECT_NULL_ERR(tensor_max(e, 0, false, NULL), "tensor_max", NULL);
    EXPECT_NULL_ERR(tensor_max_all(e), "tensor_max_all", NULL);
    END;
}
END_TEST

void add_reduce_tests(Suite *s)
{
    GRADED(s, test_sum_all_and_dims, 5);
    GRADED(s, test_sum_multi_dims_naive, 4);
    GRADED(s, test_sum_accuracy, 2);
    GRADED(s, test_sum_empty_and_0d, 2);
    GRADED(s, test_mean, 3);
    GRADED(s, test_var_std, 3);
    GRADED(s, test_var_large_offset, 1);
    GRADED(s, test_logsumexp, 3);
    GRADED(s, test_max_min_dim, 4);
    GRADED(s, test_max_nan, 2);
    GRADED(s, test_max_all_argmax, 3);
    GRADED(s, test_softmax, 4);
    GRADED(s, test_softmax_stable, 4);
    GRADED(s, test_log_softmax, 3);
    GRADED(s, test_reduce_errors, 3);
}
