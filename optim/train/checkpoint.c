/*
 * checkpoint.c - checkpoints: model, optimizer, scheduler and epoch in one safetensors
 * file, loaded back all or nothing.
 *
 * The format is one safetensors file holding two state dicts side by side, told apart
 * by a prefix on every key:
 *
 *     model.<name>       the model's tensors (nn_state_dict(): parameters and buffers)
 *     optim.<key>        the optimizer's tensors and metadata (optim_state_dict(), state.c)
 *     epoch              metadata: the last finished epoch
 *     rng_state          metadata: strata's random generator, so that a resumed run draws
 *                        the same numbers (dropout masks) as one that never stopped
 *     scheduler_epoch    metadata, when a scheduler was given
 *
 * One file, not three: a run stopped between writing the model and writing the
 * optimizer would otherwise leave a checkpoint whose parts belong to different epochs.
 * The file is written by nn_safetensors_save(), which writes a temporary file and
 * renames it over the old one, so a save that fails anywhere leaves the previous
 * checkpoint byte for byte as it was: the last good checkpoint is never lost to a full
 * disk or a crash.
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

/* ------------------------------------------------------------------ checkpoints --- */

/* -1 with an error naming the first tensor of @p sd (keys shown with @p prefix) that
 * holds a NaN or an infinity; 0 when every value is finite. The save checks this before
 * writing anything: a diverged run must not replace its last good checkpoint with one
 * that every resumed run would inherit. Each tensor is made contiguous in a scope of its
 * own, so at most one copy is alive at a time. */
static int check_finite(const NnStateDict *sd, const char *prefix, const char *path)
{
    for (int i = 0; i < sd->num_tensors; i++) {
        Scope *s = scope_begin();
        Tensor *c = tensor_contiguous(sd->tensors[i]);
        int64_t n = c ? tensor_numel(c) : 0, bad = -1;
        for (int64_t k = 0; k < n && bad < 0; k++)
            if (!isfinite(c->data[k]))
                bad = k;
        float value = bad >= 0 ? c->data[bad] : 0.0f;
        scope_end(s);
        if (!c)
            return -1;
        if (bad >= 0) {
            strata_set_error("train_checkpoint_save: %s%s holds %g (element %" PRId64 " of %"
                             PRId64 "): a checkpoint with NaN or Inf would poison every run "
                             "that resumes from it, so nothing was written (%s is as it was)",
                             prefix, sd->names[i], (double)value, bad, n, path);
            return -1;
        }
    }
    return 0;
}

int train_checkpoint_save(const char *path, Module *model, const Optimizer *opt,
                          const LRScheduler *sched, int64_t epoch)
{
    STRATA_CHECK_ARG(path, -1);
    STRATA_CHECK_ARG(model, -1);
    STRATA_CHECK_ARG(opt, -1);
    /* Gather everything in memory first (the two state dicts, then the file's one), check
     * it, and only then write: a failure before the last step changes no file. */
    NnStateDict *msd = nn_state_dict(model);
    NnStateDict *osd = msd ? optim_state_dict(opt) : NULL;
    NnStateDict *all = osd ? nn_state_dict_new() : NULL;
    int rc = all ? 0 : -1;
    if (rc == 0)
        rc = check_finite(msd, "model.", path) < 0 || check_finite(osd, "optim.", path) < 0
                 ? -1 : 0;
    char key[512], value[64];
    for (int i = 0; rc == 0 && i < msd->num_tensors; i++) {
        snprintf(key, sizeof key, "model.%s", msd->names[i]);
        rc = nn_state_dict_set(all, key, msd->tensors[i]);
    }
    for (int i = 0; rc == 0 && i < osd->num_tensors; i++) {
        snprintf(key, sizeof key, "optim.%s", osd->names[i]);
        rc = nn_state_dict_set(all, key, osd->tensors[i]);
    }
    for (int i = 0; rc == 0 && i < osd->num_meta; i++) {
        snprintf(key, sizeof key, "optim.%s", osd->meta_keys[i]);
        rc = nn_state_dict_set_meta(all, key, osd->meta_values[i]);
    }
    if (rc == 0) {
        snprintf(value, sizeof value, "%" PRId64, epoch);
        rc = nn_state_dict_set_meta(all, "epoch", value);
    }
    if (rc == 0) {
        snprintf(value, sizeof value, "%" PRIu64, strata_rng_get_state());
        rc = nn_state_dict_set_meta(all, "rng_state", value);
    }
    if (rc == 0 && sched) {
        snprintf(value, sizeof value, "%" PRId64, optim_scheduler_epoch(sched));
        rc = nn_state_dict_set_meta(all, "scheduler_epoch", value);
    }
    if (rc == 0) /* the only step that touches the disk: temporary file, then rename */
        rc = nn_safetensors_save(all, path);
    nn_state_dict_free(all);
    nn_state_dict_free(osd);
    nn_state_dict_free(msd);
    return rc;
}

/* Parse an integer metadata value; -1 with an error (naming @p fn) when it is absent or
 * not an integer. */
