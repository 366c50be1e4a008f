/*
 * test_orthogonalize.c - Newton-Schulz orthogonalization against hand-computed values
 * and LAPACK's SVD, the exact references, and orthogonal initialization by QR.
 *
 * Where the values come from: the six-step polynomial acts on each normalized singular
 * value x separately, x <- a x + b x^3 + c x^5 per step; iterating it by hand (in double)
 * from x = 0.6 and 0.8 (diag(3, 4) / 5) gives 0.995599 and 0.996848, from x = 1 (a
 * rank-1 matrix) 0.998412. The cubic (1.5, -0.5) x10 reaches 1.000000 at both points,
 * the quintic (3, -3.2, 1.2) x10 gives 1.000736 and 1.000014.
 */
#include "week5.h"

#include <math.h>

static Tensor *diag2(float a, float b)
{
    float d[4] = {a, 0, 0, b};
    int64_t shape[2] = {2, 2};
    return tensor_from_data(d, shape, 2);
}

START_TEST(test_ns_diag_3_4)
{
    Scope *s = scope_begin();
    Tensor *o = modular_orthogonalize(diag2(3, 4));
    ck_assert_msg(o != NULL, "modular_orthogonalize failed: %s", strata_last_error());
    ck_assert_close(o->data[0], 0.995599, 2e-5);
    ck_assert_close(o->data[3], 0.996848, 2e-5);
    ck_assert_close(o->data[1], 0.0, 1e-6);
    ck_assert_close(o->data[2], 0.0, 1e-6);
    /* the exact references the other tests lean on */
    Tensor *sv = modular_singular_values(diag2(3, 4));
    ck_assert_msg(sv != NULL, "modular_singular_values failed: %s", strata_last_error());
    ck_assert_close(sv->data[0], 4.0, 1e-5);
    ck_assert_close(sv->data[1], 3.0, 1e-5);
    ck_assert_close(modular_spectral_norm(diag2(3, -5)), 5.0, 1e-5);
    strata_manual_seed(5);
    Tensor *e = modular_orthogonalize_exact(w5_randn(9, 5));
    ck_assert_msg(e != NULL, "modular_orthogonalize_exact failed: %s", strata_last_error());
    ck_assert_msg(w5_orth_error(e) < 1e-5, "exact U V^T is not orthogonal: %g",
                  w5_orth_error(e));
    scope_end(s);
}
END_TEST

START_TEST(test_ns_rank_one)
{
    Scope *s = scope_begin();
    /* u v^T with u = (1, 2, 2)/3 * 3, v = (3, 4)/5 * 10: O should be 0.998412 u^ v^T */
    float u[3] = {1, 2, 2}, v[2] = {3, 4};
    float d[6];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            d[i * 2 + j] = u[i] * v[j] * 2.0f;
    int64_t shape[2] = {3, 2};
    Tensor *o = modular_orthogonalize(tensor_from_data(d, shape, 2));
    ck_assert_msg(o != NULL, "modular_orthogonalize failed: %s", strata_last_error());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            ck_assert_close(o->data[i * 2 + j], 0.998412 * (u[i] / 3.0) * (v[j] / 5.0), 2e-5);
    scope_end(s);
}
END_TEST

START_TEST(test_ns_cubic_and_quintic)
{
    Scope *s = scope_begin();
    float cubic[30], quintic[30];
    for (int i = 0; i < 10; i++) {
        cubic[3 * i] = 1.5f, cubic[3 * i + 1] = -0.5f, cubic[3 * i + 2] = 0.0f;
        quintic[3 * i] = 3.0f, quintic[3 * i + 1] = -3.2f, quintic[3 * i + 2] = 1.2f;
    }
    Tensor *c = modular_newton_schulz(diag2(3, 4), cubic, 10);
    Tensor *q = modular_newton_schulz(diag2(3, 4), quintic, 10);
    ck_assert_msg(c && q, "modular_newton_schulz failed: %s", strata_last_error());
    ck_assert_close(c->data[0], 1.0, 1e-5);
    ck_assert_close(c->data[3], 1.0, 1e-5);
    ck_assert_close(q->data[0], 1.000736, 2e-5);
    ck_assert_close(q->data[3], 1.000014, 2e-5);
    /* zero steps: just the Frobenius normalization, 3/5 and 4/5 */
    Tensor *z = modular_newton_schulz(diag2(3, 4), cubic, 0);
    ck_assert_msg(z != NULL, "modular_newton_schulz(0 steps) failed: %s", strata_last_error());
    ck_assert_close(z->data[0], 0.6, 1e-6);
    ck_assert_close(z->data[3], 0.8, 1e-6);
    scope_end(s);
}
END_TEST

