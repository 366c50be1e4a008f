/*
 * suite.c - fused kernels against the ops they stand for (tensor/fused.c,
 * var_linear_relu, var_log_softmax_nll, and nn_sequential_forward's ReLU-then-MaxPool2d
 * and Linear-then-ReLU pairs), and the softmax of short rows sixteen at a time against
 * one row at a time. A fusion is a speed-up only: its values and gradients must be
 * those of the separate ops bit for bit, on the inputs where the two could drift apart
 * (ties, zeros of either sign, negative windows, NaN).
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
    /* (ck_abort_msg only on a difference: every ck_assert records its place, a write
     * to Check's pipe, which on tensors of 100K elements costs seconds) */
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&ca->data[i], &cb->data[i], sizeof(float)) != 0)
            ck_abort_msg("%s: element %lld differs (%g against %g)", what, (long long)i,
                         (double)ca->data[i], (double)cb->data[i]);
}

/* The gradients of two models' parameters, in order, bit for bit. */
static void assert_same_parameter_grads(Module *a, Module *b)
{
    int na = 0, nb = 0;
    Var **pa = nn_parameters(a, &na), **pb = nn_parameters(b, &nb);
    ck_assert_int_eq(na, nb);
    for (int i = 0; i < na; i++)
        assert_same_bits(var_grad(pa[i]), var_grad(pb[i]), "parameter gradients");
    strata_free(pa);
    strata_free(pb);
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
    /* 2x2 windows on even sizes; on odd sizes, which leave a row and a column in no
     * window; and 3x3 windows (stride 2, padding 1), whose windows overlap. */
    Tensor *odd = OK(tensor_randn(SHAPE(2, 3, 7, 9), 4));
    odd->data[0] = odd->data[1] = -0.0f, odd->data[9] = odd->data[10] = 0.0f;
    Tensor *inputs[3] = {awkward_images(), odd, awkward_images()};
    Window2d windows[3] = {window2d(2, 2, 0), window2d(2, 2, 0), window2d(3, 2, 1)};
    for (int k = 0; k < 3; k++) {
        Tensor *data = inputs[k];
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

/* 2x2 forward and backward on rows of every length the kernels cut differently (blocks
 * of 8 or 4 outputs, the last one moved back to overlap its neighbour; short rows one
 * at a time), odd and even, with -0, ties and NaN in the input and a -0 gradient. The
 * gradient also checks the indices: it goes where they point. */
START_TEST(relu_max_pool_matches_on_any_row_length)
{
    BEGIN;
    for (int64_t W = 2; W <= 35; W++) {
        Tensor *data = OK(tensor_randn(SHAPE(2, 2, 5, W), 4));
        data->data[0] = -0.0f, data->data[1] = 0.0f, data->data[W] = NAN;
        data->data[W + 1] = 0.5f, data->data[2 * W + 1] = 0.5f;
        Var *xf = OKV(var_new(OK(tensor_clone(data)), true));
        Var *xp = OKV(var_new(OK(tensor_clone(data)), true));
        Var *yf = OKV(var_relu_max_pool2d(xf, window2d(2, 2, 0)));
        Var *yp = OKV(var_max_pool2d(OKV(var_relu(xp)), window2d(2, 2, 0)));
        assert_same_bits(yf->data, yp->data, "values");
        Tensor *g = OK(tensor_randn(yf->data->shape, 4));
        g->data[0] = -0.0f, g->data[1] = -0.0f;
        /* a freed block of the gradient's size, dirty: the allocator hands it out again,
         * so a position the gather forgot to write shows */
        tensor_release(OK(tensor_full(data->shape, 4, 7.0f)));
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

/* ------------------------------------------ convolution, then ReLU and pooling --- */

/* A convolution's operands: N images of C channels (H x W), O 3x3 kernels (padding 1),
 * bias or not, with some outputs exactly 0 and negative (the weights of kernel 0 are 0,
 * its bias -0 or absent). An awkward case (with bias) also has a channel whose outputs
 * are all negative (kernel 1's bias -1000: every window's maximum is a ReLU'd tie of
 * +0 and masks its gradient), windows tied at a positive value (kernel 2 is 0 with
 * bias 0.5), and a NaN and an infinity in the input. */
typedef struct {
    int64_t N, C, H, W, O;
    bool bias, awkward;
} ConvCase;

static void conv_operands(ConvCase c, Tensor **x, Tensor **w, Tensor **b)
{
    *x = OK(tensor_randn(SHAPE(c.N, c.C, c.H, c.W), 4));
    *w = OK(tensor_randn(SHAPE(c.O, c.C, 3, 3), 4));
    memset((*w)->data, 0, (size_t)(c.C * 9) * sizeof(float));
    *b = c.bias ? OK(tensor_randn(SHAPE(c.O), 1)) : NULL;
    if (*b)
        (*b)->data[0] = -0.0f;
    if (c.awkward) {
        (*b)->data[1] = -1000.0f;
        memset((*w)->data + 2 * c.C * 9, 0, (size_t)(c.C * 9) * sizeof(float));
        (*b)->data[2] = 0.5f;
        (*x)->data[c.W + 1] = NAN;                                  /* image 0 */
        (*x)->data[(c.N - 1) * c.C * c.H * c.W + c.W * 2] = INFINITY; /* the last */
    }
}

/* Cases that take each path of the convolution: Winograd (16 channels and more) with a
 * batch of several steps and a last short one, im2col, odd output sizes (a row and a
 * column in no window), no bias, the awkward values, a single window; on one thread
 * and on two. The im2col path pools straight from its product, adding the bias on the
 * way, in blocks of 8 or 4 outputs of a row or one at a time: the last im2col cases
 * have pooled rows of 14 (a CNN's first layer), 8, and 6 and 5 (blocks of 4). */
static const ConvCase CONV_CASES[] = {
    {37, 16, 6, 8, 16, true, false}, {21, 2, 8, 6, 3, true, false},
    {5, 16, 7, 9, 17, false, false}, {9, 3, 5, 7, 4, false, false},
    {6, 16, 8, 8, 16, true, true},   {3, 16, 5, 7, 18, true, true},
    {2, 16, 2, 3, 16, true, false},  {7, 3, 6, 6, 4, true, true},
    {11, 1, 28, 28, 5, true, true},  {3, 2, 9, 17, 3, true, false},
    {4, 2, 10, 12, 3, false, false}, {5, 1, 11, 11, 4, true, true},
};

START_TEST(conv_relu_max_pool_forward_matches_the_ops)
{
    BEGIN;
    for (int threads = 1; threads <= 2; threads++) {
        strata_set_num_threads(threads);
        for (size_t k = 0; k < sizeof CONV_CASES / sizeof *CONV_CASES; k++) {
            Tensor *x, *w, *b;
            conv_operands(CONV_CASES[k], &x, &w, &b);
            Window2d conv = window2d(3, 1, 1);
            Window2d pools[2] = {window2d(2, 2, 0), window2d(3, 2, 1)}; /* fused, not */
            for (int p = 0; p < 2; p++) {
                Tensor *idx_fused = NULL, *idx_plain = NULL;
                Tensor *fused =
                    OK(tensor_conv2d_relu_max_pool2d(x, w, b, conv, pools[p], &idx_fused));
                Tensor *y = OK(tensor_conv2d(x, w, b, conv));
                Tensor *plain = OK(tensor_max_pool2d(OK(tensor_relu(y)), pools[p], &idx_plain));
                assert_same_bits(fused, plain, "pooled values");
                assert_same_bits(idx_fused, idx_plain, "indices");
            }
        }
    }
    strata_set_num_threads(1);
    END;
}
END_TEST

/* Backward: the input, weight and bias gradients equal those the autograd engine
 * computes through the three separate ops. */
START_TEST(conv_relu_max_pool_backward_matches_the_ops)
{
    BEGIN;
    for (int threads = 1; threads <= 2; threads++) {
        strata_set_num_threads(threads);
        for (size_t k = 0; k < sizeof CONV_CASES / sizeof *CONV_CASES; k++) {
            Tensor *x, *w, *b;
            conv_operands(CONV_CASES[k], &x, &w, &b);
            Var *v[2][3];
            for (int f = 0; f < 2; f++) {
                v[f][0] = OKV(var_new(OK(tensor_clone(x)), true));
                v[f][1] = OKV(var_new(OK(tensor_clone(w)), true));
                v[f][2] = b ? OKV(var_new(OK(tensor_clone(b)), true)) : NULL;
            }
            Window2d conv = window2d(3, 1, 1), pool = window2d(2, 2, 0);
            Var *yf = OKV(var_conv2d_relu_max_pool2d(v[0][0], v[0][1], v[0][2], conv, pool));
            Var *yp = OKV(var_max_pool2d(
                OKV(var_relu(OKV(var_conv2d(v[1][0], v[1][1], v[1][2], conv)))), pool));
            assert_same_bits(yf->data, yp->data, "values");
            Tensor *g = OK(tensor_randn(yf->data->shape, 4));
            g->data[1] = -0.0f;
            ck_assert_int_eq(var_backward_ex(yf, g, false), 0);
            ck_assert_int_eq(var_backward_ex(yp, g, false), 0);
            assert_same_bits(var_grad(v[0][0]), var_grad(v[1][0]), "input gradients");
            assert_same_bits(var_grad(v[0][1]), var_grad(v[1][1]), "weight gradients");
            if (b)
                assert_same_bits(var_grad(v[0][2]), var_grad(v[1][2]), "bias gradients");
        }
    }
    strata_set_num_threads(1);
    END;
}
END_TEST

/* The tensor-level backward against the two backward passes it stands for, on
 * Winograd's convolution and im2col's: all three gradients, or one. An index moved to
 * another window (as other pooling windows could choose) still gives the two passes'
 * gradients; an index outside the plane is refused, naming the function, and nothing
 * is returned; so are shapes that do not match. */
START_TEST(conv_relu_max_pool_tensor_backward_matches_the_passes)
{
    BEGIN;
    const ConvCase cases[2] = {{5, 16, 6, 8, 16, true, true}, {4, 2, 6, 8, 3, true, false}};
    Window2d conv = window2d(3, 1, 1), pool = window2d(2, 2, 0);
    /* one thread: a step of several images (im2col's weight gradient alone makes each
     * image's output gradient just before it uses it); two: steps of one */
    for (int run = 0; run < 4; run++) {
        int k = run % 2;
        strata_set_num_threads(1 + run / 2);
        Tensor *x, *w, *b, *idx = NULL;
        conv_operands(cases[k], &x, &w, &b);
        Tensor *y = OK(tensor_conv2d_relu_max_pool2d(x, w, b, conv, pool, &idx));
        Tensor *g = OK(tensor_randn(y->shape, 4));
        for (int pass = 0; pass < 3; pass++) {
            if (pass == 1) /* a gradient of -0 (the scatter makes it +0) */
                for (int64_t i = 0; i < tensor_numel(g); i++)
                    g->data[i] = -0.0f;
            if (pass == 2) /* window 0 of plane 0 names its right neighbour's top left */
                idx->data[0] = 2.0f;
            int64_t conv_shape[4] = {x->shape[0], w->shape[0], 6, 8};
            Tensor *g_conv = OK(tensor_relu_max_pool2d_backward(g, y, idx, conv_shape));
            Tensor *want[3];
            ck_assert_int_eq(
                tensor_conv2d_backward(g_conv, x, w, conv, &want[0], &want[1], &want[2]), 0);
            Tensor *got[3];
            ck_assert_int_eq(tensor_conv2d_relu_max_pool2d_backward(g, y, idx, x, w, conv,
                                                                    &got[0], &got[1], &got[2]),
                             0);
            assert_same_bits(got[0], want[0], "input gradients");
            assert_same_bits(got[1], want[1], "weight gradients");
            assert_same_bits(got[2], want[2], "bias gradients");
            Tensor *only = NULL;
            ck_assert_int_eq(tensor_conv2d_relu_max_pool2d_backward(g, y, idx, x, w, conv, NULL,
                                                                    &only, NULL),
                             0);
            assert_same_bits(only, want[1], "weight gradients alone");
            for (int i = 0; i < 3; i++) {
                tensor_release(want[i]);
                tensor_release(got[i]);
            }
            tensor_release(only);
            tensor_release(g_conv);
        }
        Tensor *got[3] = {x, x, x};
        idx->data[3] = 48.0f; /* one past the 6 x 8 plane */
        ck_assert_int_eq(tensor_conv2d_relu_max_pool2d_backward(g, y, idx, x, w, conv, &got[0],
                                                                &got[1], &got[2]),
                         -1);
        ck_assert_ptr_nonnull(strstr(strata_last_error(), "48"));
        ck_assert_ptr_nonnull(strstr(strata_last_error(), "tensor_conv2d_relu_max_pool2d_backward"));
        for (int i = 0; i < 3; i++)
            ck_assert_ptr_null(got[i]);
        Tensor *small = OK(tensor_randn(SHAPE(5, 3, 3, 3), 4)); /* not y's shape */
        ck_assert_int_eq(tensor_conv2d_relu_max_pool2d_backward(small, y, idx, x, w, conv,
                                                                &got[0], NULL, NULL),
                         -1);
        ck_assert_ptr_null(got[0]);
        ck_assert_ptr_nonnull(strstr(strata_last_error(), "tensor_conv2d_relu_max_pool2d_backward"));
    }
    strata_set_num_threads(1);
    END;
}
END_TEST

/* Bad operands are refused as tensor_conv2d refuses them. */
START_TEST(conv_relu_max_pool_refuses_bad_operands)
{
    BEGIN;
    Tensor *x = OK(tensor_randn(SHAPE(2, 3, 6, 6), 4));
    Tensor *w = OK(tensor_randn(SHAPE(4, 2, 3, 3), 4)); /* 2 input channels, not 3 */
    Tensor *idx = NULL;
    ck_assert_ptr_null(tensor_conv2d_relu_max_pool2d(x, w, NULL, window2d(3, 1, 1),
                                                     window2d(2, 2, 0), &idx));
    ck_assert_ptr_null(idx);
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "tensor_conv2d"));
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
    assert_same_parameter_grads(fused, plain);
    hook_calls = 0;
    ck_assert_int_ge(nn_register_forward_hook(fused->children[1].module, count_hook, NULL), 0);
    OKV(nn_forward(fused, OKV(var_new(data, false))));
    ck_assert_int_eq(hook_calls, 1);
    nn_module_free(fused);
    nn_module_free(plain);
    END;
}
END_TEST

/* ------------------------------------------------------------ Linear, then ReLU --- */

/* A Linear's operands x [B, in], W [out, in], b [out] or none, with outputs exactly +0
 * (W's row 0 is 0 and b[0] is 0: the ReLU's mask must stop their gradient), all
 * negative (b[1] = -1000), a NaN in x (its row's outputs are NaN), and rows of mixed
 * magnitudes, so that a bias gradient summed in float, or in another order, would show. */
typedef struct {
    int64_t B, in, out;
    bool bias;
} LinearCase;

static void linear_operands(LinearCase c, Tensor **x, Tensor **w, Tensor **b)
{
    *x = OK(tensor_randn(SHAPE(c.B, c.in), 2));
    *w = OK(tensor_randn(SHAPE(c.out, c.in), 2));
    memset((*w)->data, 0, (size_t)c.in * sizeof(float));
    for (int64_t r = 0; r < c.B; r += 3) /* every third row a thousand times larger */
        for (int64_t k = 0; k < c.in; k++)
            (*x)->data[r * c.in + k] *= 1000.0f;
    if (c.B > 2)
        (*x)->data[2 * c.in] = NAN;
    *b = c.bias ? OK(tensor_randn(SHAPE(c.out), 1)) : NULL;
    if (*b) {
        (*b)->data[0] = 0.0f;
        if (c.out > 1)
            (*b)->data[1] = -1000.0f;
    }
}

/* Cases: the MLP's shapes at a small batch, odd sizes, no bias, one row, a large one
 * the kernels cut into several chunks on two threads, and every remainder of the rows
 * by four (the bias's sums take four rows per pass). */
static const LinearCase LINEAR_CASES[] = {
    {37, 20, 33, true}, {5, 7, 3, true},      {16, 30, 70, false},
    {1, 4, 9, true},    {300, 8, 300, true}, {129, 64, 10, true},
    {3, 6, 5, true},    {7, 5, 12, true},    {10, 9, 17, true},
};

/* Cases whose GEMM is cut into bands on two threads, the bias and the ReLU run on each
 * band as it is made: two bands of columns, and two of rows with a shorter last one. */
static const LinearCase BANDED_CASES[] = {{32, 256, 512, true}, {200, 300, 96, true}};

/* In the last column with three positive outputs, gradients 1e20, -1e20, 1 down the
 * rows: summed in row order they give 1, in any other order 0 (a bias gradient summed
 * in another order shows). */
static void order_sensitive_column(const Tensor *y, Tensor *g)
{
    const int64_t rows = y->shape[0], cols = y->shape[1];
    const float values[3] = {1e20f, -1e20f, 1.0f};
    for (int64_t j = cols - 1; j >= 0; j--) {
        int64_t at[3], found = 0;
        for (int64_t r = 0; r < rows && found < 3; r++)
            if (y->data[r * cols + j] > 0)
                at[found++] = r;
        if (found == 3) {
            for (int k = 0; k < 3; k++)
                g->data[at[k] * cols + j] = values[k];
            return;
        }
    }
}

/* Values and the gradients of x, W and b (each alone, and all at once) equal those of
 * var_relu(var_linear()), bit for bit, on one thread and on two; an upstream gradient
 * with both signs and a -0, then a uniform one (the backward of a sum). And the values
 * of products cut into bands. */
START_TEST(linear_relu_matches_the_two_ops)
{
    BEGIN;
    for (int threads = 1; threads <= 2; threads++) {
        strata_set_num_threads(threads);
        for (size_t k = 0; k < sizeof LINEAR_CASES / sizeof *LINEAR_CASES; k++) {
            LinearCase c = LINEAR_CASES[k];
            Tensor *xd, *wd, *bd;
            linear_operands(c, &xd, &wd, &bd);
            for (int wants = 1; wants < 8; wants++) { /* which of x, W, b require grad */
                Var *vf[3], *vp[3];
                Tensor *data[3] = {xd, wd, bd};
                for (int i = 0; i < 3; i++) {
                    bool grad = (wants >> i) & 1;
                    vf[i] = data[i] ? OKV(var_new(OK(tensor_clone(data[i])), grad)) : NULL;
                    vp[i] = data[i] ? OKV(var_new(OK(tensor_clone(data[i])), grad)) : NULL;
                }
                Var *yf = OKV(var_linear_relu(vf[0], vf[1], vf[2]));
                Var *yp = OKV(var_relu(OKV(var_linear(vp[0], vp[1], vp[2]))));
                assert_same_bits(yf->data, yp->data, "values");
                if (!yf->requires_grad)
                    continue; /* only b, and there is none */
                if (wants == 7) { /* uniform */
                    ck_assert_int_eq(var_backward(OKV(var_sum(yf, NULL, 0, false))), 0);
                    ck_assert_int_eq(var_backward(OKV(var_sum(yp, NULL, 0, false))), 0);
                } else {
                    Tensor *g = OK(tensor_randn(yf->data->shape, 2));
                    g->data[0] = -0.0f;
                    order_sensitive_column(yf->data, g);
                    tensor_release(OK(tensor_full(yf->data->shape, 2, 7.0f))); /* dirty */
                    ck_assert_int_eq(var_backward_ex(yf, g, false), 0);
                    ck_assert_int_eq(var_backward_ex(yp, g, false), 0);
                }
                const char *names[3] = {"input gradient", "weight gradient", "bias gradient"};
                for (int i = 0; i < 3; i++) {
                    if (!vf[i] || !((wants >> i) & 1))
                        continue;
                    assert_same_bits(var_grad(vf[i]), var_grad(vp[i]), names[i]);
                }
            }
        }
        /* values only: their backward is the code above, and under valgrind each of
         * these products takes seconds */
        for (size_t k = 0; k < sizeof BANDED_CASES / sizeof *BANDED_CASES; k++) {
            Tensor *xd, *wd, *bd;
            linear_operands(BANDED_CASES[k], &xd, &wd, &bd);
            Var *x = OKV(var_new(xd, false)), *w = OKV(var_new(wd, false));
            Var *b = OKV(var_new(bd, false));
            assert_same_bits(OKV(var_linear_relu(x, w, b))->data,
                             OKV(var_relu(OKV(var_linear(x, w, b))))->data, "banded values");
        }
    }
    strata_set_num_threads(1);
    END;
}
END_TEST

/* Another shape than [B, in] runs the two ops (same values), and a bad one is refused
 * with var_linear's message. */
START_TEST(linear_relu_other_shapes_run_the_two_ops)
{
    BEGIN;
    Var *x = OKV(var_new(OK(tensor_randn(SHAPE(2, 3, 4), 3)), true));
    Var *w = OKV(var_new(OK(tensor_randn(SHAPE(5, 4), 2)), true));
    Var *b = OKV(var_new(OK(tensor_randn(SHAPE(5), 1)), true));
    assert_same_bits(OKV(var_linear_relu(x, w, b))->data,
                     OKV(var_relu(OKV(var_linear(x, w, b))))->data, "3-D input");
    Var *bad = OKV(var_new(OK(tensor_randn(SHAPE(2, 3), 2)), true));
    ck_assert_ptr_null(var_linear_relu(bad, w, b));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "var_linear"));
    END;
}
END_TEST

