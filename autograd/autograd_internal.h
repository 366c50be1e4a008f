/*
 * autograd_internal.h - what the files of autograd/ share, never installed.
 *
 * The graph. Every differentiable op makes one output Var. When it records (grad mode
 * on and some input requires grad) the output also gets a VarNode: the op's backward
 * function, the inputs (retained), the tensors backward needs (saved, retained) and the
 * op's small parameters (dims, scalars, a window). Var and node live in ONE allocation
 * (the node right after the Var), with the inputs inline at the node's end, so
 * recording an op costs one allocation beside its output tensor.
 *
 *     out Var --owns--> VarNode --retains--> input Vars --own--> their nodes --> ...
 *
 * Ownership runs from outputs to inputs only, so there are no cycles: dropping the
 * last reference to the loss frees the whole graph (iteratively, see var.c).
 *
 * The plumbing here (making output Vars, saving tensors, the unscoped helper) stays
 * solved in every handout; the backward functions and the engine are week 2's work.
 */
#ifndef STRATA_AUTOGRAD_INTERNAL_H
#define STRATA_AUTOGRAD_INTERNAL_H

#include "autograd.h"

/* Most tensors a node keeps for its backward. */
#define NODE_MAX_SAVED 3

/*
 * The backward function of an op: given the gradient @p grad of the output (same shape
 * as the output), store in grads[i] the gradient w.r.t. input i, for every input with
 * node_needs_grad(node, i); leave the others NULL. grads[i] must have input i's shape.
 * Each grads[i] is either a fresh tensor made by the backward (the engine runs it inside
 * a scope of its own and keeps what it returns), or @p grad itself retained once
 * (pass-through). Never return a saved tensor or an input's data: make a view of it.
 * Return 0, or -1 with an error. Must not modify @p grad.
 */
typedef int (*VarBackwardFn)(VarNode *node, const Tensor *grad, Tensor **grads);

/* What kind of op a node records: a name (for messages) and its backward. */
typedef struct VarOp {
    const char *name;
    VarBackwardFn backward;
} VarOp;

/* The small parameters an op keeps for its backward (each op uses a few fields). */
typedef struct NodeParams {
    int dims[TENSOR_MAX_DIMS]; /* reduced dims (normalized, ascending) or a permutation */
    int ndims;                 /* entries in dims */
    int dim;                   /* a single dim (normalized) */
    bool keepdim;              /* reductions: keepdim */
    bool flag;                 /* op-specific (var: unbiased) */
    float f0, f1;              /* scalars (slope, clamp bounds, exponent, ...) */
    int64_t i0, i1, i2;        /* integers (slice start/end/step, select index, ...) */
    Window2d window;           /* im2col / pooling geometry */
    const char *name;          /* var_custom: the op's name */
    VarCustomBackward custom;  /* var_custom: the caller's backward */
    void *ctx;                 /* var_custom: its context */
} NodeParams;

struct VarNode {
    const VarOp *op;                /* what made the output */
    Var *out;                       /* the output Var (weak: the Var owns this node) */
    VarNode *next;                  /* link in the destroy list (var.c) */
    Tensor *grad;                   /* gradient of out being accumulated by backward */
    unsigned mark;                  /* generation of the last backward that visited it */
    int pending;                    /* consumers whose gradient has not arrived yet */
    int ninputs;                    /* entries in inputs */
    bool freed;                     /* saved tensors and inputs released by backward */
    const VarOp *hooked_op;         /* op is the hook wrapper (var.c): the real op */
    uint64_t hooked_inputs;         /* bit i: input i is a leaf with a gradient hook */
    bool hooks_counted;             /* the wrapper has run once (see VarHook.pending) */
    NodeParams p;                   /* the op's parameters */
    Tensor *saved[NODE_MAX_SAVED];  /* tensors kept for backward (retained) */
    Var *inputs[];                  /* the op's inputs (retained); NULL if not needed */
};

/*
 * A leaf's gradient hook (var_set_grad_hook()). pending counts the recorded ops that read
 * the leaf and have not run their backward yet: the part whose op brings it to 0 is
 * the last one. It lives as long as the leaf (removing the hook only clears fn), so the
 * nodes that still count on it never see it freed.
 */
struct VarHook {
    VarGradHookFn fn; /* NULL: removed */
    void *ctx;
    long pending;
};

