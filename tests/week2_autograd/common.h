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
 * BEGIN opens a scope, seeds the generator and clears the error slot; END closes the
 * scope and asserts the counting allocator is back where it was (a leaked graph costs
 * the test). They, OK, MK, AT and EXPECT_NULL_ERR are tests/harness/strata_test.h's.
 */
#ifndef WEEK2_COMMON_H
#define WEEK2_COMMON_H

/* Every week-2 test starts from seed 2 (BEGIN). */
#define TEST_BEGIN_SEED 2

#include "autograd.h"
#include "strata_test.h"


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
/* The name of the function an OpKind tests ("var_add"), for failure messages. */
const char *op_name(OpKind op);

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
void add_step_tests(Suite *s);

#endif
