/**
 * @file optim.h
 * @brief Week 4: optimizers, learning-rate schedules, gradient clipping, data loading
 *        and the training loop.
 *
 * This layer turns gradients (autograd) of a model's parameters (nn) into training:
 *
 * - **Optimizer**: parameter groups, each with its own hyperparameters (lr, weight
 *   decay, momentum, betas, ...), per-parameter state (momentum buffers, Adam moments,
 *   step counts), step() and zero_grad(). SGD, Adam, AdamW and RMSprop follow the update
 *   rules of PyTorch's documentation exactly. A new optimizer is a table of functions
 *   (OptimizerOps) given to optim_new(): week 5's dualized optimizer is one.
 * - **Schedulers** (LRScheduler): StepLR, CosineAnnealingLR, LinearLR (warm-up),
 *   ExponentialLR, LambdaLR and SequentialLR, in PyTorch's closed forms.
 * - **Clipping**: optim_clip_grad_norm() and optim_clip_grad_value().
 * - **State**: optimizer state as an NnStateDict, saved to and loaded from safetensors
 *   files, so that training resumes bit-identically.
 * - **Data**: the IDX reader (MNIST, Fashion-MNIST; gzip or raw), Dataset, DataLoader
 *   with batching, seeded shuffling and drop_last.
 * - **Training**: train_epoch() (micro-batch gradient accumulation, clipping, progress
 *   bar), train_evaluate() (accuracy and mean loss), the per-epoch metrics CSV and plot,
 *   checkpoints.
 *
 * Conventions (as in tensor.h): failures return NULL, -1, NAN or false with a message in
 * strata_last_error() naming the function and the values; a NULL argument keeps the
 * first message; functions validate everything before changing anything. Long-lived
 * objects (Optimizer, LRScheduler, Dataset, DataLoader, TrainLog) are not
 * scoped: the constructor gives the caller the object and `*_free` (which accepts NULL)
 * destroys it.
 */
#ifndef STRATA_OPTIM_H
#define STRATA_OPTIM_H

#include "nn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup optim Week 4: optim
 * @brief Optimizers, schedulers, clipping, optimizer state, data loading and training.
 * @{
 */

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
Optimizer *optim_new(const OptimizerOps *ops, void *ctx, Var *const *params, int n,
                     const OptimHparams *defaults);

/** @brief Destroy @p opt: release its parameters and state, free its context. NULL is ignored. */
void optim_free(Optimizer *opt);

/**
 * @brief Add a parameter group (torch.optim.Optimizer.add_param_group).
 * @param[in,out] opt the optimizer.
 * @param[in] params @p n parameters (retained); one already in some group is an error.
 * @param[in] n number of parameters (>= 1).
 * @param[in] hp the group's hyperparameters, or NULL for the optimizer's defaults.
 * @return The new group's index, or -1 with an error (and @p opt unchanged).
 */
int optim_add_param_group(Optimizer *opt, Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief Apply one update to every parameter that has a gradient, under no-grad mode.
 *        Parameters whose gradient is NULL are skipped (their state is untouched).
 * @return 0, or -1 with an error (NULL optimizer, a gradient whose shape differs from
 *         its parameter's).
 */
int optim_step(Optimizer *opt);

/**
 * @brief Clear the gradient of every parameter.
 * @param[in,out] opt the optimizer; NULL is ignored.
 * @param[in] set_to_none drop the gradients (PyTorch's default), else fill them with zeros.
 */
void optim_zero_grad(Optimizer *opt, bool set_to_none);

/** @brief The learning rate of group @p group, or NAN with an error if out of range. */
float optim_get_lr(const Optimizer *opt, int group);

/**
 * @brief Set the learning rate of every group (@p group = -1) or of one group.
 * @return 0, or -1 with an error (index out of range, negative lr).
 */
int optim_set_lr(Optimizer *opt, int group, float lr);

/**
 * @brief A named state buffer of @p state, created as zeros shaped like @p like on
 *        first use (for OptimizerOps implementations).
 * @param[in,out] state the parameter's state.
 * @param[in] name the buffer's name (shorter than OPTIM_BUFFER_NAME).
 * @param[in] like a tensor of the parameter's shape.
 * @return The buffer, borrowed from @p state, or NULL with an error (no room left, name
 *         too long, or an existing buffer whose shape differs from @p like's).
 */
Tensor *optim_state_buffer(OptimParamState *state, const char *name, const Tensor *like);

/**
 * @brief Look up a named buffer without creating it.
 * @return The buffer (borrowed) or NULL (no error recorded) when it does not exist.
 */
Tensor *optim_state_find(const OptimParamState *state, const char *name);

/** @brief PyTorch's SGD defaults: lr @p lr, no momentum, dampening or weight decay. */
OptimHparams optim_sgd_defaults(float lr);
/** @brief PyTorch's Adam defaults: lr @p lr, betas (0.9, 0.999), eps 1e-8. */
OptimHparams optim_adam_defaults(float lr);
/** @brief PyTorch's AdamW defaults: as Adam with weight_decay 0.01. */
OptimHparams optim_adamw_defaults(float lr);
/** @brief PyTorch's RMSprop defaults: lr @p lr, alpha 0.99, eps 1e-8. */
OptimHparams optim_rmsprop_defaults(float lr);

/**
 * @brief Stochastic gradient descent (torch.optim.SGD). With g the gradient (negated if
 *        maximize): g += wd*p; if momentum: b = g at the first step, else
 *        b = momentum*b + (1-dampening)*g; g = nesterov ? g + momentum*b : b; p -= lr*g.
 *        Buffer "momentum_buffer" (only when momentum != 0).
 * @param[in] params, n, hp as optim_new() (nesterov with momentum 0 or dampening != 0 is
 *            an error).
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
Optimizer *optim_sgd_new(Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief Adam (torch.optim.Adam): g += wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 *        mhat = m/(1-b1^t); vhat = v/(1-b2^t) (with amsgrad, vmax = max(vmax, v) and
 *        vhat = vmax/(1-b2^t)); p -= lr*mhat/(sqrt(vhat)+eps). Buffers "exp_avg",
 *        "exp_avg_sq", "max_exp_avg_sq" (amsgrad).
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
Optimizer *optim_adam_new(Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief AdamW (torch.optim.AdamW): p *= 1 - lr*wd first (decoupled decay), then Adam's
 *        update without the L2 term.
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
Optimizer *optim_adamw_new(Var *const *params, int n, const OptimHparams *hp);

/**
 * @brief RMSprop (torch.optim.RMSprop): g += wd*p; v = alpha*v + (1-alpha)*g^2; if
 *        centered: ga = alpha*ga + (1-alpha)*g and d = sqrt(v - ga^2) + eps, else
 *        d = sqrt(v) + eps; with momentum: b = momentum*b + g/d, p -= lr*b; else
 *        p -= lr*g/d. Buffers "square_avg", "grad_avg" (centered), "momentum_buffer".
 * @return A new optimizer (optim_free()) or NULL with an error.
 */
Optimizer *optim_rmsprop_new(Var *const *params, int n, const OptimHparams *hp);

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
int optim_sgd_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                     OptimParamState *state);
/** @brief The Adam update of one parameter (see optim_sgd_update() for the arguments). */
int optim_adam_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                      OptimParamState *state);
/** @brief The AdamW update of one parameter (see optim_sgd_update() for the arguments). */
int optim_adamw_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                       OptimParamState *state);
/** @brief The RMSprop update of one parameter (see optim_sgd_update() for the arguments). */
int optim_rmsprop_update(Optimizer *opt, OptimParamGroup *group, Var *param,
                         const Tensor *grad, OptimParamState *state);

