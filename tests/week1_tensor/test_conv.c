/*
 * test_conv.c - window2d, im2col/col2im, conv2d, max/avg pooling and their backward
 * passes (conv2d's too), each against a naive sliding window written here.
 *
 * For a window w, output position (oh, ow) and tap (i, j) read input row
 * h = oh*stride_h - padding_h + i*dilation_h (and likewise for columns); a position
 * outside [0, H) x [0, W) is padding: 0 for im2col/conv/avg, -inf for max.
 */
#include "common.h"

static int64_t out_size(int64_t in, int k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* x[n][c][h][w] if inside the image, else @p pad. */
static float px(const Tensor *x, int64_t n, int64_t c, int64_t h, int64_t w, float pad)
{
    if (h < 0 || h >= x->shape[2] || w < 0 || w >= x->shape[3])
        return pad;
    return AT(x, n, c, h, w);
}

/* The naive unfold: [N, C*kh*kw, L] in row-major order into @p out. */
static void naive_im2col(const Tensor *x, Window2d w, float *out)
{
    int64_t N = x->shape[0], C = x->shape[1];
    int64_t OH = out_size(x->shape[2], w.kernel_h, w.stride_h, w.padding_h, w.dilation_h);
    int64_t OW = out_size(x->shape[3], w.kernel_w, w.stride_w, w.padding_w, w.dilation_w);
    int64_t rows = C * w.kernel_h * w.kernel_w, L = OH * OW;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int i = 0; i < w.kernel_h; i++)
                for (int j = 0; j < w.kernel_w; j++)
                    for (int64_t oh = 0; oh < OH; oh++)
                        for (int64_t ow = 0; ow < OW; ow++) {
                            int64_t row = (c * w.kernel_h + i) * w.kernel_w + j;
                            int64_t h = oh * w.stride_h - w.padding_h + i * w.dilation_h;
                            int64_t ww = ow * w.stride_w - w.padding_w + j * w.dilation_w;
                            out[(n * rows + row) * L + oh * OW + ow] = px(x, n, c, h, ww, 0);
                        }
}

static void check_im2col(const Tensor *x, Window2d w)
{
    int64_t N = x->shape[0], C = x->shape[1];
    int64_t OH = out_size(x->shape[2], w.kernel_h, w.stride_h, w.padding_h, w.dilation_h);
    int64_t OW = out_size(x->shape[3], w.kernel_w, w.stride_w, w.padding_w, w.dilation_w);
    Tensor *cols = OK(tensor_im2col(x, w));
    EXPECT_SHAPE(cols, N, C * w.kernel_h * w.kernel_w, OH * OW);
    int64_t n = N * C * w.kernel_h * w.kernel_w * OH * OW;
    float *want = malloc(sizeof(float) * (size_t)n);
    naive_im2col(x, w, want);
    check_values_(cols, want, n, 0, "im2col");
    free(want);
}

START_TEST(test_window2d)
{
    BEGIN;
    Window2d w = window2d(3, 2, 1);
    ck_assert_int_eq(w.kernel_h, 3);
    ck_assert_int_eq(w.kernel_w, 3);
    ck_assert_int_eq(w.stride_h, 2);
    ck_assert_int_eq(w.stride_w, 2);
    ck_assert_int_eq(w.padding_h, 1);
    ck_assert_int_eq(w.padding_w, 1);
    ck_assert_int_eq(w.dilation_h, 1);
    ck_assert_int_eq(w.dilation_w, 1);
    END;
}
END_TEST

/* A hand example: x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], 2x2 windows, stride 1. */
START_TEST(test_im2col_hand)
{
    BEGIN;
    Tensor *x = MK(DATA(1, 2, 3, 4, 5, 6, 7, 8, 9), 1, 1, 3, 3);
    Tensor *cols = OK(tensor_im2col(x, window2d(2, 1, 0)));
    EXPECT_SHAPE(cols, 1, 4, 4);
    /* row = tap (i, j); column = window (oh, ow): row 0 holds the top-left of each window */
    EXPECT_VALUES(cols, 0, 1, 2, 4, 5, /* tap (0,0) */
                  2, 3, 5, 6,          /* tap (0,1) */
                  4, 5, 7, 8,          /* tap (1,0) */
                  5, 6, 8, 9);         /* tap (1,1) */
    END;
}
END_TEST

START_TEST(test_im2col_naive)
{
    BEGIN;
    Tensor *x = PATTERN(151, 2, 3, 5, 6);
    check_im2col(x, window2d(3, 1, 1));   /* same padding */
    check_im2col(x, window2d(2, 2, 0));   /* non-overlapping */
    check_im2col(x, window2d(3, 2, 1));   /* stride and padding */
    Window2d rect = {.kernel_h = 2, .kernel_w = 3, .stride_h = 1, .stride_w = 2,
                     .padding_h = 0, .padding_w = 1, .dilation_h = 1, .dilation_w = 1};
    check_im2col(x, rect);
    /* "same" windows on thin images and a kernel wider than the image: every tap of
     * some rows or columns falls in the padding */
    check_im2col(PATTERN(154, 1, 2, 1, 6), window2d(3, 1, 1));
    check_im2col(PATTERN(155, 1, 2, 6, 1), window2d(3, 1, 1));
    check_im2col(PATTERN(156, 2, 1, 3, 4), window2d(5, 1, 2));
    END;
}
END_TEST

