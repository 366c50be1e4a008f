/*
 * optimizer.c - the Optimizer: parameter groups, per-parameter state, step/zero_grad,
 * and the four built-in update rules (SGD, Adam, AdamW, RMSprop) of PyTorch's docs.
 *
 * The update rules work element by element on the contiguous float arrays of the
 * parameter, its gradient and its state buffers: one pass per parameter, no
 * temporaries, which is what makes an optimizer step cheap next to the matrix products.
 */
#include "optimizer.h"
#include "optim_internal.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- hyperparameters --- */

static const OptimizerOps sgd_ops, adam_ops, adamw_ops, rmsprop_ops; /* defined below */

/* For a built-in rule (@p ops one of the four above), refuse a setting the rule would
 * silently ignore (amsgrad for SGD, nesterov for Adam, ...) by name, and an eps the rule
 * divides by that is not > 0 (a zero-initialised OptimHparams has eps 0). A user-written
 * rule reads what it likes: nothing to check. */
static int check_applies(const OptimizerOps *ops, const OptimHparams *hp, const char *fn)
{
    bool sgd = ops == &sgd_ops, adam = ops == &adam_ops || ops == &adamw_ops;
    bool rms = ops == &rmsprop_ops;
    if (!sgd && !adam && !rms)
        return 0;
    struct { const char *name; bool set; bool applies; const char *of; } f[] = {
        {"momentum", hp->momentum != 0.0f, sgd || rms, "sgd and rmsprop"},
        {"dampening", hp->dampening != 0.0f, sgd, "sgd"},
        {"nesterov", hp->nesterov, sgd, "sgd"},
        {"beta1", hp->beta1 != 0.0f, adam, "adam and adamw"},
        {"beta2", hp->beta2 != 0.0f, adam, "adam and adamw"},
        {"eps", hp->eps != 0.0f, adam || rms, "adam, adamw and rmsprop"},
        {"amsgrad", hp->amsgrad, adam, "adam and adamw"},
        {"alpha", hp->alpha != 0.0f, rms, "rmsprop"},
        {"centered", hp->centered, rms, "rmsprop"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].set && !f[i].applies) {
            strata_set_error("%s: '%s' does not apply to %s (it is an option of %s); leave "
                             "it 0/false, as optim_%s_defaults() does", fn, f[i].name,
                             ops->name, f[i].of, ops->name);
            return -1;
        }
    }
    if ((adam || rms) && !(hp->eps > 0.0f)) {
        strata_set_error("%s: invalid eps %g for %s (must be > 0; optim_%s_defaults() sets "
                         "1e-8)", fn, (double)hp->eps, ops->name, ops->name);
        return -1;
    }
    return 0;
}

/* Check every field a built-in rule reads; name the first bad one. Every value must be
 * finite: an infinite learning rate would write NaN into the weights at the next step. */
int optim_check_hparams(const OptimizerOps *ops, const OptimHparams *hp, const char *fn)
{
    struct { const char *name; float value; float lo; float hi; bool hi_open; } f[] = {
        {"lr", hp->lr, 0.0f, INFINITY, true},
        {"weight_decay", hp->weight_decay, 0.0f, INFINITY, true},
        {"momentum", hp->momentum, 0.0f, INFINITY, true},
        {"dampening", hp->dampening, -INFINITY, INFINITY, true},
        {"beta1", hp->beta1, 0.0f, 1.0f, true},
        {"beta2", hp->beta2, 0.0f, 1.0f, true},
        {"eps", hp->eps, 0.0f, INFINITY, true},
        {"alpha", hp->alpha, 0.0f, 1.0f, false},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        float v = f[i].value;
        if (!isfinite(v) || v < f[i].lo || v > f[i].hi || (f[i].hi_open && v >= f[i].hi)) {
            strata_set_error("%s: invalid %s %g (must be %sin [%g, %g%s)", fn, f[i].name,
                             (double)v, isinf(f[i].hi) ? "finite, " : "", (double)f[i].lo,
                             (double)f[i].hi, f[i].hi_open ? ")" : "]");
            return -1;
        }
    }
    return check_applies(ops, hp, fn);
}

OptimHparams optim_sgd_defaults(float lr)
{
    OptimHparams hp;
    memset(&hp, 0, sizeof hp);
    hp.lr = lr;
    return hp;
}

OptimHparams optim_adam_defaults(float lr)
{
    OptimHparams hp = optim_sgd_defaults(lr);
    hp.beta1 = 0.9f;
    hp.beta2 = 0.999f;
    hp.eps = 1e-8f;
    return hp;
}

OptimHparams optim_adamw_defaults(float lr)
{
    OptimHparams hp = optim_adam_defaults(lr);
    hp.weight_decay = 1e-2f;
    return hp;
}

OptimHparams optim_rmsprop_defaults(float lr)
{
    OptimHparams hp = optim_sgd_defaults(lr);
    hp.alpha = 0.99f;
    hp.eps = 1e-8f;
    return hp;
}

