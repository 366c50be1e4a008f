/*
 * test_elementwise.c - binary ops with broadcasting, comparisons, where, scalar ops,
 * unary math. Expected values come from libm in double (a naive reference loop).
 */
#include "common.h"

START_TEST(test_binary_same_shape)
{
    BEGIN;
    Tensor *a = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *b = MK(DATA(0.5, -1, 2, 8, 0.25, -3), 2, 3);
    Tensor *s = OK(tensor_add(a, b));
    EXPECT_SHAPE(s, 2, 3);
    EXPECT_VALUES(s, 1e-6, 1.5, 1, 5, 12, 5.25, 3);
    EXPECT_VALUES(OK(tensor_sub(a, b)), 1e-6, 0.5, 3, 1, -4, 4.75, 9);
    EXPECT_VALUES(OK(tensor_mul(a, b)), 1e-6, 0.5, -2, 6, 32, 1.25, -18);
    EXPECT_VALUES(OK(tensor_div(a, b)), 1e-6, 2, -2, 1.5, 0.5, 20, -2);
    ck_assert(tensor_is_contiguous(s));
    ck_assert(!SHARES(s, a) && !SHARES(s, b));
    /* the inputs are unchanged */
    EXPECT_VALUES(a, 0, 1, 2, 3, 4, 5, 6);
    /* division by zero follows IEEE: 1/0 = inf, 0/0 = NaN */
    Tensor *z = OK(tensor_div(MK(DATA(1, 0, -1), 3), OK(tensor_zeros(SHAPE(3), 1))));
    EXPECT_VALUES(z, 0, INFINITY, NAN, -INFINITY);
    END;
}
END_TEST

/*
 * The worked example of the handout: a [3, 1] column plus a [1, 4] row broadcast to
 * [3, 4]: out[i][j] = a[i][0] + b[0][j].
 */
START_TEST(test_broadcast_worked_example)
{
    BEGIN;
    Tensor *a = MK(DATA(0, 10, 20), 3, 1);
    Tensor *b = MK(DATA(1, 2, 3, 4), 1, 4);
    Tensor *c = OK(tensor_add(a, b));
    EXPECT_SHAPE(c, 3, 4);
    EXPECT_VALUES(c, 0, 1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24);
    /* [2, 3] * [3]: each row times the vector */
    Tensor *m = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    EXPECT_VALUES(OK(tensor_mul(m, MK(DATA(10, 0, -1), 3))), 0, 10, 0, -3, 40, 0, -6);
    /* [2, 3] - [2, 1]: each row minus its own value */
    EXPECT_VALUES(OK(tensor_sub(m, MK(DATA(1, 4), 2, 1))), 0, 0, 1, 2, 0, 1, 2);
    /* 0-d with [2, 2], on either side */
    Tensor *two = OK(tensor_scalar(2));
    Tensor *q = MK(DATA(1, 2, 3, 4), 2, 2);
    EXPECT_VALUES(OK(tensor_div(q, two)), 0, 0.5, 1, 1.5, 2);
    Tensor *r = OK(tensor_div(two, q));
    EXPECT_SHAPE(r, 2, 2);
    EXPECT_VALUES(r, 1e-6, 2, 1, 2.0 / 3, 0.5);
    /* 0-d with 0-d stays 0-d */
    EXPECT_SCALAR(OK(tensor_mul(two, two)));
    END;
}
END_TEST

/* [2, 1, 3] + [4, 1] -> [2, 4, 3], checked against a naive loop. */
START_TEST(test_broadcast_3d_naive)
{
    BEGIN;
    Tensor *a = PATTERN(1, 2, 1, 3);
    Tensor *b = PATTERN(2, 4, 1);
    Tensor *c = OK(tensor_mul(a, b));
    EXPECT_SHAPE(c, 2, 4, 3);
    float want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++)
                want[(i * 4 + j) * 3 + k] = AT(a, i, 0, k) * AT(b, j, 0);
    EXPECT_ARRAY(c, want, 24, 1e-6);
    Tensor *d = OK(tensor_add(b, a)); /* the other order */
    EXPECT_SHAPE(d, 2, 4, 3);
    END;
}
END_TEST