START_TEST(test_im2col_dilation_noncontiguous)
{
    BEGIN;
    Tensor *x = PATTERN(152, 1, 2, 7, 7);
    Window2d dil = {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
                    .padding_h = 2, .padding_w = 2, .dilation_h = 2, .dilation_w = 2};
    check_im2col(x, dil);
    /* an NHWC buffer permuted to NCHW: a non-contiguous input */
    Tensor *nhwc = PATTERN(153, 2, 4, 5, 3);
    Tensor *nchw = OK(tensor_permute(nhwc, DIMS(0, 3, 1, 2)));
    check_im2col(nchw, window2d(3, 1, 1));
    END;
}
END_TEST

START_TEST(test_im2col_errors)
{
    BEGIN;
    Tensor *x = OK(tensor_zeros(SHAPE(1, 1, 2, 2), 4));
    EXPECT_NULL_ERR(tensor_im2col(x, window2d(3, 1, 0)), "tensor_im2col", NULL);
    EXPECT_NULL_ERR(tensor_im2col(x, window2d(1, 0, 0)), "tensor_im2col", NULL);
    EXPECT_NULL_ERR(tensor_im2col(x, window2d(1, 1, -1)), "tensor_im2col", NULL);
    EXPECT_NULL_ERR(tensor_im2col(OK(tensor_zeros(SHAPE(2, 2), 2)), window2d(1, 1, 0)),
                    "tensor_im2col", NULL);
    END;
}
END_TEST

/* col2im is the adjoint of im2col: <im2col(x), y> = <x, col2im(y)> for any x, y. */
START_TEST(test_col2im_adjoint)
{
    BEGIN;
    Window2d dil = {.kernel_h = 2, .kernel_w = 3, .stride_h = 1, .stride_w = 2,
                    .padding_h = 1, .padding_w = 0, .dilation_h = 2, .dilation_w = 2};
    Window2d ws[4] = {window2d(3, 1, 1), window2d(3, 2, 1), window2d(2, 2, 0), dil};
    for (int k = 0; k < 4; k++) {
        Window2d w = ws[k];
        Tensor *x = PATTERN(160 + k, 2, 3, 5, 6);
        Tensor *cx = OK(tensor_im2col(x, w));
        Tensor *y = pattern_tensor(cx->shape, 3, 170 + k);
        Tensor *back = OK(tensor_col2im(y, 3, 5, 6, w));
        EXPECT_SHAPE(back, 2, 3, 5, 6);
        int64_t nc = shape_numel(cx), nx = shape_numel(x);
        float *a = malloc(sizeof(float) * (size_t)nc), *b = malloc(sizeof(float) * (size_t)nx);
        float *bx = malloc(sizeof(float) * (size_t)nx);
        read_all(cx, a);
        read_all(back, b);
        read_all(x, bx);
        double lhs = 0, rhs = 0;
        for (int64_t i = 0; i < nc; i++)
            lhs += (double)a[i] * y->data[i];
        for (int64_t i = 0; i < nx; i++)
            rhs += (double)bx[i] * b[i];
        free(a);
        free(b);
        free(bx);
        ck_assert_msg(fabs(lhs - rhs) <= 1e-4 * fmax(1, fabs(lhs)),
                      "window %d: <im2col(x), y> = %.9g but <x, col2im(y)> = %.9g", k, lhs, rhs);
    }
    END;
}
END_TEST

START_TEST(test_col2im_hand)
{
    BEGIN;
    /* 2x2 windows with stride 2 do not overlap: col2im(im2col(x)) = x */
    Tensor *x = PATTERN(171, 1, 2, 4, 4);
    Tensor *back = OK(tensor_col2im(OK(tensor_im2col(x, window2d(2, 2, 0))), 2, 4, 4,
                                    window2d(2, 2, 0)));
    float want[32];
    read_all(x, want);
    EXPECT_ARRAY(back, want, 32, 0);
    /* overlapping 2x2 windows, stride 1, on ones of a 3x3 image: each pixel counts
       how many windows cover it = [[1, 2, 1], [2, 4, 2], [1, 2, 1]] */
    Tensor *ones = OK(tensor_ones(SHAPE(1, 4, 4), 3));
    Tensor *cnt = OK(tensor_col2im(ones, 1, 3, 3, window2d(2, 1, 0)));
    EXPECT_SHAPE(cnt, 1, 1, 3, 3);
    EXPECT_VALUES(cnt, 0, 1, 2, 1, 2, 4, 2, 1, 2, 1);
    END;
}
END_TEST

/* y[n,o,oh,ow] = b[o] + sum over c, i, j of w[o,c,i,j] * x[n,c,h,w'] (h, w' the tap's
 * input position, 0 outside the image), in double, row-major [N, O, OH, OW]. */
static void naive_conv(const Tensor *x, const Tensor *wt, const Tensor *bias, Window2d w,
                       int64_t OH, int64_t OW, double *y)
{
    int64_t N = x->shape[0], C = x->shape[1], O = wt->shape[0];
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = bias ? AT(bias, o) : 0;
                    for (int64_t c = 0; c < C; c++)
                        for (int i = 0; i < w.kernel_h; i++)
                            for (int j = 0; j < w.kernel_w; j++)
                                acc += (double)AT(wt, o, c, i, j) *
                                       px(x, n, c, oh * w.stride_h - w.padding_h + i * w.dilation_h,
                                          ow * w.stride_w - w.padding_w + j * w.dilation_w, 0);
                    y[((n * O + o) * OH + oh) * OW + ow] = acc;
                }
}

