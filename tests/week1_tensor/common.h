/*
 * common.h - helpers shared by the week-1 test files.
 *
 * Nothing here calls the code under test to compute an expected value: tensors are
 * read back with a naive strided walk over the public struct fields (shape, strides,
 * data), so a test of tensor_to_array() or tensor_get() does not grade itself.
 *
 * Every test is written
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
 * the counting allocator is back where it was (a leak costs the test).
 */
#ifndef WEEK1_COMMON_H
#define WEEK1_COMMON_H

#include "harness.h"
#include "tensor.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compound literals for shapes, data and dim lists. */
#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define DATA(...) ((const float[]){__VA_ARGS__})
#define DIMS(...) ((const int[]){__VA_ARGS__})
#define COUNT_I64(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define COUNT_F(...) ((int64_t)(sizeof((float[]){__VA_ARGS__}) / sizeof(float)))

/* MK(DATA(1, 2, 3, 4), 2, 2): a tensor of shape [2, 2] holding 1 2 3 4. */
#define MK(data, ...) \
    OK(tensor_from_data((data), SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__)))

#define BEGIN                                                   \
    StrataMemStats mem_start_ = strata_mem_stats();             \
    Scope *scope_ = scope_begin();                              \
    strata_clear_error()

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

/* Fail the test (naming the call and the error message) if @p expr is NULL. */
#define OK(expr) ((Tensor *)must_not_null_((expr), #expr, __FILE__, __LINE__))

static inline const void *must_not_null_(const void *p, const char *what, const char *file,
                                         int line)
{
    if (!p)
        ck_abort_msg("%s:%d: %s returned NULL; error: \"%s\"", file, line, what,
                     strata_last_error());
    return p;
}

/* Assert an int status call succeeded (returned 0). */
#define OK0(expr)                                                                   \
    do {                                                                            \
        int ok0_ = (expr);                                                          \
        ck_assert_msg(ok0_ == 0, "%s returned %d; error: \"%s\"", #expr, ok0_,       \
                      strata_last_error());                                         \
    } while (0)

/* The error slot must name @p fn, must not be a stub's, and must contain @p detail. */
static inline void check_message_(const char *what, const char *fn, const char *detail)
{
    const char *m = strata_last_error();
    ck_assert_msg(m != NULL && m[0] != '\0', "%s failed without recording an error", what);
    ck_assert_msg(strstr(m, "not implemented") == NULL, "%s: \"%s\"", what, m);
    ck_assert_msg(strstr(m, fn) != NULL, "%s: the error \"%s\" should name %s", what, m, fn);
    if (detail)
        ck_assert_msg(strstr(m, detail) != NULL,
                      "%s: the error \"%s\" should mention \"%s\"", what, m, detail);
}

