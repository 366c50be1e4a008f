/*
 * gradcheck.c - compare backward's gradients with central finite differences.
 *
 * The function's output y (any shape) is reduced to a scalar L = sum(y * P) with a
 * fixed random projection P (seeded, so every run checks the same thing): backward of
 * L is backward of y with grad_output P. For each input element x_j (that requires
 * grad) the numeric gradient is
 *     (L(x_j + eps) - L(x_j - eps)) / ((x_j + eps) - (x_j - eps))
 * with L summed in double and the denominator taken from the float32 values actually
 * stored (x_j + eps is rounded to float32). Its error is O(eps^2) from the Taylor
 * series plus about 1e-7 |L| / eps from float32 rounding of the function itself: with
 * eps = 1e-3 that is ~1e-4 |L|, hence the float32 tolerances atol = rtol = 1e-2.
 *
 * gradcheck is a tool given to students, not a part they write: it stays solved.
 */
#include "autograd_internal.h"

#include <math.h>
#include <stdio.h>

#define GRADCHECK_SEED 20240601u

/* L = sum(y * P) in double; NAN on failure. */
static double project(const Var *y, const Tensor *proj)
{
    int64_t n = tensor_numel(y->data);
    float *values = strata_malloc((size_t)(n > 0 ? n : 1) * sizeof *values);
    if (!values || tensor_to_array(y->data, values) < 0) {
        strata_free(values);
        return NAN;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)values[i] * (double)proj->data[i];
    strata_free(values);
    return sum;
}

/* L at the inputs' current values, under no-grad; NAN (with an error) on failure. */
static double evaluate(VarFunction fn, Var *const *inputs, int n, void *ctx,
                       const Tensor *proj)
{
    Scope *s = scope_begin();
    int depth = ag_swap_no_grad_depth(1);
    Var *y = fn(inputs, n, ctx);
    ag_swap_no_grad_depth(depth);
    double value = y ? project(y, proj) : NAN;
    scope_end(s);
    return value;
}

/* "[i, j, k]" of the flat row-major element @p flat of @p t. */
static void element_index(const Tensor *t, int64_t flat, int64_t *index)
{
    for (int d = t->ndim - 1; d >= 0; d--) {
        index[d] = t->shape[d] ? flat % t->shape[d] : 0;
        flat = t->shape[d] ? flat / t->shape[d] : 0;
    }
}

static float *element_address(const Tensor *t, const int64_t *index)
{
    float *p = t->data;
    for (int d = 0; d < t->ndim; d++)
        p += index[d] * t->strides[d];
    return p;
}

static void format_index(const int64_t *index, int ndim, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %lld" : "%lld",
                                 (long long)index[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* The first position at which inputs[i] appears in the list. */
static int first_index(Var *const *inputs, int i)
{
    for (int j = 0; j < i; j++)
        if (inputs[j] == inputs[i])
            return j;
    return i;
}

static bool check_all(VarFunction fn, Var *const *inputs, int n, void *ctx, double eps,
                      double atol, double rtol, Tensor **analytic, Tensor **old)
{
    /* The analytic gradients: backward of y with grad_output P. */
    Var *y = fn(inputs, n, ctx);
    if (!y) {
        ag_prefix_error("var_gradcheck: the function failed");
        return false;
    }
    strata_manual_seed(GRADCHECK_SEED);
    Tensor *proj = tensor_randn(y->data->shape, y->data->ndim);
    if (!proj)
        return false;
    /* Set the inputs' gradients aside (an input listed twice is one Var: once). */
    for (int i = 0; i < n; i++) {
        if (first_index(inputs, i) != i)
            continue;
        old[i] = inputs[i]->grad;
        inputs[i]->grad = NULL;
    }
    int rc = y->requires_grad ? var_backward_ex(y, proj, false) : 0;
    for (int i = 0; i < n; i++) {
        int first = first_index(inputs, i);
        if (first != i) { /* the same Var: the same (total) gradient */
            analytic[i] = analytic[first];
            tensor_retain(analytic[i]);
            continue;
        }
        analytic[i] = inputs[i]->grad;
        inputs[i]->grad = old[i];
        old[i] = NULL;
    }
    if (rc < 0) {
        ag_prefix_error("var_gradcheck: backward failed");
        return false;
    }

    /* The numeric gradients, element by element, and the comparison. */
    for (int i = 0; i < n; i++) {
        const Tensor *x = inputs[i]->data;
        if (!inputs[i]->requires_grad)
            continue;
        int64_t count = tensor_numel(x);
        for (int64_t j = 0; j < count; j++) {
            int64_t index[TENSOR_MAX_DIMS];
            element_index(x, j, index);
            float *p = element_address(x, index);
            float original = *p;
            *p = (float)(original + eps);
            double x_plus = *p;
            double l_plus = evaluate(fn, inputs, n, ctx, proj);
            *p = (float)(original - eps);
            double x_minus = *p;
            double l_minus = evaluate(fn, inputs, n, ctx, proj);
            *p = original;
            if (isnan(l_plus) || isnan(l_minus)) {
                if (!strata_error_pending())
                    strata_set_error("var_gradcheck: the function gave NaN near input %d", i);
                else
                    ag_prefix_error("var_gradcheck: the function failed");
                return false;
            }
            double numeric = (l_plus - l_minus) / (x_plus - x_minus);
            double exact = analytic[i] ? tensor_get(analytic[i], index) : 0.0;
            if (!(fabs(exact - numeric) <= atol + rtol * fabs(numeric))) {
                char where[200];
                format_index(index, x->ndim, where, sizeof where);
                strata_set_error("var_gradcheck: input %d element %s: analytic gradient %.6g, "
                                 "numeric %.6g (|difference| %.3g > atol %g + rtol %g * "
                                 "|numeric|)",
                                 i, where, exact, numeric, fabs(exact - numeric), atol, rtol);
                return false;
            }
        }
    }
    return true;
}

bool var_gradcheck(VarFunction fn, Var *const *inputs, int n, void *ctx, double eps,
                   double atol, double rtol)
{
    STRATA_CHECK_ARG(fn, false);
    if (n < 0 || (n > 0 && !inputs)) {
        strata_set_error("var_gradcheck: %d inputs at %p", n, (const void *)inputs);
        return false;
    }
    if (!(eps > 0)) {
        strata_set_error("var_gradcheck: eps must be > 0 (got %g)", eps);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) {
            strata_set_error("var_gradcheck: inputs[%d] is NULL", i);
            return false;
        }
        const Tensor *x = inputs[i]->data;
        for (int d = 0; inputs[i]->requires_grad && d < x->ndim; d++)
            if (x->strides[d] == 0 && x->shape[d] > 1) {
                strata_set_error("var_gradcheck: input %d has overlapping memory (an "
                                 "expanded view): perturbing one element would move "
                                 "several; pass a contiguous copy",
                                 i);
                return false;
            }
    }
    Tensor **analytic = strata_calloc((size_t)(n > 0 ? 2 * n : 1), sizeof *analytic);
    if (!analytic)
        return false;
    Tensor **old = analytic + n;
    uint64_t rng = strata_rng_get_state();
    int depth = ag_swap_no_grad_depth(0);
    strata_clear_error();
    Scope *s = scope_begin();
    bool ok = check_all(fn, inputs, n, ctx, eps, atol, rtol, analytic, old);
    scope_end(s);
    ag_swap_no_grad_depth(depth);
    strata_rng_set_state(rng);
    for (int i = 0; i < n; i++)
        tensor_release(analytic[i]);
    strata_free(analytic);
    return ok;
}