static void check_conv(const Tensor *x, const Tensor *wt, const Tensor *bias, Window2d w)
{
    int64_t N = x->shape[0], O = wt->shape[0];
    int64_t OH = out_size(x->shape[2], w.kernel_h, w.stride_h, w.padding_h, w.dilation_h);
    int64_t OW = out_size(x->shape[3], w.kernel_w, w.stride_w, w.padding_w, w.dilation_w);
    Tensor *y = OK(tensor_conv2d(x, wt, bias, w));
    EXPECT_SHAPE(y, N, O, OH, OW);
    double *want = malloc(sizeof(double) * (size_t)(N * O * OH * OW));
    naive_conv(x, wt, bias, w, OH, OW, want);
    for (int64_t k = 0; k < N * O * OH * OW; k++)
        ck_assert_msg(close_to(y->data[k], want[k], 1e-5), "conv2d element %lld = %.9g, naive %.9g",
                      (long long)k, (double)y->data[k], want[k]);
    free(want);
}

START_TEST(test_conv2d_hand)
{
    BEGIN;
    /* x = 1..9 in 3x3, kernel [[1, 0], [0, -1]]: x[h][w] - x[h+1][w+1] = -4 everywhere;
       bias 0.5 → -3.5 */
    Tensor *x = MK(DATA(1, 2, 3, 4, 5, 6, 7, 8, 9), 1, 1, 3, 3);
    Tensor *k = MK(DATA(1, 0, 0, -1), 1, 1, 2, 2);
    Tensor *y = OK(tensor_conv2d(x, k, MK(DATA(0.5), 1), window2d(2, 1, 0)));
    EXPECT_SHAPE(y, 1, 1, 2, 2);
    EXPECT_VALUES(y, 1e-6, -3.5, -3.5, -3.5, -3.5);
    END;
}
END_TEST

START_TEST(test_conv2d_naive)
{
    BEGIN;
    Tensor *x = PATTERN(181, 2, 3, 6, 5);
    Tensor *wt = PATTERN(182, 4, 3, 3, 3);
    Tensor *b = PATTERN(183, 4);
    check_conv(x, wt, b, window2d(3, 1, 1));
    check_conv(x, wt, NULL, window2d(3, 2, 0));
    check_conv(x, wt, b, window2d(3, 2, 2));
    Tensor *w1 = PATTERN(184, 2, 3, 1, 1);
    check_conv(x, w1, NULL, window2d(1, 1, 0));
    END;
}
END_TEST

START_TEST(test_conv2d_noncontiguous)
{
    BEGIN;
    Tensor *nhwc = PATTERN(191, 2, 5, 5, 3);
    Tensor *x = OK(tensor_permute(nhwc, DIMS(0, 3, 1, 2)));
    /* a weight stored [C_in, C_out, k, k] and transposed to [C_out, C_in, k, k] */
    Tensor *w0 = PATTERN(192, 3, 2, 3, 3);
    Tensor *wt = OK(tensor_transpose(w0, 0, 1));
    check_conv(x, wt, NULL, window2d(3, 1, 1));
    END;
}
END_TEST

/*
 * conv2d's gradients by the definition: y[n,o,oh,ow] = b[o] + sum over c, i, j of
 * w[o,c,i,j] * x[n,c,h,w'] (h, w' the tap's input position), so each product sends
 * g[n,o,oh,ow] * w[o,c,i,j] to grad_x[n,c,h,w'] and g[n,o,oh,ow] * x[n,c,h,w'] to
 * grad_w[o,c,i,j], and g itself to grad_b[o]. Sums in double, row-major outputs.
 */
static void naive_conv_backward(const Tensor *g, const Tensor *x, const Tensor *wt, Window2d w,
                                double *gx, double *gw, double *gb)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t O = wt->shape[0], OH = g->shape[2], OW = g->shape[3];
    memset(gx, 0, sizeof(double) * (size_t)(N * C * H * W));
    memset(gw, 0, sizeof(double) * (size_t)(O * C * w.kernel_h * w.kernel_w));
    memset(gb, 0, sizeof(double) * (size_t)O);
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double go = AT(g, n, o, oh, ow);
                    gb[o] += go;
                    for (int64_t c = 0; c < C; c++)
                        for (int i = 0; i < w.kernel_h; i++)
                            for (int j = 0; j < w.kernel_w; j++) {
                                int64_t h = oh * w.stride_h - w.padding_h + i * w.dilation_h;
                                int64_t ww = ow * w.stride_w - w.padding_w + j * w.dilation_w;
                                if (h < 0 || h >= H || ww < 0 || ww >= W)
                                    continue;
                                int64_t wi = ((o * C + c) * w.kernel_h + i) * w.kernel_w + j;
                                gx[((n * C + c) * H + h) * W + ww] += go * AT(wt, o, c, i, j);
                                gw[wi] += go * AT(x, n, c, h, ww);
                            }
                }
}

/* Every element of @p t (row-major) within @p tol (relative to max(1, |want|)). */
static void check_doubles(const Tensor *t, const double *want, const char *what, double tol)
{
    int64_t n = shape_numel(t);
    float *got = malloc(sizeof(float) * (size_t)(n ? n : 1));
    read_all(t, got);
    for (int64_t k = 0; k < n; k++)
        ck_assert_msg(close_to(got[k], want[k], tol), "%s[%lld] = %.9g, by the definition %.9g",
                      what, (long long)k, (double)got[k], want[k]);
    free(got);
}

/* Gradients dx, dw, db (as the backward returned them) against naive_conv_backward of
 * the convolution's output gradient @p g; releases them. */
