/*
 * test_atoms.c - the atoms (Linear, Conv2D, Embed) and bonds: forward through autograd,
 * well-normed initialization, dualize at the target norm, project, normalize,
 * regularize, and the refusal of Mul(0).
 *
 * Norms are computed here independently of modular_norm(): a Linear's is
 * sqrt(fan_in/fan_out) * sigma_max(W) with sigma_max from LAPACK (w5_linear_norm).
 */
#include "week5.h"

#include <math.h>

/* Dualize one atom's gradient g to target eta through a single-atom module. */
static Tensor *dualize_one(ModularModule *atom, Tensor *g, float eta)
{
    Tensor *out = tensor_zeros_like(g);
    Tensor *gs[1] = {g}, *outs[1] = {out};
    ck_assert_msg(modular_dualize(atom, gs, outs, eta) == 0, "modular_dualize failed: %s",
                  strata_last_error());
    return out;
}

START_TEST(test_linear_forward_backward)
{
    Scope *s = scope_begin();
    strata_manual_seed(10);
    ModularModule *lin = modular_linear(3, 4);
    ck_assert_msg(lin != NULL, "modular_linear failed: %s", strata_last_error());
    ck_assert_int_eq(modular_initialize(lin), 0);
    Var *w = modular_weight_get(lin, 0);
    ck_assert_ptr_nonnull(w);
    ck_assert_msg(w->requires_grad, "the weight must require grad");
    ck_assert_int_eq(w->data->shape[0], 3);
    ck_assert_int_eq(w->data->shape[1], 4);
    Var *x = var_new(w5_randn(2, 4), false);
    Var *y = modular_forward(lin, x);
    ck_assert_msg(y != NULL, "modular_forward failed: %s", strata_last_error());
    ck_assert_int_eq(y->data->shape[0], 2);
    ck_assert_int_eq(y->data->shape[1], 3);
    const float *W = w->data->data, *X = x->data->data;
    for (int b = 0; b < 2; b++)
        for (int o = 0; o < 3; o++) {
            double acc = 0.0;
            for (int i = 0; i < 4; i++)
                acc += (double)X[b * 4 + i] * W[o * 4 + i];
            ck_assert_close(y->data->data[b * 3 + o], acc, 1e-5);
        }
    /* d(sum y)/dW[o][i] = sum_b x[b][i] */
    ck_assert_int_eq(var_backward(var_sum(y, NULL, 0, false)), 0);
    Tensor *g = var_grad(w);
    ck_assert_msg(g != NULL, "backward did not reach the Linear weight");
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 4; i++)
            ck_assert_close(g->data[o * 4 + i], X[i] + X[4 + i], 1e-5);
    modular_free(lin);
    scope_end(s);
}
END_TEST

static const int64_t LINEAR_SHAPES[3][2] = {{24, 8}, {8, 24}, {12, 12}};

