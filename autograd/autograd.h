/**
 * @file autograd.h
 * @brief Week 2: reverse-mode automatic differentiation over tensors.
 *
 * A Var holds a Tensor, whether it requires a gradient, its accumulated gradient, and
 * the graph node that produced it. Every differentiable op below records a node (when
 * grad mode is on and an input requires grad); var_backward() walks the graph in
 * reverse topological order and accumulates vector-Jacobian products into the leaves.
 *
 * Ownership follows tensor.h: every `Var *` returned is a fresh object held by the open
 * scope, or by the caller when no scope is open (var_release()). A Var retains its data
 * and gradient tensors; a graph node retains the Vars it reads. Errors follow tensor.h:
 * NULL with a message in strata_last_error(), NULL inputs propagate the first message.
 */
#ifndef STRATA_AUTOGRAD_H
#define STRATA_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup autograd Week 2: autograd
 * @brief Var, the recorded graph, backward, no-grad mode and gradcheck.
 * @{
 */

/** A recorded operation (private to autograd/). */
typedef struct VarNode VarNode;
/** A leaf's gradient hook (private to autograd/; see var_set_grad_hook()). */
typedef struct VarHook VarHook;

/** A tensor that takes part in differentiation. */
typedef struct Var {
    StrataObject base;  /**< reference count and scope slot */
    Tensor *data;       /**< the value (retained) */
    Tensor *grad;       /**< accumulated gradient (retained), NULL until backward reaches it */
    bool requires_grad; /**< whether gradients flow to (and through) this Var */
    bool retains_grad;  /**< keep .grad on this non-leaf too (var_retain_grad()) */
    VarNode *node;      /**< the operation that produced it; NULL for a leaf */
    VarHook *hook;      /**< its gradient hook (var_set_grad_hook()), NULL if none */
} Var;

/* ------------------------------------------------------------------------------------ */
/** @name Vars
 *  @{ */

/**
 * @brief A leaf Var around @p data (retained, not copied).
 * @param[in] data the value; NULL propagates.
 * @param[in] requires_grad whether backward should compute its gradient.
 * @return A new Var (ownership as in tensor.h) or NULL.
 */
STRATA_API Var *var_new(Tensor *data, bool requires_grad);
/** @brief Add a reference; NULL is ignored. */
STRATA_API void var_retain(Var *v);
/** @brief Drop a reference (freeing the Var, and its node, at zero); NULL is ignored. */
STRATA_API void var_release(Var *v);
/** @brief The value, borrowed while @p v lives. */
STRATA_API Tensor *var_data(const Var *v);
/** @brief The accumulated gradient, borrowed; NULL when none has been computed. */
STRATA_API Tensor *var_grad(const Var *v);
/**
 * @brief Set the gradient, as PyTorch's `p.grad = g` (for instance gradients computed
 *        elsewhere, or averaged across processes, before optim_step()).
 * @param[in,out] v the Var.
 * @param[in] grad a tensor of v's shape, copied (later changes to it do not reach @p v);
 *            NULL drops the gradient (`p.grad = None`).
 * @return 0, or -1 with an error (shape mismatch; @p v unchanged).
 */
STRATA_API int var_set_grad(Var *v, const Tensor *grad);
/** @brief Whether @p v was made by the user rather than by an op (node == NULL). */
STRATA_API bool var_is_leaf(const Var *v);
/**
 * @brief Set requires_grad on a leaf.
 * @param[in,out] v the Var.
 * @param[in] requires_grad the new flag.
 * @return 0, or -1 with an error when it would change a non-leaf's flag (as PyTorch;
 *         setting a non-leaf's flag to the value it has is accepted).
 */
STRATA_API int var_requires_grad_(Var *v, bool requires_grad);
/** @brief Ask backward to keep the gradient of this non-leaf as well. */
STRATA_API void var_retain_grad(Var *v);
/** @brief A new leaf sharing @p v's data, cut from the graph, requires_grad false. */
STRATA_API Var *var_detach(const Var *v);
/**
 * @brief Drop the gradient (@p set_to_none, PyTorch's default) or fill it with zeros.
 */
STRATA_API void var_zero_grad(Var *v, bool set_to_none);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Backward and grad mode
 *  @{ */

/**
 * @brief Backpropagate from a one-element @p root with gradient 1, then free the graph.
 * @return 0, or -1 with an error (non-scalar root, root without grad, graph freed); a
 *         failed backward leaves every .grad as it was (see var_backward_ex()).
 */
STRATA_API int var_backward(Var *root);
/**
 * @brief Backpropagate @p grad_output (same shape as @p root) from @p root.
 * @param[in,out] root the output to differentiate (must require grad); its graph is
 *            freed unless @p retain_graph.
 * @param[in] grad_output the gradient of the final objective w.r.t. @p root; NULL means
 *            ones for a one-element root.
 * @param[in] retain_graph keep saved tensors so backward can run again; otherwise the
 *            graph is freed and a second backward through it is an error.
 * @return 0, or -1 with an error. Iterative (a 10 000-op chain does not overflow the
 *         C stack). Gradients accumulate (+=) into leaves until zeroed, and only once
 *         the whole walk has succeeded: a backward that fails (out of memory, a
 *         failing gradient hook) leaves every .grad as it was.
 */
STRATA_API int var_backward_ex(Var *root, const Tensor *grad_output, bool retain_graph);
/** @brief Enter no-grad mode (nestable): ops record no graph until the matching end. */
STRATA_API void autograd_no_grad_begin(void);
/** @brief Leave one level of no-grad mode. */
STRATA_API void autograd_no_grad_end(void);
/** @brief Whether ops currently record a graph (thread-local). */
STRATA_API bool autograd_is_grad_enabled(void);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Differentiable ops
 *  Same semantics, broadcasting and errors as their tensor_* namesakes; backward reduces
 *  each gradient back to its input's shape.
 *  @{ */

STRATA_API Var *var_add(Var *a, Var *b);     /**< @brief a + b */
STRATA_API Var *var_sub(Var *a, Var *b);     /**< @brief a - b */
STRATA_API Var *var_mul(Var *a, Var *b);     /**< @brief a * b */
STRATA_API Var *var_div(Var *a, Var *b);     /**< @brief a / b */
/**
 * @brief a ^ b. Gradients as PyTorch's at the edges: d/da is 0 where b == 0 (even at
 *        a = 0, where b a^(b-1) would be 0 * inf), d/db is 0 where a == 0 and b >= 0.
 */
STRATA_API Var *var_pow(Var *a, Var *b);
STRATA_API Var *var_maximum(Var *a, Var *b); /**< @brief max(a, b); ties share the gradient equally */
STRATA_API Var *var_minimum(Var *a, Var *b); /**< @brief min(a, b); ties share the gradient equally */
STRATA_API Var *var_add_scalar(Var *v, float s); /**< @brief v + s */
STRATA_API Var *var_mul_scalar(Var *v, float s); /**< @brief v * s */
STRATA_API Var *var_pow_scalar(Var *v, float e); /**< @brief v ^ e */
STRATA_API Var *var_neg(Var *v);     /**< @brief -v */
STRATA_API Var *var_abs(Var *v);     /**< @brief |v| (gradient 0 at 0, as PyTorch) */
STRATA_API Var *var_exp(Var *v);     /**< @brief e^v */
STRATA_API Var *var_log(Var *v);     /**< @brief log v */
STRATA_API Var *var_sqrt(Var *v);    /**< @brief sqrt v */
STRATA_API Var *var_rsqrt(Var *v);   /**< @brief 1 / sqrt v */
STRATA_API Var *var_sin(Var *v);     /**< @brief sin v */
STRATA_API Var *var_cos(Var *v);     /**< @brief cos v */
STRATA_API Var *var_tanh(Var *v);    /**< @brief tanh v */
STRATA_API Var *var_sigmoid(Var *v); /**< @brief sigmoid v */
STRATA_API Var *var_relu(Var *v);    /**< @brief relu v (gradient 0 where v <= 0; a NaN passes it, as PyTorch) */
STRATA_API Var *var_gelu(Var *v);    /**< @brief exact GELU */
STRATA_API Var *var_leaky_relu(Var *v, float slope); /**< @brief leaky relu */
STRATA_API Var *var_clamp(Var *v, float lo, float hi); /**< @brief clamp (gradient 1 inside [lo, hi]) */
/** @brief cond != 0 ? a : b (cond is not differentiated). */
STRATA_API Var *var_where(const Tensor *cond, Var *a, Var *b);
/** @brief @p value where @p mask is nonzero (no gradient there). */
STRATA_API Var *var_masked_fill(Var *v, const Tensor *mask, float value);

STRATA_API Var *var_sum(Var *v, const int *dims, int ndims, bool keepdim);  /**< @brief sum */
STRATA_API Var *var_mean(Var *v, const int *dims, int ndims, bool keepdim); /**< @brief mean */
/** @brief variance (unbiased divides by n - 1) */
STRATA_API Var *var_var(Var *v, const int *dims, int ndims, bool unbiased, bool keepdim);
/** @brief log-sum-exp */
STRATA_API Var *var_logsumexp(Var *v, const int *dims, int ndims, bool keepdim);
/** @brief Max along @p dim; the gradient goes to the index tensor_max() picks. */
STRATA_API Var *var_max(Var *v, int dim, bool keepdim);
/** @brief Min along @p dim; the gradient goes to the index tensor_min() picks. */
STRATA_API Var *var_min(Var *v, int dim, bool keepdim);
/** @brief Max of all elements; ties share the gradient equally (as PyTorch's max()),
 *         and when NaN is the max, the NaN elements share it. */
STRATA_API Var *var_max_all(Var *v);
STRATA_API Var *var_softmax(Var *v, int dim);     /**< @brief softmax along @p dim */
STRATA_API Var *var_log_softmax(Var *v, int dim); /**< @brief log-softmax along @p dim */
/**
 * @brief The mean over the rows of -log_softmax(x, 1)[i, index[i, 0]] (a classifier's
 *        cross-entropy) as one op, equal bit for bit in value and gradient to
 *        var_mean(var_neg(var_squeeze(var_gather(var_log_softmax(x, 1), 1, index), 1)),
 *        NULL, 0, false). nn_cross_entropy_loss() uses it for its mean without label
 *        smoothing: one backward pass instead of five ops' worth of [N, C] tensors.
 * @param[in] x the scores (logits) [N, C].
 * @param[in] index [N, 1] class numbers in [0, C), as floats (retained by the graph).
 * @return The loss (a scalar), or NULL with an error naming the shapes or the first
 *         index that is not a class.
 */
STRATA_API Var *var_log_softmax_nll(Var *x, const Tensor *index);

STRATA_API Var *var_reshape(Var *v, const int64_t *shape, int ndim); /**< @brief reshape */
STRATA_API Var *var_transpose(Var *v, int dim0, int dim1);           /**< @brief transpose */
STRATA_API Var *var_permute(Var *v, const int *dims);                /**< @brief permute */
STRATA_API Var *var_squeeze(Var *v, int dim);                        /**< @brief squeeze one dim */
STRATA_API Var *var_unsqueeze(Var *v, int dim);                      /**< @brief unsqueeze */
STRATA_API Var *var_narrow(Var *v, int dim, int64_t start, int64_t length); /**< @brief narrow */
/** @brief slice with step */
STRATA_API Var *var_slice(Var *v, int dim, int64_t start, int64_t end, int64_t step);
STRATA_API Var *var_select(Var *v, int dim, int64_t index);          /**< @brief select */
STRATA_API Var *var_expand(Var *v, const int64_t *shape, int ndim);  /**< @brief expand */
STRATA_API Var *var_flatten(Var *v, int start_dim, int end_dim);     /**< @brief flatten */

STRATA_API Var *var_matmul(Var *a, Var *b); /**< @brief torch.matmul, batched and broadcast */
/**
 * @brief y = x W^T + b (torch.nn.functional.linear) in one GEMM.
 * @param[in] x [..., in_features]
 * @param[in] weight [out_features, in_features]
 * @param[in] bias [out_features] or NULL
 */
STRATA_API Var *var_linear(Var *x, Var *weight, Var *bias);

STRATA_API Var *var_index_select(Var *v, int dim, const Tensor *index); /**< @brief index_select */
STRATA_API Var *var_gather(Var *v, int dim, const Tensor *index);       /**< @brief gather */
STRATA_API Var *var_cat(Var *const *vars, int n, int dim);              /**< @brief cat */
STRATA_API Var *var_stack(Var *const *vars, int n, int dim);            /**< @brief stack */

STRATA_API Var *var_im2col(Var *input, Window2d w); /**< @brief unfold; backward is col2im */
/** @brief 2-D convolution: input [N,C,H,W], weight [O,C,kh,kw], bias [O] or NULL. */
STRATA_API Var *var_conv2d(Var *input, Var *weight, Var *bias, Window2d w);
STRATA_API Var *var_max_pool2d(Var *input, Window2d w); /**< @brief max pooling */
/**
 * @brief var_max_pool2d(var_relu(input), w) as one op, equal bit for bit in value and
 *        gradient, without the ReLU'd copy (tensor_relu_max_pool2d()). nn_sequential's
 *        forward uses it for a ReLU followed by a MaxPool2d.
 */
STRATA_API Var *var_relu_max_pool2d(Var *input, Window2d w);
/**
 * @brief var_relu(var_linear(x, weight, bias)) as one op, equal bit for bit in value and
 *        gradients: the bias and the ReLU on each band of the product as it is
 *        computed (tensor_matmul_then()), the ReLU's backward and the bias's gradient in
 *        one pass. nn_sequential's forward uses it
 *        for a Linear followed by a ReLU.
 * @param[in] x input [B, in_features] (another shape runs the two ops).
 * @param[in] weight [out_features, in_features].
 * @param[in] bias [out_features], or NULL.
 * @return The output [B, out_features], or NULL with an error (as var_linear()).
 */
STRATA_API Var *var_linear_relu(Var *x, Var *weight, Var *bias);
/**
 * @brief var_max_pool2d(var_relu(var_conv2d(input, weight, bias, conv)), pool) as one
 *        op, equal bit for bit in value and gradients, without writing the
 *        convolution's output whole (tensor_conv2d_relu_max_pool2d()). nn_sequential's
 *        forward uses it for a Conv2d, a ReLU and a 2x2 MaxPool2d in a row.
 */
STRATA_API Var *var_conv2d_relu_max_pool2d(Var *input, Var *weight, Var *bias, Window2d conv,
                                           Window2d pool);
STRATA_API Var *var_avg_pool2d(Var *input, Window2d w); /**< @brief average pooling */
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name In-place updates
 *  Refused (-1, with an error) on a leaf that requires grad while grad mode is on, as in
 *  PyTorch; optimizers update parameters through var_data() under no-grad instead.
 *  Also refused on a recorded output (a non-leaf) while grad mode is on: strata has no
 *  version counters to detect a saved value changed under backward's feet.
 *  @{ */

STRATA_API int var_add_(Var *v, const Tensor *other);  /**< @brief v += other */
STRATA_API int var_mul_scalar_(Var *v, float s);       /**< @brief v *= s */
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Gradient hooks
 *  A leaf's hook sees each part of its gradient as soon as backward computes it, while
 *  the rest of backward is still running: data-parallel training (optim_dist.h) starts
 *  sending a layer's gradients to the other processes before the layers below it are
 *  differentiated. The engine needs no change for this: an op that reads a hooked leaf
 *  is recorded with a wrapper around its backward, and the wrapper calls the hook.
 *  @{ */

/**
 * @brief A leaf's gradient hook (see var_set_grad_hook()).
 *
 * Called during backward once for every recorded op that reads @p leaf, right after
 * that op's backward computed its part of the leaf's gradient.
 * @param[in] leaf the leaf.
 * @param[in] grad this op's part of the gradient (@p leaf's shape), borrowed for the
 *            call: copy what you keep, never write into it. It is not in the leaf's
 *            .grad yet: backward adds the parts to .grad together, in the order the hook
 *            saw them, once the whole walk has succeeded.
 * @param[in] last true when no other recorded op that reads @p leaf still awaits its
 *            backward: with this part the leaf's gradient of this backward is complete
 *            (the moment PyTorch's post-accumulate-grad hook fires). An op that was
 *            recorded but is never differentiated (a second loss left alone) keeps
 *            @p last false until its graph is freed.
 * @param[in] ctx the pointer given to var_set_grad_hook().
 * @return 0, or -1 with an error: backward then fails with it and no .grad changes.
 */
typedef int (*VarGradHookFn)(Var *leaf, const Tensor *grad, bool last, void *ctx);

/**
 * @brief Call @p hook during every later backward that reaches the leaf @p leaf.
 *
 * Only ops recorded after this call report to the hook. One hook per leaf: a new call
 * replaces the previous hook, and @p hook NULL removes it.
 * @param[in,out] leaf a leaf Var (var_is_leaf()).
 * @param[in] hook the function (NULL: none).
 * @param[in] ctx passed to @p hook; must stay valid while the hook is set.
 * @return 0, or -1 with an error (@p leaf NULL or not a leaf; no memory).
 */
STRATA_API int var_set_grad_hook(Var *leaf, VarGradHookFn hook, void *ctx);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Custom ops
 *  An op whose value the caller computes with tensor_* calls and whose backward the
 *  caller writes (PyTorch's autograd.Function): a fused kernel, or an op strata lacks.
 *  @{ */

/**
 * @brief The backward of a custom op (see var_custom()).
 * @param[in] grad the gradient of the objective w.r.t. the op's output (its shape).
 * @param[in] inputs the op's inputs, as given to var_custom() (values: var_data()).
 * @param[in] n number of inputs.
 * @param[in] output the op's value.
 * @param[in] ctx the pointer given to var_custom().
 * @param[out] grads grads[i] receives the gradient w.r.t. inputs[i], a new tensor of
 *             inputs[i]'s shape, for every input that requires grad; leave the others
 *             NULL. To pass @p grad itself on, tensor_retain() it first. Never write
 *             into @p grad. The engine checks what it gets: a NULL for an input that
 *             requires grad fails backward ("the backward of 'name' returned no gradient
 *             for input i"; PyTorch would take it as zero), and so does a gradient of
 *             another shape ("... returned a gradient of shape [2] for input 0 of shape
 *             [2, 2]").
 * @return 0, or -1 with an error (backward then fails with it).
 */
typedef int (*VarCustomBackward)(const Tensor *grad, Var *const *inputs, int n,
                                 const Tensor *output, void *ctx, Tensor **grads);

/**
 * @brief Make the output of a custom op and record it like a built-in one.
 * @param[in] name the op's name in messages; must outlive the graph (a literal).
 * @param[in] output the op's value, computed by the caller (retained, not copied).
 * @param[in] inputs the Vars the value was computed from (retained by the node).
 * @param[in] n number of inputs (>= 1).
 * @param[in] backward computes the input gradients.
 * @param[in] ctx passed to @p backward; must stay valid while the graph may be
 *            differentiated (strata neither copies nor frees it).
 * @return A new Var (ownership as every op's): recorded when grad mode is on and an
 *         input requires grad, a leaf otherwise. NULL with an error on NULL arguments.
 */
STRATA_API Var *var_custom(const char *name, Tensor *output, Var *const *inputs, int n,
                           VarCustomBackward backward, void *ctx);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Gradient checking
 *  @{ */

/** A function of Vars to check: returns a new Var (any shape). */
typedef Var *(*VarFunction)(Var *const *inputs, int n, void *ctx);

#define GRADCHECK_EPS 1e-3   /**< finite-difference step of var_gradcheck() defaults */
#define GRADCHECK_ATOL 1e-2  /**< absolute tolerance of var_gradcheck() defaults */
#define GRADCHECK_RTOL 1e-2  /**< relative tolerance of var_gradcheck() defaults */

/**
 * @brief Compare backward's gradients of @p fn with central finite differences.
 *
 * The output is reduced to a scalar by a fixed random projection (seeded), and each
 * input element that requires grad is perturbed by +/- @p eps (computed in double).
 * @return true if |analytic - numeric| <= atol + rtol * |numeric| everywhere; false
 *         with an error naming the input, element, and both values otherwise.
 */
STRATA_API bool var_gradcheck(VarFunction fn, Var *const *inputs, int n, void *ctx, double eps,
                              double atol, double rtol);
/** @} */

/** @} */ /* end of group autograd */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_AUTOGRAD_H */
