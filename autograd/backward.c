/*
 * backward.c - the engine: walk the recorded graph from the root in reverse topological
 * order, call each node's backward, accumulate gradients, free the graph.
 *
 * The walk is two loops over explicit stacks (never recursion, so a 10 000-op chain
 * costs heap, not C stack):
 *   1. discover: from the root, visit every node that needs a gradient once (a node is
 *      marked with the backward's generation number, so no hash set is needed) and
 *      count its consumers (node->pending);
 *   2. run (Kahn's algorithm): a node is ready when every consumer has sent its
 *      gradient; run its backward, add the results into its inputs' accumulators (or
 *      into the leaves' .grad), and push the inputs that became ready.
 * Unless retain_graph, each node releases its saved tensors and inputs as soon as its
 * backward has run, so memory falls while backward proceeds (as in PyTorch).
 *
 * Who holds what during backward: every gradient tensor here is held by the engine
 * alone (made inside a scope of its own and retained before that scope ends), so its
 * reference count says whether anyone else can see it; only then is it updated in
 * place (see exclusive()).
 */
#include "autograd_internal.h"

#include <string.h>

/* --------------------------------------------------------------- shape helpers --- */

void ag_dim_mask(const int *dims, int ndims, int ndim, bool *mask)
{
    for (int d = 0; d < TENSOR_MAX_DIMS; d++)
        mask[d] = ndims == 0 && d < ndim;
    for (int k = 0; k < ndims; k++) {
        int d = dims[k] < 0 ? dims[k] + ndim : dims[k];
        if (d >= 0 && d < ndim)
            mask[d] = true;
    }
}

int ag_keepdim_shape(const int64_t *shape, int ndim, const bool *mask, int64_t *out)
{
    for (int d = 0; d < ndim; d++)
        out[d] = mask[d] ? 1 : shape[d];
    return ndim;
}

Tensor *ag_reduce_to_shape(const Tensor *grad, const int64_t *shape, int ndim)
{
    STRATA_CHECK_ARG(grad, NULL);
    /* SOLUTION BEGIN week=2 step=2 tier=core fail=NULL */
    /*
     * Broadcasting aligned the input's dims on the right of the result's: the result's
     * first `lead` dims are new, and a dim where the input had size 1 was repeated.
     * Each copy of an input element received a gradient: the input's gradient is their
     * sum. Example: b [3] added to a [2, 3]: grad_b[j] = grad[0][j] + grad[1][j].
     */
    int lead = grad->ndim - ndim;
    int dims[TENSOR_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < grad->ndim; d++)
        if (d < lead || (shape[d - lead] == 1 && grad->shape[d] != 1))
            dims[n++] = d;
    if (n == 0 && lead == 0) /* nothing to sum: a view, the same kind of result */
        return tensor_reshape(grad, shape, ndim);
    Tensor *summed = n ? tensor_sum(grad, dims, n, true) : (Tensor *)grad;
    Tensor *out = tensor_reshape(summed, shape, ndim);
    if (summed != grad)
        tensor_release(summed);
    return out;
    /* SOLUTION END */
}

/* The error of a second backward through a freed graph (the argument checks of
 * var_backward_ex and the engine both report it). */
static const char *const FREED_MESSAGE =
    "var_backward: trying to backward through the graph a second time (the saved tensors "
    "were freed by the first backward; pass retain_graph=true to the first call to keep "
    "them)";

/* ------------------------------------------------------------------- the engine --- */

/* SOLUTION BEGIN week=2 step=3 tier=core */
/* A stack of node pointers: 64 inline, then the heap. */
typedef struct NodeStack {
    VarNode **items;
    long count, capacity;
    VarNode *local[64];
} NodeStack;

static void stack_init(NodeStack *s)
{
    s->items = s->local;
    s->count = 0;
    s->capacity = 64;
}

static int stack_push(NodeStack *s, VarNode *node)
{
    if (s->count == s->capacity) {
        VarNode **grown = strata_malloc(2 * (size_t)s->capacity * sizeof *grown);
        if (!grown)
            return -1;
        memcpy(grown, s->items, (size_t)s->count * sizeof *grown);
        if (s->items != s->local)
            strata_free(s->items);
        s->items = grown;
        s->capacity *= 2;
    }
    s->items[s->count++] = node;
    return 0;
}

static void stack_free(NodeStack *s)
{
    if (s->items != s->local)
        strata_free(s->items);
}

static _Thread_local unsigned generation;

