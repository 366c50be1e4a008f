/*
 * test_layers.c - Linear, Conv2d, pooling, activations, Embedding, Dropout, Flatten,
 * Identity: forward values against naive loops or formulas, and gradchecks of each.
 */
#include "nn_test.h"

/* Values at the row-major index of a contiguous tensor. */
static float at(const Tensor *t, int64_t i) { return t->data[i]; }

START_TEST(test_linear_forward)
{
    Scope *s = scope_begin();
    strata_manual_seed(11);
    Module *lin = MUST(nn_linear(3, 4, true));
    int64_t xs[3] = {2, 5, 3}; /* extra batch dims are allowed */
    Var *x = randn_var(xs, 3, false);
    Var *y = nn_forward(lin, x);
    ck_assert_ok(y);
    int64_t ys[3] = {2, 5, 4};
    assert_shape(y->data, ys, 3, "Linear output");
    const Tensor *w = nn_get_parameter(lin, "weight")->data;
    const Tensor *b = nn_get_parameter(lin, "bias")->data;
    float expected[40];
    for (int r = 0; r < 10; r++)
        for (int o = 0; o < 4; o++) {
            double acc = at(b, o);
            for (int i = 0; i < 3; i++)
                acc += (double)at(w, o * 3 + i) * at(x->data, r * 3 + i);
            expected[r * 4 + o] = (float)acc;
        }
    assert_values(y->data, expected, 40, 1e-5, "Linear forward");
    /* a 1-D input [3] is one example: [4] out, W x + b */
    const float x1[3] = {1.0f, -2.0f, 0.5f};
    Var *y1 = nn_forward(lin, var_new(make_tensor(x1, (int64_t[]){3}, 1), false));
    ck_assert_ok(y1);
    assert_shape(y1->data, (int64_t[]){4}, 1, "Linear output of a 1-D input");
    for (int o = 0; o < 4; o++) {
        double acc = at(b, o);
        for (int i = 0; i < 3; i++)
            acc += (double)at(w, o * 3 + i) * x1[i];
        expected[o] = (float)acc;
    }
    assert_values(y1->data, expected, 4, 1e-5, "Linear forward of a 1-D input");
    scope_end(s);
    nn_module_free(lin);
}
END_TEST

START_TEST(test_linear_gradcheck)
{
    Scope *s = scope_begin();
    strata_manual_seed(12);
    Module *lin = MUST(nn_linear(4, 3, true));
    Module *nobias = MUST(nn_linear(4, 2, false));
    int64_t xs[2] = {5, 4};
    Var *x[1] = {randn_var(xs, 2, true)};
    check_module_gradients(lin, x, 1);
    check_module_gradients(nobias, x, 1);
    scope_end(s);
    nn_module_free(lin);
    nn_module_free(nobias);
}
END_TEST

/* Naive cross-correlation with stride, padding, dilation (zeros outside). */
static void naive_conv(const Tensor *x, const Tensor *w, const Tensor *b, int stride, int pad,
                       int dil, float *out, int64_t oh, int64_t ow)
{
    int64_t n = x->shape[0], c = x->shape[1], h = x->shape[2], wd = x->shape[3];
    int64_t o = w->shape[0], k = w->shape[2];
    for (int64_t ni = 0; ni < n; ni++)
        for (int64_t oi = 0; oi < o; oi++)
            for (int64_t yi = 0; yi < oh; yi++)
                for (int64_t xi = 0; xi < ow; xi++) {
                    double acc = b ? at(b, oi) : 0;
                    for (int64_t ci = 0; ci < c; ci++)
                        for (int64_t ki = 0; ki < k; ki++)
                            for (int64_t kj = 0; kj < k; kj++) {
                                int64_t r = yi * stride - pad + ki * dil;
                                int64_t q = xi * stride - pad + kj * dil;
                                if (r < 0 || r >= h || q < 0 || q >= wd)
                                    continue;
                                acc += (double)at(w, ((oi * c + ci) * k + ki) * k + kj) *
                                       at(x, ((ni * c + ci) * h + r) * wd + q);
                            }
                    out[((ni * o + oi) * oh + yi) * ow + xi] = (float)acc;
                }
}

