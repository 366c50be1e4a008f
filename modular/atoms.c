/*
 * atoms.c - the modules with weights: Linear, Conv2D, Embed. Each knows its forward
 * (through autograd ops), its well-normed initialization, its norm, and the dualize,
 * project and normalize maps of that norm.
 *
 * Linear keeps the scale sqrt(fan_out/fan_in) in its weights (JAX-era Modula): a
 * well-normed W is an orthogonal matrix times that scale, and the norm is the RMS->RMS
 * operator norm sqrt(fan_in/fan_out) * sigma_max(W). Conv2D keeps its scale
 * sqrt(out/in)/k^2 in the forward (PyTorch-era Modula): each kernel position is then a
 * unit-scale matrix whose norm is plain sigma_max.
 */
#include "modular_internal.h"

#include <math.h>
#include <string.h>

/* SOLUTION BEGIN week=5 step=4 tier=core */
/* A row-major copy of @p t (strata_malloc'd) or NULL. */
static float *read_buf(const Tensor *t)
{
    float *buf = strata_malloc((size_t)(tensor_numel(t) + 1) * sizeof *buf);
    if (buf && tensor_to_array(t, buf) != 0) {
        strata_free(buf);
        return NULL;
    }
    return buf;
}

/* Write the row-major @p buf into @p out (any strides). 0 or -1. */
static int write_buf(Tensor *out, const float *buf)
{
    if (tensor_is_contiguous(out)) {
        memcpy(out->data, buf, (size_t)tensor_numel(out) * sizeof *buf);
        return 0;
    }
    Scope *s = scope_begin();
    Tensor *tmp = tensor_from_data(buf, out->shape, out->ndim);
    int rc = tmp ? tensor_copy_(out, tmp) : -1;
    scope_end(s);
    return rc;
}

static double linear_scale(const ModularModule *m)
{
    return sqrt((double)m->fan_out / (double)m->fan_in);
}

/* out = orthogonalize(in) * factor */
static int ortho_scaled(const Tensor *in, Tensor *out, int64_t rows, int64_t cols,
                        double factor)
{
    float *buf = read_buf(in);
    if (!buf || mod_newton_schulz_raw(buf, buf, rows, cols, modular_ns_coefficients,
                                      MODULAR_NS_STEPS) != 0) {
        strata_free(buf);
        return -1;
    }
    int64_t n = rows * cols;
    for (int64_t i = 0; i < n; i++)
        buf[i] = (float)(buf[i] * factor);
    int rc = write_buf(out, buf);
    strata_free(buf);
    return rc;
}

/* Persistent power-iteration vectors: @p count of @p length floats, random at first. */
static int ensure_pi(ModularModule *m, int count, int64_t length)
{
    if (m->pi_vectors)
        return 0;
    m->pi_vectors = strata_malloc((size_t)(count * length) * sizeof *m->pi_vectors);
    if (!m->pi_vectors)
        return -1;
    for (int64_t i = 0; i < count * length; i++)
        m->pi_vectors[i] = (float)strata_rng_normal();
    m->pi_count = count;
    m->pi_length = length;
    m->pi_fresh = true;
    return 0;
}

/* Copy kernel position p = i*k + j of W [out, in, k, k] into mat [out, in], or back. */
static void conv_position(float *w, float *mat, const ModularModule *m, int p, bool to_mat)
{
    int64_t kk = (int64_t)m->kernel * m->kernel;
    for (int64_t o = 0; o < m->fan_out; o++)
        for (int64_t c = 0; c < m->fan_in; c++) {
            float *e = &w[(o * m->fan_in + c) * kk + p];
            if (to_mat)
                mat[o * m->fan_in + c] = *e;
            else
                *e = mat[o * m->fan_in + c];
        }
}

/*
 * Apply @p fn to every kernel position of @p in (a copy), writing into @p out when it is
 * not NULL; fn returns a double (a norm) and may change mat. Returns the max, or NAN.
 */
typedef double (*PositionFn)(ModularModule *m, float *mat, int p, void *ctx);

