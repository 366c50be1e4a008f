/*
 * optimizer.c - the dualized optimizer, plugged into week 4 through optim.h's extension
 * point (an OptimizerOps whose step sees every gradient at once), and the nn wrapper
 * that lets a modular network go through nn/optim's training loop.
 */
#include "modular_internal.h"

#include <math.h>
#include <string.h>

typedef struct ModOptCtx {
    ModularModule *m;        /* borrowed */
    ModularOptimOptions o;   /* the options (betas defaulted) */
} ModOptCtx;

/* SOLUTION BEGIN week=5 step=9 tier=core */
/* p -= u for each atom's weight. */
static int apply_update(Var *const *params, Tensor *const *u, int n, float scale)
{
    for (int i = 0; i < n; i++)
        if (tensor_axpy_(var_data(params[i]), -scale, u[i]) != 0)
            return -1;
    return 0;
}

/* The PyTorch-era normed Adam step (see ModularOptimKind). */
static int normed_adam_step(Optimizer *opt, ModOptCtx *c, Tensor *const *g, Tensor *const *u)
{
    OptimParamGroup *grp = &opt->groups[0];
    float lr = grp->hp.lr, b1 = c->o.beta1, b2 = c->o.beta2;
    int n = grp->num_params;
    for (int i = 0; i < n; i++) {
        OptimParamState *st = &grp->state[i];
        Tensor *m = optim_state_buffer(st, "exp_avg", g[i]);
        Tensor *v = optim_state_buffer(st, "exp_avg_sq", g[i]);
        if (!m || !v)
            return -1;
        st->step++;
        double c1 = 1.0 - pow(b1, (double)st->step), c2 = 1.0 - pow(b2, (double)st->step);
        int64_t len = tensor_numel(g[i]);
        for (int64_t k = 0; k < len; k++) {
            float gk = g[i]->data[k];
            m->data[k] = b1 * m->data[k] + (1 - b1) * gk;
            v->data[k] = b2 * v->data[k] + (1 - b2) * gk * gk;
            float q = (float)((m->data[k] / c1) / sqrt(v->data[k] / c2));
            u[i]->data[k] = isfinite(q) ? q : 0.0f; /* 0/0 where the gradient never moved */
        }
    }
    double schedule = 1.0;
    if (c->o.total_steps > 0) {
        schedule = 1.0 - (double)opt->steps / (double)c->o.total_steps;
        schedule = schedule < 0.0 ? 0.0 : schedule;
    }
    if (modular_normalize(c->m, u, (float)(lr * schedule)) != 0)
        return -1;
    if (apply_update(grp->params, u, n, 1.0f) != 0)
        return -1;
    float strength = (float)(lr * schedule * c->o.weight_decay);
    return strength > 0 ? modular_regularize(c->m, strength > 1 ? 1 : strength) : 0;
}

/* Dualized descent, with momentum when asked. */
static int descent_step(Optimizer *opt, ModOptCtx *c, Tensor *const *g, Tensor *const *u)
{
    OptimParamGroup *grp = &opt->groups[0];
    int n = grp->num_params;
    float lr = grp->hp.lr, beta = grp->hp.momentum;
    Tensor **src = strata_malloc((size_t)n * sizeof *src);
    if (!src)
        return -1;
    for (int i = 0; i < n; i++) {
        src[i] = g[i];
        if (beta > 0.0f) { /* m = beta m + (1 - beta) g */
            Tensor *mb = optim_state_buffer(&grp->state[i], "momentum_buffer", g[i]);
            if (!mb || tensor_mul_scalar_(mb, beta) != 0 ||
                tensor_axpy_(mb, 1.0f - beta, g[i]) != 0) {
                strata_free(src);
                return -1;
            }
            src[i] = mb;
        }
        grp->state[i].step++;
    }
    int rc = modular_dualize(c->m, src, u, 1.0f);
    strata_free(src);
    if (rc != 0 || apply_update(grp->params, u, n, lr) != 0)
        return -1;
    if (c->o.weight_decay > 0.0f) {
        float strength = lr * c->o.weight_decay;
        if (modular_regularize(c->m, strength > 1 ? 1 : strength) != 0)
            return -1;
    }
    if (c->o.project) {
        Tensor **w = strata_malloc((size_t)n * sizeof *w);
        if (!w)
            return -1;
        for (int i = 0; i < n; i++)
            w[i] = var_data(grp->params[i]);
        rc = modular_project(c->m, w, w);
        strata_free(w);
        return rc;
    }
    return 0;
}
/* SOLUTION END */

/*
 * One update of the kind in the optimizer's context, from the gradients @p g (zeros
 * where missing) into the scratch tensors @p u (shaped like the weights). 0 or -1.
 */
static int mod_optimizer_update(Optimizer *opt, Tensor *const *g, Tensor *const *u)
{
    /* SOLUTION BEGIN week=5 step=9 tier=core fail=-1 */
    ModOptCtx *c = opt->ctx;
    return c->o.kind == MODULAR_NORMED_ADAM ? normed_adam_step(opt, c, g, u)
                                            : descent_step(opt, c, g, u);
    /* SOLUTION END */
}