/* ------------------------------------------------------------------ the object --- */

static void free_group(OptimParamGroup *g)
{
    for (int i = 0; i < g->num_params; i++) {
        var_release(g->params[i]);
        for (int b = 0; b < g->state[i].num_buffers; b++)
            tensor_release(g->state[i].buffers[b]);
    }
    strata_free(g->params);
    strata_free(g->state);
}

void optim_free(Optimizer *opt)
{
    if (!opt)
        return;
    for (int g = 0; g < opt->num_groups; g++)
        free_group(&opt->groups[g]);
    strata_free(opt->groups);
    if (opt->ops && opt->ops->free_ctx)
        opt->ops->free_ctx(opt->ctx);
    strata_free(opt);
}

static bool optim_has_param(const Optimizer *opt, const Var *p)
{
    for (int g = 0; g < opt->num_groups; g++)
        for (int i = 0; i < opt->groups[g].num_params; i++)
            if (opt->groups[g].params[i] == p)
                return true;
    return false;
}

/* Validate a parameter list: n >= 1, no NULL, no duplicate within it or in opt. */
static int check_params(const Optimizer *opt, Var *const *params, int n, const char *fn)
{
    if (!params) {
        strata_error_null(fn, "params");
        return -1;
    }
    if (n < 1) {
        strata_set_error("%s: a parameter group needs at least one parameter (got %d)", fn, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            strata_set_error("%s: parameter %d is NULL", fn, i);
            return -1;
        }
        if (!params[i]->data) {
            strata_set_error("%s: parameter %d has no data", fn, i);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (params[j] == params[i]) {
                strata_set_error("%s: parameter %d appears twice (also at %d)", fn, i, j);
                return -1;
            }
        if (opt && optim_has_param(opt, params[i])) {
            strata_set_error("%s: parameter %d is already in another parameter group", fn, i);
            return -1;
        }
    }
    return 0;
}

static int append_group(Optimizer *opt, Var *const *params, int n, const OptimHparams *hp)
{
    OptimParamGroup *groups =
        strata_realloc(opt->groups, sizeof(OptimParamGroup) * (size_t)(opt->num_groups + 1));
    if (!groups)
        return -1;
    opt->groups = groups;
    OptimParamGroup *g = &groups[opt->num_groups];
    memset(g, 0, sizeof *g);
    g->params = strata_malloc(sizeof(Var *) * (size_t)n);
    g->state = strata_calloc((size_t)n, sizeof(OptimParamState));
    if (!g->params || !g->state) {
        strata_free(g->params);
        strata_free(g->state);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        g->params[i] = params[i];
        var_retain(params[i]);
    }
    g->num_params = n;
    g->hp = *hp;
    g->initial_lr = hp->lr;
    return opt->num_groups++;
}

Optimizer *optim_new(const OptimizerOps *ops, void *ctx, Var *const *params, int n,
                     const OptimHparams *defaults)
{
    void (*free_ctx)(void *) = ops ? ops->free_ctx : NULL;
    Optimizer *opt = NULL;
    if (!ops) {
        strata_error_null(__func__, "ops");
        goto fail;
    }
    if (!ops->update && !ops->step) {
        strata_set_error("%s: optimizer '%s' has neither an update nor a step function", __func__,
                         ops->name ? ops->name : "?");
        goto fail;
    }
    if (!defaults) {
        strata_error_null(__func__, "defaults");
        goto fail;
    }
    if (check_params(NULL, params, n, __func__) < 0 ||
        optim_check_hparams(ops, defaults, __func__) < 0)
        goto fail;
    opt = strata_calloc(1, sizeof *opt);
    if (!opt)
        goto fail;
    opt->ops = ops;
    opt->ctx = ctx;
    opt->defaults = *defaults;
    if (append_group(opt, params, n, defaults) < 0) {
        optim_free(opt); /* frees ctx */
        return NULL;
    }
    return opt;
fail:
    if (free_ctx)
        free_ctx(ctx);
    return NULL;
}

int optim_add_param_group(Optimizer *opt, Var *const *params, int n, const OptimHparams *hp)
{
    STRATA_CHECK_ARG(opt, -1);
    const OptimHparams *use = hp ? hp : &opt->defaults;
    if (check_params(opt, params, n, __func__) < 0 ||
        optim_check_hparams(opt->ops, use, __func__) < 0)
        return -1;
    return append_group(opt, params, n, use);
}

float optim_get_lr(const Optimizer *opt, int group)
{
    STRATA_CHECK_ARG(opt, NAN);
    if (group < 0 || group >= opt->num_groups) {
        strata_set_error("optim_get_lr: group %d out of range (%d groups)", group,
                         opt->num_groups);
        return NAN;
    }
    return opt->groups[group].hp.lr;
}

int optim_set_lr(Optimizer *opt, int group, float lr)
{
    STRATA_CHECK_ARG(opt, -1);
    if (group < -1 || group >= opt->num_groups) {
        strata_set_error("optim_set_lr: group %d out of range (%d groups)", group,
                         opt->num_groups);
        return -1;
    }
    if (!(lr >= 0.0f) || isinf(lr)) {
        strata_set_error("optim_set_lr: invalid lr %g (must be finite and >= 0)", (double)lr);
        return -1;
    }
    for (int g = 0; g < opt->num_groups; g++)
        if (group == -1 || g == group)
            opt->groups[g].hp.lr = lr;
    return 0;
}

Tensor *optim_state_find(const OptimParamState *state, const char *name)
{
    if (!state || !name)
        return NULL;
    for (int b = 0; b < state->num_buffers; b++)
        if (strcmp(state->names[b], name) == 0)
            return state->buffers[b];
    return NULL;
}

Tensor *optim_state_buffer(OptimParamState *state, const char *name, const Tensor *like)
{
    STRATA_CHECK_ARG(state, NULL);
    STRATA_CHECK_ARG(name, NULL);
    STRATA_CHECK_ARG(like, NULL);
    Tensor *found = optim_state_find(state, name);
    if (found) {
        if (!tensor_same_shape(found, like)) {
            char a[128], b[128];
            strata_set_error("%s: buffer '%s' has shape %s, not %s", __func__, name,
                             tensor_shape_str(found, a, sizeof a),
                             tensor_shape_str(like, b, sizeof b));
            return NULL;
        }
        return found;
    }
    if (strlen(name) >= OPTIM_BUFFER_NAME) {
        strata_set_error("%s: buffer name '%s' is longer than %d characters", __func__, name,
                         OPTIM_BUFFER_NAME - 1);
        return NULL;
    }
    if (state->num_buffers == OPTIM_MAX_BUFFERS) {
        strata_set_error("%s: no room for buffer '%s' (%d buffers already)", __func__, name,
                         OPTIM_MAX_BUFFERS);
        return NULL;
    }
    Scope *s = scope_begin();
    Tensor *t = tensor_zeros(like->shape, like->ndim);
    if (t)
        tensor_retain(t);
    scope_end(s);
    if (!t)
        return NULL;
    strcpy(state->names[state->num_buffers], name);
    state->buffers[state->num_buffers++] = t;
    return t;
}

OptimParamState *optim_param_state(Optimizer *opt, const Var *p, OptimParamGroup **group)
{
    for (int g = 0; opt && g < opt->num_groups; g++)
        for (int i = 0; i < opt->groups[g].num_params; i++)
            if (opt->groups[g].params[i] == p) {
                if (group)
                    *group = &opt->groups[g];
                return &opt->groups[g].state[i];
            }
    return NULL;
}

int optim_state_put(OptimParamState *state, const char *name, Tensor *t)
{
    for (int b = 0; b < state->num_buffers; b++)
        if (strcmp(state->names[b], name) == 0) {
            tensor_retain(t); /* first: t may be the tensor it replaces */
            tensor_release(state->buffers[b]);
            state->buffers[b] = t;
            return 0;
        }
    if (strlen(name) >= OPTIM_BUFFER_NAME || state->num_buffers == OPTIM_MAX_BUFFERS) {
        strata_set_error("optim_state_put: no room for buffer '%s' (%d buffers, names under "
                         "%d characters)", name, OPTIM_MAX_BUFFERS, OPTIM_BUFFER_NAME);
        return -1;
    }
    strcpy(state->names[state->num_buffers], name);
    tensor_retain(t);
    state->buffers[state->num_buffers++] = t;
    return 0;
}

void optim_state_drop(OptimParamState *state, const char *name)
{
    for (int b = 0; b < state->num_buffers; b++)
        if (strcmp(state->names[b], name) == 0) {
            tensor_release(state->buffers[b]);
            for (int k = b + 1; k < state->num_buffers; k++) {
                memcpy(state->names[k - 1], state->names[k], OPTIM_BUFFER_NAME);
                state->buffers[k - 1] = state->buffers[k];
            }
            state->num_buffers--;
            return;
        }
}

/* -------------------------------------------------------------- step, zero_grad --- */

void optim_zero_grad(Optimizer *opt, bool set_to_none)
{
    if (!opt)
        return;
    for (int g = 0; g < opt->num_groups; g++)
        for (int i = 0; i < opt->groups[g].num_params; i++)
            var_zero_grad(opt->groups[g].params[i], set_to_none);
}

/* SOLUTION BEGIN week=4 step=1 tier=core */
/*
 * What a step allocates, allocated before any parameter changes: each gradient as a
 * dense tensor (the updates read flat arrays), and the state buffers of every parameter
 * about to take its first update. Which buffers an update keeps is learnt by running
 * it once on a scratch copy of the parameter with a zero gradient and an empty state
 * (as the L2L store does): the buffers it made are zeroed and become the parameter's.
 * A rule written by the user creates its buffers as it goes, as before.
 */
typedef struct StepPlan {
    Tensor **grads; /* per parameter (groups in order): dense gradient, or NULL */
    int count;
} StepPlan;

static void step_plan_free(StepPlan *plan)
{
    for (int k = 0; plan->grads && k < plan->count; k++)
        tensor_release(plan->grads[k]);
    strata_free(plan->grads);
    plan->grads = NULL;
    plan->count = 0;
}

static void probe_release(OptimParamState *probe)
{
    for (int b = 0; b < probe->num_buffers; b++)
        tensor_release(probe->buffers[b]);
    probe->num_buffers = 0;
}

/*
 * The buffers a first update of @p p creates, zeroed, in @p probe. The built-in rules
 * (the only ones probed) give every buffer the parameter's shape, so the update runs on
 * a one-element scratch parameter, which tells the buffers' names in order; then each
 * gets a zeroed tensor shaped like @p p. (A scratch copy of the whole parameter and a
 * zero gradient as large would raise the first step's memory peak by twice the largest
 * parameter: 1.5 MB on the 4.4 MB of the MLP's steps.)
 */
static int probe_buffers(Optimizer *opt, OptimParamGroup *group, Var *p,
                         OptimParamState *probe)
{
    memset(probe, 0, sizeof *probe);
    OptimParamState names;
    memset(&names, 0, sizeof names);
    const int64_t one = 1;
    Scope *sc = scope_begin();
    Tensor *data = tensor_zeros(&one, 1);
    Tensor *grad = data ? tensor_zeros(&one, 1) : NULL;
    Var *scratch = grad ? var_new(data, false) : NULL;
    int rc = scratch ? opt->ops->update(opt, group, scratch, grad, &names) : -1;
    scope_end(sc);
    for (int b = 0; b < names.num_buffers && rc == 0; b++)
        if (!optim_state_buffer(probe, names.names[b], var_data(p)))
            rc = -1;
    probe_release(&names);
    if (rc < 0)
        probe_release(probe);
    probe->step = 0;
    return rc;
}

static bool builtin_rule(const Optimizer *opt)
{
    int (*u)(Optimizer *, OptimParamGroup *, Var *, const Tensor *, OptimParamState *) =
        opt->ops->update;
    return u == optim_sgd_update || u == optim_adam_update || u == optim_adamw_update ||
           u == optim_rmsprop_update;
}

static int step_prepare(Optimizer *opt, StepPlan *plan)
{
    int total = 0;
    for (int g = 0; g < opt->num_groups; g++)
        total += opt->groups[g].num_params;
    plan->count = total;
    plan->grads = strata_calloc((size_t)(total ? total : 1), sizeof *plan->grads);
    OptimParamState *fresh = strata_calloc((size_t)(total ? total : 1), sizeof *fresh);
    int rc = plan->grads && fresh ? 0 : -1;
    for (int g = 0, k = 0; g < opt->num_groups && rc == 0; g++) {
        OptimParamGroup *group = &opt->groups[g];
        for (int i = 0; i < group->num_params && rc == 0; i++, k++) {
            Var *p = group->params[i];
            Tensor *grad = var_grad(p);
            if (!grad)
                continue;
            Scope *sc = scope_begin();
            plan->grads[k] = tensor_contiguous(grad); /* grad itself when dense */
            tensor_retain(plan->grads[k]);
            scope_end(sc);
            if (!plan->grads[k])
                rc = -1;
            /* Probing runs the update once more: only for the built-in rules, which
             * touch nothing but their arguments (a user's rule may count its calls). */
            const OptimParamState *st = &group->state[i];
            if (rc == 0 && st->step == 0 && st->num_buffers == 0 && builtin_rule(opt))
                rc = probe_buffers(opt, group, p, &fresh[k]);
        }
    }
    /* Nothing failed: the probed buffers become the parameters' state (no allocation). */
    for (int g = 0, k = 0; g < opt->num_groups && fresh; g++) {
        OptimParamGroup *group = &opt->groups[g];
        for (int i = 0; i < group->num_params; i++, k++) {
            if (rc == 0 && fresh[k].num_buffers > 0) {
                fresh[k].step = 0;
                group->state[i] = fresh[k];
            } else {
                probe_release(&fresh[k]);
            }
        }
    }
    strata_free(fresh);
    if (rc < 0)
        step_plan_free(plan);
    return rc;
}
/* SOLUTION END */

int optim_step(Optimizer *opt)
{
    STRATA_CHECK_ARG(opt, -1);
    /* SOLUTION BEGIN week=4 step=1 tier=core fail=-1 */
    /* Validate every gradient first, so a bad one leaves every parameter untouched. */
    for (int g = 0; g < opt->num_groups; g++)
        for (int i = 0; i < opt->groups[g].num_params; i++) {
            Var *p = opt->groups[g].params[i];
            Tensor *grad = var_grad(p);
            if (grad && !tensor_same_shape(grad, var_data(p))) {
                char a[128], b[128];
                strata_set_error("%s: group %d parameter %d has shape %s but its gradient %s",
                                 __func__, g, i, tensor_shape_str(var_data(p), a, sizeof a),
                                 tensor_shape_str(grad, b, sizeof b));
                return -1;
            }
        }
    int rc = 0;
    autograd_no_grad_begin();
    if (opt->ops->step) {
        rc = opt->ops->step(opt);
    } else {
        /* Allocate first, update after: a step that runs out of memory changes nothing. */
        StepPlan plan;
        rc = step_prepare(opt, &plan);
        for (int g = 0, k = 0; g < opt->num_groups && rc == 0; g++) {
            OptimParamGroup *group = &opt->groups[g];
            for (int i = 0; i < group->num_params && rc == 0; i++, k++) {
                Var *p = group->params[i];
                if (!plan.grads[k])
                    continue;
                rc = opt->ops->update(opt, group, p, plan.grads[k], &group->state[i]);
            }
        }
        step_plan_free(&plan);
    }
    autograd_no_grad_end();
    if (rc == 0)
        opt->steps++;
    return rc;
    /* SOLUTION END */
}

/* -------------------------------------------------------------- update helpers --- */

/* The NULL checks of the update hooks, which share one signature: every argument but the
 * optimizer must be there. False, with an error naming @p fn and the argument, if not. */
static bool update_args_ok(const OptimParamGroup *group, const Var *param,
                           const Tensor *grad, const OptimParamState *state, const char *fn)
{
    const char *missing = !group ? "group" : !param ? "param" : !grad ? "grad"
                        : !state ? "state" : NULL;
    if (missing)
        strata_error_null(fn, missing);
    return !missing;
}

/* SOLUTION BEGIN week=4 step=2 tier=core */
/*
 * The flat arrays an update works on: the parameter (must be contiguous, it is written
 * in place) and its gradient (copied to a contiguous temporary when it is not).
 * On success *tmp holds the temporary to release (or NULL).
 */
static int flat_views(Var *param, const Tensor *grad, float **p, const float **g,
                      Tensor **tmp, int64_t *n, const char *fn)
{
    Tensor *data = var_data(param);
    *tmp = NULL;
    if (!data || !grad) {
        strata_set_error("%s: parameter or gradient missing", fn);
        return -1;
    }
    if (!tensor_same_shape(data, grad)) {
        char a[128], b[128];
        strata_set_error("%s: parameter shape %s and gradient shape %s differ", fn,
                         tensor_shape_str(data, a, sizeof a), tensor_shape_str(grad, b, sizeof b));
        return -1;
    }
    if (!tensor_is_contiguous(data)) {
        strata_set_error("%s: the parameter is not contiguous", fn);
        return -1;
    }
    if (!tensor_is_contiguous(grad)) {
        Scope *s = scope_begin();
        Tensor *c = tensor_contiguous(grad);
        if (c)
            tensor_retain(c);
        scope_end(s);
        if (!c)
            return -1;
        *tmp = c;
        grad = c;
    }
    *p = data->data;
    *g = grad->data;
    *n = tensor_numel(data);
    return 0;
}

/* A state buffer as a flat array (created as zeros on first use). */
static float *buffer(OptimParamState *st, const char *name, Var *param)
{
    Tensor *b = optim_state_buffer(st, name, var_data(param));
    return b ? b->data : NULL;
}
/* SOLUTION END */

/* ------------------------------------------------------------------------- SGD --- */

int optim_sgd_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                     OptimParamState *state)
{
    (void)opt;
    if (!update_args_ok(group, param, grad, state, __func__))
        return -1;
    /* SOLUTION BEGIN week=4 step=2 tier=core fail=-1 */
    float *p;
    const float *g;
    Tensor *tmp;
    int64_t n;
    if (flat_views(param, grad, &p, &g, &tmp, &n, __func__) < 0)
        return -1;
    const OptimHparams *hp = &group->hp;
    const float lr = hp->lr, wd = hp->weight_decay, mu = hp->momentum;
    const float damp = 1.0f - hp->dampening, sign = hp->maximize ? -1.0f : 1.0f;
    if (mu != 0.0f) {
        /* The first step copies the gradient into the buffer (no dampening). */
        bool first = state->step == 0 || optim_state_find(state, "momentum_buffer") == NULL;
        float *buf = buffer(state, "momentum_buffer", param);
        if (!buf) {
            tensor_release(tmp);
            return -1;
        }
        for (int64_t i = 0; i < n; i++) {
            float d = sign * g[i];
            if (wd != 0.0f)
                d += wd * p[i];
            buf[i] = first ? d : mu * buf[i] + damp * d;
            float step = hp->nesterov ? d + mu * buf[i] : buf[i];
            p[i] -= lr * step;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float d = sign * g[i];
            if (wd != 0.0f)
                d += wd * p[i];
            p[i] -= lr * d;
        }
    }
    state->step++;
    tensor_release(tmp);
    return 0;
    /* SOLUTION END */
}

