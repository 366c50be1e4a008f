/*
 * test_init.c - torch.nn.init: gains, fans, the statistics of each initialiser over large
 * tensors (mean and std within a few standard errors), bounds, orthogonality, and the
 * layers' default initialisations.
 */
#include "nn_test.h"

typedef struct Stats {
    double mean, std, min, max;
} Stats;

static Stats stats_of(const Tensor *t)
{
    int64_t n = tensor_numel(t);
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert(tensor_to_array(t, v) == 0);
    Stats s = {0, 0, INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) {
        s.mean += v[i];
        s.min = fmin(s.min, v[i]);
        s.max = fmax(s.max, v[i]);
    }
    s.mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        s.std += (v[i] - s.mean) * (v[i] - s.mean);
    s.std = sqrt(s.std / (double)(n - 1));
    free(v);
    return s;
}

/* mean within 5 standard errors of @p mean, std within 3% of @p std. */
static void assert_stats(const Tensor *t, double mean, double std, const char *what)
{
    Stats s = stats_of(t);
    double se = std / sqrt((double)tensor_numel(t));
    ck_assert_msg(fabs(s.mean - mean) <= 5 * se + 1e-7, "%s: mean %.6g, expected %.6g", what,
                  s.mean, mean);
    ck_assert_msg(fabs(s.std - std) <= 0.03 * std, "%s: std %.6g, expected %.6g", what, s.std,
                  std);
}

static void assert_bounds(const Tensor *t, double lo, double hi, const char *what)
{
    Stats s = stats_of(t);
    ck_assert_msg(s.min >= lo && s.max <= hi, "%s: values in [%g, %g], expected within [%g, %g]",
                  what, s.min, s.max, lo, hi);
    /* ... and actually spread over most of the range. */
    ck_assert_msg(s.min < lo + 0.05 * (hi - lo) && s.max > hi - 0.05 * (hi - lo),
                  "%s: values in [%g, %g] do not fill [%g, %g]", what, s.min, s.max, lo, hi);
}

START_TEST(test_calculate_gain)
{
    Scope *scope = scope_begin();
    ck_assert_close(nn_calculate_gain("linear", 0), 1.0, 1e-7);
    ck_assert_close(nn_calculate_gain("conv2d", 0), 1.0, 1e-7);
    ck_assert_close(nn_calculate_gain("sigmoid", 0), 1.0, 1e-7);
    ck_assert_close(nn_calculate_gain("tanh", 0), 5.0 / 3.0, 1e-6);
    ck_assert_close(nn_calculate_gain("relu", 0), sqrt(2.0), 1e-6);
    /* leaky_relu: sqrt(2 / (1 + 0.2^2)) = sqrt(2 / 1.04) */
    ck_assert_close(nn_calculate_gain("leaky_relu", 0.2f), sqrt(2.0 / 1.04), 1e-6);
    ck_assert_close(nn_calculate_gain("leaky_relu", sqrtf(5.0f)), sqrt(1.0 / 3.0), 1e-6);
    ck_assert(isnan(nn_calculate_gain("swish", 0)));
    ck_assert_error("unknown nonlinearity 'swish'");
    scope_end(scope);
}
END_TEST

START_TEST(test_fans)
{
    Scope *s = scope_begin();
    int64_t fan_in, fan_out;
    /* [out=8, in=4, 3, 3]: fan_in = 4*9 = 36, fan_out = 8*9 = 72 */
    ck_assert_status(nn_init_fans(tensor_zeros((int64_t[]){8, 4, 3, 3}, 4), &fan_in, &fan_out));
    ck_assert_int_eq(fan_in, 36);
    ck_assert_int_eq(fan_out, 72);
    ck_assert_status(nn_init_fans(tensor_zeros((int64_t[]){5, 7}, 2), &fan_in, &fan_out));
    ck_assert(fan_in == 7 && fan_out == 5);
    ck_assert_int_eq(nn_init_fans(tensor_zeros((int64_t[]){5}, 1), &fan_in, &fan_out), -1);
    ck_assert_error("at least 2 dims");
    ck_assert_int_eq(nn_init_xavier_uniform_(tensor_zeros((int64_t[]){5}, 1), 1), -1);
    ck_assert_error("at least 2 dims");
    scope_end(s);
}
END_TEST

