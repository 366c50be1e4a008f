/*
 * init.c - torch.nn.init: fill a parameter in place so that signals keep their scale.
 *
 * Why: a layer y = W x with fan_in inputs of variance v gives outputs of variance
 * fan_in * Var(W) * v. Choosing Var(W) = gain^2 / fan_in keeps v from layer to layer
 * (kaiming, for ReLU nets: gain^2 = 2 undoes the half that ReLU zeroes); xavier averages
 * fan_in and fan_out to balance the forward and the backward pass. A uniform U(-b, b)
 * has variance b^2 / 3, hence the sqrt(3) in the uniform bounds.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float nn_calculate_gain(const char *nonlinearity, float param)
{
    STRATA_CHECK_ARG(nonlinearity, NAN);
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=NAN */
    static const char *const unit[] = {"linear", "conv1d", "conv2d", "conv3d",
                                       "conv_transpose1d", "conv_transpose2d",
                                       "conv_transpose3d", "sigmoid", "identity"};
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        if (strcmp(nonlinearity, unit[i]) == 0)
            return 1.0f;
    if (strcmp(nonlinearity, "tanh") == 0)
        return 5.0f / 3.0f;
    if (strcmp(nonlinearity, "relu") == 0)
        return sqrtf(2.0f);
    if (strcmp(nonlinearity, "leaky_relu") == 0)
        return (float)sqrt(2.0 / (1.0 + (double)param * param));
    if (strcmp(nonlinearity, "selu") == 0)
        return 0.75f;
    strata_set_error("nn_calculate_gain: unknown nonlinearity '%s'", nonlinearity);
    return NAN;
    /* SOLUTION END */
}

int nn_init_fans(const Tensor *t, int64_t *fan_in, int64_t *fan_out)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(fan_in, -1);
    STRATA_CHECK_ARG(fan_out, -1);
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    if (t->ndim < 2) {
        strata_set_error("nn_init_fans: fan in and fan out need at least 2 dims, the tensor "
                         "has %d", t->ndim);
        return -1;
    }
    /* [out, in, k1, k2, ...]: every tap of the kernel is another input. */
    int64_t receptive = 1;
    for (int d = 2; d < t->ndim; d++)
        receptive *= t->shape[d];
    *fan_in = t->shape[1] * receptive;
    *fan_out = t->shape[0] * receptive;
    return 0;
    /* SOLUTION END */
}

int nn_init_constant_(Tensor *t, float value)
{
    STRATA_CHECK_ARG(t, -1);
    return tensor_fill_(t, value);
}

int nn_init_zeros_(Tensor *t) { return nn_init_constant_(t, 0.0f); }

int nn_init_ones_(Tensor *t) { return nn_init_constant_(t, 1.0f); }

int nn_init_uniform_(Tensor *t, float a, float b)
{
    STRATA_CHECK_ARG(t, -1);
    if (!(a <= b)) {
        strata_set_error("nn_init_uniform_: a = %g must not exceed b = %g", (double)a,
                         (double)b);
        return -1;
    }
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    /* a + (b - a) * U[0, 1), drawn in our own scope and copied in. */
    Scope *s = scope_begin();
    Tensor *r = tensor_rand(t->shape, t->ndim);
    int status = r && tensor_mul_scalar_(r, b - a) == 0 && tensor_add_scalar_(r, a) == 0 &&
                         tensor_copy_(t, r) == 0 ? 0 : -1;
    scope_end(s);
    return status;
    /* SOLUTION END */
}

int nn_init_normal_(Tensor *t, float mean, float std)
{
    STRATA_CHECK_ARG(t, -1);
    if (!(std >= 0)) {
        strata_set_error("nn_init_normal_: std = %g must be >= 0", (double)std);
        return -1;
    }
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    Scope *s = scope_begin();
    Tensor *r = tensor_randn(t->shape, t->ndim);
    int status = r && tensor_mul_scalar_(r, std) == 0 && tensor_add_scalar_(r, mean) == 0 &&
                         tensor_copy_(t, r) == 0 ? 0 : -1;
    scope_end(s);
    return status;
    /* SOLUTION END */
}

int nn_init_xavier_uniform_(Tensor *t, float gain)
{
    int64_t fan_in, fan_out;
    if (nn_init_fans(t, &fan_in, &fan_out) < 0)
        return -1;
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    double std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
    float bound = (float)(sqrt(3.0) * std);
    return nn_init_uniform_(t, -bound, bound);
    /* SOLUTION END */
}

