/*
 * var.c - the Var object: lifetime, accessors, grad mode, detach, in-place updates, and
 * the plumbing every op uses to make its output (and record its node).
 *
 * Memory (see autograd_internal.h for the layout): a leaf Var is one allocation; an op's
 * output that records a node is one allocation holding the Var, the node and the node's
 * inputs. The Var owns its node; the node retains its inputs and saved tensors. Freeing
 * a graph therefore walks from the output to the leaves, and does so with a loop, not
 * recursion: a 10 000-op chain is freed in constant C stack.
 */
#include "autograd_internal.h"

#include <stdio.h>
#include <string.h>

/* The node sits right after the Var in the same block, at an aligned offset. */
#define NODE_OFFSET ((sizeof(Var) + 15) & ~(size_t)15)

/* ------------------------------------------------------------------- lifetime --- */

/*
 * Nodes waiting to be freed on this thread. Destroying a Var pushes its node here; only
 * the outermost destroy runs the loop, so releasing a node's inputs (which may destroy
 * them, and push their nodes) never nests deeper than one call.
 */
static _Thread_local VarNode *drop_list;
static _Thread_local bool dropping;

static void hooks_uncount(VarNode *node);

static void node_release_contents(VarNode *node)
{
    hooks_uncount(node); /* an op freed before its backward ran no longer counts */
    for (int k = 0; k < NODE_MAX_SAVED; k++) {
        tensor_release(node->saved[k]);
        node->saved[k] = NULL;
    }
    tensor_release(node->grad);
    node->grad = NULL;
    for (int i = 0; i < node->ninputs; i++) {
        Var *in = node->inputs[i];
        node->inputs[i] = NULL;
        var_release(in);
    }
}

static void var_destroy(StrataObject *object)
{
    Var *v = (Var *)object;
    tensor_release(v->data);
    tensor_release(v->grad);
    v->data = NULL;
    v->grad = NULL;
    strata_free(v->hook);
    v->hook = NULL;
    if (!v->node) {
        strata_free(v);
        return;
    }
    v->node->next = drop_list;
    drop_list = v->node;
    if (dropping)
        return; /* the loop below, further up the C stack, will free it */
    dropping = true;
    while (drop_list) {
        VarNode *node = drop_list;
        drop_list = node->next;
        node_release_contents(node); /* may push more nodes */
        strata_free(node->out);      /* the block starts at the Var */
    }
    dropping = false;
}

static Var *var_alloc(Tensor *data, bool requires_grad, size_t size)
{
    Var *v = strata_malloc(size);
    if (!v)
        return NULL;
    v->data = data;
    v->grad = NULL;
    v->requires_grad = requires_grad;
    v->retains_grad = false;
    v->node = NULL;
    v->hook = NULL;
    strata_object_init(&v->base, var_destroy);
    return v;
}

Var *var_new(Tensor *data, bool requires_grad)
{
    STRATA_CHECK_ARG(data, NULL);
    Var *v = var_alloc(data, requires_grad, sizeof(Var));
    if (!v)
        return NULL;
    tensor_retain(data);
    return v;
}

void var_retain(Var *v)
{
    if (v)
        strata_object_retain(&v->base);
}

void var_release(Var *v)
{
    if (v)
        strata_object_release(&v->base);
}

Tensor *var_data(const Var *v) { return v ? v->data : NULL; }

Tensor *var_grad(const Var *v) { return v ? v->grad : NULL; }

bool var_is_leaf(const Var *v) { return v && !v->node; }

int var_requires_grad_(Var *v, bool requires_grad)
{
    STRATA_CHECK_ARG(v, -1);
    if (v->node) {
        if (requires_grad == v->requires_grad)
            return 0; /* nothing changes: PyTorch accepts this too */
        strata_set_error("var_requires_grad_: only a leaf's requires_grad can be changed "
                         "(this Var is the output of '%s'; use var_detach() to cut it "
                         "from the graph)",
                         node_name(v->node));
        return -1;
    }
    v->requires_grad = requires_grad;
    return 0;
}

void var_retain_grad(Var *v)
{
    if (v && v->node)
        v->retains_grad = true; /* a leaf keeps its gradient anyway */
}

Var *var_detach(const Var *v)
{
    STRATA_CHECK_ARG(v, NULL);
    return var_new(v->data, false);
}

