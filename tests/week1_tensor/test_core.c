/*
 * test_core.c - the runtime under every tensor: the error slot, the counting
 * allocator, reference-counted objects and scopes, the seeded generator, threads.
 *
 * The object and scope tests use a tiny object type of their own (a StrataObject
 * header and a counter of destructions), so they test the scope machinery alone.
 */
#include "common.h"

#include <stdint.h>

/* ------------------------------------------------------------ a test object type --- */

typedef struct Probe {
    StrataObject base;
    int *destroyed; /* incremented by the destroy function */
} Probe;

static void probe_destroy(StrataObject *object)
{
    Probe *p = (Probe *)object;
    (*p->destroyed)++;
    strata_free(p);
}

static Probe *probe_new(int *counter)
{
    Probe *p = strata_malloc(sizeof *p);
    ck_assert_msg(p != NULL, "strata_malloc failed: %s", strata_last_error());
    p->destroyed = counter;
    strata_object_init(&p->base, probe_destroy);
    return p;
}

/* ---------------------------------------------------------------- the error slot --- */

START_TEST(test_error_slot)
{
    BEGIN;
    strata_clear_error();
    ck_assert_str_eq(strata_last_error(), "");
    strata_set_error("tensor_foo: bad value %d in %s", 42, "[2, 3]");
    ck_assert_str_eq(strata_last_error(), "tensor_foo: bad value 42 in [2, 3]");
    /* A NULL argument after a failure keeps the root cause. */
    strata_error_null("tensor_bar", "a");
    ck_assert_str_eq(strata_last_error(), "tensor_foo: bad value 42 in [2, 3]");
    /* With an empty slot it records its own message. */
    strata_clear_error();
    strata_error_null("tensor_bar", "weight");
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "tensor_bar"));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "weight"));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "NULL"));
    strata_not_implemented("tensor_baz", 1);
    ck_assert_str_eq(strata_last_error(), "tensor_baz: not implemented yet (week 1)");
    strata_clear_error();
    END;
}
END_TEST

/* ------------------------------------------------------- the counting allocator --- */

START_TEST(test_alloc_counts)
{
    BEGIN;
    StrataMemStats m0 = strata_mem_stats();
    char *p = strata_malloc(1000);
    ck_assert_ptr_nonnull(p);
    memset(p, 7, 1000); /* valgrind: the block really has 1000 bytes */
    StrataMemStats m1 = strata_mem_stats();
    ck_assert_uint_eq(m1.bytes_live, m0.bytes_live + 1000);
    ck_assert_uint_eq(m1.allocs, m0.allocs + 1);
    ck_assert_uint_ge(m1.bytes_peak, m1.bytes_live);
    strata_free(p);
    StrataMemStats m2 = strata_mem_stats();
    ck_assert_uint_eq(m2.bytes_live, m0.bytes_live);
    ck_assert_uint_eq(m2.frees, m0.frees + 1);
    strata_free(NULL); /* ignored */
    ck_assert_uint_eq(strata_mem_stats().frees, m0.frees + 1);

    /* calloc zero-fills. */
    int *z = strata_calloc(100, sizeof(int));
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(z[i], 0);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live + 100 * sizeof(int));

    /* realloc keeps the contents and the count follows the new size. */
    for (int i = 0; i < 100; i++)
        z[i] = i;
    int *g = strata_realloc(z, 300 * sizeof(int));
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(g[i], i);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live + 300 * sizeof(int));
    strata_free(g);

    /* realloc(NULL, n) allocates; malloc(0) gives distinct valid pointers. */
    void *r = strata_realloc(NULL, 16);
    ck_assert_ptr_nonnull(r);
    void *a = strata_malloc(0), *b = strata_malloc(0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    strata_free(a);
    strata_free(b);
    strata_free(r);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    END;
}
END_TEST

START_TEST(test_alloc_peak)
{
    BEGIN;
    strata_mem_reset_peak();
    StrataMemStats m0 = strata_mem_stats();
    ck_assert_uint_eq(m0.bytes_peak, m0.bytes_live);
    void *big = strata_malloc(4096);
    strata_free(big);
    void *small = strata_malloc(100);
    StrataMemStats m1 = strata_mem_stats();
    /* peak = start + 4096 (the big block), live = start + 100 */
    ck_assert_uint_eq(m1.bytes_peak, m0.bytes_live + 4096);
    ck_assert_uint_eq(m1.bytes_live, m0.bytes_live + 100);
    strata_mem_reset_peak();
    ck_assert_uint_eq(strata_mem_stats().bytes_peak, m0.bytes_live + 100);
    strata_free(small);
    END;
}
END_TEST

START_TEST(test_alloc_overflow)
{
    BEGIN;
    strata_clear_error();
    void *p = strata_calloc(SIZE_MAX / 2, 4);
    ck_assert_ptr_null(p);
    check_message_("strata_calloc(SIZE_MAX / 2, 4)", "strata_calloc", NULL);
    strata_clear_error();
    p = strata_malloc(SIZE_MAX - 8);
    ck_assert_ptr_null(p);
    check_message_("strata_malloc(SIZE_MAX - 8)", "strata_malloc", NULL);
    END;
}
END_TEST

