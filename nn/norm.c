/*
 * norm.c - BatchNorm1d/2d and LayerNorm.
 *
 * Both compute y = (x - mean) / sqrt(var + eps) * weight + bias with the biased
 * variance; they differ in which dims the statistics run over:
 * - BatchNorm: per channel (dim 1), over the batch and the spatial dims. In training it
 *   uses the batch's statistics and updates running averages (buffers); in eval mode it
 *   uses the running averages, so one sample's output does not depend on the others.
 * - LayerNorm: per sample, over the last normalized_shape dims; no running statistics.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void free_state(void *state) { strata_free(state); }

static const char *yes_no(bool b) { return b ? "True" : "False"; }

/* --------------------------------------------------------------------- BatchNorm --- */

typedef struct BatchNormState {
    int spatial_dims;        /* 1 or 2 */
    int64_t num_features;    /* C */
    float eps, momentum;
    bool affine, track_running_stats;
} BatchNormState;

static int batch_norm_extra_repr(const Module *m, char *buf, size_t size)
{
    const BatchNormState *s = m->state;
    char eps[32], momentum[32];
    nn_format_float(eps, sizeof eps, s->eps);
    nn_format_float(momentum, sizeof momentum, s->momentum);
    return snprintf(buf, size, "%lld, eps=%s, momentum=%s, affine=%s, "
                    "track_running_stats=%s", (long long)s->num_features, eps, momentum,
                    yes_no(s->affine), yes_no(s->track_running_stats));
}

static Var *nn_batch_norm_forward(Module *self, Var *x);
static const ModuleType BATCH_NORM1D_TYPE = {"BatchNorm1d", nn_batch_norm_forward, NULL,
                                             batch_norm_extra_repr, free_state};
static const ModuleType BATCH_NORM2D_TYPE = {"BatchNorm2d", nn_batch_norm_forward, NULL,
                                             batch_norm_extra_repr, free_state};

/* SOLUTION BEGIN week=3 step=5 tier=core */
/*
 * running = (1 - momentum) * running + momentum * batch, with the unbiased batch
 * variance for running_var (as PyTorch), and num_batches_tracked += 1. Plain tensor
 * arithmetic: running statistics are not part of the graph.
 */
static int update_running_stats(Module *self, const Tensor *x, const int *dims, int ndims)
{
    const BatchNormState *s = self->state;
    Tensor *batch_mean = tensor_mean(x, dims, ndims, false);         /* [C] */
    Tensor *batch_var = tensor_var(x, dims, ndims, true, false);     /* [C], n - 1 */
    if (!batch_mean || !batch_var)
        return -1;
    /* from here nothing allocates (in-place arithmetic on dense buffers): all or nothing */
    Tensor *running_mean = nn_get_buffer(self, "running_mean");
    Tensor *running_var = nn_get_buffer(self, "running_var");
    Tensor *tracked = nn_get_buffer(self, "num_batches_tracked");
    float m = s->momentum;
    if (tensor_mul_scalar_(running_mean, 1.0f - m) < 0 ||
        tensor_axpy_(running_mean, m, batch_mean) < 0 ||
        tensor_mul_scalar_(running_var, 1.0f - m) < 0 ||
        tensor_axpy_(running_var, m, batch_var) < 0 || tensor_add_scalar_(tracked, 1.0f) < 0)
        return -1;
    return 0;
}
/* SOLUTION END */