START_TEST(test_conv2d_forward)
{
    Scope *s = scope_begin();
    strata_manual_seed(13);
    /* in 2, out 3, kernel 3, stride 2, padding 1, dilation 2 on 7x6 images */
    Module *conv = MUST(nn_conv2d(2, 3, 3, 2, 1, 2, true));
    int64_t xs[4] = {2, 2, 7, 6};
    Var *x = randn_var(xs, 4, false);
    Var *y = nn_forward(conv, x);
    ck_assert_ok(y);
    /* out = floor((7 + 2 - 2*2 - 1) / 2) + 1 = 3, floor((6 + 2 - 4 - 1) / 2) + 1 = 2 */
    int64_t ys[4] = {2, 3, 3, 2};
    assert_shape(y->data, ys, 4, "Conv2d output");
    float expected[36];
    naive_conv(x->data, nn_get_parameter(conv, "weight")->data,
               nn_get_parameter(conv, "bias")->data, 2, 1, 2, expected, 3, 2);
    assert_values(y->data, expected, 36, 1e-4, "Conv2d forward");
    int64_t bad[4] = {1, 3, 5, 5};
    ck_assert_ptr_null(nn_forward(conv, randn_var(bad, 4, false)));
    ck_assert_error("Conv2d: expected input [N, 2, H, W]");
    scope_end(s);
    nn_module_free(conv);
}
END_TEST

START_TEST(test_conv2d_gradcheck)
{
    Scope *s = scope_begin();
    strata_manual_seed(14);
    Module *conv = MUST(nn_conv2d(2, 2, 3, 1, 1, 1, true));
    Module *strided = MUST(nn_conv2d(1, 2, 2, 2, 0, 1, false));
    int64_t xs[4] = {1, 2, 4, 4}, xs2[4] = {2, 1, 4, 4};
    Var *x[1] = {randn_var(xs, 4, true)};
    check_module_gradients(conv, x, 1);
    Var *x2[1] = {randn_var(xs2, 4, true)};
    check_module_gradients(strided, x2, 1);
    scope_end(s);
    nn_module_free(conv);
    nn_module_free(strided);
}
END_TEST

START_TEST(test_pooling)
{
    Scope *s = scope_begin();
    /* One 4x4 plane 0..15: 2x2 max pool gives the bottom-right of each block. */
    float v[16];
    for (int i = 0; i < 16; i++)
        v[i] = (float)i;
    int64_t xs[4] = {1, 1, 4, 4};
    Var *x = make_var(v, xs, 4, false);
    Module *maxp = MUST(nn_max_pool2d(2, 0, 0));
    float max_expected[4] = {5, 7, 13, 15};
    Var *y = nn_forward(maxp, x);
    ck_assert_ok(y);
    assert_values(y->data, max_expected, 4, 0, "MaxPool2d(2)");
    /* Average of each block: (0+1+4+5)/4 = 2.5, ... */
    Module *avgp = MUST(nn_avg_pool2d(2, 0, 0));
    float avg_expected[4] = {2.5f, 4.5f, 10.5f, 12.5f};
    y = nn_forward(avgp, x);
    ck_assert_ok(y);
    assert_values(y->data, avg_expected, 4, 1e-6, "AvgPool2d(2)");
    /* 3x3, stride 1, padding 1 counts the padded zeros: corner = (0+1+4+5)/9 */
    Module *avg_pad = MUST(nn_avg_pool2d(3, 1, 1));
    y = nn_forward(avg_pad, x);
    ck_assert_ok(y);
    ck_assert_close(tensor_get(y->data, (int64_t[]){0, 0, 0, 0}), 10.0 / 9.0, 1e-6);
    ck_assert_close(tensor_get(y->data, (int64_t[]){0, 0, 1, 1}), 45.0 / 9.0, 1e-6);
    /* Gradchecks on random (tie-free) inputs. */
    strata_manual_seed(15);
    int64_t rs[4] = {2, 2, 5, 5};
    Var *r[1] = {randn_var(rs, 4, true)};
    Module *maxp3 = MUST(nn_max_pool2d(3, 2, 1));
    check_module_gradients(maxp3, r, 1);
    check_module_gradients(avg_pad, r, 1);
    scope_end(s);
    nn_module_free(maxp);
    nn_module_free(avgp);
    nn_module_free(avg_pad);
    nn_module_free(maxp3);
}
END_TEST

