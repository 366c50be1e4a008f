/*
 * shape.c - differentiable views and joins: reshape, transpose, permute, squeeze,
 * unsqueeze, narrow, slice, select, expand, flatten, index_select, gather, cat, stack.
 *
 * A view moves elements around without changing them, so its backward moves the
 * gradient back: reshape's backward reshapes g to x's shape, transpose's transposes g
 * back, and a view that keeps only part of x (narrow, slice, select) puts g into a
 * zero tensor of x's shape at the same place. expand's backward sums the copies
 * (like undoing a broadcast); index_select's and gather's add g into zeros at the
 * indices (scatter-add: an index picked twice receives both gradients).
 */
#include "autograd_internal.h"

#include <string.h>

/*
 * The backward functions below share one contract (VarBackwardFn in
 * autograd_internal.h): given g, the gradient of the output, store in grads[i] the
 * gradient of input i (for every input with node_needs_grad), at its shape; return 0,
 * or -1 (message recorded) when a tensor op fails. Their signatures, the VarOp tables
 * and the forward helper view_op are given: you write each backward's body and each
 * var_* op.
 */

/*
 * Backward of var_reshape, var_flatten, var_squeeze and var_unsqueeze: grad_x = g
 * reshaped to x's shape.
 */
static int reshape_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    const Tensor *x = node_input(n, 0);
    return (grads[0] = tensor_reshape(g, x->shape, x->ndim)) ? 0 : -1;
    /* SOLUTION END */
}

/* Backward of var_transpose: grad_x = transpose(g, dim0, dim1) (n->p.i0, n->p.i1). */
static int transpose_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    return (grads[0] = tensor_transpose(g, (int)n->p.i0, (int)n->p.i1)) ? 0 : -1;
    /* SOLUTION END */
}

/* Backward of var_permute: grad_x = permute(g, the inverse of n->p.dims). */
static int permute_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    int inverse[TENSOR_MAX_DIMS];
    for (int i = 0; i < n->p.ndims; i++)
        inverse[n->p.dims[i]] = i;
    return (grads[0] = tensor_permute(g, inverse)) ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_narrow (kind 0), var_slice (1) and var_select (2): grad_x = zeros of
 * x's shape with g written where the view took its elements.
 */
static int part_backward(VarNode *n, const Tensor *g, Tensor **grads, int kind)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    Tensor *zeros = tensor_zeros_like(node_input(n, 0));
    if (!zeros)
        return -1;
    Tensor *part = kind == 0   ? tensor_narrow(zeros, n->p.dim, n->p.i0, n->p.i1)
                   : kind == 1 ? tensor_slice(zeros, n->p.dim, n->p.i0, n->p.i1, n->p.i2)
                               : tensor_select(zeros, n->p.dim, n->p.i0);
    int rc = part ? tensor_copy_(part, g) : -1;
    tensor_release(part);
    if (rc < 0) {
        tensor_release(zeros);
        return -1;
    }
    grads[0] = zeros;
    return 0;
    /* SOLUTION END */
}

/* Given: the backward of var_narrow. */
static int narrow_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return part_backward(n, g, grads, 0);
}

/* Given: the backward of var_slice. */
static int slice_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return part_backward(n, g, grads, 1);
}

/* Given: the backward of var_select. */
static int select_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return part_backward(n, g, grads, 2);
}

/* Backward of var_expand: grad_x = g summed over the expanded dims. */
static int expand_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    const Tensor *x = node_input(n, 0);
    return (grads[0] = ag_reduce_to_shape(g, x->shape, x->ndim)) ? 0 : -1;
    /* SOLUTION END */
}

/*
 * Backward of var_index_select: y = x.index_select(dim, index) [.., k, ..], so
 * grad_x[.., index[i], ..] += g[.., i, ..] (index is saved[0]).
 */
static int index_select_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    const Tensor *index = n->saved[0];
    int dim = n->p.dim;
    int64_t shape[TENSOR_MAX_DIMS];
    for (int d = 0; d < g->ndim; d++)
        shape[d] = d == dim ? g->shape[d] : 1;
    Tensor *column = tensor_reshape(index, shape, g->ndim);
    Tensor *spread = tensor_expand(column, g->shape, g->ndim);
    Tensor *zeros = tensor_zeros_like(node_input(n, 0));
    grads[0] = tensor_scatter_add(zeros, dim, spread, g);
    tensor_release(column);
    tensor_release(spread);
    tensor_release(zeros);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/* Backward of var_gather: grad_x = zeros.scatter_add(dim, index, g) (index is saved[0]). */