/* ---------------------------------------------- a pass on each band of a product --- */

/* nn_sequential's Linear-ReLU pairs: an MLP's output and every parameter's gradient
 * equal those of running its children one by one, while the forward keeps one
 * activation per pair instead of two (the ReLU's input is never made). A hook on the
 * ReLU turns the fusion off for that pair (the hook runs). */
static Module *small_mlp(void)
{
    strata_manual_seed(11);
    return nn_sequential(5, nn_linear(20, 32, true), nn_relu(), nn_linear(32, 16, false),
                         nn_relu(), nn_linear(16, 3, true));
}

START_TEST(sequential_linear_relu_matches_children)
{
    BEGIN;
    Module *fused = small_mlp(), *plain = small_mlp();
    Tensor *data = OK(tensor_randn(SHAPE(64, 20), 2));
    size_t before = strata_mem_stats().bytes_live;
    Var *yf = OKV(nn_forward(fused, OKV(var_new(data, false))));
    size_t kept_fused = strata_mem_stats().bytes_live - before;
    before = strata_mem_stats().bytes_live;
    Var *yp = OKV(children_one_by_one(plain, OKV(var_new(data, false))));
    size_t kept_plain = strata_mem_stats().bytes_live - before;
    /* the two pre-activations, [64, 32] and [64, 16] */
    ck_assert_uint_ge(kept_plain - kept_fused, 64 * (32 + 16) * sizeof(float));
    assert_same_bits(yf->data, yp->data, "outputs");
    Tensor *g = OK(tensor_randn(yf->data->shape, 2));
    ck_assert_int_eq(var_backward_ex(yf, g, false), 0);
    ck_assert_int_eq(var_backward_ex(yp, g, false), 0);
    assert_same_parameter_grads(fused, plain);
    hook_calls = 0;
    ck_assert_int_ge(nn_register_forward_hook(fused->children[3].module, count_hook, NULL), 0);
    assert_same_bits(OKV(nn_forward(fused, OKV(var_new(data, false))))->data, yp->data,
                     "outputs with a hook");
    ck_assert_int_eq(hook_calls, 1);
    nn_module_free(fused);
    nn_module_free(plain);
    END;
}
END_TEST