static void check_conv_grads(const Tensor *g, const Tensor *x, const Tensor *wt, Window2d w,
                             Tensor *dx, Tensor *dw, Tensor *db)
{
    int64_t nx = shape_numel(x), nw = shape_numel(wt), O = wt->shape[0];
    double *gx = malloc(sizeof(double) * (size_t)nx), *gw = malloc(sizeof(double) * (size_t)nw);
    double *gb = malloc(sizeof(double) * (size_t)O);
    naive_conv_backward(g, x, wt, w, gx, gw, gb);
    ck_assert_ptr_nonnull(dx);
    ck_assert_ptr_nonnull(dw);
    ck_assert_ptr_nonnull(db);
    check_shape_(dx, x->shape, x->ndim, "grad_input");
    check_shape_(dw, wt->shape, wt->ndim, "grad_weight");
    EXPECT_SHAPE(db, O);
    check_doubles(dx, gx, "grad_input", 1e-4);
    check_doubles(dw, gw, "grad_weight", 1e-4);
    check_doubles(db, gb, "grad_bias", 1e-4);
    tensor_release(dx);
    tensor_release(dw);
    tensor_release(db);
    free(gx);
    free(gw);
    free(gb);
}

/* All three gradients of one configuration against naive_conv_backward. */
static void check_conv_backward(const Tensor *g, const Tensor *x, const Tensor *wt, Window2d w)
{
    Tensor *dx = NULL, *dw = NULL, *db = NULL;
    ck_assert_int_eq(tensor_conv2d_backward(g, x, wt, w, &dx, &dw, &db), 0);
    check_conv_grads(g, x, wt, w, dx, dw, db);
}

START_TEST(test_conv2d_backward_naive)
{
    BEGIN;
    Tensor *x = PATTERN(281, 2, 3, 7, 6);
    Tensor *wt = PATTERN(282, 4, 3, 3, 3);
    check_conv_backward(PATTERN(283, 2, 4, 7, 6), x, wt, window2d(3, 1, 1));
    check_conv_backward(PATTERN(284, 2, 4, 3, 2), x, wt, window2d(3, 2, 0));
    check_conv_backward(PATTERN(285, 2, 4, 5, 4), x, wt, window2d(3, 2, 2));
    Window2d odd = window2d(3, 1, 1); /* 2x3 kernel, stride 1x2, dilation 2x1 */
    odd.kernel_h = 2;
    odd.stride_w = 2;
    odd.dilation_h = 2;
    odd.padding_h = 0;
    Tensor *w23 = PATTERN(286, 2, 3, 2, 3);
    check_conv_backward(PATTERN(287, 2, 2, 5, 3), x, w23, odd);
    /* a transposed grad_output view and a non-contiguous input read the same values */
    Tensor *g_t = OK(tensor_transpose(PATTERN(288, 2, 4, 6, 7), 2, 3)); /* [2, 4, 7, 6] */
    Tensor *x_t = OK(tensor_transpose(PATTERN(289, 2, 3, 6, 7), 2, 3));
    check_conv_backward(g_t, x_t, wt, window2d(3, 1, 1));
    END;
}
END_TEST

/*
 * A batch large enough to be cut into several chunks of images, spread over two
 * threads: the same gradients as one thread (within float rounding, since the threads'
 * partial sums are added in another order) and as the definition, and the same bits
 * on every run with a given thread count.
 */
START_TEST(test_conv2d_backward_threads)
{
    BEGIN;
    int threads = strata_get_num_threads();
    Tensor *x = PATTERN(291, 6, 8, 32, 32);
    Tensor *wt = PATTERN(292, 4, 8, 3, 3);
    Tensor *g = PATTERN(293, 6, 4, 32, 32);
    Window2d w = window2d(3, 1, 1);
    strata_set_num_threads(1);
    check_conv_backward(g, x, wt, w);
    strata_set_num_threads(2);
    check_conv_backward(g, x, wt, w);
    Tensor *a[3], *b[3];
    ck_assert_int_eq(tensor_conv2d_backward(g, x, wt, w, &a[0], &a[1], &a[2]), 0);
    ck_assert_int_eq(tensor_conv2d_backward(g, x, wt, w, &b[0], &b[1], &b[2]), 0);
    strata_set_num_threads(threads);
    for (int k = 0; k < 3; k++) {
        int64_t n = shape_numel(a[k]);
        ck_assert_msg(memcmp(a[k]->data, b[k]->data, sizeof(float) * (size_t)n) == 0,
                      "gradient %d differs between two runs on two threads", k);
        tensor_release(a[k]);
        tensor_release(b[k]);
    }
    END;
}
END_TEST

/*
 * 3x3 convolutions of stride 1 with many channels, where the reference leaves im2col
 * for Winograd's F(2x2, 3x3) and its 4x4 input tiles: every padding up to 2, odd sizes
 * (tiles that stick out of the output), one-pixel outputs, padding on one axis only,
 * non-contiguous operands, and a batch cut into several chunks on each of two threads;
 * forward and all three gradients against the definition.
 */
