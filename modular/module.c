/*
 * module.c - the module tree: combinators, attributes (mass, sensitivity, counts)
 * and the recursive operations (forward, initialize, norm, dualize, project, normalize,
 * regularize) that walk it, splitting targets by mass and sensitivity.
 *
 * Weight lists are walked in atom order: a composition's first child (the one that runs
 * first) owns the first atoms, a tuple's children own consecutive runs.
 */
#include "modular_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- combinators --- */

/*
 * Make a combination node over @p n children, taking ownership of all of them. On any
 * failure every child not already owned elsewhere is freed.
 */
static ModularModule *combine(ModKind kind, const char *name, const char *fn, int n,
                              ModularModule *const *mods)
{
    bool ok = mods != NULL && n >= 1;
    if (!mods)
        strata_error_null(fn, "mods");
    else if (n < 1)
        strata_set_error("%s: need at least one module, got %d", fn, n);
    for (int i = 0; ok && i < n; i++) {
        if (!mods[i]) {
            strata_error_null(fn, "module");
            ok = false;
        } else if (mods[i]->owned) {
            strata_set_error("%s: module %d (%s) is already part of another module; "
                             "give a modular_copy() instead",
                             fn, i, mods[i]->name);
            ok = false;
        }
        for (int j = 0; ok && j < i; j++)
            if (mods[j] == mods[i]) {
                strata_set_error("%s: the same module is given twice (arguments %d and %d); "
                                 "give a modular_copy() instead",
                                 fn, j, i);
                ok = false;
            }
    }
    ModularModule *node = ok ? mod_node_new(kind, name) : NULL;
    if (node)
        node->children = strata_malloc((size_t)n * sizeof *node->children);
    if (!node || !node->children) {
        strata_free(node);
        if (mods)
            for (int i = 0; i < n; i++) {
                bool dup = false;
                for (int j = 0; j < i; j++)
                    dup = dup || mods[j] == mods[i];
                if (!dup && mods[i] && !mods[i]->owned)
                    modular_free(mods[i]);
            }
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        node->children[i] = mods[i];
        mods[i]->owned = true;
    }
    node->num_children = n;
    return node;
}

ModularModule *modular_compose(ModularModule *m1, ModularModule *m0)
{
    ModularModule *mods[2] = {m0, m1}; /* children[0] runs first */
    return combine(MOD_COMPOSE, "Compose", __func__, 2, mods);
}

ModularModule *modular_chain(int n, ModularModule *const *mods)
{
    if (!mods || n < 1)
        return combine(MOD_COMPOSE, "Compose", __func__, n, mods); /* reports and frees */
    ModularModule *acc = mods[0];
    for (int i = 1; i < n; i++) {
        acc = modular_compose(mods[i], acc);
        if (!acc) { /* the rest were not handed over yet: free them */
            for (int j = i + 1; j < n; j++)
                if (mods[j] && !mods[j]->owned)
                    modular_free(mods[j]);
            return NULL;
        }
    }
    return acc;
}

ModularModule *modular_tuple(int n, ModularModule *const *mods)
{
    return combine(MOD_TUPLE, "Tuple", __func__, n, mods);
}

ModularModule *modular_scale(float alpha, ModularModule *m)
{
    return modular_compose(modular_mul(alpha), m);
}

ModularModule *modular_sum(ModularModule *a, ModularModule *b)
{
    ModularModule *pair[2] = {a, b};
    return modular_compose(modular_add(), modular_tuple(2, pair));
}

