/*
 * state.c - the optimizer's state dict: hyperparameters and step counts as metadata
 * strings, state buffers as tensors, in nn's NnStateDict (and so in safetensors files).
 *
 * The format, as keys of the state dict (g a group, i a parameter of it, in the order
 * the optimizer was given them):
 *
 *     optimizer                 the update rule's name ("sgd", "adam", ...)
 *     num_groups, steps         integers
 *     group.g.num_params        integer
 *     group.g.initial_lr        float (what the schedulers scale)
 *     group.g.<hyperparameter>  float, or 0/1 for a flag (hp_fields below)
 *     state.g.i.step            integer (the parameter's own step count)
 *     state.g.i.<buffer>        a tensor of the parameter's shape ("momentum", "exp_avg")
 *
 * Everything but the buffers is text: metadata is what safetensors keeps as strings, and
 * text keeps a file readable with any safetensors tool. Floats are written with "%.9g",
 * enough digits for strtof to give back the same bits, so a save and a load change
 * nothing. Parameters are named by position, not by name: an optimizer knows its
 * parameters as Vars, and the model's names are the model's state dict's business.
 */
#include "optimizer.h"
#include "optim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Format a float so that strtof gives back the same bits ("%.9g"). */
static void optim_format_float(char *buf, size_t size, float value)
{
    snprintf(buf, size, "%.9g", (double)value);
}

/* ------------------------------------------------------- the optimizer's state --- */

/* The hyperparameters as (name, float field or bool field): one table drives both the
 * save and the load, so a new hyperparameter is added in one place. */
typedef struct HpField {
    const char *name;
    size_t offset;
    bool is_bool;
} HpField;

static const HpField hp_fields[] = {
    {"lr", offsetof(OptimHparams, lr), false},
    {"weight_decay", offsetof(OptimHparams, weight_decay), false},
    {"momentum", offsetof(OptimHparams, momentum), false},
    {"dampening", offsetof(OptimHparams, dampening), false},
    {"nesterov", offsetof(OptimHparams, nesterov), true},
    {"maximize", offsetof(OptimHparams, maximize), true},
    {"beta1", offsetof(OptimHparams, beta1), false},
    {"beta2", offsetof(OptimHparams, beta2), false},
    {"eps", offsetof(OptimHparams, eps), false},
    {"amsgrad", offsetof(OptimHparams, amsgrad), true},
    {"alpha", offsetof(OptimHparams, alpha), false},
    {"centered", offsetof(OptimHparams, centered), true},
};
#define NUM_HP_FIELDS (sizeof hp_fields / sizeof hp_fields[0])

static int set_meta_f(NnStateDict *sd, const char *key, float v)
{
    char buf[64];
    optim_format_float(buf, sizeof buf, v);
    return nn_state_dict_set_meta(sd, key, buf);
}

static int set_meta_i(NnStateDict *sd, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return nn_state_dict_set_meta(sd, key, buf);
}

NnStateDict *optim_state_dict(const Optimizer *opt)
{
    STRATA_CHECK_ARG(opt, NULL);
    NnStateDict *sd = nn_state_dict_new();
    if (!sd)
        return NULL;
    char key[160];
    /* rc collects failures (out of memory) with |=; the loops stop at the first one, and
     * a failed dict is freed whole, so the caller gets all of it or nothing. */
    int rc = nn_state_dict_set_meta(sd, "optimizer", opt->ops->name ? opt->ops->name : "");
    rc |= set_meta_i(sd, "num_groups", opt->num_groups);
    rc |= set_meta_i(sd, "steps", opt->steps);
    for (int g = 0; g < opt->num_groups && rc == 0; g++) {
        const OptimParamGroup *grp = &opt->groups[g];
        snprintf(key, sizeof key, "group.%d.num_params", g);
        rc |= set_meta_i(sd, key, grp->num_params);
        snprintf(key, sizeof key, "group.%d.initial_lr", g);
        rc |= set_meta_f(sd, key, grp->initial_lr);
        for (size_t f = 0; f < NUM_HP_FIELDS; f++) {
            const char *field = (const char *)&grp->hp + hp_fields[f].offset;
            snprintf(key, sizeof key, "group.%d.%s", g, hp_fields[f].name);
            if (hp_fields[f].is_bool)
                rc |= set_meta_i(sd, key, *(const bool *)field ? 1 : 0);
            else
                rc |= set_meta_f(sd, key, *(const float *)field);
        }
        for (int i = 0; i < grp->num_params && rc == 0; i++) {
            const OptimParamState *st = &grp->state[i];
            snprintf(key, sizeof key, "state.%d.%d.step", g, i);
            rc |= set_meta_i(sd, key, st->step);
            for (int b = 0; b < st->num_buffers && rc == 0; b++) {
                snprintf(key, sizeof key, "state.%d.%d.%s", g, i, st->names[b]);
                /* A copy: the dict must not share storage with the live state, which
                 * the next step changes in place. The scope drops our reference once
                 * the dict holds its own. */
                Scope *s = scope_begin();
                Tensor *copy = tensor_clone(st->buffers[b]);
                rc |= copy ? nn_state_dict_set(sd, key, copy) : -1;
                scope_end(s);
            }
        }
    }
    if (rc != 0) {
        nn_state_dict_free(sd);
        return NULL;
    }
    return sd;
}

