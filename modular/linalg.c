/*
 * linalg.c - orthogonalization (Newton-Schulz), and the exact references through
 * LAPACK: singular values, U V^T, spectral norm, orthogonal matrices by QR; plus the
 * power iteration normalize() uses.
 *
 * The kernels work on row-major float buffers and call cblas/LAPACK directly (OpenBLAS
 * ships both), so they cost three GEMMs per Newton-Schulz step and no tensor
 * temporaries. LAPACK is column-major: a row-major rows x cols buffer is, to LAPACK,
 * the cols x rows matrix M^T; the comments say which one each call sees.
 */
#include "modular_internal.h"

#include <cblas.h>
#include <float.h>
#include <lapack.h>
#include <math.h>
#include <string.h>

const float modular_ns_coefficients[MODULAR_NS_STEPS * 3] = {
    3955.0f / 1024, -8306.0f / 1024, 5008.0f / 1024,
    3735.0f / 1024, -6681.0f / 1024, 3463.0f / 1024,
    3799.0f / 1024, -6499.0f / 1024, 3211.0f / 1024,
    4019.0f / 1024, -6385.0f / 1024, 2906.0f / 1024,
    2677.0f / 1024, -3029.0f / 1024, 1162.0f / 1024,
    2172.0f / 1024, -1833.0f / 1024, 682.0f / 1024,
};

double mod_frobenius(const float *a, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * a[i];
    return sqrt(s);
}

/* SOLUTION BEGIN week=5 step=1 tier=core */
/* Transpose a row-major rows x cols buffer into dst (cols x rows). */
static void transpose_into(const float *src, float *dst, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[j * rows + i] = src[i * cols + j];
}
/* SOLUTION END */

int mod_newton_schulz_raw(const float *src, float *dst, int64_t rows, int64_t cols,
                          const float *coeffs, int steps)
{
    /* SOLUTION BEGIN week=5 step=1 tier=core fail=-1 */
    int64_t n = rows * cols;
    double fro = mod_frobenius(src, n);
    if (fro == 0.0) { /* exact zero test: zero in, zero out (Modula would give NaN) */
        memset(dst, 0, (size_t)n * sizeof *dst);
        return 0;
    }
    /* Work on the tall orientation X [m, k] with m >= k, so A = X^T X is the small one. */
    bool wide = cols > rows;
    int64_t m = wide ? cols : rows, k = wide ? rows : cols;
    float *x = strata_malloc((size_t)n * sizeof *x);
    float *y = strata_malloc((size_t)n * sizeof *y);
    float *a = strata_malloc((size_t)(k * k) * sizeof *a);
    float *b = strata_malloc((size_t)(k * k) * sizeof *b);
    if (!x || !y || !a || !b) {
        strata_free(x), strata_free(y), strata_free(a), strata_free(b);
        return -1;
    }
    if (wide)
        transpose_into(src, x, rows, cols);
    else
        memcpy(x, src, (size_t)n * sizeof *x);
    float scale = (float)(1.0 / fro);
    for (int64_t i = 0; i < n; i++)
        x[i] *= scale;
    for (int s = 0; s < steps; s++) {
        float ca = coeffs[3 * s], cb = coeffs[3 * s + 1], cc = coeffs[3 * s + 2];
        /* A = X^T X  [k, k], symmetric: SYRK computes the upper triangle at half the
         * cost of a GEMM, then mirror it */
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)m, 1.0f, x, (int)k,
                    0.0f, a, (int)k);
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < i; j++)
                a[i * k + j] = a[j * k + i];
        /* B = b A + c A^2 */
        memcpy(b, a, (size_t)(k * k) * sizeof *b);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)k, (int)k, cc,
                    a, (int)k, a, (int)k, cb, b, (int)k);
        /* Y = a X + X B */
        memcpy(y, x, (size_t)n * sizeof *y);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)k, 1.0f,
                    x, (int)k, b, (int)k, ca, y, (int)k);
        float *t = x;
        x = y;
        y = t;
    }
    if (wide)
        transpose_into(x, dst, cols, rows);
    else
        memcpy(dst, x, (size_t)n * sizeof *dst);
    strata_free(x), strata_free(y), strata_free(a), strata_free(b);
    return 0;
    /* SOLUTION END */
}