START_TEST(test_conv2d_3x3_many_channels)
{
    BEGIN;
    int threads = strata_get_num_threads();
    Tensor *wt = PATTERN(311, 16, 16, 3, 3);
    Tensor *b = PATTERN(312, 16);
    Tensor *x = PATTERN(313, 3, 16, 7, 6);
    for (int p = 0; p <= 2; p++) {
        check_conv(x, wt, b, window2d(3, 1, p));
        check_conv_backward(PATTERN(314 + p, 3, 16, 5 + 2 * p, 4 + 2 * p), x, wt,
                            window2d(3, 1, p));
    }
    Window2d rows_only = window2d(3, 1, 1);
    rows_only.padding_w = 0;
    check_conv(x, wt, NULL, rows_only);
    check_conv_backward(PATTERN(317, 3, 16, 7, 4), x, wt, rows_only);
    Tensor *tiny = PATTERN(318, 2, 16, 3, 3); /* a 1x1 output, then 3x3 from padding */
    check_conv(tiny, wt, b, window2d(3, 1, 0));
    check_conv_backward(PATTERN(319, 2, 16, 1, 1), tiny, wt, window2d(3, 1, 0));
    check_conv_backward(PATTERN(320, 2, 16, 3, 3), tiny, wt, window2d(3, 1, 1));
    /* a channels-last input and a weight stored [C_in, C_out, 3, 3], both as views */
    Tensor *x_t = OK(tensor_permute(PATTERN(321, 2, 5, 9, 16), DIMS(0, 3, 1, 2)));
    Tensor *w_t = OK(tensor_transpose(PATTERN(322, 16, 16, 3, 3), 0, 1));
    check_conv(x_t, w_t, b, window2d(3, 1, 1));
    check_conv_backward(PATTERN(323, 2, 16, 5, 9), x_t, w_t, window2d(3, 1, 1));
    /* a batch of 40 on two threads: each thread's 20 images are cut into chunks (the
       reference's chunks hold at most 16) */
    Tensor *xb = PATTERN(324, 40, 16, 10, 10);
    Tensor *wb = PATTERN(325, 32, 16, 3, 3);
    strata_set_num_threads(2);
    check_conv(xb, wb, PATTERN(326, 32), window2d(3, 1, 1));
    check_conv_backward(PATTERN(327, 40, 32, 10, 10), xb, wb, window2d(3, 1, 1));
    strata_set_num_threads(threads);
    END;
}
END_TEST

START_TEST(test_conv2d_backward_partial_and_errors)
{
    BEGIN;
    Tensor *x = PATTERN(301, 2, 3, 5, 5);
    Tensor *wt = PATTERN(302, 4, 3, 3, 3);
    Tensor *g = PATTERN(303, 2, 4, 5, 5);
    Window2d w = window2d(3, 1, 1);
    /* only grad_weight: the same values as when all three are asked for */
    Tensor *dw_only = NULL, *dx = NULL, *dw = NULL, *db = NULL;
    ck_assert_int_eq(tensor_conv2d_backward(g, x, wt, w, NULL, &dw_only, NULL), 0);
    ck_assert_int_eq(tensor_conv2d_backward(g, x, wt, w, &dx, &dw, &db), 0);
    ck_assert(memcmp(dw_only->data, dw->data, sizeof(float) * 4 * 3 * 3 * 3) == 0);
    tensor_release(dw_only);
    tensor_release(dx);
    tensor_release(dw);
    tensor_release(db);
    /* grad_output of the wrong spatial size: an error, and every output set to NULL */
    dx = dw = db = (Tensor *)x;
    EXPECT_FAIL_ERR(tensor_conv2d_backward(PATTERN(304, 2, 4, 3, 3), x, wt, w, &dx, &dw, &db),
                    "tensor_conv2d_backward", "grad_output");
    ck_assert(dx == NULL && dw == NULL && db == NULL);
    /* a weight that does not fit the input, and NULL operands */
    EXPECT_FAIL_ERR(tensor_conv2d_backward(g, x, PATTERN(305, 4, 2, 3, 3), w, &dx, NULL, NULL),
                    "tensor_conv2d", NULL);
    EXPECT_FAIL_ERR(tensor_conv2d_backward(NULL, x, wt, w, &dx, NULL, NULL),
                    "tensor_conv2d_backward", NULL);
    ck_assert(dx == NULL);
    END;
}
END_TEST

START_TEST(test_conv2d_errors)
{
    BEGIN;
    Tensor *x = OK(tensor_zeros(SHAPE(1, 3, 5, 5), 4));
    /* weight's C_in 2 != input's 3 */
    EXPECT_NULL_ERR(tensor_conv2d(x, OK(tensor_zeros(SHAPE(4, 2, 3, 3), 4)), NULL,
                                  window2d(3, 1, 0)), "tensor_conv2d", NULL);
    /* kernel 3x3 in the weight but the window says 2 */
    EXPECT_NULL_ERR(tensor_conv2d(x, OK(tensor_zeros(SHAPE(4, 3, 3, 3), 4)), NULL,
                                  window2d(2, 1, 0)), "tensor_conv2d", NULL);
    /* bias of the wrong length */
    EXPECT_NULL_ERR(tensor_conv2d(x, OK(tensor_zeros(SHAPE(4, 3, 3, 3), 4)),
                                  OK(tensor_zeros(SHAPE(3), 1)), window2d(3, 1, 0)),
                    "tensor_conv2d", NULL);
    EXPECT_NULL_ERR(tensor_conv2d(OK(tensor_zeros(SHAPE(3, 5, 5), 3)),
                                  OK(tensor_zeros(SHAPE(4, 3, 3, 3), 4)), NULL,
                                  window2d(3, 1, 0)), "tensor_conv2d", NULL);
    END;
}
END_TEST

/* Naive max pooling: value and flat index h*W + w of the first maximum. */
static void check_max_pool(const Tensor *x, Window2d w)
{
    int64_t N = x->shape[0], C = x->shape[1], W = x->shape[3];
    int64_t OH = out_size(x->shape[2], w.kernel_h, w.stride_h, w.padding_h, w.dilation_h);
    int64_t OW = out_size(W, w.kernel_w, w.stride_w, w.padding_w, w.dilation_w);
    Tensor *idx = NULL;
    Tensor *y = OK(tensor_max_pool2d(x, w, &idx));
    ck_assert_ptr_nonnull(idx);
    EXPECT_SHAPE(y, N, C, OH, OW);
    EXPECT_SHAPE(idx, N, C, OH, OW);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    float best = -INFINITY;
                    int64_t where = -1;
                    for (int i = 0; i < w.kernel_h; i++)
                        for (int j = 0; j < w.kernel_w; j++) {
                            int64_t h = oh * w.stride_h - w.padding_h + i * w.dilation_h;
                            int64_t ww = ow * w.stride_w - w.padding_w + j * w.dilation_w;
                            float v = px(x, n, c, h, ww, -INFINITY);
                            if (v > best) {
                                best = v;
                                where = h * W + ww;
                            }
                        }
                    ck_assert_close(AT(y, n, c, oh, ow), best, 0);
                    ck_assert_close(AT(idx, n, c, oh, ow), (double)where, 0);
                }
}

