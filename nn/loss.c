/*
 * loss.c - the losses, as functions and as modules.
 *
 * Each function computes per-element (or per-sample) losses from autograd ops and then
 * reduces them (mean, sum or none). The work happens inside a scope of our own, so the
 * intermediates are freed (or kept by the graph) whether or not the caller has a scope
 * open; nn_scope_return() hands the result back.
 *
 * Cross-entropy is composed as log_softmax + gather, which is numerically stable: the
 * log-sum-exp subtracts the row max, so no exp() overflows and no log(0) appears.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>

/* SOLUTION BEGIN week=3 step=7 tier=core */
/* Same shape, or an error naming @p function and both shapes. */
static bool same_shape(const char *function, const Var *input, const Tensor *target)
{
    if (tensor_same_shape(input->data, target))
        return true;
    char a[128], b[128];
    strata_set_error("%s: input %s and target %s must have the same shape", function,
                     tensor_shape_str(input->data, a, sizeof a),
                     tensor_shape_str(target, b, sizeof b));
    return false;
}

/*
 * Check class targets for scores [N, C]: target [N] of integers in [0, C), or -100,
 * PyTorch's default ignore_index, for a sample that counts for nothing. Returns the
 * targets as an [N, 1] index tensor for gather (0 for an ignored sample) and sets
 * *@p keep to NULL, or, when some sample is ignored, to an [N] mask of 1 (kept) and 0;
 * NULL with an error for a bad target.
 */
static Tensor *class_index(const char *function, const Var *scores, const Tensor *target,
                           Tensor **keep)
{
    *keep = NULL;
    const Tensor *x = scores->data;
    char a[128], b[128];
    if (x->ndim != 2 || target->ndim != 1 || target->shape[0] != x->shape[0]) {
        strata_set_error("%s: expected input [N, C] and target [N], got %s and %s", function,
                         tensor_shape_str(x, a, sizeof a), tensor_shape_str(target, b, sizeof b));
        return NULL;
    }
    int64_t n = target->shape[0], classes = x->shape[1], ignored = 0;
    Tensor *index = tensor_empty((int64_t[]){n, 1}, 2), *mask = tensor_empty(&n, 1);
    for (int64_t i = 0; index && mask && i < n; i++) {
        float c = target->data[i * target->strides[0]];
        bool skip = c == -100.0f;
        if (!skip && !(c >= 0 && c < (float)classes && c == floorf(c))) {
            strata_set_error("%s: target %g of sample %lld is not a class index in [0, %lld) "
                             "nor -100 (ignored)", function, (double)c, (long long)i,
                             (long long)classes);
            return NULL;
        }
        index->data[i] = skip ? 0.0f : c;
        mask->data[i] = skip ? 0.0f : 1.0f;
        ignored += skip;
    }
    *keep = ignored ? mask : NULL;
    return mask ? index : NULL;
}

/* Reduce per-sample losses; with a @p keep mask (see class_index()) an ignored sample's
 * loss is 0 and the mean is over the samples kept, as PyTorch. None kept: the mean is
 * 0/0 = NaN and yet its gradient 0 (dividing by 0 would give inf * 0 = NaN): divide by
 * 1 and add a constant NaN. */
static Var *reduce_kept(Var *loss, const Tensor *keep, NnReduction reduction, const char *fn)
{
    if (!keep)
        return nn_reduce(loss, reduction, fn);
    loss = var_mul(loss, nn_constant(keep));
    if (reduction != NN_REDUCTION_MEAN)
        return nn_reduce(loss, reduction, fn);
    Tensor *kept = tensor_sum(keep, NULL, 0, false);
    bool none = kept && tensor_item(kept) == 0.0f;
    if (none)
        tensor_fill_(kept, 1.0f);
    Var *mean = var_div(var_sum(loss, NULL, 0, false), nn_constant(kept));
    return none ? var_add(mean, nn_constant(tensor_scalar(NAN))) : mean;
}

/* -log_probs[i, target_i] for each sample: [N]. */
static Var *pick_nll(Var *log_probs, const Tensor *index)
{
    Var *picked = var_gather(log_probs, 1, index); /* [N, 1] */
    return var_neg(var_squeeze(picked, 1));
}