START_TEST(test_broadcast_error)
{
    BEGIN;
    Tensor *a = OK(tensor_zeros(SHAPE(2, 3), 2));
    Tensor *b = OK(tensor_zeros(SHAPE(4, 3), 2));
    EXPECT_NULL_ERR(tensor_add(a, b), "tensor_add", "[2, 3]");
    check_message_("tensor_add([2, 3], [4, 3])", "tensor_add", "[4, 3]");
    EXPECT_NULL_ERR(tensor_mul(a, OK(tensor_zeros(SHAPE(2), 1))), "tensor_mul", "[2]");
    EXPECT_NULL_ERR(tensor_lt(a, b), "tensor_lt", NULL);
    EXPECT_NULL_ERR(tensor_where(a, a, b), "tensor_where", NULL);
    END;
}
END_TEST

/* Transposed, sliced and expanded operands, against a naive loop on their elements. */
START_TEST(test_binary_noncontiguous)
{
    BEGIN;
    Tensor *base = PATTERN(3, 4, 3);                     /* [4, 3] */
    Tensor *at = OK(tensor_transpose(base, 0, 1));       /* [3, 4] strides [1, 3] */
    Tensor *wide = PATTERN(4, 3, 8);
    Tensor *bs = OK(tensor_slice(wide, 1, 1, 8, 2));     /* [3, 4] strides [8, 2] */
    Tensor *c = OK(tensor_sub(at, bs));
    EXPECT_SHAPE(c, 3, 4);
    ck_assert(tensor_is_contiguous(c));
    float want[12];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            want[i * 4 + j] = AT(base, j, i) - AT(wide, i, 1 + 2 * j);
    EXPECT_ARRAY(c, want, 12, 1e-6);
    /* an expanded operand (stride 0) */
    Tensor *col = PATTERN(5, 3, 1);
    Tensor *ex = OK(tensor_expand(col, SHAPE(3, 4), 2));
    Tensor *d = OK(tensor_mul(ex, at));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            want[i * 4 + j] = AT(col, i, 0) * AT(base, j, i);
    EXPECT_ARRAY(d, want, 12, 1e-6);
    /* an offset view: row 2 of a [3, 4] plus row 0 */
    Tensor *r2 = OK(tensor_select(bs, 0, 2));
    Tensor *r0 = OK(tensor_select(at, 0, 0));
    Tensor *e = OK(tensor_add(r2, r0));
    for (int j = 0; j < 4; j++)
        want[j] = AT(wide, 2, 1 + 2 * j) + AT(base, j, 0);
    EXPECT_ARRAY(e, want, 4, 1e-6);
    END;
}
END_TEST

START_TEST(test_binary_empty)
{
    BEGIN;
    Tensor *e = OK(tensor_zeros(SHAPE(0, 3), 2));
    Tensor *r = OK(tensor_add(e, MK(DATA(1, 2, 3), 3)));
    EXPECT_SHAPE(r, 0, 3);
    Tensor *f = OK(tensor_mul(OK(tensor_zeros(SHAPE(2, 0), 2)), OK(tensor_ones(SHAPE(2, 1), 2))));
    EXPECT_SHAPE(f, 2, 0);
    EXPECT_SHAPE(OK(tensor_exp(e)), 0, 3);
    END;
}
END_TEST

