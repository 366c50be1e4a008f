/*
 * state.c - the optimizer's state dict: hyperparameters and step counts as metadata
 * strings, state buffers as tensors, in nn's NnStateDict (and so in safetensors files).
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

/* The hyperparameters as (name, float field or bool field). */
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

int optim_load_state_dict_then(Optimizer *opt, const NnStateDict *sd, int (*then)(void *ctx),
                               void *ctx)
{
    const char *fn = "optim_load_state_dict";
    if (!opt || !sd) {
        strata_error_null(fn, !opt ? "opt" : "sd");
        return -1;
    }
    const char *name = nn_state_dict_get_meta(sd, "optimizer");
    const char *mine = opt->ops->name ? opt->ops->name : "";
    if (!name || strcmp(name, mine) != 0) {
        strata_set_error("%s: the state is for optimizer '%s', not '%s'", fn,
                         name ? name : "(none)", mine);
        return -1;
    }
    int64_t num_groups, steps;
    if (meta_int(sd, "num_groups", &num_groups, fn) < 0 || meta_int(sd, "steps", &steps, fn) < 0)
        return -1;
    if (num_groups != opt->num_groups) {
        strata_set_error("%s: the state has %" PRId64 " parameter groups, the optimizer %d", fn,
                         num_groups, opt->num_groups);
        return -1;
    }
    /* Pass 1: parse and validate everything into new arrays. */
    int total = 0;
    for (int g = 0; g < opt->num_groups; g++)
        total += opt->groups[g].num_params;
    OptimHparams *hps = strata_calloc((size_t)opt->num_groups, sizeof(OptimHparams));
    float *initial = strata_calloc((size_t)opt->num_groups, sizeof(float));
    OptimParamState *states = strata_calloc((size_t)(total > 0 ? total : 1), sizeof(OptimParamState));
    char key[160];
    int rc = (hps && initial && states) ? 0 : -1;
    int k = 0;
    for (int g = 0; g < opt->num_groups && rc == 0; g++) {
        const OptimParamGroup *grp = &opt->groups[g];
        int64_t np;
        snprintf(key, sizeof key, "group.%d.num_params", g);
        if ((rc = meta_int(sd, key, &np, fn)) < 0)
            break;
        if (np != grp->num_params) {
            strata_set_error("%s: group %d has %" PRId64 " parameters in the state, %d in the "
                             "optimizer", fn, g, np, grp->num_params);
            rc = -1;
            break;
        }
        snprintf(key, sizeof key, "group.%d.initial_lr", g);
        if ((rc = meta_float(sd, key, &initial[g], fn)) < 0)
            break;
        for (size_t f = 0; f < NUM_HP_FIELDS && rc == 0; f++) {
            char *field = (char *)&hps[g] + hp_fields[f].offset;
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
            rc = optim_check_hparams(opt->ops, &hps[g], fn);
        for (int i = 0; i < grp->num_params && rc == 0; i++, k++) {
            snprintf(key, sizeof key, "state.%d.%d.step", g, i);
            if ((rc = meta_int(sd, key, &states[k].step, fn)) < 0)
                break;
            char prefix[64];
            int plen = snprintf(prefix, sizeof prefix, "state.%d.%d.", g, i);
            const Tensor *pdata = var_data(grp->params[i]);
            for (int t = 0; t < sd->num_tensors && rc == 0; t++) {
                if (strncmp(sd->names[t], prefix, (size_t)plen) != 0)
                    continue;
                const char *buf_name = sd->names[t] + plen;
                if (!tensor_same_shape(sd->tensors[t], pdata)) {
                    char a[128], b[128];
                    strata_set_error("%s: '%s' has shape %s but the parameter %s", fn,
                                     sd->names[t], tensor_shape_str(sd->tensors[t], a, sizeof a),
                                     tensor_shape_str(pdata, b, sizeof b));
                    rc = -1;
                    break;
                }
                if (!optim_state_buffer(&states[k], buf_name, pdata)) {
                    rc = -1;
                    break;
                }
                tensor_copy_(optim_state_find(&states[k], buf_name), sd->tensors[t]);
            }
        }
    }
    /* Everything is validated and allocated: the caller's own all-or-nothing step (a
     * checkpoint loads the model here) decides whether the optimizer changes too. */
    if (rc == 0 && then)
        rc = then(ctx);
    if (rc == 0) {
        /* Pass 2: commit (nothing here can fail). */
        k = 0;
        for (int g = 0; g < opt->num_groups; g++) {
            OptimParamGroup *grp = &opt->groups[g];
            grp->hp = hps[g];
            grp->initial_lr = initial[g];
            for (int i = 0; i < grp->num_params; i++, k++) {
                for (int b = 0; b < grp->state[i].num_buffers; b++)
                    tensor_release(grp->state[i].buffers[b]);
                grp->state[i] = states[k];
                states[k].num_buffers = 0; /* moved */
            }
        }
        opt->steps = steps;
    }
    for (int i = 0; states && i < total; i++)
        for (int b = 0; b < states[i].num_buffers; b++)
            tensor_release(states[i].buffers[b]);
    strata_free(states);
    strata_free(hps);
    strata_free(initial);
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