/*
 * Make the output Var of an op around @p data, a fresh tensor the op just computed
 * (adopted: the Var takes the reference the op owns). If grad mode is on and an input
 * requires grad, a node for @p op with the @p ninputs inputs is recorded and returned
 * in *node (else *node is NULL): the op then fills node->p and node->saved.
 * On failure (data NULL, no memory) returns NULL and releases @p data; the message
 * already in the slot (the tensor op's) is kept, prefixed with @p fn.
 */
Var *ag_make_output(const char *fn, Tensor *data, const VarOp *op, Var *const *inputs,
                    int ninputs, VarNode **node);

/* Keep @p t, a tensor that already exists (an input's data, the output), in slot k. */
void ag_save(VarNode *node, int k, const Tensor *t);
/* Keep @p t, a fresh tensor the op made (adopted like ag_make_output's data), in slot k. */
void ag_save_fresh(VarNode *node, int k, Tensor *t);

/* The name of the op a node records (a custom op's own name). */
static inline const char *node_name(const VarNode *node)
{
    if (node->p.name)
        return node->p.name;
    return node->hooked_op ? node->hooked_op->name : node->op->name;
}

/* Whether backward must compute the gradient of input @p i. */
static inline bool node_needs_grad(const VarNode *node, int i)
{
    return node->inputs[i] && node->inputs[i]->requires_grad;
}

/* The value of input @p i (borrowed). */
static inline const Tensor *node_input(const VarNode *node, int i)
{
    return node->inputs[i]->data;
}

/*
 * Set the no-grad nesting depth of this thread and return the previous one (gradcheck
 * uses it to run its checks with grad mode on whatever the caller's mode).
 */
int ag_swap_no_grad_depth(int depth);

/*
 * Fill @p view with a header of @p t (ndim >= 2) whose last two dims are swapped: a
 * transposed view that lives on the caller's stack, so making it allocates nothing.
 * It holds no references: pass it only to functions that read their argument and keep
 * nothing (tensor_matmul), never retain, release or return it.
 */
static inline const Tensor *ag_transposed(const Tensor *t, Tensor *view)
{
    *view = *t;
    int a = t->ndim - 2, b = t->ndim - 1;
    view->shape[a] = t->shape[b];
    view->shape[b] = t->shape[a];
    view->strides[a] = t->strides[b];
    view->strides[b] = t->strides[a];
    view->base.refcount = 1;
    view->base.scope_slot = -1;
    view->base.destroy = NULL;
    return view;
}

/* Record "fn: <message already in the slot>" (names the autograd entry point too). */
void ag_prefix_error(const char *fn);

/*
 * Sum @p grad (a gradient of a broadcast result) down to @p shape: the leading dims the
 * input lacked and the dims where it had size 1 are summed away. Returns a new tensor,
 * like every tensor op (held by the innermost open scope, else by the caller; a view
 * of grad when the shapes already agree), or NULL.
 */
Tensor *ag_reduce_to_shape(const Tensor *grad, const int64_t *shape, int ndim);

/*
 * Normalize a reduction's dim list for a tensor of @p ndim dims into @p mask
 * (mask[d] true when dim d is reduced; all dims when ndims == 0). The tensor op has
 * already validated the list.
 */
void ag_dim_mask(const int *dims, int ndims, int ndim, bool *mask);

/*
 * The shape of a reduction's result with keepdim=true: @p shape with the masked dims
 * set to 1. Returns ndim.
 */
int ag_keepdim_shape(const int64_t *shape, int ndim, const bool *mask, int64_t *out);

/* Elementwise backward kernels (pointwise.c): one loop per op, vectorizable. */
typedef enum PointwiseGrad {
    PW_ABS,        /* g * sign(x)                 */
    PW_EXP,        /* g * y                       */
    PW_LOG,        /* g / x                       */
    PW_SQRT,       /* g / (2 y)                   */
    PW_RSQRT,      /* -0.5 g y^3                  */
    PW_SIN,        /* g cos x                     */
    PW_COS,        /* -g sin x                    */
    PW_TANH,       /* g (1 - y^2)                 */
    PW_SIGMOID,    /* g y (1 - y)                 */
    PW_RELU,       /* g [y > 0]                   */
    PW_GELU,       /* g (Phi(x) + x phi(x))       */
    PW_LEAKY_RELU, /* g (x > 0 ? 1 : f0)          */
    PW_CLAMP,      /* g [f0 <= x <= f1]           */
    PW_POW_SCALAR  /* g f0 x^(f0 - 1), 0 if f0==0 */
} PointwiseGrad;

#endif /* STRATA_AUTOGRAD_INTERNAL_H */
