/*
 * test_attention.c - MultiheadAttention against a naive double-precision computation
 * (with and without masks), causality, parameters, gradchecks and errors.
 */
#include "nn_test.h"

/* Naive attention: out[n, l, :] for query [N, L, E], key/value [N, S, E], mask [L, S]
 * (or NULL), causal flag; weights read from the module. */
static void naive_attention(Module *m, const Tensor *q, const Tensor *k, const Tensor *v,
                            const float *mask, bool causal, int64_t heads, float *out)
{
    int64_t n = q->shape[0], l = q->shape[1], s = k->shape[1], e = q->shape[2];
    int64_t d = e / heads;
    const float *w = nn_get_parameter(m, "in_proj_weight")->data->data;
    Var *bias = nn_get_parameter(m, "in_proj_bias");
    const float *b = bias ? bias->data->data : NULL;
    const float *ow = nn_get_parameter(m, "out_proj.weight")->data->data;
    Var *obias = nn_get_parameter(m, "out_proj.bias");
    const float *ob = obias ? obias->data->data : NULL;
    double *qp = calloc((size_t)(n * l * e), sizeof(double));
    double *kp = calloc((size_t)(n * s * e), sizeof(double));
    double *vp = calloc((size_t)(n * s * e), sizeof(double));
    double *ctx = calloc((size_t)(n * l * e), sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t f = 0; f < e; f++) {
            for (int64_t t = 0; t < l; t++) {
                double acc = b ? b[f] : 0;
                for (int64_t g = 0; g < e; g++)
                    acc += (double)w[f * e + g] * q->data[(i * l + t) * e + g];
                qp[(i * l + t) * e + f] = acc;
            }
            for (int64_t t = 0; t < s; t++) {
                double ak = b ? b[e + f] : 0, av = b ? b[2 * e + f] : 0;
                for (int64_t g = 0; g < e; g++) {
                    ak += (double)w[(e + f) * e + g] * k->data[(i * s + t) * e + g];
                    av += (double)w[(2 * e + f) * e + g] * v->data[(i * s + t) * e + g];
                }
                kp[(i * s + t) * e + f] = ak;
                vp[(i * s + t) * e + f] = av;
            }
        }
    double *score = calloc((size_t)s, sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t t = 0; t < l; t++) {
                double mx = -INFINITY, z = 0;
                for (int64_t u = 0; u < s; u++) {
                    double dot = 0;
                    for (int64_t c = 0; c < d; c++)
                        dot += qp[(i * l + t) * e + h * d + c] * kp[(i * s + u) * e + h * d + c];
                    score[u] = dot / sqrt((double)d) + (mask ? mask[t * s + u] : 0) +
                               (causal && u > t ? -INFINITY : 0);
                    mx = fmax(mx, score[u]);
                }
                for (int64_t u = 0; u < s; u++)
                    z += exp(score[u] - mx);
                for (int64_t c = 0; c < d; c++) {
                    double acc = 0;
                    for (int64_t u = 0; u < s; u++)
                        acc += exp(score[u] - mx) / z * vp[(i * s + u) * e + h * d + c];
                    ctx[(i * l + t) * e + h * d + c] = acc;
                }
            }
    for (int64_t r = 0; r < n * l; r++)
        for (int64_t f = 0; f < e; f++) {
            double acc = ob ? ob[f] : 0;
            for (int64_t g = 0; g < e; g++)
                acc += (double)ow[f * e + g] * ctx[r * e + g];
            out[r * e + f] = (float)acc;
        }
    free(qp);
    free(kp);
    free(vp);
    free(ctx);
    free(score);
}

/* Give every parameter random values (biases are zero by default). */
static void randomise(Module *m)
{
    int count = 0;
    Var **params = nn_parameters(m, &count);
    ck_assert_ok(params);
    for (int i = 0; i < count; i++)
        ck_assert_status(nn_init_normal_(params[i]->data, 0, 0.5f));
    strata_free(params);
}