/* Nobody but the engine holds @p t or its storage, and it is dense: safe to += into. */
static bool exclusive(const Tensor *t)
{
    return t->base.refcount == 1 && t->base.scope_slot < 0 &&
           t->storage->base.refcount == 1 && tensor_is_contiguous(t);
}

/* a + b as a tensor held by the caller alone. */
static Tensor *add_unscoped(const Tensor *a, const Tensor *b)
{
    Scope *s = scope_begin();
    Tensor *sum = tensor_add(a, b);
    tensor_retain(sum);
    scope_end(s);
    return sum;
}

/* A dense copy of @p t held by the caller alone. */
static Tensor *clone_unscoped(const Tensor *t)
{
    Scope *s = scope_begin();
    Tensor *copy = tensor_clone(t);
    tensor_retain(copy);
    scope_end(s);
    return copy;
}

/* *slot += g, where the engine owns g (consumed) and *slot (may be NULL). */
static int accumulate(Tensor **slot, Tensor *g)
{
    int rc = 0;
    if (!*slot) {
        *slot = g;
    } else if (exclusive(*slot)) {
        rc = tensor_add_(*slot, g);
        tensor_release(g);
    } else if (exclusive(g)) {
        rc = tensor_add_(g, *slot);
        tensor_release(*slot);
        *slot = g;
    } else {
        Tensor *sum = add_unscoped(*slot, g);
        tensor_release(*slot);
        tensor_release(g);
        *slot = sum;
        rc = sum ? 0 : -1;
    }
    return rc;
}

/* leaf.grad += g (g consumed). The first gradient is kept only if nobody else sees it. */
static int accumulate_leaf(Var *leaf, Tensor *g)
{
    if (!leaf->grad) {
        if (!exclusive(g)) {
            Tensor *copy = clone_unscoped(g);
            tensor_release(g);
            if (!copy)
                return -1;
            g = copy;
        }
        leaf->grad = g;
        return 0;
    }
    int rc = tensor_add_(leaf->grad, g);
    tensor_release(g);
    return rc;
}

/*
 * The gradients a backward gives to .grad (the leaves', and those of non-leaves that
 * asked to keep theirs) wait here until the whole walk has succeeded, then go in all at
 * once: a backward that fails half way (out of memory) leaves every .grad as it was.
 * Each Var appears once, its gradients summed; the list holds a reference to it (the
 * graph may free its last other holder before the walk ends).
 */
typedef struct GradList {
    Var **vars;
    Tensor **grads; /* engine-owned */
    long count, capacity;
} GradList;

/* Add g (consumed) to v's pending gradient. */
static int grads_add(GradList *p, Var *v, Tensor *g)
{
    for (long i = 0; i < p->count; i++)
        if (p->vars[i] == v)
            return accumulate(&p->grads[i], g);
    if (p->count == p->capacity) {
        long cap = p->capacity ? 2 * p->capacity : 16;
        Var **vars = strata_malloc((size_t)cap * sizeof *vars);
        Tensor **grads = vars ? strata_malloc((size_t)cap * sizeof *grads) : NULL;
        if (!grads) {
            strata_free(vars);
            tensor_release(g);
            return -1;
        }
        if (p->count) {
            memcpy(vars, p->vars, (size_t)p->count * sizeof *vars);
            memcpy(grads, p->grads, (size_t)p->count * sizeof *grads);
        }
        strata_free(p->vars);
        strata_free(p->grads);
        p->vars = vars;
        p->grads = grads;
        p->capacity = cap;
    }
    var_retain(v);
    p->vars[p->count] = v;
    p->grads[p->count] = g;
    p->count++;
    return 0;
}

/*
 * Give the pending gradients to their Vars. First everything that can fail (copies,
 * out-of-place sums), then the updates, which cannot: a leaf's .grad += g in place (g
 * has its own storage, so tensor_add_ allocates nothing), or .grad = g; a non-leaf's
 * .grad is replaced by .grad + g (out of place: g may be flowing on through the graph).
 */