ModularModule *modular_copy(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, NULL);
    if (m->kind == MOD_ATOM)
        return mod_atom_copy(m);
    ModularModule *c = mod_node_new(m->kind, m->name);
    if (!c)
        return NULL;
    c->mass = m->mass;
    c->sensitivity = m->sensitivity;
    c->smooth = m->smooth;
    c->bond = m->bond;
    c->alpha = m->alpha;
    c->scale = m->scale;
    c->num_heads = m->num_heads;
    c->rope_dim = m->rope_dim;
    c->rope_base = m->rope_base;
    c->kernel = m->kernel, c->stride = m->stride, c->padding = m->padding;
    if (m->num_children > 0) {
        c->children = strata_calloc((size_t)m->num_children, sizeof *c->children);
        if (!c->children) {
            modular_free(c);
            return NULL;
        }
        for (int i = 0; i < m->num_children; i++) {
            c->children[i] = modular_copy(m->children[i]);
            if (!c->children[i]) {
                modular_free(c); /* frees the copies made so far (the rest are NULL) */
                return NULL;
            }
            c->children[i]->owned = true;
            c->num_children = i + 1;
        }
    }
    return c;
}

ModularModule *modular_power(ModularModule *m, int n)
{
    STRATA_CHECK_ARG(m, NULL);
    if (n < 0) {
        strata_set_error("modular_power: the power must be >= 0, got %d", n);
        if (!m->owned)
            modular_free(m);
        return NULL;
    }
    if (m->owned) {
        strata_set_error("modular_power: the module (%s) is already part of another module",
                         m->name);
        return NULL;
    }
    if (n == 0) {
        modular_free(m);
        return modular_identity();
    }
    ModularModule *acc = m;
    for (int i = 1; i < n; i++) {
        ModularModule *copy = modular_copy(m);
        acc = modular_compose(copy, acc); /* frees acc (and so m) on failure */
        if (!acc)
            return NULL;
    }
    return acc;
}

/* -------------------------------------------------------------- attributes --- */

/* SOLUTION BEGIN week=5 step=3 tier=core */
static double mass_of(const ModularModule *m)
{
    if (m->kind == MOD_ATOM || m->kind == MOD_BOND)
        return m->mass;
    double s = 0.0;
    for (int i = 0; i < m->num_children; i++)
        s += mass_of(m->children[i]);
    return s;
}

static double sensitivity_of(const ModularModule *m)
{
    if (m->kind == MOD_ATOM || m->kind == MOD_BOND)
        return m->sensitivity;
    double s = m->kind == MOD_COMPOSE ? 1.0 : 0.0;
    for (int i = 0; i < m->num_children; i++)
        s = m->kind == MOD_COMPOSE ? s * sensitivity_of(m->children[i])
                                   : s + sensitivity_of(m->children[i]);
    return s;
}

static void tare_rec(ModularModule *m, double ratio)
{
    if (m->kind == MOD_ATOM || m->kind == MOD_BOND)
        m->mass = (float)(m->mass * ratio);
    for (int i = 0; i < m->num_children; i++)
        tare_rec(m->children[i], ratio);
}
/* SOLUTION END */

float modular_mass(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, NAN);
    /* SOLUTION BEGIN week=5 step=3 tier=core fail=NAN */
    return (float)mass_of(m);
    /* SOLUTION END */
}

float modular_sensitivity(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, NAN);
    /* SOLUTION BEGIN week=5 step=3 tier=core fail=NAN */
    return (float)sensitivity_of(m);
    /* SOLUTION END */
}

bool modular_is_smooth(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, false);
    if (m->kind == MOD_ATOM || m->kind == MOD_BOND)
        return m->smooth;
    for (int i = 0; i < m->num_children; i++)
        if (!modular_is_smooth(m->children[i]))
            return false;
    return true;
}

int modular_num_atoms(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, -1);
    if (m->kind == MOD_ATOM)
        return 1;
    int n = 0;
    for (int i = 0; i < m->num_children; i++)
        n += modular_num_atoms(m->children[i]);
    return n;
}

int modular_num_bonds(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, -1);
    if (m->kind == MOD_BOND)
        return 1;
    int n = 0;
    for (int i = 0; i < m->num_children; i++)
        n += modular_num_bonds(m->children[i]);
    return n;
}

const char *modular_name(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, NULL);
    return m->name;
}

int modular_num_children(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, -1);
    return m->num_children;
}

