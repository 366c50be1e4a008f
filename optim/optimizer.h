/**
 * @file optimizer.h
 * @brief Week 4, the optimizer part: parameter groups, SGD, Adam, AdamW, RMSprop,
 *        gradient clipping, learning-rate schedulers and the optimizer's state.
 *
 * Part of optim.h (which includes it with the data, training and L2L parts).
 */
#ifndef STRATA_OPTIM_OPTIMIZER_H
#define STRATA_OPTIM_OPTIMIZER_H

#include "nn.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup optim
 *  @{ */

/* ------------------------------------------------------------------------------------ */
/** @name Hyperparameters and parameter groups
 *  @{ */

/**
 * @brief Every hyperparameter the built-in optimizers read. Each optimizer reads the
 *        fields it documents and ignores the others; a custom optimizer may use them
 *        as it likes (and keep more in its own context).
 */
typedef struct OptimHparams {
    float lr;           /**< learning rate (>= 0) */
    float weight_decay; /**< L2 penalty added to the gradient (SGD, Adam, RMSprop) or
                             decoupled decay (AdamW); >= 0 */
    float momentum;     /**< SGD and RMSprop momentum (>= 0); 0 disables the buffer */
    float dampening;    /**< SGD dampening of the momentum update */
    bool nesterov;      /**< SGD Nesterov momentum (needs momentum > 0, dampening 0) */
    bool maximize;      /**< ascend instead of descend (negates the gradient) */
    float beta1;        /**< Adam/AdamW first-moment decay, in [0, 1) */
    float beta2;        /**< Adam/AdamW second-moment decay, in [0, 1) */
    float eps;          /**< Adam/AdamW/RMSprop denominator term (> 0) */
    bool amsgrad;       /**< Adam/AdamW: keep the running max of the second moment */
    float alpha;        /**< RMSprop smoothing constant, in [0, 1) */
    bool centered;      /**< RMSprop: normalise by the centred variance estimate */
} OptimHparams;

/** Most named buffers one parameter's state may hold. */
#define OPTIM_MAX_BUFFERS 6
/** Longest buffer name, including the terminating NUL. */
#define OPTIM_BUFFER_NAME 32

/**
 * @brief The state an optimizer keeps for one parameter: a step count and up to
 *        OPTIM_MAX_BUFFERS named tensors shaped like the parameter (for example SGD's
 *        "momentum_buffer", Adam's "exp_avg" and "exp_avg_sq"). Buffers are created on
 *        first use with optim_state_buffer(); the state owns them.
 */
typedef struct OptimParamState {
    int64_t step;                                     /**< updates applied so far */
    int num_buffers;                                  /**< buffers in use */
    char names[OPTIM_MAX_BUFFERS][OPTIM_BUFFER_NAME]; /**< their names */
    Tensor *buffers[OPTIM_MAX_BUFFERS];               /**< their tensors (owned) */
} OptimParamState;

/** A set of parameters sharing hyperparameters (PyTorch's param_groups[i]). */
typedef struct OptimParamGroup {
    Var **params;           /**< the parameters (each retained by the optimizer) */
    int num_params;         /**< how many */
    OptimHparams hp;        /**< the group's hyperparameters; hp.lr is what schedulers set */
    float initial_lr;       /**< hp.lr when the group was added: schedulers' base lr */
    OptimParamState *state; /**< one state per parameter, in order (owned) */
} OptimParamGroup;
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Optimizers
 *  @{ */

/** An optimizer: see struct Optimizer for its fields. */
typedef struct Optimizer Optimizer;

/**
 * @brief What makes an optimizer: its name and its update. A built-in or user-written
 *        optimizer fills one (usually a static const table) and passes it to optim_new().
 *
 * optim_step() enters no-grad mode and then calls `step` if it is set (an update that
 * needs every gradient at once, as a dualized optimizer does); otherwise it calls
 * `update` once per parameter whose gradient is not NULL, in group order.
 */
typedef struct OptimizerOps {
    const char *name; /**< e.g. "sgd", "adam"; stored in the state dict and checked on load */
    /**
     * Update one parameter in place (optional if @ref step is set).
     * @param opt the optimizer
     * @param group the parameter's group (read its hp)
     * @param param the parameter; write var_data(param) in place
     * @param grad its gradient (never NULL), not to be modified
     * @param state its state (step count, buffers), to update
     * @return 0, or -1 with an error (the step stops there)
     */
    int (*update)(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                  OptimParamState *state);
    /** The whole step (optional): replaces the per-parameter loop. 0 or -1. */
    int (*step)(Optimizer *opt);
    /** Free the context given to optim_new() (optional; called by optim_free()). */
    void (*free_ctx)(void *ctx);
} OptimizerOps;

/** An optimizer: parameter groups, their state, and the update that drives them. */
struct Optimizer {
    const OptimizerOps *ops;  /**< the update rule (borrowed, usually static) */
    void *ctx;                /**< the rule's own data, freed by ops->free_ctx */
    OptimHparams defaults;    /**< hyperparameters of groups added without their own */
    OptimParamGroup *groups;  /**< the parameter groups (owned) */
    int num_groups;           /**< how many */
    int64_t steps;            /**< optim_step() calls that succeeded */
};

/**
 * @brief Create an optimizer with one parameter group.
 * @param[in] ops the update rule (borrowed: must outlive the optimizer); NULL is an error,
 *            as is a table with neither update nor step.
 * @param[in] ctx the rule's data; ownership passes to the optimizer when ops->free_ctx
 *            is set (it is then freed even if this call fails).
 * @param[in] params @p n parameters (each retained); NULL entries, duplicates and
 *            @p n < 1 are errors.
 * @param[in] n number of parameters.
 * @param[in] defaults hyperparameters of the first group and of groups added later with
 *            NULL hyperparameters; NULL is an error. Negative lr, weight decay, momentum
 *            or eps, and betas/alpha outside [0, 1), are errors naming the field.
 * @return A new optimizer the caller frees with optim_free(), or NULL with an error.
 */
STRATA_API Optimizer *optim_new(const OptimizerOps *ops, void *ctx, Var *const *params, int n,
                                const OptimHparams *defaults);

/** @brief Destroy @p opt: release its parameters and state, free its context. NULL is ignored. */
STRATA_API void optim_free(Optimizer *opt);

/**
 * @brief Add a parameter group (torch.optim.Optimizer.add_param_group).
 * @param[in,out] opt the optimizer.
 * @param[in] params @p n parameters (retained); one already in some group is an error.
 * @param[in] n number of parameters (>= 1).
 * @param[in] hp the group's hyperparameters, or NULL for the optimizer's defaults.
 * @return The new group's index, or -1 with an error (and @p opt unchanged).
 */
STRATA_API int optim_add_param_group(Optimizer *opt, Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief Apply one update to every parameter that has a gradient, under no-grad mode.
 *        Parameters whose gradient is NULL are skipped (their state is untouched).
 *        A step that runs out of memory changes nothing: what it allocates (dense
 *        copies of strided gradients, the state buffers of each parameter's first
 *        update) is allocated before any parameter or state changes, and released on
 *        failure (test_step_out_of_memory fails each allocation in turn).
 * @return 0, or -1 with an error (NULL optimizer, a gradient whose shape differs from
 *         its parameter's, no memory).
 */
STRATA_API int optim_step(Optimizer *opt);

/**
 * @brief Clear the gradient of every parameter.
 * @param[in,out] opt the optimizer; NULL is ignored.
 * @param[in] set_to_none drop the gradients (PyTorch's default), else fill them with zeros.
 */
STRATA_API void optim_zero_grad(Optimizer *opt, bool set_to_none);

/** @brief The learning rate of group @p group, or NAN with an error if out of range. */
STRATA_API float optim_get_lr(const Optimizer *opt, int group);

/**
 * @brief Set the learning rate of every group (@p group = -1) or of one group.
 * @return 0, or -1 with an error (index out of range, negative lr).
 */
STRATA_API int optim_set_lr(Optimizer *opt, int group, float lr);

/**
 * @brief A named state buffer of @p state, created as zeros shaped like @p like on
 *        first use (for OptimizerOps implementations).
 * @param[in,out] state the parameter's state.
 * @param[in] name the buffer's name (shorter than OPTIM_BUFFER_NAME).
 * @param[in] like a tensor of the parameter's shape.
 * @return The buffer, borrowed from @p state, or NULL with an error (no room left, name
 *         too long, or an existing buffer whose shape differs from @p like's).
 */
STRATA_API Tensor *optim_state_buffer(OptimParamState *state, const char *name, const Tensor *like);

/**
 * @brief Look up a named buffer without creating it.
 * @return The buffer (borrowed) or NULL (no error recorded) when it does not exist.
 */
STRATA_API Tensor *optim_state_find(const OptimParamState *state, const char *name);

/** @brief PyTorch's SGD defaults: lr @p lr, no momentum, dampening or weight decay. */
STRATA_API OptimHparams optim_sgd_defaults(float lr);
/** @brief PyTorch's Adam defaults: lr @p lr, betas (0.9, 0.999), eps 1e-8. */
STRATA_API OptimHparams optim_adam_defaults(float lr);
/** @brief PyTorch's AdamW defaults: as Adam with weight_decay 0.01. */
STRATA_API OptimHparams optim_adamw_defaults(float lr);
/** @brief PyTorch's RMSprop defaults: lr @p lr, alpha 0.99, eps 1e-8. */
STRATA_API OptimHparams optim_rmsprop_defaults(float lr);

/**
 * @brief Stochastic gradient descent (torch.optim.SGD). With g the gradient (negated if
 *        maximize): g += wd*p; if momentum: b = g at the first step, else
 *        b = momentum*b + (1-dampening)*g; g = nesterov ? g + momentum*b : b; p -= lr*g.
 *        Buffer "momentum_buffer" (only when momentum != 0).
 * @param[in] params, n, hp as optim_new() (nesterov with momentum 0 or dampening != 0 is
 *            an error).
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
STRATA_API Optimizer *optim_sgd_new(Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief Adam (torch.optim.Adam): g += wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 *        mhat = m/(1-b1^t); vhat = v/(1-b2^t) (with amsgrad, vmax = max(vmax, v) and
 *        vhat = vmax/(1-b2^t)); p -= lr*mhat/(sqrt(vhat)+eps). Buffers "exp_avg",
 *        "exp_avg_sq", "max_exp_avg_sq" (amsgrad).
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
STRATA_API Optimizer *optim_adam_new(Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief AdamW (torch.optim.AdamW): p *= 1 - lr*wd first (decoupled decay), then Adam's
 *        update without the L2 term.
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
STRATA_API Optimizer *optim_adamw_new(Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief RMSprop (torch.optim.RMSprop): g += wd*p; v = alpha*v + (1-alpha)*g^2; if
 *        centered: ga = alpha*ga + (1-alpha)*g and d = sqrt(v - ga^2) + eps, else
 *        d = sqrt(v) + eps; with momentum: b = momentum*b + g/d, p -= lr*b; else
 *        p -= lr*g/d. Buffers "square_avg", "grad_avg" (centered), "momentum_buffer".
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
STRATA_API Optimizer *optim_rmsprop_new(Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief The SGD update of one parameter (the OptimizerOps::update of optim_sgd_new()),
 *        public so that other optimizers can reuse it.
 * @param[in] opt the optimizer (unused by the rule).
 * @param[in] group the group whose hp it reads.
 * @param[in,out] param the parameter, updated in place (contiguous).
 * @param[in] grad its gradient, same shape.
 * @param[in,out] state its state ("momentum_buffer", step).
 * @return 0, or -1 with an error (shapes differ, non-contiguous parameter).
 */
STRATA_API int optim_sgd_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                                OptimParamState *state);
/** @brief The Adam update of one parameter (see optim_sgd_update() for the arguments). */
STRATA_API int optim_adam_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                                 OptimParamState *state);
/** @brief The AdamW update of one parameter (see optim_sgd_update() for the arguments). */
STRATA_API int optim_adamw_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                                  OptimParamState *state);
/** @brief The RMSprop update of one parameter (see optim_sgd_update() for the arguments). */
STRATA_API int optim_rmsprop_update(Optimizer *opt, OptimParamGroup *group, Var *param,
                                    const Tensor *grad, OptimParamState *state);

/**
 * @brief An optimizer of the built-in kind @p name ("sgd", "adam", "adamw", "rmsprop").
 * @return A new optimizer or NULL with an error naming the unknown kind.
 */
STRATA_API Optimizer *optim_by_name(const char *name, Var *const *params, int n, const OptimHparams *hp);

/** @brief SGD over nn_parameters(@p model) with lr @p lr and momentum @p momentum. */
STRATA_API Optimizer *optim_sgd(Module *model, float lr, float momentum);
/** @brief Adam over nn_parameters(@p model) with lr @p lr and PyTorch's other defaults. */
STRATA_API Optimizer *optim_adam(Module *model, float lr);
/** @brief AdamW over nn_parameters(@p model) with lr @p lr and weight decay @p weight_decay. */
STRATA_API Optimizer *optim_adamw(Module *model, float lr, float weight_decay);
/** @brief RMSprop over nn_parameters(@p model) with lr @p lr and PyTorch's other defaults. */
STRATA_API Optimizer *optim_rmsprop(Module *model, float lr);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Gradient clipping
 *  @{ */

/**
 * @brief Scale gradients so that their global norm is at most @p max_norm
 *        (torch.nn.utils.clip_grad_norm_): total = ||(||g_1||, ..., ||g_n||)||_p over the
 *        gradients that are not NULL; if total > 0 every gradient is multiplied by
 *        min(1, max_norm / (total + 1e-6)).
 * @param[in] params @p n parameters (NULL entries and NULL gradients are skipped).
 * @param[in] n number of parameters (>= 0).
 * @param[in] max_norm the bound (>= 0).
 * @param[in] norm_type p >= 1, or INFINITY for the max-abs norm.
 * @return The total norm before clipping (as a float, >= 0); NaN or Inf, with no error
 *         and no gradient changed, when a gradient holds NaN or Inf (as PyTorch returns
 *         it: check it before optim_step()); or -1 with an error for a bad argument. A
 *         norm is never negative, so the three cases are told apart by the value alone.
 */
STRATA_API float optim_clip_grad_norm(Var *const *params, int n, float max_norm, float norm_type);

/**
 * @brief Clamp every gradient element into [-@p clip_value, @p clip_value]
 *        (torch.nn.utils.clip_grad_value_).
 * @return 0, or -1 with an error (negative @p clip_value).
 */
STRATA_API int optim_clip_grad_value(Var *const *params, int n, float clip_value);

/**
 * @brief optim_clip_grad_norm() over every parameter of @p opt (2-norm).
 * @return As optim_clip_grad_norm(): the norm, NaN/Inf for non-finite gradients, or -1
 *         with an error.
 */
STRATA_API float optim_clip_grad_norm_opt(Optimizer *opt, float max_norm);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Learning-rate schedulers
 *  A scheduler sets hp.lr of every group of its optimizer from the group's initial_lr
 *  and its epoch counter t (which optim_scheduler_step() advances; call it once per
 *  epoch or once per step, as you decide). Creating one sets the lrs for t = 0, as
 *  PyTorch does.
 *  @{ */

/** A learning-rate schedule bound to one optimizer. */
typedef struct LRScheduler LRScheduler;

/** A multiplicative factor of the epoch for LambdaLR: lr = initial_lr * fn(t, ctx). */
typedef float (*LRLambda)(int64_t epoch, void *ctx);

/**
 * @brief StepLR: lr = initial_lr * gamma^floor(t / step_size).
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] step_size epochs between decays (>= 1).
 * @param[in] gamma decay factor (> 0).
 * @return A new scheduler (optim_scheduler_free()) or NULL with an error.
 */
STRATA_API LRScheduler *optim_step_lr(Optimizer *opt, int64_t step_size, float gamma);

/**
 * @brief CosineAnnealingLR, closed form:
 *        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2.
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] t_max the half period (>= 1).
 * @param[in] eta_min the lowest lr (>= 0).
 * @return A new scheduler or NULL with an error.
 */
STRATA_API LRScheduler *optim_cosine_lr(Optimizer *opt, int64_t t_max, float eta_min);

/**
 * @brief LinearLR (linear warm-up): lr = initial_lr * (start + (end - start) *
 *        min(t, total_iters) / total_iters).
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] start_factor factor at t = 0, in (0, 1].
 * @param[in] end_factor factor from t = total_iters on, in [0, 1].
 * @param[in] total_iters epochs of the ramp (>= 1).
 * @return A new scheduler or NULL with an error.
 */
STRATA_API LRScheduler *optim_linear_lr(Optimizer *opt, float start_factor, float end_factor,
                                        int64_t total_iters);

/** @brief ExponentialLR: lr = initial_lr * gamma^t (gamma > 0). NULL with an error otherwise. */
STRATA_API LRScheduler *optim_exponential_lr(Optimizer *opt, float gamma);

/**
 * @brief LambdaLR: lr = initial_lr * fn(t, ctx).
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] fn the factor (NULL is an error).
 * @param[in] ctx passed to @p fn (borrowed).
 * @return A new scheduler or NULL with an error.
 */
STRATA_API LRScheduler *optim_lambda_lr(Optimizer *opt, LRLambda fn, void *ctx);

/**
 * @brief SequentialLR: @p schedulers[0] until epoch @p milestones[0], then
 *        @p schedulers[1] counting from 0 again, and so on (warm-up then cosine).
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] schedulers @p n schedulers on the same @p opt; ownership of all of them
 *            passes to the result (they are freed even if this call fails).
 * @param[in] milestones @p n - 1 strictly increasing epochs (>= 1).
 * @param[in] n number of schedulers (>= 1).
 * @return A new scheduler or NULL with an error.
 */
STRATA_API LRScheduler *optim_sequential_lr(Optimizer *opt, LRScheduler **schedulers,
                                            const int64_t *milestones, int n);

/**
 * @brief ChainedScheduler: all of @p schedulers at once, their factors multiplied:
 *        lr = initial_lr * prod_i (lr_i(t) / initial_lr) (e.g. a LinearLR warm-up times
 *        an ExponentialLR decay).
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] schedulers @p n schedulers on @p opt; ownership passes to the result (they
 *            are freed even if this call fails).
 * @param[in] n number of schedulers (>= 1).
 * @return A new scheduler or NULL with an error.
 */
STRATA_API LRScheduler *optim_chained_lr(Optimizer *opt, LRScheduler **schedulers, int n);

/**
 * @brief Advance the epoch counter by one and set every group's lr.
 * @return 0, or -1 with an error (NULL scheduler).
 */
STRATA_API int optim_scheduler_step(LRScheduler *sched);

/**
 * @brief Jump to epoch @p epoch (to resume) and set the lrs for it.
 * @return 0, or -1 with an error (negative epoch).
 */
STRATA_API int optim_scheduler_set_epoch(LRScheduler *sched, int64_t epoch);

/** @brief The epoch counter (0 after creation), or -1 with an error for NULL. */
STRATA_API int64_t optim_scheduler_epoch(const LRScheduler *sched);

/**
 * @brief The lrs the scheduler last set (get_last_lr()), one per group.
 * @param[in] sched the scheduler.
 * @param[out] out room for @p max floats.
 * @param[in] max capacity of @p out.
 * @return The number of groups (which may exceed @p max: only @p max are written), or
 *         -1 with an error.
 */
STRATA_API int optim_scheduler_get_last_lr(const LRScheduler *sched, float *out, int max);

/** @brief Destroy @p sched (and the schedulers a SequentialLR owns). NULL is ignored. */
STRATA_API void optim_scheduler_free(LRScheduler *sched);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Optimizer state
 *  The state travels in nn's NnStateDict (named tensors plus string metadata) and is
 *  written with nn_safetensors_save(), so an optimizer file is a safetensors file.
 *  @{ */

/**
 * @brief The optimizer's state: for group g and parameter i, tensors
 *        "state.g.i.<buffer>" (copies) and metadata "state.g.i.step"; metadata
 *        "optimizer" (the ops name), "num_groups", "steps", and per group
 *        "group.g.num_params", "group.g.initial_lr" and each hyperparameter
 *        ("group.g.lr", ...; floats written with 9 significant digits, which
 *        round-trip exactly).
 * @return A new state dict (nn_state_dict_free()) or NULL with an error.
 */
STRATA_API NnStateDict *optim_state_dict(const Optimizer *opt);

/**
 * @brief Restore state written by optim_state_dict(): hyperparameters, step counts and
 *        buffers. Validates first: the optimizer's name, the group count, each group's
 *        parameter count, and every buffer's shape must match; on any mismatch nothing
 *        changes.
 * @return 0, or -1 with an error naming the first mismatch.
 */
STRATA_API int optim_load_state_dict(Optimizer *opt, const NnStateDict *sd);

/** @brief optim_state_dict() written with nn_safetensors_save() (atomically). 0 or -1. */
STRATA_API int optim_save(const Optimizer *opt, const char *path);
/** @brief nn_safetensors_load() then optim_load_state_dict(). 0 or -1 (opt unchanged). */
STRATA_API int optim_load(Optimizer *opt, const char *path);
/** @} */


/** @} */ /* end of group optim */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_OPTIM_OPTIMIZER_H */