START_TEST(test_constant_uniform_normal)
{
    Scope *s = scope_begin();
    strata_manual_seed(5);
    Tensor *t = tensor_empty((int64_t[]){200, 500}, 2);
    ck_assert_status(nn_init_constant_(t, 2.5f));
    Stats c = stats_of(t);
    ck_assert(c.min == 2.5 && c.max == 2.5);
    ck_assert_status(nn_init_zeros_(t));
    ck_assert(stats_of(t).max == 0);
    ck_assert_status(nn_init_ones_(t));
    ck_assert(stats_of(t).min == 1);
    /* U(-2, 3): mean 0.5, std 5 / sqrt(12) */
    ck_assert_status(nn_init_uniform_(t, -2, 3));
    assert_stats(t, 0.5, 5 / sqrt(12.0), "uniform_(-2, 3)");
    assert_bounds(t, -2, 3, "uniform_(-2, 3)");
    ck_assert_status(nn_init_normal_(t, 1, 2));
    assert_stats(t, 1, 2, "normal_(1, 2)");
    ck_assert_int_eq(nn_init_uniform_(t, 3, -2), -1);
    ck_assert_error("must not exceed");
    ck_assert_int_eq(nn_init_normal_(t, 0, -1), -1);
    ck_assert_error("std");
    scope_end(s);
}
END_TEST

START_TEST(test_xavier)
{
    Scope *s = scope_begin();
    strata_manual_seed(6);
    Tensor *t = tensor_empty((int64_t[]){300, 200}, 2);
    /* fan_in + fan_out = 500: bound = sqrt(6/500), std = sqrt(2/500) */
    ck_assert_status(nn_init_xavier_uniform_(t, 1));
    double bound = sqrt(6.0 / 500);
    assert_bounds(t, -bound, bound, "xavier_uniform_");
    assert_stats(t, 0, bound / sqrt(3.0), "xavier_uniform_");
    ck_assert_status(nn_init_xavier_normal_(t, 2));
    assert_stats(t, 0, 2 * sqrt(2.0 / 500), "xavier_normal_(gain 2)");
    scope_end(s);
}
END_TEST

START_TEST(test_kaiming)
{
    Scope *s = scope_begin();
    strata_manual_seed(7);
    Tensor *t = tensor_empty((int64_t[]){400, 250}, 2);
    /* relu, fan_in 250: std = sqrt(2)/sqrt(250), bound = sqrt(3) * std */
    ck_assert_status(nn_init_kaiming_uniform_(t, 0, NN_FAN_IN, "relu"));
    double std = sqrt(2.0 / 250);
    assert_bounds(t, -sqrt(3.0) * std, sqrt(3.0) * std, "kaiming_uniform_ fan_in");
    assert_stats(t, 0, std, "kaiming_uniform_ fan_in");
    /* fan_out = 400 */
    ck_assert_status(nn_init_kaiming_uniform_(t, 0, NN_FAN_OUT, "relu"));
    assert_stats(t, 0, sqrt(2.0 / 400), "kaiming_uniform_ fan_out");
    /* leaky_relu(0.1), fan_out: std = sqrt(2 / 1.01) / sqrt(400) */
    ck_assert_status(nn_init_kaiming_normal_(t, 0.1f, NN_FAN_OUT, "leaky_relu"));
    assert_stats(t, 0, sqrt(2.0 / 1.01) / 20.0, "kaiming_normal_ leaky_relu");
    /* A conv weight [32, 16, 3, 3]: fan_in = 144, tanh gain 5/3 */
    Tensor *w = tensor_empty((int64_t[]){32, 16, 3, 3}, 4);
    ck_assert_status(nn_init_kaiming_normal_(w, 0, NN_FAN_IN, "tanh"));
    assert_stats(w, 0, (5.0 / 3.0) / 12.0, "kaiming_normal_ conv tanh");
    ck_assert_int_eq(nn_init_kaiming_normal_(w, 0, NN_FAN_IN, "softsign"), -1);
    ck_assert_error("unknown nonlinearity");
    strata_clear_error();
    ck_assert_int_eq(nn_init_kaiming_uniform_(w, 0, NN_FAN_IN, "softsign"), -1);
    ck_assert_error("unknown nonlinearity");
    scope_end(s);
}
END_TEST

/* max |(A A^T)_ij - g^2 delta_ij| for the rows of the [rows, cols] matrix in @p t. */
static double gram_error(const Tensor *t, int64_t rows, int64_t cols, bool by_rows, double g2)
{
    float *v = malloc((size_t)(rows * cols) * sizeof *v);
    ck_assert(tensor_to_array(t, v) == 0);
    int64_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
    double worst = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double dot = 0;
            for (int64_t k = 0; k < len; k++)
                dot += by_rows ? (double)v[i * cols + k] * v[j * cols + k]
                               : (double)v[k * cols + i] * v[k * cols + j];
            worst = fmax(worst, fabs(dot - (i == j ? g2 : 0)));
        }
    free(v);
    return worst;
}