/* ------------------------------------------------------------------ Adam, AdamW --- */

/* SOLUTION BEGIN week=4 step=3 tier=core */
/* The constants of one Adam step. */
typedef struct AdamConsts {
    float sign;         /* -1 to maximize */
    float wd;           /* L2 term added to the gradient (0 for AdamW) */
    float one_minus_b1; /* 1 - beta1 */
    float b2;           /* beta2 */
    float one_minus_b2; /* 1 - beta2 */
    float inv_bc2_sqrt; /* 1 / sqrt(1 - beta2^t) */
    float eps;          /* eps */
    float step_size;    /* lr / (1 - beta1^t) */
} AdamConsts;

/* One element: m, v (and vmax) updated, p moved. */
static inline void adam_element(float *restrict p, const float *restrict g, float *restrict m,
                                float *restrict v, float *restrict vmax, const AdamConsts *c)
{
    float d = c->sign * *g + c->wd * *p;
    *m += c->one_minus_b1 * (d - *m); /* lerp toward d: b1*m + (1-b1)*d */
    *v = c->b2 * *v + c->one_minus_b2 * d * d;
    float second = *v;
    if (vmax) {
        *vmax = *vmax > *v ? *vmax : *v;
        second = *vmax;
    }
    float denom = sqrtf(second) * c->inv_bc2_sqrt + c->eps;
    *p -= c->step_size * (*m / denom);
}