double mod_power_iteration(const float *a, int64_t rows, int64_t cols, float *v, int iters)
{
    /* SOLUTION BEGIN week=5 step=2 tier=core fail=NAN */
    float *u = strata_malloc((size_t)rows * sizeof *u);
    if (!u)
        return NAN;
    double vn = mod_frobenius(v, cols);
    if (!(vn > 0.0) || !isfinite(vn)) { /* restart from a fixed direction */
        for (int64_t j = 0; j < cols; j++)
            v[j] = 1.0f;
        vn = sqrt((double)cols);
    }
    for (int64_t j = 0; j < cols; j++)
        v[j] = (float)(v[j] / vn);
    double sigma = 0.0;
    for (int it = 0; it < iters; it++) {
        /* u = A v, v = A^T u / ||A^T u|| ; sigma = ||A v|| with unit v */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)cols, 1.0f, a, (int)cols,
                    v, 1, 0.0f, u, 1);
        sigma = mod_frobenius(u, rows);
        if (sigma == 0.0)
            break;
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)rows, (int)cols, 1.0f, a, (int)cols, u,
                    1, 0.0f, v, 1);
        double n2 = mod_frobenius(v, cols);
        if (n2 == 0.0)
            break;
        for (int64_t j = 0; j < cols; j++)
            v[j] = (float)(v[j] / n2);
    }
    if (sigma > 0.0) { /* final estimate with the updated unit v */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)cols, 1.0f, a, (int)cols,
                    v, 1, 0.0f, u, 1);
        sigma = mod_frobenius(u, rows);
    }
    strata_free(u);
    return sigma;
    /* SOLUTION END */
}

/*
 * LAPACK's sgesdd on a copy of @p a. jobz 'N': values only; 'S': also the reduced
 * factors. Row-major a (rows x cols) is column-major at = a^T (cols x rows): LAPACK
 * returns at = U' S V'^T with U' [cols, r], V'^T [r, rows] (r = min), both column-major.
 */
static int svd_raw(const float *a, int64_t rows, int64_t cols, char jobz, float *s, float *u,
                   float *vt)
{
    lapack_int m = (lapack_int)cols, n = (lapack_int)rows;
    lapack_int r = m < n ? m : n, lda = m, ldu = m, ldvt = r, info = 0, lwork = -1;
    float *work_a = strata_malloc((size_t)(rows * cols) * sizeof *work_a);
    lapack_int *iwork = strata_malloc((size_t)(8 * r + 8) * sizeof *iwork);
    float query = 0.0f, dummy = 0.0f;
    if (!work_a || !iwork) {
        strata_free(work_a), strata_free(iwork);
        return -1;
    }
    memcpy(work_a, a, (size_t)(rows * cols) * sizeof *work_a);
    float *uu = jobz == 'N' ? &dummy : u, *vv = jobz == 'N' ? &dummy : vt;
    if (jobz == 'N')
        ldu = ldvt = 1;
    LAPACK_sgesdd(&jobz, &m, &n, work_a, &lda, s, uu, &ldu, vv, &ldvt, &query, &lwork, iwork,
                  &info);
    lwork = info == 0 ? (lapack_int)query + 1 : 0;
    float *work = info == 0 ? strata_malloc((size_t)lwork * sizeof *work) : NULL;
    if (work)
        LAPACK_sgesdd(&jobz, &m, &n, work_a, &lda, s, uu, &ldu, vv, &ldvt, work, &lwork,
                      iwork, &info);
    strata_free(work), strata_free(work_a), strata_free(iwork);
    if (info == 0 && !work)
        return -1; /* out of memory: strata_malloc's message says so */
    if (!work || info != 0) {
        strata_set_error("modular: LAPACK sgesdd failed on a [%lld, %lld] matrix (info %d)",
                         (long long)rows, (long long)cols, (int)info);
        return -1;
    }
    return 0;
}

int mod_singular_values_raw(const float *a, int64_t rows, int64_t cols, float *s)
{
    if (mod_frobenius(a, rows * cols) == 0.0) {
        int64_t r = rows < cols ? rows : cols;
        memset(s, 0, (size_t)r * sizeof *s);
        return 0;
    }
    return svd_raw(a, rows, cols, 'N', s, NULL, NULL);
}

