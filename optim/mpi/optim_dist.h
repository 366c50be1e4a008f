/**
 * @file optim_dist.h
 * @brief Data-parallel training over MPI (optional part of week 4's optim layer).
 *
 * Built only where MPI is installed (Debian's openmpi-bin and libopenmpi-dev; `make deps`
 * installs them) into libstrata_dist.a; the rest of strata builds without it.
 *
 * The design follows PyTorch's DistributedDataParallel:
 * - at start, rank 0's parameters and buffers are broadcast so every rank begins equal;
 * - each rank runs forward and backward on its own shard of the batch;
 * - a gradient hook on every parameter (var_set_grad_hook()) copies each gradient into
 *   a flat buffer as soon as backward has computed it;
 * - across machines the buffer is summed in a few buckets, one MPI_Iallreduce per
 *   bucket, started during backward as soon as a bucket's gradients are complete, so
 *   the last layers' gradients travel while the first layers are still being
 *   differentiated; when every rank runs on one machine the buffer is the rank's
 *   segment of memory shared by all ranks (MPI_Win_allocate_shared), and summing is
 *   reading the segments: no messages (optim_ddp_set_shared_memory());
 * - optim_ddp_allreduce_gradients(), before the optimizer step, completes the sum and
 *   divides by the number of ranks;
 * - every rank steps its own optimizer on identical averaged gradients, so the
 *   parameters stay identical without further communication.
 * Whichever way (optim_ddp_set_overlap(), optim_ddp_set_shared_memory()), every element
 * is the sum of the ranks' values times 1 / world size: on 2 ranks the same bits every
 * way (tested); on more, MPI chooses the order of its additions and shared memory adds
 * in rank order. See docs/distributed.md.
 *
 * Ownership and errors follow tensor.h: -1/NULL with a message in strata_last_error().
 */
#ifndef STRATA_OPTIM_DIST_H
#define STRATA_OPTIM_DIST_H