START_TEST(test_attention_forward)
{
    Scope *s = scope_begin();
    strata_manual_seed(31);
    Module *mha = MUST(nn_multihead_attention(4, 2, true));
    randomise(mha);
    Var *q = randn_var((int64_t[]){2, 3, 4}, 3, false);
    Var *k = randn_var((int64_t[]){2, 5, 4}, 3, false);
    Var *v = randn_var((int64_t[]){2, 5, 4}, 3, false);
    Var *y = nn_forward_n(mha, (Var *[]){q, k, v}, 3);
    ck_assert_ok(y);
    int64_t ys[3] = {2, 3, 4};
    assert_shape(y->data, ys, 3, "attention output");
    float expected[24];
    naive_attention(mha, q->data, k->data, v->data, NULL, false, 2, expected);
    assert_values(y->data, expected, 24, 1e-4, "attention (no mask)");
    /* An explicit mask: forbid key 0 for query 0 and keys 3, 4 for query 2. */
    float mask[15] = {0};
    mask[0] = -INFINITY;
    mask[2 * 5 + 3] = mask[2 * 5 + 4] = -INFINITY;
    mask[1 * 5 + 1] = 0.5f; /* any additive value works */
    Tensor *mt = make_tensor(mask, (int64_t[]){3, 5}, 2);
    y = nn_multihead_attention_forward(mha, q, k, v, mt, false);
    ck_assert_ok(y);
    naive_attention(mha, q->data, k->data, v->data, mask, false, 2, expected);
    assert_values(y->data, expected, 24, 1e-4, "attention (explicit mask)");
    /* The same mask per batch item and head, as [N * heads, L, S] = [4, 3, 5]. */
    float mask3[60];
    for (int i = 0; i < 4; i++)
        memcpy(mask3 + 15 * i, mask, sizeof mask);
    y = nn_multihead_attention_forward(mha, q, k, v, make_tensor(mask3, (int64_t[]){4, 3, 5}, 3),
                                       false);
    ck_assert_ok(y);
    assert_values(y->data, expected, 24, 1e-4, "attention (a [N * heads, L, S] mask)");
    scope_end(s);
    nn_module_free(mha);
}
END_TEST

START_TEST(test_attention_causal)
{
    Scope *s = scope_begin();
    strata_manual_seed(32);
    Module *mha = MUST(nn_multihead_attention(6, 3, true));
    randomise(mha);
    Var *x = randn_var((int64_t[]){1, 4, 6}, 3, false);
    Var *y = nn_multihead_attention_forward(mha, x, x, x, NULL, true);
    ck_assert_ok(y);
    float expected[24];
    naive_attention(mha, x->data, x->data, x->data, NULL, true, 3, expected);
    assert_values(y->data, expected, 24, 1e-4, "causal attention");
    /* Changing the last position does not change the earlier outputs. */
    Tensor *x2 = tensor_clone(x->data);
    for (int f = 0; f < 6; f++)
        x2->data[3 * 6 + f] += 5.0f;
    Var *xv2 = var_new(x2, false);
    Var *y2 = nn_multihead_attention_forward(mha, xv2, xv2, xv2, NULL, true);
    ck_assert_ok(y2);
    float before[18];
    ck_assert_status(tensor_to_array(tensor_narrow(y->data, 1, 0, 3), before));
    assert_values(tensor_narrow(y2->data, 1, 0, 3), before, 18, 1e-5,
                  "causal outputs before the change");
    /* Causal needs L == S. */
    Var *k = randn_var((int64_t[]){1, 5, 6}, 3, false);
    ck_assert_ptr_null(nn_multihead_attention_forward(mha, x, k, k, NULL, true));
    ck_assert_error("L == S");
    scope_end(s);
    nn_module_free(mha);
}
END_TEST

