/*
 * test_error_contract.c - week 3's failure paths: loading a state dict, saving and
 * loading safetensors files and BatchNorm's forward, when memory runs out or a file
 * call fails half way (tests/harness/faultwalk.h fails each allocation, then each file
 * call, in turn). Every time: the failure value with a message, nothing leaked, the
 * model as it was, and a save that fails leaves the previous file as it was and no
 * temporary file behind. With nothing failing the call must then succeed.
 */
#include "faultwalk.h"
#include "nn_test.h"

#include <stdio.h>

/* Sequential(Linear(3, 4), ReLU, Linear(4, 2)), seeded. */
static Module *mlp(uint64_t seed)
{
    strata_manual_seed(seed);
    return MUST(nn_sequential(3, nn_linear(3, 4, true), nn_relu(), nn_linear(4, 2, true)));
}

/* Every tensor of @p m's state dict, by name. */
static uint64_t module_hash(const Module *m)
{
    NnStateDict *sd = nn_state_dict(m);
    ck_assert_ok(sd);
    uint64_t h = FW_HASH_INIT;
    for (int i = 0; i < sd->num_tensors; i++) {
        h = fw_hash_bytes(h, sd->names[i], strlen(sd->names[i]));
        h = fw_hash_tensor(h, sd->tensors[i]);
    }
    nn_state_dict_free(sd);
    return h;
}

typedef struct Files {
    Module *model;
    const NnStateDict *sd;
    char path[256], tmp[300];
} Files;

static uint64_t model_state(void *ctx) { return module_hash(((Files *)ctx)->model); }

static int load_sd_call(void *ctx)
{
    Files *f = ctx;
    return nn_load_state_dict(f->model, f->sd, true, NULL, NULL);
}

START_TEST(test_load_state_dict_out_of_memory)
{
    Scope *s = scope_begin();
    Module *from = mlp(1), *to = mlp(2);
    NnStateDict *sd = nn_state_dict(from);
    ck_assert_ok(sd);
    Files f = {to, sd, "", ""};
    /* (a load that allocates nothing on this path has no failure to walk: fine) */
    FW_WALK_ALLOC("nn_load_state_dict", load_sd_call, model_state, &f);
    ck_assert_uint_eq(module_hash(to), module_hash(from)); /* loaded, every tensor */
    nn_state_dict_free(sd);
    nn_module_free(from);
    nn_module_free(to);
    scope_end(s);
}
END_TEST

static int save_call(void *ctx)
{
    Files *f = ctx;
    return nn_save(f->model, f->path);
}

/* The file at the path, and that no temporary is left beside it. */
static uint64_t file_state(void *ctx)
{
    Files *f = ctx;
    return fw_hash_file(fw_hash_file(FW_HASH_INIT, f->path), f->tmp);
}

static int load_call(void *ctx)
{
    Files *f = ctx;
    return nn_load(f->model, f->path, true);
}

START_TEST(test_save_and_load_failures)
{
    Scope *s = scope_begin();
    Module *a = mlp(1), *b = mlp(2);
    Files f = {b, NULL, "", ""};
    tmp_path(f.path, sizeof f.path, "contract.safetensors");
    snprintf(f.tmp, sizeof f.tmp, "%s.tmp", f.path);
    ck_assert_status(nn_save(a, f.path)); /* the previous file */
    uint64_t a_file = fw_hash_file(FW_HASH_INIT, f.path);
    FW_WALK_ALLOC("nn_save", save_call, file_state, &f);
    ck_assert_uint_ne(fw_hash_file(FW_HASH_INIT, f.path), a_file); /* b's now */
    ck_assert_status(nn_save(a, f.path));
    FW_WALK_IO("nn_save", save_call, file_state, &f);
    ck_assert_uint_ne(fw_hash_file(FW_HASH_INIT, f.path), a_file);
    ck_assert_status(nn_save(a, f.path));
    /* loading a's file into b */
    FW_WALK_ALLOC("nn_load", load_call, model_state, &f);
    ck_assert_uint_eq(module_hash(b), module_hash(a));
    nn_module_free(b);
    b = f.model = mlp(2);
    FW_WALK_IO("nn_load", load_call, model_state, &f);
    ck_assert_uint_eq(module_hash(b), module_hash(a));
    remove(f.path);
    nn_module_free(a);
    nn_module_free(b);
    scope_end(s);
}
END_TEST

typedef struct Norm {
    Module *bn;
    Var *x;
    float y0;
} Norm;

static int bn_call(void *ctx)
{
    Norm *n = ctx;
    Var *y = nn_forward(n->bn, n->x);
    if (!y)
        return -1;
    n->y0 = var_data(y)->data[0];
    return 0;
}

static uint64_t bn_state(void *ctx) { return module_hash(((Norm *)ctx)->bn); }

START_TEST(test_batchnorm_forward_out_of_memory)
{
    Scope *s = scope_begin();
    /* x [4, 1]: 1, 2, 3, 4; mean 2.5, biased variance 1.25: y0 = -1.5 / sqrt(1.25 + 1e-5);
     * running_mean = 0.1 * 2.5, running_var = 0.9 + 0.1 * 5/3 (unbiased 1.6667) */
    Norm n = {MUST(nn_batch_norm1d(1)),
              make_var((const float[]){1, 2, 3, 4}, (const int64_t[]){4, 1}, 2, false), 0};
    FW_WALK_ALLOC("BatchNorm1d forward (training)", bn_call, bn_state, &n);
    ck_assert_close(n.y0, -1.5 / sqrt(1.25 + 1e-5), 1e-5);
    ck_assert_close(nn_get_buffer(n.bn, "running_mean")->data[0], 0.25, 1e-6);
    ck_assert_close(nn_get_buffer(n.bn, "running_var")->data[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-5);
    nn_module_free(n.bn);
    scope_end(s);
}
END_TEST

void add_error_contract_tests(Suite *s)
{
    GRADED(s, test_load_state_dict_out_of_memory, 2);
    GRADED(s, test_save_and_load_failures, 3);
    GRADED(s, test_batchnorm_forward_out_of_memory, 2);
}