/* (Soft)max over the last dim of a contiguous [rows, n], n <= 32, takes sixteen rows at
 * a time in vector lanes, and the rows past the last full sixteen one at a time: each row
 * of a [37, n] tensor equals the same row taken alone, bit for bit, for lengths around
 * the eight partial maxima and sums (1, 7, 8, 10, 16, 17, 32) and rows of every kind:
 * NaN, +inf, all -inf, one finite among -inf, huge, tiny, and +0/-0 ties. */
START_TEST(softmax_rows_at_once_match_one_at_a_time)
{
    BEGIN;
    const int64_t lengths[] = {1, 7, 8, 10, 16, 17, 32}, rows = 37;
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        const int64_t n = lengths[k];
        Tensor *x = OK(tensor_randn(SHAPE(rows, n), 2));
        float *d = x->data;
        for (int64_t j = 0; j < n; j++) {
            d[1 * n + j] *= 40.0f;          /* spread: some exps underflow */
            d[3 * n + j] = -INFINITY;       /* all -inf */
            d[4 * n + j] = j == n / 2 ? 2.0f : -INFINITY; /* one finite */
            d[5 * n + j] = 1e30f * (float)(j + 1); /* huge, no overflow after the shift */
            d[6 * n + j] = j % 2 ? 0.0f : -0.0f;   /* ties of +0 and -0 */
            d[20 * n + j] = 1e-30f * (float)j;     /* tiny */
        }
        d[2 * n + n - 1] = NAN;                  /* NaN last */
        d[7 * n] = INFINITY;                     /* +inf first */
        d[21 * n + n / 2] = NAN;                 /* NaN in the second block */
        d[35 * n] = NAN;                         /* NaN in the rows done one at a time */
        for (int log_out = 0; log_out < 2; log_out++) {
            Tensor *all = OK(log_out ? tensor_log_softmax(x, 1) : tensor_softmax(x, 1));
            for (int64_t r = 0; r < rows; r++) {
                Tensor *row = OK(tensor_narrow(x, 0, r, 1)); /* [1, n]: one row alone */
                Tensor *one = OK(log_out ? tensor_log_softmax(row, 1) : tensor_softmax(row, 1));
                Tensor *same = OK(tensor_narrow(all, 0, r, 1));
                assert_same_bits(same, one, log_out ? "log_softmax row" : "softmax row");
                tensor_release(row);
                tensor_release(one);
                tensor_release(same);
            }
            tensor_release(all);
        }
        tensor_release(x);
    }
    END;
}
END_TEST