/* @p expr (a pointer) must be NULL with an error naming @p fn and containing @p detail. */
#define EXPECT_NULL_ERR(expr, fn, detail)                                           \
    do {                                                                            \
        strata_clear_error();                                                       \
        const void *r_ = (expr);                                                    \
        ck_assert_msg(r_ == NULL, "%s should fail (return NULL)", #expr);           \
        check_message_(#expr, (fn), (detail));                                      \
    } while (0)

/* @p expr (an int status) must be -1 with an error as above. */
#define EXPECT_FAIL_ERR(expr, fn, detail)                                           \
    do {                                                                            \
        strata_clear_error();                                                       \
        int r_ = (expr);                                                            \
        ck_assert_msg(r_ < 0, "%s should fail (return -1), returned %d", #expr, r_); \
        check_message_(#expr, (fn), (detail));                                      \
    } while (0)

/* @p expr (a float) must be NaN with an error as above. */
#define EXPECT_NAN_ERR(expr, fn, detail)                                            \
    do {                                                                            \
        strata_clear_error();                                                       \
        float r_ = (expr);                                                          \
        ck_assert_msg(isnan(r_), "%s should fail (return NAN), returned %g", #expr,  \
                      (double)r_);                                                  \
        check_message_(#expr, (fn), (detail));                                      \
    } while (0)

/* Offset (in elements, from t->data) of the multi-index @p idx: the naive walk. */
static inline int64_t strided_offset(const Tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++)
        off += idx[d] * t->strides[d];
    return off;
}

/* Element at multi-index @p idx read through the struct fields. */
static inline float elem_at(const Tensor *t, const int64_t *idx)
{
    return t->data[strided_offset(t, idx)];
}
#define AT(t, ...) elem_at((t), SHAPE(__VA_ARGS__))

/* Copy the elements of @p t, row-major, into @p out (naive odometer walk). */
static inline void read_all(const Tensor *t, float *out)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    for (int64_t k = 0; k < n; k++) {
        out[k] = t->data[strided_offset(t, idx)];
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

static inline int64_t shape_numel(const Tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

/* Equal within tol (relative above 1, absolute below); NaN equals NaN, inf equals inf. */
static inline bool close_to(double a, double e, double tol)
{
    if (isnan(e))
        return isnan(a);
    if (isinf(e))
        return a == e;
    return fabs(a - e) <= tol * fmax(1.0, fabs(e));
}

/* Assert @p t has the shape given as the trailing arguments (none for a 0-d tensor). */
static inline void check_shape_(const Tensor *t, const int64_t *shape, int ndim,
                                const char *what)
{
    char want[200], got[200];
    int p = snprintf(want, sizeof want, "[");
    for (int d = 0; d < ndim; d++)
        p += snprintf(want + p, sizeof want - (size_t)p, "%s%lld", d ? ", " : "",
                      (long long)shape[d]);
    snprintf(want + p, sizeof want - (size_t)p, "]");
    p = snprintf(got, sizeof got, "[");
    for (int d = 0; d < t->ndim && d < TENSOR_MAX_DIMS; d++)
        p += snprintf(got + p, sizeof got - (size_t)p, "%s%lld", d ? ", " : "",
                      (long long)t->shape[d]);
    snprintf(got + p, sizeof got - (size_t)p, "]");
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    ck_assert_msg(same, "%s: shape %s, expected %s", what, got, want);
}
#define EXPECT_SHAPE(t, ...) \
    check_shape_((t), (const int64_t[]){0, __VA_ARGS__} + 1, COUNT_I64(0, __VA_ARGS__) - 1, #t)
#define EXPECT_SCALAR(t) check_shape_((t), NULL, 0, #t)

/* Assert the elements of @p t (row-major) match @p expected within @p tol. */
static inline void check_values_(const Tensor *t, const float *expected, int64_t n,
                                 double tol, const char *what)
{
    int64_t got_n = shape_numel(t);
    ck_assert_msg(got_n == n, "%s: %lld elements, expected %lld", what, (long long)got_n,
                  (long long)n);
    float *buf = malloc(sizeof(float) * (size_t)(n ? n : 1));
    read_all(t, buf);
    for (int64_t k = 0; k < n; k++) {
        if (!close_to(buf[k], expected[k], tol)) {
            double a = buf[k], e = expected[k];
            free(buf);
            ck_abort_msg("%s: element %lld (row-major) is %.9g, expected %.9g (tol %g)",
                         what, (long long)k, a, e, tol);
        }
    }
    free(buf);
}
#define EXPECT_VALUES(t, tol, ...) \
    check_values_((t), DATA(__VA_ARGS__), COUNT_F(__VA_ARGS__), (tol), #t)
#define EXPECT_ARRAY(t, arr, n, tol) check_values_((t), (arr), (n), (tol), #t)

/* Deterministic pseudo-random values in [-1, 1), independent of strata's generator. */
static inline void fill_pattern(float *buf, int64_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 12345u;
    for (int64_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[k] = (float)((x >> 8) * (1.0 / 8388608.0) - 1.0);
    }
}

/* A tensor of @p shape holding fill_pattern(seed) values. */
static inline Tensor *pattern_tensor(const int64_t *shape, int ndim, uint32_t seed)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    float *buf = malloc(sizeof(float) * (size_t)(n ? n : 1));
    fill_pattern(buf, n, seed);
    Tensor *t = tensor_from_data(buf, shape, ndim);
    free(buf);
    return (Tensor *)must_not_null_(t, "tensor_from_data (pattern)", __FILE__, __LINE__);
}
#define PATTERN(seed, ...) pattern_tensor(SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__), (seed))

/* Whether two tensors share storage. */
#define SHARES(a, b) ((a)->storage == (b)->storage)

void add_core_tests(Suite *s);
void add_creation_tests(Suite *s);
void add_access_tests(Suite *s);
void add_view_tests(Suite *s);
void add_elementwise_tests(Suite *s);
void add_inplace_tests(Suite *s);
void add_reduce_tests(Suite *s);
void add_matmul_tests(Suite *s);
void add_index_tests(Suite *s);
void add_conv_tests(Suite *s);
void add_print_tests(Suite *s);
void add_error_tests(Suite *s);
void add_edge_tests(Suite *s);
void add_error_contract_tests(Suite *s);

#endif