ModularModule *modular_child_get(const ModularModule *m, int i)
{
    STRATA_CHECK_ARG(m, NULL);
    if (i < 0 || i >= m->num_children) {
        strata_set_error("modular_child_get: index %d out of range (%s has %d children)", i,
                         m->name, m->num_children);
        return NULL;
    }
    return m->children[i];
}

int modular_tare(ModularModule *m, float absolute)
{
    STRATA_CHECK_ARG(m, -1);
    if (!(absolute >= 0.0f) || !isfinite(absolute)) {
        strata_set_error("modular_tare: the mass must be finite and >= 0, got %g",
                         (double)absolute);
        return -1;
    }
    /* SOLUTION BEGIN week=5 step=3 tier=core fail=-1 */
    double mass = mass_of(m);
    if (mass == 0.0) {
        strata_set_error("modular_tare: %s has mass 0, so no rescaling gives it mass %g",
                         m->name, (double)absolute);
        return -1;
    }
    tare_rec(m, absolute / mass);
    return 0;
    /* SOLUTION END */
}

int modular_tare_relative(ModularModule *m, float factor)
{
    STRATA_CHECK_ARG(m, -1);
    if (!(factor >= 0.0f) || !isfinite(factor)) {
        strata_set_error("modular_tare_relative: the factor must be finite and >= 0, got %g",
                         (double)factor);
        return -1;
    }
    /* SOLUTION BEGIN week=5 step=3 tier=core fail=-1 */
    tare_rec(m, factor);
    return 0;
    /* SOLUTION END */
}

int modular_set_mass(ModularModule *m, float mass)
{
    STRATA_CHECK_ARG(m, -1);
    if (m->kind != MOD_ATOM) {
        strata_set_error("modular_set_mass: %s is not an atom (bonds have mass 0, and a "
                         "combination's mass is its children's sum: use modular_tare())",
                         m->name);
        return -1;
    }
    if (!(mass >= 0.0f) || !isfinite(mass)) {
        strata_set_error("modular_set_mass: the mass must be finite and >= 0, got %g",
                         (double)mass);
        return -1;
    }
    /* SOLUTION BEGIN week=5 step=3 tier=core fail=-1 */
    m->mass = mass;
    return 0;
    /* SOLUTION END */
}

/* ------------------------------------------------------------------ weights --- */

static void collect_atoms(const ModularModule *m, const ModularModule **out, int *n)
{
    if (m->kind == MOD_ATOM) {
        out[(*n)++] = m;
        return;
    }
    for (int i = 0; i < m->num_children; i++)
        collect_atoms(m->children[i], out, n);
}

Var *modular_weight_get(const ModularModule *m, int i)
{
    STRATA_CHECK_ARG(m, NULL);
    int n = modular_num_atoms(m);
    if (i < 0 || i >= n) {
        strata_set_error("modular_weight_get: index %d out of range (%s has %d atoms)", i,
                         m->name, n);
        return NULL;
    }
    const ModularModule **atoms = strata_malloc((size_t)n * sizeof *atoms);
    if (!atoms)
        return NULL;
    int k = 0;
    collect_atoms(m, atoms, &k);
    Var *w = atoms[i]->weight;
    strata_free(atoms);
    return w;
}

int modular_weights(const ModularModule *m, Var **out)
{
    STRATA_CHECK_ARG(m, -1);
    STRATA_CHECK_ARG(out, -1);
    int n = modular_num_atoms(m);
    const ModularModule **atoms = strata_malloc((size_t)(n + 1) * sizeof *atoms);
    if (!atoms)
        return -1;
    int k = 0;
    collect_atoms(m, atoms, &k);
    for (int i = 0; i < n; i++)
        out[i] = atoms[i]->weight;
    strata_free(atoms);
    return n;
}

/*
 * Check that @p w (n entries, NULL allowed when @p allow_null) matches the weights'
 * shapes, naming @p fn and @p what in the error.
 */
