/*
 * test_norm.c - BatchNorm (training output, running statistics against values computed
 * by hand and by naive loops, eval mode, options, errors) and LayerNorm; gradchecks.
 * Tolerances are loose enough for any correct float32 implementation (1e-4).
 */
#include "nn_test.h"

START_TEST(test_batch_norm1d_by_hand)
{
    Scope *s = scope_begin();
    Module *bn = MUST(nn_batch_norm1d(2));
    /* Columns: [1, 2, 3, 6] (mean 3, biased var 3.5, unbiased 14/3)
     *          [0, 0, 4, 4] (mean 2, biased var 4,   unbiased 16/3) */
    float v[8] = {1, 0, 2, 0, 3, 4, 6, 4};
    int64_t xs[2] = {4, 2};
    Var *y = nn_forward(bn, make_var(v, xs, 2, false));
    ck_assert_ok(y);
    float expected[8];
    for (int i = 0; i < 4; i++) {
        expected[2 * i] = (float)((v[2 * i] - 3) / sqrt(3.5 + 1e-5));
        expected[2 * i + 1] = (float)((v[2 * i + 1] - 2) / sqrt(4 + 1e-5));
    }
    assert_values(y->data, expected, 8, 1e-4, "BatchNorm1d output");
    /* running_mean = 0.9 * 0 + 0.1 * mean; running_var = 0.9 * 1 + 0.1 * unbiased var */
    float rm[2] = {0.3f, 0.2f};
    float rv[2] = {(float)(0.9 + 0.1 * 14.0 / 3), (float)(0.9 + 0.1 * 16.0 / 3)};
    assert_values(nn_get_buffer(bn, "running_mean"), rm, 2, 1e-5, "running_mean");
    assert_values(nn_get_buffer(bn, "running_var"), rv, 2, 1e-5, "running_var");
    float one[1] = {1};
    assert_values(nn_get_buffer(bn, "num_batches_tracked"), one, 1, 0, "num_batches_tracked");
    /* A second batch: x + 10 (mean 13 and 12, same variances). */
    float w[8];
    for (int i = 0; i < 8; i++)
        w[i] = v[i] + 10;
    ck_assert_ok(nn_forward(bn, make_var(w, xs, 2, false)));
    float rm2[2] = {0.9f * 0.3f + 1.3f, 0.9f * 0.2f + 1.2f};
    float rv2[2] = {(float)(0.9 * rv[0] + 0.1 * 14.0 / 3), (float)(0.9 * rv[1] + 0.1 * 16.0 / 3)};
    assert_values(nn_get_buffer(bn, "running_mean"), rm2, 2, 1e-5, "running_mean, step 2");
    assert_values(nn_get_buffer(bn, "running_var"), rv2, 2, 1e-5, "running_var, step 2");
    float two[1] = {2};
    assert_values(nn_get_buffer(bn, "num_batches_tracked"), two, 1, 0, "num_batches, step 2");
    scope_end(s);
    nn_module_free(bn);
}
END_TEST

START_TEST(test_batch_norm2d_running_stats)
{
    Scope *s = scope_begin();
    strata_manual_seed(21);
    Module *bn = MUST(nn_batch_norm2d(3));
    int64_t xs[4] = {2, 3, 4, 5};
    double rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1};
    for (int step = 0; step < 3; step++) {
        Var *x = randn_var(xs, 4, false);
        ck_assert_status(tensor_mul_scalar_(x->data, 2.0f));
        ck_assert_status(tensor_add_scalar_(x->data, (float)step));
        Var *y = nn_forward(bn, x);
        ck_assert_ok(y);
        /* Naive per-channel statistics over N, H, W (40 values each). */
        for (int c = 0; c < 3; c++) {
            double sum = 0, sq = 0;
            for (int n = 0; n < 2; n++)
                for (int i = 0; i < 20; i++)
                    sum += x->data->data[(n * 3 + c) * 20 + i];
            double mean = sum / 40;
            for (int n = 0; n < 2; n++)
                for (int i = 0; i < 20; i++) {
                    double d = x->data->data[(n * 3 + c) * 20 + i] - mean;
                    sq += d * d;
                }
            /* Output of one element: normalised with the biased variance. */
            double xv = x->data->data[(1 * 3 + c) * 20 + 7];
            double yv = tensor_get(y->data, (int64_t[]){1, c, 1, 2});
            ck_assert_close(yv, (xv - mean) / sqrt(sq / 40 + 1e-5), 1e-4);
            rm[c] = 0.9 * rm[c] + 0.1 * mean;
            rv[c] = 0.9 * rv[c] + 0.1 * sq / 39; /* unbiased */
        }
    }
    float erm[3] = {(float)rm[0], (float)rm[1], (float)rm[2]};
    float erv[3] = {(float)rv[0], (float)rv[1], (float)rv[2]};
    assert_values(nn_get_buffer(bn, "running_mean"), erm, 3, 1e-4, "running_mean");
    assert_values(nn_get_buffer(bn, "running_var"), erv, 3, 1e-4, "running_var");
    scope_end(s);
    nn_module_free(bn);
}
END_TEST