static int grads_commit(GradList *p)
{
    for (long i = 0; i < p->count; i++) {
        Var *v = p->vars[i];
        Tensor *g = p->grads[i];
        Tensor *ready = g;
        if (!v->node && !v->grad && !exclusive(g))
            ready = clone_unscoped(g); /* the first gradient is kept only if private */
        else if (!v->node && v->grad && g->storage == v->grad->storage)
            ready = clone_unscoped(g);
        else if (v->node && v->grad)
            ready = add_unscoped(v->grad, g);
        if (!ready)
            return -1;
        if (ready != g) {
            tensor_release(g);
            p->grads[i] = ready;
        }
    }
    for (long i = 0; i < p->count; i++) {
        Var *v = p->vars[i];
        Tensor *g = p->grads[i];
        p->grads[i] = NULL;
        if (!v->node && v->grad) {
            tensor_add_(v->grad, g);
            tensor_release(g);
        } else {
            tensor_release(v->grad);
            v->grad = g;
        }
    }
    return 0;
}

static void grads_free(GradList *p)
{
    for (long i = 0; i < p->count; i++) {
        tensor_release(p->grads[i]);
        var_release(p->vars[i]);
    }
    strata_free(p->vars);
    strata_free(p->grads);
}

/* Release what backward no longer needs: saved tensors and inputs (see file comment). */
static void free_node_graph(VarNode *n)
{
    for (int k = 0; k < NODE_MAX_SAVED; k++) {
        tensor_release(n->saved[k]);
        n->saved[k] = NULL;
    }
    for (int i = 0; i < n->ninputs; i++) {
        Var *in = n->inputs[i];
        n->inputs[i] = NULL;
        var_release(in);
    }
    n->freed = true;
}


/* Run one node's backward with grad g; grads[] get engine-owned references. */
static int run_node(VarNode *n, const Tensor *g, Tensor **grads)
{
    for (int i = 0; i < n->ninputs; i++)
        grads[i] = NULL;
    Scope *s = scope_begin();
    int rc = n->op->backward(n, g, grads);
    /* A fresh result is held by s: take our own reference before s drops its one. A
     * result outside s is a reference the backward took for us (g retained). */
    for (int i = 0; i < n->ninputs; i++)
        if (grads[i] && grads[i]->base.scope_slot >= 0)
            tensor_retain(grads[i]);
    scope_end(s);
    if (rc < 0) {
        ag_prefix_error("var_backward");
        return -1;
    }
    for (int i = 0; i < n->ninputs; i++) {
        if (!node_needs_grad(n, i))
            continue;
        char want[200], got[200];
        if (!grads[i]) {
            strata_set_error("var_backward: the backward of '%s' returned no gradient for "
                             "input %d",
                             node_name(n), i);
            return -1;
        }
        if (!tensor_same_shape(grads[i], node_input(n, i))) {
            strata_set_error("var_backward: the backward of '%s' returned a gradient of "
                             "shape %s for input %d of shape %s",
                             node_name(n), tensor_shape_str(grads[i], got, sizeof got), i,
                             tensor_shape_str(node_input(n, i), want, sizeof want));
            return -1;
        }
    }
    return 0;
}

/* Step 1 of run_backward: discover the nodes under all's first one and count each one's
 * consumers. Each discovered node's output is retained until the end, so freeing a
 * node's inputs early (step 2) never destroys a node that is still to run. */
static int discover_nodes(NodeStack *all, unsigned gen)
{
    for (long k = 0; k < all->count; k++) {
        VarNode *n = all->items[k];
        for (int i = 0; i < n->ninputs; i++) {
            Var *in = n->inputs[i];
            if (!in || !in->requires_grad || !in->node)
                continue;
            VarNode *c = in->node;
            if (c->freed) {
                strata_set_error("%s", FREED_MESSAGE);
                return -1;
            }
            if (c->mark != gen) {
                c->mark = gen;
                c->pending = 0;
                if (stack_push(all, c) < 0)
                    return -1;
                var_retain(c->out);
            }
            c->pending++;
        }
    }
    return 0;
}

/* Step 2, one node whose consumers are all done: its backward, then each input's
 * gradient to the input's node (ready once its last consumer ran) or, for a leaf, to
 * pending. After an error the gradients are only released. */