/* The whole step: gather gradients (zeros where missing), then the kind's update. */
static int mod_opt_step(Optimizer *opt)
{
    OptimParamGroup *grp = &opt->groups[0];
    int n = grp->num_params, rc = -1;
    Scope *s = scope_begin();
    Tensor **g = strata_calloc((size_t)n, sizeof *g);
    Tensor **u = strata_calloc((size_t)n, sizeof *u);
    if (g && u) {
        rc = 0;
        for (int i = 0; i < n && rc == 0; i++) {
            Tensor *p = var_data(grp->params[i]);
            Tensor *gi = var_grad(grp->params[i]);
            g[i] = gi ? tensor_contiguous(gi) : tensor_zeros_like(p);
            u[i] = tensor_zeros_like(p);
            if (!g[i] || !u[i])
                rc = -1;
        }
        if (rc == 0)
            rc = mod_optimizer_update(opt, g, u);
    }
    strata_free(g);
    strata_free(u);
    scope_end(s);
    return rc;
}

static void mod_opt_free(void *ctx) { strata_free(ctx); }

static const OptimizerOps MODULAR_OPS = {"modular", NULL, mod_opt_step, mod_opt_free};

Optimizer *modular_optimizer_new(ModularModule *m, const ModularOptimOptions *opts)
{
    STRATA_CHECK_ARG(m, NULL);
    STRATA_CHECK_ARG(opts, NULL);
    ModularOptimOptions o = *opts;
    if (o.beta1 == 0.0f)
        o.beta1 = 0.9f;
    if (o.beta2 == 0.0f)
        o.beta2 = 0.99f;
    if (!(o.lr >= 0.0f) || !(o.momentum >= 0.0f && o.momentum < 1.0f) ||
        !(o.beta1 > 0.0f && o.beta1 < 1.0f) || !(o.beta2 > 0.0f && o.beta2 < 1.0f) ||
        !(o.weight_decay >= 0.0f) || o.total_steps < 0 ||
        (o.kind != MODULAR_DESCENT && o.kind != MODULAR_NORMED_ADAM)) {
        strata_set_error("modular_optimizer_new: need lr >= 0, momentum in [0, 1), betas in "
                         "(0, 1), weight_decay >= 0, total_steps >= 0 and a known kind; got "
                         "lr %g, momentum %g, betas (%g, %g), weight_decay %g, total_steps "
                         "%lld, kind %d",
                         (double)o.lr, (double)o.momentum, (double)o.beta1, (double)o.beta2,
                         (double)o.weight_decay, (long long)o.total_steps, (int)o.kind);
        return NULL;
    }
    int n = modular_num_atoms(m);
    if (n < 1) {
        strata_set_error("modular_optimizer_new: %s has no atoms, so nothing to optimize",
                         m->name);
        return NULL;
    }
    Var **params = strata_malloc((size_t)n * sizeof *params);
    ModOptCtx *c = strata_calloc(1, sizeof *c);
    if (!params || !c || modular_weights(m, params) < 0) {
        strata_free(params);
        strata_free(c);
        return NULL;
    }
    c->m = m;
    c->o = o;
    OptimHparams hp;
    memset(&hp, 0, sizeof hp);
    hp.lr = o.lr;
    hp.momentum = o.momentum;
    hp.beta1 = o.beta1;
    hp.beta2 = o.beta2;
    hp.weight_decay = o.weight_decay;
    hp.eps = 1e-8f;
    hp.alpha = 0.99f;
    Optimizer *opt = optim_new(&MODULAR_OPS, c, params, n, &hp); /* owns c from here */
    strata_free(params);
    return opt;
}

/* ------------------------------------------------------------- nn wrapper --- */

static Var *nn_modular_forward(Module *self, Var *x)
{
    return modular_forward(nn_module_state(self), x);
}

static int nn_modular_extra_repr(const Module *self, char *buf, size_t size)
{
    const ModularModule *m = nn_module_state(self);
    return snprintf(buf, size, "%s, atoms=%d, bonds=%d, mass=%g, sensitivity=%g", m->name,
                    modular_num_atoms(m), modular_num_bonds(m), (double)modular_mass(m),
                    (double)modular_sensitivity(m));
}

static void nn_modular_free(void *state) { modular_free(state); }

static const ModuleType NN_MODULAR = {"Modular", nn_modular_forward, NULL,
                                      nn_modular_extra_repr, nn_modular_free};

Module *modular_nn_module(ModularModule *m)
{
    STRATA_CHECK_ARG(m, NULL);
    if (m->owned) {
        strata_set_error("modular_nn_module: %s is part of another module", m->name);
        return NULL;
    }
    Module *mod = nn_module_new(&NN_MODULAR, m); /* frees m on failure */
    if (!mod)
        return NULL;
    int n = modular_num_atoms(m);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "w%d", i);
        if (nn_register_parameter(mod, name, modular_weight_get(m, i)) != 0) {
            nn_module_free(mod);
            return NULL;
        }
    }
    return mod;
}

ModularModule *modular_from_nn(const Module *mod)
{
    STRATA_CHECK_ARG(mod, NULL);
    if (mod->type != &NN_MODULAR) {
        strata_set_error("modular_from_nn: the module is a %s, not one made by "
                         "modular_nn_module()",
                         nn_module_type_name(mod));
        return NULL;
    }
    return nn_module_state(mod);
}