int nn_init_xavier_normal_(Tensor *t, float gain)
{
    int64_t fan_in, fan_out;
    if (nn_init_fans(t, &fan_in, &fan_out) < 0)
        return -1;
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    return nn_init_normal_(t, 0.0f, (float)(gain * sqrt(2.0 / (double)(fan_in + fan_out))));
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=3 step=3 tier=core */
/* gain / sqrt(fan): the standard deviation kaiming_* aims for; NAN with an error. */
static double kaiming_std(const char *function, Tensor *t, float a, NnFanMode mode,
                          const char *nonlinearity)
{
    int64_t fan_in, fan_out;
    if (nn_init_fans(t, &fan_in, &fan_out) < 0)
        return NAN;
    if (mode != NN_FAN_IN && mode != NN_FAN_OUT) {
        strata_set_error("%s: unknown fan mode %d", function, (int)mode);
        return NAN;
    }
    int64_t fan = mode == NN_FAN_IN ? fan_in : fan_out;
    if (fan == 0) {
        strata_set_error("%s: cannot initialise a tensor with a zero fan", function);
        return NAN;
    }
    float gain = nn_calculate_gain(nonlinearity, a);
    if (isnan(gain))
        return NAN;
    return gain / sqrt((double)fan);
}
/* SOLUTION END */

int nn_init_kaiming_uniform_(Tensor *t, float a, NnFanMode mode, const char *nonlinearity)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(nonlinearity, -1);
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    double std = kaiming_std(__func__, t, a, mode, nonlinearity);
    if (isnan(std))
        return -1;
    float bound = (float)(sqrt(3.0) * std); /* U(-b, b) has variance b^2 / 3 */
    return nn_init_uniform_(t, -bound, bound);
    /* SOLUTION END */
}

int nn_init_kaiming_normal_(Tensor *t, float a, NnFanMode mode, const char *nonlinearity)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(nonlinearity, -1);
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    double std = kaiming_std(__func__, t, a, mode, nonlinearity);
    if (isnan(std))
        return -1;
    return nn_init_normal_(t, 0.0f, (float)std);
    /* SOLUTION END */
}

int nn_init_orthogonal_(Tensor *t, float gain)
{
    STRATA_CHECK_ARG(t, -1);
    if (t->ndim < 2) {
        strata_set_error("nn_init_orthogonal_: only tensors with 2 or more dims are "
                         "supported, got %d", t->ndim);
        return -1;
    }
    /* SOLUTION BEGIN week=3 step=3 tier=core fail=-1 */
    int64_t rows = t->shape[0], cols = tensor_numel(t) / (rows ? rows : 1);
    if (rows == 0 || cols == 0)
        return 0;
    /* Work on the tall orientation: m >= n columns to orthonormalise. */
    int64_t m = rows >= cols ? rows : cols, n = rows >= cols ? cols : rows;
    double *a = strata_malloc((size_t)(m * n) * sizeof *a); /* a[i*n + j], column j */
    float *out = strata_malloc((size_t)(m * n) * sizeof *out);
    if (!a || !out) {
        strata_free(a);
        strata_free(out);
        return -1;
    }
    for (int64_t i = 0; i < m * n; i++)
        a[i] = strata_rng_normal();
    /* Modified Gram-Schmidt, in double: Q with R's diagonal positive (PyTorch fixes the
     * signs of its Householder QR to the same unique factor). */
    for (int64_t j = 0; j < n; j++) {
        for (int64_t k = 0; k < j; k++) {
            double dot = 0;
            for (int64_t i = 0; i < m; i++)
                dot += a[i * n + k] * a[i * n + j];
            for (int64_t i = 0; i < m; i++)
                a[i * n + j] -= dot * a[i * n + k];
        }
        double norm = 0;
        for (int64_t i = 0; i < m; i++)
            norm += a[i * n + j] * a[i * n + j];
        norm = sqrt(norm);
        for (int64_t i = 0; i < m; i++)
            a[i * n + j] = norm > 0 ? a[i * n + j] / norm : 0;
    }
    /* Q is [m, n]; a wide tensor gets its transpose. */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            out[r * cols + c] =
                (float)(gain * (rows >= cols ? a[r * n + c] : a[c * n + r]));
    Scope *s = scope_begin();
    Tensor *q = tensor_from_data(out, t->shape, t->ndim);
    int status = q ? tensor_copy_(t, q) : -1;
    scope_end(s);
    strata_free(a);
    strata_free(out);
    return status;
    /* SOLUTION END */
}
