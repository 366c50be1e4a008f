/*
 * test_custom.c - var_custom: a custom op's backward is called by the engine, its
 * gradient is checked like a built-in op's, and a wrong-shaped gradient is reported.
 */
#include "common.h"

/* cube: y = x^3, dy/dx = 3 x^2 (computed from the input's value) */
static int cube_backward(const Tensor *grad, Var *const *inputs, int n, const Tensor *output,
                         void *ctx, Tensor **grads)
{
    (void)n;
    (void)output;
    int *calls = ctx;
    (*calls)++;
    Tensor *sq = tensor_mul(var_data(inputs[0]), var_data(inputs[0]));
    Tensor *three_sq = tensor_mul_scalar(sq, 3.0f);
    grads[0] = tensor_mul(grad, three_sq);
    tensor_release(sq);
    tensor_release(three_sq);
    return grads[0] ? 0 : -1;
}

static Var *cube(Var *const *in, int n, void *ctx)
{
    (void)n;
    Tensor *y = tensor_pow_scalar(var_data(in[0]), 3.0f);
    return y ? var_custom("cube", y, in, 1, cube_backward, ctx) : NULL;
}

/* a broken backward: the gradient has the output's shape [2] for an input of shape [2, 2] */
static int sum_rows_wrong(const Tensor *grad, Var *const *inputs, int n, const Tensor *output,
                          void *ctx, Tensor **grads)
{
    (void)inputs;
    (void)n;
    (void)output;
    (void)ctx;
    tensor_retain((Tensor *)grad);
    grads[0] = (Tensor *)grad;
    return 0;
}

START_TEST(test_custom_op)
{
    BEGIN;
    int calls = 0;
    /* by hand: x = [1, -2], sum(cube(x)): grad = 3 x^2 = [3, 12] */
    Var *x = OKV(var_new(MK(DATA(1, -2), 2), true));
    Var *y = OKV(cube(&x, 1, &calls));
    ck_assert(y->requires_grad && !var_is_leaf(y));
    OK0(var_backward(OKV(var_sum(y, NULL, 0, false))));
    EXPECT_GRAD(x, 1e-5, 3, 12);
    ck_assert_int_eq(calls, 1);
    CHECK_GRADS(cube, &calls, transposed_leaf(3, 2));

    Var *m = OKV(var_new(MK(DATA(1, 2, 3, 4), 2, 2), true));
    Var *rows = OKV(var_custom("sum_rows", OK(tensor_sum(var_data(m), DIMS(1), 1, false)),
                               &m, 1, sum_rows_wrong, NULL));
    EXPECT_FAIL_ERR(var_backward(OKV(var_sum(rows, NULL, 0, false))), "'sum_rows'", "shape [2]");
    END;
}
END_TEST

void add_custom_tests(Suite *s)
{
    GRADED(s, test_custom_op, 2);
}
