/*
 * test_pointwise.c - elementwise ops against finite differences, over several shapes:
 * same shape, broadcasting (a row, a column, a scalar, both sides), and non-contiguous
 * inputs (a transposed view, a strided slice). Plus the tie rules, by hand.
 */
#include "common.h"

#define CASE(...) (&(OpCase){__VA_ARGS__})

/* 0-d leaf */
static Var *scalar_leaf(float v)
{
    return OKV(var_new(OK(tensor_scalar(v)), true));
}

/* The broadcasting shapes every binary op is checked on. */
static void check_binary(OpKind op, bool positive_b)
{
    OpCase *c = CASE(.op = op);
#define B(...) (positive_b ? POSITIVE(__VA_ARGS__) : SIGNED(__VA_ARGS__))
    CHECK_GRADS(apply_op, c, SIGNED(3, 4), B(3, 4));
    CHECK_GRADS(apply_op, c, SIGNED(3, 4), B(4));          /* a row, repeated */
    CHECK_GRADS(apply_op, c, SIGNED(2, 1, 4), B(3, 1));    /* both broadcast */
    CHECK_GRADS(apply_op, c, transposed_leaf(3, 4), B(3, 1));
    CHECK_GRADS(apply_op, c, strided_leaf(2, 3), B(2, 3));
    CHECK_GRADS(apply_op, c, SIGNED(2, 3), positive_b ? OKV(var_new(OK(tensor_scalar(1.3f)),
                                                                     true))
                                                      : scalar_leaf(-0.7f));
#undef B
}

/* One test per function, so that each op done earns its points on its own. */
#define BINARY_TEST(name, op, positive_b)                                              \
    START_TEST(name)                                                                   \
    {                                                                                  \
        BEGIN;                                                                         \
        check_binary(op, positive_b);                                                  \
        END;                                                                           \
    }                                                                                  \
    END_TEST

BINARY_TEST(test_grad_add, OP_ADD, false)
BINARY_TEST(test_grad_sub, OP_SUB, false)
BINARY_TEST(test_grad_mul, OP_MUL, false)
BINARY_TEST(test_grad_div, OP_DIV, true)

START_TEST(test_grad_pow)
{
    BEGIN;
    OpCase *c = CASE(.op = OP_POW);
    CHECK_GRADS(apply_op, c, POSITIVE(3, 4), SIGNED(3, 4));
    CHECK_GRADS(apply_op, c, POSITIVE(2, 3), SIGNED(3));
    /* a positive, non-contiguous base (a transposed view) and a 0-d exponent */
    Var *base = OKV(var_new(OK(tensor_transpose(var_data(POSITIVE(2, 3)), 0, 1)), true));
    CHECK_GRADS(apply_op, c, base, OKV(var_new(OK(tensor_scalar(2.0f)), true)));
    END;
}
END_TEST

/* maximum/minimum away from ties: a on the grid 0.1 k + 0.05, b on 0.1 k. */
static Var *grid_leaf(const int64_t *shape, int ndim, float shift)
{
    Var *v = distinct_leaf(shape, ndim);
    OK0(tensor_add_scalar_(var_data(v), shift));
    return v;
}

static void check_extremum(OpKind op)
{
    OpCase *c = CASE(.op = op);
    CHECK_GRADS(apply_op, c, grid_leaf(SHAPE(3, 4), 2, 0), grid_leaf(SHAPE(3, 4), 2, 0.05f));
    CHECK_GRADS(apply_op, c, grid_leaf(SHAPE(3, 4), 2, 0), grid_leaf(SHAPE(4), 1, 0.05f));
    CHECK_GRADS(apply_op, c, grid_leaf(SHAPE(2, 1), 2, 0), grid_leaf(SHAPE(3), 1, 0.05f));
}

START_TEST(test_grad_maximum)
{
    BEGIN;
    check_extremum(OP_MAXIMUM);
    END;
}
END_TEST

START_TEST(test_grad_minimum)
{
    BEGIN;
    check_extremum(OP_MINIMUM);
    END;
}
END_TEST

/* Ties, by hand (PyTorch's rules), read through a backward seeded with ones (no sum
 * needed): maximum(a, b), a = [1, 2, 3], b = [1, 5, 0]: y = [1, 5, 3]; the tie at 0
 * splits: grad a = [0.5, 0, 1], grad b = [0.5, 1, 0]; minimum mirrors it. */