/* ------------------------------------------------------------ objects and scopes --- */

START_TEST(test_object_refcount)
{
    BEGIN;
    /* Close the test's scope: with no scope open the caller owns the object. */
    scope_end(scope_);
    int destroyed = 0;
    Probe *p = probe_new(&destroyed);
    ck_assert_int_eq(p->base.refcount, 1);
    strata_object_retain(&p->base);
    ck_assert_int_eq(p->base.refcount, 2);
    strata_object_release(&p->base);
    ck_assert_int_eq(destroyed, 0);
    strata_object_release(&p->base);
    ck_assert_int_eq(destroyed, 1);
    strata_object_retain(NULL);
    strata_object_release(NULL);
    scope_ = scope_begin();
    END;
}
END_TEST

START_TEST(test_scope_collects)
{
    BEGIN;
    int destroyed = 0;
    size_t held = scope_depth_objects();
    Scope *s = scope_begin();
    probe_new(&destroyed);
    probe_new(&destroyed);
    probe_new(&destroyed);
    ck_assert_uint_eq(scope_depth_objects(), held + 3);
    ck_assert_int_eq(destroyed, 0);
    scope_end(s);
    ck_assert_int_eq(destroyed, 3);
    ck_assert_uint_eq(scope_depth_objects(), held);
    END;
}
END_TEST

START_TEST(test_scope_retained_survive)
{
    BEGIN;
    int destroyed = 0;
    Scope *s = scope_begin();
    Probe *keep = probe_new(&destroyed);
    probe_new(&destroyed);
    strata_object_retain(&keep->base);
    scope_end(s);
    ck_assert_int_eq(destroyed, 1); /* the other one */
    ck_assert_int_eq(keep->base.refcount, 1);
    /* Still usable, then released by its owner. */
    strata_object_release(&keep->base);
    ck_assert_int_eq(destroyed, 2);
    END;
}
END_TEST

START_TEST(test_scope_release_inside)
{
    BEGIN;
    int destroyed = 0;
    Scope *s = scope_begin();
    Probe *p = probe_new(&destroyed);
    probe_new(&destroyed);
    size_t held = scope_depth_objects();
    strata_object_release(&p->base); /* the scope's reference: destroyed right away */
    ck_assert_int_eq(destroyed, 1);
    ck_assert_uint_eq(scope_depth_objects(), held - 1);
    scope_end(s); /* must not release p again */
    ck_assert_int_eq(destroyed, 2);
    END;
}
END_TEST

START_TEST(test_scope_nested)
{
    BEGIN;
    int outer_d = 0, inner_d = 0;
    Scope *outer = scope_begin();
    probe_new(&outer_d);
    Scope *inner = scope_begin();
    probe_new(&inner_d);
    probe_new(&inner_d);
    scope_end(inner);
    ck_assert_int_eq(inner_d, 2);
    ck_assert_int_eq(outer_d, 0);
    scope_end(inner); /* already closed: ignored */
    ck_assert_int_eq(outer_d, 0);

    /* Ending an outer scope closes the inner ones left open. */
    Scope *inner2 = scope_begin();
    probe_new(&inner_d);
    scope_end(outer);
    ck_assert_int_eq(outer_d, 1);
    ck_assert_int_eq(inner_d, 3);
    scope_end(inner2); /* closed with its outer scope: ignored */
    scope_end(NULL);
    ck_assert_int_eq(inner_d, 3);
    END;
}
END_TEST

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

START_TEST(test_tensor_release_in_scope)
{
    BEGIN;
    StrataMemStats m0 = strata_mem_stats();
    Scope *s = scope_begin();
    Tensor *a = OK(tensor_zeros(SHAPE(64), 1));
    size_t held = scope_depth_objects();
    tensor_release(a); /* frees it now, and scope_end must not free it again */
    ck_assert_uint_eq(scope_depth_objects(), held - 1);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    scope_end(s);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    tensor_release(NULL);
    tensor_retain(NULL);
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

void add_core_tests(Suite *s)
{
    SOLVED(s, test_error_slot);
    SOLVED(s, test_alloc_counts);
    SOLVED(s, test_alloc_peak);
    SOLVED(s, test_alloc_overflow);
    SOLVED(s, test_object_refcount);
    SOLVED(s, test_scope_collects);
    SOLVED(s, test_scope_retained_survive);
    SOLVED(s, test_scope_release_inside);
    SOLVED(s, test_scope_nested);
    GRADED(s, test_scope_tensors, 4);
    SOLVED(s, test_tensor_release_in_scope);
    GRADED(s, test_view_keeps_storage, 3);
    GRADED(s, test_no_scope_caller_owns, 3);
    SOLVED(s, test_rng_same_seed);
    SOLVED(s, test_rng_uniform_stats);
    SOLVED(s, test_rng_normal_stats);
    SOLVED(s, test_randperm);
    GRADED(s, test_tensor_rand, 3);
    SOLVED(s, test_tensor_randn);
    SOLVED(s, test_tensor_bernoulli);
    SOLVED(s, test_threads);
}
