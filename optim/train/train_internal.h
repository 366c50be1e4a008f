/*
 * train_internal.h - what the training part lends the other trainers (L2L) and never
 * installs.
 */
#ifndef STRATA_OPTIM_TRAIN_INTERNAL_H
#define STRATA_OPTIM_TRAIN_INTERNAL_H

#include "train.h"
#include "tensor_internal.h" /* StrataText, strata_strdup(), strata_strerror() */

/* Seconds on the monotonic clock: what rates, ETAs and TrainStats::seconds measure. */
double train_now_seconds(void);

#endif