/*
 * The Adam loop over n elements. Written plainly: built with -fno-math-errno (the
 * Makefile's flags), compilers vectorize it, sqrtf included. Two loops so the amsgrad
 * test is not inside the vectorized one.
 */
static void adam_kernel(int64_t n, float *restrict p, const float *restrict g,
                        float *restrict m, float *restrict v, float *restrict vmax,
                        const AdamConsts *c)
{
    if (vmax) {
        for (int64_t i = 0; i < n; i++)
            adam_element(p + i, g + i, m + i, v + i, vmax + i, c);
    } else {
        for (int64_t i = 0; i < n; i++)
            adam_element(p + i, g + i, m + i, v + i, NULL, c);
    }
}

/* adam_kernel over a slice of the parameter: the elements are independent, so a large
 * parameter (fc1's 401K weights) is cut into ranges for strata's threads. */
typedef struct {
    float *p, *m, *v, *vmax;
    const float *g;
    const AdamConsts *c;
} AdamJob;

static void adam_range(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const AdamJob *job = ctx;
    (void)chunk;
    (void)thread;
    adam_kernel(end - begin, job->p + begin, job->g + begin, job->m + begin, job->v + begin,
                job->vmax ? job->vmax + begin : NULL, job->c);
}

/* Adam's update after the weight-decay choice: l2 adds wd*p to the gradient (Adam),
 * decoupled multiplies p by 1 - lr*wd first (AdamW). */