START_TEST(test_linear_initialize_norm_one)
{
    Scope *s = scope_begin();
    for (int k = 0; k < 3; k++) {
        strata_manual_seed(11);
        int64_t out = LINEAR_SHAPES[k][0], in = LINEAR_SHAPES[k][1];
        ModularModule *lin = modular_linear(out, in);
        ck_assert_int_eq(modular_initialize(lin), 0);
        Tensor *w = modular_weight_get(lin, 0)->data;
        ck_assert_close(w5_linear_norm(w), 1.0, 1e-4);
        double lo, hi;
        w5_sv_range(w, &lo, &hi); /* exactly orthogonal times sqrt(out/in): all equal */
        ck_assert_close(lo, sqrt((double)out / in), 1e-4);
        ck_assert_close(hi, sqrt((double)out / in), 1e-4);
        ck_assert_close(modular_weight_norm(lin), 1.0, 1e-4);
        modular_free(lin);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_linear_dualize_target_norm)
{
    Scope *s = scope_begin();
    for (int k = 0; k < 3; k++) {
        strata_manual_seed(12);
        int64_t out = LINEAR_SHAPES[k][0], in = LINEAR_SHAPES[k][1];
        ModularModule *lin = modular_linear(out, in);
        float etas[2] = {0.5f, 2.0f};
        for (int e = 0; e < 2; e++) {
            Tensor *g = w5_randn(out, in);
            Tensor *d = dualize_one(lin, g, etas[e]);
            double n = w5_linear_norm(d);
            ck_assert_msg(fabs(n - etas[e]) <= 0.01 * etas[e],
                          "Linear(%lld, %lld): ||dualize(g, %g)|| = %g", (long long)out,
                          (long long)in, (double)etas[e], n);
            ck_assert_msg(w5_dot(g, d) > 0, "<g, dualize(g)> = %g must be >= 0",
                          w5_dot(g, d));
            Tensor *ds[1] = {d};
            ck_assert_close(modular_norm(lin, ds), etas[e], 0.01 * etas[e]);
        }
        modular_free(lin);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_linear_project_idempotent)
{
    Scope *s = scope_begin();
    strata_manual_seed(13);
    ModularModule *lin = modular_linear(16, 10);
    Tensor *w = w5_randn(16, 10), *p1 = tensor_zeros_like(w), *p2 = tensor_zeros_like(w);
    Tensor *a[1] = {w}, *b[1] = {p1}, *c[1] = {p2};
    ck_assert_int_eq(modular_project(lin, a, b), 0);
    ck_assert_int_eq(modular_project(lin, b, c), 0);
    ck_assert_close(w5_linear_norm(p1), 1.0, 0.01);
    double worst = 0.0;
    for (int64_t i = 0; i < 160; i++)
        worst = fmax(worst, fabs(p1->data[i] - p2->data[i]));
    ck_assert_msg(worst < 5e-3, "project(project(w)) differs from project(w) by %g", worst);
    /* in place */
    ck_assert_int_eq(modular_project(lin, a, a), 0);
    ck_assert_msg(tensor_allclose(w, p1, 0, 1e-6f), "in-place project differs");
    modular_free(lin);
    scope_end(s);
}
END_TEST

START_TEST(test_zero_gradient_gives_zero)
{
    Scope *s = scope_begin();
    ModularModule *atoms[3] = {modular_linear(6, 4), modular_conv2d(3, 2, 3, 1, 1),
                               modular_embed(5, 7)};
    for (int k = 0; k < 3; k++) {
        ck_assert_ptr_nonnull(atoms[k]);
        Tensor *z[1];
        w5_like_weights(atoms[k], z, false);
        Tensor *d = dualize_one(atoms[k], z[0], 1.0f);
        ck_assert_msg(w5_all_finite(d) && w5_max_abs(d) == 0.0,
                      "%s: dualize(0) must be exactly 0 with no NaN", modular_name(atoms[k]));
        ck_assert_int_eq(modular_normalize(atoms[k], z, 1.0f), 0);
        ck_assert_msg(w5_all_finite(z[0]) && w5_max_abs(z[0]) == 0.0,
                      "%s: normalize(0) must stay 0", modular_name(atoms[k]));
        /* a NULL gradient counts as zero */
        Tensor *nul[1] = {NULL}, *out[1] = {tensor_ones_like(z[0])};
        ck_assert_int_eq(modular_dualize(atoms[k], nul, out, 1.0f), 0);
        ck_assert_msg(w5_max_abs(out[0]) == 0.0, "a NULL gradient must dualize to 0");
        modular_free(atoms[k]);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_conv2d_forward)
{
    Scope *s = scope_begin();
    strata_manual_seed(14);
    ModularModule *conv = modular_conv2d(4, 2, 3, 1, 1);
    ck_assert_msg(conv != NULL, "modular_conv2d failed: %s", strata_last_error());
    ck_assert_int_eq(modular_initialize(conv), 0);
    Var *w = modular_weight_get(conv, 0);
    ck_assert_int_eq(w->data->ndim, 4);
    ck_assert_int_eq(w->data->shape[2], 3);
    Var *x = var_new(tensor_randn((int64_t[]){2, 2, 5, 5}, 4), false);
    Var *y = modular_forward(conv, x);
    ck_assert_msg(y != NULL, "modular_forward(Conv2D) failed: %s", strata_last_error());
    Tensor *ref = tensor_conv2d(x->data, w->data, NULL, window2d(3, 1, 1));
    ck_assert_ptr_nonnull(ref);
    double scale = sqrt(4.0 / 2.0) / 9.0; /* sqrt(out/in) / k^2 */
    ck_assert_msg(tensor_same_shape(y->data, ref), "Conv2D output shape");
    for (int64_t i = 0; i < tensor_numel(ref); i++)
        ck_assert_close(y->data->data[i], scale * ref->data[i], 1e-5);
    ck_assert_int_eq(var_backward(var_sum(y, NULL, 0, false)), 0);
    ck_assert_msg(var_grad(w) != NULL, "backward did not reach the Conv2D weight");
    modular_free(conv);
    scope_end(s);
}
END_TEST

/* sigma_max of kernel position p of a [out, in, k, k] tensor (LAPACK). */
static double position_sigma(const Tensor *w, int p)
{
    int64_t o = w->shape[0], c = w->shape[1], kk = w->shape[2] * w->shape[3];
    Tensor *mat = tensor_zeros((int64_t[]){o, c}, 2);
    for (int64_t i = 0; i < o; i++)
        for (int64_t j = 0; j < c; j++)
            mat->data[i * c + j] = w->data[(i * c + j) * kk + p];
    return modular_spectral_norm(mat);
}

START_TEST(test_conv2d_norms)
{
    Scope *s = scope_begin();
    strata_manual_seed(15);
    ModularModule *conv = modular_conv2d(6, 3, 2, 1, 0);
    ck_assert_int_eq(modular_initialize(conv), 0);
    Tensor *w = modular_weight_get(conv, 0)->data;
    for (int p = 0; p < 4; p++)
        ck_assert_close(position_sigma(w, p), 1.0, 1e-4);
    ck_assert_close(modular_weight_norm(conv), 1.0, 1e-4);
    Tensor *g = tensor_randn(w->shape, 4);
    Tensor *d = dualize_one(conv, g, 0.7f);
    double worst = 0.0;
    for (int p = 0; p < 4; p++)
        worst = fmax(worst, position_sigma(d, p));
    ck_assert_msg(fabs(worst - 0.7) < 0.007, "Conv2D: ||dualize(g, 0.7)|| = %g", worst);
    ck_assert_msg(w5_dot(g, d) > 0, "<g, dualize(g)> must be >= 0");
    modular_free(conv);
    scope_end(s);
}
END_TEST

START_TEST(test_embed)
{
    Scope *s = scope_begin();
    strata_manual_seed(16);
    ModularModule *emb = modular_embed(4, 6); /* weight [6, 4] */
    ck_assert_msg(emb != NULL, "modular_embed failed: %s", strata_last_error());
    ck_assert_int_eq(modular_initialize(emb), 0);
    Tensor *w = modular_weight_get(emb, 0)->data;
    ck_assert_int_eq(w->shape[0], 6);
    ck_assert_int_eq(w->shape[1], 4);
    for (int r = 0; r < 6; r++) {
        double len = 0.0;
        for (int j = 0; j < 4; j++)
            len += w->data[r * 4 + j] * w->data[r * 4 + j];
        ck_assert_close(sqrt(len), 2.0, 1e-5); /* sqrt(d_embed) */
    }
    ck_assert_close(modular_weight_norm(emb), 1.0, 1e-5);
    /* forward picks rows: indices [2, 3] -> [2, 3, 4] */
    float idx[6] = {0, 5, 2, 2, 1, 3};
    Var *x = var_new(tensor_from_data(idx, (int64_t[]){2, 3}, 2), false);
    Var *y = modular_forward(emb, x);
    ck_assert_msg(y != NULL, "modular_forward(Embed) failed: %s", strata_last_error());
    ck_assert_int_eq(y->data->ndim, 3);
    ck_assert_int_eq(y->data->shape[2], 4);
    for (int t = 0; t < 6; t++)
        for (int j = 0; j < 4; j++)
            ck_assert_close(y->data->data[t * 4 + j], w->data[(int)idx[t] * 4 + j], 0);
    /* dualize: each nonzero row to length sqrt(d) * eta, zero rows stay zero */
    Tensor *g = tensor_randn(w->shape, 2);
    for (int j = 0; j < 4; j++)
        g->data[3 * 4 + j] = 0.0f;
    Tensor *d = dualize_one(emb, g, 0.5f);
    ck_assert_msg(w5_all_finite(d), "Embed dualize made a NaN from a zero row");
    for (int r = 0; r < 6; r++) {
        double len = 0.0;
        for (int j = 0; j < 4; j++)
            len += d->data[r * 4 + j] * d->data[r * 4 + j];
        ck_assert_close(sqrt(len), r == 3 ? 0.0 : 1.0, 1e-5);
    }
    ck_assert_msg(w5_dot(g, d) >= 0, "<g, dualize(g)> must be >= 0");
    /* normalize scales the whole update to norm target: rows [3, 4, 0, 0] (length 5) and
     * [0, 0, 1, 0], the others zero, have norm 5 / sqrt(4) = 2.5; to 0.5 is a factor 0.2 */
    Tensor *u = tensor_zeros(w->shape, 2);
    u->data[0] = 3, u->data[1] = 4, u->data[2 * 4 + 2] = 1;
    Tensor *us[1] = {u};
    ck_assert_int_eq(modular_normalize(emb, us, 0.5f), 0);
    for (int k = 0; k < 24; k++) {
        double want = k == 0 ? 0.6 : k == 1 ? 0.8 : k == 2 * 4 + 2 ? 0.2 : 0.0;
        ck_assert_msg(fabs(u->data[k] - want) < 1e-6, "Embed normalize(u, 0.5): element %d "
                      "is %.7g, expected %.7g", k, (double)u->data[k], want);
    }
    modular_free(emb);
    scope_end(s);
}
END_TEST

START_TEST(test_normalize_power_iteration)
{
    Scope *s = scope_begin();
    strata_manual_seed(17);
    ModularModule *lin = modular_linear(20, 10);
    Tensor *u = w5_randn(20, 10);
    Tensor *us[1] = {u};
    Tensor *before = tensor_clone(u);
    /* the persistent vector keeps converging across calls on the same direction */
    for (int k = 0; k < 10; k++)
        ck_assert_int_eq(modular_normalize(lin, us, 0.3f), 0);
    ck_assert_msg(fabs(w5_linear_norm(u) - 0.3) < 0.003, "||normalize(u, 0.3)|| = %g",
                  w5_linear_norm(u));
    /* the direction is kept: u is a positive multiple of before */
    double ratio = u->data[0] / before->data[0];
    ck_assert_msg(ratio > 0, "normalize flipped the update");
    for (int64_t i = 0; i < 200; i++)
        ck_assert_close(u->data[i], ratio * before->data[i], 1e-5);
    modular_free(lin);

    /* The first call iterates 20 times (modular.h). u = diag(2, 1.4, ..., 1.4), 32 x 32,
     * has spectral norm 2, and its other 31 singular values at 0.7 of it leave a random
     * start far from converged after 3 iterations (an estimate near 1.84: u would come
     * out ~8% too long); after 20 the error is below 1e-9. Normalized to 0.3, u is
     * diag(0.3, 0.21, ..., 0.21). */
    ModularModule *sq = modular_linear(32, 32);
    Tensor *d = tensor_zeros((const int64_t[]){32, 32}, 2);
    for (int i = 0; i < 32; i++)
        d->data[i * 32 + i] = i == 0 ? 2.0f : 1.4f;
    us[0] = d;
    ck_assert_int_eq(modular_normalize(sq, us, 0.3f), 0);
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 32; j++) {
            double want = i != j ? 0.0 : i == 0 ? 0.3 : 0.21;
            ck_assert_msg(fabs(d->data[i * 32 + j] - want) < 1e-4, "first normalize of "
                          "diag(2, 1.4, ...) to 0.3: element [%d, %d] is %.7g, expected %.7g",
                          i, j, (double)d->data[i * 32 + j], want);
        }
    modular_free(sq);
    scope_end(s);
}
END_TEST

START_TEST(test_conv_normalize_per_position)
{
    Scope *s = scope_begin();
    strata_manual_seed(18);
    /* Conv2D(3, 2, kernel 2): four kernel positions, each an [3, 2] matrix. Make position
     * p the rank-1 c_p a b^T (power iteration finds its sigma = c_p |a| |b| exactly) with
     * c = 1, 2, 0, 5. Modula normalizes each position on its own: afterwards every
     * nonzero position has spectral norm = target (LAPACK), the zero one stays zero, and
     * each keeps its direction. (One scalar for the whole kernel would leave them at
     * target * c_p / 5.) */
    ModularModule *conv = modular_conv2d(3, 2, 2, 1, 0);
    ck_assert_ptr_nonnull(conv);
    int64_t shape[4] = {3, 2, 2, 2};
    Tensor *u = tensor_zeros(shape, 4);
    const double c[4] = {1, 2, 0, 5};
    const double a[3] = {1, -2, 0.5}, b[2] = {0.3, 1};
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 2; i++)
            for (int p = 0; p < 4; p++)
                u->data[(o * 2 + i) * 4 + p] = (float)(c[p] * a[o] * b[i]);
    Tensor *before = tensor_clone(u);
    Tensor *us[1] = {u};
    ck_assert_int_eq(modular_normalize(conv, us, 0.4f), 0);
    int64_t ms[2] = {3, 2};
    for (int p = 0; p < 4; p++) {
        Tensor *mat = tensor_zeros(ms, 2);
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 2; i++)
                mat->data[o * 2 + i] = u->data[(o * 2 + i) * 4 + p];
        double sigma = modular_spectral_norm(mat);
        ck_assert_close(sigma, c[p] > 0 ? 0.4 : 0.0, 1e-4);
        for (int k = 0; k < 6 && c[p] > 0; k++) { /* same direction: a positive multiple */
            int64_t e = (k / 2 * 2 + k % 2) * 4 + p;
            double want = before->data[e] * 0.4 / (c[p] * sqrt(1 + 4 + 0.25) * sqrt(0.09 + 1));
            ck_assert_close(u->data[e], want, 1e-4);
        }
    }
    modular_free(conv);

    /* Each position keeps its own power-iteration vector. Conv2D(3, 2, kernel 2) with
     * position p = c_p D_p, D_p = [[3, 0], [0, 1], [0, 0]] for even p and
     * [[1, 0], [0, 3], [0, 0]] for odd p, c = 1, 2, 0.5, 1: spectral norm 3 c_p, top
     * right singular vector e0 or e1, alternating. Normalized to 0.4, position p is
     * D_p * 0.4 / 3; normalizing that again changes nothing. A vector shared by the
     * positions (or another position's) starts each position at the previous one's
     * top vector, which is this one's second: an estimate of c_p, not 3 c_p. */
    conv = modular_conv2d(3, 2, 2, 1, 0);
    ck_assert_ptr_nonnull(conv);
    u = tensor_zeros(shape, 4);
    const double cs[4] = {1, 2, 0.5, 1};
    for (int p = 0; p < 4; p++) {
        u->data[(0 * 2 + 0) * 4 + p] = (float)(cs[p] * (p % 2 ? 1 : 3));
        u->data[(1 * 2 + 1) * 4 + p] = (float)(cs[p] * (p % 2 ? 3 : 1));
    }
    us[0] = u;
    for (int call = 0; call < 3; call++) { /* 20 iterations, then 3 per call */
        ck_assert_int_eq(modular_normalize(conv, us, 0.4f), 0);
        for (int p = 0; p < 4; p++)
            for (int k = 0; k < 6; k++) {
                double d = k == 0 ? (p % 2 ? 1 : 3) : k == 3 ? (p % 2 ? 3 : 1) : 0;
                double got = u->data[k * 4 + p];
                ck_assert_msg(fabs(got - d * 0.4 / 3) < 1e-4,
                              "normalize call %d, position %d, element %d: %.7g, expected "
                              "%.7g",
                              call + 1, p, k, got, d * 0.4 / 3);
            }
    }
    modular_free(conv);
    scope_end(s);
}
END_TEST