static double conv_each(ModularModule *m, const Tensor *in, Tensor *out, PositionFn fn,
                        void *ctx)
{
    float *w = read_buf(in);
    float *mat = strata_malloc((size_t)(m->fan_out * m->fan_in) * sizeof *mat);
    double best = 0.0;
    if (!w || !mat) {
        strata_free(w), strata_free(mat);
        return NAN;
    }
    for (int p = 0; p < m->kernel * m->kernel; p++) {
        conv_position(w, mat, m, p, true);
        double r = fn(m, mat, p, ctx);
        if (isnan(r)) {
            best = NAN;
            break;
        }
        best = fmax(best, r);
        conv_position(w, mat, m, p, false);
    }
    if (!isnan(best) && out && write_buf(out, w) != 0)
        best = NAN;
    strata_free(w), strata_free(mat);
    return best;
}

static double pos_sigma(ModularModule *m, float *mat, int p, void *ctx)
{
    (void)p, (void)ctx;
    int64_t r = m->fan_out < m->fan_in ? m->fan_out : m->fan_in;
    float *s = strata_malloc((size_t)r * sizeof *s);
    double out = (s && mod_singular_values_raw(mat, m->fan_out, m->fan_in, s) == 0) ? s[0]
                                                                                    : NAN;
    strata_free(s);
    return out;
}

static double pos_ortho(ModularModule *m, float *mat, int p, void *ctx)
{
    (void)p;
    float factor = *(const float *)ctx;
    if (mod_newton_schulz_raw(mat, mat, m->fan_out, m->fan_in, modular_ns_coefficients,
                              MODULAR_NS_STEPS) != 0)
        return NAN;
    for (int64_t i = 0; i < m->fan_out * m->fan_in; i++)
        mat[i] *= factor;
    return 0.0;
}

static double pos_init(ModularModule *m, float *mat, int p, void *ctx)
{
    (void)p, (void)ctx;
    return mod_orthogonal_raw(mat, m->fan_out, m->fan_in) == 0 ? 0.0 : NAN;
}

/* What pos_normalize needs: power-iteration count and the target of every position. */
typedef struct NormalizeCtx {
    int iters;
    float target;
} NormalizeCtx;

/* Scale one kernel position to spectral norm target (Modula normalizes each position on
 * its own, as dualize orthogonalizes each); a zero position stays zero. */
static double pos_normalize(ModularModule *m, float *mat, int p, void *ctx)
{
    const NormalizeCtx *c = ctx;
    float *v = m->pi_vectors + (int64_t)p * m->pi_length;
    double sigma = mod_power_iteration(mat, m->fan_out, m->fan_in, v, c->iters);
    if (isnan(sigma))
        return NAN;
    if (sigma > 0.0)
        for (int64_t i = 0; i < m->fan_out * m->fan_in; i++)
            mat[i] = (float)(mat[i] * (c->target / sigma));
    return sigma;
}

/* Scale each row of buf [rows, d] to length @p len (zero rows stay zero). */
static void rows_to_length(float *buf, int64_t rows, int64_t d, double len)
{
    for (int64_t r = 0; r < rows; r++) {
        double n = mod_frobenius(buf + r * d, d);
        if (n == 0.0)
            continue;
        for (int64_t j = 0; j < d; j++)
            buf[r * d + j] = (float)(buf[r * d + j] * (len / n));
    }
}

static int embed_rows(const ModularModule *m, const Tensor *in, Tensor *out, double len)
{
    float *buf = read_buf(in);
    if (!buf)
        return -1;
    rows_to_length(buf, m->fan_in, m->fan_out, len);
    int rc = write_buf(out, buf);
    strata_free(buf);
    return rc;
}
/* SOLUTION END */