static Var *nn_batch_norm_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=5 tier=core fail=NULL */
    const BatchNormState *s = self->state;
    const Tensor *t = x->data;
    bool shape_ok = s->spatial_dims == 1 ? (t->ndim == 2 || t->ndim == 3) : t->ndim == 4;
    if (!shape_ok || t->shape[1] != s->num_features) {
        char shape[128];
        strata_set_error("%s: expected input %s with %lld channels in dim 1, got %s",
                         self->type->name,
                         s->spatial_dims == 1 ? "[N, C] or [N, C, L]" : "[N, C, H, W]",
                         (long long)s->num_features, tensor_shape_str(t, shape, sizeof shape));
        return NULL;
    }
    /* Statistics over every dim but the channels; parameters shaped [1, C, 1, ...]. */
    int dims[TENSOR_MAX_DIMS], ndims = 0;
    int64_t cshape[TENSOR_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) {
        cshape[d] = d == 1 ? s->num_features : 1;
        if (d != 1)
            dims[ndims++] = d;
    }
    Var *mean, *var;
    if (self->training || !s->track_running_stats) {
        if (self->training && tensor_numel(t) / s->num_features <= 1) {
            strata_set_error("%s: expected more than 1 value per channel when training",
                             self->type->name);
            return NULL;
        }
        mean = var_mean(x, dims, ndims, true);
        var = var_var(x, dims, ndims, false, true); /* biased, to normalise */
    } else {
        mean = nn_constant(tensor_reshape(nn_get_buffer(self, "running_mean"), cshape, t->ndim));
        var = nn_constant(tensor_reshape(nn_get_buffer(self, "running_var"), cshape, t->ndim));
    }
    Var *y = var_mul(var_sub(x, mean), var_rsqrt(var_add_scalar(var, s->eps)));
    if (s->affine)
        y = var_add(var_mul(y, var_reshape(nn_get_parameter(self, "weight"), cshape, t->ndim)),
                    var_reshape(nn_get_parameter(self, "bias"), cshape, t->ndim));
    /* The running statistics change last, once nothing else can fail: a forward that
     * fails (out of memory) leaves the buffers as they were. */
    if (y && self->training && s->track_running_stats &&
        update_running_stats(self, t, dims, ndims) < 0)
        return NULL;
    return y;
    /* SOLUTION END */
}

/* Weight 1, bias 0; running mean 0, running var 1, no batches seen (PyTorch's
 * reset_parameters and reset_running_stats). */
static int nn_norm_reset(Module *m)
{
    /* SOLUTION BEGIN week=3 step=5 tier=core fail=-1 */
    for (int i = 0; i < m->num_params; i++) {
        if (!m->params[i].var)
            continue;
        float value = strcmp(m->params[i].name, "weight") == 0 ? 1.0f : 0.0f;
        if (nn_init_constant_(m->params[i].var->data, value) < 0)
            return -1;
    }
    for (int i = 0; i < m->num_buffers; i++) {
        if (!m->buffers[i].tensor)
            continue;
        float value = strcmp(m->buffers[i].name, "running_var") == 0 ? 1.0f : 0.0f;
        if (nn_init_constant_(m->buffers[i].tensor, value) < 0)
            return -1;
    }
    return 0;
    /* SOLUTION END */
}

Module *nn_batch_norm(int spatial_dims, int64_t num_features, float eps, float momentum,
                      bool affine, bool track_running_stats)
{
    if ((spatial_dims != 1 && spatial_dims != 2) || num_features <= 0 || !(eps >= 0) ||
        !(momentum >= 0 && momentum <= 1)) {
        strata_set_error("nn_batch_norm: bad arguments (spatial_dims %d, num_features %lld, "
                         "eps %g, momentum %g)", spatial_dims, (long long)num_features,
                         (double)eps, (double)momentum);
        return NULL;
    }
    BatchNormState *s = strata_malloc(sizeof *s);
    if (!s)
        return NULL;
    *s = (BatchNormState){spatial_dims, num_features, eps, momentum, affine,
                          track_running_stats};
    Module *m = nn_module_new(spatial_dims == 1 ? &BATCH_NORM1D_TYPE : &BATCH_NORM2D_TYPE, s);
    int64_t c[1] = {num_features};
    bool ok = m != NULL;
    if (ok && affine)
        ok = nn_add_parameter(m, "weight", c, 1) && nn_add_parameter(m, "bias", c, 1);
    else if (ok)
        ok = nn_register_parameter(m, "weight", NULL) == 0 &&
             nn_register_parameter(m, "bias", NULL) == 0;
    if (ok && track_running_stats)
        ok = nn_add_buffer(m, "running_mean", c, 1, true) &&
             nn_add_buffer(m, "running_var", c, 1, true) &&
             nn_add_buffer(m, "num_batches_tracked", c, 0, true);
    if (!ok || nn_norm_reset(m) < 0) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}

