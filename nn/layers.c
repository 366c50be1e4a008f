/*
 * layers.c - the stateless-shaped layers: Linear, Conv2d, pooling, Embedding, Dropout,
 * Flatten, Identity and the activations.
 *
 * Each layer is a ModuleType (name, forward, extra_repr, free_state), a small state
 * struct with its hyperparameters, and a constructor that registers the parameters and
 * initialises them as PyTorch's reset_parameters() does. Parameters are found by their
 * registration index (weight 0, bias 1), which is what the constructor guarantees.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Free a state made with strata_malloc. */
static void free_state(void *state) { strata_free(state); }

/* A state of @p size bytes, zeroed, copied from @p init. */
static void *new_state(const void *init, size_t size)
{
    void *s = strata_malloc(size);
    if (s)
        memcpy(s, init, size);
    return s;
}

static const char *yes_no(bool b) { return b ? "True" : "False"; }

/* Parameter @p i of @p m (NULL when absent). */
static Var *param(const Module *m, int i) { return i < m->num_params ? m->params[i].var : NULL; }

/* ------------------------------------------------------------------------ Linear --- */

typedef struct LinearState {
    int64_t in_features, out_features;
} LinearState;

static int linear_extra_repr(const Module *m, char *buf, size_t size)
{
    const LinearState *s = m->state;
    return snprintf(buf, size, "in_features=%lld, out_features=%lld, bias=%s",
                    (long long)s->in_features, (long long)s->out_features,
                    yes_no(param(m, 1) != NULL));
}

static Var *nn_linear_forward(Module *self, Var *x);
static const ModuleType LINEAR_TYPE = {"Linear", nn_linear_forward, NULL, linear_extra_repr,
                                       free_state};

static Var *nn_linear_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    const LinearState *s = self->state;
    const Tensor *t = x->data;
    if (t->ndim < 1 || t->shape[t->ndim - 1] != s->in_features) {
        char shape[128];
        strata_set_error("Linear: expected input [..., %lld], got %s",
                         (long long)s->in_features, tensor_shape_str(t, shape, sizeof shape));
        return NULL;
    }
    /* y = x W^T + b in one GEMM. */
    return var_linear(x, param(self, 0), param(self, 1));
    /* SOLUTION END */
}

/* PyTorch's reset_parameters for Linear and Conv2d: kaiming_uniform_(a = sqrt(5)) on the
 * weight, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias from the same range. */
static int nn_reset_weight_and_bias(Module *m)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=-1 */
    Tensor *w = param(m, 0)->data;
    if (nn_init_kaiming_uniform_(w, sqrtf(5.0f), NN_FAN_IN, "leaky_relu") < 0)
        return -1;
    if (param(m, 1)) {
        int64_t fan_in, fan_out;
        if (nn_init_fans(w, &fan_in, &fan_out) < 0)
            return -1;
        float bound = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
        return nn_init_uniform_(param(m, 1)->data, -bound, bound);
    }
    return 0;
    /* SOLUTION END */
}

/* Register weight [shape] and bias [shape[0]] (or an absent bias), then initialise. */
static Module *with_weight_and_bias(Module *m, const int64_t *shape, int ndim, bool bias)
{
    if (!m)
        return NULL;
    if (!nn_add_parameter(m, "weight", shape, ndim) ||
        (bias ? !nn_add_parameter(m, "bias", shape, 1)
              : nn_register_parameter(m, "bias", NULL) < 0) ||
        nn_reset_weight_and_bias(m) < 0) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}

/* MultiheadAttention's out_proj: a Linear under the name PyTorch's repr shows. */
static const ModuleType OUT_PROJ_TYPE = {"NonDynamicallyQuantizableLinear", nn_linear_forward,
                                         NULL, linear_extra_repr, free_state};

Module *nn_out_proj_linear(int64_t features, bool bias)
{
    LinearState init = {features, features};
    int64_t shape[2] = {features, features};
    return with_weight_and_bias(nn_module_new(&OUT_PROJ_TYPE, new_state(&init, sizeof init)),
                                shape, 2, bias);
}

Module *nn_linear(int64_t in_features, int64_t out_features, bool bias)
{
    if (in_features <= 0 || out_features <= 0) {
        strata_set_error("nn_linear: in_features = %lld and out_features = %lld must be > 0",
                         (long long)in_features, (long long)out_features);
        return NULL;
    }
    LinearState init = {in_features, out_features};
    int64_t shape[2] = {out_features, in_features};
    return with_weight_and_bias(nn_module_new(&LINEAR_TYPE, new_state(&init, sizeof init)),
                                shape, 2, bias);
}