/* x * x: the squared error of each element. */
static Var *square(Var *x)
{
    return var_mul(x, x);
}

/* @p penalty of each element of input - target, reduced: the losses that compare two
 * tensors of one shape position by position (squared or absolute error). */
static Var *difference_loss(const char *function, Var *input, const Tensor *target,
                            NnReduction reduction, Var *(*penalty)(Var *diff))
{
    if (!same_shape(function, input, target))
        return NULL;
    Scope *inner = scope_begin();
    Var *diff = var_sub(input, nn_constant(target));
    Var *loss = nn_reduce(penalty(diff), reduction, function);
    return nn_scope_return(inner, loss);
}
/* SOLUTION END */

Var *nn_mse_loss(Var *input, const Tensor *target, NnReduction reduction)
{
    STRATA_CHECK_ARG(input, NULL);
    STRATA_CHECK_ARG(target, NULL);
    /* SOLUTION BEGIN week=3 step=7 tier=core fail=NULL */
    return difference_loss(__func__, input, target, reduction, square);
    /* SOLUTION END */
}

Var *nn_l1_loss(Var *input, const Tensor *target, NnReduction reduction)
{
    STRATA_CHECK_ARG(input, NULL);
    STRATA_CHECK_ARG(target, NULL);
    /* SOLUTION BEGIN week=3 step=7 tier=core fail=NULL */
    return difference_loss(__func__, input, target, reduction, var_abs);
    /* SOLUTION END */
}

Var *nn_nll_loss(Var *log_probs, const Tensor *target, NnReduction reduction)
{
    STRATA_CHECK_ARG(log_probs, NULL);
    STRATA_CHECK_ARG(target, NULL);
    /* SOLUTION BEGIN week=3 step=7 tier=core fail=NULL */
    Scope *inner = scope_begin();
    Tensor *keep, *index = class_index(__func__, log_probs, target, &keep);
    Var *loss = index ? reduce_kept(pick_nll(log_probs, index), keep, reduction, __func__)
                      : NULL;
    return nn_scope_return(inner, loss);
    /* SOLUTION END */
}

Var *nn_cross_entropy_loss(Var *logits, const Tensor *target, NnReduction reduction,
                           float label_smoothing)
{
    STRATA_CHECK_ARG(logits, NULL);
    STRATA_CHECK_ARG(target, NULL);
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f)) {
        strata_set_error("nn_cross_entropy_loss: label_smoothing = %g must be in [0, 1]",
                         (double)label_smoothing);
        return NULL;
    }
    /* SOLUTION BEGIN week=3 step=7 tier=core fail=NULL */
    Scope *inner = scope_begin();
    Tensor *keep, *index = class_index(__func__, logits, target, &keep);
    if (!index)
        return nn_scope_return(inner, NULL);
    if (label_smoothing == 0.0f && reduction == NN_REDUCTION_MEAN && !keep) /* one op */
        return nn_scope_return(inner, var_log_softmax_nll(logits, index));
    Var *log_probs = var_log_softmax(logits, 1);
    Var *loss = pick_nll(log_probs, index); /* [N] */
    if (label_smoothing > 0.0f) {
        /* PyTorch: (1 - eps) * nll + eps * (the mean over classes of -log p). */
        int class_dim[1] = {1};
        Var *smooth = var_neg(var_mean(log_probs, class_dim, 1, false));
        loss = var_add(var_mul_scalar(loss, 1.0f - label_smoothing),
                       var_mul_scalar(smooth, label_smoothing));
    }
    return nn_scope_return(inner, reduce_kept(loss, keep, reduction, __func__));
    /* SOLUTION END */
}

Var *nn_cross_entropy(Var *logits, const Tensor *target)
{
    return nn_cross_entropy_loss(logits, target, NN_REDUCTION_MEAN, 0.0f);
}

/* SOLUTION BEGIN week=3 step=7 tier=core */
/*
 * The gradient of the per-element BCE w.r.t. p, as PyTorch's binary_cross_entropy
 * backward: grad * (p - t) / max(p (1 - p), 1e-12). Finite at p = 0 and p = 1 (found by
 * the differential test, make test-torch). inputs: probs, target (a constant).
 */