START_TEST(test_activations_forward)
{
    Scope *s = scope_begin();
    float v[4] = {-2, -0.5f, 0.5f, 3};
    int64_t xs[2] = {2, 2};
    Var *x = make_var(v, xs, 2, false);
    Module *mods[7] = {MUST(nn_relu()), MUST(nn_leaky_relu(0.1f)), MUST(nn_sigmoid()),
                       MUST(nn_tanh()), MUST(nn_gelu()), MUST(nn_softmax(1)),
                       MUST(nn_log_softmax(0))};
    float expected[7][4];
    for (int i = 0; i < 4; i++) {
        double z = v[i];
        expected[0][i] = (float)(z > 0 ? z : 0);
        expected[1][i] = (float)(z > 0 ? z : 0.1 * z);
        expected[2][i] = (float)(1 / (1 + exp(-z)));
        expected[3][i] = (float)tanh(z);
        expected[4][i] = (float)(z * 0.5 * (1 + erf(z / sqrt(2.0))));
    }
    /* softmax over dim 1 (rows [-2, -0.5] and [0.5, 3]) */
    for (int r = 0; r < 2; r++) {
        double a = v[2 * r], b = v[2 * r + 1], m = fmax(a, b);
        double z = exp(a - m) + exp(b - m);
        expected[5][2 * r] = (float)(exp(a - m) / z);
        expected[5][2 * r + 1] = (float)(exp(b - m) / z);
    }
    /* log_softmax over dim 0 (columns [-2, 0.5] and [-0.5, 3]) */
    for (int c = 0; c < 2; c++) {
        double a = v[c], b = v[2 + c];
        double lse = fmax(a, b) + log(exp(a - fmax(a, b)) + exp(b - fmax(a, b)));
        expected[6][c] = (float)(a - lse);
        expected[6][2 + c] = (float)(b - lse);
    }
    for (int k = 0; k < 7; k++) {
        Var *y = nn_forward(mods[k], x);
        ck_assert_ok(y);
        assert_values(y->data, expected[k], 4, 1e-5, nn_module_type_name(mods[k]));
        nn_module_free(mods[k]);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_activations_gradcheck)
{
    Scope *s = scope_begin();
    strata_manual_seed(16);
    int64_t xs[2] = {3, 4};
    Var *x[1] = {randn_var(xs, 2, true)};
    Module *mods[7] = {MUST(nn_relu()), MUST(nn_leaky_relu(0.2f)), MUST(nn_sigmoid()),
                       MUST(nn_tanh()), MUST(nn_gelu()), MUST(nn_softmax(-1)),
                       MUST(nn_log_softmax(1))};
    for (int k = 0; k < 7; k++) {
        check_module_gradients(mods[k], x, 1);
        nn_module_free(mods[k]);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_embedding)
{
    Scope *s = scope_begin();
    strata_manual_seed(17);
    Module *emb = MUST(nn_embedding(5, 3));
    float idx[4] = {4, 0, 4, 2};
    int64_t is[2] = {2, 2};
    Var *y = nn_forward(emb, make_var(idx, is, 2, false));
    ck_assert_ok(y);
    int64_t ys[3] = {2, 2, 3};
    assert_shape(y->data, ys, 3, "Embedding output");
    const Tensor *w = nn_get_parameter(emb, "weight")->data;
    float expected[12];
    for (int i = 0; i < 4; i++)
        for (int d = 0; d < 3; d++)
            expected[i * 3 + d] = at(w, (int64_t)idx[i] * 3 + d);
    assert_values(y->data, expected, 12, 0, "Embedding rows");
    /* Gradient: row 4 is used twice, rows 1 and 3 never. */
    ck_assert_status(var_backward(var_sum(y, NULL, 0, false)));
    float grad[15] = {1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2};
    assert_values(var_grad(nn_get_parameter(emb, "weight")), grad, 15, 0, "Embedding grad");
    Var *in[1] = {make_var(idx, is, 2, false)};
    check_module_gradients(emb, in, 1);
    float bad[1] = {5};
    ck_assert_ptr_null(nn_forward(emb, make_var(bad, (int64_t[]){1}, 1, false)));
    ck_assert_error("not an integer in [0, 5)");
    scope_end(s);
    nn_module_free(emb);
}
END_TEST

START_TEST(test_dropout_statistics)
{
    Scope *s = scope_begin();
    strata_manual_seed(18);
    Module *drop = MUST(nn_dropout(0.3f));
    int64_t xs[1] = {100000};
    Var *x = var_new(tensor_ones(xs, 1), false);
    Var *y = nn_forward(drop, x);
    ck_assert_ok(y);
    int64_t zeros = 0;
    double sum = 0;
    for (int64_t i = 0; i < xs[0]; i++) {
        float v = y->data->data[i];
        if (v == 0)
            zeros++;
        else
            ck_assert_msg(fabsf(v - 1 / 0.7f) < 1e-6f, "kept value %g, expected 1/0.7", v);
        sum += v;
    }
    /* Zero fraction 0.3 (std error 0.0015) and mean 1 (scaled by 1/(1-p)). */
    ck_assert_msg(fabs((double)zeros / xs[0] - 0.3) < 0.01, "zero fraction %g",
                  (double)zeros / xs[0]);
    ck_assert_msg(fabs(sum / xs[0] - 1.0) < 0.02, "mean %g", sum / xs[0]);
    /* Eval mode: the identity. */
    nn_eval(drop);
    y = nn_forward(drop, x);
    ck_assert_ok(y);
    ck_assert(y != x);
    ck_assert(tensor_allclose(y->data, x->data, 0, 0));
    /* The same seed gives the same mask. */
    nn_train(drop, true);
    strata_manual_seed(5);
    Var *a = nn_forward(drop, x);
    strata_manual_seed(5);
    Var *b = nn_forward(drop, x);
    ck_assert(a && b && tensor_allclose(a->data, b->data, 0, 0));
    ck_assert_ptr_null(nn_dropout(1.5f));
    ck_assert_error("must be in [0, 1]");
    scope_end(s);
    nn_module_free(drop);
}
END_TEST

/* Dropout with a fixed mask: reseed before each evaluation. */
static Var *seeded_dropout(Var *const *inputs, int n, void *ctx)
{
    (void)n;
    strata_manual_seed(77);
    return nn_forward(ctx, inputs[0]);
}

START_TEST(test_dropout_gradcheck)
{
    Scope *s = scope_begin();
    Module *drop = MUST(nn_dropout(0.5f));
    strata_manual_seed(19);
    int64_t xs[2] = {4, 5};
    Var *x[1] = {randn_var(xs, 2, true)};
    ck_assert_msg(var_gradcheck(seeded_dropout, x, 1, drop, GRADCHECK_EPS, GRADCHECK_ATOL,
                                GRADCHECK_RTOL),
                  "gradcheck of Dropout: %s", strata_last_error());
    scope_end(s);
    nn_module_free(drop);
}
END_TEST

START_TEST(test_flatten_identity)
{
    Scope *s = scope_begin();
    strata_manual_seed(20);
    int64_t xs[4] = {2, 3, 4, 5};
    Var *x = randn_var(xs, 4, true);
    Module *flat = MUST(nn_flatten(1, -1));
    Var *y = nn_forward(flat, x);
    ck_assert_ok(y);
    int64_t ys[2] = {2, 60};
    assert_shape(y->data, ys, 2, "Flatten(1, -1)");
    Module *mid = MUST(nn_flatten(1, 2));
    int64_t ms[3] = {2, 12, 5};
    assert_shape(nn_forward(mid, x)->data, ms, 3, "Flatten(1, 2)");
    Module *id = MUST(nn_identity());
    Var *z = nn_forward(id, x);
    ck_assert_ok(z);
    ck_assert(z != x); /* a fresh Var ... */
    ck_assert(tensor_allclose(z->data, x->data, 0, 0)); /* ... with the same values */
    Var *in[1] = {x};
    check_module_gradients(flat, in, 1);
    check_module_gradients(id, in, 1);
    scope_end(s);
    nn_module_free(flat);
    nn_module_free(mid);
    nn_module_free(id);
}
END_TEST

void add_layer_tests(Suite *s)
{
    GRADED(s, test_linear_forward, 3);
    GRADED(s, test_linear_gradcheck, 3);
    GRADED(s, test_conv2d_forward, 3);
    GRADED(s, test_conv2d_gradcheck, 3);
    GRADED(s, test_pooling, 3);
    GRADED(s, test_activations_forward, 3);
    GRADED(s, test_activations_gradcheck, 3);
    GRADED(s, test_embedding, 3);
    GRADED(s, test_dropout_statistics, 3);
    GRADED(s, test_dropout_gradcheck, 2);
    GRADED(s, test_flatten_identity, 2);
}