/* Parse an integer metadata value; -1 with an error when absent or malformed. */
static int meta_int(const NnStateDict *sd, const char *key, int64_t *out, const char *fn)
{
    const char *v = nn_state_dict_get_meta(sd, key);
    char *end = NULL;
    if (!v) {
        strata_set_error("%s: the state dict has no '%s'", fn, key);
        return -1;
    }
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end) {
        strata_set_error("%s: '%s' = '%s' is not an integer", fn, key, v);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

/* Parse a float metadata value (strtof reads back what "%.9g" wrote, bit for bit); -1
 * with an error when absent or malformed. */
static int meta_float(const NnStateDict *sd, const char *key, float *out, const char *fn)
{
    const char *v = nn_state_dict_get_meta(sd, key);
    char *end = NULL;
    if (!v) {
        strata_set_error("%s: the state dict has no '%s'", fn, key);
        return -1;
    }
    float x = strtof(v, &end);
    if (end == v || *end) {
        strata_set_error("%s: '%s' = '%s' is not a number", fn, key, v);
        return -1;
    }
    *out = x;
    return 0;
}

int optim_load_state_dict(Optimizer *opt, const NnStateDict *sd)
{
    return optim_load_state_dict_then(opt, sd, NULL, NULL);
}

/* ------------------------------------------------- loading: the staged state --- */

/*
 * Loading is all or nothing: a state dict that fails any check half way must leave the
 * optimizer as it was, or a training run resumed from a bad file would go on with half
 * of one state and half of another. So the load runs in two passes. Pass 1 parses and
 * checks everything into a StagedState, new memory the optimizer does not see; only
 * when all of it is there does pass 2 (commit_staged) move it in, and nothing in pass 2
 * can fail.
 */
typedef struct StagedState {
    OptimHparams *hps;       /* per group: the hyperparameters */
    float *initial;          /* per group: initial_lr */
    OptimParamState *states; /* per parameter, group after group (total of them) */
    int total;
} StagedState;

/* The header keys, checked before anything is allocated: the update rule must be the
 * same (an Adam state in an SGD would put exp_avg where momentum is expected), and so
 * must the number of groups. Gives the step count in @p steps. */
static int check_state_header(const Optimizer *opt, const NnStateDict *sd, const char *fn,
                              int64_t *steps)
{
    const char *name = nn_state_dict_get_meta(sd, "optimizer");
    const char *mine = opt->ops->name ? opt->ops->name : "";
    if (!name || strcmp(name, mine) != 0) {
        strata_set_error("%s: the state is for optimizer '%s', not '%s'", fn,
                         name ? name : "(none)", mine);
        return -1;
    }
    int64_t num_groups;
    if (meta_int(sd, "num_groups", &num_groups, fn) < 0 || meta_int(sd, "steps", steps, fn) < 0)
        return -1;
    if (num_groups != opt->num_groups) {
        strata_set_error("%s: the state has %" PRId64 " parameter groups, the optimizer %d", fn,
                         num_groups, opt->num_groups);
        return -1;
    }
    return 0;
}

/* Zeroed arrays for every group and parameter of @p opt; -1 if one could not be had
 * (staged_free frees what was). A state per parameter, at least one so that an
 * optimizer without parameters still gets a pointer to tell from a failure. */
static int staged_alloc(const Optimizer *opt, StagedState *st)
{
    st->total = 0;
    for (int g = 0; g < opt->num_groups; g++)
        st->total += opt->groups[g].num_params;
    st->hps = strata_calloc((size_t)opt->num_groups, sizeof(OptimHparams));
    st->initial = strata_calloc((size_t)opt->num_groups, sizeof(float));
    st->states = strata_calloc((size_t)(st->total > 0 ? st->total : 1), sizeof(OptimParamState));
    return (st->hps && st->initial && st->states) ? 0 : -1;
}

/* What is still staged: everything after a failure, the emptied states after a commit. */
static void staged_free(StagedState *st)
{
    for (int i = 0; st->states && i < st->total; i++)
        for (int b = 0; b < st->states[i].num_buffers; b++)
            tensor_release(st->states[i].buffers[b]);
    strata_free(st->states);
    strata_free(st->hps);
    strata_free(st->initial);
}

/* Group @p g's keys: its size (it must match the optimizer's, or the states would land
 * on the wrong parameters), its initial lr and its hyperparameters, which are checked
 * as the optimizer's constructor checks them (a file can hold a negative lr). */
static int stage_group(const Optimizer *opt, const NnStateDict *sd, int g, StagedState *st,
                       const char *fn)
{
    const OptimParamGroup *grp = &opt->groups[g];
    char key[160];
    int64_t np;
    snprintf(key, sizeof key, "group.%d.num_params", g);
    if (meta_int(sd, key, &np, fn) < 0)
        return -1;
    if (np != grp->num_params) {
        strata_set_error("%s: group %d has %" PRId64 " parameters in the state, %d in the "
                         "optimizer", fn, g, np, grp->num_params);
        return -1;
    }
    snprintf(key, sizeof key, "group.%d.initial_lr", g);
    if (meta_float(sd, key, &st->initial[g], fn) < 0)
        return -1;
    int rc = 0;
    for (size_t f = 0; f < NUM_HP_FIELDS && rc == 0; f++) {
        char *field = (char *)&st->hps[g] + hp_fields[f].offset;
        snprintf(key, sizeof key, "group.%d.%s", g, hp_fields[f].name);
        if (hp_fields[f].is_bool) {
            int64_t b = 0;
            rc = meta_int(sd, key, &b, fn);
            *(bool *)field = b != 0;
        } else {
            rc = meta_float(sd, key, (float *)field, fn);
        }
    }
    if (rc == 0)
        rc = optim_check_hparams(opt->ops, &st->hps[g], fn);
    return rc;
}

/* Parameter @p i of group @p g into @p state: its step count and every buffer the dict
 * holds for it ("state.g.i.<name>"), each of the parameter's shape. Buffers are copied
 * into new tensors: the dict stays the caller's, and may be freed after the load. */
static int stage_param(const OptimParamGroup *grp, const NnStateDict *sd, int g, int i,
                       OptimParamState *state, const char *fn)
{
    char key[160];
    snprintf(key, sizeof key, "state.%d.%d.step", g, i);
    if (meta_int(sd, key, &state->step, fn) < 0)
        return -1;
    char prefix[64];
    int plen = snprintf(prefix, sizeof prefix, "state.%d.%d.", g, i);
    const Tensor *pdata = var_data(grp->params[i]);
    for (int t = 0; t < sd->num_tensors; t++) {
        if (strncmp(sd->names[t], prefix, (size_t)plen) != 0)
            continue;
        const char *buf_name = sd->names[t] + plen;
        if (!tensor_same_shape(sd->tensors[t], pdata)) {
            char a[128], b[128];
            strata_set_error("%s: '%s' has shape %s but the parameter %s", fn,
                             sd->names[t], tensor_shape_str(sd->tensors[t], a, sizeof a),
                             tensor_shape_str(pdata, b, sizeof b));
            return -1;
        }
        if (!optim_state_buffer(state, buf_name, pdata))
            return -1;
        tensor_copy_(optim_state_find(state, buf_name), sd->tensors[t]);
    }
    return 0;
}

/* Pass 2: the staged state becomes the optimizer's. Only pointers and values move, so
 * nothing here can fail; the old buffers are released, the staged states emptied (their
 * buffers now belong to the optimizer). */
static void commit_staged(Optimizer *opt, StagedState *st, int64_t steps)
{
    int k = 0;
    for (int g = 0; g < opt->num_groups; g++) {
        OptimParamGroup *grp = &opt->groups[g];
        grp->hp = st->hps[g];
        grp->initial_lr = st->initial[g];
        for (int i = 0; i < grp->num_params; i++, k++) {
            for (int b = 0; b < grp->state[i].num_buffers; b++)
                tensor_release(grp->state[i].buffers[b]);
            grp->state[i] = st->states[k];
            st->states[k].num_buffers = 0; /* moved */
        }
    }
    opt->steps = steps;
}

int optim_load_state_dict_then(Optimizer *opt, const NnStateDict *sd, int (*then)(void *ctx),
                               void *ctx)
{
    /* The public name, for messages: checkpoints call this with a hook, users the
     * plain optim_load_state_dict(), and either way the message names what they called. */
    const char *fn = "optim_load_state_dict";
    if (!opt || !sd) {
        strata_error_null(fn, !opt ? "opt" : "sd");
        return -1;
    }
    int64_t steps;
    if (check_state_header(opt, sd, fn, &steps) < 0)
        return -1;
    /* Pass 1: parse and validate everything into new arrays. */
    StagedState st;
    int rc = staged_alloc(opt, &st);
    for (int g = 0, k = 0; g < opt->num_groups && rc == 0; g++) {
        rc = stage_group(opt, sd, g, &st, fn);
        for (int i = 0; i < opt->groups[g].num_params && rc == 0; i++, k++)
            rc = stage_param(&opt->groups[g], sd, g, i, &st.states[k], fn);
    }
    /* Everything is validated and allocated: the caller's own all-or-nothing step (a
     * checkpoint loads the model here) decides whether the optimizer changes too. */
    if (rc == 0 && then)
        rc = then(ctx);
    if (rc == 0)
        commit_staged(opt, &st, steps);
    staged_free(&st);
    return rc;
}

int optim_save(const Optimizer *opt, const char *path)
{
    NnStateDict *sd = optim_state_dict(opt);
    if (!sd)
        return -1;
    int rc = nn_safetensors_save(sd, path);
    nn_state_dict_free(sd);
    return rc;
}

int optim_load(Optimizer *opt, const char *path)
{
    STRATA_CHECK_ARG(opt, -1);
    NnStateDict *sd = nn_safetensors_load(path);
    if (!sd)
        return -1;
    int rc = optim_load_state_dict(opt, sd);
    nn_state_dict_free(sd);
    return rc;
}