static int bce_backward(const Tensor *grad, Var *const *inputs, int n, const Tensor *output,
                        void *ctx, Tensor **grads)
{
    (void)n;
    (void)output;
    (void)ctx;
    Tensor *p = tensor_contiguous(var_data(inputs[0]));
    Tensor *t = tensor_contiguous(var_data(inputs[1]));
    Tensor *g = tensor_contiguous(grad);
    Tensor *d = p && t && g ? tensor_empty(p->shape, p->ndim) : NULL;
    if (!d)
        return -1;
    for (int64_t i = 0; i < tensor_numel(d); i++) {
        double pi = p->data[i];
        d->data[i] = (float)(g->data[i] * (pi - t->data[i]) / fmax(pi * (1.0 - pi), 1e-12));
    }
    grads[0] = d;
    return 0;
}
/* SOLUTION END */

Var *nn_bce_loss(Var *probs, const Tensor *target, NnReduction reduction)
{
    STRATA_CHECK_ARG(probs, NULL);
    STRATA_CHECK_ARG(target, NULL);
    /* SOLUTION BEGIN week=3 step=7 tier=core fail=NULL */
    if (!same_shape(__func__, probs, target))
        return NULL;
    Scope *inner = scope_begin();
    Tensor *p = tensor_contiguous(probs->data);
    for (int64_t i = 0; p && i < tensor_numel(p); i++) {
        if (!(p->data[i] >= 0.0f && p->data[i] <= 1.0f)) {
            strata_set_error("nn_bce_loss: input %g is not a probability in [0, 1]",
                             (double)p->data[i]);
            return nn_scope_return(inner, NULL);
        }
    }
    /* -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch, as a custom
     * op with PyTorch's gradient (bce_backward): composing clamp(log p) from autograd ops
     * gave NaN gradients at p = 0 or 1 (0 * inf), e.g. for a saturated sigmoid. */
    Tensor *t = tensor_contiguous(target);
    Tensor *elem = p && t ? tensor_empty(p->shape, p->ndim) : NULL;
    if (!elem)
        return nn_scope_return(inner, NULL);
    for (int64_t i = 0; i < tensor_numel(p); i++) {
        float pi = p->data[i], ti = t->data[i];
        float log_p = fmaxf(logf(pi), -100.0f), log_1mp = fmaxf(logf(1.0f - pi), -100.0f);
        elem->data[i] = -(ti * log_p + (1.0f - ti) * log_1mp);
    }
    Var *pair[2] = {probs, nn_constant(t)};
    Var *loss = var_custom("bce_loss", elem, pair, 2, bce_backward, NULL);
    return nn_scope_return(inner, nn_reduce(loss, reduction, __func__));
    /* SOLUTION END */
}

Var *nn_bce_with_logits_loss(Var *logits, const Tensor *target, NnReduction reduction)
{
    STRATA_CHECK_ARG(logits, NULL);
    STRATA_CHECK_ARG(target, NULL);
    /* SOLUTION BEGIN week=3 step=7 tier=core fail=NULL */
    if (!same_shape(__func__, logits, target))
        return NULL;
    Scope *inner = scope_begin();
    /* log(1 + e^x) = logsumexp(0, x): stable for any x, and its gradient is sigmoid(x)
     * everywhere (max(x,0) + log1p(e^-|x|) has the wrong gradient at exactly 0). */
    int nd = logits->data->ndim;
    Var *pair[2] = {nn_constant(tensor_zeros_like(logits->data)), logits};
    int last[1] = {nd};
    Var *softplus = var_logsumexp(var_stack(pair, 2, nd), last, 1, false);
    Var *loss = var_sub(softplus, var_mul(logits, nn_constant(target)));
    return nn_scope_return(inner, nn_reduce(loss, reduction, __func__));
    /* SOLUTION END */
}

/* ------------------------------------------------------------------- as modules --- */

