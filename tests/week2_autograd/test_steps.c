/*
 * test_steps.c - one test per early step of the handout's table that needs nothing
 * after it: grad mode alone (step 1), ag_reduce_to_shape alone (step 2), and the engine
 * through an op whose backward week 2 does not write (step 3: var_custom is given).
 * A student sees points for each of these as soon as the step is done.
 */
#include "autograd_internal.h"
#include "common.h"

/* Step 1: the grad-mode flag alone. It starts on, each no_grad_begin turns it off,
 * and only the matching end of the outermost one turns it back on. */
START_TEST(test_grad_mode_flag)
{
    BEGIN;
    ck_assert_msg(autograd_is_grad_enabled(), "grad mode must start enabled");
    autograd_no_grad_begin();
    ck_assert_msg(!autograd_is_grad_enabled(), "after no_grad_begin: disabled");
    autograd_no_grad_begin();
    autograd_no_grad_end();
    ck_assert_msg(!autograd_is_grad_enabled(), "the outer no-grad block is still open");
    autograd_no_grad_end();
    ck_assert_msg(autograd_is_grad_enabled(), "after the last no_grad_end: enabled again");
    END;
}
END_TEST

/* Step 2: ag_reduce_to_shape alone, against sums written out by hand.
 * g = [[1, 2, 3], [4, 5, 6]] (the gradient of a [2, 3] broadcast result):
 *   to [3]    (a leading dim was added):  [1 + 4, 2 + 5, 3 + 6] = [5, 7, 9]
 *   to [2, 1] (a size-1 dim was repeated): [[1 + 2 + 3], [4 + 5 + 6]] = [[6], [15]]
 *   to [1, 3]:                             [[5, 7, 9]]
 *   to []     (a scalar):                  21
 *   to [2, 3] (nothing broadcast):         g itself, as a new tensor. */
START_TEST(test_reduce_to_shape)
{
    BEGIN;
    Tensor *g = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    struct {
        int64_t shape[2];
        int ndim;
        float want[6];
        int n;
    } cases[] = {
        {{3}, 1, {5, 7, 9}, 3},
        {{2, 1}, 2, {6, 15}, 2},
        {{1, 3}, 2, {5, 7, 9}, 3},
        {{0}, 0, {21}, 1},
        {{2, 3}, 2, {1, 2, 3, 4, 5, 6}, 6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Tensor *r = ag_reduce_to_shape(g, cases[c].shape, cases[c].ndim);
        ck_assert_msg(r != NULL, "ag_reduce_to_shape case %zu returned NULL: %s", c,
                      strata_last_error());
        ck_assert_msg(r != g, "ag_reduce_to_shape case %zu: the result must be a new tensor "
                              "(the caller's scope holds it), not grad itself", c);
        ck_assert_int_eq(r->ndim, cases[c].ndim);
        for (int d = 0; d < cases[c].ndim; d++)
            ck_assert_int_eq(r->shape[d], cases[c].shape[d]);
        float got[6];
        ck_assert_int_eq(tensor_to_array(r, got), 0);
        for (int i = 0; i < cases[c].n; i++)
            ck_assert_msg(fabsf(got[i] - cases[c].want[i]) < 1e-6f,
                          "ag_reduce_to_shape case %zu, element %d: %g, expected %g", c, i,
                          (double)got[i], (double)cases[c].want[i]);
    }
    END;
}
END_TEST

/* Step 3: the engine through an op whose backward week 2 does not write (var_custom
 * is given): triple(v) = 3 v, backward 3 g. z = triple(triple(x)) at x = [1, 2], seeded
 * with grad_output [1, 1]: dz/dx = 9 per element, [9, 9]; a second graph and backward
 * accumulate into x.grad: [18, 18]. */
static int triple_backward(const Tensor *grad, Var *const *inputs, int n,
                           const Tensor *output, void *ctx, Tensor **grads)
{
    (void)inputs;
    (void)n;
    (void)output;
    (void)ctx;
    grads[0] = tensor_mul_scalar(grad, 3.0f);
    return grads[0] ? 0 : -1;
}

static Var *triple(Var *v)
{
    Tensor *value = OK(tensor_mul_scalar(var_data(v), 3.0f));
    return OKV(var_custom("triple", value, &v, 1, triple_backward, NULL));
}

START_TEST(test_engine_through_a_given_op)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 2), true));
    Tensor *seed = MK(DATA(1, 1), 2);
    OK0(var_backward_ex(triple(triple(x)), seed, false));
    EXPECT_GRAD(x, 1e-6, 9, 9);
    OK0(var_backward_ex(triple(triple(x)), seed, false));
    EXPECT_GRAD(x, 1e-6, 18, 18);
    END;
}
END_TEST

void add_step_tests(Suite *s)
{
    GRADED(s, test_grad_mode_flag, 2);
    GRADED(s, test_reduce_to_shape, 3);
    GRADED(s, test_engine_through_a_given_op, 3);
}
