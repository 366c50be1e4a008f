/*
 * suite.c - fused kernels against the ops they stand for (tensor/fused.c, and
 * nn_sequential_forward's ReLU-then-MaxPool2d pair). A fusion is a speed-up only: its
 * values and gradients must be those of the separate ops bit for bit, on the inputs
 * where the two could drift apart (ties, zeros of either sign, negative windows, NaN).
 *
 * Like tests/bad_input, this suite is outside the weekly grade (the fused code ships
 * solved in every handout); `make test` and `make memcheck` run it.
 */
#include "strata_test.h"
#include "nn.h"

const char *const SUITE_NAME = "fusion";

/* Whether a and b hold the same bits (so NaN equals NaN and -0 differs from +0). */
static void assert_same_bits(const Tensor *a, const Tensor *b, const char *what)
{
    ck_assert_msg(tensor_same_shape(a, b), "%s: shapes differ", what);
    Tensor *ca = OK(tensor_contiguous(a)), *cb = OK(tensor_contiguous(b));
    int64_t n = tensor_numel(ca);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&ca->data[i], &cb->data[i], sizeof(float)) == 0,
                      "%s: element %lld differs (%g against %g)", what, (long long)i,
                      (double)ca->data[i], (double)cb->data[i]);
}

/* [2, 3, 6, 8] with every kind of window: random values, and some set to ties, +0, -0,
 * all-negative windows and NaN. */
static Tensor *awkward_images(void)
{
    Tensor *x = OK(tensor_randn(SHAPE(2, 3, 6, 8), 4));
    float *d = x->data;
    d[0] = d[1] = d[8] = d[9] = 0.0f;           /* a window of +0 */
    d[2] = -0.0f, d[3] = 0.0f, d[10] = -1.0f;   /* -0 before +0, one negative */
    d[11] = -0.0f;
    d[4] = d[5] = d[12] = d[13] = -2.0f;        /* all negative, tied */
    d[6] = 1.5f, d[7] = 1.5f, d[14] = 1.5f;     /* a positive tie */
    d[16] = NAN;                                /* NaN first in its window */
    d[27] = NAN, d[18] = 3.0f;                  /* NaN last, after a larger value */
    d[48 + 9] = -0.0f, d[48 + 8] = -0.0f;       /* -0 ties */
    return x;
}

/* Forward: pooled values and chosen positions equal tensor_max_pool2d(tensor_relu(x)). */
START_TEST(relu_max_pool_forward_matches_the_two_ops)
{
    BEGIN;
    Tensor *x = awkward_images();
    Window2d windows[3] = {window2d(2, 2, 0), window2d(3, 2, 1), window2d(2, 1, 0)};
    for (int k = 0; k < 3; k++) {
        Tensor *idx_fused = NULL, *idx_plain = NULL;
        Tensor *fused = OK(tensor_relu_max_pool2d(x, windows[k], &idx_fused));
        Tensor *plain = OK(tensor_max_pool2d(OK(tensor_relu(x)), windows[k], &idx_plain));
        assert_same_bits(fused, plain, "pooled values");
        assert_same_bits(idx_fused, idx_plain, "indices");
    }
    END;
}
END_TEST

/* Backward: the gradient equals max pooling's backward followed by ReLU's, computed by
 * the autograd engine on the separate ops. */
START_TEST(relu_max_pool_backward_matches_the_two_ops)
{
    BEGIN;
    Tensor *data = awkward_images();
    Window2d windows[2] = {window2d(2, 2, 0), window2d(3, 2, 1)};
    for (int k = 0; k < 2; k++) {
        Var *xf = OKV(var_new(OK(tensor_clone(data)), true));
        Var *xp = OKV(var_new(OK(tensor_clone(data)), true));
        Var *yf = OKV(var_relu_max_pool2d(xf, windows[k]));
        Var *yp = OKV(var_max_pool2d(OKV(var_relu(xp)), windows[k]));
        assert_same_bits(yf->data, yp->data, "values");
        /* an upstream gradient with both signs and a -0 */
        Tensor *g = OK(tensor_randn(yf->data->shape, 4));
        g->data[1] = -0.0f;
        ck_assert_int_eq(var_backward_ex(yf, g, false), 0);
        ck_assert_int_eq(var_backward_ex(yp, g, false), 0);
        assert_same_bits(var_grad(xf), var_grad(xp), "input gradients");
    }
    END;
}
END_TEST