static void check_tie(bool is_max)
{
    Var *a = OKV(var_new(MK(DATA(1, 2, 3), 3), true));
    Var *b = OKV(var_new(MK(DATA(1, 5, 0), 3), true));
    Var *y = OKV(is_max ? var_maximum(a, b) : var_minimum(a, b));
    OK0(var_backward_ex(y, MK(DATA(1, 1, 1), 3), false));
    EXPECT_GRAD(a, 1e-6, 0.5f, is_max ? 0 : 1, is_max ? 1 : 0);
    EXPECT_GRAD(b, 1e-6, 0.5f, is_max ? 1 : 0, is_max ? 0 : 1);
}

START_TEST(test_maximum_tie_by_hand)
{
    BEGIN;
    check_tie(true);
    END;
}
END_TEST

START_TEST(test_minimum_tie_by_hand)
{
    BEGIN;
    check_tie(false);
    END;
}
END_TEST

/* The kinks, by hand: relu and abs have gradient 0 at 0, x = [-1, 0, 2] -> relu
 * [0, 0, 1] (also when the gradient arriving is one value broadcast, from a sum),
 * abs [-1, 0, 1]; clamp(-0.5, 0.5) passes the gradient on the closed interval:
 * x = [-1, -0.5, 0, 0.5, 1] -> [0, 1, 1, 1, 0]. */
START_TEST(test_relu_kink_by_hand)
{
    BEGIN;
    Var *z = OKV(var_new(MK(DATA(-1, 0, 2), 3), true));
    OK0(var_backward_ex(OKV(var_relu(z)), MK(DATA(1, 1, 1), 3), false));
    EXPECT_GRAD(z, 0, 0, 0, 1);
    /* under a sum the gradient reaching relu is one value broadcast: 3 * sum of
     * relu([[-1, 0.5], [0, 3]]) has gradient 3 where x > 0, 0 elsewhere */
    Var *u = OKV(var_new(MK(DATA(-1, 0.5f, 0, 3), 2, 2), true));
    OK0(var_backward(OKV(var_mul_scalar(OKV(var_sum(OKV(var_relu(u)), NULL, 0, false)), 3))));
    EXPECT_GRAD(u, 0, 0, 3, 0, 3);
    Var *v = OKV(var_new(MK(DATA(2, -3, 0, 1e-3f, -1e-3f), 5), true));
    OK0(var_backward(OKV(var_sum(OKV(var_relu(v)), NULL, 0, false))));
    EXPECT_GRAD(v, 0, 1, 0, 0, 1, 0);
    /* leaky relu (slope 0.1) under a sum: the slope below and at 0, 1 above */
    Var *w = OKV(var_new(MK(DATA(-1, 0, 2), 3), true));
    OK0(var_backward(OKV(var_sum(OKV(var_leaky_relu(w, 0.1f)), NULL, 0, false))));
    EXPECT_GRAD(w, 1e-7, 0.1, 0.1, 1);
    END;
}
END_TEST

/* ReLU's backward stops the gradient where its output is <= 0 and passes it elsewhere,
 * NaN included (PyTorch's threshold_backward: torch.relu of [nan, -1, 0, 2] has gradient
 * [1, 0, 0, 1]); the fused ops follow the same rule. linear_relu: x = [[nan, 0], [1, 1]],
 * W = I, b = [0, -2] gives relu([[nan, nan], [1, -1]]) (nan * 0 is nan) = [[nan, nan],
 * [1, 0]], so dx = [[1, 1], [1, 0]] W = [[1, 1], [1, 0]] and db = [2, 1].
 * relu_max_pool2d of [[nan, 1], [2, 3]]: the NaN wins the window and takes the gradient. */
START_TEST(test_relu_nan_passes_gradient)
{
    BEGIN;
    Var *z = OKV(var_new(MK(DATA(NAN, -1, 0, 2), 4), true));
    OK0(var_backward_ex(OKV(var_relu(z)), MK(DATA(1, 1, 1, 1), 4), false));
    EXPECT_GRAD(z, 0, 1, 0, 0, 1);
    Var *x = OKV(var_new(MK(DATA(NAN, 0, 1, 1), 2, 2), true));
    Var *w = OKV(var_new(MK(DATA(1, 0, 0, 1), 2, 2), true));
    Var *b = OKV(var_new(MK(DATA(0, -2), 2), true));
    OK0(var_backward_ex(OKV(var_linear_relu(x, w, b)), MK(DATA(1, 1, 1, 1), 2, 2), false));
    EXPECT_GRAD(x, 0, 1, 1, 1, 0);
    EXPECT_GRAD(b, 0, 2, 1);
    Var *p = OKV(var_new(MK(DATA(NAN, 1, 2, 3), 1, 1, 2, 2), true));
    OK0(var_backward_ex(OKV(var_relu_max_pool2d(p, window2d(2, 2, 0))),
                        MK(DATA(1), 1, 1, 1, 1), false));
    EXPECT_GRAD(p, 0, 1, 0, 0, 0);
    END;
}
END_TEST