START_TEST(test_max_pool2d)
{
    BEGIN;
    /* hand: 4x4 = 0..15, 2x2 stride 2 → maxima 5, 7, 13, 15 at those flat indices */
    Tensor *x = OK(tensor_arange(0, 16, 1));
    Tensor *x4 = OK(tensor_view(x, SHAPE(1, 1, 4, 4), 4));
    Tensor *idx = NULL;
    Tensor *y = OK(tensor_max_pool2d(x4, window2d(2, 2, 0), &idx));
    EXPECT_VALUES(y, 0, 5, 7, 13, 15);
    EXPECT_VALUES(idx, 0, 5, 7, 13, 15);
    Tensor *p = PATTERN(201, 2, 3, 6, 7);
    check_max_pool(p, window2d(2, 2, 0));
    check_max_pool(p, window2d(3, 1, 1));
    check_max_pool(p, window2d(3, 2, 1));
    Window2d dil = {.kernel_h = 2, .kernel_w = 2, .stride_h = 1, .stride_w = 2,
                    .padding_h = 1, .padding_w = 1, .dilation_h = 2, .dilation_w = 3};
    check_max_pool(p, dil); /* torch.nn.functional.max_pool2d(dilation=(2, 3)) */
    /* without indices */
    EXPECT_SHAPE(OK(tensor_max_pool2d(p, window2d(2, 2, 0), NULL)), 2, 3, 3, 3);
    END;
}
END_TEST

/* Padding counts as -inf: an all-negative image never pools to a padded 0. */
START_TEST(test_max_pool2d_padding)
{
    BEGIN;
    Tensor *x = OK(tensor_add_scalar(PATTERN(211, 1, 2, 4, 4), -5.0f)); /* in [-6, -4) */
    check_max_pool(x, window2d(3, 2, 1));
    Tensor *y = OK(tensor_max_pool2d(x, window2d(3, 1, 1), NULL));
    for (int64_t k = 0; k < shape_numel(y); k++)
        ck_assert_msg(y->data[k] < -3.9f, "max_pool2d picked padding: %g", (double)y->data[k]);
    /* A window of -inf only has no larger value: its index is its first tap inside the
     * plane, as PyTorch's (never a padded position). 5x6 of -inf, 3x3, stride 1,
     * padding 1, dilation 2 (rows) and 3 (columns): output 3x2. Row taps of output row
     * oh are oh-1, oh+1, oh+3, so the first inside is row 1, 0, 1; column taps of ow
     * are ow-1, ow+2, ow+5: the first inside is column 2, 0. Index = row*6 + column. */
    Window2d dil = {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
                    .padding_h = 1, .padding_w = 1, .dilation_h = 2, .dilation_w = 3};
    Tensor *idx = NULL;
    Tensor *m = OK(tensor_max_pool2d(OK(tensor_full(SHAPE(1, 1, 5, 6), 4, -INFINITY)), dil,
                                     &idx));
    ck_assert_ptr_nonnull(idx);
    EXPECT_VALUES(m, 0, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY);
    EXPECT_VALUES(idx, 0, 1 * 6 + 2, 1 * 6 + 0, 0 * 6 + 2, 0 * 6 + 0, 1 * 6 + 2, 1 * 6 + 0);
    END;
}
END_TEST

START_TEST(test_max_pool2d_backward)
{
    BEGIN;
    /* overlapping windows (3x3, stride 1, padding 1) pick the same input several times:
       the gradient sums what each window routes there */
    Tensor *x = PATTERN(221, 2, 2, 4, 5);
    Window2d w = window2d(3, 1, 1);
    Tensor *idx = NULL;
    Tensor *y = OK(tensor_max_pool2d(x, w, &idx));
    Tensor *g = pattern_tensor(y->shape, 4, 222);
    Tensor *gx = OK(tensor_max_pool2d_backward(g, idx, x->shape));
    EXPECT_SHAPE(gx, 2, 2, 4, 5);
    float want[80] = {0};
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 2; c++)
            for (int64_t oh = 0; oh < y->shape[2]; oh++)
                for (int64_t ow = 0; ow < y->shape[3]; ow++) {
                    int64_t flat = (int64_t)AT(idx, n, c, oh, ow);
                    want[(n * 2 + c) * 20 + flat] += AT(g, n, c, oh, ow);
                }
    EXPECT_ARRAY(gx, want, 80, 1e-6);
    END;
}
END_TEST

/*
 * The convolution-ReLU-pool op against its definition: pooled[n,c,oh,ow] = max over
 * the window of max(0, y), y the naive convolution's output, and each chosen index
 * names a window position holding that value; backward sends each pooled gradient to
 * its index where the pooled value is positive, then through the naive convolution
 * backward. The 2x2 stride-2 pool runs inside the convolution's own steps (the pooled
 * sink of conv.c and its backward), which tensor_conv2d alone never reaches.
 * A window whose values are all <= 0 pools ReLU's zeros, an exact tie: max pooling
 * keeps the first, so its index must be the window's first position inside the plane.
 * Otherwise the index is checked by what it holds (a naive sum in double may order two
 * nearly equal values differently from the float one).
 */