static int adam_common(OptimParamGroup *group, Var *param, const Tensor *grad,
                       OptimParamState *state, bool decoupled, const char *fn)
{
    float *p;
    const float *g;
    Tensor *tmp;
    int64_t n;
    if (flat_views(param, grad, &p, &g, &tmp, &n, fn) < 0)
        return -1;
    const OptimHparams *hp = &group->hp;
    float *m = buffer(state, "exp_avg", param);
    float *v = m ? buffer(state, "exp_avg_sq", param) : NULL;
    float *vmax = v && hp->amsgrad ? buffer(state, "max_exp_avg_sq", param) : NULL;
    if (!m || !v || (hp->amsgrad && !vmax)) {
        tensor_release(tmp);
        return -1;
    }
    state->step++;
    const float lr = hp->lr, wd = hp->weight_decay, b1 = hp->beta1, b2 = hp->beta2;
    /* Bias corrections as PyTorch computes them: 1 - beta^t, in double then float. */
    const double t = (double)state->step;
    const float bc1 = (float)(1.0 - pow((double)b1, t));
    const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
    AdamConsts c = {hp->maximize ? -1.0f : 1.0f, decoupled ? 0.0f : wd, 1.0f - b1, b2,
                    1.0f - b2, 1.0f / bc2_sqrt, hp->eps, lr / bc1};
    if (decoupled && wd != 0.0f) {
        const float decay = 1.0f - lr * wd;
        for (int64_t i = 0; i < n; i++)
            p[i] *= decay;
    }
    /* Over strata's threads in equal shares (a speed-up, not the lesson: one loop is correct);
     * an element costs a sqrt and a divide, so 8K of them already pay for a hand-over. */
    AdamJob job = {p, m, v, vmax, g, &c};
    strata_parallel_for(n, strata_parallel_grain(n, STRATA_GRAIN_ELEMENTS / 8), adam_range, &job);
    tensor_release(tmp);
    return 0;
}
/* SOLUTION END */

