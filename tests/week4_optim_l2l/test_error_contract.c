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

void add_l2l_error_contract_tests(Suite *s)
{
    GRADED(s, test_store_create_and_open_failures, 3);
}
