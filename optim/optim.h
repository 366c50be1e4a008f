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

#include "optimizer.h"
#include "data.h"
#include "train.h"
#include "l2l.h"

/**
 * @defgroup optim Week 4: optim
 * @brief Optimizers, schedulers, clipping, optimizer state, data loading and training.
 *
 * The week's four parts each have a header, included here: optimizer.h (optimizers,
 * clipping, schedulers, state), data.h (datasets, readers, transforms, the loader),
 * train.h (the loop, progress, logs, checkpoints) and l2l.h (layer-to-layer execution).
 */

#endif /* STRATA_OPTIM_H */