bool nn_linear_parts(const Module *m, Var **weight, Var **bias)
{
    if (!m || m->type != &LINEAR_TYPE || m->num_hooks > 0 || !param(m, 0))
        return false;
    *weight = param(m, 0);
    *bias = param(m, 1);
    return true;
}

/* ------------------------------------------------------------------------ Conv2d --- */

typedef struct Conv2dState {
    int64_t in_channels, out_channels;
    Window2d window;
} Conv2dState;

static int conv2d_extra_repr(const Module *m, char *buf, size_t size)
{
    const Conv2dState *s = m->state;
    const Window2d *w = &s->window;
    int n = snprintf(buf, size, "%lld, %lld, kernel_size=(%d, %d), stride=(%d, %d)",
                     (long long)s->in_channels, (long long)s->out_channels, w->kernel_h,
                     w->kernel_w, w->stride_h, w->stride_w);
    if (w->padding_h || w->padding_w)
        n += snprintf(buf + n, size - (size_t)n, ", padding=(%d, %d)", w->padding_h,
                      w->padding_w);
    if (w->dilation_h != 1 || w->dilation_w != 1)
        n += snprintf(buf + n, size - (size_t)n, ", dilation=(%d, %d)", w->dilation_h,
                      w->dilation_w);
    if (!param(m, 1))
        n += snprintf(buf + n, size - (size_t)n, ", bias=False");
    return n;
}

static Var *nn_conv2d_forward(Module *self, Var *x);
static const ModuleType CONV2D_TYPE = {"Conv2d", nn_conv2d_forward, NULL, conv2d_extra_repr,
                                       free_state};

static Var *nn_conv2d_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    const Conv2dState *s = self->state;
    if (x->data->ndim != 4 || x->data->shape[1] != s->in_channels) {
        char shape[128];
        strata_set_error("Conv2d: expected input [N, %lld, H, W], got %s",
                         (long long)s->in_channels,
                         tensor_shape_str(x->data, shape, sizeof shape));
        return NULL;
    }
    return var_conv2d(x, param(self, 0), param(self, 1), s->window);
    /* SOLUTION END */
}

Module *nn_conv2d(int64_t in_channels, int64_t out_channels, int kernel_size, int stride,
                  int padding, int dilation, bool bias)
{
    if (in_channels <= 0 || out_channels <= 0 || kernel_size <= 0 || stride <= 0 ||
        padding < 0 || dilation <= 0) {
        strata_set_error("nn_conv2d: bad arguments (in_channels %lld, out_channels %lld, "
                         "kernel_size %d, stride %d, padding %d, dilation %d)",
                         (long long)in_channels, (long long)out_channels, kernel_size,
                         stride, padding, dilation);
        return NULL;
    }
    Conv2dState init = {in_channels, out_channels, window2d(kernel_size, stride, padding)};
    init.window.dilation_h = init.window.dilation_w = dilation;
    int64_t shape[4] = {out_channels, in_channels, kernel_size, kernel_size};
    return with_weight_and_bias(nn_module_new(&CONV2D_TYPE, new_state(&init, sizeof init)),
                                shape, 4, bias);
}

/* ----------------------------------------------------------------------- pooling --- */

typedef struct PoolState {
    Window2d window;
} PoolState;

static int max_pool_extra_repr(const Module *m, char *buf, size_t size)
{
    const Window2d *w = &((const PoolState *)m->state)->window;
    return snprintf(buf, size, "kernel_size=%d, stride=%d, padding=%d, dilation=%d, "
                    "ceil_mode=False", w->kernel_h, w->stride_h, w->padding_h, w->dilation_h);
}

static int avg_pool_extra_repr(const Module *m, char *buf, size_t size)
{
    const Window2d *w = &((const PoolState *)m->state)->window;
    return snprintf(buf, size, "kernel_size=%d, stride=%d, padding=%d", w->kernel_h,
                    w->stride_h, w->padding_h);
}

static Var *nn_max_pool2d_forward(Module *self, Var *x);
static const ModuleType MAX_POOL_TYPE = {"MaxPool2d", nn_max_pool2d_forward, NULL,
                                         max_pool_extra_repr, free_state};