/* ------------------------------------------- log-softmax, then the picked mean --- */

/* The composed loss var_log_softmax_nll stands for. */
static Var *composed_nll(Var *x, const Tensor *index)
{
    Var *picked = var_squeeze(var_gather(var_log_softmax(x, 1), 1, index), 1);
    return var_mean(var_neg(picked), NULL, 0, false);
}

/* The loss and the gradient of the logits equal the composed ops', bit for bit: row
 * counts around the softmax's blocks of sixteen (5, 37, 128), one class, rows with a
 * NaN, -inf and huge logits, and upstream gradients 1 (var_backward), 0.37, -0 and 0. */
START_TEST(log_softmax_nll_matches_the_ops)
{
    BEGIN;
    const int64_t shapes[][2] = {{5, 1}, {37, 10}, {128, 10}, {16, 3}};
    const float upstream[] = {1.0f, 0.37f, -0.0f, 0.0f};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        const int64_t rows = shapes[k][0], cols = shapes[k][1];
        Tensor *x = OK(tensor_randn(SHAPE(rows, cols), 2));
        Tensor *index = OK(tensor_zeros(SHAPE(rows, 1), 2));
        for (int64_t i = 0; i < rows; i++)
            index->data[i] = (float)((i * 7) % cols);
        if (rows > 3 && cols > 1) {
            x->data[1 * cols + 1] = NAN;
            x->data[2 * cols] = -INFINITY;
            x->data[3 * cols + 1] = 1e30f;
        }
        for (size_t u = 0; u < sizeof upstream / sizeof *upstream; u++) {
            Var *xf = OKV(var_new(OK(tensor_clone(x)), true));
            Var *xp = OKV(var_new(OK(tensor_clone(x)), true));
            Var *lf = OKV(var_log_softmax_nll(xf, index)), *lp = OKV(composed_nll(xp, index));
            assert_same_bits(lf->data, lp->data, "loss");
            if (u == 0) {
                ck_assert_int_eq(var_backward(lf), 0);
                ck_assert_int_eq(var_backward(lp), 0);
            } else {
                Tensor *g = OK(tensor_scalar(upstream[u]));
                ck_assert_int_eq(var_backward_ex(lf, g, false), 0);
                ck_assert_int_eq(var_backward_ex(lp, g, false), 0);
            }
            assert_same_bits(var_grad(xf), var_grad(xp), "logits gradient");
        }
    }
    END;
}
END_TEST

