/*
 * node.c - the module node itself: allocating one, its weight, freeing a tree, and the
 * two helpers atoms and bonds use for the temporaries of forward.
 *
 * This is the bottom of modular/: atoms.c, bonds.c, compounds.c and module.c all build
 * and free nodes through it, and it calls none of them, so the files of the layer use
 * each other in one direction only (docs/architecture.md).
 */
#include "modular_internal.h"

#include <stdio.h>

ModularModule *mod_node_new(ModKind kind, const char *name)
{
    ModularModule *m = strata_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->kind = kind;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->sensitivity = 1.0f;
    m->smooth = true;
    return m;
}

Var *mod_weight_new(const int64_t *shape, int ndim)
{
    /* An inner scope collects the temporaries; the weight leaves it with exactly the one
     * reference its atom owns, whether or not the caller has a scope open. */
    Scope *s = scope_begin();
    Var *w = var_new(tensor_zeros(shape, ndim), true);
    var_retain(w);
    scope_end(s);
    return w;
}

void mod_drop_temp(Var *v)
{
    if (v && v->base.scope_slot < 0)
        var_release(v);
}

Var *mod_pass(Var *x)
{
    return var_reshape(x, x->data->shape, x->data->ndim);
}

int mod_vals_one(ModVals *out, Var *y)
{
    if (!y)
        return -1;
    out->v = strata_malloc(sizeof *out->v);
    if (!out->v) {
        mod_drop_temp(y);
        return -1;
    }
    out->v[0] = y;
    out->n = 1;
    return 0;
}

void modular_free(ModularModule *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->num_children; i++)
        modular_free(m->children[i]);
    strata_free(m->children);
    var_release(m->weight);
    strata_free(m->pi_vectors);
    strata_free(m);
}