/* Make an atom node with a zero weight of @p shape, mapping @p fan_in to @p fan_out. */
static ModularModule *atom_new(const char *name, const ModAtomOps *ops, const int64_t *shape,
                               int ndim, int64_t fan_out, int64_t fan_in)
{
    ModularModule *m = mod_node_new(MOD_ATOM, name);
    if (!m)
        return NULL;
    m->atom = ops;
    m->fan_out = fan_out;
    m->fan_in = fan_in;
    m->mass = 1.0f;
    m->sensitivity = 1.0f;
    m->smooth = true;
    m->weight = mod_weight_new(shape, ndim);
    if (!m->weight) {
        modular_free(m);
        return NULL;
    }
    return m;
}

/* Whether both sizes of a matrix atom are >= 1; if not, an error naming @p fn and them. */
static bool sizes_ok(const char *fn, const char *a_name, int64_t a, const char *b_name,
                     int64_t b)
{
    if (a >= 1 && b >= 1)
        return true;
    strata_set_error("%s: sizes must be >= 1, got %s %lld, %s %lld", fn, a_name, (long long)a,
                     b_name, (long long)b);
    return false;
}

/* ------------------------------------------------------------------- Linear --- */

static Var *mod_linear_forward(ModularModule *m, Var *x)
{
    /* SOLUTION BEGIN week=5 step=4 tier=core fail=NULL */
    return var_linear(x, m->weight, NULL); /* x [..., in] -> [..., out] */
    /* SOLUTION END */
}

static int mod_linear_initialize(ModularModule *m)
{
    /* SOLUTION BEGIN week=5 step=4 tier=core fail=-1 */
    Tensor *w = m->weight->data;
    if (mod_orthogonal_raw(w->data, m->fan_out, m->fan_in) != 0)
        return -1;
    return tensor_mul_scalar_(w, (float)linear_scale(m));
    /* SOLUTION END */
}

static double mod_linear_norm(const ModularModule *m, const Tensor *w)
{
    /* SOLUTION BEGIN week=5 step=4 tier=core fail=NAN */
    float *buf = read_buf(w);
    float *s = strata_malloc((size_t)(m->fan_out < m->fan_in ? m->fan_out : m->fan_in) *
                             sizeof *s);
    double out = NAN;
    if (buf && s && mod_singular_values_raw(buf, m->fan_out, m->fan_in, s) == 0)
        out = s[0] / linear_scale(m);
    strata_free(buf);
    strata_free(s);
    return out;
    /* SOLUTION END */
}

static int mod_linear_dualize(const ModularModule *m, const Tensor *g, Tensor *out, float target)
{
    /* SOLUTION BEGIN week=5 step=4 tier=core fail=-1 */
    return ortho_scaled(g, out, m->fan_out, m->fan_in, linear_scale(m) * target);
    /* SOLUTION END */
}

static int mod_linear_project(const ModularModule *m, const Tensor *w, Tensor *out)
{
    /* SOLUTION BEGIN week=5 step=4 tier=core fail=-1 */
    return ortho_scaled(w, out, m->fan_out, m->fan_in, linear_scale(m));
    /* SOLUTION END */
}

static int mod_linear_normalize(ModularModule *m, Tensor *u, float target)
{
    /* SOLUTION BEGIN week=5 step=4 tier=core fail=-1 */
    if (ensure_pi(m, 1, m->fan_in) != 0)
        return -1;
    float *buf = read_buf(u);
    if (!buf)
        return -1;
    int iters = m->pi_fresh ? 20 : 3;
    m->pi_fresh = false;
    double sigma = mod_power_iteration(buf, m->fan_out, m->fan_in, m->pi_vectors, iters);
    strata_free(buf);
    if (!(sigma > 0.0)) /* zero update (or NaN): leave it, it has no direction */
        return 0;
    return tensor_mul_scalar_(u, (float)(target * linear_scale(m) / sigma));
    /* SOLUTION END */
}

static const ModAtomOps LINEAR_OPS = {
    mod_linear_forward, mod_linear_initialize, mod_linear_norm, mod_linear_dualize, mod_linear_project, mod_linear_normalize,
};