Module *nn_batch_norm1d(int64_t num_features)
{
    return nn_batch_norm(1, num_features, 1e-5f, 0.1f, true, true);
}

Module *nn_batch_norm2d(int64_t num_features)
{
    return nn_batch_norm(2, num_features, 1e-5f, 0.1f, true, true);
}

/* --------------------------------------------------------------------- LayerNorm --- */

typedef struct LayerNormState {
    int ndim;                        /* how many trailing dims are normalised */
    int64_t shape[TENSOR_MAX_DIMS];  /* their sizes */
    float eps;
    bool affine;
} LayerNormState;

static int layer_norm_extra_repr(const Module *m, char *buf, size_t size)
{
    const LayerNormState *s = m->state;
    char eps[32], shape[256] = "(";
    size_t n = 1;
    for (int d = 0; d < s->ndim; d++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, d ? ", %lld" : "%lld",
                              (long long)s->shape[d]);
    snprintf(shape + n, sizeof shape - n, s->ndim == 1 ? ",)" : ")"); /* Python tuples */
    nn_format_float(eps, sizeof eps, s->eps);
    return snprintf(buf, size, "%s, eps=%s, elementwise_affine=%s", shape, eps,
                    yes_no(s->affine));
}

static Var *nn_layer_norm_forward(Module *self, Var *x);
static const ModuleType LAYER_NORM_TYPE = {"LayerNorm", nn_layer_norm_forward, NULL,
                                           layer_norm_extra_repr, free_state};

static Var *nn_layer_norm_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=5 tier=core fail=NULL */
    const LayerNormState *s = self->state;
    const Tensor *t = x->data;
    bool ok = t->ndim >= s->ndim;
    for (int d = 0; ok && d < s->ndim; d++)
        ok = t->shape[t->ndim - s->ndim + d] == s->shape[d];
    if (!ok) {
        char shape[128];
        strata_set_error("LayerNorm: the last %d dims of input %s do not match "
                         "normalized_shape", s->ndim, tensor_shape_str(t, shape, sizeof shape));
        return NULL;
    }
    int dims[TENSOR_MAX_DIMS];
    for (int d = 0; d < s->ndim; d++)
        dims[d] = t->ndim - s->ndim + d;
    Var *mean = var_mean(x, dims, s->ndim, true);
    Var *var = var_var(x, dims, s->ndim, false, true);
    Var *y = var_mul(var_sub(x, mean), var_rsqrt(var_add_scalar(var, s->eps)));
    if (s->affine) /* weight and bias broadcast over the leading dims */
        y = var_add(var_mul(y, nn_get_parameter(self, "weight")),
                    nn_get_parameter(self, "bias"));
    return y;
    /* SOLUTION END */
}

Module *nn_layer_norm(const int64_t *normalized_shape, int ndim, float eps,
                      bool elementwise_affine)
{
    STRATA_CHECK_ARG(normalized_shape, NULL);
    bool ok = ndim >= 1 && ndim <= TENSOR_MAX_DIMS && eps >= 0;
    for (int d = 0; ok && d < ndim; d++)
        ok = normalized_shape[d] > 0;
    if (!ok) {
        strata_set_error("nn_layer_norm: bad normalized_shape (%d dims) or eps %g", ndim,
                         (double)eps);
        return NULL;
    }
    LayerNormState *s = strata_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ndim = ndim;
    memcpy(s->shape, normalized_shape, (size_t)ndim * sizeof *s->shape);
    s->eps = eps;
    s->affine = elementwise_affine;
    Module *m = nn_module_new(&LAYER_NORM_TYPE, s);
    ok = m != NULL;
    if (ok && elementwise_affine)
        ok = nn_add_parameter(m, "weight", normalized_shape, ndim) &&
             nn_add_parameter(m, "bias", normalized_shape, ndim);
    else if (ok)
        ok = nn_register_parameter(m, "weight", NULL) == 0 &&
             nn_register_parameter(m, "bias", NULL) == 0;
    if (!ok || nn_norm_reset(m) < 0) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}
