/*
 * strata_test.h - the helpers every suite shares: literals, a leak-checked scope per
 * test, "this must not fail" and "this must fail with that message" assertions,
 * temporary paths.
 *
 * Every suite's own header includes this one and adds what only that suite needs. It
 * uses tensor.h only, so the week-1 suite can include it as well as week 5's.
 *
 * A test is written
 *
 *     START_TEST(test_x)
 *     {
 *         BEGIN;
 *         ...
 *         END;
 *     }
 *     END_TEST
 *
 * BEGIN opens a scope and clears the error slot; END closes the scope and asserts that
 * the counting allocator is back where it was, so a leak costs the test. A suite whose
 * tests must all start from one seed defines TEST_BEGIN_SEED before including this.
 */
#ifndef STRATA_TEST_H
#define STRATA_TEST_H

#include "harness.h"
#include "tensor.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------- literals --- */

/* Compound literals for shapes, data and dim lists, and their lengths. */
#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define DATA(...) ((const float[]){__VA_ARGS__})
#define DIMS(...) ((const int[]){__VA_ARGS__})
#define COUNT_I64(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define COUNT_F(...) ((int64_t)(sizeof((float[]){__VA_ARGS__}) / sizeof(float)))

/* MK(DATA(1, 2, 3, 4), 2, 2): a tensor of shape [2, 2] holding 1 2 3 4. */
#define MK(data, ...) \
    OK(tensor_from_data((data), SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__)))

/* ------------------------------------------------------- one scope per test --- */

static inline void test_begin_(void)
{
#ifdef TEST_BEGIN_SEED
    strata_manual_seed(TEST_BEGIN_SEED);
#endif
    strata_clear_error();
}

#define BEGIN                                                   \
    StrataMemStats mem_start_ = strata_mem_stats();             \
    Scope *scope_ = scope_begin();                              \
    test_begin_()

#define END                                                                        \
    do {                                                                           \
        scope_end(scope_);                                                         \
        StrataMemStats mem_end_ = strata_mem_stats();                              \
        ck_assert_msg(mem_end_.bytes_live == mem_start_.bytes_live,               \
                      "%zu bytes were allocated in this test and are still live "   \
                      "after scope_end (%zu before, %zu after): something leaks",  \
                      mem_end_.bytes_live - mem_start_.bytes_live,                 \
                      mem_start_.bytes_live, mem_end_.bytes_live);                 \
    } while (0)

/* ------------------------------------------------------------- must succeed --- */

static inline const void *must_not_null_(const void *p, const char *what, const char *file,
                                         int line)
{
    if (!p)
        ck_abort_msg("%s:%d: %s returned NULL; error: \"%s\"", file, line, what,
                     strata_last_error());
    return p;
}

/* Fail the test (naming the call and the error message) if @p expr is NULL. */
#define OK(expr) ((Tensor *)must_not_null_((expr), #expr, __FILE__, __LINE__))
/* The same for a Var (suites of week 2 and above). */
#define OKV(expr) ((Var *)must_not_null_((expr), #expr, __FILE__, __LINE__))

/* Fail unless @p ptr is non-NULL, showing the error slot. */
#define ck_assert_ok(ptr) \
    ck_assert_msg((ptr) != NULL, "%s is NULL: %s", #ptr, strata_last_error())

/* Fail unless the int status @p expr is 0, showing the error slot. */
#define ck_assert_status(expr)                                                              \
    do {                                                                                    \
        int st_ = (int)(expr);                                                              \
        ck_assert_msg(st_ == 0, "%s returned %d: %s", #expr, st_, strata_last_error());     \
    } while (0)
#define OK0(expr) ck_assert_status(expr)

/* ---------------------------------------------------------------- must fail --- */

/* Assert the last error mentions @p needle. */
#define ck_assert_error(needle)                                                              \
    ck_assert_msg(strstr(strata_last_error(), (needle)) != NULL,                            \
                  "expected an error containing \"%s\", got \"%s\"", (needle),              \
                  strata_last_error())

/*
 * The error slot must hold a message that is not a stub's and that mentions @p a and
 * @p b (either may be NULL: no check). @p what names the failing call.
 */
static inline void check_message_(const char *what, const char *a, const char *b)
{
    const char *m = strata_last_error();
    ck_assert_msg(m != NULL && m[0] != '\0', "%s failed without recording an error", what);
    ck_assert_msg(strstr(m, "not implemented") == NULL, "%s: got the stub's message \"%s\"",
                  what, m);
    ck_assert_msg(a == NULL || strstr(m, a) != NULL,
                  "%s: the error \"%s\" should mention \"%s\"", what, m, a);
    ck_assert_msg(b == NULL || strstr(m, b) != NULL,
                  "%s: the error \"%s\" should mention \"%s\"", what, m, b);
}

/* @p expr (a pointer) must be NULL with an error mentioning @p a and @p b. */
#define EXPECT_NULL_ERR(expr, a, b)                                                 \
    do {                                                                            \
        strata_clear_error();                                                       \
        const void *r_ = (expr);                                                    \
        ck_assert_msg(r_ == NULL, "%s should fail (return NULL)", #expr);           \
        check_message_(#expr, (a), (b));                                            \
    } while (0)

/* @p expr (an int status) must be -1 with an error as above. */
#define EXPECT_FAIL_ERR(expr, a, b)                                                 \
    do {                                                                            \
        strata_clear_error();                                                       \
        int r_ = (expr);                                                            \
        ck_assert_msg(r_ == -1, "%s should fail (return -1), returned %d", #expr, r_); \
        check_message_(#expr, (a), (b));                                            \
    } while (0)

/* @p expr (a float) must be NaN with an error as above. */
#define EXPECT_NAN_ERR(expr, a, b)                                                  \
    do {                                                                            \
        strata_clear_error();                                                       \
        float r_ = (expr);                                                          \
        ck_assert_msg(isnan(r_), "%s should fail (return NAN), returned %g", #expr,  \
                      (double)r_);                                                  \
        check_message_(#expr, (a), (b));                                            \
    } while (0)

/* ------------------------------------------------------------ reading values --- */

/* Offset (in elements, from t->data) of the multi-index @p idx: the naive walk. */
static inline int64_t strided_offset(const Tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++)
        off += idx[d] * t->strides[d];
    return off;
}

/* Element at a multi-index, read through the struct fields. */
static inline float elem_at(const Tensor *t, const int64_t *idx)
{
    return t->data[strided_offset(t, idx)];
}
#define AT(t, ...) elem_at((t), SHAPE(__VA_ARGS__))

/* ------------------------------------------------------------------- files --- */

/* A fresh path under the temporary directory for this process, e.g. "x.idx". */
static inline const char *tmp_path(char *buf, size_t size, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, size, "%s/strata-test-%ld-%s", dir && *dir ? dir : "/tmp", (long)getpid(),
             name);
    return buf;
}

#endif