START_TEST(test_abs_kink_by_hand)
{
    BEGIN;
    Var *z = OKV(var_new(MK(DATA(-1, 0, 2), 3), true));
    OK0(var_backward_ex(OKV(var_abs(z)), MK(DATA(1, 1, 1), 3), false));
    EXPECT_GRAD(z, 0, -1, 0, 1);
    END;
}
END_TEST

START_TEST(test_clamp_bounds_by_hand)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(-1, -0.5f, 0, 0.5f, 1), 5), true));
    OK0(var_backward_ex(OKV(var_clamp(x, -0.5f, 0.5f)), MK(DATA(1, 1, 1, 1, 1), 5), false));
    EXPECT_GRAD(x, 0, 0, 1, 1, 1, 0);
    /* lo > hi: the value is hi everywhere and no x lies in [lo, hi], so the gradient
     * is 0 everywhere (torch.clamp(x, 2, 1) of [0, 1.5, 3] is [1, 1, 1], grad [0, 0, 0]) */
    Var *y = OKV(var_new(MK(DATA(0, 1.5f, 3), 3), true));
    Var *c = OKV(var_clamp(y, 2, 1));
    for (int i = 0; i < 3; i++)
        ck_assert_msg(var_data(c)->data[i] == 1, "clamp(x, 2, 1)[%d] = %g, expected 1", i,
                      (double)var_data(c)->data[i]);
    OK0(var_backward_ex(c, MK(DATA(1, 1, 1), 3), false));
    EXPECT_GRAD(y, 0, 0, 0, 0);
    END;
}
END_TEST

/* pow at base 0, by hand (seeded with ones), PyTorch's rules (torch.pow in 1.13 gives
 * these): a = [0, 0, 0, 2], b = [0, 2, -1, 0] -> a^b = [1, 0, inf, 1];
 * d/da = b a^(b-1) but 0 where b == 0: [0, 2 * 0, -1 * 0^-2, 0] = [0, 0, -inf, 0];
 * d/db = a^b log a but 0 where a == 0 and b >= 0: [0, 0, inf * log 0, 1 * log 2]
 * = [0, 0, -inf, 0.69314718]. */
START_TEST(test_pow_at_zero_by_hand)
{
    BEGIN;
    Var *a = OKV(var_new(MK(DATA(0, 0, 0, 2), 4), true));
    Var *b = OKV(var_new(MK(DATA(0, 2, -1, 0), 4), true));
    Var *y = OKV(var_pow(a, b));
    const float want[4] = {1, 0, INFINITY, 1};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(var_data(y)->data[i] == want[i], "pow: element %d is %g, expected %g",
                      i, (double)var_data(y)->data[i], (double)want[i]);
    OK0(var_backward_ex(y, MK(DATA(1, 1, 1, 1), 4), false));
    EXPECT_GRAD(a, 0, 0, 0, -INFINITY, 0);
    EXPECT_GRAD(b, 1e-6, 0, 0, -INFINITY, 0.69314718f);
    END;
}
END_TEST

/* The scalar ops: y = v + 2.5, v * -1.5, v ^ 3, v ^ 0.5 (positive v), -v. */
START_TEST(test_grad_add_scalar)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_ADD_SCALAR, .f0 = 2.5f), SIGNED(3, 4));
    END;
}
END_TEST

START_TEST(test_grad_mul_scalar)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_MUL_SCALAR, .f0 = -1.5f), transposed_leaf(3, 4));
    END;
}
END_TEST

START_TEST(test_grad_pow_scalar)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_POW_SCALAR, .f0 = 3.0f), SIGNED(2, 3));
    CHECK_GRADS(apply_op, CASE(.op = OP_POW_SCALAR, .f0 = 0.5f), POSITIVE(2, 3));
    CHECK_GRADS(apply_op, CASE(.op = OP_POW_SCALAR, .f0 = -2.0f), POSITIVE(4));
    END;
}
END_TEST

START_TEST(test_grad_neg)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_NEG), strided_leaf(3, 2));
    END;
}
END_TEST

/* Each unary op on a matrix, a non-contiguous view and a 3-D tensor. */
static void check_unary(OpKind op, bool positive)
{
    OpCase *c = CASE(.op = op, .f0 = 0.1f);
    CHECK_GRADS(apply_op, c, positive ? POSITIVE(3, 4) : SIGNED(3, 4));
    CHECK_GRADS(apply_op, c, positive ? POSITIVE(2, 3, 2) : SIGNED(2, 3, 2));
    if (!positive) {
        CHECK_GRADS(apply_op, c, transposed_leaf(3, 4));
        CHECK_GRADS(apply_op, c, strided_leaf(2, 3));
    }
}

