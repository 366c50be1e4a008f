/*
 * helpers.c - independent helpers for the week-5 tests (see week5.h).
 */
#include "week5.h"

#include <math.h>

Tensor *w5_randn(int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    return tensor_randn(shape, 2);
}

double w5_dot(const Tensor *a, const Tensor *b)
{
    double s = 0.0;
    for (int64_t i = 0; i < tensor_numel(a); i++)
        s += (double)a->data[i] * b->data[i];
    return s;
}

double w5_max_abs(const Tensor *t)
{
    double m = 0.0;
    for (int64_t i = 0; i < tensor_numel(t); i++)
        m = fmax(m, fabs(t->data[i]));
    return m;
}

bool w5_all_finite(const Tensor *t)
{
    for (int64_t i = 0; i < tensor_numel(t); i++)
        if (!isfinite(t->data[i]))
            return false;
    return true;
}

double w5_linear_norm(const Tensor *w)
{
    return sqrt((double)w->shape[1] / (double)w->shape[0]) * modular_spectral_norm(w);
}

void w5_sv_range(const Tensor *m, double *lo, double *hi)
{
    Tensor *s = modular_singular_values(m);
    ck_assert_msg(s != NULL, "modular_singular_values failed: %s", strata_last_error());
    int64_t n = tensor_numel(s);
    *hi = s->data[0];
    *lo = s->data[n - 1];
}

double w5_orth_error(const Tensor *m)
{
    int64_t r = m->shape[0], c = m->shape[1];
    bool tall = r > c;
    int64_t k = tall ? c : r, len = tall ? r : c;
    double worst = 0.0;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            double acc = 0.0;
            for (int64_t t = 0; t < len; t++)
                acc += tall ? (double)m->data[t * c + i] * m->data[t * c + j]
                            : (double)m->data[i * c + t] * m->data[j * c + t];
            worst = fmax(worst, fabs(acc - (i == j ? 1.0 : 0.0)));
        }
    return worst;
}

void w5_like_weights(const ModularModule *m, Tensor **out, bool random)
{
    int n = modular_num_atoms(m);
    for (int i = 0; i < n; i++) {
        Var *w = modular_weight_get(m, i);
        ck_assert_msg(w != NULL, "modular_weight_get(%d) failed: %s", i, strata_last_error());
        out[i] = random ? tensor_randn(w->data->shape, w->data->ndim)
                        : tensor_zeros_like(w->data);
    }
}