static int check_list(const ModularModule *m, Tensor *const *w, bool allow_null,
                      const char *fn, const char *what)
{
    if (!w) {
        strata_error_null(fn, what);
        return -1;
    }
    int n = modular_num_atoms(m);
    Var **ws = strata_malloc((size_t)(n + 1) * sizeof *ws);
    if (!ws || modular_weights(m, ws) < 0) {
        strata_free(ws);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!w[i]) {
            if (!allow_null) {
                strata_set_error("%s: %s[%d] is NULL", fn, what, i);
                rc = -1;
            }
            continue;
        }
        if (!tensor_same_shape(w[i], ws[i]->data)) {
            char a[128], b[128];
            strata_set_error("%s: %s[%d] has shape %s but atom %d's weight is %s", fn, what,
                             i, tensor_shape_str(w[i], a, sizeof a), i,
                             tensor_shape_str(ws[i]->data, b, sizeof b));
            rc = -1;
        }
    }
    strata_free(ws);
    return rc;
}

/* ------------------------------------------------------------------ forward --- */

static void vals_free(ModVals *v)
{
    for (int i = 0; i < v->n; i++)
        mod_drop_temp(v->v[i]);
    strata_free(v->v);
    v->v = NULL;
    v->n = 0;
}

/*
 * Forward @p in (borrowed) through @p m into fresh values @p out. 0 or -1.
 */
static int mod_forward(ModularModule *m, const ModVals *in, ModVals *out)
{
    /* SOLUTION BEGIN week=5 step=5 tier=core fail=-1 */
    out->n = 0;
    out->v = NULL;
    switch (m->kind) {
    case MOD_ATOM: {
        if (in->n != 1) {
            strata_set_error("modular_forward: %s takes one value, got a tuple of %d",
                             m->name, in->n);
            return -1;
        }
        return mod_vals_one(out, m->atom->forward(m, in->v[0]));
    }
    case MOD_BOND:
        return mod_bond_forward(m, in, out);
    case MOD_COMPOSE: {
        ModVals mid;
        if (mod_forward(m->children[0], in, &mid) != 0)
            return -1;
        int rc = mod_forward(m->children[1], &mid, out);
        vals_free(&mid); /* the graph retains what it needs */
        return rc;
    }
    case MOD_TUPLE: {
        out->v = strata_calloc((size_t)m->num_children, sizeof *out->v);
        if (!out->v)
            return -1;
        for (int i = 0; i < m->num_children; i++) {
            ModVals part;
            if (mod_forward(m->children[i], in, &part) != 0) {
                vals_free(out);
                return -1;
            }
            if (part.n != 1) {
                strata_set_error("modular_forward: tuple member %d (%s) gave a tuple; nest "
                                 "tuples through Add",
                                 i, m->children[i]->name);
                vals_free(&part);
                vals_free(out);
                return -1;
            }
            out->v[out->n++] = part.v[0];
            strata_free(part.v);
        }
        return 0;
    }
    }
    return -1;
    /* SOLUTION END */
}

Var *modular_forward(ModularModule *m, Var *x)
{
    STRATA_CHECK_ARG(m, NULL);
    STRATA_CHECK_ARG(x, NULL);
    /* Intermediates live in an inner scope; the result is handed to the caller's. */
    Scope *s = scope_begin();
    ModVals in = {1, &x}, out = {0, NULL};
    Var *y = NULL;
    if (mod_forward(m, &in, &out) == 0) {
        if (out.n == 1) {
            y = out.v[0];
            var_retain(y);
        } else {
            strata_set_error("modular_forward: %s returns a tuple of %d values; compose it "
                             "with modular_add()",
                             m->name, out.n);
        }
    }
    vals_free(&out);
    scope_end(s);
    if (y)
        strata_object_autorelease(&y->base);
    return y;
}

/* -------------------------------------------------------------- operations --- */