START_TEST(test_batch_norm_eval_uses_running_stats)
{
    Scope *s = scope_begin();
    Module *bn = MUST(nn_batch_norm1d(2));
    float rm[2] = {1, -1}, rv[2] = {4, 0.25f}, w[2] = {2, 3}, b[2] = {0.5f, -0.5f};
    ck_assert_status(tensor_copy_(nn_get_buffer(bn, "running_mean"), make_tensor(rm, (int64_t[]){2}, 1)));
    ck_assert_status(tensor_copy_(nn_get_buffer(bn, "running_var"), make_tensor(rv, (int64_t[]){2}, 1)));
    ck_assert_status(tensor_copy_(nn_get_parameter(bn, "weight")->data, make_tensor(w, (int64_t[]){2}, 1)));
    ck_assert_status(tensor_copy_(nn_get_parameter(bn, "bias")->data, make_tensor(b, (int64_t[]){2}, 1)));
    nn_eval(bn);
    /* One sample is fine in eval mode: y = (x - rm) / sqrt(rv + eps) * w + b */
    float v[2] = {3, 0};
    Var *y = nn_forward(bn, make_var(v, (int64_t[]){1, 2}, 2, false));
    ck_assert_ok(y);
    float expected[2] = {(float)(2 / sqrt(4 + 1e-5) * 2 + 0.5),
                         (float)(1 / sqrt(0.25 + 1e-5) * 3 - 0.5)};
    assert_values(y->data, expected, 2, 1e-4, "BatchNorm1d eval");
    /* Eval mode does not touch the running statistics. */
    assert_values(nn_get_buffer(bn, "running_mean"), rm, 2, 0, "running_mean after eval");
    float zero[1] = {0};
    assert_values(nn_get_buffer(bn, "num_batches_tracked"), zero, 1, 0, "num_batches");
    scope_end(s);
    nn_module_free(bn);
}
END_TEST

START_TEST(test_batch_norm_options_and_errors)
{
    Scope *s = scope_begin();
    strata_manual_seed(22);
    /* No affine, no running stats: no parameters, no buffers, batch stats in eval too. */
    Module *bare = MUST(nn_batch_norm(1, 3, 1e-5f, 0.1f, false, false));
    ck_assert_int_eq(nn_num_parameters(bare, false), 0);
    NnStateDict *sd = nn_state_dict(bare);
    ck_assert_ok(sd);
    ck_assert_int_eq(sd->num_tensors, 0);
    nn_state_dict_free(sd);
    nn_eval(bare);
    int64_t xs[3] = {4, 3, 5}; /* [N, C, L] */
    Var *x = randn_var(xs, 3, false);
    Var *y = nn_forward(bare, x);
    ck_assert_ok(y);
    /* Each channel of the output has mean 0 and biased variance ~1. */
    int dims[2] = {0, 2};
    Tensor *mean = tensor_mean(y->data, dims, 2, false);
    float zeros[3] = {0};
    assert_values(mean, zeros, 3, 1e-5, "normalised channel means");
    Module *bn = MUST(nn_batch_norm2d(3));
    ck_assert_ptr_null(nn_forward(bn, x));
    ck_assert_error("BatchNorm2d: expected input [N, C, H, W] with 3 channels");
    Module *bn1 = MUST(nn_batch_norm1d(3));
    ck_assert_ptr_null(nn_forward(bn1, randn_var((int64_t[]){1, 3}, 2, false)));
    ck_assert_error("more than 1 value per channel");
    scope_end(s);
    nn_module_free(bare);
    nn_module_free(bn);
    nn_module_free(bn1);
}
END_TEST