START_TEST(test_ns_gaussian_50x100)
{
    Scope *s = scope_begin();
    strata_manual_seed(0);
    Tensor *m = w5_randn(50, 100);
    Tensor *o = modular_orthogonalize(m);
    ck_assert_msg(o != NULL, "modular_orthogonalize failed: %s", strata_last_error());
    /* Modula's own check found [0.9956, 0.9993] on its sample. Iterating the polynomial
     * in double maps every x in [0.01, 1] into [0.995589, 0.999335], and a 50 x 100
     * Gaussian's normalized singular values lie above 0.03, so allow that range plus
     * float rounding. */
    double lo, hi;
    w5_sv_range(o, &lo, &hi);
    ck_assert_msg(lo >= 0.99555 && hi <= 0.99937,
                  "singular values of O span [%.6f, %.6f], expected within [0.99555, 0.99937]",
                  lo, hi);
    double err = w5_orth_error(o);
    ck_assert_msg(err < 0.01, "max |O O^T - I| = %g, expected < 0.01", err);
    /* and close to the exact U V^T */
    Tensor *e = modular_orthogonalize_exact(m);
    ck_assert_msg(e != NULL, "modular_orthogonalize_exact failed: %s", strata_last_error());
    double diff = 0.0, norm = 0.0;
    for (int64_t i = 0; i < 5000; i++) {
        diff += pow(o->data[i] - e->data[i], 2);
        norm += pow(e->data[i], 2);
    }
    ck_assert_msg(sqrt(diff / norm) < 0.01, "||O - U V^T|| / ||U V^T|| = %g",
                  sqrt(diff / norm));
    scope_end(s);
}
END_TEST

/* M = P diag(sv) Q^T with exactly orthogonal P, Q from the exact path: condition known. */
static Tensor *conditioned(int64_t rows, int64_t cols, double smallest)
{
    int64_t r = rows < cols ? rows : cols;
    Tensor *p = modular_orthogonalize_exact(w5_randn(rows, r));
    Tensor *q = modular_orthogonalize_exact(w5_randn(cols, r));
    ck_assert_msg(p && q, "exact orthogonalization failed: %s", strata_last_error());
    Tensor *out = tensor_zeros((int64_t[]){rows, cols}, 2);
    for (int64_t t = 0; t < r; t++) {
        double sv = r == 1 ? 1.0 : 1.0 - (1.0 - smallest) * (double)t / (double)(r - 1);
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                out->data[i * cols + j] += (float)(sv * p->data[i * r + t] * q->data[j * r + t]);
    }
    return out;
}