#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @addtogroup optim
 * @{
 */

/** @name Distributed data parallel (MPI)
 *  @{ */

/**
 * @brief Start MPI (MPI_Init) unless it is already running.
 * @param[in,out] argc, argv the program's arguments (MPI may consume some).
 * @return 0, or -1 with an error.
 */
STRATA_API int optim_dist_init(int *argc, char ***argv);

/** @brief Shut MPI down (MPI_Finalize) if this library started it. */
STRATA_API void optim_dist_finalize(void);

/** @brief This process's rank in MPI_COMM_WORLD (0 when MPI is not running). */
STRATA_API int optim_dist_rank(void);

/** @brief Number of ranks in MPI_COMM_WORLD (1 when MPI is not running). */
STRATA_API int optim_dist_world_size(void);

/** A data-parallel wrapper around a model (see optim_ddp_new()). */
typedef struct OptimDDP OptimDDP;

/**
 * Default bucket size of optim_ddp_new(): 256 KB. PyTorch's 25 MB suits models of
 * hundreds of megabytes; strata's MLP has 0.94 MB of gradients, and a bucket must be
 * smaller than the model for any of it to start before backward ends.
 */
#define OPTIM_DDP_BUCKET_BYTES (256u * 1024u)

/**
 * @brief Wrap @p model for data-parallel training: broadcast its parameters and
 *        buffers from rank 0 so every rank starts from the same weights, and hook
 *        every parameter (var_set_grad_hook()) so backward can start the reduction.
 * @param[in] model the model (borrowed; must outlive the wrapper). Every rank must
 *            build the same architecture.
 * @param[in] bucket_bytes most bytes of gradient per bucket (0: OPTIM_DDP_BUCKET_BYTES);
 *            a larger parameter gets a bucket of its own. The buckets are made after
 *            the first backward, in the order the gradients became complete there.
 * @return A wrapper freed with optim_ddp_free(), or NULL with an error (MPI not
 *         initialised, ranks disagree on the number or sizes of parameters).
 */
STRATA_API OptimDDP *optim_ddp_new(Module *model, size_t bucket_bytes);

/**
 * @brief Average every parameter's gradient across ranks (sum, then multiply by 1 /
 *        world size). Call it once after backward, before the optimizer step: it starts
 *        the buckets backward did not start, waits for all of them and writes the
 *        averages into .grad. A parameter without a gradient on this rank contributes
 *        zeros and receives the average (so ranks stay in step).
 *
 * Overlap needs one backward per step into gradients that start empty
 * (optim_zero_grad(opt, true), as train_epoch() does). A step that accumulates several
 * backwards, or starts from gradients that are not empty, is detected and reduced the
 * blocking way from .grad: still right, but the buckets already sent are sent again
 * (turn overlap off for such training).
 * @return 0, or -1 with an error.
 */
STRATA_API int optim_ddp_allreduce_gradients(OptimDDP *ddp);

/**
 * @brief Start the buckets during backward (@p overlap true, the default) or all at
 *        once in optim_ddp_allreduce_gradients() (false).
 */
STRATA_API void optim_ddp_set_overlap(OptimDDP *ddp, bool overlap);

/**
 * @brief Sum through shared memory when every rank runs on this machine (@p shared
 *        true, the default where possible), or always through MPI's collectives of
 *        buckets (false). Shared memory needs no messages: each rank copies its
 *        gradients into its segment of one block that MPI maps into every rank
 *        (MPI_Win_allocate_shared), and reads all the segments at the step. Where the
 *        ranks span several machines this does nothing. Call it on every rank alike.
 */
STRATA_API void optim_ddp_set_shared_memory(OptimDDP *ddp, bool shared);

/** @brief Whether the gradients are summed through shared memory (see
 *         optim_ddp_set_shared_memory()). */
STRATA_API bool optim_ddp_shared_memory(const OptimDDP *ddp);

/**
 * @brief Seconds spent inside the MPI calls that sum the buckets so far (starting,
 *        progressing, waiting): the communication that compute did not hide (with
 *        overlap off, all of it). For the benchmark.
 */
STRATA_API double optim_ddp_allreduce_seconds(const OptimDDP *ddp);

/**
 * @brief Buckets started during backward, by the gradient hooks, over all steps so far
 *        (the rest started in optim_ddp_allreduce_gradients()).
 */
STRATA_API long optim_ddp_buckets_started_in_backward(const OptimDDP *ddp);

/** @brief Bytes of gradient each rank sends per optim_ddp_allreduce_gradients(). */
STRATA_API size_t optim_ddp_gradient_bytes(const OptimDDP *ddp);

/** @brief Number of buckets (MPI_Iallreduce calls per step); 0 before the first step. */
STRATA_API int optim_ddp_buckets(const OptimDDP *ddp);

/** @brief Free the wrapper (not the model). NULL is ignored. */
STRATA_API void optim_ddp_free(OptimDDP *ddp);

/**
 * @brief The example indices rank @p rank reads in epoch @p epoch, as PyTorch's
 *        DistributedSampler: a permutation seeded by seed + epoch (the same on every
 *        rank), padded by wrapping around to a multiple of @p world (or truncated when
 *        @p drop_last), then every world-th index starting at @p rank.
 * The global generator's state is left unchanged.
 * @param[in] n number of examples in the data set (> 0).
 * @param[in] rank this rank, in [0, world).
 * @param[in] world number of ranks (>= 1).
 * @param[in] seed, epoch the permutation is seeded by seed + epoch (same on every rank).
 * @param[in] shuffle permute (else the order 0..n-1).
 * @param[in] drop_last truncate to a multiple of @p world instead of padding.
 * @param[out] count receives the number of indices (ceil(n / world), or floor with
 *             @p drop_last).
 * @return An array the caller frees with strata_free(), or NULL with an error.
 */
STRATA_API int64_t *data_distributed_indices(int64_t n, int rank, int world, uint64_t seed,
                                             int64_t epoch, bool shuffle, bool drop_last,
                                             int64_t *count);

/**
 * @brief The shard of @p ds that rank @p rank reads in @p epoch (see
 *        data_distributed_indices() for the other parameters), as a new in-memory
 *        dataset whose order is the sampler's order (iterate it without shuffling).
 * @param[in] ds the whole data set (its tensors are copied, not retained).
 * @param[in] rank, world this rank and the number of ranks.
 * @param[in] seed, epoch the permutation's seed is seed + epoch.
 * @param[in] shuffle, drop_last as data_distributed_indices().
 * @return A dataset freed with data_dataset_free(), or NULL with an error.
 */
STRATA_API Dataset *data_distributed_shard(const Dataset *ds, int rank, int world, uint64_t seed,
                                           int64_t epoch, bool shuffle, bool drop_last);
/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_OPTIM_DIST_H */
