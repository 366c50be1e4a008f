/*
 * common.h - helpers shared by the week-2 test files.
 *
 * Expected gradients come from two independent sources: arithmetic done by hand (written
 * out in each test's comments), and the finite-difference checker CHECK_GRADS below. The
 * checker is the suite's own (common.c): it perturbs input elements through the public
 * Tensor fields and evaluates the function forward only, so it does not trust anything
 * week 2 writes except the forward values and var_backward_ex's result it is checking.
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
 * BEGIN opens a scope and clears the error slot; END closes the scope and asserts the
 * counting allocator is back where it was (a leaked graph costs the test).
 */
#ifndef WEEK2_COMMON_H
#define WEEK2_COMMON_H

#include "autograd.h"
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define DATA(...) ((const float[]){__VA_ARGS__})
#define DIMS(...) ((const int[]){__VA_ARGS__})
#define COUNT_I64(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

#define BEGIN                                                   \
    StrataMemStats mem_start_ = strata_mem_stats();             \
    Scope *scope_ = scope_begin();                              \
    strata_manual_seed(2);                                      \
    strata_clear_error()

#define END                                                                        \
    do {                                                                           \
        scope_end(scope_);                                                         \
        StrataMemStats mem_end_ = strata_mem_stats();                              \
        ck_assert_msg(mem_end_.bytes_live == mem_start_.bytes_live,               \
                      "%zu bytes were allocated in this test and are still live "   \
                      "after scope_end (%zu before, %zu after): the graph leaks",    \
                      mem_end_.bytes_live - mem_start_.bytes_live,                 \
                      mem_start_.bytes_live, mem_end_.bytes_live);                 \
    } while (0)

static inline const void *must_not_null_(const void *p, const char *what, const char *file,
                                         int line)
{
    if (!p)
        ck_abort_msg("%s:%d: %s returned NULL; error: \"%s\"", file, line, what,
                     strata_last_error());
    return p;
}
/* Fail the test (naming the call and the error) if @p expr is NULL. */
#define OK(expr) ((Tensor *)must_not_null_((expr), #expr, __FILE__, __LINE__))
#define OKV(expr) ((Var *)must_not_null_((expr), #expr, __FILE__, __LINE__))

/* Assert an int status call returned 0. */
#define OK0(expr)                                                                   \
    do {                                                                            \
        int ok0_ = (expr);                                                          \
        ck_assert_msg(ok0_ == 0, "%s returned %d; error: \"%s\"", #expr, ok0_,       \
                      strata_last_error());                                         \
    } while (0)

/* The error slot must contain every one of the given fragments (and not be a stub's). */
static inline void check_message_(const char *what, const char *a, const char *b)
{
    const char *m = strata_last_error();
    ck_assert_msg(!strstr(m, "not implemented"), "%s: got the stub's message \"%s\"", what, m);
    ck_assert_msg(a == NULL || strstr(m, a), "%s: the error \"%s\" should mention \"%s\"",
                  what, m, a);
    ck_assert_msg(b == NULL || strstr(m, b), "%s: the error \"%s\" should mention \"%s\"",
                  what, m, b);
}