static int gather_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    Tensor *zeros = tensor_zeros_like(node_input(n, 0));
    grads[0] = tensor_scatter_add(zeros, n->p.dim, n->saved[0], g);
    tensor_release(zeros);
    return grads[0] ? 0 : -1;
    /* SOLUTION END */
}

/* Backward of var_cat: the gradient of input i is the slab of g it was copied to. */
static int cat_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    int64_t offset = 0;
    for (int i = 0; i < n->ninputs; i++) {
        int64_t size = node_input(n, i)->shape[n->p.dim];
        if (node_needs_grad(n, i) && !(grads[i] = tensor_narrow(g, n->p.dim, offset, size)))
            return -1;
        offset += size;
    }
    return 0;
    /* SOLUTION END */
}

/* Backward of var_stack: the gradient of input i is g[.., i, ..]. */
static int stack_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=-1 */
    for (int i = 0; i < n->ninputs; i++)
        if (node_needs_grad(n, i) && !(grads[i] = tensor_select(g, n->p.dim, i)))
            return -1;
    return 0;
    /* SOLUTION END */
}

/* Given: what each view records (its name in messages and its backward). */
static const VarOp RESHAPE_OP = {"reshape", reshape_backward};
static const VarOp SQUEEZE_OP = {"squeeze", reshape_backward};
static const VarOp UNSQUEEZE_OP = {"unsqueeze", reshape_backward};
static const VarOp FLATTEN_OP = {"flatten", reshape_backward};
static const VarOp TRANSPOSE_OP = {"transpose", transpose_backward};
static const VarOp PERMUTE_OP = {"permute", permute_backward};
static const VarOp NARROW_OP = {"narrow", narrow_backward};
static const VarOp SLICE_OP = {"slice", slice_backward};
static const VarOp SELECT_OP = {"select", select_backward};
static const VarOp EXPAND_OP = {"expand", expand_backward};
static const VarOp INDEX_SELECT_OP = {"index_select", index_select_backward};
static const VarOp GATHER_OP = {"gather", gather_backward};
static const VarOp CAT_OP = {"cat", cat_backward};
static const VarOp STACK_OP = {"stack", stack_backward};

/* Given: the forward of a one-input view: record, returning the node to fill (or NULL). */
static Var *view_op(const char *fn, Tensor *value, const VarOp *op, Var *v, VarNode **node)
{
    return ag_make_output(fn, value, op, &v, 1, node);
}

/* Given: a negative dim counted from the end. */
static int wrap(int dim, int ndim)
{
    return dim < 0 ? dim + ndim : dim;
}

Var *var_reshape(Var *v, const int64_t *shape, int ndim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    return view_op(__func__, tensor_reshape(v->data, shape, ndim), &RESHAPE_OP, v, &node);
    /* SOLUTION END */
}

Var *var_transpose(Var *v, int dim0, int dim1)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = view_op(__func__, tensor_transpose(v->data, dim0, dim1), &TRANSPOSE_OP, v,
                       &node);
    if (node) {
        node->p.i0 = dim0;
        node->p.i1 = dim1;
    }
    return out;
    /* SOLUTION END */
}

Var *var_permute(Var *v, const int *dims)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = view_op(__func__, tensor_permute(v->data, dims), &PERMUTE_OP, v, &node);
    if (node) {
        node->p.ndims = v->data->ndim;
        for (int i = 0; i < v->data->ndim; i++)
            node->p.dims[i] = wrap(dims[i], v->data->ndim);
    }
    return out;
    /* SOLUTION END */
}

Var *var_squeeze(Var *v, int dim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    return view_op(__func__, tensor_squeeze(v->data, dim), &SQUEEZE_OP, v, &node);
    /* SOLUTION END */
}

Var *var_unsqueeze(Var *v, int dim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    return view_op(__func__, tensor_unsqueeze(v->data, dim), &UNSQUEEZE_OP, v, &node);
    /* SOLUTION END */
}

Var *var_flatten(Var *v, int start_dim, int end_dim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    return view_op(__func__, tensor_flatten(v->data, start_dim, end_dim), &FLATTEN_OP, v,
                   &node);
    /* SOLUTION END */
}