int optim_adam_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                      OptimParamState *state)
{
    (void)opt;
    if (!update_args_ok(group, param, grad, state, __func__))
        return -1;
    /* SOLUTION BEGIN week=4 step=3 tier=core fail=-1 */
    return adam_common(group, param, grad, state, false, __func__);
    /* SOLUTION END */
}

int optim_adamw_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                       OptimParamState *state)
{
    (void)opt;
    if (!update_args_ok(group, param, grad, state, __func__))
        return -1;
    /* SOLUTION BEGIN week=4 step=3 tier=core fail=-1 */
    return adam_common(group, param, grad, state, true, __func__);
    /* SOLUTION END */
}

/* ---------------------------------------------------------------------- RMSprop --- */

int optim_rmsprop_update(Optimizer *opt, OptimParamGroup *group, Var *param,
                         const Tensor *grad, OptimParamState *state)
{
    (void)opt;
    if (!update_args_ok(group, param, grad, state, __func__))
        return -1;
    /* SOLUTION BEGIN week=4 step=3 tier=core fail=-1 */
    float *p;
    const float *g;
    Tensor *tmp;
    int64_t n;
    if (flat_views(param, grad, &p, &g, &tmp, &n, __func__) < 0)
        return -1;
    const OptimHparams *hp = &group->hp;
    float *sq = buffer(state, "square_avg", param);
    float *ga = sq && hp->centered ? buffer(state, "grad_avg", param) : NULL;
    float *buf = sq && hp->momentum > 0.0f ? buffer(state, "momentum_buffer", param) : NULL;
    if (!sq || (hp->centered && !ga) || (hp->momentum > 0.0f && !buf)) {
        tensor_release(tmp);
        return -1;
    }
    state->step++;
    const float lr = hp->lr, wd = hp->weight_decay, a = hp->alpha, eps = hp->eps;
    const float mu = hp->momentum, sign = hp->maximize ? -1.0f : 1.0f;
    for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (wd != 0.0f)
            d += wd * p[i];
        sq[i] = a * sq[i] + (1.0f - a) * d * d;
        float avg;
        if (ga) {
            ga[i] += (1.0f - a) * (d - ga[i]);
            avg = sqrtf(sq[i] - ga[i] * ga[i]) + eps;
        } else {
            avg = sqrtf(sq[i]) + eps;
        }
        if (buf) {
            buf[i] = mu * buf[i] + d / avg;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * (d / avg);
        }
    }
    tensor_release(tmp);
    return 0;
    /* SOLUTION END */
}

