/*
 * test_errors_alloc.c - the error slot (tensor/core.c) and the counting allocator (tensor/alloc.c).
 */
#include "runtime.h"

/* ---------------------------------------------------------------- the error slot --- */

START_TEST(test_error_slot)
{
    BEGIN;
    strata_clear_error();
    ck_assert_str_eq(strata_last_error(), "");
    ck_assert(!strata_error_pending());
    strata_set_error("tensor_foo: bad value %d in %s", 42, "[2, 3]");
    ck_assert(strata_error_pending());
    /* A NULL argument after an unread failure keeps the root cause. */
    strata_error_null("tensor_bar", "a");
    ck_assert(strata_error_pending());
    ck_assert_str_eq(strata_last_error(), "tensor_foo: bad value 42 in [2, 3]");
    /* Read, the message is handled: a later NULL is a new failure, reported as such
     * (not as the unrelated failure before it). */
    ck_assert(!strata_error_pending());
    strata_error_null("tensor_bar", "b");
    ck_assert_str_eq(strata_last_error(), "tensor_bar: argument 'b' is NULL");
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

void add_error_alloc_tests(Suite *s)
{
    GRADED(s, test_error_slot, 1);
    GRADED(s, test_alloc_counts, 1);
    GRADED(s, test_alloc_peak, 1);
    GRADED(s, test_alloc_overflow, 1);
}