START_TEST(test_pow_maximum_minimum)
{
    BEGIN;
    Tensor *a = MK(DATA(2, 3, 4, -2), 4);
    Tensor *b = MK(DATA(2, 0.5, -1, 3), 4);
    /* 2^2 = 4, 3^0.5 = 1.7320508, 4^-1 = 0.25, (-2)^3 = -8 */
    EXPECT_VALUES(OK(tensor_pow(a, b)), 1e-6, 4, 1.7320508, 0.25, -8);
    Tensor *x = MK(DATA(1, NAN, 3, -1), 4);
    Tensor *y = MK(DATA(2, 1, NAN, -5), 4);
    EXPECT_VALUES(OK(tensor_maximum(x, y)), 0, 2, NAN, NAN, -1);
    EXPECT_VALUES(OK(tensor_minimum(x, y)), 0, 1, NAN, NAN, -5);
    /* broadcast: max with 0-d zero is relu */
    EXPECT_VALUES(OK(tensor_maximum(MK(DATA(-1, 2), 2), OK(tensor_scalar(0)))), 0, 0, 2);
    END;
}
END_TEST

START_TEST(test_comparisons)
{
    BEGIN;
    Tensor *a = MK(DATA(1, 2, 3, NAN), 4);
    Tensor *b = MK(DATA(2, 2, 2, NAN), 4);
    EXPECT_VALUES(OK(tensor_eq(a, b)), 0, 0, 1, 0, 0);
    EXPECT_VALUES(OK(tensor_ne(a, b)), 0, 1, 0, 1, 1);
    EXPECT_VALUES(OK(tensor_lt(a, b)), 0, 1, 0, 0, 0);
    EXPECT_VALUES(OK(tensor_le(a, b)), 0, 1, 1, 0, 0);
    EXPECT_VALUES(OK(tensor_gt(a, b)), 0, 0, 0, 1, 0);
    EXPECT_VALUES(OK(tensor_ge(a, b)), 0, 0, 1, 1, 0);
    /* broadcast [2, 1] against [3] */
    Tensor *c = OK(tensor_gt(MK(DATA(1, 3), 2, 1), MK(DATA(0, 2, 4), 3)));
    EXPECT_SHAPE(c, 2, 3);
    EXPECT_VALUES(c, 0, 1, 0, 0, 1, 1, 0);
    END;
}
END_TEST

START_TEST(test_where)
{
    BEGIN;
    /* cond [2, 1], a [2, 3], b 0-d: row 0 from a, row 1 all b */
    Tensor *cond = MK(DATA(1, 0), 2, 1);
    Tensor *a = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *w = OK(tensor_where(cond, a, OK(tensor_scalar(-1))));
    EXPECT_SHAPE(w, 2, 3);
    EXPECT_VALUES(w, 0, 1, 2, 3, -1, -1, -1);
    /* any nonzero is true (0.5, -2), and all three broadcast */
    Tensor *c2 = MK(DATA(0.5, 0, -2), 3);
    Tensor *w2 = OK(tensor_where(c2, MK(DATA(10, 20), 2, 1), MK(DATA(7, 8, 9), 3)));
    EXPECT_SHAPE(w2, 2, 3);
    EXPECT_VALUES(w2, 0, 10, 8, 10, 20, 8, 20);
    /* a transposed condition */
    Tensor *ct = OK(tensor_transpose(MK(DATA(1, 0, 0, 1), 2, 2), 0, 1));
    EXPECT_VALUES(OK(tensor_where(ct, OK(tensor_ones(SHAPE(2, 2), 2)),
                                  OK(tensor_zeros(SHAPE(2, 2), 2)))), 0, 1, 0, 0, 1);
    END;
}
END_TEST

START_TEST(test_scalar_ops)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4), 2, 2);
    EXPECT_VALUES(OK(tensor_add_scalar(t, 0.5f)), 0, 1.5, 2.5, 3.5, 4.5);
    EXPECT_VALUES(OK(tensor_mul_scalar(t, -2.0f)), 0, -2, -4, -6, -8);
    EXPECT_VALUES(OK(tensor_pow_scalar(t, 2.0f)), 1e-6, 1, 4, 9, 16);
    EXPECT_VALUES(OK(tensor_pow_scalar(t, 0.5f)), 1e-6, 1, 1.41421356, 1.73205081, 2);
    EXPECT_VALUES(OK(tensor_pow_scalar(t, -1.0f)), 1e-6, 1, 0.5, 1.0 / 3, 0.25);
    Tensor *tt = OK(tensor_transpose(t, 0, 1));
    EXPECT_VALUES(OK(tensor_add_scalar(tt, 1)), 0, 2, 4, 3, 5);
    EXPECT_SHAPE(OK(tensor_mul_scalar(t, 1)), 2, 2);
    END;
}
END_TEST

