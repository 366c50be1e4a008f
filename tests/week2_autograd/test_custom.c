/*
 * test_custom.c - var_custom: a custom op's backward is called by the engine, its
 * gradient is checked like a built-in op's, and a wrong-shaped or missing gradient, or a
 * failing backward, is reported.
 * Gradient hooks (var_set_grad_hook): each part of a leaf's gradient is reported while
 * backward runs, the last one marked, and a failing hook fails backward.
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

/* a backward that forgets its input's gradient: returns 0 with grads[0] still NULL */
static int no_gradient(const Tensor *grad, Var *const *inputs, int n, const Tensor *output,
                       void *ctx, Tensor **grads)
{
    (void)grad, (void)inputs, (void)n, (void)output, (void)ctx, (void)grads;
    return 0;
}

/* a backward that fails with its own message */
static int failing_backward(const Tensor *grad, Var *const *inputs, int n,
                            const Tensor *output, void *ctx, Tensor **grads)
{
    (void)grad, (void)inputs, (void)n, (void)output, (void)ctx, (void)grads;
    strata_set_error("failing_backward: told to fail");
    return -1;
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

    /* no gradient for an input that requires one is an error naming the op, not a
     * gradient silently lost */
    Var *q = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *lost = OKV(var_custom("forgetful", OK(tensor_clone(var_data(q))), &q, 1, no_gradient,
                               NULL));
    EXPECT_FAIL_ERR(var_backward(OKV(var_sum(lost, NULL, 0, false))), "'forgetful'",
                    "no gradient");
    ck_assert_ptr_null(var_grad(q));
    /* a backward's own failure reaches the caller under var_backward's name */
    Var *f = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *bad = OKV(var_custom("failing", OK(tensor_clone(var_data(f))), &f, 1,
                              failing_backward, NULL));
    strata_clear_error();
    ck_assert_int_eq(var_backward(OKV(var_sum(bad, NULL, 0, false))), -1);
    const char *msg = strata_last_error();
    ck_assert_msg(strncmp(msg, "var_backward", 12) == 0 && strstr(msg, "told to fail"),
                  "var_backward through a failing backward: message \"%s\", expected "
                  "\"var_backward...told to fail\"",
                  msg);
    END;
}
END_TEST

/* What a hook saw: each part's two values, whether it was the last, and .grad then. */
typedef struct HookLog {
    int calls, last_call;
    float parts[4][2];
    bool grad_was_null;
    int fail_at; /* return -1 on this call (1-based; 0: never) */
} HookLog;

static int log_hook(Var *leaf, const Tensor *grad, bool last, void *ctx)
{
    HookLog *log = ctx;
    if (log->calls < 4) {
        log->parts[log->calls][0] = grad->data[0];
        log->parts[log->calls][1] = grad->data[1];
    }
    log->calls++;
    if (last)
        log->last_call = log->calls;
    log->grad_was_null &= var_grad(leaf) == NULL;
    if (log->calls == log->fail_at) {
        strata_set_error("log_hook: told to fail");
        return -1;
    }
    return 0;
}

/* loss = sum(x * x + 3 x): x * x reads x twice, 3 x once: three parts. */
static Var *square_plus_3x(Var *x)
{
    return var_sum(var_add(var_mul(x, x), var_mul_scalar(x, 3.0f)), NULL, 0, false);
}

START_TEST(test_grad_hook)
{
    BEGIN;
    HookLog log = {.grad_was_null = true};
    Var *x = OKV(var_new(MK(DATA(1, -2), 2), true));
    OK0(var_set_grad_hook(x, log_hook, &log));
    OK0(var_backward(OKV(square_plus_3x(x))));
    /* by hand, x = [1, -2]: the parts are x, x (from x * x) and [3, 3]; their sum
     * 2 x + 3 = [5, -1] is the gradient. Only the third part is the last. */
    ck_assert_int_eq(log.calls, 3);
    ck_assert_int_eq(log.last_call, 3);
    ck_assert(log.grad_was_null); /* .grad is written after the walk, all parts at once */
    int ones = 0, threes = 0;
    for (int k = 0; k < 3; k++) {
        ones += log.parts[k][0] == 1.0f && log.parts[k][1] == -2.0f;
        threes += log.parts[k][0] == 3.0f && log.parts[k][1] == 3.0f;
    }
    ck_assert_int_eq(ones, 2);
    ck_assert_int_eq(threes, 1);
    EXPECT_GRAD(x, 0, 5, -1);

    /* A recorded op that backward does not reach keeps `last` false. */
    log = (HookLog){.grad_was_null = true};
    var_zero_grad(x, true);
    Var *unused = OKV(var_exp(x));
    OK0(var_backward(OKV(square_plus_3x(x))));
    ck_assert_int_eq(log.calls, 3);
    ck_assert_int_eq(log.last_call, 0);
    (void)unused;

    /* A failing hook fails backward, and .grad stays as it was. */
    log = (HookLog){.fail_at = 2};
    strata_clear_error();
    ck_assert_int_eq(var_backward(OKV(square_plus_3x(x))), -1);
    ck_assert(strstr(strata_last_error(), "told to fail")); /* the hook's own message */
    EXPECT_GRAD(x, 0, 5, -1);

    /* Removed: not called. Only a leaf takes a hook. */
    OK0(var_set_grad_hook(x, NULL, NULL));
    log = (HookLog){0};
    OK0(var_backward(OKV(square_plus_3x(x))));
    ck_assert_int_eq(log.calls, 0);
    EXPECT_GRAD(x, 0, 10, -2);
    Var *y = OKV(var_mul_scalar(x, 2.0f));
    EXPECT_FAIL_ERR(var_set_grad_hook(y, log_hook, &log), "var_set_grad_hook", "leaf");
    END;
}
END_TEST

void add_custom_tests(Suite *s)
{
    GRADED(s, test_custom_op, 2);
    GRADED(s, test_grad_hook, 2);
}
