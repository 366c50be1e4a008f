/*
 * test_error_contract.c - the L2L store's failure paths: creating and opening a store
 * when memory runs out or a file call fails half way (tests/harness/faultwalk.h fails
 * each allocation, then each file call: open, map, sync, the writes of the file, in
 * turn). Every time: NULL with a message, nothing leaked, the model and the optimizer
 * as they were, no new file left behind and an older store file as it was. With
 * nothing failing the store must then work: the model's values read from the file.
 */
#include "faultwalk.h"
#include "l2l_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Store {
    Module *model;
    Optimizer *opt;
    L2LStore *store;
    char path[256], fresh[300];
} Store;

static uint64_t store_state(void *ctx)
{
    Store *s = ctx;
    NnStateDict *sd = nn_state_dict(s->model);
    ck_assert_ok(sd);
    uint64_t h = FW_HASH_INIT;
    for (int i = 0; i < sd->num_tensors; i++)
        h = fw_hash_tensor(h, sd->tensors[i]);
    nn_state_dict_free(sd);
    NnStateDict *osd = optim_state_dict(s->opt);
    ck_assert_ok(osd);
    for (int i = 0; i < osd->num_tensors; i++)
        h = fw_hash_tensor(h, osd->tensors[i]);
    nn_state_dict_free(osd);
    return fw_hash_file(fw_hash_file(h, s->path), s->fresh);
}

/* The store stays open on success (the walk ends there); the test closes it. */
static int create_call(void *ctx)
{
    Store *s = ctx;
    s->store = l2l_store_create(s->path, s->model, s->opt);
    return s->store ? 0 : -1;
}

static int open_call(void *ctx)
{
    Store *s = ctx;
    s->store = l2l_store_open(s->path, s->model, s->opt);
    return s->store ? 0 : -1;
}

static void tmp_file(char *buf, size_t size, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, size, "%s/strata-l2l-%ld-%s", dir && *dir ? dir : "/tmp", (long)getpid(),
             name);
}

START_TEST(test_store_create_and_open_failures)
{
    BEGIN;
    Store s = {make_mlp(3, 4, 5, 2, 1), NULL, NULL, "", ""};
    s.opt = optim_adam(s.model, 0.01f);
    ck_assert_ok(s.opt);
    tmp_file(s.path, sizeof s.path, "contract.store");
    snprintf(s.fresh, sizeof s.fresh, "%s.new", s.path);
    NnStateDict *before = nn_state_dict(s.model);
    ck_assert_ok(before);
    Tensor *w0 = tensor_clone(before->tensors[0]);
    ck_assert_ok(w0);
    nn_state_dict_free(before);

    FW_WALK_ALLOC("l2l_store_create", create_call, store_state, &s);
    l2l_store_free(s.store);
    FW_WALK_IO("l2l_store_create", create_call, store_state, &s); /* over the old file */
    l2l_store_free(s.store);
    FW_WALK_ALLOC("l2l_store_open", open_call, store_state, &s);
    l2l_store_free(s.store);
    FW_WALK_IO("l2l_store_open", open_call, store_state, &s);
    /* open: the model reads its first weight from the file, the same values */
    NnStateDict *after = nn_state_dict(s.model);
    ck_assert_ok(after);
    ck_assert_msg(tensors_equal(after->tensors[0], w0), "the stored weight differs");
    nn_state_dict_free(after);
    l2l_store_free(s.store);
    remove(s.path);
    optim_free(s.opt);
    nn_module_free(s.model);
    END;
}
END_TEST

/* The first layer's weight and bias, what a layer's fetch brings in. */
typedef struct Layer {
    L2LStore *store;
    Var *params[2];
} Layer;

static int fetch_call(void *ctx)
{
    Layer *l = ctx;
    return l2l_store_fetch(l->store, l->params, 2);
}

/* Where the parameters' values live (a fetch swaps in working copies), and what the
 * store counts as resident. */
static uint64_t layer_state(void *ctx)
{
    Layer *l = ctx;
    uint64_t h = FW_HASH_INIT;
    for (int i = 0; i < 2; i++) {
        const float *where = var_data(l->params[i])->data;
        h = fw_hash_tensor(fw_hash_bytes(h, &where, sizeof where), var_data(l->params[i]));
    }
    size_t resident = l2l_store_resident_bytes(l->store);
    return fw_hash_bytes(h, &resident, sizeof resident);
}

/* A fetch that runs out of memory half way leaves nothing resident. An update that
 * fails is never written: evicted without write-back, the parameters read the file
 * again and the optimizer state goes back to what the file holds, here a step count of
 * 0 and no buffers (the first update's buffers are dropped). */
START_TEST(test_store_fetch_and_evict_without_write_back)
{
    BEGIN;
    Module *model = make_mlp(4, 3, 4, 2, 0);
    Optimizer *opt = optim_adam(model, 0.1f);
    ck_assert_ok(opt);
    char path[256];
    tmp_file(path, sizeof path, "evict.store");
    Layer l = {l2l_store_create(path, model, opt), {NULL, NULL}};
    ck_assert_msg(l.store != NULL, "l2l_store_create: %s", strata_last_error());
    int n = 0;
    Var **ps = nn_parameters(model, &n);
    ck_assert_ok(ps);
    l.params[0] = ps[0]; /* Linear(3, 4): weight [4, 3], bias [4] */
    l.params[1] = ps[1];
    strata_free(ps);
    Tensor *w0 = tensor_clone(var_data(l.params[0]));
    ck_assert_ok(w0);
    size_t live = strata_mem_stats().bytes_live;

    FW_WALK_ALLOC("l2l_store_fetch", fetch_call, layer_state, &l);
    ck_assert_uint_eq(l2l_store_resident_bytes(l.store), (12 + 4) * sizeof(float));
    ck_assert_int_eq(l2l_store_fetch_state(l.store, l.params, 2), 0);
    /* a first update (Adam's buffers created), then thrown away */
    for (int i = 0; i < 2; i++) {
        Tensor *g = tensor_ones(var_data(l.params[i])->shape, var_data(l.params[i])->ndim);
        ck_assert_ok(g);
        ck_assert_int_eq(optim_adam_update(opt, &opt->groups[0], l.params[i], g,
                                           &opt->groups[0].state[i]), 0);
        tensor_release(g);
    }
    ck_assert_ptr_nonnull(optim_state_find(&opt->groups[0].state[0], "exp_avg"));
    ck_assert_int_eq(l2l_store_evict(l.store, l.params, 2, false), 0);
    for (int i = 0; i < 2; i++) {
        const OptimParamState *st = &opt->groups[0].state[i];
        ck_assert_msg(st->step == 0, "parameter %d: step %lld after a discarded first update",
                      i, (long long)st->step);
        ck_assert_msg(optim_state_find(st, "exp_avg") == NULL &&
                          optim_state_find(st, "exp_avg_sq") == NULL,
                      "parameter %d keeps the buffers of a discarded first update", i);
    }
    ck_assert_msg(tensors_equal(var_data(l.params[0]), w0),
                  "the weight is not the file's after an eviction without write-back");
    ck_assert_uint_eq(l2l_store_resident_bytes(l.store), 0);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live);
    l2l_store_free(l.store);
    remove(path);
    optim_free(opt);
    nn_module_free(model);
    END;
}
END_TEST

void add_l2l_error_contract_tests(Suite *s)
{
    GRADED(s, test_store_create_and_open_failures, 3);
    GRADED(s, test_store_fetch_and_evict_without_write_back, 2);
}