START_TEST(test_ns_tall_wide_square)
{
    Scope *s = scope_begin();
    strata_manual_seed(1);
    int64_t shapes[3][2] = {{40, 16}, {16, 40}, {24, 24}};
    for (int k = 0; k < 3; k++) {
        int64_t r = shapes[k][0], c = shapes[k][1];
        /* singular values spread over [0.1, 1]: normalized by ||M||_F they stay above
         * 0.1 / sqrt(min(r,c)) >= 0.02, well inside the polynomial's working range */
        Tensor *m = conditioned(r, c, 0.1);
        Tensor *o = modular_orthogonalize(m);
        Tensor *e = modular_orthogonalize_exact(m);
        ck_assert_msg(o && e, "orthogonalize [%lld, %lld] failed: %s", (long long)r,
                      (long long)c, strata_last_error());
        ck_assert_int_eq(o->shape[0], r);
        ck_assert_int_eq(o->shape[1], c);
        double lo, hi;
        w5_sv_range(o, &lo, &hi);
        ck_assert_msg(lo >= 0.9955 && hi <= 0.9994,
                      "[%lld, %lld]: singular values of O in [%.5f, %.5f], expected within "
                      "[0.9955, 0.9994]",
                      (long long)r, (long long)c, lo, hi);
        double worst = 0.0;
        for (int64_t i = 0; i < r * c; i++)
            worst = fmax(worst, fabs(o->data[i] - e->data[i]));
        ck_assert_msg(worst < 0.02, "[%lld, %lld]: max |O - U V^T| = %g", (long long)r,
                      (long long)c, worst);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_ns_rank_deficient)
{
    Scope *s = scope_begin();
    strata_manual_seed(2);
    /* rank 4: A [30, 4] B [4, 20] */
    Tensor *m = tensor_matmul(w5_randn(30, 4), w5_randn(4, 20));
    ck_assert_msg(m != NULL, "tensor_matmul failed: %s", strata_last_error());
    Tensor *o = modular_orthogonalize(m);
    Tensor *e = modular_orthogonalize_exact(m);
    ck_assert_msg(o && e, "orthogonalize failed: %s", strata_last_error());
    Tensor *sv = modular_singular_values(o);
    ck_assert_msg(sv != NULL, "modular_singular_values failed: %s", strata_last_error());
    for (int i = 0; i < 4; i++)
        ck_assert_msg(sv->data[i] > 0.95 && sv->data[i] < 1.0005,
                      "singular value %d of O is %g: the 4 nonzero ones should map near 1", i,
                      (double)sv->data[i]);
    for (int i = 4; i < 20; i++)
        ck_assert_msg(sv->data[i] < 1e-3,
                      "singular value %d of O is %g: zero singular values must stay 0 (odd "
                      "polynomial)",
                      i, (double)sv->data[i]);
    /* the exact reference drops the null directions too: U_r V_r^T */
    Tensor *se = modular_singular_values(e);
    ck_assert_close(se->data[3], 1.0, 1e-4);
    ck_assert_msg(se->data[4] < 1e-4, "exact U_r V_r^T has a 5th singular value %g",
                  (double)se->data[4]);
    scope_end(s);
}
END_TEST

START_TEST(test_ns_zero)
{
    Scope *s = scope_begin();
    Tensor *z = tensor_zeros((int64_t[]){7, 3}, 2);
    Tensor *o = modular_orthogonalize(z);
    Tensor *e = modular_orthogonalize_exact(z);
    ck_assert_msg(o && e, "orthogonalize(0) failed: %s", strata_last_error());
    ck_assert_msg(w5_all_finite(o) && w5_max_abs(o) == 0.0,
                  "orthogonalize of a zero matrix must be exactly zero (no NaN)");
    ck_assert_msg(w5_all_finite(e) && w5_max_abs(e) == 0.0,
                  "orthogonalize_exact of a zero matrix must be exactly zero");
    ck_assert_close(modular_spectral_norm(z), 0.0, 0.0);
    scope_end(s);
}
END_TEST

START_TEST(test_ns_commutes_with_transpose)
{
    Scope *s = scope_begin();
    strata_manual_seed(3);
    Tensor *m = w5_randn(12, 30);
    Tensor *a = modular_orthogonalize(tensor_transpose(m, 0, 1)); /* a strided view */
    Tensor *b = modular_orthogonalize(m);
    ck_assert_msg(a && b, "orthogonalize failed: %s", strata_last_error());
    ck_assert_int_eq(a->shape[0], 30);
    for (int64_t i = 0; i < 30; i++)
        for (int64_t j = 0; j < 12; j++)
            ck_assert_close(a->data[i * 12 + j], b->data[j * 30 + i], 1e-5);
    scope_end(s);
}
END_TEST

START_TEST(test_ns_scale_invariant)
{
    Scope *s = scope_begin();
    strata_manual_seed(4);
    Tensor *m = w5_randn(10, 6);
    Tensor *o = modular_orthogonalize(m);
    Tensor *small = modular_orthogonalize(tensor_mul_scalar(m, 1e-6f));
    Tensor *big = modular_orthogonalize(tensor_mul_scalar(m, 1e6f));
    ck_assert_msg(o && small && big, "orthogonalize failed: %s", strata_last_error());
    for (int64_t i = 0; i < 60; i++) {
        ck_assert_close(small->data[i], o->data[i], 1e-5);
        ck_assert_close(big->data[i], o->data[i], 1e-5);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_orthogonal_init)
{
    Scope *s = scope_begin();
    int64_t shapes[3][2] = {{20, 8}, {8, 20}, {12, 12}};
    for (int k = 0; k < 3; k++) {
        strata_manual_seed(6);
        Tensor *q = modular_orthogonal(shapes[k][0], shapes[k][1]);
        ck_assert_msg(q != NULL, "modular_orthogonal failed: %s", strata_last_error());
        ck_assert_int_eq(q->shape[0], shapes[k][0]);
        ck_assert_int_eq(q->shape[1], shapes[k][1]);
        ck_assert_msg(w5_orth_error(q) < 1e-5,
                      "modular_orthogonal(%lld, %lld) is off orthogonal by %g",
                      (long long)shapes[k][0], (long long)shapes[k][1], w5_orth_error(q));
        strata_manual_seed(6);
        Tensor *again = modular_orthogonal(shapes[k][0], shapes[k][1]);
        ck_assert_msg(again && tensor_allclose(q, again, 0, 0),
                      "the same seed must give the same matrix");
        Tensor *other = modular_orthogonal(shapes[k][0], shapes[k][1]);
        ck_assert_msg(other && !tensor_allclose(q, other, 1e-3f, 1e-3f),
                      "two draws gave the same matrix");
    }
    ck_assert_ptr_null(modular_orthogonal(0, 3));
    ck_assert_msg(strstr(strata_last_error(), ">= 1"), "message: %s", strata_last_error());
    scope_end(s);
}
END_TEST

START_TEST(test_orthogonalize_errors)
{
    Scope *s = scope_begin();
    Tensor *ok = modular_orthogonalize(tensor_ones((int64_t[]){2, 3}, 2));
    ck_assert_msg(ok != NULL, "modular_orthogonalize failed: %s", strata_last_error());
    strata_clear_error();
    Tensor *v = tensor_ones((int64_t[]){5}, 1);
    ck_assert_ptr_null(modular_orthogonalize(v));
    ck_assert_msg(strstr(strata_last_error(), "modular_orthogonalize") &&
                      strstr(strata_last_error(), "2-D"),
                  "message: %s", strata_last_error());
    strata_clear_error();
    ck_assert_ptr_null(modular_orthogonalize(NULL));
    ck_assert_msg(strstr(strata_last_error(), "NULL"), "message: %s", strata_last_error());
    scope_end(s);
}
END_TEST

void add_orthogonalize_tests(Suite *s)
{
    GRADED(s, test_ns_diag_3_4, 4);
    GRADED(s, test_ns_rank_one, 3);
    GRADED(s, test_ns_cubic_and_quintic, 2);
    GRADED(s, test_ns_gaussian_50x100, 4);
    GRADED(s, test_ns_tall_wide_square, 4);
    GRADED(s, test_ns_rank_deficient, 3);
    GRADED(s, test_ns_zero, 2);
    GRADED(s, test_ns_commutes_with_transpose, 2);
    GRADED(s, test_ns_scale_invariant, 2);
    GRADED(s, test_orthogonal_init, 3);
    GRADED(s, test_orthogonalize_errors, 1);
}