static int initialize_rec(ModularModule *m)
{
    if (m->kind == MOD_ATOM) {
        if (m->atom->initialize(m) != 0)
            return -1;
        var_zero_grad(m->weight, true);
        m->pi_fresh = true;
        return 0;
    }
    for (int i = 0; i < m->num_children; i++)
        if (initialize_rec(m->children[i]) != 0)
            return -1;
    return 0;
}

int modular_initialize(ModularModule *m)
{
    STRATA_CHECK_ARG(m, -1);
    return initialize_rec(m);
}

/* SOLUTION BEGIN week=5 step=6 tier=core */
/* The modular norm of the atoms' entries w[*pos ...] of @p m; advances *pos. */
static double norm_rec(const ModularModule *m, Tensor *const *w, int *pos)
{
    if (m->kind == MOD_ATOM) {
        const Tensor *t = w[(*pos)++];
        return t ? m->atom->norm(m, t) : 0.0;
    }
    if (m->kind == MOD_BOND)
        return 0.0;
    double mass = mass_of(m), out = 0.0;
    if (m->kind == MOD_COMPOSE) {
        const ModularModule *m0 = m->children[0], *m1 = m->children[1];
        double mu0 = mass_of(m0), mu1 = mass_of(m1);
        double n0 = norm_rec(m0, w, pos), n1 = norm_rec(m1, w, pos);
        if (isnan(n0) || isnan(n1))
            return NAN; /* an atom failed (fmax below would drop a NaN) */
        if (mass == 0.0)
            return 0.0;
        if (mu0 > 0.0)
            out = fmax(out, mass / mu0 * sensitivity_of(m1) * n0);
        if (mu1 > 0.0)
            out = fmax(out, mass / mu1 * n1);
        return out;
    }
    for (int i = 0; i < m->num_children; i++) { /* tuple */
        double mui = mass_of(m->children[i]);
        double ni = norm_rec(m->children[i], w, pos);
        if (isnan(ni))
            return NAN;
        if (mui > 0.0)
            out = fmax(out, mass / mui * ni);
    }
    return mass == 0.0 ? 0.0 : out;
}

/*
 * Walk @p m splitting @p target between atoms exactly as dualize does, calling
 * visit(atom, index, share, ctx) for each atom in order. A subtree of mass 0 gets 0.
 */
typedef int (*AtomVisit)(ModularModule *atom, int index, double share, void *ctx);

static int split_rec(ModularModule *m, double target, int *pos, AtomVisit visit, void *ctx)
{
    if (m->kind == MOD_ATOM)
        return visit(m, (*pos)++, target, ctx);
    if (m->kind == MOD_BOND)
        return 0;
    double mass = mass_of(m);
    if (m->kind == MOD_COMPOSE) {
        ModularModule *m0 = m->children[0], *m1 = m->children[1];
        double t0 = mass > 0.0 ? target * mass_of(m0) / mass / sensitivity_of(m1) : 0.0;
        double t1 = mass > 0.0 ? target * mass_of(m1) / mass : 0.0;
        if (split_rec(m0, t0, pos, visit, ctx) != 0)
            return -1;
        return split_rec(m1, t1, pos, visit, ctx);
    }
    for (int i = 0; i < m->num_children; i++) {
        double ti = mass > 0.0 ? target * mass_of(m->children[i]) / mass : 0.0;
        if (split_rec(m->children[i], ti, pos, visit, ctx) != 0)
            return -1;
    }
    return 0;
}
/* SOLUTION END */

float modular_norm(const ModularModule *m, Tensor *const *w)
{
    STRATA_CHECK_ARG(m, NAN);
    if (check_list(m, w, true, __func__, "w") != 0)
        return NAN;
    /* SOLUTION BEGIN week=5 step=6 tier=core fail=NAN */
    int pos = 0;
    return (float)norm_rec(m, w, &pos);
    /* SOLUTION END */
}