static Var *nn_avg_pool2d_forward(Module *self, Var *x);
static const ModuleType AVG_POOL_TYPE = {"AvgPool2d", nn_avg_pool2d_forward, NULL,
                                         avg_pool_extra_repr, free_state};

static Var *nn_max_pool2d_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    return var_max_pool2d(x, ((const PoolState *)self->state)->window);
    /* SOLUTION END */
}

static Var *nn_avg_pool2d_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    return var_avg_pool2d(x, ((const PoolState *)self->state)->window);
    /* SOLUTION END */
}

static Module *pool(const ModuleType *type, int kernel_size, int stride, int padding)
{
    if (kernel_size <= 0 || stride < 0 || padding < 0 || 2 * padding > kernel_size) {
        strata_set_error("nn_%s: bad arguments (kernel_size %d, stride %d, padding %d; "
                         "padding may be at most half the kernel)",
                         type == &MAX_POOL_TYPE ? "max_pool2d" : "avg_pool2d", kernel_size,
                         stride, padding);
        return NULL;
    }
    PoolState init = {window2d(kernel_size, stride ? stride : kernel_size, padding)};
    return nn_module_new(type, new_state(&init, sizeof init));
}

Module *nn_max_pool2d(int kernel_size, int stride, int padding)
{
    return pool(&MAX_POOL_TYPE, kernel_size, stride, padding);
}

Module *nn_avg_pool2d(int kernel_size, int stride, int padding)
{
    return pool(&AVG_POOL_TYPE, kernel_size, stride, padding);
}

/* --------------------------------------------------------------------- Embedding --- */

typedef struct EmbeddingState {
    int64_t num_embeddings, embedding_dim;
} EmbeddingState;

static int embedding_extra_repr(const Module *m, char *buf, size_t size)
{
    const EmbeddingState *s = m->state;
    return snprintf(buf, size, "%lld, %lld", (long long)s->num_embeddings,
                    (long long)s->embedding_dim);
}

static Var *nn_embedding_forward(Module *self, Var *x);
static const ModuleType EMBEDDING_TYPE = {"Embedding", nn_embedding_forward, NULL,
                                          embedding_extra_repr, free_state};

static Var *nn_embedding_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    const EmbeddingState *s = self->state;
    const Tensor *idx = x->data;
    /* Rows of the table picked by the flattened indices, reshaped to idx.shape + [dim]. */
    int64_t flat_shape[1] = {tensor_numel(idx)};
    Tensor *flat = tensor_reshape(idx, flat_shape, 1);
    if (!flat)
        return NULL;
    for (int64_t i = 0; i < flat_shape[0]; i++) {
        float v = flat->data[i * flat->strides[0]];
        if (!(v >= 0 && v < (float)s->num_embeddings && v == floorf(v))) {
            strata_set_error("Embedding: index %g is not an integer in [0, %lld)", (double)v,
                             (long long)s->num_embeddings);
            return NULL;
        }
    }
    Var *rows = var_index_select(param(self, 0), 0, flat);
    int64_t out_shape[TENSOR_MAX_DIMS];
    if (idx->ndim + 1 > TENSOR_MAX_DIMS) {
        strata_set_error("Embedding: indices with %d dims leave no room for the vector dim",
                         idx->ndim);
        return NULL;
    }
    memcpy(out_shape, idx->shape, (size_t)idx->ndim * sizeof *out_shape);
    out_shape[idx->ndim] = s->embedding_dim;
    return var_reshape(rows, out_shape, idx->ndim + 1);
    /* SOLUTION END */
}

/* PyTorch: the table is N(0, 1). */
static int nn_embedding_reset(Module *m)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=-1 */
    return nn_init_normal_(param(m, 0)->data, 0.0f, 1.0f);
    /* SOLUTION END */
}

Module *nn_embedding(int64_t num_embeddings, int64_t embedding_dim)
{
    if (num_embeddings <= 0 || embedding_dim <= 0) {
        strata_set_error("nn_embedding: num_embeddings = %lld and embedding_dim = %lld must "
                         "be > 0", (long long)num_embeddings, (long long)embedding_dim);
        return NULL;
    }
    EmbeddingState init = {num_embeddings, embedding_dim};
    Module *m = nn_module_new(&EMBEDDING_TYPE, new_state(&init, sizeof init));
    int64_t shape[2] = {num_embeddings, embedding_dim};
    if (!m || !nn_add_parameter(m, "weight", shape, 2) || nn_embedding_reset(m) < 0) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}

