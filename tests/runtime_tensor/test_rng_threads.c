/*
 * test_rng_threads.c - the seeded generator, the thread count and parallel loops
 * (tensor/core.c).
 */
#include "runtime.h"

/* ------------------------------------------------------------- random generator --- */

START_TEST(test_rng_same_seed)
{
    BEGIN;
    uint32_t first[16], again[16], other[16];
    strata_manual_seed(42);
    for (int i = 0; i < 16; i++)
        first[i] = strata_rng_u32();
    strata_manual_seed(42);
    for (int i = 0; i < 16; i++)
        again[i] = strata_rng_u32();
    strata_manual_seed(43);
    for (int i = 0; i < 16; i++)
        other[i] = strata_rng_u32();
    int differ = 0;
    for (int i = 0; i < 16; i++) {
        ck_assert_uint_eq(first[i], again[i]);
        differ += first[i] != other[i];
    }
    ck_assert_int_gt(differ, 8);

    /* get/set state replays uniform and normal draws */
    uint64_t state = strata_rng_get_state();
    double u = strata_rng_uniform(), n = strata_rng_normal();
    strata_rng_set_state(state);
    ck_assert(strata_rng_uniform() == u);
    ck_assert(strata_rng_normal() == n);
    END;
}
END_TEST

START_TEST(test_rng_uniform_stats)
{
    BEGIN;
    strata_manual_seed(1);
    const int n = 100000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        double u = strata_rng_uniform();
        ck_assert_msg(u >= 0.0 && u < 1.0, "uniform draw %g outside [0, 1)", u);
        sum += u;
        sq += u * u;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* U(0,1): mean 1/2, variance 1/12 = 0.0833; sd of the mean ~ 0.001 */
    ck_assert_close(mean, 0.5, 0.01);
    ck_assert_close(var, 1.0 / 12.0, 0.005);
    END;
}
END_TEST

START_TEST(test_rng_normal_stats)
{
    BEGIN;
    strata_manual_seed(2);
    const int n = 100000;
    double sum = 0, sq = 0;
    int beyond3 = 0;
    for (int i = 0; i < n; i++) {
        double x = strata_rng_normal();
        ck_assert(isfinite(x));
        sum += x;
        sq += x * x;
        beyond3 += fabs(x) > 3.0;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* N(0,1): sd of the mean ~ 0.003, of the variance ~ 0.0045; P(|x|>3) = 0.0027 */
    ck_assert_close(mean, 0.0, 0.02);
    ck_assert_close(var, 1.0, 0.03);
    ck_assert_int_lt(beyond3, 600);
    ck_assert_int_gt(beyond3, 100);
    END;
}
END_TEST

START_TEST(test_randperm)
{
    BEGIN;
    int64_t perm[50], again[50];
    strata_manual_seed(5);
    strata_randperm(perm, 50);
    strata_manual_seed(5);
    strata_randperm(again, 50);
    int seen[50] = {0}, moved = 0;
    for (int i = 0; i < 50; i++) {
        ck_assert(perm[i] >= 0 && perm[i] < 50);
        seen[perm[i]]++;
        moved += perm[i] != i;
        ck_assert_int_eq(perm[i], again[i]);
    }
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 25);
    int64_t one = 99;
    strata_randperm(&one, 1);
    ck_assert_int_eq(one, 0);
    strata_randperm(NULL, 0);
    END;
}
END_TEST

START_TEST(test_threads)
{
    BEGIN;
    strata_set_num_threads(2);
    ck_assert_int_eq(strata_get_num_threads(), 2);
    strata_set_num_threads(0);
    ck_assert_int_eq(strata_get_num_threads(), 1);
    strata_set_num_threads(-3);
    ck_assert_int_eq(strata_get_num_threads(), 1);
    END;
}
END_TEST

/* What each range of a parallel loop saw: its bounds, and a mark on every item. */
typedef struct {
    int64_t begin[STRATA_MAX_THREADS], end[STRATA_MAX_THREADS];
    int calls[STRATA_MAX_THREADS];
    int *seen; /* per item: how many ranges handled it */
    int inner_threads[STRATA_MAX_THREADS];
} RangeLog;

static void log_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    RangeLog *log = ctx;
    log->begin[thread] = begin;
    log->end[thread] = end;
    log->calls[thread]++;
    for (int64_t i = begin; i < end; i++)
        log->seen[i]++;
    /* a loop inside a range runs on this thread alone */
    log->inner_threads[thread] = strata_parallel_threads(1 << 20, 1);
}

/*
 * strata_parallel_for: every item exactly once, ranges [n*i/t, n*(i+1)/t) by the
 * thread count and the grain alone, nested loops serial, empty loops harmless.
 */
START_TEST(test_parallel_for)
{
    BEGIN;
    int before = strata_get_num_threads();
    const int64_t n = 1001;
    int seen[1001];
    for (int threads = 1; threads <= 3; threads++) {
        strata_set_num_threads(threads);
        RangeLog log = {{0}, {0}, {0}, seen, {0}};
        memset(seen, 0, sizeof seen);
        int t = strata_parallel_threads(n, 1);
#ifdef _OPENMP
        ck_assert_int_eq(t, threads);
#else
        ck_assert_int_eq(t, 1); /* a serial build (OPENMP=) runs every loop as one range */
#endif
        strata_parallel_for(n, 1, log_range, &log);
        for (int64_t i = 0; i < n; i++)
            ck_assert_msg(seen[i] == 1, "%d threads: item %lld handled %d times", threads,
                          (long long)i, seen[i]);
        for (int r = 0; r < t; r++) {
            ck_assert_int_eq(log.calls[r], 1);
            ck_assert_int_eq(log.begin[r], n * r / t);
            ck_assert_int_eq(log.end[r], n * (r + 1) / t);
            ck_assert_int_eq(log.inner_threads[r], 1);
        }
    }
    /* the grain caps the ranges: 1001 items at >= 600 each make one range */
    strata_set_num_threads(3);
    ck_assert_int_eq(strata_parallel_threads(n, 600), 1);
#ifdef _OPENMP
    ck_assert_int_eq(strata_parallel_threads(n, 400), 2);
#endif
    ck_assert_int_eq(strata_parallel_threads(0, 1), 1);
    RangeLog none = {{0}, {0}, {0}, seen, {0}};
    strata_parallel_for(0, 1, log_range, &none);
    ck_assert_int_eq(none.calls[0], 0);
    strata_clear_error();
    strata_parallel_for(5, 1, NULL, NULL); /* an error, not a crash */
    ck_assert_msg(strstr(strata_last_error(), "strata_parallel_for") != NULL,
                  "a NULL body should be reported, got \"%s\"", strata_last_error());
    strata_set_num_threads(before);
    END;
}
END_TEST

void add_rng_thread_tests(Suite *s)
{
    GRADED(s, test_rng_same_seed, 1);
    GRADED(s, test_rng_uniform_stats, 1);
    GRADED(s, test_rng_normal_stats, 1);
    GRADED(s, test_randperm, 1);
    GRADED(s, test_threads, 1);
    GRADED(s, test_parallel_for, 1);
}