int var_set_grad(Var *v, const Tensor *grad)
{
    STRATA_CHECK_ARG(v, -1);
    if (!grad) { /* p.grad = None */
        var_zero_grad(v, true);
        return 0;
    }
    if (!tensor_same_shape(grad, v->data)) {
        char gs[128], ds[128];
        strata_set_error("var_set_grad: the gradient has shape %s, the Var %s (they must "
                         "match)", tensor_shape_str(grad, gs, sizeof gs),
                         tensor_shape_str(v->data, ds, sizeof ds));
        return -1;
    }
    /* A copy, made in a scope of our own: the Var holds the only reference, whatever
     * scope the caller has open, and later changes to @p grad do not leak into it. */
    Scope *s = scope_begin();
    Tensor *copy = tensor_clone(grad);
    if (copy)
        tensor_retain(copy);
    scope_end(s);
    if (!copy)
        return -1;
    tensor_release(v->grad);
    v->grad = copy;
    return 0;
}

void var_zero_grad(Var *v, bool set_to_none)
{
    if (!v || !v->grad)
        return;
    if (set_to_none) {
        tensor_release(v->grad);
        v->grad = NULL;
    } else {
        tensor_zero_(v->grad);
    }
}

/* ------------------------------------------------------------------ grad mode --- */

static _Thread_local int no_grad_depth;

int ag_swap_no_grad_depth(int depth)
{
    int old = no_grad_depth;
    no_grad_depth = depth;
    return old;
}

void autograd_no_grad_begin(void)
{
    /* SOLUTION BEGIN week=2 step=1 tier=core fail=void */
    no_grad_depth++;
    /* SOLUTION END */
}

void autograd_no_grad_end(void)
{
    /* SOLUTION BEGIN week=2 step=1 tier=core fail=void */
    if (no_grad_depth > 0)
        no_grad_depth--;
    /* SOLUTION END */
}

bool autograd_is_grad_enabled(void)
{
    /* SOLUTION BEGIN week=2 step=1 tier=core fail=false */
    return no_grad_depth == 0;
    /* SOLUTION END */
}

/* ------------------------------------------------------------ gradient hooks --- */

/*
 * How a hook hears from backward without the engine knowing about hooks: every engine
 * runs a node through node->op->backward, so a node that reads a hooked leaf is
 * recorded with HOOKED_OP in place of its own op (kept in node->hooked_op).
 * HOOKED_OP runs the real backward, then hands each hooked leaf its part.
 */
static int hooked_backward(VarNode *n, const Tensor *g, Tensor **grads)
{
    int rc = n->hooked_op->backward(n, g, grads);
    bool first = !n->hooks_counted;
    n->hooks_counted = true;
    for (int i = 0; i < n->ninputs && i < 64; i++) {
        if (!(n->hooked_inputs >> i & 1) || !n->inputs[i])
            continue;
        VarHook *h = n->inputs[i]->hook;
        if (first)
            h->pending--;
        if (rc == 0 && grads[i] && h->fn &&
            h->fn(n->inputs[i], grads[i], h->pending == 0, h->ctx) < 0) {
            ag_prefix_error("gradient hook");
            rc = -1;
        }
    }
    return rc;
}

static const VarOp HOOKED_OP = {"hooked", hooked_backward};

/* Count the node's hooked inputs as waiting for it, and route its backward through
 * HOOKED_OP (inputs past the 64th are not watched). */
static void hooks_count(VarNode *n)
{
    for (int i = 0; i < n->ninputs && i < 64; i++) {
        Var *in = n->inputs[i];
        if (in && !in->node && in->requires_grad && in->hook && in->hook->fn) {
            n->hooked_inputs |= (uint64_t)1 << i;
            in->hook->pending++;
        }
    }
    if (n->hooked_inputs) {
        n->hooked_op = n->op;
        n->op = &HOOKED_OP;
    }
}

static void hooks_uncount(VarNode *n)
{
    if (n->hooks_counted)
        return;
    n->hooks_counted = true;
    for (int i = 0; i < n->ninputs && i < 64; i++)
        if ((n->hooked_inputs >> i & 1) && n->inputs[i])
            n->inputs[i]->hook->pending--;
}

int var_set_grad_hook(Var *leaf, VarGradHookFn hook, void *ctx)
{
    STRATA_CHECK_ARG(leaf, -1);
    if (leaf->node) {
        strata_set_error("var_set_grad_hook: only a leaf can have a gradient hook (this Var "
                         "is the output of '%s')", node_name(leaf->node));
        return -1;
    }
    if (!leaf->hook) {
        if (!hook)
            return 0;
        leaf->hook = strata_calloc(1, sizeof *leaf->hook);
        if (!leaf->hook)
            return -1;
    }
    leaf->hook->fn = hook;
    leaf->hook->ctx = ctx;
    return 0;
}

/* ------------------------------------------------------------- op plumbing --- */

