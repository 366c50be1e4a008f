/*
 * custom.c - var_custom: ops defined outside autograd/, recorded like built-in ones.
 *
 * The node is an ordinary one; its parameters carry the caller's name, backward and
 * context, and one shared VarOp dispatches to them. This is an extension for library
 * users (fused kernels, ops strata lacks), not part of the week-2 exercises: it stays
 * solved in every handout.
 */
#include "autograd_internal.h"

static int custom_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    return n->p.custom(g, n->inputs, n->ninputs, n->out->data, n->p.ctx, grads);
}

static const VarOp CUSTOM_OP = {"custom", custom_backward};

Var *var_custom(const char *name, Tensor *output, Var *const *inputs, int n,
                VarCustomBackward backward, void *ctx)
{
    STRATA_CHECK_ARG(name, NULL);
    STRATA_CHECK_ARG(output, NULL);
    STRATA_CHECK_ARG(inputs, NULL);
    STRATA_CHECK_ARG(backward, NULL);
    if (n < 1) {
        strata_set_error("var_custom: '%s' needs at least one input (got %d)", name, n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!inputs[i]) {
            strata_set_error("var_custom: input %d of '%s' is NULL", i, name);
            return NULL;
        }
    /* output is borrowed: hand ag_make_output a reference of our own to adopt. */
    tensor_retain(output);
    bool scoped = output->base.scope_slot >= 0;
    VarNode *node;
    Var *out = ag_make_output(__func__, output, &CUSTOM_OP, inputs, n, &node);
    if (out && scoped)
        tensor_release(output); /* adopting a scoped tensor took a reference of its own */
    if (node) {
        node->p.name = name;
        node->p.custom = backward;
        node->p.ctx = ctx;
    }
    return out;
}
