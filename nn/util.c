/*
 * util.c - small helpers the files of nn/ share: strings, growable arrays, handing a
 * computed Var back through the scopes, Python-style float formatting.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nn_grow(void **items, int *cap, int need, size_t elem_size)
{
    if (need <= *cap)
        return 0;
    int fresh = *cap ? *cap : 4;
    while (fresh < need)
        fresh *= 2;
    void *grown = strata_realloc(*items, (size_t)fresh * elem_size);
    if (!grown)
        return -1;
    *items = grown;
    *cap = fresh;
    return 0;
}

Var *nn_scope_return(Scope *inner, Var *out)
{
    if (!out) {
        scope_end(inner);
        return NULL;
    }
    var_retain(out);
    scope_end(inner);
    if (out->base.refcount == 1 && out->base.scope_slot < 0) {
        strata_object_autorelease(&out->base); /* ours alone: the caller's scope takes it */
        return out;
    }
    /* Someone else holds it too (a forward returned its input): return a fresh view. */
    Var *fresh = var_reshape(out, out->data->shape, out->data->ndim);
    var_release(out);
    return fresh;
}

Var *nn_constant(const Tensor *t)
{
    /* var_new retains its data without changing it; the cast drops only the const. */
    return var_new((Tensor *)t, false);
}

Var *nn_reduce(Var *v, NnReduction reduction, const char *function)
{
    if (!v)
        return NULL;
    switch (reduction) {
    case NN_REDUCTION_MEAN:
        return var_mean(v, NULL, 0, false);
    case NN_REDUCTION_SUM:
        return var_sum(v, NULL, 0, false);
    case NN_REDUCTION_NONE:
        return v;
    }
    strata_set_error("%s: unknown reduction %d", function, (int)reduction);
    return NULL;
}

void nn_format_float(char *buf, size_t size, double value)
{
    if (isnan(value)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(value)) {
        snprintf(buf, size, value > 0 ? "inf" : "-inf");
        return;
    }
    /* The shortest %g that reads back as the same float32 (what the user typed). */
    float target = (float)value;
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, value);
        if ((float)strtod(buf, NULL) == target)
            break;
    }
    /* Python writes 1.0, not 1. */
    if (!strpbrk(buf, ".eE")) {
        size_t n = strlen(buf);
        if (n + 3 <= size)
            memcpy(buf + n, ".0", 3);
    }
}