static int run_ready_node(VarNode *n, NodeStack *ready, GradList *pending, bool retain_graph)
{
    Tensor *local_grads[8];
    Tensor *g = n->grad;
    n->grad = NULL;
    Tensor **grads = local_grads;
    if (n->ninputs > 8 && !(grads = strata_calloc((size_t)n->ninputs, sizeof *grads))) {
        tensor_release(g);
        return -1;
    }
    int rc = 0;
    if (g && n->out->retains_grad) {
        tensor_retain(g);
        rc = grads_add(pending, n->out, g);
    }
    if (g && rc == 0)
        rc = run_node(n, g, grads);
    else
        for (int i = 0; i < n->ninputs; i++)
            grads[i] = NULL;
    tensor_release(g);
    for (int i = 0; i < n->ninputs; i++) {
        Var *in = n->inputs[i];
        Tensor *gi = grads[i];
        if (rc < 0 || !in || !in->requires_grad) {
            tensor_release(gi);
            continue;
        }
        if (in->node) {
            if (gi && accumulate(&in->node->grad, gi) < 0)
                rc = -1;
            if (--in->node->pending == 0 && stack_push(ready, in->node) < 0)
                rc = -1;
        } else if (gi && grads_add(pending, in, gi) < 0) {
            rc = -1;
        }
    }
    if (grads != local_grads)
        strata_free(grads);
    if (!retain_graph && rc == 0)
        free_node_graph(n);
    return rc;
}

static int run_backward(Var *root, Tensor *seed, bool retain_graph)
{
    if (!root->node)
        return accumulate_leaf(root, seed); /* d root / d root = seed */
    GradList pending = {NULL, NULL, 0, 0};

    unsigned gen = ++generation;
    if (gen == 0)
        gen = ++generation; /* 0 means "never visited" */
    NodeStack all, ready;
    stack_init(&all);
    stack_init(&ready);

    /* 1. Discover the nodes and count each one's consumers. */
    VarNode *first = root->node;
    first->mark = gen;
    first->pending = 0;
    if (stack_push(&all, first) < 0) {
        tensor_release(seed);
        return -1;
    }
    var_retain(first->out);
    int rc = discover_nodes(&all, gen);

    /* 2. Run the nodes whose consumers are all done, starting from the root. */
    first->grad = seed;
    if (rc == 0)
        rc = stack_push(&ready, first);
    while (rc == 0 && ready.count > 0)
        rc = run_ready_node(ready.items[--ready.count], &ready, &pending, retain_graph);

    /* 3. Only a walk that got through gives its gradients to .grad. */
    if (rc == 0)
        rc = grads_commit(&pending);
    grads_free(&pending);

    /* 4. Drop what is left: accumulators of nodes not reached after an error, and the
     *    references taken in step 1 (this may free the graph's intermediate Vars). */
    for (long k = 0; k < all.count; k++) {
        tensor_release(all.items[k]->grad);
        all.items[k]->grad = NULL;
    }
    for (long k = 0; k < all.count; k++)
        var_release(all.items[k]->out);
    stack_free(&all);
    stack_free(&ready);
    return rc;
}
/* SOLUTION END */

int var_backward_ex(Var *root, const Tensor *grad_output, bool retain_graph)
{
    STRATA_CHECK_ARG(root, -1);
    char a[200], b[200];
    if (!root->requires_grad) {
        strata_set_error("var_backward: the root does not require grad (no input of its "
                         "graph requires grad, or it was computed in no-grad mode)");
        return -1;
    }
    if (!grad_output && tensor_numel(root->data) != 1) {
        strata_set_error("var_backward: the root has shape %s: backward without a "
                         "grad_output needs a one-element root (use var_backward_ex with "
                         "a grad_output of the root's shape)",
                         tensor_shape_str(root->data, a, sizeof a));
        return -1;
    }
    if (grad_output && !tensor_same_shape(grad_output, root->data)) {
        strata_set_error("var_backward: grad_output has shape %s but the root has shape %s",
                         tensor_shape_str(grad_output, a, sizeof a),
                         tensor_shape_str(root->data, b, sizeof b));
        return -1;
    }
    if (root->node && root->node->freed) {
        strata_set_error("%s", FREED_MESSAGE);
        return -1;
    }
    /* SOLUTION BEGIN week=2 step=3 tier=core fail=-1 */
    /* One scope around the whole walk keeps the scope stack allocated while each step
     * opens and closes its own. */
    Scope *outer = scope_begin();
    Scope *s = scope_begin();
    /* The engine's own handle on the seed (a view of grad_output), held by no scope. */
    Tensor *seed = grad_output ? tensor_reshape(grad_output, grad_output->shape,
                                                grad_output->ndim)
                               : tensor_ones_like(root->data);
    tensor_retain(seed);
    scope_end(s);
    int rc = seed ? run_backward(root, seed, retain_graph) : -1;
    scope_end(outer);
    return rc;
    /* SOLUTION END */
}

int var_backward(Var *root)
{
    return var_backward_ex(root, NULL, false);
}