/**
 * @brief An optimizer of the built-in kind @p name ("sgd", "adam", "adamw", "rmsprop").
 * @return A new optimizer or NULL with an error naming the unknown kind.
 */
Optimizer *optim_by_name(const char *name, Var *const *params, int n, const OptimHparams *hp);

/** @brief SGD over nn_parameters(@p model) with lr @p lr and momentum @p momentum. */
Optimizer *optim_sgd(Module *model, float lr, float momentum);
/** @brief Adam over nn_parameters(@p model) with lr @p lr and PyTorch's other defaults. */
Optimizer *optim_adam(Module *model, float lr);
/** @brief AdamW over nn_parameters(@p model) with lr @p lr and weight decay @p weight_decay. */
Optimizer *optim_adamw(Module *model, float lr, float weight_decay);
/** @brief RMSprop over nn_parameters(@p model) with lr @p lr and PyTorch's other defaults. */
Optimizer *optim_rmsprop(Module *model, float lr);
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
float optim_clip_grad_norm(Var *const *params, int n, float max_norm, float norm_type);

/**
 * @brief Clamp every gradient element into [-@p clip_value, @p clip_value]
 *        (torch.nn.utils.clip_grad_value_).
 * @return 0, or -1 with an error (negative @p clip_value).
 */
int optim_clip_grad_value(Var *const *params, int n, float clip_value);

/**
 * @brief optim_clip_grad_norm() over every parameter of @p opt (2-norm).
 * @return As optim_clip_grad_norm(): the norm, NaN/Inf for non-finite gradients, or -1
 *         with an error.
 */
float optim_clip_grad_norm_opt(Optimizer *opt, float max_norm);
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
LRScheduler *optim_step_lr(Optimizer *opt, int64_t step_size, float gamma);

/**
 * @brief CosineAnnealingLR, closed form:
 *        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2.
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] t_max the half period (>= 1).
 * @param[in] eta_min the lowest lr (>= 0).
 * @return A new scheduler or NULL with an error.
 */
LRScheduler *optim_cosine_lr(Optimizer *opt, int64_t t_max, float eta_min);

/**
 * @brief LinearLR (linear warm-up): lr = initial_lr * (start + (end - start) *
 *        min(t, total_iters) / total_iters).
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] start_factor factor at t = 0, in (0, 1].
 * @param[in] end_factor factor from t = total_iters on, in [0, 1].
 * @param[in] total_iters epochs of the ramp (>= 1).
 * @return A new scheduler or NULL with an error.
 */
LRScheduler *optim_linear_lr(Optimizer *opt, float start_factor, float end_factor,
                             int64_t total_iters);

/** @brief ExponentialLR: lr = initial_lr * gamma^t (gamma > 0). NULL with an error otherwise. */
LRScheduler *optim_exponential_lr(Optimizer *opt, float gamma);

/**
 * @brief LambdaLR: lr = initial_lr * fn(t, ctx).
 * @param[in,out] opt the optimizer whose lrs it sets (borrowed; must outlive it).
 * @param[in] fn the factor (NULL is an error).
 * @param[in] ctx passed to @p fn (borrowed).
 * @return A new scheduler or NULL with an error.
 */