/* Without a graph (no-grad mode) the value alone; bad shapes and indices are refused
 * with a message naming the function. */
START_TEST(log_softmax_nll_value_and_bad_input)
{
    BEGIN;
    Var *x = OKV(var_new(OK(tensor_randn(SHAPE(4, 3), 2)), true));
    Tensor *index = OK(tensor_zeros(SHAPE(4, 1), 2));
    index->data[1] = 2.0f;
    autograd_no_grad_begin();
    Var *loss = OKV(var_log_softmax_nll(x, index));
    autograd_no_grad_end();
    ck_assert(!loss->requires_grad);
    assert_same_bits(loss->data, OKV(composed_nll(x, index))->data, "no-grad value");
    Tensor *bad_shape = OK(tensor_zeros(SHAPE(4), 1));
    ck_assert_ptr_null(var_log_softmax_nll(x, bad_shape));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "var_log_softmax_nll"));
    index->data[3] = 3.0f; /* past the last class */
    ck_assert_ptr_null(var_log_softmax_nll(x, index));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "not a class"));
    index->data[3] = 0.5f;
    ck_assert_ptr_null(var_log_softmax_nll(x, index));
    END;
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    GRADED(s, relu_max_pool_forward_matches_the_two_ops, 1);
    GRADED(s, relu_max_pool_backward_matches_the_two_ops, 1);
    GRADED(s, relu_max_pool_matches_on_any_row_length, 1);
    GRADED(s, relu_max_pool_backward_refuses_bad_indices, 1);
    GRADED(s, sequential_relu_max_pool_matches_children, 1);
    GRADED(s, conv_relu_max_pool_forward_matches_the_ops, 1);
    GRADED(s, conv_relu_max_pool_backward_matches_the_ops, 1);
    GRADED(s, conv_relu_max_pool_tensor_backward_matches_the_passes, 1);
    GRADED(s, conv_relu_max_pool_refuses_bad_operands, 1);
    GRADED(s, linear_relu_matches_the_two_ops, 1);
    GRADED(s, linear_relu_other_shapes_run_the_two_ops, 1);
    GRADED(s, sequential_linear_relu_matches_children, 1);
    GRADED(s, softmax_rows_at_once_match_one_at_a_time, 1);
    GRADED(s, log_softmax_nll_matches_the_ops, 1);
    GRADED(s, log_softmax_nll_value_and_bad_input, 1);
    return s;
}