typedef double (*RefFn)(double);
static double ref_neg(double x) { return -x; }
static double ref_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
static double ref_rsqrt(double x) { return 1.0 / sqrt(x); }
static double ref_relu(double x) { return x > 0 ? x : 0; }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* Apply @p op to a transposed view of the values and compare with @p ref in double. */
static void check_unary(Tensor *(*op)(const Tensor *), RefFn ref, const char *name)
{
    const float v[8] = {-2.5f, -1.0f, -0.25f, 0.0f, 0.3f, 1.0f, 2.0f, 4.5f};
    Tensor *base = MK(v, 2, 4);
    Tensor *tv = OK(tensor_transpose(base, 0, 1)); /* tv[i][j] = v[4j + i] */
    Tensor *r = op(tv);
    ck_assert_msg(r != NULL, "%s returned NULL: %s", name, strata_last_error());
    ck_assert_msg(r->ndim == 2 && r->shape[0] == 4 && r->shape[1] == 2, "%s: wrong shape",
                  name);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            double want = ref((double)v[4 * j + i]);
            double got = AT(r, i, j);
            ck_assert_msg(close_to(got, want, 1e-5), "%s(%g) = %.9g, expected %.9g", name,
                          (double)v[4 * j + i], got, want);
        }
}

START_TEST(test_unary_math)
{
    BEGIN;
    check_unary(tensor_neg, ref_neg, "tensor_neg");
    check_unary(tensor_abs, fabs, "tensor_abs");
    check_unary(tensor_sign, ref_sign, "tensor_sign");
    check_unary(tensor_exp, exp, "tensor_exp");
    check_unary(tensor_sin, sin, "tensor_sin");
    check_unary(tensor_cos, cos, "tensor_cos");
    check_unary(tensor_tanh, tanh, "tensor_tanh");
    check_unary(tensor_relu, ref_relu, "tensor_relu");
    END;
}
END_TEST

/* log, sqrt, rsqrt: -inf/inf at 0 and NaN below, as libm (and PyTorch). */
START_TEST(test_unary_log_sqrt)
{
    BEGIN;
    check_unary(tensor_log, log, "tensor_log");
    check_unary(tensor_sqrt, sqrt, "tensor_sqrt");
    check_unary(tensor_rsqrt, ref_rsqrt, "tensor_rsqrt");
    Tensor *z = MK(DATA(0, -1, 1), 3);
    EXPECT_VALUES(OK(tensor_log(z)), 0, -INFINITY, NAN, 0);
    EXPECT_VALUES(OK(tensor_sqrt(z)), 0, 0, NAN, 1);
    EXPECT_VALUES(OK(tensor_rsqrt(z)), 0, INFINITY, NAN, 1);
    END;
}
END_TEST

/* sigmoid must not overflow: 1/(1+e^100) is ~3.7e-44, and 1/(1+e^-100) is 1. */
START_TEST(test_sigmoid_stable)
{
    BEGIN;
    check_unary(tensor_sigmoid, ref_sigmoid, "tensor_sigmoid");
    Tensor *x = MK(DATA(-100, -30, -1, 0, 1, 30, 100, -1000, 1000), 9);
    Tensor *s = OK(tensor_sigmoid(x));
    for (int k = 0; k < 9; k++) {
        double xi = x->data[k], got = s->data[k];
        double want = xi >= 0 ? 1.0 / (1.0 + exp(-xi)) : exp(xi) / (1.0 + exp(xi));
        ck_assert_msg(isfinite(got) && got >= 0 && got <= 1, "sigmoid(%g) = %g", xi, got);
        ck_assert_msg(fabs(got - want) <= 1e-6, "sigmoid(%g) = %.9g, expected %.9g", xi,
                      got, want);
    }
    ck_assert_close(s->data[3], 0.5, 1e-7);
    END;
}
END_TEST