LRScheduler *optim_lambda_lr(Optimizer *opt, LRLambda fn, void *ctx);

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
LRScheduler *optim_sequential_lr(Optimizer *opt, LRScheduler **schedulers,
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
LRScheduler *optim_chained_lr(Optimizer *opt, LRScheduler **schedulers, int n);

/**
 * @brief Advance the epoch counter by one and set every group's lr.
 * @return 0, or -1 with an error (NULL scheduler).
 */
int optim_scheduler_step(LRScheduler *sched);

/**
 * @brief Jump to epoch @p epoch (to resume) and set the lrs for it.
 * @return 0, or -1 with an error (negative epoch).
 */
int optim_scheduler_set_epoch(LRScheduler *sched, int64_t epoch);

/** @brief The epoch counter (0 after creation), or -1 with an error for NULL. */
int64_t optim_scheduler_epoch(const LRScheduler *sched);

/**
 * @brief The lrs the scheduler last set (get_last_lr()), one per group.
 * @param[in] sched the scheduler.
 * @param[out] out room for @p max floats.
 * @param[in] max capacity of @p out.
 * @return The number of groups (which may exceed @p max: only @p max are written), or
 *         -1 with an error.
 */
int optim_scheduler_get_last_lr(const LRScheduler *sched, float *out, int max);

/** @brief Destroy @p sched (and the schedulers a SequentialLR owns). NULL is ignored. */
void optim_scheduler_free(LRScheduler *sched);
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
NnStateDict *optim_state_dict(const Optimizer *opt);

/**
 * @brief Restore state written by optim_state_dict(): hyperparameters, step counts and
 *        buffers. Validates first: the optimizer's name, the group count, each group's
 *        parameter count, and every buffer's shape must match; on any mismatch nothing
 *        changes.
 * @return 0, or -1 with an error naming the first mismatch.
 */
int optim_load_state_dict(Optimizer *opt, const NnStateDict *sd);

/** @brief optim_state_dict() written with nn_safetensors_save() (atomically). 0 or -1. */
int optim_save(const Optimizer *opt, const char *path);
/** @brief nn_safetensors_load() then optim_load_state_dict(). 0 or -1 (opt unchanged). */
int optim_load(Optimizer *opt, const char *path);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name IDX files and datasets
 *  @{ */

/** Most dims an IDX file may declare. */
#define DATA_IDX_MAX_DIMS 4

/**
 * @brief Read an IDX file (the MNIST format): magic 0x00 0x00 TYPE NDIM, then
 *        NDIM big-endian uint32 sizes, then the elements big-endian. TYPE is 0x08
 *        (uint8), 0x09 (int8), 0x0B (int16), 0x0C (int32), 0x0D (float32) or 0x0E
 *        (float64). Gzip files are inflated through zlib; plain files are read as they
 *        are.
 * @param[in] path the file.
 * @return A new float tensor of the declared shape with the values converted (uint8
 *         images hold 0..255), or NULL with an error naming @p path and the reason:
 *         missing file, bad magic, an unknown dtype, more than DATA_IDX_MAX_DIMS dims, a
 *         zero-sized dim... and "truncated" when the data are shorter than the header
 *         says, "trailing" bytes when longer.
 */
Tensor *data_read_idx(const char *path);

/** A data set: N examples, each an input and a target. */
typedef struct Dataset Dataset;

/**
 * @brief A data set over in-memory tensors: example i is (x[i], y[i]).
 * @param[in] x inputs, [N, ...] (retained).
 * @param[in] y targets, [N] or [N, ...] (retained); class indices as floats.
 * @return A new dataset (data_dataset_free()) or NULL with an error (N differs, ndim 0).
 */
Dataset *data_tensor_dataset_new(Tensor *x, Tensor *y);

/** Options of data_mnist_load(). */
typedef struct DataMnistOptions {
    bool flatten;     /**< inputs [N, 784] instead of [N, 1, 28, 28] */
    bool standardize; /**< subtract @ref mean and divide by @ref std after scaling to [0,1] */
    float mean;       /**< the mean to subtract (e.g. 0.2860 for Fashion-MNIST train) */
    float std;        /**< the standard deviation to divide by (> 0) */
    int64_t limit;    /**< keep only the first @ref limit examples (0: all) */
} DataMnistOptions;

/**
 * @brief Load an MNIST-style pair of IDX files from @p dir: "train-images-idx3-ubyte"
 *        and "train-labels-idx1-ubyte" (or "t10k-..." when @p train is false), with or
 *        without ".gz". Images are scaled to [0, 1] (x / 255) and optionally
 *        standardized; labels become float class indices.
 * @param[in] dir the directory, e.g. "/usr/share/datasets/fashion-mnist".
 * @param[in] train the training split (else the test split).
 * @param[in] opts options, or NULL for [N, 1, 28, 28] in [0, 1].
 * @return A new dataset or NULL with an error: missing files (with a hint to install
 *         dataset-fashion-mnist), malformed files, image and label counts that differ,
 *         labels that are not 1-D.
 */
Dataset *data_mnist_load(const char *dir, bool train, const DataMnistOptions *opts);

/** @brief Number of examples, or -1 with an error for NULL. */
int64_t data_dataset_size(const Dataset *ds);
/** @brief The inputs tensor [N, ...] (borrowed), or NULL. */
Tensor *data_dataset_inputs(const Dataset *ds);
/** @brief The targets tensor [N, ...] (borrowed), or NULL. */
Tensor *data_dataset_targets(const Dataset *ds);
/** @brief Destroy @p ds, releasing its tensors and its transform. NULL is ignored. */
void data_dataset_free(Dataset *ds);

/* ------------------------------------------------------------------------------------ */
/** @name Text corpora (character level)
 *  A text file as a sequence of byte tokens for next-character prediction: the
 *  vocabulary is the set of bytes that occur (numbered in byte order), the first part
 *  of the text is the training split and the last @p val_fraction the validation split
 *  (as nanoGPT's and Modula's Shakespeare loaders). examples/hello_gpt trains on the
 *  King James Bible (`make corpus`, examples/data/README.md).
 *  @{ */

/** A loaded text corpus. */
typedef struct TextCorpus TextCorpus;

/**
 * @brief Read the whole of @p path and build its vocabulary and splits.
 * @param[in] path a text file.
 * @param[in] val_fraction the share of the text (its end) kept for validation, in (0, 1);
 *            the validation split has floor(length * val_fraction) bytes.
 * @return A new corpus (data_text_free()), or NULL with an error naming the file
 *         (missing, unreadable, too short for two splits of 2 characters).
 */
TextCorpus *data_text_load(const char *path, double val_fraction);
/** @brief Destroy @p c. NULL is ignored. */
void data_text_free(TextCorpus *c);
/** @brief The number of distinct characters (tokens 0 .. size-1), or -1 for NULL. */
int data_text_vocab_size(const TextCorpus *c);
/** @brief The length in characters of the validation split (@p val) or the training
 *         split, or -1 for NULL. */
int64_t data_text_split_length(const TextCorpus *c, bool val);
/**
 * @brief Tokens of the first @p n characters of @p s, as floats (tensor.h's index
 *        convention).
 * @param[in] c the corpus. @param[in] s the text. @param[in] n characters to encode.
 * @param[out] out room for @p n floats; untouched on failure.
 * @return 0, or -1 with an error naming the first character outside the vocabulary.
 */
int data_text_encode(const TextCorpus *c, const char *s, int64_t n, float *out);
/**
 * @brief The characters of @p n tokens, NUL-terminated.
 * @param[in] c the corpus. @param[in] tokens the tokens. @param[in] n how many.
 * @param[out] out room for @p n + 1 chars; untouched on failure.
 * @return 0, or -1 with an error naming the first token outside [0, vocab).
 */
int data_text_decode(const TextCorpus *c, const float *tokens, int64_t n, char *out);
/**
 * @brief A batch of windows: row b of @p x holds the tokens at starts[b] ..
 *        starts[b] + context - 1 of the chosen split, row b of @p y the tokens one
 *        further on (the next character of each position).
 * @param[in] c the corpus.
 * @param[in] val the validation split (else the training split).
 * @param[in] starts @p batch start offsets into the split, each in
 *            [0, length - context - 1].
 * @param[in] batch rows (>= 1).
 * @param[in] context tokens per row (>= 1, < the split's length).
 * @param[out] x, y new [batch, context] tensors (tensor.h's ownership rule); untouched
 *             on failure.
 * @return 0, or -1 with an error (sizes, a window outside the split).
 */
int data_text_batch(const TextCorpus *c, bool val, const int64_t *starts, int64_t batch,
                    int64_t context, Tensor **x, Tensor **y);
/**
 * @brief data_text_batch() at @p batch start offsets drawn uniformly from the split
 *        with the seeded generator (strata_manual_seed()), so a seeded run sees the
 *        same batches.
 * @return 0, or -1 with an error.
 */
int data_text_random_batch(const TextCorpus *c, bool val, int64_t batch, int64_t context,
                           Tensor **x, Tensor **y);
/** @} */

/** Options of data_csv_load(). */
typedef struct DataCsvOptions {
    const char *label_column; /**< the target column's header name; NULL: use @ref label_index */
    int label_index;          /**< the target column's index when label_column is NULL
                                   (negative counts from the end: -1 is the last column) */
    char delimiter;           /**< the field separator; '\0' means ',' */
} DataCsvOptions;

/**
 * @brief Load a CSV file of numbers with a header line: every column but the label
 *        becomes an input feature (x [N, columns - 1], in file order), the label column
 *        the target (y [N]). Blank lines are skipped; fields may have surrounding spaces.
 * @param[in] path the file.
 * @param[in] opts options, or NULL for the last column as the label and ','.
 * @return A new dataset (data_dataset_free()) or NULL with an error naming the file and,
 *         for a malformed row, its line number and what is wrong ("line 7: 3 fields,
 *         expected 4", "line 9, column 'age': 'abc' is not a number"), an unknown label
 *         column, or a file without data rows.
 */
Dataset *data_csv_load(const char *path, const DataCsvOptions *opts);

/**
 * @brief The image dataset over a pair of IDX files: images [N, H, W] (or [N, C, H, W])
 *        scaled to [0, 1] as [N, C, H, W] floats, labels [N] as float class indices.
 * @return A new dataset or NULL with an error (see data_read_idx(); counts that differ).
 */
Dataset *data_idx_dataset(const char *images_path, const char *labels_path);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Transforms
 *  A transform rewrites one example's input when the DataLoader assembles a batch, so
 *  random augmentation differs at every epoch. Random transforms draw from a generator
 *  seeded by (loader seed, epoch, position in the epoch): runs are reproducible and the
 *  global generator is not touched.
 *  @{ */

/** A per-example input transform (see data_dataset_set_transform()). */
typedef struct DataTransform DataTransform;

/** @brief x = (x - mean) / std on every element (std > 0, else NULL with an error). */
DataTransform *data_transform_normalize(float mean, float std);
/** @brief Flatten each example to one dim (an image [C, H, W] becomes [C*H*W]). */
DataTransform *data_transform_flatten(void);
/**
 * @brief Pad an image [C, H, W] with @p padding zeros on each side, then crop a random
 *        H x W window (torchvision's RandomCrop(size, padding) with size = the input's).
 * @return A new transform, or NULL with an error for a negative padding.
 */
DataTransform *data_transform_random_crop(int padding);
/** @brief Mirror an image [C, H, W] left-right with probability @p p (in [0, 1]). */
DataTransform *data_transform_random_hflip(float p);
/**
 * @brief Apply @p n transforms in order.
 * @param[in] transforms the transforms; ownership of every one passes to the result (they
 *            are freed even if this call fails).
 * @param[in] n how many (>= 1).
 * @return A new transform or NULL with an error (n < 1, a NULL entry).
 */
DataTransform *data_transform_compose(DataTransform **transforms, int n);
/** @brief Destroy @p t (and a composition's parts). NULL is ignored. */
void data_transform_free(DataTransform *t);

/**
 * @brief Attach @p t to @p ds, replacing (and freeing) any previous transform; NULL
 *        removes it. Ownership of @p t passes to @p ds (freed on error too).
 * @return 0, or -1 with an error (NULL @p ds, or @p t does not fit the examples' shape,
 *         e.g. a crop on 1-D examples).
 */
int data_dataset_set_transform(Dataset *ds, DataTransform *t);

/**
 * @brief Apply @p t to one example (what the loader does for each).
 * @param[in] t the transform.
 * @param[in,out] x the example's floats (numel of @p shape), rewritten in place.
 * @param[in,out] shape the example's shape (without the batch dim), updated by flatten.
 * @param[in,out] ndim its number of dims.
 * @param[in,out] rng the generator state for random transforms (any value; advanced).
 * @return 0, or -1 with an error.
 */
int data_transform_apply(const DataTransform *t, float *x, int64_t *shape, int *ndim,
                         uint64_t *rng);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name DataLoader
 *  @{ */

/** Options of data_loader_new(). */
typedef struct DataLoaderOptions {
    int64_t batch_size; /**< examples per batch (>= 1) */
    bool shuffle;       /**< a new random order each epoch */
    uint64_t seed;      /**< the order of epoch e is a permutation seeded by seed and e */
    bool drop_last;     /**< drop the last batch if it is smaller than batch_size */
} DataLoaderOptions;

/** One batch. Its objects are owned by the loader (see data_loader_next()). */
typedef struct Batch {
    Var *x;        /**< inputs [B, ...], requires_grad false */
    Tensor *y;     /**< targets [B, ...] */
    int64_t size;  /**< B */
    int64_t index; /**< which batch of the epoch (0-based) */
} Batch;

/** Iterates over a dataset in batches. */
typedef struct DataLoader DataLoader;

/**
 * @brief A loader over @p ds.
 * @param[in] ds the examples (borrowed: the dataset must outlive the loader).
 * @param[in] opts options; NULL is an error, as is batch_size < 1.
 * @return A new loader (data_loader_free()) or NULL with an error.
 */
DataLoader *data_loader_new(Dataset *ds, const DataLoaderOptions *opts);

/**
 * @brief The next batch of the current epoch. The shuffled order of epoch e is
 *        strata_randperm() under seed (opts.seed, e), drawn without disturbing the
 *        global generator, so it is the same in every run.
 * @param[in,out] loader the loader.
 * @param[out] batch receives the batch; its x and y are borrowed from the loader, valid
 *             until the next call or data_loader_free() (retain them to keep them).
 * @return true with a batch; false at the end of the epoch (the next call begins the
 *         next epoch) or on error (see strata_last_error()). data_loader_failed() tells
 *         which, as ferror() does after a read loop:
 * @code
 * while (data_loader_next(loader, &b)) { ... }
 * if (data_loader_failed(loader)) { fprintf(stderr, "%s\n", strata_last_error()); ... }
 * @endcode
 */
bool data_loader_next(DataLoader *loader, Batch *batch);

/**
 * @brief Whether the last data_loader_next() on @p loader returned false because of an
 *        error (its message is in the error slot) rather than at the end of an epoch.
 * @return true after a failed call (or for a NULL loader, with an error); false after a
 *         batch, at the end of an epoch, and before the first call.
 */
bool data_loader_failed(const DataLoader *loader);

/**
 * @brief A sampler: the order of one epoch. Fill @p order (room for @p capacity indices,
 *        each in [0, @p n)) and return how many were written (fewer for a subset,
 *        repeats for sampling with replacement), or -1 with an error.
 */
typedef int64_t (*DataSampler)(int64_t *order, int64_t capacity, int64_t n, int64_t epoch,
                               void *ctx);

/**
 * @brief A collate function: build one batch from the examples @p indices of @p ds.
 *        Return new tensors in @p x and @p y (first dim = batch; a scope is open, so
 *        ordinary tensor_* results are fine), or -1 with an error.
 */
typedef int (*DataCollate)(const Dataset *ds, const int64_t *indices, int64_t count,
                           Tensor **x, Tensor **y, void *ctx);

/**
 * @brief Use @p sampler (with @p ctx, borrowed) for the order of every epoch from the
 *        next one on, instead of shuffle/sequential; NULL restores the default.
 * @return 0, or -1 with an error for a NULL loader.
 */
int data_loader_set_sampler(DataLoader *loader, DataSampler sampler, void *ctx);

/**
 * @brief Build batches with @p collate (with @p ctx, borrowed) instead of stacking the
 *        examples and applying the dataset's transform; NULL restores the default.
 * @return 0, or -1 with an error for a NULL loader.
 */
int data_loader_set_collate(DataLoader *loader, DataCollate collate, void *ctx);

/** @brief Batches per epoch (counting drop_last; with a sampler, of the epoch being
 *         iterated, which calls the sampler if the epoch has not started), or -1. */
int64_t data_loader_num_batches(const DataLoader *loader);
/** @brief The epoch being iterated (0 at first), or -1 with an error. */
int64_t data_loader_epoch(const DataLoader *loader);
/**
 * @brief Restart at the beginning of epoch @p epoch (to resume a run).
 * @return 0, or -1 with an error (negative epoch).
 */
int data_loader_set_epoch(DataLoader *loader, int64_t epoch);
/**
 * @brief The example indices of the current epoch, in order (borrowed; @p n receives the
 *        count). NULL with an error for a NULL loader.
 */
const int64_t *data_loader_order(const DataLoader *loader, int64_t *n);
/** @brief Destroy @p loader and the batch it still holds. NULL is ignored. */
void data_loader_free(DataLoader *loader);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Training
 *  @{ */

/**
 * @brief A loss for the training loop: the mean loss of @p model on @p x and targets
 *        @p y, a one-element Var with a graph. Return NULL with an error to stop.
 */
typedef Var *(*TrainLossFn)(Module *model, Var *x, const Tensor *y, void *ctx);

/**
 * @brief The default loss: nn_cross_entropy(nn_forward(model, x), y), y holding class
 *        indices. @p ctx is ignored.
 */
Var *train_cross_entropy_loss(Module *model, Var *x, const Tensor *y, void *ctx);

/** Options of train_epoch(). Zero-initialise, then set what you need. */
typedef struct TrainOptions {
    TrainLossFn loss_fn;      /**< the loss; NULL: train_cross_entropy_loss */
    void *loss_ctx;           /**< passed to loss_fn */
    int64_t micro_batch_size; /**< split each batch into micro-batches of this size and
                                   accumulate their gradients, each loss weighted by its
                                   share of the batch (same gradient as the whole batch,
                                   less memory); 0: no split */
    float clip_grad_norm;     /**< clip the global 2-norm to this before each step; 0: off */
    LRScheduler *step_scheduler; /**< stepped after every optimizer step (borrowed), or NULL */
    FILE *progress;           /**< where to report progress: a bar when it is a terminal,
                                   a plain line every @ref log_every batches otherwise;
                                   NULL: silent */
    int64_t log_every;        /**< batches between plain lines (0: 100) */
    const char *label;        /**< progress prefix, e.g. "epoch 3/10" (NULL: "train") */
    int (*before_step)(void *ctx); /**< called once per batch when its gradients are
                                        complete, before clipping and the optimizer step
                                        (data-parallel training averages gradients across
                                        ranks here); a negative return stops the epoch
                                        with that error; NULL: none */
    void *before_step_ctx;    /**< passed to before_step */
} TrainOptions;

/** What an epoch of training or an evaluation measured. */
typedef struct TrainStats {
    double loss;      /**< mean loss per example */
    double accuracy;  /**< fraction of examples whose argmax output equals the target
                           (NAN when the targets are not class indices) */
    int64_t examples; /**< examples seen */
    int64_t batches;  /**< batches seen */
    double seconds;   /**< wall-clock time */
} TrainStats;

/**
 * @brief One epoch: for each batch of @p loader, forward, backward and optim_step() (with
 *        the micro-batching, clipping and scheduling of @p opts). Gradients are set to
 *        none before each batch. The model is put in training mode.
 * @param[in,out] model the model (its parameters are those of @p opt).
 * @param[in,out] opt any optimizer, built-in or from optim_new().
 * @param[in,out] loader the batches (one full epoch is consumed).
 * @param[in] opts options, or NULL for defaults.
 * @param[out] stats if not NULL, the epoch's mean loss, accuracy (from the same forward
 *             passes, for the default loss) and time.
 * @return 0, or -1 with an error (the epoch stops at the failing batch).
 */
int train_epoch(Module *model, Optimizer *opt, DataLoader *loader, const TrainOptions *opts,
                TrainStats *stats);

/**
 * @brief Evaluate @p model over every batch of @p loader under no-grad mode in eval
 *        mode (restoring the previous mode after): mean loss (cross entropy when
 *        @p loss_fn is NULL) and accuracy (argmax of the outputs vs class indices).
 * @return 0, or -1 with an error.
 */
int train_evaluate(Module *model, DataLoader *loader, TrainLossFn loss_fn, void *loss_ctx,
                   TrainStats *stats);

/**
 * @brief Fraction of rows of @p logits [B, C] whose argmax equals @p targets [B].
 * @return The accuracy in [0, 1], or NAN with an error (shapes).
 */
double train_accuracy(const Tensor *logits, const Tensor *targets);

/** A progress reporter (bar or lines). */
typedef struct TrainProgress TrainProgress;

/**
 * @brief Start reporting progress over @p total items to @p stream: a bar redrawn in
 *        place ("label [=====>    ] 120/469 25.6 it/s loss 0.4123 ETA 0:13") when
 *        @p stream is a terminal, else a plain line every @p every items.
 * @return A new reporter (train_progress_end() frees it), or NULL with an error.
 */
TrainProgress *train_progress_begin(FILE *stream, int64_t total, const char *label,
                                    int64_t every);
/** @brief Report @p done items so far and the running @p loss. NULL is ignored. */
void train_progress_update(TrainProgress *p, int64_t done, double loss);
/** @brief Finish the line and free @p p. NULL is ignored. */
void train_progress_end(TrainProgress *p);

/** A per-epoch metrics CSV. */
typedef struct TrainLog TrainLog;

/**
 * @brief Create (truncate) @p path and write the header
 *        "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds".
 * @return A new log (train_log_close()) or NULL with an error naming the path.
 */
TrainLog *train_log_open(const char *path);
/**
 * @brief Reopen the log of a run resumed after epoch @p epochs (the epoch
 *        train_checkpoint_load() returned): keep the header and the rows of epochs
 *        1..@p epochs, drop later rows (an interrupted run may have logged epochs its last
 *        checkpoint lacks), and append from there, so the log and its plot cover the
 *        whole run. A missing file is created as by train_log_open().
 * @param[in] path the log written by train_log_open().
 * @param[in] epochs epochs the resumed model has trained (>= 0).
 * @return A log to append to (train_log_close()), or NULL with an error (a file that is
 *         not such a log is left untouched).
 */
TrainLog *train_log_resume(const char *path, int64_t epochs);
/**
 * @brief Append one row (and flush it, so a crash keeps the finished epochs).
 * @return 0, or -1 with an error.
 */
int train_log_append(TrainLog *log, int64_t epoch, const TrainStats *train,
                     const TrainStats *test, float lr, double seconds);
/** @brief Close the file and free @p log. NULL is ignored. */
void train_log_close(TrainLog *log);

/**
 * @brief Plot the loss and accuracy curves of a train_log CSV with gnuplot into @p png.
 * @return 0 when the plot was written; 1 when gnuplot is not installed (nothing done, no
 *         error); -1 with an error when @p csv cannot be read or has no epochs yet (only
 *         the header), or gnuplot failed.
 */
int train_plot_csv(const char *csv, const char *png);

/**
 * @brief Save a checkpoint: the model's state dict (as "model.<name>"), the optimizer's
 *        state (as in optim_state_dict()), the scheduler's epoch if @p sched is not NULL,
 *        "epoch" = @p epoch, and the generator's state, in one safetensors file written
 *        atomically.
 *
 * A model or optimizer state holding NaN or Inf (a diverged run) is refused: the error
 * names the tensor, and the file at @p path keeps its previous checkpoint.
 * @return 0, or -1 with an error (nothing written).
 */
int train_checkpoint_save(const char *path, Module *model, const Optimizer *opt,
                          const LRScheduler *sched, int64_t epoch);

/**
 * @brief Load a checkpoint written by train_checkpoint_save() into @p model, @p opt and
 *        @p sched (may be NULL), restoring the generator's state. Everything is
 *        validated before anything changes; the model's keys and shapes first, so a
 *        checkpoint of another architecture is reported by its keys.
 *
 * The data loader is not part of the checkpoint: to continue with the batches the
 * uninterrupted run would have seen, set its epoch to the one returned here, and reopen
 * the metrics log with train_log_resume():
 * @code
 * int64_t done = 0;
 * if (train_checkpoint_load("ckpt.st", model, opt, sched, &done) < 0) { ... }
 * data_loader_set_epoch(train_loader, done);   // epoch e's shuffle is seeded by e
 * TrainLog *log = train_log_resume("metrics.csv", done);
 * for (int64_t epoch = done; epoch < epochs; epoch++) { ... }
 * @endcode
 * @param[in] path the checkpoint file.
 * @param[in,out] model the model (same architecture as the saved one).
 * @param[in,out] opt the optimizer (same kind and parameter groups).
 * @param[in,out] sched the scheduler to set to the saved epoch, or NULL.
 * @param[out] epoch receives the saved epoch (may be NULL).
 * @return 0, or -1 with an error.
 */
int train_checkpoint_load(const char *path, Module *model, Optimizer *opt, LRScheduler *sched,
                          int64_t *epoch);
/** @} */

/* ==== L2L section: owned by optim/l2l.c (issue 7) ==================================== */
/* ------------------------------------------------------------------------------------ */
/** @name L2L (layer-to-layer execution)
 *  Train a model whose layers are the children of a Sequential or ModuleList with a
 *  working set that does not grow with depth (Pudipeddi et al., "Training Large Neural
 *  Networks with Constant Memory using a New Execution Algorithm", 2020). One step:
 *  - **forward**, layer by layer, each layer over every microbatch, without recording a
 *    graph; only the boundary activations are kept (the host stash, B x d_l floats per
 *    boundary). After the last layer, the loss of each microbatch is weighted by
 *    rows/B (so a batch the microbatch size does not divide still gives the plain
 *    loss) and its gradient with respect to the output is stashed;
 *  - **backward**, from the last layer down: for each microbatch, recompute the layer's
 *    forward from its stashed input with a graph, backpropagate the stashed output
 *    gradient, accumulate the layer's parameter gradients, and overwrite the stashed
 *    input with its gradient; then, optionally, update that layer at once (eager
 *    update).
 *
 *  The gradients equal plain backprop over the whole batch (up to float rounding).
 *  Stochastic layers (Dropout) draw from the tensor generator seeded with
 *  l2l_unit_seed(seed, step, layer, microbatch) for each unit, and the caller's
 *  generator state is restored after it, so the recomputation replays the same masks
 *  and l2l_step() leaves the global stream untouched. BatchNorm normalises each
 *  microbatch with its own statistics (as gradient accumulation does); its running
 *  statistics and num_batches_tracked move once per microbatch in the forward pass,
 *  never in the recomputation (every buffer of the layer is restored after it).
 *  See docs/l2l.md.
 *  @{ */

/**
 * @brief The loss of one microbatch, given the last layer's output.
 * @param[in] output the last layer's output for the microbatch's rows, a leaf that
 *            requires grad.
 * @param[in] target the targets of the same rows (rows of the @p y given to
 *            l2l_step()).
 * @param[in] ctx the L2LOptions::loss_ctx pointer.
 * @return A fresh one-element Var with a graph back to @p output: the MEAN of the
 *         per-example losses over the microbatch (the trainer weights it by rows/B), or
 *         NULL with an error to fail the step.
 */
typedef Var *(*L2LLossFn)(Var *output, const Tensor *target, void *ctx);

/**
 * @brief The default L2L loss: nn_cross_entropy(@p output, @p target) (logits [n, C],
 *        class indices [n]).
 * @param[in] output logits [n, C].
 * @param[in] target class indices [n].
 * @param[in] ctx ignored.
 * @return A fresh one-element Var, or NULL with an error (bad shapes or classes).
 */
Var *l2l_cross_entropy_loss(Var *output, const Tensor *target, void *ctx);

/**
 * @brief The mean squared error nn_mse_loss(@p output, @p target, NN_REDUCTION_MEAN)
 *        as an L2L loss.
 * @param[in] output predictions.
 * @param[in] target targets of the same shape.
 * @param[in] ctx ignored.
 * @return A fresh one-element Var, or NULL with an error (shapes differ).
 */
Var *l2l_mse_loss(Var *output, const Tensor *target, void *ctx);

/** A host store: a model's parameters and its optimizer's state in a memory-mapped
 *  safetensors file (see l2l_store_create()). */
typedef struct L2LStore L2LStore;

/** Options of l2l_new(). Zero-initialise, then set what you need. */
typedef struct L2LOptions {
    int64_t microbatch_size; /**< rows per microbatch (>= 1); the last microbatch of a
                                  batch it does not divide is smaller */
    L2LLossFn loss_fn;       /**< the loss; NULL: l2l_cross_entropy_loss() */
    void *loss_ctx;          /**< passed to @ref loss_fn (borrowed) */
    Optimizer *optimizer;    /**< optional (borrowed; must outlive the trainer): stepped
                                  once per l2l_step(), or layer by layer with
                                  @ref eager_update; NULL: gradients are only computed */
    bool eager_update;       /**< update each layer's parameters as soon as its
                                  gradients are complete (needs @ref optimizer with a
                                  per-parameter update; refused with @ref clip_grad_norm,
                                  which needs every gradient first) */
    float clip_grad_norm;    /**< clip the global 2-norm of the layers' gradients to this
                                  before the optimizer step; 0: off */
    size_t memory_budget;    /**< working-memory budget in bytes, checked against
                                  L2LStats::working_need_bytes before anything changes;
                                  0: unlimited */
    uint64_t seed;           /**< base seed of the stochastic layers (l2l_unit_seed()) */
    FILE *progress;          /**< verbose: a progress display over layers and
                                  microbatches on this stream (a bar on a terminal,
                                  plain lines otherwise); NULL: silent */
    L2LStore *store;         /**< optional host store of the same model (borrowed; must
                                  outlive the trainer): each layer's parameters are
                                  copied from the file's mapping into working tensors only
                                  while the layer runs, written back after its update, and
                                  its pages dropped. With an optimizer it needs
                                  @ref eager_update, and each layer's gradients are
                                  dropped once the layer is updated; a store that holds
                                  an optimizer's state needs that very optimizer, whose
                                  state for the layer is brought in only for its update.
                                  NULL: the parameters stay in ordinary memory */
} L2LOptions;

/** What l2l_step() or l2l_estimate() measured. Sizes are bytes of the counting
 *  allocator (strata_mem_stats()). */
typedef struct L2LStats {
    double loss;               /**< the batch's mean loss, as plain training reports it
                                    (the sum over microbatches of rows/B times their
                                    mean); NAN from l2l_estimate() */
    int64_t batch_size;        /**< B, rows of the batch */
    int64_t num_microbatches;  /**< K = ceil(B / microbatch_size) */
    int num_layers;            /**< N, the model's children */
    size_t working_need_bytes; /**< the working set a step needs: the max over layers of
                                    the layer's parameters (plus its gradients in the
                                    backward pass) and the largest allocation of one
                                    microbatch through it, measured by a dry run of the
                                    first microbatch; with a store that holds the
                                    optimizer's state, also the layer's parameters,
                                    gradients and state during its eager update. What
                                    the budget is checked against */
    size_t working_peak_bytes; /**< the same quantity measured during this step
                                    (<= @ref working_need_bytes); 0 from l2l_estimate() */
    size_t stash_bytes;        /**< the host boundary stash: exactly 4 B (d_1 + ... + d_N)
                                    bytes, d_l the floats per row at the output of layer
                                    l-1 */
    size_t peak_bytes;         /**< the absolute high-water mark of live bytes during the
                                    step (model, gradients, optimizer state, stash and
                                    working set); 0 from l2l_estimate() */
    double seconds;            /**< wall-clock time of the call */
} L2LStats;

/** An L2L trainer bound to one model (see l2l_new()). */
typedef struct L2LTrainer L2LTrainer;

/**
 * @brief Create an L2L trainer over the layers of @p model.
 * @param[in,out] model a Sequential or ModuleList (borrowed: must outlive the trainer,
 *            and its list of layers must not change while the trainer lives) whose
 *            children are the layers, applied in order. Refused: NULL, another kind of
 *            module, an empty layer list, parameters of its own (they would not be
 *            trained), a layer without a forward, a parameter shared by two layers (its
 *            per-layer gradient would be overwritten).
 * @param[in] opts options (copied); NULL, microbatch_size < 1, a negative or NaN
 *            clip_grad_norm, eager_update without an optimizer, eager_update with
 *            clip_grad_norm, and eager_update with an optimizer that has no
 *            per-parameter update (OptimizerOps::update) are errors.
 * @return A new trainer (l2l_free()), or NULL with an error naming the problem.
 */
L2LTrainer *l2l_new(Module *model, const L2LOptions *opts);

/**
 * @brief Destroy @p t (the model and the optimizer are not touched).
 * @param[in] t the trainer; NULL is ignored.
 */
void l2l_free(L2LTrainer *t);

/**
 * @brief One L2L training step on the batch (@p x, @p y).
 *
 * Sets every trainable parameter's gradient (requires_grad) to this batch's gradient of
 * the mean loss (previous gradients are dropped, not accumulated into; a parameter the
 * loss does not reach is left without one, as in plain backprop), then clips and
 * steps the optimizer if configured (or has already updated each layer, with
 * eager_update). Runs the model in its current mode (call nn_train() first, as
 * train_epoch() does). The first step of each batch shape starts with the dry run of
 * l2l_estimate(), every side effect undone: it checks that each layer's output feeds
 * the next and measures the working set. The counting allocator's bytes_peak is reset
 * by the measurement (read L2LStats::peak_bytes instead).
 * @param[in,out] t the trainer.
 * @param[in] x inputs [B, ...] (B >= 1; borrowed, never written).
 * @param[in] y targets [B, ...] for the loss (borrowed).
 * @param[out] stats if not NULL, what the step measured.
 * @return 0, or -1 with an error, with the model, its gradients and buffers, the
 *         optimizer and the generator unchanged, for: NULL arguments, B < 1, y's rows
 *         differing from B, grad mode off, a layer that refuses its input (the message
 *         names the layer, its input shape and the cause) or changes the number of
 *         rows, a loss that fails or is not one element, and a working set over the
 *         budget ("needs N bytes ... but the budget is M bytes"). Once the forward pass
 *         has succeeded only an allocation failure can stop the step.
 */
int l2l_step(L2LTrainer *t, const Tensor *x, const Tensor *y, L2LStats *stats);

/**
 * @brief What a step on a batch shaped like (@p x, @p y) needs, without training: the
 *        dry run of l2l_step() (the first microbatch through each layer, forward and
 *        recompute with backward), every side effect undone (gradients, buffers,
 *        generator). The result is cached for l2l_step() on batches of the same shapes.
 * @param[in,out] t the trainer.
 * @param[in] x inputs [B, ...] (borrowed).
 * @param[in] y targets [B, ...] (borrowed).
 * @param[out] out receives batch_size, num_microbatches, num_layers,
 *            working_need_bytes and stash_bytes (loss NAN, the rest 0); may be NULL.
 * @return 0, or -1 with an error (as l2l_step(); the budget is not checked here).
 */
int l2l_estimate(L2LTrainer *t, const Tensor *x, const Tensor *y, L2LStats *out);

/**
 * @brief Number of layers (children of the model).
 * @param[in] t the trainer.
 * @return The count, or -1 with an error for NULL.
 */
int l2l_num_layers(const L2LTrainer *t);

/**
 * @brief Steps taken so far: the step index the next l2l_step() seeds its units with.
 * @param[in] t the trainer.
 * @return The count, or -1 with an error for NULL.
 */
int64_t l2l_steps(const L2LTrainer *t);

/**
 * @brief The seed of one unit of work: the generator is seeded with it
 *        (strata_manual_seed()) before layer @p layer runs on microbatch @p microbatch
 *        of step @p step, in the forward pass and again in the recomputation, so plain
 *        code can reproduce L2L's dropout masks. A SplitMix64 mix of the four values.
 * @param[in] seed L2LOptions::seed.
 * @param[in] step the trainer's step index (l2l_steps() before the step).
 * @param[in] layer the layer's index.
 * @param[in] microbatch the microbatch's index.
 * @return The seed (every value is valid).
 */
uint64_t l2l_unit_seed(uint64_t seed, int64_t step, int layer, int64_t microbatch);

/**
 * @brief Move the parameters of @p model, and the optimizer state of @p opt, into a host
 *        store: a safetensors file at @p path, mapped into memory (mmap, MAP_SHARED).
 *
 * The file holds, in this order (so one parameter's bytes are one range of the file):
 * for each entry of nn_state_dict(@p model) its values under its own name, and right
 * after each parameter of @p opt, one slot per state buffer its update creates
 * ("optim.<param>.<buffer>", e.g. "optim.0.weight.exp_avg", shaped like the parameter)
 * and its update count ("optim.<param>.step": float32 [2], lo + 2^24 * hi, exact to
 * 2^48); last, "optim.steps" (optim_step() count, same encoding). The buffers a rule
 * creates are found by running its update (OptimizerOps::update) once on a scratch copy
 * of each parameter with a zero gradient. Each parameter's Var and each existing state
 * buffer is then given a tensor whose floats are its bytes in the mapping, and the
 * ordinary copies are freed. A buffer exists from its parameter's first update on: a
 * slot of a parameter whose step is 0 holds zeros and is not in the optimizer's state.
 * The model and the optimizer keep working as usual (they read and write the mapping);
 * an L2L trainer given the store (L2LOptions::store) brings one layer at a time into
 * counted working memory (l2l_store_fetch(), l2l_store_fetch_state(),
 * l2l_store_evict()). Buffers of the model (BatchNorm statistics) stay in ordinary
 * memory; l2l_store_sync() writes them to the file.
 * @param[in] path the file to create or replace (written beside it, then renamed).
 * @param[in,out] model the model (borrowed: must outlive the store; its parameters must
 *            not be replaced while the store lives). Tensors taken from its parameters
 *            while the store is attached must not outlive the store.
 * @param[in,out] opt optional (NULL: the optimizer state stays in ordinary memory): the
 *            optimizer whose state goes in the file (borrowed: must outlive the store).
 *            Its parameters must be the model's, it needs a per-parameter update, and a
 *            parameter's state must be all of its buffers (step > 0) or none (step 0).
 * @return A new store (l2l_store_free()), or NULL with an error naming the path or the
 *         problem (cannot write or map the file, an optimizer that does not fit), with the
 *         model and the optimizer unchanged.
 */
L2LStore *l2l_store_create(const char *path, Module *model, Optimizer *opt);

/**
 * @brief Reopen a store written by l2l_store_create() to resume training: map the file
 *        and attach it to a fresh @p model (and @p opt), as l2l_store_create() would
 *        have left them.
 *
 * The file's header (JSON, parsed with cJSON) must describe exactly the tensors that
 * l2l_store_create(path, @p model, @p opt) would write: the same names, dtype F32, the
 * same shapes, data offsets inside the file, 4-byte aligned, neither overlapping nor
 * leaving holes, and the data section as long as the tensors need. Then every parameter
 * of @p model reads the file's values (through the mapping), every buffer of @p model is
 * set from the file, and @p opt's state becomes the file's: each parameter's step count,
 * its buffers (views of the mapping) when that count is above 0, and the optimizer's
 * step count. Hyperparameters are not in the file: create @p opt as it was created.
 * @param[in] path an existing store file (opened read-write).
 * @param[in,out] model a model of the same architecture (borrowed, as for
 *            l2l_store_create()).
 * @param[in,out] opt the optimizer whose state the file holds (of the same kind and
 *            hyperparameters over @p model's parameters), or NULL if the file was
 *            created without one. Its current state is replaced.
 * @return A new store (l2l_store_free()), or NULL with an error naming the path and the
 *         first mismatch (a missing, unexpected or differently shaped tensor, a
 *         truncated or corrupt file), with the model, the optimizer and the file
 *         unchanged.
 */
L2LStore *l2l_store_open(const char *path, Module *model, Optimizer *opt);

/**
 * @brief Give the model's parameters and the optimizer's state buffers ordinary tensors
 *        again, holding their current values, write the buffers and step counts, flush
 *        and unmap the file and close it. The file stays: l2l_store_open() resumes from
 *        it, and nn_load(m, path, false) reads the weights (strict only without an
 *        optimizer: the optimizer's slots are extra keys).
 * @param[in] store the store; NULL is ignored. Call it before freeing the model or the
 *            optimizer.
 */
void l2l_store_free(L2LStore *store);

/**
 * @brief Write the model's buffers and the optimizer's step count into the file and
 *        flush the mapping to the disk (msync). l2l_step() calls it after each
 *        successful step.
 * @param[in,out] store the store.
 * @return 0, or -1 with an error.
 */
int l2l_store_sync(L2LStore *store);

/**
 * @brief The model the store holds (borrowed), or NULL with an error for NULL.
 * @param[in] store the store.
 */
Module *l2l_store_model(const L2LStore *store);

/**
 * @brief The optimizer whose state the store holds (borrowed), or NULL (no error) when
 *        it holds none; NULL with an error for a NULL @p store.
 * @param[in] store the store.
 */
Optimizer *l2l_store_optimizer(const L2LStore *store);

/**
 * @brief The path of the store's file (borrowed), or NULL with an error for NULL.
 * @param[in] store the store.
 */
const char *l2l_store_path(const L2LStore *store);

/**
 * @brief Bring parameters into the working set: each of @p params (parameters of the
 *        store's model) gets a fresh counted tensor holding the values in the file,
 *        in place of its view of the mapping. Their optimizer state stays in the file
 *        (see l2l_store_fetch_state()).
 * @param[in,out] store the store.
 * @param[in,out] params the parameters (borrowed); already resident ones are skipped.
 * @param[in] count number of entries.
 * @return 0, or -1 with an error (a parameter not in the store; nothing changed).
 */
int l2l_store_fetch(L2LStore *store, Var *const *params, int count);

/**
 * @brief Bring the optimizer state of @p params into the working set, for an update:
 *        each state buffer that exists gets a fresh counted copy of its slot in place
 *        of its view. Buffers the update creates (a parameter's first update) are
 *        created by the update itself, in counted memory; l2l_store_evict() writes them
 *        to their slots. A no-op for a store without an optimizer.
 * @param[in,out] store the store.
 * @param[in] params the parameters (borrowed); ones whose state is already in, and ones
 *            the optimizer does not hold, are skipped.
 * @param[in] count number of entries.
 * @return 0, or -1 with an error (a parameter not in the store; nothing changed).
 */
int l2l_store_fetch_state(L2LStore *store, Var *const *params, int count);

/**
 * @brief Take parameters (and their optimizer state, if it was fetched) out of the
 *        working set. If @p write_back: copy each working tensor's values (the
 *        parameter, each state buffer, the step count) into its slot of the mapping and
 *        flush that byte range (msync); then point the parameter and the state buffers
 *        at their views of the mapping again, release the working tensors, and drop
 *        the pages of the ranges from memory (madvise MADV_DONTNEED, rounded to pages).
 *        Without @p write_back the file is kept and the state goes back to it: the
 *        step count the file holds, its buffers if that count is above 0, none
 *        otherwise (a failed update is never written).
 * @param[in,out] store the store.
 * @param[in,out] params the parameters (borrowed); ones not resident are skipped.
 * @param[in] count number of entries.
 * @param[in] write_back whether the working values replace the file's.
 * @return 0, or -1 with an error (msync failed, or the update created a state buffer
 *         the store has no slot for; the parameters are evicted anyway).
 */
int l2l_store_evict(L2LStore *store, Var *const *params, int count, bool write_back);

/**
 * @brief Bytes the store has brought into the working set: the working copies of
 *        parameters and of optimizer-state buffers it made (l2l_store_fetch(),
 *        l2l_store_fetch_state()) and not yet evicted.
 * @param[in] store the store.
 * @return The bytes, 0 for NULL.
 */
size_t l2l_store_resident_bytes(const L2LStore *store);
/** @} */
/* ==== end of the L2L section ========================================================= */

/** @} */ /* end of group optim */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_OPTIM_H */
