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
 * the counting allocator is back where it was (a leak costs the test). Those, the
 * literals (SHAPE, DATA, MK), OK, EXPECT_NULL_ERR and AT are tests/harness/strata_test.h's.
 */
#ifndef WEEK1_COMMON_H
#define WEEK1_COMMON_H

#include "strata_test.h"

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