static int meta_i64(const NnStateDict *sd, const char *key, int64_t *out, const char *fn)
{
    const char *v = nn_state_dict_get_meta(sd, key);
    char *end = NULL;
    if (!v) {
        strata_set_error("%s: the checkpoint has no '%s'", fn, key);
        return -1;
    }
    long long x = strtoll(v, &end, 10);
    if (end == v || *end) {
        strata_set_error("%s: '%s' = '%s' is not an integer", fn, key, v);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

/* The model's part of a checkpoint, loaded between the optimizer's check and commit
 * (the hook of optim_load_state_dict_then: state.c). */
typedef struct ModelLoad {
    Module *model;
    const NnStateDict *sd;
} ModelLoad;

static int load_model(void *ctx)
{
    const ModelLoad *load = ctx;
    return nn_load_state_dict(load->model, load->sd, true, NULL, NULL);
}

/* 1 when @p sd has exactly @p model's keys, with its shapes (what a strict
 * nn_load_state_dict() checks before it copies anything), 0 when not, -1 with an error
 * when the model's own state dict cannot be made. */
static int model_matches(Module *model, const NnStateDict *sd)
{
    NnStateDict *own = nn_state_dict(model);
    if (!own)
        return -1;
    bool ok = own->num_tensors == sd->num_tensors;
    for (int i = 0; ok && i < own->num_tensors; i++)
        ok = nn_state_dict_contains(sd, own->names[i]) &&
             tensor_same_shape(own->tensors[i], nn_state_dict_get(sd, own->names[i]));
    nn_state_dict_free(own);
    return ok ? 1 : 0;
}

int train_checkpoint_load(const char *path, Module *model, Optimizer *opt, LRScheduler *sched,
                          int64_t *epoch)
{
    STRATA_CHECK_ARG(path, -1);
    STRATA_CHECK_ARG(model, -1);
    STRATA_CHECK_ARG(opt, -1);
    /* The checks run from the cheapest to the one that allocates most, and nothing of
     * the caller's changes until all of them passed: the file is read and split back
     * into the model's and the optimizer's dicts, the metadata is read, the model's keys
     * are checked, then the optimizer stages its state and the model loads. */
    NnStateDict *all = nn_safetensors_load(path);
    if (!all)
        return -1;
    /* The dicts share the file's tensors (nn_state_dict_set retains, not copies). */
    NnStateDict *msd = nn_state_dict_new(), *osd = nn_state_dict_new();
    int rc = msd && osd ? 0 : -1;
    for (int i = 0; rc == 0 && i < all->num_tensors; i++) {
        if (strncmp(all->names[i], "model.", 6) == 0)
            rc = nn_state_dict_set(msd, all->names[i] + 6, all->tensors[i]);
        else if (strncmp(all->names[i], "optim.", 6) == 0)
            rc = nn_state_dict_set(osd, all->names[i] + 6, all->tensors[i]);
    }
    for (int i = 0; rc == 0 && i < all->num_meta; i++)
        if (strncmp(all->meta_keys[i], "optim.", 6) == 0)
            rc = nn_state_dict_set_meta(osd, all->meta_keys[i] + 6, all->meta_values[i]);
    int64_t saved_epoch = 0, sched_epoch = -1;
    const char *rng_text = nn_state_dict_get_meta(all, "rng_state");
    if (rc == 0)
        rc = meta_i64(all, "epoch", &saved_epoch, __func__);
    if (rc == 0 && !rng_text) {
        strata_set_error("%s: %s has no 'rng_state'", __func__, path);
        rc = -1;
    }
    if (rc == 0 && sched)
        rc = meta_i64(all, "scheduler_epoch", &sched_epoch, __func__);
    /* A checkpoint of another architecture must be reported as such, not by the
     * optimizer's parameter counts: check the model's keys and shapes first. */
    int fits = rc == 0 ? model_matches(model, msd) : 1;
    if (fits < 0)
        rc = -1;
    if (fits == 0) {
        char msg[1024];
        nn_load_state_dict(model, msd, true, NULL, NULL); /* fails, loads nothing, names the keys */
        snprintf(msg, sizeof msg, "%s", strata_last_error());
        strata_set_error("%s: %s does not fit this model: %s", __func__, path, msg);
        rc = -1;
    }
    /* The optimizer's state is validated and allocated first; the model loads (all or
     * nothing) in between; only then does the optimizer take its new state, a step
     * that cannot fail. So a model that refuses its tensors, or memory that runs out,
     * leaves both untouched. */
    if (rc == 0) {
        ModelLoad load = {model, msd};
        rc = optim_load_state_dict_then(opt, osd, load_model, &load);
    }
    /* Everything loaded: the rest are plain assignments, which cannot fail, so the
     * generator, the scheduler and the epoch change only together with the weights. */
    if (rc == 0) {
        strata_rng_set_state((uint64_t)strtoull(rng_text, NULL, 10));
        if (sched)
            optim_scheduler_set_epoch(sched, sched_epoch);
        if (epoch)
            *epoch = saved_epoch;
    }
    nn_state_dict_free(msd);
    nn_state_dict_free(osd);
    nn_state_dict_free(all);
    return rc;
}
