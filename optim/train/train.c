/*
 * train.c - the training loop (micro-batch gradient accumulation, clipping, progress)
 * and evaluation (accuracy and mean loss).
 */
#include "train.h"
#include "optim_internal.h"
#include "train_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- losses --- */

Var *train_cross_entropy_loss(Module *model, Var *x, const Tensor *y, void *ctx)
{
    (void)ctx;
    STRATA_CHECK_ARG(model, NULL);
    STRATA_CHECK_ARG(x, NULL);
    STRATA_CHECK_ARG(y, NULL);
    return nn_cross_entropy(nn_forward(model, x), y);
}

double train_accuracy(const Tensor *logits, const Tensor *targets)
{
    STRATA_CHECK_ARG(logits, NAN);
    STRATA_CHECK_ARG(targets, NAN);
    if (logits->ndim != 2 || targets->ndim != 1 || targets->shape[0] != logits->shape[0]) {
        char a[128], b[128];
        strata_set_error("%s: need logits [B, C] and targets [B], got %s and %s", __func__,
                         tensor_shape_str(logits, a, sizeof a),
                         tensor_shape_str(targets, b, sizeof b));
        return NAN;
    }
    /* SOLUTION BEGIN week=4 step=8 tier=core fail=NAN */
    int64_t rows = logits->shape[0], cols = logits->shape[1];
    if (rows == 0)
        return 0.0;
    int64_t correct = 0;
    for (int64_t i = 0; i < rows; i++) {
        const float *row = logits->data + i * logits->strides[0];
        int64_t best = 0;
        for (int64_t j = 1; j < cols; j++)
            if (row[j * logits->strides[1]] > row[best * logits->strides[1]])
                best = j;
        float t = targets->data[i * targets->strides[0]];
        correct += (float)best == t;
    }
    return (double)correct / (double)rows;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=4 step=8 tier=core */
/* Loss (and, for the default loss, accuracy count) of one (micro-)batch. */
static Var *batch_loss(Module *model, Var *x, const Tensor *y, TrainLossFn loss_fn,
                       void *ctx, int64_t *correct)
{
    if (loss_fn)
        return loss_fn(model, x, y, ctx);
    Var *logits = nn_forward(model, x);
    if (!logits)
        return NULL;
    double acc = train_accuracy(var_data(logits), y);
    if (isnan(acc))
        return NULL;
    *correct += (int64_t)llround(acc * (double)y->shape[0]);
    return nn_cross_entropy(logits, y);
}

/* Phase 1 of a batch of train_epoch (see there): its gradients, from zero. */
static int accumulate_gradients(const char *fn, Module *model, Optimizer *opt, const Batch *b,
                                const TrainOptions *o, double *loss_sum, int64_t *correct)
{
    optim_zero_grad(opt, true);
    int64_t micro = o->micro_batch_size > 0 ? o->micro_batch_size : b->size;
    int rc = 0;
    for (int64_t start = 0; start < b->size && rc == 0; start += micro) {
        int64_t len = b->size - start < micro ? b->size - start : micro;
        Scope *ms = scope_begin(); /* one micro-batch's graph, freed after its backward */
        Var *x = b->x;
        const Tensor *y = b->y;
        if (len != b->size) { /* views of the rows, no copy */
            x = var_new(tensor_narrow(var_data(b->x), 0, start, len), false);
            y = tensor_narrow(b->y, 0, start, len);
        }
        Var *loss = x && y ? batch_loss(model, x, y, o->loss_fn, o->loss_ctx, correct) : NULL;
        float value = loss ? tensor_item(var_data(loss)) : NAN;
        if (loss && len != b->size)
            loss = var_mul_scalar(loss, (float)len / (float)b->size);
        if (!loss || isnan(value) || var_backward(loss) < 0) {
            if (loss && isnan(value))
                strata_set_error("%s: the loss of batch %" PRId64 " is NaN", fn, b->index);
            rc = -1;
        }
        *loss_sum += (double)value * (double)len;
        scope_end(ms);
    }
    return rc;
}

/* Phase 2: the caller's hook, clipping, the step, the scheduler. */
static int update_weights(const char *fn, Optimizer *opt, const TrainOptions *o, int64_t index)
{
    if (o->before_step && o->before_step(o->before_step_ctx) < 0)
        return -1;
    if (o->clip_grad_norm > 0.0f) {
        float norm = optim_clip_grad_norm_opt(opt, o->clip_grad_norm);
        if (norm < 0.0f)
            return -1;
        if (!isfinite(norm)) { /* a step now would write NaN into the weights */
            strata_set_error("%s: the gradient norm of batch %" PRId64 " is %g (NaN or "
                             "infinite gradients; nothing was updated)", fn, index,
                             (double)norm);
            return -1;
        }
    }
    if (optim_step(opt) < 0)
        return -1;
    if (o->step_scheduler && optim_scheduler_step(o->step_scheduler) < 0)
        return -1;
    return 0;
}
/* SOLUTION END */

/* ------------------------------------------------------------------ train_epoch --- */

/*
 * One batch of train_epoch is two phases: its gradients, then the update.
 *
 * The gradients start from zero and are accumulated in micro-batches of
 * micro_batch_size rows (0: the whole batch at once). Each micro-batch's mean loss,
 * weighted by its share of the batch, sums to the batch's mean loss: the accumulated
 * gradient is the whole batch's, whatever the micro-batch size, and only one
 * micro-batch's graph is in memory at a time. A NaN loss stops the epoch before its
 * backward: its gradients would be NaN, and the step would write NaN into every weight.
 *
 * Then the update, in this order: the caller's before_step (data-parallel training
 * averages the gradients across ranks there), so that clipping sees the averaged
 * gradients; clipping, where a norm that is NaN or infinite stops the epoch before the
 * step, so the weights stay finite; the optimizer's step; and last the scheduler, which
 * sets the lr of the next step, not of this one.
 */

int train_epoch(Module *model, Optimizer *opt, DataLoader *loader, const TrainOptions *opts,
                TrainStats *stats)
{
    STRATA_CHECK_ARG(model, -1);
    STRATA_CHECK_ARG(opt, -1);
    STRATA_CHECK_ARG(loader, -1);
    TrainOptions o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (o.micro_batch_size < 0 || o.clip_grad_norm < 0.0f) {
        strata_set_error("%s: negative micro_batch_size (%" PRId64 ") or clip_grad_norm (%g)",
                         __func__, o.micro_batch_size, (double)o.clip_grad_norm);
        return -1;
    }
    /* SOLUTION BEGIN week=4 step=8 tier=core fail=-1 */
    double t0 = train_now_seconds();
    int64_t total_batches = data_loader_num_batches(loader);
    TrainProgress *progress = o.progress
        ? train_progress_begin(o.progress, total_batches, o.label ? o.label : "train",
                               o.log_every > 0 ? o.log_every : 100)
        : NULL;
    nn_train(model, true); /* dropout drops, BatchNorm uses and updates batch statistics */
    /* The epoch's statistics count only the batches whose step was taken, so after a
     * failure they describe what the weights went through. */
    double loss_sum = 0.0;
    int64_t examples = 0, batches = 0, correct = 0;
    int rc = 0;
    Batch b;
    while (rc == 0 && data_loader_next(loader, &b)) {
        /* One batch: the scope frees every intermediate tensor of its graphs. */
        Scope *s = scope_begin();
        double batch_loss_sum = 0.0;
        int64_t batch_correct = 0; /* counted only if the whole batch succeeds */
        rc = accumulate_gradients(__func__, model, opt, &b, &o, &batch_loss_sum, &batch_correct);
        if (rc == 0)
            rc = update_weights(__func__, opt, &o, b.index);
        scope_end(s);
        if (rc == 0) {
            loss_sum += batch_loss_sum;
            correct += batch_correct;
            examples += b.size;
            batches++;
            train_progress_update(progress, batches, loss_sum / (double)examples);
        }
    }
    if (rc == 0 && data_loader_failed(loader)) /* not the end of the epoch: an error */
        rc = -1;
    if (rc != 0) /* skip the rest of the epoch: the loader starts the next one */
        data_loader_set_epoch(loader, data_loader_epoch(loader) + 1);
    train_progress_end(progress);
    if (stats) {
        /* Means per example, not per batch: the last batch may be smaller. Accuracy is
         * known only for the default loss (a custom loss has no notion of a class). */
        stats->loss = examples ? loss_sum / (double)examples : NAN;
        stats->accuracy = o.loss_fn || !examples ? NAN : (double)correct / (double)examples;
        stats->examples = examples;
        stats->batches = batches;
        stats->seconds = train_now_seconds() - t0;
    }
    return rc;
    /* SOLUTION END */
}

int train_evaluate(Module *model, DataLoader *loader, TrainLossFn loss_fn, void *loss_ctx,
                   TrainStats *stats)
{
    STRATA_CHECK_ARG(model, -1);
    STRATA_CHECK_ARG(loader, -1);
    /* SOLUTION BEGIN week=4 step=8 tier=core fail=-1 */
    double t0 = train_now_seconds();
    /* Evaluation changes nothing: eval mode (dropout off, BatchNorm's running statistics
     * read, not updated), no graph recorded (no gradient is wanted, and the memory of a
     * graph is saved), and the model's mode put back as it was found. */
    bool was_training = nn_is_training(model);
    nn_eval(model);
    autograd_no_grad_begin();
    double loss_sum = 0.0;
    int64_t examples = 0, batches = 0, correct = 0;
    int rc = 0;
    Batch b;
    while (rc == 0 && data_loader_next(loader, &b)) {
        Scope *s = scope_begin();
        int64_t batch_correct = 0;
        Var *loss = batch_loss(model, b.x, b.y, loss_fn, loss_ctx, &batch_correct);
        if (!loss) {
            rc = -1; /* the stats count the batches before this one */
        } else {
            loss_sum += (double)tensor_item(var_data(loss)) * (double)b.size;
            correct += batch_correct;
            examples += b.size;
            batches++;
        }
        scope_end(s);
    }
    autograd_no_grad_end();
    if (rc == 0 && data_loader_failed(loader)) /* as in train_epoch: an error, not the end */
        rc = -1;
    if (rc != 0)
        data_loader_set_epoch(loader, data_loader_epoch(loader) + 1);
    nn_train(model, was_training);
    if (stats) {
        stats->loss = examples ? loss_sum / (double)examples : NAN;
        stats->accuracy = loss_fn || !examples ? NAN : (double)correct / (double)examples;
        stats->examples = examples;
        stats->batches = batches;
        stats->seconds = train_now_seconds() - t0;
    }
    return rc;
    /* SOLUTION END */
}