int mod_orthogonal_raw(float *dst, int64_t rows, int64_t cols)
{
    /* SOLUTION BEGIN week=5 step=2 tier=core fail=-1 */
    /* QR of a tall Gaussian G [m, k] (column-major, m >= k); the result is Q or Q^T. */
    bool wide = cols > rows;
    lapack_int m = (lapack_int)(wide ? cols : rows), k = (lapack_int)(wide ? rows : cols);
    lapack_int lda = m, info = 0, lwork = -1;
    float *g = strata_malloc((size_t)m * (size_t)k * sizeof *g);
    float *tau = strata_malloc((size_t)k * sizeof *tau);
    float *sign = strata_malloc((size_t)k * sizeof *sign);
    if (!g || !tau || !sign) {
        strata_free(g), strata_free(tau), strata_free(sign);
        return -1;
    }
    for (int64_t i = 0; i < (int64_t)m * k; i++)
        g[i] = (float)strata_rng_normal();
    float query = 0.0f;
    LAPACK_sgeqrf(&m, &k, g, &lda, tau, &query, &lwork, &info);
    lwork = (lapack_int)query + 1;
    float *work = strata_malloc((size_t)lwork * sizeof *work);
    if (!work) {
        strata_free(g), strata_free(tau), strata_free(sign);
        return -1;
    }
    LAPACK_sgeqrf(&m, &k, g, &lda, tau, work, &lwork, &info);
    /* torch's orthogonal_: Q *= sign(diag(R)), which makes Q Haar-distributed. */
    for (lapack_int j = 0; j < k; j++)
        sign[j] = g[(size_t)j * m + j] < 0 ? -1.0f : 1.0f;
    if (info == 0) {
        lapack_int lw2 = -1;
        LAPACK_sorgqr(&m, &k, &k, g, &lda, tau, &query, &lw2, &info);
        lw2 = (lapack_int)query + 1;
        if (lw2 > lwork) {
            strata_free(work);
            work = strata_malloc((size_t)lw2 * sizeof *work);
        }
        if (work)
            LAPACK_sorgqr(&m, &k, &k, g, &lda, tau, work, &lw2, &info);
    }
    if (!work || info != 0) {
        strata_free(g), strata_free(tau), strata_free(sign), strata_free(work);
        strata_set_error("modular_orthogonal: LAPACK QR failed (info %d)", (int)info);
        return -1;
    }
    /* Q is column-major [m, k]: Q(i, j) = g[j*m + i]. */
    for (lapack_int i = 0; i < m; i++)
        for (lapack_int j = 0; j < k; j++) {
            float q = g[(size_t)j * m + i] * sign[j];
            if (wide)
                dst[(size_t)j * cols + i] = q; /* dst = Q^T [k, m] */
            else
                dst[(size_t)i * cols + j] = q; /* dst = Q [m, k] */
        }
    strata_free(g), strata_free(tau), strata_free(sign), strata_free(work);
    return 0;
    /* SOLUTION END */
}

/* ------------------------------------------------------------- tensor wrappers --- */

/* A contiguous row-major copy of a 2-D tensor (strata_malloc'd), or NULL with an error. */
static float *matrix_copy(const Tensor *m, const char *fn)
{
    if (!m) {
        strata_error_null(fn, "m");
        return NULL;
    }
    if (m->ndim != 2) {
        strata_set_error("%s: expected a 2-D tensor, got %d dims", fn, m->ndim);
        return NULL;
    }
    float *buf = strata_malloc((size_t)(m->shape[0] * m->shape[1] + 1) * sizeof *buf);
    if (!buf)
        return NULL;
    if (tensor_to_array(m, buf) != 0) {
        strata_free(buf);
        return NULL;
    }
    return buf;
}

/* A new tensor of @p m's shape holding buf (buf is freed). */
static Tensor *matrix_result(float *buf, const Tensor *m)
{
    Tensor *out = tensor_from_data(buf, m->shape, 2);
    strata_free(buf);
    return out;
}