/* A bad index is refused with a message naming it, and nothing is returned. */
START_TEST(relu_max_pool_backward_refuses_bad_indices)
{
    BEGIN;
    Tensor *x = OK(tensor_randn(SHAPE(1, 1, 4, 4), 4));
    Tensor *idx = NULL;
    Tensor *y = OK(tensor_relu_max_pool2d(x, window2d(2, 2, 0), &idx));
    Tensor *g = OK(tensor_ones(y->shape, 4));
    idx->data[3] = 16.0f; /* one past the plane */
    ck_assert_ptr_null(tensor_relu_max_pool2d_backward(g, y, idx, x->shape));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "16"));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "tensor_relu_max_pool2d_backward"));
    END;
}
END_TEST

/* nn_sequential's fused pair: a small CNN's output and every parameter's gradient equal
 * those of running its children one by one (no fusion). A hook on the ReLU turns the
 * fusion off for that pair (the hook runs, on the ReLU's own output). */
static Module *small_cnn(void)
{
    strata_manual_seed(7);
    return nn_sequential(6, nn_conv2d(2, 4, 3, 1, 1, 1, true), nn_relu(),
                         nn_max_pool2d(2, 0, 0), nn_flatten(1, -1),
                         nn_linear(4 * 3 * 4, 5, true), nn_relu());
}

static Var *children_one_by_one(Module *seq, Var *x)
{
    Var *h = x;
    for (int i = 0; i < seq->num_children && h; i++)
        h = nn_forward(seq->children[i].module, h);
    return h;
}

static int hook_calls;
static Var *count_hook(Module *m, Var *const *inputs, int n, Var *output, void *user)
{
    (void)m, (void)inputs, (void)n, (void)user;
    hook_calls++;
    return output;
}

START_TEST(sequential_relu_max_pool_matches_children)
{
    BEGIN;
    Module *fused = small_cnn(), *plain = small_cnn();
    Tensor *data = OK(tensor_randn(SHAPE(3, 2, 6, 8), 4));
    Var *yf = OKV(nn_forward(fused, OKV(var_new(data, false))));
    Var *yp = OKV(children_one_by_one(plain, OKV(var_new(data, false))));
    assert_same_bits(yf->data, yp->data, "outputs");
    ck_assert_int_eq(var_backward(OKV(var_sum(yf, NULL, 0, false))), 0);
    ck_assert_int_eq(var_backward(OKV(var_sum(yp, NULL, 0, false))), 0);
    int nf = 0, np = 0;
    Var **pf = nn_parameters(fused, &nf), **pp = nn_parameters(plain, &np);
    ck_assert_int_eq(nf, np);
    for (int i = 0; i < nf; i++)
        assert_same_bits(var_grad(pf[i]), var_grad(pp[i]), "parameter gradients");
    strata_free(pf);
    strata_free(pp);
    hook_calls = 0;
    ck_assert_int_ge(nn_register_forward_hook(fused->children[1].module, count_hook, NULL), 0);
    OKV(nn_forward(fused, OKV(var_new(data, false))));
    ck_assert_int_eq(hook_calls, 1);
    nn_module_free(fused);
    nn_module_free(plain);
    END;
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    GRADED(s, relu_max_pool_forward_matches_the_two_ops, 1);
    GRADED(s, relu_max_pool_backward_matches_the_two_ops, 1);
    GRADED(s, relu_max_pool_backward_refuses_bad_indices, 1);
    GRADED(s, sequential_relu_max_pool_matches_children, 1);
    return s;
}