ModularModule *modular_linear(int64_t fan_out, int64_t fan_in)
{
    if (!sizes_ok(__func__, "fan_out", fan_out, "fan_in", fan_in))
        return NULL;
    int64_t shape[2] = {fan_out, fan_in};
    return atom_new("Linear", &LINEAR_OPS, shape, 2, fan_out, fan_in);
}

/* ------------------------------------------------------------------- Conv2D --- */

static Var *mod_conv_forward(ModularModule *m, Var *x)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=NULL */
    Var *y = var_conv2d(x, m->weight, NULL, window2d(m->kernel, m->stride, m->padding));
    if (!y)
        return NULL;
    double scale = sqrt((double)m->fan_out / (double)m->fan_in) / ((double)m->kernel * m->kernel);
    Var *z = var_mul_scalar(y, (float)scale);
    mod_drop_temp(y);
    return z;
    /* SOLUTION END */
}

static int mod_conv_initialize(ModularModule *m)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    return isnan(conv_each(m, m->weight->data, m->weight->data, pos_init, NULL)) ? -1 : 0;
    /* SOLUTION END */
}

static double mod_conv_norm(const ModularModule *m, const Tensor *w)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=NAN */
    return conv_each((ModularModule *)m, w, NULL, pos_sigma, NULL);
    /* SOLUTION END */
}

static int mod_conv_dualize(const ModularModule *m, const Tensor *g, Tensor *out, float target)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    return isnan(conv_each((ModularModule *)m, g, out, pos_ortho, &target)) ? -1 : 0;
    /* SOLUTION END */
}

static int mod_conv_project(const ModularModule *m, const Tensor *w, Tensor *out)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    float one = 1.0f;
    return isnan(conv_each((ModularModule *)m, w, out, pos_ortho, &one)) ? -1 : 0;
    /* SOLUTION END */
}

static int mod_conv_normalize(ModularModule *m, Tensor *u, float target)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    if (ensure_pi(m, m->kernel * m->kernel, m->fan_in) != 0)
        return -1;
    NormalizeCtx c = {m->pi_fresh ? 20 : 3, target};
    m->pi_fresh = false;
    return isnan(conv_each(m, u, u, pos_normalize, &c)) ? -1 : 0;
    /* SOLUTION END */
}

static const ModAtomOps CONV_OPS = {
    mod_conv_forward, mod_conv_initialize, mod_conv_norm, mod_conv_dualize, mod_conv_project, mod_conv_normalize,
};

ModularModule *modular_conv2d(int64_t out_channels, int64_t in_channels, int kernel,
                              int stride, int padding)
{
    if (out_channels < 1 || in_channels < 1 || kernel < 1 || stride < 1 || padding < 0) {
        strata_set_error("modular_conv2d: need channels, kernel and stride >= 1 and padding "
                         ">= 0, got out %lld, in %lld, kernel %d, stride %d, padding %d",
                         (long long)out_channels, (long long)in_channels, kernel, stride,
                         padding);
        return NULL;
    }
    int64_t shape[4] = {out_channels, in_channels, kernel, kernel};
    ModularModule *m = atom_new("Conv2D", &CONV_OPS, shape, 4, out_channels, in_channels);
    if (m)
        m->kernel = kernel, m->stride = stride, m->padding = padding;
    return m;
}

/* -------------------------------------------------------------------- Embed --- */

/* fan_out = d_embed, fan_in = num_embed; the weight is [num_embed, d_embed]. */
static Var *mod_embed_forward(ModularModule *m, Var *x)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=NULL */
    const Tensor *idx = x->data;
    int64_t n = tensor_numel(idx);
    /* An inner scope collects the flattened index; rows leaves it owned by us alone. */
    Scope *s = scope_begin();
    Tensor *flat = tensor_reshape(idx, &n, 1);
    Var *rows = flat ? var_index_select(m->weight, 0, flat) : NULL; /* [n, d] */
    if (rows)
        var_retain(rows);
    scope_end(s);
    if (!rows)
        return NULL;
    int64_t shape[TENSOR_MAX_DIMS];
    if (idx->ndim + 1 > TENSOR_MAX_DIMS) {
        var_release(rows);
        strata_set_error("modular_forward: Embed input has too many dims (%d)", idx->ndim);
        return NULL;
    }
    for (int i = 0; i < idx->ndim; i++)
        shape[i] = idx->shape[i];
    shape[idx->ndim] = m->fan_out;
    Var *y = var_reshape(rows, shape, idx->ndim + 1);
    var_release(rows); /* ours alone (it left the inner scope); the graph keeps it */
    return y;
    /* SOLUTION END */
}