/* pooled and idx against max(0, y) pooled by @p w; y is [N, C, H, W] row-major. */
static void check_relu_pool(const Tensor *pooled, const Tensor *idx, const double *y,
                            int64_t N, int64_t C, int64_t H, int64_t W, Window2d w)
{
    int64_t OH = out_size(H, w.kernel_h, w.stride_h, w.padding_h, w.dilation_h);
    int64_t OW = out_size(W, w.kernel_w, w.stride_w, w.padding_w, w.dilation_w);
    EXPECT_SHAPE(pooled, N, C, OH, OW);
    EXPECT_SHAPE(idx, N, C, OH, OW);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    const double *plane = y + (n * C + c) * H * W;
                    double best = -INFINITY;
                    bool chosen_in_window = false;
                    int64_t first = -1;
                    int64_t chosen = (int64_t)AT(idx, n, c, oh, ow);
                    for (int i = 0; i < w.kernel_h; i++)
                        for (int j = 0; j < w.kernel_w; j++) {
                            int64_t h = oh * w.stride_h - w.padding_h + i * w.dilation_h;
                            int64_t ww = ow * w.stride_w - w.padding_w + j * w.dilation_w;
                            if (h < 0 || h >= H || ww < 0 || ww >= W)
                                continue;
                            best = fmax(best, fmax(0.0, plane[h * W + ww]));
                            chosen_in_window |= chosen == h * W + ww;
                            first = first < 0 ? h * W + ww : first;
                        }
                    double got = AT(pooled, n, c, oh, ow);
                    ck_assert_msg(close_to(got, best, 1e-5),
                                  "pooled[%lld][%lld][%lld][%lld] = %.9g, by the definition %.9g",
                                  (long long)n, (long long)c, (long long)oh, (long long)ow, got,
                                  best);
                    ck_assert_msg(chosen_in_window, "index %lld is outside its window",
                                  (long long)chosen);
                    ck_assert_msg(best > 0 || chosen == first,
                                  "a window of zeros after ReLU: index %lld, not its first "
                                  "position %lld",
                                  (long long)chosen, (long long)first);
                    ck_assert_msg(close_to(fmax(0.0, plane[chosen]), best, 1e-5),
                                  "index %lld holds %.9g, the window's maximum is %.9g",
                                  (long long)chosen, fmax(0.0, plane[chosen]), best);
                }
}

/* The gradient at the pooled op's input: each pooled gradient to its index where the
 * pooled value is positive (ReLU passed it), summed; [N, C, H, W] row-major doubles. */
static void relu_pool_backward(const Tensor *g, const Tensor *pooled, const Tensor *idx,
                               int64_t H, int64_t W, double *gy)
{
    int64_t N = g->shape[0], C = g->shape[1], OH = g->shape[2], OW = g->shape[3];
    memset(gy, 0, sizeof(double) * (size_t)(N * C * H * W));
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++)
                    if (AT(pooled, n, c, oh, ow) > 0)
                        gy[(n * C + c) * H * W + (int64_t)AT(idx, n, c, oh, ow)] +=
                            AT(g, n, c, oh, ow);
}

START_TEST(test_conv2d_relu_max_pool2d_fused)
{
    BEGIN;
    Tensor *x = PATTERN(311, 2, 3, 8, 17); /* 17 wide: 8 pooled columns after a 3x3 */
    Tensor *wt3 = PATTERN(312, 4, 3, 3, 3), *wt5 = PATTERN(316, 4, 3, 5, 5);
    Tensor *b = PATTERN(313, 4);
    /* the 2x2 stride-2 pool is the fused one (with a bias and without, after a 3x3 and
       a 5x5 convolution); a 3x3 stride-2 pool after a strided convolution is not */
    struct {
        const Tensor *weight, *bias;
        Window2d conv, pool;
    } cases[4] = {{wt3, b, window2d(3, 1, 1), window2d(2, 2, 0)},
                  {wt3, NULL, window2d(3, 1, 1), window2d(2, 2, 0)},
                  {wt5, b, window2d(5, 1, 2), window2d(2, 2, 0)},
                  {wt3, b, window2d(3, 2, 1), window2d(3, 2, 1)}};
    for (int k = 0; k < 4; k++) {
        const Tensor *wt = cases[k].weight, *bias = cases[k].bias;
        Window2d cw = cases[k].conv, pw = cases[k].pool;
        int kh = cw.kernel_h;
        int64_t OH = out_size(8, kh, cw.stride_h, cw.padding_h, 1);
        int64_t OW = out_size(17, kh, cw.stride_w, cw.padding_w, 1);
        int64_t ny = 2 * 4 * OH * OW;
        double *y = malloc(sizeof(double) * (size_t)ny), *gy = malloc(sizeof(double) * (size_t)ny);
        naive_conv(x, wt, bias, cw, OH, OW, y);
        Tensor *idx = NULL;
        Tensor *pooled = OK(tensor_conv2d_relu_max_pool2d(x, wt, bias, cw, pw, &idx));
        ck_assert_ptr_nonnull(idx);
        check_relu_pool(pooled, idx, y, 2, 4, OH, OW, pw);
        /* backward: the pooled gradient routed to the convolution's output, then the
           convolution's own backward by the definition */
        Tensor *g = pattern_tensor(pooled->shape, 4, 314 + k);
        relu_pool_backward(g, pooled, idx, OH, OW, gy);
        Tensor *gconv = OK(tensor_zeros(SHAPE(2, 4, OH, OW), 4));
        for (int64_t e = 0; e < ny; e++)
            gconv->data[e] = (float)gy[e];
        Tensor *dx = NULL, *dw = NULL, *db = NULL;
        ck_assert_int_eq(tensor_conv2d_relu_max_pool2d_backward(g, pooled, idx, x, wt, cw, &dx,
                                                                &dw, &db),
                         0);
        check_conv_grads(gconv, x, wt, cw, dx, dw, db);
        free(y);
        free(gy);
    }
    END;
}
END_TEST