START_TEST(test_bonds_forward)
{
    Scope *s = scope_begin();
    float xs[6] = {-2, -0.5f, 0, 1, 3, 4};
    Var *x = var_new(tensor_from_data(xs, (int64_t[]){2, 3}, 2), false);
    ModularModule *relu = modular_relu(), *srelu = modular_scaled_relu(), *ab = modular_abs();
    ModularModule *mean = modular_mean_subtract(), *rms = modular_rms_divide();
    ModularModule *mul = modular_mul(-2.0f), *gelu = modular_gelu(), *id = modular_identity();
    Var *r = modular_forward(relu, x), *sr = modular_forward(srelu, x);
    Var *a = modular_forward(ab, x), *ms = modular_forward(mean, x);
    Var *rd = modular_forward(rms, x), *mu = modular_forward(mul, x);
    Var *ge = modular_forward(gelu, x), *i = modular_forward(id, x);
    ck_assert_msg(r && sr && a && ms && rd && mu && ge && i, "a bond forward failed: %s",
                  strata_last_error());
    ck_assert_msg(i != x, "Identity must return a fresh Var, not its input");
    for (int k = 0; k < 6; k++) {
        double v = xs[k];
        ck_assert_close(r->data->data[k], v > 0 ? v : 0, 1e-6);
        ck_assert_close(sr->data->data[k], v > 0 ? sqrt(2.0) * v : 0, 1e-5);
        ck_assert_close(a->data->data[k], fabs(v), 1e-6);
        ck_assert_close(mu->data->data[k], -2 * v, 1e-6);
        ck_assert_close(i->data->data[k], v, 0);
        ck_assert_close(ge->data->data[k], 0.5 * v * (1 + erf(v / sqrt(2.0))) / 1.1289, 1e-4);
    }
    /* row means: (-2.5/3) and (8/3); row RMS: sqrt(4.25/3) and sqrt(26/3) */
    double means[2] = {-2.5 / 3, 8.0 / 3}, rmss[2] = {sqrt(4.25 / 3), sqrt(26.0 / 3)};
    for (int k = 0; k < 6; k++) {
        ck_assert_close(ms->data->data[k], xs[k] - means[k / 3], 1e-5);
        ck_assert_close(rd->data->data[k], xs[k] / rmss[k / 3], 1e-5);
    }
    ck_assert_close(modular_sensitivity(mul), 2.0, 0);
    ck_assert_close(modular_mass(relu), 0.0, 0);
    /* the image bonds on x4 = 0, 1, ..., 15 as [1, 1, 4, 4]: AvgPool(2, 2, 0) averages
     * each 2 x 2 block ((0 + 1 + 4 + 5) / 4 = 2.5, ...), GlobalAvgPool the whole plane
     * (7.5), Flatten keeps the values in order as [1, 16] */
    float x4v[16];
    for (int k = 0; k < 16; k++)
        x4v[k] = (float)k;
    Var *x4 = var_new(tensor_from_data(x4v, (int64_t[]){1, 1, 4, 4}, 4), false);
    ModularModule *pool = modular_avg_pool(2, 2, 0), *gpool = modular_global_avg_pool();
    ModularModule *flat = modular_flatten();
    ck_assert_msg(pool && gpool && flat, "an image bond constructor failed: %s",
                  strata_last_error());
    Var *p = modular_forward(pool, x4), *gp = modular_forward(gpool, x4);
    Var *fl = modular_forward(flat, x4);
    ck_assert_msg(p && gp && fl, "an image bond forward failed: %s", strata_last_error());
    ck_assert_msg(p->data->ndim == 4 && p->data->shape[2] == 2 && p->data->shape[3] == 2,
                  "AvgPool(2, 2, 0) of [1, 1, 4, 4] should be [1, 1, 2, 2]");
    const double pooled[4] = {2.5, 4.5, 10.5, 12.5};
    for (int k = 0; k < 4; k++)
        ck_assert_close(tensor_get(p->data, (int64_t[]){0, 0, k / 2, k % 2}), pooled[k],
                        1e-6);
    ck_assert_msg(gp->data->ndim == 2 && gp->data->shape[0] == 1 && gp->data->shape[1] == 1,
                  "GlobalAvgPool of [1, 1, 4, 4] should be [1, 1]");
    ck_assert_close(tensor_get(gp->data, (int64_t[]){0, 0}), 7.5, 1e-6);
    ck_assert_msg(fl->data->ndim == 2 && fl->data->shape[1] == 16,
                  "Flatten of [1, 1, 4, 4] should be [1, 16]");
    for (int k = 0; k < 16; k++)
        ck_assert_close(tensor_get(fl->data, (int64_t[]){0, k}), k, 0);
    modular_free(pool);
    modular_free(gpool);
    modular_free(flat);
    ModularModule *all[8] = {relu, srelu, ab, mean, rms, mul, gelu, id};
    for (int k = 0; k < 8; k++) {
        ck_assert_int_eq(modular_num_bonds(all[k]), 1);
        ck_assert_int_eq(modular_num_atoms(all[k]), 0);
        modular_free(all[k]);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_mul_zero_rejected)
{
    Scope *s = scope_begin();
    strata_clear_error();
    ck_assert_ptr_null(modular_mul(0.0f));
    ck_assert_msg(strstr(strata_last_error(), "modular_mul") &&
                      strstr(strata_last_error(), "zero"),
                  "message: %s", strata_last_error());
    strata_clear_error();
    ck_assert_ptr_null(modular_scale(0.0f, modular_linear(2, 2))); /* frees the Linear */
    ck_assert_msg(strstr(strata_last_error(), "zero"), "message: %s", strata_last_error());
    ModularModule *neg = modular_mul(-0.25f);
    ck_assert_ptr_nonnull(neg);
    ck_assert_close(modular_sensitivity(neg), 0.25, 0); /* |alpha| */
    modular_free(neg);
    scope_end(s);
}
END_TEST

START_TEST(test_constructor_errors)
{
    Scope *s = scope_begin();
    ck_assert_ptr_null(modular_linear(0, 3));
    ck_assert_msg(strstr(strata_last_error(), "modular_linear"), "message: %s",
                  strata_last_error());
    ck_assert_ptr_null(modular_conv2d(2, 2, 3, 0, 0));
    ck_assert_msg(strstr(strata_last_error(), "stride"), "message: %s", strata_last_error());
    ck_assert_ptr_null(modular_embed(4, -1));
    ck_assert_msg(strstr(strata_last_error(), "modular_embed"), "message: %s",
                  strata_last_error());
    /* a shape mismatch is named and nothing is written */
    ModularModule *lin = modular_linear(3, 2);
    Tensor *g = w5_randn(2, 3), *out = tensor_ones((int64_t[]){3, 2}, 2);
    Tensor *gs[1] = {g}, *outs[1] = {out};
    ck_assert_int_eq(modular_dualize(lin, gs, outs, 1.0f), -1);
    ck_assert_msg(strstr(strata_last_error(), "[2, 3]") && strstr(strata_last_error(), "[3, 2]"),
                  "message: %s", strata_last_error());
    ck_assert_close(w5_max_abs(out), 1.0, 0);
    Tensor *good[1] = {w5_randn(3, 2)};
    ck_assert_msg(modular_dualize(lin, good, outs, 1.0f) == 0, "modular_dualize failed: %s",
                  strata_last_error());
    modular_free(lin);
    scope_end(s);
}
END_TEST

void add_atom_tests(Suite *s)
{
    GRADED(s, test_linear_forward_backward, 3);
    GRADED(s, test_linear_initialize_norm_one, 3);
    GRADED(s, test_linear_dualize_target_norm, 4);
    GRADED(s, test_linear_project_idempotent, 2);
    GRADED(s, test_zero_gradient_gives_zero, 2);
    GRADED(s, test_conv2d_forward, 3);
    GRADED(s, test_conv2d_norms, 3);
    GRADED(s, test_embed, 3);
    GRADED(s, test_normalize_power_iteration, 3);
    GRADED(s, test_conv_normalize_per_position, 2);
    GRADED(s, test_bonds_forward, 3);
    GRADED(s, test_mul_zero_rejected, 2);
    GRADED(s, test_constructor_errors, 1);
}
