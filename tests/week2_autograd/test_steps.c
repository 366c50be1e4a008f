/*
 * test_steps.c - one test per early step of the handout's table that needs nothing
 * after it: grad mode alone (step 1), ag_reduce_to_shape alone (step 2), and the engine
 * through an op whose backward week 2 does not write (step 3: var_custom is given):
 * one backward, retain_graph, two leaves fed one gradient, retain_grad.
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

/* pass2(a, b) = a + b for two inputs of one shape, backward g to each: the gradient
 * itself handed on twice (retained, as var_custom's contract says), like add's. */
static int pass2_backward(const Tensor *grad, Var *const *inputs, int n,
                          const Tensor *output, void *ctx, Tensor **grads)
{
    (void)inputs;
    (void)output;
    (void)ctx;
    for (int i = 0; i < n; i++) {
        tensor_retain((Tensor *)grad);
        grads[i] = (Tensor *)grad;
    }
    return 0;
}

static Var *pass2(Var *a, Var *b)
{
    Var *in[2] = {a, b};
    Tensor *value = OK(tensor_add(var_data(a), var_data(b)));
    return OKV(var_custom("pass2", value, in, 2, pass2_backward, NULL));
}

/* Step 3: retain_graph through the given op. y = triple(x), seed [1, 1]: dy/dx = 3 per
 * element. A backward with retain_graph keeps the graph ([3, 3]), a second one
 * accumulates and frees it ([6, 6]), a third is an error that says what happened and
 * changes nothing. */
START_TEST(test_engine_retain_graph_then_freed)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 2), true));
    Tensor *seed = MK(DATA(1, 1), 2);
    Var *y = triple(x);
    OK0(var_backward_ex(y, seed, true));
    EXPECT_GRAD(x, 1e-6, 3, 3);
    OK0(var_backward_ex(y, seed, false));
    EXPECT_GRAD(x, 1e-6, 6, 6);
    EXPECT_FAIL_ERR(var_backward_ex(y, seed, false), "second time", "retain_graph");
    EXPECT_GRAD(x, 1e-6, 6, 6);
    END;
}
END_TEST

/* Step 3: a fresh, contiguous gradient handed to two leaves must not become both
 * leaves' .grad. y = triple(pass2(a, b)), seed [1, 1]: triple's backward makes a new
 * dense 3 g = [3, 3], which pass2 hands to a and b alike, so only its reference count
 * says it is shared. grad a = grad b = [3, 3], two tensors; then triple(a) alone adds
 * [3, 3] to a: grad a = [6, 6], grad b still [3, 3]. */
START_TEST(test_engine_fresh_gradient_does_not_alias)
{
    BEGIN;
    Var *a = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *b = OKV(var_new(MK(DATA(3, 4), 2), true));
    Tensor *seed = MK(DATA(1, 1), 2);
    OK0(var_backward_ex(triple(pass2(a, b)), seed, false));
    EXPECT_GRAD(a, 1e-6, 3, 3);
    EXPECT_GRAD(b, 1e-6, 3, 3);
    ck_assert_msg(var_grad(a) != var_grad(b) &&
                      var_grad(a)->storage != var_grad(b)->storage,
                  "var_backward_ex: a.grad and b.grad are one tensor (or share storage): "
                  "a later accumulation into one would change the other");
    OK0(var_backward_ex(triple(a), seed, false));
    EXPECT_GRAD(a, 1e-6, 6, 6);
    EXPECT_GRAD(b, 1e-6, 3, 3);
    END;
}
END_TEST

/* Step 3: retain_grad keeps a non-leaf's gradient. h = triple(x), y = triple(h), seed
 * [1, 1]: dy/dh = [3, 3], dy/dx = 3 * 3 = [9, 9]. */
START_TEST(test_engine_retain_grad)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *h = triple(x);
    var_retain_grad(h);
    OK0(var_backward_ex(triple(h), MK(DATA(1, 1), 2), false));
    EXPECT_GRAD(h, 1e-6, 3, 3);
    EXPECT_GRAD(x, 1e-6, 9, 9);
    END;
}
END_TEST

void add_step_tests(Suite *s)
{
    GRADED(s, test_grad_mode_flag, 2);
    GRADED(s, test_reduce_to_shape, 3);
    GRADED(s, test_engine_through_a_given_op, 3);
    GRADED(s, test_engine_retain_graph_then_freed, 2);
    GRADED(s, test_engine_fresh_gradient_does_not_alias, 2);
    GRADED(s, test_engine_retain_grad, 2);
}
