/**
 * @file train.h
 * @brief Week 4, the training part: the loop, evaluation, the progress bar, the
 *        metrics CSV and its plot, checkpoints.
 *
 * Part of optim.h. Training drives an optimizer over a DataLoader.
 */
#ifndef STRATA_OPTIM_TRAIN_H
#define STRATA_OPTIM_TRAIN_H

#include "optimizer.h"
#include "data.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup optim
 *  @{ */

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
STRATA_API Var *train_cross_entropy_loss(Module *model, Var *x, const Tensor *y, void *ctx);

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
STRATA_API int train_epoch(Module *model, Optimizer *opt, DataLoader *loader, const TrainOptions *opts,
                           TrainStats *stats);

/**
 * @brief Evaluate @p model over every batch of @p loader under no-grad mode in eval
 *        mode (restoring the previous mode after): mean loss (cross entropy when
 *        @p loss_fn is NULL) and accuracy (argmax of the outputs vs class indices).
 * @return 0, or -1 with an error.
 */
STRATA_API int train_evaluate(Module *model, DataLoader *loader, TrainLossFn loss_fn, void *loss_ctx,
                              TrainStats *stats);

/**
 * @brief Fraction of rows of @p logits [B, C] whose argmax equals @p targets [B].
 * @return The accuracy in [0, 1], or NAN with an error (shapes).
 */
STRATA_API double train_accuracy(const Tensor *logits, const Tensor *targets);

/** A progress reporter (bar or lines). */
typedef struct TrainProgress TrainProgress;

/**
 * @brief Start reporting progress over @p total items to @p stream: a bar redrawn in
 *        place ("label [=====>    ] 120/469 25.6 it/s loss 0.4123 ETA 0:13") when
 *        @p stream is a terminal, else a plain line every @p every items.
 * @return A new reporter (train_progress_end() frees it), or NULL with an error.
 */
STRATA_API TrainProgress *train_progress_begin(FILE *stream, int64_t total, const char *label,
                                               int64_t every);
/** @brief Report @p done items so far and the running @p loss. NULL is ignored. */
STRATA_API void train_progress_update(TrainProgress *p, int64_t done, double loss);
/** @brief Finish the line and free @p p. NULL is ignored. */
STRATA_API void train_progress_end(TrainProgress *p);

/** A per-epoch metrics CSV. */
typedef struct TrainLog TrainLog;

/**
 * @brief Create (truncate) @p path and write the header
 *        "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds".
 * @return A new log (train_log_close()) or NULL with an error naming the path.
 */
STRATA_API TrainLog *train_log_open(const char *path);
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
STRATA_API TrainLog *train_log_resume(const char *path, int64_t epochs);
/**
 * @brief Append one row (and flush it, so a crash keeps the finished epochs).
 * @return 0, or -1 with an error.
 */
STRATA_API int train_log_append(TrainLog *log, int64_t epoch, const TrainStats *train,
                                const TrainStats *test, float lr, double seconds);
/** @brief Close the file and free @p log. NULL is ignored. */
STRATA_API void train_log_close(TrainLog *log);

/**
 * @brief Plot the loss and accuracy curves of a train_log CSV with gnuplot into @p png.
 * @return 0 when the plot was written; 1 when gnuplot is not installed (nothing done, no
 *         error); -1 with an error when @p csv cannot be read or has no epochs yet (only
 *         the header), when a path holds a quote or is one gnuplot would run as a command
 *         (starting with '<' or '|', or holding a line break; "./|name" names a file), or
 *         gnuplot failed.
 */
STRATA_API int train_plot_csv(const char *csv, const char *png);

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
STRATA_API int train_checkpoint_save(const char *path, Module *model, const Optimizer *opt,
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
STRATA_API int train_checkpoint_load(const char *path, Module *model, Optimizer *opt, LRScheduler *sched,
                                     int64_t *epoch);
/** @} */


/** @} */ /* end of group optim */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_OPTIM_TRAIN_H */