float modular_weight_norm(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, NAN);
    int n = modular_num_atoms(m);
    Var **ws = strata_malloc((size_t)(n + 1) * sizeof *ws);
    Tensor **ts = strata_malloc((size_t)(n + 1) * sizeof *ts);
    float out = NAN;
    if (ws && ts && modular_weights(m, ws) >= 0) {
        for (int i = 0; i < n; i++)
            ts[i] = ws[i]->data;
        out = modular_norm(m, ts);
    }
    strata_free(ws);
    strata_free(ts);
    return out;
}

/* SOLUTION BEGIN week=5 step=6 tier=core */
typedef struct ListCtx {
    Tensor *const *in;
    Tensor *const *out;
    float *targets;
} ListCtx;

static int visit_target(ModularModule *atom, int i, double share, void *ctx)
{
    (void)atom;
    ((ListCtx *)ctx)->targets[i] = (float)share;
    return 0;
}

static int visit_dualize(ModularModule *atom, int i, double share, void *ctx)
{
    ListCtx *c = ctx;
    if (!c->in[i] || share == 0.0)
        return tensor_zero_(c->out[i]);
    return atom->atom->dualize(atom, c->in[i], c->out[i], (float)share);
}

static int visit_project(ModularModule *atom, int i, double share, void *ctx)
{
    (void)share;
    ListCtx *c = ctx;
    return atom->atom->project(atom, c->in[i], c->out[i]);
}

static int visit_normalize(ModularModule *atom, int i, double share, void *ctx)
{
    ListCtx *c = ctx;
    if (!c->out[i])
        return 0;
    if (share == 0.0)
        return tensor_zero_(c->out[i]);
    return atom->atom->normalize(atom, c->out[i], (float)share);
}

static int visit_regularize(ModularModule *atom, int i, double share, void *ctx)
{
    (void)i, (void)ctx;
    return tensor_mul_scalar_(atom->weight->data, (float)(1.0 - share));
}

/*
 * split_rec() with each atom writing into a scratch tensor shaped like its out[i]; only
 * when every atom has succeeded are they copied into @p out (copies between separate
 * buffers, which cannot fail). So a call that fails half way (out of memory) writes
 * nothing, and @p out may be @p in itself.
 */
static int split_into(ModularModule *m, double target, Tensor *const *in, Tensor *const *out,
                      AtomVisit visit)
{
    int n = modular_num_atoms(m);
    Tensor **scratch = strata_calloc((size_t)n + 1, sizeof *scratch);
    if (!scratch)
        return -1;
    Scope *s = scope_begin();
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = (scratch[i] = tensor_zeros(out[i]->shape, out[i]->ndim)) ? 0 : -1;
    if (rc == 0) {
        ListCtx c = {in, scratch, NULL};
        int pos = 0;
        rc = split_rec(m, target, &pos, visit, &c);
    }
    for (int i = 0; i < n && rc == 0; i++)
        rc = tensor_copy_(out[i], scratch[i]);
    scope_end(s);
    strata_free(scratch);
    return rc;
}
/* SOLUTION END */

int modular_atom_targets(const ModularModule *m, float target, float *out)
{
    STRATA_CHECK_ARG(m, -1);
    STRATA_CHECK_ARG(out, -1);
    /* SOLUTION BEGIN week=5 step=6 tier=core fail=-1 */
    ListCtx c = {NULL, NULL, out};
    int pos = 0;
    return split_rec((ModularModule *)m, target, &pos, visit_target, &c);
    /* SOLUTION END */
}

int modular_dualize(const ModularModule *m, Tensor *const *grads, Tensor *const *out,
                    float target)
{
    STRATA_CHECK_ARG(m, -1);
    if (!(target >= 0.0f) || !isfinite(target)) {
        strata_set_error("modular_dualize: the target norm must be finite and >= 0, got %g",
                         (double)target);
        return -1;
    }
    if (check_list(m, grads, true, __func__, "grads") != 0 ||
        check_list(m, out, false, __func__, "out") != 0)
        return -1;
    /* SOLUTION BEGIN week=5 step=6 tier=core fail=-1 */
    return split_into((ModularModule *)m, target, grads, out, visit_dualize);
    /* SOLUTION END */
}