static void check_avg_pool(const Tensor *x, Window2d w)
{
    int64_t N = x->shape[0], C = x->shape[1];
    int64_t OH = out_size(x->shape[2], w.kernel_h, w.stride_h, w.padding_h, w.dilation_h);
    int64_t OW = out_size(x->shape[3], w.kernel_w, w.stride_w, w.padding_w, w.dilation_w);
    Tensor *y = OK(tensor_avg_pool2d(x, w));
    EXPECT_SHAPE(y, N, C, OH, OW);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = 0;
                    for (int i = 0; i < w.kernel_h; i++)
                        for (int j = 0; j < w.kernel_w; j++)
                            acc += px(x, n, c, oh * w.stride_h - w.padding_h + i,
                                      ow * w.stride_w - w.padding_w + j, 0);
                    acc /= w.kernel_h * w.kernel_w; /* padded zeros count */
                    ck_assert_close(AT(y, n, c, oh, ow), acc, 1e-6);
                }
}

START_TEST(test_avg_pool2d)
{
    BEGIN;
    /* 4x4 = 0..15, 2x2 stride 2: (0+1+4+5)/4 = 2.5, then 4.5, 10.5, 12.5 */
    Tensor *x4 = OK(tensor_view(OK(tensor_arange(0, 16, 1)), SHAPE(1, 1, 4, 4), 4));
    EXPECT_VALUES(OK(tensor_avg_pool2d(x4, window2d(2, 2, 0))), 1e-6, 2.5, 4.5, 10.5, 12.5);
    /* padding 1, 3x3, stride 2 on ones: the corner window sees 4 ones of 9 → 4/9 */
    Tensor *ones = OK(tensor_ones(SHAPE(1, 1, 4, 4), 4));
    Tensor *pa = OK(tensor_avg_pool2d(ones, window2d(3, 2, 1)));
    EXPECT_SHAPE(pa, 1, 1, 2, 2);
    EXPECT_VALUES(pa, 1e-6, 4.0 / 9, 6.0 / 9, 6.0 / 9, 1);
    Tensor *p = PATTERN(231, 2, 3, 6, 7);
    check_avg_pool(p, window2d(2, 2, 0));
    check_avg_pool(p, window2d(3, 1, 1));
    END;
}
END_TEST

/* The backward is the adjoint: <avg_pool(x), g> = <x, avg_pool_backward(g)>. */
START_TEST(test_avg_pool2d_backward)
{
    BEGIN;
    Window2d ws[2] = {window2d(2, 2, 0), window2d(3, 2, 1)};
    for (int k = 0; k < 2; k++) {
        Tensor *x = PATTERN(240 + k, 2, 2, 5, 6);
        Tensor *y = OK(tensor_avg_pool2d(x, ws[k]));
        Tensor *g = pattern_tensor(y->shape, 4, 250 + k);
        Tensor *gx = OK(tensor_avg_pool2d_backward(g, x->shape, ws[k]));
        EXPECT_SHAPE(gx, 2, 2, 5, 6);
        double lhs = 0, rhs = 0;
        for (int64_t i = 0; i < shape_numel(y); i++)
            lhs += (double)y->data[i] * g->data[i];
        for (int64_t i = 0; i < 120; i++)
            rhs += (double)x->data[i] * gx->data[i];
        ck_assert_msg(fabs(lhs - rhs) <= 1e-5 * fmax(1, fabs(lhs)),
                      "window %d: <avg_pool(x), g> = %.9g, <x, backward(g)> = %.9g", k, lhs,
                      rhs);
    }
    /* hand: 2x2 stride 2 on 2x2 images, gradient 4 → 1 for each pixel; one image of
     * three channels (batch and channel counts differ, so neither stands for the other) */
    Tensor *gh = OK(tensor_avg_pool2d_backward(OK(tensor_full(SHAPE(1, 3, 1, 1), 4, 4)),
                                               SHAPE(1, 3, 2, 2), window2d(2, 2, 0)));
    EXPECT_SHAPE(gh, 1, 3, 2, 2);
    EXPECT_VALUES(gh, 1e-6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    END;
}
END_TEST

void add_conv_tests(Suite *s)
{
    GRADED(s, test_window2d, 1);
    GRADED(s, test_im2col_hand, 3);
    GRADED(s, test_im2col_naive, 4);
    GRADED(s, test_im2col_dilation_noncontiguous, 2);
    GRADED(s, test_im2col_errors, 2);
    GRADED(s, test_col2im_adjoint, 3);
    GRADED(s, test_col2im_hand, 2);
    GRADED(s, test_conv2d_hand, 3);
    GRADED(s, test_conv2d_naive, 4);
    GRADED(s, test_conv2d_noncontiguous, 2);
    GRADED(s, test_conv2d_errors, 2);
    GRADED(s, test_conv2d_backward_naive, 4);
    GRADED(s, test_conv2d_backward_threads, 3);
    GRADED(s, test_conv2d_3x3_many_channels, 4);
    GRADED(s, test_conv2d_backward_partial_and_errors, 2);
    GRADED(s, test_max_pool2d, 3);
    GRADED(s, test_max_pool2d_padding, 2);
    GRADED(s, test_max_pool2d_backward, 3);
    GRADED(s, test_conv2d_relu_max_pool2d_fused, 3);
    GRADED(s, test_avg_pool2d, 3);
    GRADED(s, test_avg_pool2d_backward, 2);
}
