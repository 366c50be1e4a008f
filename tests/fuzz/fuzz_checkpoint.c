/*
 * fuzz_checkpoint.c - libFuzzer harness for what reads a state file's metadata and
 * tensors into live objects: nn_load, optim_load and train_checkpoint_load into
 * a fixed model (Linear(3, 2)), SGD-with-momentum optimizer and StepLR scheduler. Any
 * input must succeed or fail with a message, and a failure must leave the model and the
 * optimizer exactly as they were (validate first, mutate after).
 */
#include "fuzz_common.h"
#include "optim.h"

#include <string.h>

static Module *model;
static Optimizer *opt;
static LRScheduler *sched;

static void setup(void)
{
    strata_manual_seed(1);
    model = nn_linear(3, 2, true);
    opt = optim_sgd(model, 0.1f, 0.9f);
    sched = optim_step_lr(opt, 2, 0.5f);
    if (!model || !opt || !sched)
        abort();
}

/* A flat copy of every value the loads may change. */
static size_t snapshot(float *out, size_t cap)
{
    size_t n = 0;
    NnStateDict *m = nn_state_dict(model), *o = optim_state_dict(opt);
    if (!m || !o)
        abort();
    NnStateDict *both[2] = {m, o};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < both[k]->num_tensors; i++) {
            Tensor *t = both[k]->tensors[i];
            int64_t c = tensor_numel(t);
            if (n + (size_t)c > cap)
                abort();
            tensor_to_array(t, out + n);
            n += (size_t)c;
        }
    for (int i = 0; i < o->num_meta && n < cap; i++)
        out[n++] = (float)strlen(o->meta_values[i]) + (float)o->meta_values[i][0];
    if (n < cap)
        out[n++] = (float)optim_scheduler_epoch(sched);
    nn_state_dict_free(m);
    nn_state_dict_free(o);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model)
        setup();
    Scope *s = scope_begin();
    const char *path = fuzz_write_file(data, size, ".ckpt");
    static float before[4096], after[4096];
    for (int which = 0; which < 3; which++) {
        size_t n0 = snapshot(before, 4096);
        strata_clear_error();
        int rc;
        if (which == 0)
            rc = nn_load(model, path, true);
        else if (which == 1)
            rc = optim_load(opt, path);
        else
            rc = train_checkpoint_load(path, model, opt, sched, NULL);
        if (rc != 0) {
            if (strata_last_error()[0] == '\0')
                abort(); /* a failure must say why */
            size_t n1 = snapshot(after, 4096);
            if (n0 != n1 || memcmp(before, after, n0 * sizeof(float)) != 0)
                abort(); /* a failed load changed something */
        }
    }
    scope_end(s);
    unlink(path);
    return 0;
}