Tensor *modular_newton_schulz(const Tensor *m, const float *coeffs, int steps)
{
    STRATA_CHECK_ARG(coeffs, NULL);
    if (steps < 0) {
        strata_set_error("modular_newton_schulz: steps must be >= 0, got %d", steps);
        return NULL;
    }
    float *buf = matrix_copy(m, __func__);
    if (!buf)
        return NULL;
    if (mod_newton_schulz_raw(buf, buf, m->shape[0], m->shape[1], coeffs, steps) != 0) {
        strata_free(buf);
        return NULL;
    }
    return matrix_result(buf, m);
}

Tensor *modular_orthogonalize(const Tensor *m)
{
    float *buf = matrix_copy(m, __func__);
    if (!buf)
        return NULL;
    if (mod_newton_schulz_raw(buf, buf, m->shape[0], m->shape[1], modular_ns_coefficients,
                              MODULAR_NS_STEPS) != 0) {
        strata_free(buf);
        return NULL;
    }
    return matrix_result(buf, m);
}

Tensor *modular_orthogonalize_exact(const Tensor *m)
{
    float *buf = matrix_copy(m, __func__);
    if (!buf)
        return NULL;
    int64_t rows = m->shape[0], cols = m->shape[1], r = rows < cols ? rows : cols;
    if (mod_frobenius(buf, rows * cols) == 0.0)
        return matrix_result(buf, m); /* zeros */
    float *s = strata_malloc((size_t)r * sizeof *s);
    float *u = strata_malloc((size_t)(cols * r) * sizeof *u);
    float *vt = strata_malloc((size_t)(r * rows) * sizeof *vt);
    int rc = (s && u && vt) ? svd_raw(buf, rows, cols, 'S', s, u, vt) : -1;
    if (rc == 0) {
        /* LAPACK saw at = M^T = U' S V'^T (U' [cols, r], V'^T [r, rows], column-major).
         * M = V' S U'^T, so its U V^T is V' U'^T: element (i, j) = sum_t V'(i,t) U'(j,t)
         * with V'(i, t) = vt[i*r + t] and U'(j, t) = u[t*cols + j]. */
        float tol = (float)(rows > cols ? rows : cols) * FLT_EPSILON * s[0];
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                double acc = 0.0;
                for (int64_t t = 0; t < r; t++)
                    if (s[t] > tol)
                        acc += (double)vt[i * r + t] * u[t * cols + j];
                buf[i * cols + j] = (float)acc;
            }
    }
    strata_free(s), strata_free(u), strata_free(vt);
    if (rc != 0) {
        strata_free(buf);
        return NULL;
    }
    return matrix_result(buf, m);
}

Tensor *modular_singular_values(const Tensor *m)
{
    float *buf = matrix_copy(m, __func__);
    if (!buf)
        return NULL;
    int64_t rows = m->shape[0], cols = m->shape[1], r = rows < cols ? rows : cols;
    float *s = strata_malloc((size_t)(r + 1) * sizeof *s);
    int rc = s ? mod_singular_values_raw(buf, rows, cols, s) : -1;
    strata_free(buf);
    if (rc != 0) {
        strata_free(s);
        return NULL;
    }
    Tensor *out = tensor_from_data(s, &r, 1);
    strata_free(s);
    return out;
}

float modular_spectral_norm(const Tensor *m)
{
    float *buf = matrix_copy(m, __func__);
    if (!buf)
        return NAN;
    int64_t rows = m->shape[0], cols = m->shape[1], r = rows < cols ? rows : cols;
    float *s = strata_malloc((size_t)(r + 1) * sizeof *s);
    int rc = s ? mod_singular_values_raw(buf, rows, cols, s) : -1;
    float out = rc == 0 ? s[0] : NAN;
    strata_free(buf), strata_free(s);
    return out;
}

Tensor *modular_orthogonal(int64_t rows, int64_t cols)
{
    if (rows < 1 || cols < 1) {
        strata_set_error("modular_orthogonal: sizes must be >= 1, got [%lld, %lld]",
                         (long long)rows, (long long)cols);
        return NULL;
    }
    int64_t shape[2] = {rows, cols};
    float *buf = strata_malloc((size_t)(rows * cols) * sizeof *buf);
    if (!buf)
        return NULL;
    if (mod_orthogonal_raw(buf, rows, cols) != 0) {
        strata_free(buf);
        return NULL;
    }
    Tensor *out = tensor_from_data(buf, shape, 2);
    strata_free(buf);
    return out;
}