typedef enum LossKind { LOSS_MSE, LOSS_L1, LOSS_CE, LOSS_NLL, LOSS_BCE, LOSS_BCE_LOGITS } LossKind;

typedef struct LossState {
    LossKind kind;
    NnReduction reduction;
    float label_smoothing;
} LossState;

static void free_state(void *state) { strata_free(state); }

static int loss_extra_repr(const Module *m, char *buf, size_t size)
{
    (void)m;
    return snprintf(buf, size, "%s", "");
}

static Var *nn_loss_forward(Module *self, Var *const *inputs, int n)
{
    const LossState *s = self->state;
    if (n != 2) {
        strata_set_error("%s: takes (input, target), got %d inputs", self->type->name, n);
        return NULL;
    }
    const Tensor *target = inputs[1]->data;
    switch (s->kind) {
    case LOSS_MSE:
        return nn_mse_loss(inputs[0], target, s->reduction);
    case LOSS_L1:
        return nn_l1_loss(inputs[0], target, s->reduction);
    case LOSS_CE:
        return nn_cross_entropy_loss(inputs[0], target, s->reduction, s->label_smoothing);
    case LOSS_NLL:
        return nn_nll_loss(inputs[0], target, s->reduction);
    case LOSS_BCE:
        return nn_bce_loss(inputs[0], target, s->reduction);
    case LOSS_BCE_LOGITS:
        return nn_bce_with_logits_loss(inputs[0], target, s->reduction);
    }
    strata_set_error("%s: unknown loss %d", self->type->name, (int)s->kind);
    return NULL;
}

static const ModuleType MSE_TYPE = {"MSELoss", NULL, nn_loss_forward, loss_extra_repr,
                                    free_state};
static const ModuleType L1_TYPE = {"L1Loss", NULL, nn_loss_forward, loss_extra_repr,
                                   free_state};
static const ModuleType CE_TYPE = {"CrossEntropyLoss", NULL, nn_loss_forward,
                                   loss_extra_repr, free_state};
static const ModuleType NLL_TYPE = {"NLLLoss", NULL, nn_loss_forward, loss_extra_repr,
                                    free_state};
static const ModuleType BCE_TYPE = {"BCELoss", NULL, nn_loss_forward, loss_extra_repr,
                                    free_state};
static const ModuleType BCE_LOGITS_TYPE = {"BCEWithLogitsLoss", NULL, nn_loss_forward,
                                           loss_extra_repr, free_state};

static Module *loss_module(const ModuleType *type, LossKind kind, NnReduction reduction,
                           float label_smoothing)
{
    if (reduction != NN_REDUCTION_MEAN && reduction != NN_REDUCTION_SUM &&
        reduction != NN_REDUCTION_NONE) {
        strata_set_error("nn_%s: unknown reduction %d", type->name, (int)reduction);
        return NULL;
    }
    LossState *s = strata_malloc(sizeof *s);
    if (!s)
        return NULL;
    *s = (LossState){kind, reduction, label_smoothing};
    return nn_module_new(type, s);
}

Module *nn_mse_loss_module(NnReduction reduction)
{
    return loss_module(&MSE_TYPE, LOSS_MSE, reduction, 0);
}
Module *nn_l1_loss_module(NnReduction reduction)
{
    return loss_module(&L1_TYPE, LOSS_L1, reduction, 0);
}
Module *nn_cross_entropy_module(NnReduction reduction, float label_smoothing)
{
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f)) {
        strata_set_error("nn_cross_entropy_module: label_smoothing = %g must be in [0, 1]",
                         (double)label_smoothing);
        return NULL;
    }
    return loss_module(&CE_TYPE, LOSS_CE, reduction, label_smoothing);
}
Module *nn_nll_loss_module(NnReduction reduction)
{
    return loss_module(&NLL_TYPE, LOSS_NLL, reduction, 0);
}
Module *nn_bce_loss_module(NnReduction reduction)
{
    return loss_module(&BCE_TYPE, LOSS_BCE, reduction, 0);
}
Module *nn_bce_with_logits_loss_module(NnReduction reduction)
{
    return loss_module(&BCE_LOGITS_TYPE, LOSS_BCE_LOGITS, reduction, 0);
}