/* @p expr must return NULL with an error mentioning @p a and @p b (NULL: no check). */
#define EXPECT_NULL_ERR(expr, a, b)                                                 \
    do {                                                                            \
        strata_clear_error();                                                       \
        const void *r_ = (expr);                                                    \
        ck_assert_msg(r_ == NULL, "%s should fail (return NULL)", #expr);            \
        check_message_(#expr, (a), (b));                                            \
    } while (0)

/* @p expr must return -1 with an error mentioning @p a and @p b. */
#define EXPECT_FAIL(expr, a, b)                                                     \
    do {                                                                            \
        strata_clear_error();                                                       \
        int r_ = (expr);                                                            \
        ck_assert_msg(r_ == -1, "%s should fail (return -1), returned %d", #expr, r_); \
        check_message_(#expr, (a), (b));                                            \
    } while (0)

/* A tensor of the given shape holding @p data (row-major). */
#define MK(data, ...) OK(tensor_from_data((data), SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__)))

/* Element at a multi-index, read through the struct fields (naive strided walk). */
static inline float elem_at(const Tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++)
        off += idx[d] * t->strides[d];
    return t->data[off];
}
#define AT(t, ...) elem_at((t), SHAPE(__VA_ARGS__))

/* The gradient of @p v must exist and equal @p expected (row-major) within @p tol. */
void expect_grad_at(const char *file, int line, const char *what, const Var *v,
                    const float *expected, double tol);
#define EXPECT_GRAD(v, tol, ...) \
    expect_grad_at(__FILE__, __LINE__, #v, (v), DATA(__VA_ARGS__), (tol))

/* --------------------------------------------------------------- test inputs --- */

/* Leaves requiring grad, seeded: values in +-[0.2, 1.2] (away from kinks at 0). */
Var *signed_leaf(const int64_t *shape, int ndim);
/* Values in [0.5, 1.5] (for log, sqrt, pow, div). */
Var *positive_leaf(const int64_t *shape, int ndim);
/* Pairwise distinct values 0.1 k + 0.05 (integer k): at least 0.1 apart and never 0
 * (for max/min, pooling, clamp). */
Var *distinct_leaf(const int64_t *shape, int ndim);
/* A non-contiguous leaf of shape [rows, cols]: a transposed view of a [cols, rows]. */
Var *transposed_leaf(int64_t rows, int64_t cols);
/* A non-contiguous leaf of shape [rows, cols]: every other column of a [rows, 2 cols]. */
Var *strided_leaf(int64_t rows, int64_t cols);
#define SIGNED(...) signed_leaf(SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__))
#define POSITIVE(...) positive_leaf(SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__))
#define DISTINCT(...) distinct_leaf(SHAPE(__VA_ARGS__), COUNT_I64(__VA_ARGS__))

/* ------------------------------------------------------ the gradient checker --- */

/*
 * Check backward's gradients of fn(inputs) against central finite differences for every
 * element of every input that requires grad (eps 1e-3, tolerance 1e-2 + 1e-2 |numeric|,
 * float32). The output is projected on fixed weights so every output element matters.
 * Inputs are restored exactly; their .grad is left NULL.
 */
void check_grads_at(const char *file, int line, const char *what, VarFunction fn,
                    Var *const *inputs, int n, void *ctx);
#define CHECK_GRADS(fn, ctx, ...)                                                     \
    check_grads_at(__FILE__, __LINE__, #fn, (fn), (Var *const[]){__VA_ARGS__},        \
                   (int)(sizeof((Var *[]){__VA_ARGS__}) / sizeof(Var *)), (ctx))

/* What to apply (see apply_op in common.c): one case of the op tables in the tests. */
typedef enum OpKind {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_MAXIMUM, OP_MINIMUM,
    OP_ADD_SCALAR, OP_MUL_SCALAR, OP_POW_SCALAR, OP_NEG, OP_ABS, OP_EXP, OP_LOG, OP_SQRT,
    OP_RSQRT, OP_SIN, OP_COS, OP_TANH, OP_SIGMOID, OP_RELU, OP_GELU, OP_LEAKY_RELU,
    OP_CLAMP, OP_WHERE, OP_MASKED_FILL,
    OP_SUM, OP_MEAN, OP_VAR, OP_LOGSUMEXP, OP_MAX, OP_MIN, OP_MAX_ALL, OP_SOFTMAX,
    OP_LOG_SOFTMAX,
    OP_RESHAPE, OP_TRANSPOSE, OP_PERMUTE, OP_SQUEEZE, OP_UNSQUEEZE, OP_NARROW, OP_SLICE,
    OP_SELECT, OP_EXPAND, OP_FLATTEN, OP_INDEX_SELECT, OP_GATHER, OP_CAT, OP_STACK,
    OP_MATMUL, OP_LINEAR, OP_LINEAR_NOBIAS, OP_IM2COL, OP_CONV2D, OP_CONV2D_NOBIAS,
    OP_MAX_POOL2D, OP_AVG_POOL2D
} OpKind;

typedef struct OpCase {
    OpKind op;
    int dims[TENSOR_MAX_DIMS]; /* reduction dims / permutation */
    int ndims;
    int dim;
    bool keepdim;
    bool flag;                 /* var: unbiased */
    float f0, f1;              /* scalars */
    int64_t i0, i1, i2;        /* narrow/slice/select arguments */
    int64_t shape[TENSOR_MAX_DIMS]; /* reshape/expand target */
    int shape_ndim;
    const Tensor *tensor;      /* where's cond, masked_fill's mask, indices */
    Window2d window;
} OpCase;

/* A VarFunction applying ((OpCase *)ctx)->op to the inputs. */
Var *apply_op(Var *const *inputs, int n, void *ctx);

/* The test files. */
void add_graph_tests(Suite *s);
void add_mode_tests(Suite *s);
void add_pointwise_tests(Suite *s);
void add_reduce_tests(Suite *s);
void add_shape_tests(Suite *s);
void add_linalg_tests(Suite *s);
void add_memory_tests(Suite *s);
void add_error_tests(Suite *s);
void add_error_contract_tests(Suite *s);
void add_gradcheck_tests(Suite *s);
void add_custom_tests(Suite *s);

#endif