START_TEST(test_batch_norm_gradcheck)
{
    Scope *s = scope_begin();
    strata_manual_seed(23);
    Module *bn1 = MUST(nn_batch_norm1d(3));
    Module *bn2 = MUST(nn_batch_norm2d(2));
    /* Non-trivial affine parameters so their gradients mean something. */
    ck_assert_status(nn_init_uniform_(nn_get_parameter(bn1, "weight")->data, 0.5f, 1.5f));
    ck_assert_status(nn_init_normal_(nn_get_parameter(bn2, "bias")->data, 0, 1));
    Var *x1[1] = {randn_var((int64_t[]){5, 3}, 2, true)};
    Var *x2[1] = {randn_var((int64_t[]){2, 2, 3, 3}, 4, true)};
    check_module_gradients(bn1, x1, 1);
    check_module_gradients(bn2, x2, 1);
    nn_eval(bn2);
    check_module_gradients(bn2, x2, 1);
    scope_end(s);
    nn_module_free(bn1);
    nn_module_free(bn2);
}
END_TEST

START_TEST(test_layer_norm)
{
    Scope *s = scope_begin();
    Module *ln = MUST(nn_layer_norm((int64_t[]){4}, 1, 1e-5f, true));
    /* Row [1, 2, 3, 4]: mean 2.5, biased var 1.25; row [2, 2, 2, 6]: mean 3, var 3 */
    float v[8] = {1, 2, 3, 4, 2, 2, 2, 6};
    Var *y = nn_forward(ln, make_var(v, (int64_t[]){2, 4}, 2, false));
    ck_assert_ok(y);
    float expected[8];
    for (int i = 0; i < 4; i++) {
        expected[i] = (float)((v[i] - 2.5) / sqrt(1.25 + 1e-5));
        expected[4 + i] = (float)((v[4 + i] - 3) / sqrt(3 + 1e-5));
    }
    assert_values(y->data, expected, 8, 1e-5, "LayerNorm output");
    ck_assert_ptr_null(nn_forward(ln, make_var(v, (int64_t[]){4, 2}, 2, false)));
    ck_assert_error("do not match normalized_shape");
    /* Gradcheck over two trailing dims with random affine parameters. */
    strata_manual_seed(24);
    Module *ln2 = MUST(nn_layer_norm((int64_t[]){2, 3}, 2, 1e-5f, true));
    ck_assert_status(nn_init_normal_(nn_get_parameter(ln2, "weight")->data, 1, 0.5f));
    ck_assert_status(nn_init_normal_(nn_get_parameter(ln2, "bias")->data, 0, 0.5f));
    Var *x[1] = {randn_var((int64_t[]){3, 2, 3}, 3, true)};
    check_module_gradients(ln2, x, 1);
    /* Values over two trailing dims of a batch of two: item 0 is 1..6 (mean 3.5, biased
     * var 35/12), item 1 is [0, 0, 0, 0, 0, 6] (mean 1, var (5 * 1 + 25) / 6 = 5). */
    Module *ln3 = MUST(nn_layer_norm((int64_t[]){2, 3}, 2, 1e-5f, true));
    float w[12] = {1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 6};
    Var *y3 = nn_forward(ln3, make_var(w, (int64_t[]){2, 2, 3}, 3, false));
    ck_assert_ok(y3);
    float want[12];
    for (int i = 0; i < 6; i++) {
        want[i] = (float)((w[i] - 3.5) / sqrt(35.0 / 12 + 1e-5));
        want[6 + i] = (float)((w[6 + i] - 1) / sqrt(5 + 1e-5));
    }
    assert_values(y3->data, want, 12, 1e-5, "LayerNorm over [2, 3] of a [2, 2, 3] input");
    scope_end(s);
    nn_module_free(ln);
    nn_module_free(ln2);
    nn_module_free(ln3);
}
END_TEST

void add_norm_tests(Suite *s)
{
    GRADED(s, test_batch_norm1d_by_hand, 4);
    GRADED(s, test_batch_norm2d_running_stats, 4);
    GRADED(s, test_batch_norm_eval_uses_running_stats, 3);
    GRADED(s, test_batch_norm_options_and_errors, 2);
    GRADED(s, test_batch_norm_gradcheck, 3);
    GRADED(s, test_layer_norm, 3);
}