START_TEST(test_attention_parameters)
{
    Module *mha = MUST(nn_multihead_attention(8, 4, true));
    NnNamedVars *params = nn_named_parameters(mha);
    ck_assert_ok(params);
    const char *names[] = {"in_proj_weight", "in_proj_bias", "out_proj.weight",
                           "out_proj.bias"};
    ck_assert_int_eq(params->count, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(params->names[i], names[i]);
    nn_named_vars_free(params);
    float zeros[24] = {0};
    assert_values(nn_get_parameter(mha, "in_proj_bias")->data, zeros, 24, 0, "in_proj_bias");
    assert_values(nn_get_parameter(mha, "out_proj.bias")->data, zeros, 8, 0, "out_proj.bias");
    /* xavier_uniform_ on [24, 8]: bound sqrt(6 / 32) */
    Tensor *w = nn_get_parameter(mha, "in_proj_weight")->data;
    for (int64_t i = 0; i < tensor_numel(w); i++)
        ck_assert(fabsf(w->data[i]) <= sqrtf(6.0f / 32));
    nn_module_free(mha);
    /* Without biases: the optional parameters are absent, and forward still works. */
    Module *nb = MUST(nn_multihead_attention(4, 1, false));
    ck_assert_int_eq(nn_num_parameters(nb, false), 3 * 16 + 16);
    strata_clear_error();
    ck_assert_ptr_null(nn_get_parameter(nb, "in_proj_bias"));
    ck_assert_str_eq(strata_last_error(), "");
    Scope *s = scope_begin();
    Var *x = randn_var((int64_t[]){2, 3, 4}, 3, false);
    Var *y = nn_forward_n(nb, (Var *[]){x, x, x}, 3);
    ck_assert_ok(y);
    float expected[24];
    naive_attention(nb, x->data, x->data, x->data, NULL, false, 1, expected);
    assert_values(y->data, expected, 24, 1e-4, "attention without biases");
    scope_end(s);
    nn_module_free(nb);
}
END_TEST

START_TEST(test_attention_gradcheck)
{
    Scope *s = scope_begin();
    strata_manual_seed(33);
    Module *mha = MUST(nn_multihead_attention(4, 2, true));
    randomise(mha);
    Var *xs[3] = {randn_var((int64_t[]){1, 2, 4}, 3, true), randn_var((int64_t[]){1, 3, 4}, 3, true),
                  randn_var((int64_t[]){1, 3, 4}, 3, true)};
    check_module_gradients(mha, xs, 3);
    scope_end(s);
    nn_module_free(mha);
}
END_TEST

START_TEST(test_attention_errors)
{
    ck_assert_ptr_null(nn_multihead_attention(6, 4, true));
    ck_assert_error("multiple of num_heads");
    Scope *s = scope_begin();
    Module *mha = MUST(nn_multihead_attention(4, 2, true));
    Var *q = randn_var((int64_t[]){1, 2, 4}, 3, false);
    Var *bad = randn_var((int64_t[]){1, 2, 3}, 3, false);
    ck_assert_ptr_null(nn_forward_n(mha, (Var *[]){q, bad, bad}, 3));
    ck_assert_error("expected query [N, L, 4]");
    ck_assert_ptr_null(nn_forward(mha, q));
    ck_assert_error("takes (query, key, value");
    Tensor *mask = tensor_zeros((int64_t[]){3, 3}, 2);
    ck_assert_ptr_null(nn_multihead_attention_forward(mha, q, q, q, mask, false));
    ck_assert_error("attn_mask [3, 3] must be [2, 2]");
    scope_end(s);
    nn_module_free(mha);
}
END_TEST

void add_attention_tests(Suite *s)
{
    GRADED(s, test_attention_forward, 4);
    GRADED(s, test_attention_causal, 3);
    GRADED(s, test_attention_parameters, 2);
    GRADED_TIMED(s, test_attention_gradcheck, 3, 30.0);
    GRADED(s, test_attention_errors, 2);
}
