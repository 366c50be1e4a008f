/*
 * bonds.c - the modules without weights: mass 0, a sensitivity, and a forward made of
 * autograd ops (so backward passes through them).
 */
#include "modular_internal.h"

#include <math.h>

/* GELU's output second moment on a standard normal input is 1.1289^2: divide it out. */
#define GELU_SCALE 1.1289

static ModularModule *bond_new(const char *name, ModBondKind kind, float sensitivity,
                               bool smooth)
{
    ModularModule *m = mod_node_new(MOD_BOND, name);
    if (!m)
        return NULL;
    m->bond = kind;
    m->mass = 0.0f;
    m->sensitivity = sensitivity;
    m->smooth = smooth;
    return m;
}

ModularModule *modular_identity(void) { return bond_new("Identity", BOND_IDENTITY, 1, true); }
ModularModule *modular_add(void) { return bond_new("Add", BOND_ADD, 1, true); }
ModularModule *modular_relu(void) { return bond_new("ReLU", BOND_RELU, 1, false); }
ModularModule *modular_scaled_relu(void)
{
    return bond_new("ScaledReLU", BOND_SCALED_RELU, 1, false);
}
ModularModule *modular_gelu(void) { return bond_new("GELU", BOND_GELU, 1, false); }
ModularModule *modular_abs(void) { return bond_new("Abs", BOND_ABS, 1, false); }
ModularModule *modular_flatten(void) { return bond_new("Flatten", BOND_FLATTEN, 1, true); }
ModularModule *modular_mean_subtract(void)
{
    return bond_new("MeanSubtract", BOND_MEAN_SUBTRACT, 1, true);
}
ModularModule *modular_rms_divide(void)
{
    return bond_new("RMSDivide", BOND_RMS_DIVIDE, 1, false);
}

ModularModule *modular_mul(float alpha)
{
    if (alpha == 0.0f) {
        strata_set_error("modular_mul: cannot multiply a module by zero (its sensitivity "
                         "would be 0, and dualize divides by the sensitivity)");
        return NULL;
    }
    if (!isfinite(alpha)) {
        strata_set_error("modular_mul: the factor must be finite, got %g", (double)alpha);
        return NULL;
    }
    ModularModule *m = bond_new("Mul", BOND_MUL, fabsf(alpha), true);
    if (m)
        m->alpha = alpha;
    return m;
}

ModularModule *modular_global_avg_pool(void)
{
    return bond_new("GlobalAvgPool", BOND_GLOBAL_POOL, 1, true);
}

ModularModule *modular_avg_pool(int kernel, int stride, int padding)
{
    if (kernel < 1 || stride < 1 || padding < 0) {
        strata_set_error("modular_avg_pool: need kernel, stride >= 1 and padding >= 0, got "
                         "kernel %d, stride %d, padding %d",
                         kernel, stride, padding);
        return NULL;
    }
    ModularModule *m = bond_new("AvgPool", BOND_AVG_POOL, 1, true);
    if (m)
        m->kernel = kernel, m->stride = stride, m->padding = padding;
    return m;
}

int mod_bond_forward(ModularModule *m, const ModVals *in, ModVals *out)
{
    /* SOLUTION BEGIN week=5 fail=-1 */
    out->n = 0;
    out->v = NULL;
    Var *y = NULL;
    if (m->bond == BOND_ADD) {
        /* the sum of a tuple: fold with var_add, dropping the partial sums */
        y = mod_pass(in->v[0]);
        for (int i = 1; y && i < in->n; i++) {
            Var *next = var_add(y, in->v[i]);
            mod_drop_temp(y);
            y = next;
        }
    } else if (in->n != 1) {
        strata_set_error("modular_forward: %s takes one value, got a tuple of %d (use Add)",
                         m->name, in->n);
        return -1;
    } else {
        Var *x = in->v[0], *t = NULL, *t2 = NULL;
        /* normalizing bonds: the last dim, or (C, H, W) of an image batch, as Modula */
        int img[3] = {1, 2, 3}, last[1] = {-1}, hw[2] = {2, 3};
        bool image = x->data->ndim == 4;
        int *nd = image ? img : last, nnd = image ? 3 : 1;
        switch (m->bond) {
        case BOND_IDENTITY: y = mod_pass(x); break;
        case BOND_MUL: y = var_mul_scalar(x, m->alpha); break;
        case BOND_RELU: y = var_relu(x); break;
        case BOND_SCALED_RELU:
            t = var_relu(x);
            y = t ? var_mul_scalar(t, (float)sqrt(2.0)) : NULL;
            break;
        case BOND_GELU:
            t = var_gelu(x);
            y = t ? var_mul_scalar(t, (float)(1.0 / GELU_SCALE)) : NULL;
            break;
        case BOND_ABS: y = var_abs(x); break;
        case BOND_FLATTEN: y = var_flatten(x, 1, -1); break;
        case BOND_MEAN_SUBTRACT:
            t = var_mean(x, nd, nnd, true);
            y = t ? var_sub(x, t) : NULL;
            break;
        case BOND_RMS_DIVIDE: {
            Var *sq = var_mul(x, x);
            t = sq ? var_mean(sq, nd, nnd, true) : NULL;
            mod_drop_temp(sq);
            Var *shifted = t ? var_add_scalar(t, 1e-12f) : NULL;
            t2 = shifted ? var_rsqrt(shifted) : NULL;
            mod_drop_temp(shifted);
            y = t2 ? var_mul(x, t2) : NULL;
            break;
        }
        case BOND_AVG_POOL:
            y = var_avg_pool2d(x, window2d(m->kernel, m->stride, m->padding));
            break;
        case BOND_GLOBAL_POOL:
            if (!image) {
                strata_set_error("modular_forward: GlobalAvgPool takes [N, C, H, W], got %d "
                                 "dims",
                                 x->data->ndim);
                return -1;
            }
            y = var_mean(x, hw, 2, false); /* [N, C] */
            break;
        case BOND_ADD: break;
        }
        mod_drop_temp(t);
        mod_drop_temp(t2);
    }
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
    /* SOLUTION END */
}