/* ------------------------------------------------------------------ constructors --- */

static const OptimizerOps sgd_ops = {"sgd", optim_sgd_update, NULL, NULL};
static const OptimizerOps adam_ops = {"adam", optim_adam_update, NULL, NULL};
static const OptimizerOps adamw_ops = {"adamw", optim_adamw_update, NULL, NULL};
static const OptimizerOps rmsprop_ops = {"rmsprop", optim_rmsprop_update, NULL, NULL};

Optimizer *optim_sgd_new(Var *const *params, int n, const OptimHparams *hp)
{
    STRATA_CHECK_ARG(hp, NULL);
    if (hp->nesterov && (hp->momentum <= 0.0f || hp->dampening != 0.0f)) {
        strata_set_error("%s: Nesterov momentum requires a momentum > 0 and zero dampening "
                         "(momentum %g, dampening %g)", __func__, (double)hp->momentum,
                         (double)hp->dampening);
        return NULL;
    }
    return optim_new(&sgd_ops, NULL, params, n, hp);
}

Optimizer *optim_adam_new(Var *const *params, int n, const OptimHparams *hp)
{
    return optim_new(&adam_ops, NULL, params, n, hp);
}

Optimizer *optim_adamw_new(Var *const *params, int n, const OptimHparams *hp)
{
    return optim_new(&adamw_ops, NULL, params, n, hp);
}

Optimizer *optim_rmsprop_new(Var *const *params, int n, const OptimHparams *hp)
{
    return optim_new(&rmsprop_ops, NULL, params, n, hp);
}

Optimizer *optim_by_name(const char *name, Var *const *params, int n, const OptimHparams *hp)
{
    STRATA_CHECK_ARG(name, NULL);
    if (strcmp(name, "sgd") == 0)
        return optim_sgd_new(params, n, hp);
    if (strcmp(name, "adam") == 0)
        return optim_adam_new(params, n, hp);
    if (strcmp(name, "adamw") == 0)
        return optim_adamw_new(params, n, hp);
    if (strcmp(name, "rmsprop") == 0)
        return optim_rmsprop_new(params, n, hp);
    strata_set_error("%s: unknown optimizer '%s' (sgd, adam, adamw, rmsprop)", __func__, name);
    return NULL;
}

/* -------------------------------------------------------------------- clipping --- */