#define UNARY_TEST(name, op, positive)                                                 \
    START_TEST(name)                                                                   \
    {                                                                                  \
        BEGIN;                                                                         \
        check_unary(op, positive);                                                     \
        END;                                                                           \
    }                                                                                  \
    END_TEST

UNARY_TEST(test_grad_exp, OP_EXP, false)
UNARY_TEST(test_grad_log, OP_LOG, true)
UNARY_TEST(test_grad_sqrt, OP_SQRT, true)
UNARY_TEST(test_grad_rsqrt, OP_RSQRT, true)
UNARY_TEST(test_grad_sin, OP_SIN, false)
UNARY_TEST(test_grad_cos, OP_COS, false)
UNARY_TEST(test_grad_tanh, OP_TANH, false)
UNARY_TEST(test_grad_sigmoid, OP_SIGMOID, false)
UNARY_TEST(test_grad_abs, OP_ABS, false)
UNARY_TEST(test_grad_relu, OP_RELU, false)
UNARY_TEST(test_grad_gelu, OP_GELU, false)
UNARY_TEST(test_grad_leaky_relu, OP_LEAKY_RELU, false)

/* clamp on the grid 0.1 k + 0.05, bounds at +-0.3: no value within 1e-3 of a bound */
START_TEST(test_grad_clamp)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_CLAMP, .f0 = -0.3f, .f1 = 0.3f), DISTINCT(3, 4));
    END;
}
END_TEST

/* where(cond, a, b) with cond [3, 4], a [3, 4], b [4] (broadcast); masked_fill with a
 * mask [4] broadcast over [3, 4] and over a transposed input, and by hand. */
START_TEST(test_grad_where)
{
    BEGIN;
    Tensor *cond = MK(DATA(1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0), 3, 4);
    CHECK_GRADS(apply_op, CASE(.op = OP_WHERE, .tensor = cond), SIGNED(3, 4), SIGNED(4));
    CHECK_GRADS(apply_op, CASE(.op = OP_WHERE, .tensor = cond), SIGNED(3, 1),
                transposed_leaf(3, 4));
    END;
}
END_TEST

START_TEST(test_grad_masked_fill)
{
    BEGIN;
    Tensor *mask = MK(DATA(0, 1, 1, 0), 4);
    CHECK_GRADS(apply_op, CASE(.op = OP_MASKED_FILL, .tensor = mask, .f0 = 7), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_MASKED_FILL, .tensor = mask, .f0 = -1),
                transposed_leaf(2, 4));
    /* by hand: the filled positions get no gradient */
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4), 4), true));
    OK0(var_backward_ex(OKV(var_masked_fill(x, mask, 9)), MK(DATA(1, 1, 1, 1), 4), false));
    EXPECT_GRAD(x, 0, 1, 0, 0, 1);
    END;
}
END_TEST

void add_pointwise_tests(Suite *s)
{
    GRADED(s, test_grad_add, 2);
    GRADED(s, test_grad_sub, 2);
    GRADED(s, test_grad_mul, 2);
    GRADED(s, test_grad_div, 2);
    GRADED(s, test_grad_pow, 2);
    GRADED(s, test_grad_maximum, 1);
    GRADED(s, test_grad_minimum, 1);
    GRADED(s, test_maximum_tie_by_hand, 1);
    GRADED(s, test_minimum_tie_by_hand, 1);
    GRADED(s, test_relu_kink_by_hand, 1);
    GRADED(s, test_relu_nan_passes_gradient, 1);
    GRADED(s, test_abs_kink_by_hand, 1);
    GRADED(s, test_clamp_bounds_by_hand, 1);
    GRADED(s, test_pow_at_zero_by_hand, 1);
    GRADED(s, test_grad_add_scalar, 1);
    GRADED(s, test_grad_mul_scalar, 1);
    GRADED(s, test_grad_pow_scalar, 1);
    GRADED(s, test_grad_neg, 1);
    GRADED(s, test_grad_exp, 1);
    GRADED(s, test_grad_log, 1);
    GRADED(s, test_grad_sqrt, 1);
    GRADED(s, test_grad_rsqrt, 1);
    GRADED(s, test_grad_sin, 1);
    GRADED(s, test_grad_cos, 1);
    GRADED(s, test_grad_tanh, 1);
    GRADED(s, test_grad_sigmoid, 1);
    GRADED(s, test_grad_abs, 1);
    GRADED(s, test_grad_relu, 1);
    GRADED(s, test_grad_gelu, 1);
    GRADED(s, test_grad_leaky_relu, 1);
    GRADED(s, test_grad_clamp, 1);
    GRADED(s, test_grad_where, 2);
    GRADED(s, test_grad_masked_fill, 2);
}