static int mod_embed_initialize(ModularModule *m)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    Tensor *w = m->weight->data;
    for (int64_t i = 0; i < tensor_numel(w); i++)
        w->data[i] = (float)strata_rng_normal();
    return embed_rows(m, w, w, sqrt((double)m->fan_out));
    /* SOLUTION END */
}

static double mod_embed_norm(const ModularModule *m, const Tensor *w)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=NAN */
    float *buf = read_buf(w);
    if (!buf)
        return NAN;
    double best = 0.0;
    for (int64_t r = 0; r < m->fan_in; r++)
        best = fmax(best, mod_frobenius(buf + r * m->fan_out, m->fan_out));
    strata_free(buf);
    return best / sqrt((double)m->fan_out);
    /* SOLUTION END */
}

static int mod_embed_dualize(const ModularModule *m, const Tensor *g, Tensor *out, float target)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    return embed_rows(m, g, out, sqrt((double)m->fan_out) * target);
    /* SOLUTION END */
}

static int mod_embed_project(const ModularModule *m, const Tensor *w, Tensor *out)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    return embed_rows(m, w, out, sqrt((double)m->fan_out));
    /* SOLUTION END */
}

static int mod_embed_normalize(ModularModule *m, Tensor *u, float target)
{
    /* SOLUTION BEGIN week=5 step=7 tier=core fail=-1 */
    double n = mod_embed_norm(m, u);
    if (isnan(n))
        return -1;
    if (n == 0.0)
        return 0;
    return tensor_mul_scalar_(u, (float)(target / n));
    /* SOLUTION END */
}

static const ModAtomOps EMBED_OPS = {
    mod_embed_forward, mod_embed_initialize, mod_embed_norm, mod_embed_dualize, mod_embed_project, mod_embed_normalize,
};

ModularModule *modular_embed(int64_t d_embed, int64_t num_embed)
{
    if (!sizes_ok(__func__, "d_embed", d_embed, "num_embed", num_embed))
        return NULL;
    int64_t shape[2] = {num_embed, d_embed};
    return atom_new("Embed", &EMBED_OPS, shape, 2, d_embed, num_embed);
}

/* -------------------------------------------------------------------- copies --- */

ModularModule *mod_atom_copy(const ModularModule *m)
{
    ModularModule *c = mod_node_new(MOD_ATOM, m->name);
    if (!c)
        return NULL;
    c->atom = m->atom;
    c->mass = m->mass;
    c->sensitivity = m->sensitivity;
    c->smooth = m->smooth;
    c->fan_out = m->fan_out, c->fan_in = m->fan_in;
    c->kernel = m->kernel, c->stride = m->stride, c->padding = m->padding;
    c->weight = mod_weight_new(m->weight->data->shape, m->weight->data->ndim);
    if (!c->weight || tensor_copy_(c->weight->data, m->weight->data) != 0) {
        modular_free(c);
        return NULL;
    }
    if (m->pi_vectors) {
        size_t bytes = (size_t)(m->pi_count * m->pi_length) * sizeof *m->pi_vectors;
        c->pi_vectors = strata_malloc(bytes);
        if (!c->pi_vectors) {
            modular_free(c);
            return NULL;
        }
        memcpy(c->pi_vectors, m->pi_vectors, bytes);
        c->pi_count = m->pi_count, c->pi_length = m->pi_length;
    }
    c->pi_fresh = m->pi_fresh;
    return c;
}