float optim_clip_grad_norm(Var *const *params, int n, float max_norm, float norm_type)
{
    if (n > 0)
        STRATA_CHECK_ARG(params, -1.0f);
    if (n < 0 || !(max_norm >= 0.0f) || !(norm_type >= 1.0f)) {
        strata_set_error("%s: invalid arguments (n %d, max_norm %g, norm_type %g; need n >= 0, "
                         "max_norm >= 0, norm_type >= 1)", __func__, n, (double)max_norm,
                         (double)norm_type);
        return -1.0f;
    }
    /* SOLUTION BEGIN week=4 step=5 tier=core fail=-1.0f */
    bool inf_norm = isinf(norm_type);
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        Tensor *g = params[i] ? var_grad(params[i]) : NULL;
        if (!g)
            continue;
        Scope *s = scope_begin();
        Tensor *c = tensor_contiguous(g);
        if (!c) {
            scope_end(s);
            return -1.0f;
        }
        int64_t m = tensor_numel(c);
        double acc = 0.0;
        for (int64_t k = 0; k < m; k++) {
            double a = fabs((double)c->data[k]);
            if (inf_norm)
                acc = a > acc ? a : acc;
            else
                acc += norm_type == 2.0f ? a * a : pow(a, (double)norm_type);
        }
        scope_end(s);
        if (inf_norm)
            total = acc > total ? acc : total;
        else
            total += acc;
    }
    if (!inf_norm)
        total = norm_type == 2.0f ? sqrt(total) : pow(total, 1.0 / (double)norm_type);
    float total_f = (float)total;
    if (!isfinite(total_f))
        return total_f; /* NaN or Inf gradients: report them, scale nothing */
    float coef = max_norm / (total_f + 1e-6f);
    if (coef < 1.0f) {
        for (int i = 0; i < n; i++) {
            Tensor *g = params[i] ? var_grad(params[i]) : NULL;
            if (g && tensor_mul_scalar_(g, coef) < 0)
                return -1.0f;
        }
    }
    return total_f;
    /* SOLUTION END */
}

int optim_clip_grad_value(Var *const *params, int n, float clip_value)
{
    if (n > 0)
        STRATA_CHECK_ARG(params, -1);
    if (n < 0 || !(clip_value >= 0.0f)) {
        strata_set_error("%s: invalid arguments (n %d, clip_value %g; need n >= 0, "
                         "clip_value >= 0)", __func__, n, (double)clip_value);
        return -1;
    }
    /* SOLUTION BEGIN week=4 step=5 tier=core fail=-1 */
    for (int i = 0; i < n; i++) {
        Tensor *g = params[i] ? var_grad(params[i]) : NULL;
        if (g && tensor_clamp_(g, -clip_value, clip_value) < 0)
            return -1;
    }
    return 0;
    /* SOLUTION END */
}

float optim_clip_grad_norm_opt(Optimizer *opt, float max_norm)
{
    STRATA_CHECK_ARG(opt, -1.0f);
    int total = 0;
    for (int g = 0; g < opt->num_groups; g++)
        total += opt->groups[g].num_params;
    Var **all = strata_malloc(sizeof(Var *) * (size_t)(total > 0 ? total : 1));
    if (!all)
        return -1.0f;
    int k = 0;
    for (int g = 0; g < opt->num_groups; g++)
        for (int i = 0; i < opt->groups[g].num_params; i++)
            all[k++] = opt->groups[g].params[i];
    float norm = optim_clip_grad_norm(all, total, max_norm, 2.0f);
    strata_free(all);
    return norm;
}

/* ------------------------------------------------------- module conveniences --- */

/* A built-in optimizer over every parameter of @p model. */
static Optimizer *over_module(Module *model, const char *kind, const OptimHparams *hp,
                              const char *fn)
{
    if (!model) {
        strata_error_null(fn, "model");
        return NULL;
    }
    int n = 0;
    Var **params = nn_parameters(model, &n);
    if (!params)
        return NULL;
    if (n == 0) {
        strata_free(params);
        strata_set_error("%s: the model has no parameters", fn);
        return NULL;
    }
    Optimizer *opt = optim_by_name(kind, params, n, hp);
    strata_free(params);
    return opt;
}

Optimizer *optim_sgd(Module *model, float lr, float momentum)
{
    OptimHparams hp = optim_sgd_defaults(lr);
    hp.momentum = momentum;
    return over_module(model, "sgd", &hp, __func__);
}

Optimizer *optim_adam(Module *model, float lr)
{
    OptimHparams hp = optim_adam_defaults(lr);
    return over_module(model, "adam", &hp, __func__);
}

Optimizer *optim_adamw(Module *model, float lr, float weight_decay)
{
    OptimHparams hp = optim_adamw_defaults(lr);
    hp.weight_decay = weight_decay;
    return over_module(model, "adamw", &hp, __func__);
}

Optimizer *optim_rmsprop(Module *model, float lr)
{
    OptimHparams hp = optim_rmsprop_defaults(lr);
    return over_module(model, "rmsprop", &hp, __func__);
}