START_TEST(test_gelu)
{
    BEGIN;
    check_unary(tensor_gelu, ref_gelu, "tensor_gelu");
    /* gelu(1) = 0.5 * (1 + erf(0.70710678)) = 0.84134475; gelu(-1) = -0.15865525 */
    EXPECT_VALUES(OK(tensor_gelu(MK(DATA(1, -1, 0), 3))), 1e-6, 0.84134475, -0.15865525, 0);
    END;
}
END_TEST

START_TEST(test_leaky_relu_clamp)
{
    BEGIN;
    Tensor *x = MK(DATA(-2, -0.5, 0, 0.5, 3), 5);
    EXPECT_VALUES(OK(tensor_leaky_relu(x, 0.1f)), 1e-7, -0.2, -0.05, 0, 0.5, 3);
    EXPECT_VALUES(OK(tensor_clamp(x, -1, 1)), 0, -1, -0.5, 0, 0.5, 1);
    EXPECT_VALUES(OK(tensor_clamp(x, -INFINITY, 0.25f)), 0, -2, -0.5, 0, 0.25, 0.25);
    EXPECT_VALUES(OK(tensor_clamp(x, 0, INFINITY)), 0, 0, 0, 0, 0.5, 3);
    EXPECT_VALUES(OK(tensor_clamp(x, 0.5f, 0.5f)), 0, 0.5, 0.5, 0.5, 0.5, 0.5);
    /* torch.clamp(x, 1, -1) is -1 everywhere (min > max: max wins); a NaN bound gives
     * NaN everywhere (torch.clamp(x, float('nan'), 1) in PyTorch 1.13) */
    EXPECT_VALUES(OK(tensor_clamp(x, 1, -1)), 0, -1, -1, -1, -1, -1);
    EXPECT_VALUES(OK(tensor_clamp(MK(DATA(NAN, 5), 2), 1, -1)), 0, NAN, -1);
    EXPECT_VALUES(OK(tensor_clamp(x, NAN, 1)), 0, NAN, NAN, NAN, NAN, NAN);
    END;
}
END_TEST

START_TEST(test_unary_0d)
{
    BEGIN;
    Tensor *s = OK(tensor_exp(OK(tensor_scalar(1))));
    EXPECT_SCALAR(s);
    ck_assert_close(tensor_item(s), 2.718281828, 1e-6);
    EXPECT_SCALAR(OK(tensor_relu(OK(tensor_scalar(-3)))));
    EXPECT_SCALAR(OK(tensor_clamp(OK(tensor_scalar(-3)), 0, 1)));
    EXPECT_SHAPE(OK(tensor_sigmoid(OK(tensor_zeros(SHAPE(0), 1)))), 0);
    END;
}
END_TEST

void add_elementwise_tests(Suite *s)
{
    GRADED(s, test_binary_same_shape, 4);
    GRADED(s, test_broadcast_worked_example, 5);
    GRADED(s, test_broadcast_3d_naive, 3);
    GRADED(s, test_broadcast_error, 3);
    GRADED(s, test_binary_noncontiguous, 4);
    GRADED(s, test_binary_empty, 2);
    GRADED(s, test_pow_maximum_minimum, 3);
    GRADED(s, test_comparisons, 3);
    GRADED(s, test_where, 3);
    GRADED(s, test_scalar_ops, 2);
    GRADED(s, test_unary_math, 4);
    GRADED(s, test_unary_log_sqrt, 2);
    GRADED(s, test_sigmoid_stable, 3);
    GRADED(s, test_gelu, 2);
    GRADED(s, test_leaky_relu_clamp, 3);
    GRADED(s, test_unary_0d, 2);
}