/* ----------------------------------------------------------------------- Dropout --- */

typedef struct DropoutState {
    float p;
} DropoutState;

static int dropout_extra_repr(const Module *m, char *buf, size_t size)
{
    char p[32];
    nn_format_float(p, sizeof p, ((const DropoutState *)m->state)->p);
    return snprintf(buf, size, "p=%s, inplace=False", p);
}

static Var *nn_dropout_forward(Module *self, Var *x);
static const ModuleType DROPOUT_TYPE = {"Dropout", nn_dropout_forward, NULL,
                                        dropout_extra_repr, free_state};

static Var *nn_dropout_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    float p = ((const DropoutState *)self->state)->p;
    if (!self->training || p == 0.0f)
        return var_reshape(x, x->data->shape, x->data->ndim); /* identity: a fresh view */
    /* Keep each element with probability 1 - p and scale it by 1 / (1 - p), so the
     * expected value is unchanged and eval mode needs no rescaling. */
    Tensor *mask = tensor_bernoulli(x->data->shape, x->data->ndim, 1.0f - p);
    if (mask && tensor_mul_scalar_(mask, p < 1.0f ? 1.0f / (1.0f - p) : 0.0f) < 0)
        return NULL;
    return var_mul(x, nn_constant(mask));
    /* SOLUTION END */
}

Module *nn_dropout(float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) {
        strata_set_error("nn_dropout: p = %g must be in [0, 1]", (double)p);
        return NULL;
    }
    DropoutState init = {p};
    return nn_module_new(&DROPOUT_TYPE, new_state(&init, sizeof init));
}

/* ----------------------------------------------------------- Flatten, Identity --- */

typedef struct FlattenState {
    int start_dim, end_dim;
} FlattenState;

static int flatten_extra_repr(const Module *m, char *buf, size_t size)
{
    const FlattenState *s = m->state;
    return snprintf(buf, size, "start_dim=%d, end_dim=%d", s->start_dim, s->end_dim);
}

static Var *nn_flatten_forward(Module *self, Var *x);
static const ModuleType FLATTEN_TYPE = {"Flatten", nn_flatten_forward, NULL,
                                        flatten_extra_repr, free_state};
static Var *nn_identity_forward(Module *self, Var *x);
static const ModuleType IDENTITY_TYPE = {"Identity", nn_identity_forward, NULL, NULL, NULL};

static Var *nn_flatten_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    const FlattenState *s = self->state;
    return var_flatten(x, s->start_dim, s->end_dim);
    /* SOLUTION END */
}

static Var *nn_identity_forward(Module *self, Var *x)
{
    (void)self;
    return var_reshape(x, x->data->shape, x->data->ndim);
}

Module *nn_flatten(int start_dim, int end_dim)
{
    FlattenState init = {start_dim, end_dim};
    return nn_module_new(&FLATTEN_TYPE, new_state(&init, sizeof init));
}

Module *nn_identity(void) { return nn_module_new(&IDENTITY_TYPE, NULL); }

/* ------------------------------------------------------------------- activations --- */

typedef enum ActivationKind {
    ACT_RELU, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH, ACT_GELU, ACT_SOFTMAX, ACT_LOG_SOFTMAX
} ActivationKind;

typedef struct ActivationState {
    ActivationKind kind;
    float slope; /* LeakyReLU */
    int dim;     /* Softmax, LogSoftmax */
} ActivationState;

static int activation_extra_repr(const Module *m, char *buf, size_t size)
{
    const ActivationState *s = m->state;
    char slope[32];
    switch (s->kind) {
    case ACT_LEAKY_RELU:
        nn_format_float(slope, sizeof slope, s->slope);
        return snprintf(buf, size, "negative_slope=%s", slope);
    case ACT_GELU:
        return snprintf(buf, size, "approximate='none'");
    case ACT_SOFTMAX:
    case ACT_LOG_SOFTMAX:
        return snprintf(buf, size, "dim=%d", s->dim);
    default:
        return snprintf(buf, size, "%s", "");
    }
}