Var *var_narrow(Var *v, int dim, int64_t start, int64_t length)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = view_op(__func__, tensor_narrow(v->data, dim, start, length), &NARROW_OP, v,
                       &node);
    if (node) {
        node->p.dim = dim;
        node->p.i0 = start;
        node->p.i1 = length;
    }
    return out;
    /* SOLUTION END */
}

Var *var_slice(Var *v, int dim, int64_t start, int64_t end, int64_t step)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = view_op(__func__, tensor_slice(v->data, dim, start, end, step), &SLICE_OP, v,
                       &node);
    if (node) {
        node->p.dim = dim;
        node->p.i0 = start;
        node->p.i1 = end;
        node->p.i2 = step;
    }
    return out;
    /* SOLUTION END */
}

Var *var_select(Var *v, int dim, int64_t index)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = view_op(__func__, tensor_select(v->data, dim, index), &SELECT_OP, v, &node);
    if (node) {
        node->p.dim = dim;
        node->p.i0 = index;
    }
    return out;
    /* SOLUTION END */
}

Var *var_expand(Var *v, const int64_t *shape, int ndim)
{
    STRATA_CHECK_ARG(v, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    return view_op(__func__, tensor_expand(v->data, shape, ndim), &EXPAND_OP, v, &node);
    /* SOLUTION END */
}

Var *var_index_select(Var *v, int dim, const Tensor *index)
{
    STRATA_CHECK_ARG(v, NULL);
    STRATA_CHECK_ARG(index, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = view_op(__func__, tensor_index_select(v->data, dim, index), &INDEX_SELECT_OP,
                       v, &node);
    if (node) {
        node->p.dim = wrap(dim, v->data->ndim);
        ag_save(node, 0, index);
    }
    return out;
    /* SOLUTION END */
}

Var *var_gather(Var *v, int dim, const Tensor *index)
{
    STRATA_CHECK_ARG(v, NULL);
    STRATA_CHECK_ARG(index, NULL);
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    VarNode *node;
    Var *out = view_op(__func__, tensor_gather(v->data, dim, index), &GATHER_OP, v, &node);
    if (node) {
        node->p.dim = wrap(dim, v->data->ndim);
        ag_save(node, 0, index);
    }
    return out;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=2 step=6 tier=stretch */
/* The data tensors of @p n Vars, or -1 with an error naming the NULL one. */
static int gather_data(const char *fn, Var *const *vars, int n, Tensor **data)
{
    for (int i = 0; i < n; i++) {
        if (!vars[i]) {
            strata_set_error("%s: vars[%d] is NULL", fn, i);
            return -1;
        }
        data[i] = vars[i]->data;
    }
    return 0;
}

/* The shared forward of cat and stack: inputs inline in the node, one per Var. */
static Var *join(const char *fn, Var *const *vars, int n, int dim, bool stack)
{
    Tensor *local[16];
    Tensor **data = n <= 16 ? local : strata_malloc((size_t)n * sizeof *data);
    if (!data)
        return NULL;
    Var *out = NULL;
    if (gather_data(fn, vars, n, data) == 0) {
        VarNode *node;
        Tensor *value = stack ? tensor_stack(data, n, dim) : tensor_cat(data, n, dim);
        out = ag_make_output(fn, value, stack ? &STACK_OP : &CAT_OP, vars, n, &node);
        if (node)
            node->p.dim = wrap(dim, data[0]->ndim + (stack ? 1 : 0));
    }
    if (data != local)
        strata_free(data);
    return out;
}
/* SOLUTION END */

Var *var_cat(Var *const *vars, int n, int dim)
{
    STRATA_CHECK_ARG(vars, NULL);
    if (n <= 0) {
        strata_set_error("var_cat: needs at least one Var (got %d)", n);
        return NULL;
    }
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    return join(__func__, vars, n, dim, false);
    /* SOLUTION END */
}

Var *var_stack(Var *const *vars, int n, int dim)
{
    STRATA_CHECK_ARG(vars, NULL);
    if (n <= 0) {
        strata_set_error("var_stack: needs at least one Var (got %d)", n);
        return NULL;
    }
    /* SOLUTION BEGIN week=2 step=6 tier=stretch fail=NULL */
    return join(__func__, vars, n, dim, true);
    /* SOLUTION END */
}