START_TEST(test_orthogonal)
{
    Scope *s = scope_begin();
    strata_manual_seed(8);
    Tensor *wide = tensor_empty((int64_t[]){6, 10}, 2);
    ck_assert_status(nn_init_orthogonal_(wide, 1));
    ck_assert_msg(gram_error(wide, 6, 10, true, 1) < 1e-5, "wide: rows not orthonormal");
    Tensor *tall = tensor_empty((int64_t[]){10, 6}, 2);
    ck_assert_status(nn_init_orthogonal_(tall, 2));
    ck_assert_msg(gram_error(tall, 10, 6, false, 4) < 1e-5, "tall: columns not 2 x orthonormal");
    Tensor *conv = tensor_empty((int64_t[]){4, 2, 3}, 3); /* viewed as [4, 6] */
    ck_assert_status(nn_init_orthogonal_(conv, 1));
    ck_assert_msg(gram_error(conv, 4, 6, true, 1) < 1e-5, "3-D: rows not orthonormal");
    ck_assert_int_eq(nn_init_orthogonal_(tensor_empty((int64_t[]){5}, 1), 1), -1);
    ck_assert_error("2 or more dims");
    scope_end(s);
}
END_TEST

START_TEST(test_default_inits)
{
    Scope *scope = scope_begin();
    strata_manual_seed(9);
    Module *lin = MUST(nn_linear(400, 300, true));
    /* kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(400), 1/sqrt(400)) = U(-0.05, 0.05) */
    Tensor *w = nn_get_parameter(lin, "weight")->data;
    assert_bounds(w, -0.05, 0.05, "Linear weight");
    assert_stats(w, 0, 0.05 / sqrt(3.0), "Linear weight");
    ck_assert(stats_of(nn_get_parameter(lin, "bias")->data).max <= 0.05);
    ck_assert(stats_of(nn_get_parameter(lin, "bias")->data).min >= -0.05);
    nn_module_free(lin);

    Module *conv = MUST(nn_conv2d(16, 64, 3, 1, 1, 1, true));
    /* fan_in = 16 * 9 = 144: bound 1/12 */
    assert_bounds(nn_get_parameter(conv, "weight")->data, -1.0 / 12, 1.0 / 12, "Conv2d weight");
    nn_module_free(conv);

    Module *emb = MUST(nn_embedding(1000, 64));
    assert_stats(nn_get_parameter(emb, "weight")->data, 0, 1, "Embedding weight");
    nn_module_free(emb);

    Module *bn = MUST(nn_batch_norm2d(5));
    float ones[5] = {1, 1, 1, 1, 1}, zeros[5] = {0};
    assert_values(nn_get_parameter(bn, "weight")->data, ones, 5, 0, "BatchNorm weight");
    assert_values(nn_get_parameter(bn, "bias")->data, zeros, 5, 0, "BatchNorm bias");
    assert_values(nn_get_buffer(bn, "running_mean"), zeros, 5, 0, "running_mean");
    assert_values(nn_get_buffer(bn, "running_var"), ones, 5, 0, "running_var");
    assert_values(nn_get_buffer(bn, "num_batches_tracked"), zeros, 1, 0, "num_batches");
    nn_module_free(bn);

    Module *ln = MUST(nn_layer_norm((int64_t[]){3}, 1, 1e-5f, true));
    assert_values(nn_get_parameter(ln, "weight")->data, ones, 3, 0, "LayerNorm weight");
    assert_values(nn_get_parameter(ln, "bias")->data, zeros, 3, 0, "LayerNorm bias");
    nn_module_free(ln);
    scope_end(scope);
}
END_TEST

START_TEST(test_init_is_seeded)
{
    Scope *scope = scope_begin();
    strata_manual_seed(42);
    Module *a = MUST(nn_linear(5, 4, true));
    strata_manual_seed(42);
    Module *b = MUST(nn_linear(5, 4, true));
    ck_assert(tensor_allclose(nn_get_parameter(a, "weight")->data,
                              nn_get_parameter(b, "weight")->data, 0, 0));
    ck_assert(tensor_allclose(nn_get_parameter(a, "bias")->data,
                              nn_get_parameter(b, "bias")->data, 0, 0));
    Module *c = MUST(nn_linear(5, 4, true));
    ck_assert(!tensor_allclose(nn_get_parameter(a, "weight")->data,
                               nn_get_parameter(c, "weight")->data, 0, 0));
    nn_module_free(a);
    nn_module_free(b);
    nn_module_free(c);
    scope_end(scope);
}
END_TEST

void add_init_tests(Suite *s)
{
    GRADED(s, test_calculate_gain, 2);
    GRADED(s, test_fans, 2);
    GRADED(s, test_constant_uniform_normal, 2);
    GRADED(s, test_xavier, 3);
    GRADED(s, test_kaiming, 3);
    GRADED(s, test_orthogonal, 3);
    GRADED(s, test_default_inits, 3);
    GRADED(s, test_init_is_seeded, 1);
}