static Var *nn_activation_forward(Module *self, Var *x)
{
    /* SOLUTION BEGIN week=3 step=4 tier=core fail=NULL */
    const ActivationState *s = self->state;
    switch (s->kind) {
    case ACT_RELU:
        return var_relu(x);
    case ACT_LEAKY_RELU:
        return var_leaky_relu(x, s->slope);
    case ACT_SIGMOID:
        return var_sigmoid(x);
    case ACT_TANH:
        return var_tanh(x);
    case ACT_GELU:
        return var_gelu(x);
    case ACT_SOFTMAX:
        return var_softmax(x, s->dim);
    case ACT_LOG_SOFTMAX:
        return var_log_softmax(x, s->dim);
    }
    strata_set_error("nn_forward: unknown activation %d", (int)s->kind);
    return NULL;
    /* SOLUTION END */
}

static const ModuleType RELU_TYPE = {"ReLU", nn_activation_forward, NULL,
                                     activation_extra_repr, free_state};
static const ModuleType LEAKY_RELU_TYPE = {"LeakyReLU", nn_activation_forward, NULL,
                                           activation_extra_repr, free_state};
static const ModuleType SIGMOID_TYPE = {"Sigmoid", nn_activation_forward, NULL,
                                        activation_extra_repr, free_state};
static const ModuleType TANH_TYPE = {"Tanh", nn_activation_forward, NULL,
                                     activation_extra_repr, free_state};
static const ModuleType GELU_TYPE = {"GELU", nn_activation_forward, NULL,
                                     activation_extra_repr, free_state};
static const ModuleType SOFTMAX_TYPE = {"Softmax", nn_activation_forward, NULL,
                                        activation_extra_repr, free_state};
static const ModuleType LOG_SOFTMAX_TYPE = {"LogSoftmax", nn_activation_forward, NULL,
                                            activation_extra_repr, free_state};

static Module *activation(const ModuleType *type, ActivationKind kind, float slope, int dim)
{
    ActivationState init = {kind, slope, dim};
    return nn_module_new(type, new_state(&init, sizeof init));
}

Module *nn_relu(void) { return activation(&RELU_TYPE, ACT_RELU, 0, 0); }

bool nn_relu_then_max_pool(const Module *first, const Module *second, Window2d *w)
{
    if (!first || !second || first->type != &RELU_TYPE || second->type != &MAX_POOL_TYPE ||
        first->num_hooks > 0 || second->num_hooks > 0)
        return false;
    *w = ((const PoolState *)second->state)->window;
    return true;
}

Var *nn_conv_relu_max_pool(Module *const *m, Var *x, bool *fused)
{
    *fused = false;
    Window2d pool;
    if (!m[0] || m[0]->type != &CONV2D_TYPE || m[0]->num_hooks > 0 ||
        !nn_relu_then_max_pool(m[1], m[2], &pool))
        return NULL;
    const Conv2dState *s = m[0]->state;
    if (x->data->ndim != 4 || x->data->shape[1] != s->in_channels)
        return NULL; /* the Conv2d's own forward reports it */
    *fused = true;
    return var_conv2d_relu_max_pool2d(x, param(m[0], 0), param(m[0], 1), s->window, pool);
}

Var *nn_linear_relu(const Module *first, const Module *second, Var *x, bool *fused)
{
    Var *w, *b;
    *fused = false;
    if (!nn_linear_parts(first, &w, &b) || !second || second->type != &RELU_TYPE ||
        second->num_hooks > 0 || x->data->ndim != 2 || x->data->shape[1] != w->data->shape[1])
        return NULL; /* (a Linear whose input does not fit reports it itself) */
    *fused = true;
    return var_linear_relu(x, w, b);
}
Module *nn_leaky_relu(float negative_slope)
{
    return activation(&LEAKY_RELU_TYPE, ACT_LEAKY_RELU, negative_slope, 0);
}
Module *nn_sigmoid(void) { return activation(&SIGMOID_TYPE, ACT_SIGMOID, 0, 0); }
Module *nn_tanh(void) { return activation(&TANH_TYPE, ACT_TANH, 0, 0); }
Module *nn_gelu(void) { return activation(&GELU_TYPE, ACT_GELU, 0, 0); }
Module *nn_softmax(int dim) { return activation(&SOFTMAX_TYPE, ACT_SOFTMAX, 0, dim); }
Module *nn_log_softmax(int dim)
{
    return activation(&LOG_SOFTMAX_TYPE, ACT_LOG_SOFTMAX, 0, dim);
}