int modular_project(const ModularModule *m, Tensor *const *w, Tensor *const *out)
{
    STRATA_CHECK_ARG(m, -1);
    if (check_list(m, w, false, __func__, "w") != 0 ||
        check_list(m, out, false, __func__, "out") != 0)
        return -1;
    /* SOLUTION BEGIN week=5 step=6 tier=core fail=-1 */
    return split_into((ModularModule *)m, 1.0, w, out, visit_project);
    /* SOLUTION END */
}

int modular_normalize(ModularModule *m, Tensor *const *updates, float target)
{
    STRATA_CHECK_ARG(m, -1);
    if (!(target >= 0.0f) || !isfinite(target)) {
        strata_set_error("modular_normalize: the target norm must be finite and >= 0, got %g",
                         (double)target);
        return -1;
    }
    if (check_list(m, updates, true, __func__, "updates") != 0)
        return -1;
    /* SOLUTION BEGIN week=5 step=6 tier=core fail=-1 */
    ListCtx c = {NULL, updates, NULL};
    int pos = 0;
    return split_rec(m, target, &pos, visit_normalize, &c);
    /* SOLUTION END */
}

int modular_regularize(ModularModule *m, float strength)
{
    STRATA_CHECK_ARG(m, -1);
    if (!(strength >= 0.0f && strength <= 1.0f)) {
        strata_set_error("modular_regularize: the strength must be in [0, 1], got %g",
                         (double)strength);
        return -1;
    }
    /* SOLUTION BEGIN week=5 step=6 tier=core fail=-1 */
    ListCtx c = {NULL, NULL, NULL};
    int pos = 0;
    return split_rec(m, strength, &pos, visit_regularize, &c);
    /* SOLUTION END */
}

/* ----------------------------------------------------------------- printing --- */

char *modular_repr(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, NULL);
    StrataText b = {0};
    strata_text_printf(&b, "%s\n...consists of %d atoms and %d bonds\n...%s\n"
                           "...input sensitivity is %g\n"
                           "...contributes proportion %g to feature learning of any supermodule",
                       m->name, modular_num_atoms(m), modular_num_bonds(m),
                       modular_is_smooth(m) ? "smooth" : "non-smooth",
                       (double)modular_sensitivity(m), (double)modular_mass(m));
    return strata_text_finish(&b, __func__);
}

static void tree_rec(const ModularModule *m, int depth, StrataText *b)
{
    strata_text_printf(b, "%*s%s", 2 * depth, "", m->name);
    if (m->kind == MOD_ATOM) {
        if (m->kernel > 0)
            strata_text_printf(b, "(%lld, %lld, k=%d)", (long long)m->fan_out,
                               (long long)m->fan_in, m->kernel);
        else
            strata_text_printf(b, "(%lld, %lld)", (long long)m->fan_out, (long long)m->fan_in);
    } else if (m->kind == MOD_BOND && strcmp(m->name, "Mul") == 0) {
        strata_text_printf(b, "(%g)", (double)m->alpha);
    }
    strata_text_printf(b, "  atoms %d, bonds %d, mass %g, sensitivity %g%s\n",
                       modular_num_atoms(m), modular_num_bonds(m), (double)modular_mass(m),
                       (double)modular_sensitivity(m), modular_is_smooth(m) ? "" : ", non-smooth");
    for (int i = 0; i < m->num_children; i++)
        tree_rec(m->children[i], depth + 1, b);
}

char *modular_tree_repr(const ModularModule *m)
{
    STRATA_CHECK_ARG(m, NULL);
    StrataText b = {0};
    tree_rec(m, 0, &b);
    return strata_text_finish(&b, __func__);
}

int modular_fprint(FILE *stream, const ModularModule *m)
{
    STRATA_CHECK_ARG(stream, -1);
    char *s = modular_repr(m);
    if (!s)
        return -1;
    int rc = fprintf(stream, "%s\n", s) < 0 ? -1 : 0;
    strata_free(s);
    return rc;
}
