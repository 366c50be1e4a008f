/**
 * @file l2l.h
 * @brief Week 4, the L2L part: layer-to-layer execution and its host store.
 *
 * Part of optim.h. L2L is a trainer, a peer of the training loop: it trains a model
 * layer by layer with working memory that does not grow with depth.
 */
#ifndef STRATA_OPTIM_L2L_H
#define STRATA_OPTIM_L2L_H

#include "optimizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup optim
 *  @{ */

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
 *    update). A Linear layer skips the recomputation (unless
 *    L2LOptions::recompute_all): its backward reads only its input, which is the stash
 *    cell, and its weights, so it runs from the stash with the same kernels.
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
STRATA_API Var *l2l_cross_entropy_loss(Var *output, const Tensor *target, void *ctx);

/**
 * @brief The mean squared error nn_mse_loss(@p output, @p target, NN_REDUCTION_MEAN)
 *        as an L2L loss.
 * @param[in] output predictions.
 * @param[in] target targets of the same shape.
 * @param[in] ctx ignored.
 * @return A fresh one-element Var, or NULL with an error (shapes differ).
 */
STRATA_API Var *l2l_mse_loss(Var *output, const Tensor *target, void *ctx);

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
    bool recompute_all;      /**< recompute every layer's forward in the backward pass,
                                  as the textbook algorithm does. false (the default):
                                  a Linear layer without hooks is not recomputed, since
                                  its backward needs only its input, which the stash
                                  holds, and its weights; its gradients are the same to
                                  the bit either way. true measures what the
                                  recomputation costs (bench_l2l prints both) */
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
    int64_t recomputed_units;  /**< backward units (one layer on one microbatch) that ran
                                    the layer's forward again to rebuild its graph; the
                                    others ran their backward straight from the stash
                                    (see L2LOptions::recompute_all); 0 from
                                    l2l_estimate() */
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
STRATA_API L2LTrainer *l2l_new(Module *model, const L2LOptions *opts);

/**
 * @brief Destroy @p t (the model and the optimizer are not touched).
 * @param[in] t the trainer; NULL is ignored.
 */
STRATA_API void l2l_free(L2LTrainer *t);

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
STRATA_API int l2l_step(L2LTrainer *t, const Tensor *x, const Tensor *y, L2LStats *stats);

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
STRATA_API int l2l_estimate(L2LTrainer *t, const Tensor *x, const Tensor *y, L2LStats *out);

/**
 * @brief Number of layers (children of the model).
 * @param[in] t the trainer.
 * @return The count, or -1 with an error for NULL.
 */
STRATA_API int l2l_num_layers(const L2LTrainer *t);

/**
 * @brief Steps taken so far: the step index the next l2l_step() seeds its units with.
 * @param[in] t the trainer.
 * @return The count, or -1 with an error for NULL.
 */
STRATA_API int64_t l2l_steps(const L2LTrainer *t);

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
STRATA_API uint64_t l2l_unit_seed(uint64_t seed, int64_t step, int layer, int64_t microbatch);

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
STRATA_API L2LStore *l2l_store_create(const char *path, Module *model, Optimizer *opt);

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
STRATA_API L2LStore *l2l_store_open(const char *path, Module *model, Optimizer *opt);

/**
 * @brief Give the model's parameters and the optimizer's state buffers ordinary tensors
 *        again, holding their current values, write the buffers and step counts, flush
 *        and unmap the file and close it. The file stays: l2l_store_open() resumes from
 *        it, and nn_load(m, path, false) reads the weights (strict only without an
 *        optimizer: the optimizer's slots are extra keys).
 * @param[in] store the store; NULL is ignored. Call it before freeing the model or the
 *            optimizer.
 */
STRATA_API void l2l_store_free(L2LStore *store);

/**
 * @brief Write the model's buffers and the optimizer's step count into the file and
 *        flush the mapping to the disk (msync). l2l_step() calls it after each
 *        successful step.
 * @param[in,out] store the store.
 * @return 0, or -1 with an error.
 */
STRATA_API int l2l_store_sync(L2LStore *store);

/**
 * @brief The model the store holds (borrowed), or NULL with an error for NULL.
 * @param[in] store the store.
 */
STRATA_API Module *l2l_store_model(const L2LStore *store);

/**
 * @brief The optimizer whose state the store holds (borrowed), or NULL (no error) when
 *        it holds none; NULL with an error for a NULL @p store.
 * @param[in] store the store.
 */
STRATA_API Optimizer *l2l_store_optimizer(const L2LStore *store);

/**
 * @brief The path of the store's file (borrowed), or NULL with an error for NULL.
 * @param[in] store the store.
 */
STRATA_API const char *l2l_store_path(const L2LStore *store);

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
STRATA_API int l2l_store_fetch(L2LStore *store, Var *const *params, int count);

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
STRATA_API int l2l_store_fetch_state(L2LStore *store, Var *const *params, int count);

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
STRATA_API int l2l_store_evict(L2LStore *store, Var *const *params, int count, bool write_back);

/**
 * @brief Bytes the store has brought into the working set: the working copies of
 *        parameters and of optimizer-state buffers it made (l2l_store_fetch(),
 *        l2l_store_fetch_state()) and not yet evicted.
 * @param[in] store the store.
 * @return The bytes, 0 for NULL.
 */
STRATA_API size_t l2l_store_resident_bytes(const L2LStore *store);
/** @} */

/** @} */ /* end of group optim */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_OPTIM_L2L_H */