/*
 * Take over the reference to @p t that the calling library code owns, so that the
 * caller ends up holding exactly one reference that no scope will release: if a scope
 * holds t's fresh reference, add one of our own (the scope keeps its reference).
 */
static void ag_adopt(Tensor *t)
{
    /* A fresh object is held either by the innermost scope or by us: in the first
     * case add our own reference, so that the scope may drop its one at scope_end. */
    if (t && t->base.scope_slot >= 0)
        tensor_retain(t);
}

void ag_prefix_error(const char *fn)
{
    char message[1024];
    const char *last = strata_last_error();
    if (!last[0]) {
        strata_set_error("%s: failed", fn);
        return;
    }
    /* Written back even when unchanged: reading it marked it handled, and the caller's
     * caller must still see it as the root cause of the NULL we return. */
    snprintf(message, sizeof message, "%s", last);
    if (strncmp(message, fn, strlen(fn)) == 0)
        strata_set_error("%s", message); /* already names us */
    else
        strata_set_error("%s: %s", fn, message);
}

Var *ag_make_output(const char *fn, Tensor *data, const VarOp *op, Var *const *inputs,
                    int ninputs, VarNode **node)
{
    if (node)
        *node = NULL;
    if (!data) {
        ag_prefix_error(fn);
        return NULL;
    }
    bool record = false;
    if (op && autograd_is_grad_enabled())
        for (int i = 0; i < ninputs; i++)
            if (inputs[i] && inputs[i]->requires_grad)
                record = true;
    size_t size = record ? NODE_OFFSET + sizeof(VarNode) + (size_t)ninputs * sizeof(Var *)
                         : sizeof(Var);
    Var *v = var_alloc(data, record, size);
    if (!v) {
        tensor_release(data);
        ag_prefix_error(fn);
        return NULL;
    }
    ag_adopt(data);
    if (!record)
        return v;
    VarNode *n = (VarNode *)((unsigned char *)v + NODE_OFFSET);
    n->op = op;
    n->out = v;
    n->next = NULL;
    n->grad = NULL;
    n->mark = 0;
    n->pending = 0;
    n->ninputs = ninputs;
    n->freed = false;
    n->hooked_op = NULL;
    n->hooked_inputs = 0;
    n->hooks_counted = false;
    memset(&n->p, 0, sizeof n->p);
    for (int k = 0; k < NODE_MAX_SAVED; k++)
        n->saved[k] = NULL;
    for (int i = 0; i < ninputs; i++) {
        n->inputs[i] = inputs[i];
        var_retain(inputs[i]);
    }
    hooks_count(n);
    v->node = n;
    if (node)
        *node = n;
    return v;
}

void ag_save(VarNode *node, int k, const Tensor *t)
{
    tensor_retain((Tensor *)t);
    node->saved[k] = (Tensor *)t;
}

void ag_save_fresh(VarNode *node, int k, Tensor *t)
{
    ag_adopt(t);
    node->saved[k] = t;
}

/* ------------------------------------------------------------------- in place --- */

/* SOLUTION BEGIN week=2 step=8 tier=stretch */
/* The rule of in-place updates: refuse when the value takes part in differentiation. */
static int check_in_place(const char *fn, const Var *v)
{
    if (!autograd_is_grad_enabled() || !v->requires_grad)
        return 0;
    if (!v->node)
        strata_set_error("%s: a leaf Var that requires grad cannot be modified in place "
                         "while grad mode is on (update it under "
                         "autograd_no_grad_begin(), or through var_data())",
                         fn);
    else
        strata_set_error("%s: in-place update of a Var recorded in the graph (the output "
                         "of '%s') is not supported; use the out-of-place op",
                         fn, node_name(v->node));
    return -1;
}
/* SOLUTION END */

int var_add_(Var *v, const Tensor *other)
{
    STRATA_CHECK_ARG(v, -1);
    STRATA_CHECK_ARG(other, -1);
    /* SOLUTION BEGIN week=2 step=8 tier=stretch fail=-1 */
    if (check_in_place(__func__, v) < 0)
        return -1;
    if (tensor_add_(v->data, other) < 0) {
        ag_prefix_error(__func__);
        return -1;
    }
    return 0;
    /* SOLUTION END */
}

int var_mul_scalar_(Var *v, float s)
{
    STRATA_CHECK_ARG(v, -1);
    /* SOLUTION BEGIN week=2 step=8 tier=stretch fail=-1 */
    if (check_in_place(__func__, v) < 0)
        return -1;
    if (tensor_mul_scalar_(v->data, s) < 0) {
        ag_prefix_error(__func__);
        return -1;
    }
    return 0;
    /* SOLUTION END */
}
