/*
 * test_store.c - the host store (optim/l2l_store.c): the model's parameters in a
 * memory-mapped safetensors file, one layer at a time in counted memory.
 *
 * The references are the same L2L training without a store (itself checked against
 * plain training by the other files): a store moves where the weights live, not the
 * arithmetic, so gradients and weights must be the same floats. Files are made in a
 * fresh temporary directory that each test removes.
 */
#include "l2l_test.h"

#include <sys/stat.h>
#include <unistd.h>

/*
 * Each test's files go to its own directory, <TMPDIR>/strata-l2l-store-<pid>-<tag>, pid
 * being the runner's (the parent of the forked test, or the process itself with
 * CK_FORK=no). A passing test removes it; the runner removes all of them at exit too
 * (registered when the suite is built), so that a failing test, which stops at its
 * assertion, leaves nothing behind.
 */
static const char *const tmp_tags[] = {"grad", "sgd", "adam", "peak", "errors"};

static void tmp_dir_path(char *dir, size_t size, long pid, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, size, "%s/strata-l2l-store-%ld-%s", base && *base ? base : "/tmp", pid, tag);
}

static void remove_dir(const char *dir)
{
    static const char *const names[] = {"model.safetensors", "model.safetensors.tmp",
                                        "deep.safetensors", "deep.safetensors.tmp"};
    char path[700];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        remove(path);
    }
    rmdir(dir);
}

static void remove_tmp_dirs(void)
{
    char dir[600];
    for (size_t i = 0; i < sizeof tmp_tags / sizeof *tmp_tags; i++) {
        tmp_dir_path(dir, sizeof dir, (long)getpid(), tmp_tags[i]);
        remove_dir(dir);
    }
}

/* A fresh directory for the test tagged @p tag, written into @p dir. */
static void make_tmp_dir(char *dir, size_t size, const char *tag)
{
    const char *fork_mode = getenv("CK_FORK");
    long runner = fork_mode && strcmp(fork_mode, "no") == 0 ? (long)getpid() : (long)getppid();
    tmp_dir_path(dir, size, runner, tag);
    remove_dir(dir); /* left by an earlier failure */
    ck_assert_msg(mkdir(dir, 0700) == 0, "mkdir(%s) failed", dir);
}

/* Total bytes of @p m's parameters, and of its largest layer's. */
static size_t param_bytes(Module *m, size_t *largest_layer)
{
    size_t total = 0;
    *largest_layer = 0;
    for (int l = 0; l < nn_num_children(m); l++) {
        int n;
        Var **ps = nn_parameters(nn_child_at(m, l), &n);
        ck_assert_ok(ps);
        size_t layer = 0;
        for (int i = 0; i < n; i++)
            layer += (size_t)tensor_numel(var_data(ps[i])) * sizeof(float);
        strata_free(ps);
        total += layer;
        if (layer > *largest_layer)
            *largest_layer = layer;
    }
    return total;
}

/* SGD (momentum 0.9: state in ordinary memory) or Adam over @p m's parameters. */
static Optimizer *make_opt(Module *m, bool adam, float momentum)
{
    int n;
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    OptimHparams hp = adam ? optim_adam_defaults(1e-2f) : optim_sgd_defaults(0.05f);
    if (!adam)
        hp.momentum = momentum;
    Optimizer *opt = adam ? optim_adam_new(ps, n, &hp) : optim_sgd_new(ps, n, &hp);
    strata_free(ps);
    ck_assert_ok(opt);
    return opt;
}

/* Assert the file at @p path holds exactly @p m's state dict. */
static void assert_file_holds(const char *path, Module *m, const char *what)
{
    NnStateDict *file = nn_safetensors_load(path);
    ck_assert_msg(file != NULL, "%s: nn_safetensors_load: %s", what, strata_last_error());
    NnStateDict *want = nn_state_dict(m);
    ck_assert_ok(want);
    ck_assert_int_eq(file->num_tensors, want->num_tensors);
    for (int i = 0; i < want->num_tensors; i++) {
        Tensor *got = nn_state_dict_get(file, want->names[i]);
        ck_assert_msg(got != NULL, "%s: '%s' missing from the file", what, want->names[i]);
        ck_assert_msg(tensors_equal(got, want->tensors[i]), "%s: '%s' differs", what,
                      want->names[i]);
    }
    nn_state_dict_free(want);
    nn_state_dict_free(file);
}

/* Gradients with a store are the floats of L2L without one, step after step; the
 * parameters left the counted memory; none is resident between steps. */
START_TEST(test_l2l_store_gradients_match)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "grad");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Module *ref = make_mlp(41, 6, 16, 4, 3);
    Module *m = make_mlp(41, 6, 16, 4, 3);
    size_t largest, total = param_bytes(m, &largest);

    size_t before = strata_mem_stats().bytes_live;
    L2LStore *store = l2l_store_create(path, m);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    size_t after = strata_mem_stats().bytes_live;
    /* The floats now live in the mapping: the counted memory lost them all (it gains
     * only a small header per parameter and the store's table). */
    ck_assert_msg(after + total - 4096 < before,
                  "%zu parameter bytes should have left the counted memory (%zu -> %zu)",
                  total, before, after);
    ck_assert_ptr_eq(l2l_store_model(store), m);
    ck_assert_str_eq(l2l_store_path(store), path);
    assert_params_close(m, ref, 0, 0, "the model after l2l_store_create");

    L2LOptions o = l2l_options(5);
    L2LTrainer *t_ref = l2l_new(ref, &o);
    ck_assert_ok(t_ref);
    o.store = store;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    for (int s = 0; s < 2; s++) {
        Tensor *x = make_inputs(500 + (uint64_t)s, 13, 6);
        Tensor *y = make_classes((uint64_t)s, 13, 4);
        L2LStats a, b;
        ck_assert_rc(l2l_step(t_ref, x, y, &a));
        int n;
        Tensor **want = snapshot_grads(ref, &n);
        ck_assert_rc(l2l_step(t, x, y, &b));
        assert_grads_close(m, want, n, 0.0, 0.0, "with a store vs without");
        free(want);
        ck_assert_msg(a.loss == b.loss, "loss %.9g with a store, %.9g without", b.loss, a.loss);
        /* The same accounting: the working set holds one layer's weights either way. */
        ck_assert_uint_eq(b.working_peak_bytes, a.working_peak_bytes);
        ck_assert_uint_eq(l2l_store_resident_bytes(store), 0);
    }
    assert_params_close(m, ref, 0, 0, "no optimizer: the weights did not move");
    l2l_free(t);
    l2l_free(t_ref);
    l2l_store_free(store);
    assert_params_close(m, ref, 0, 0, "the model after l2l_store_free");
    nn_module_free(m);
    nn_module_free(ref);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    END;
}
END_TEST

/* N eager steps with a store give the weights of N eager steps without one; the file
 * holds them (read back with nn_safetensors_load() and nn_load()); a failed step leaves
 * the file as it was. */
static void store_training(bool adam)
{
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, adam ? "adam" : "sgd");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Module *ref = make_mlp(43, 5, 12, 3, 2);
    Module *m = make_mlp(43, 5, 12, 3, 2);
    L2LStore *store = l2l_store_create(path, m);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    Optimizer *opt_ref = make_opt(ref, adam, 0.9f), *opt = make_opt(m, adam, 0.9f);
    L2LOptions o = l2l_options(4);
    o.eager_update = true;
    o.optimizer = opt_ref;
    L2LTrainer *t_ref = l2l_new(ref, &o);
    ck_assert_ok(t_ref);
    o.optimizer = opt;
    o.store = store;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    for (int s = 0; s < 4; s++) {
        Tensor *x = make_inputs(600 + (uint64_t)s, 10, 5);
        Tensor *y = make_classes((uint64_t)s, 10, 3);
        L2LStats a, b;
        ck_assert_rc(l2l_step(t_ref, x, y, &a));
        ck_assert_rc(l2l_step(t, x, y, &b));
        ck_assert_msg(a.loss == b.loss, "step %d: loss %.9g with a store, %.9g without", s,
                      b.loss, a.loss);
        /* Each layer's gradients were consumed by its update and dropped. */
        int n;
        Var **ps = nn_parameters(m, &n);
        ck_assert_ok(ps);
        for (int i = 0; i < n; i++)
            ck_assert_msg(ps[i]->grad == NULL, "parameter %d kept its gradient", i);
        strata_free(ps);
    }
    assert_params_close(m, ref, 0, 0, "weights with a store vs without");
    assert_file_holds(path, ref, "the file after training");

    /* A failed step (a class index out of range fails the loss in the forward pass)
     * changes neither the model nor the file. */
    Tensor *x = make_inputs(700, 10, 5);
    Tensor *bad = make_classes(5, 10, 7); /* every class is 5: out of range */
    ck_assert_int_eq(l2l_step(t, x, bad, NULL), -1);
    ck_assert_error("loss");
    assert_file_holds(path, ref, "the file after a failed step");
    assert_params_close(m, ref, 0, 0, "the model after a failed step");

    l2l_free(t);
    l2l_free(t_ref);
    l2l_store_free(store);
    assert_params_close(m, ref, 0, 0, "the model after l2l_store_free");
    /* A fresh model reads the trained weights back from the file. */
    Module *fresh = make_mlp(44, 5, 12, 3, 2);
    ck_assert_msg(nn_load(fresh, path, true) == 0, "nn_load: %s", strata_last_error());
    assert_params_close(fresh, ref, 0, 0, "a fresh model loaded from the file");
    nn_module_free(fresh);
    optim_free(opt);
    optim_free(opt_ref);
    nn_module_free(m);
    nn_module_free(ref);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}

START_TEST(test_l2l_store_sgd_training_matches)
{
    BEGIN;
    store_training(false);
    END;
}
END_TEST

START_TEST(test_l2l_store_adam_training_matches)
{
    BEGIN;
    store_training(true);
    END;
}
END_TEST

/*
 * Two steps of eager SGD (no state) on a deep MLP, with a store at @p path or without
 * (NULL). Returns the model (and its store in *store); *footprint receives the
 * counted bytes the second step reached above what was live before the model existed,
 * *step_bytes above what was live just before that step.
 */
static Module *deep_run(const char *path, L2LStore **store, size_t *footprint,
                        size_t *step_bytes, L2LStats *st)
{
    const int hidden = 10;
    const int64_t B = 8, w = 128;
    size_t base = strata_mem_stats().bytes_live;
    Module *m = make_mlp(45, w, w, 10, hidden);
    *store = NULL;
    if (path) {
        *store = l2l_store_create(path, m);
        ck_assert_msg(*store != NULL, "l2l_store_create: %s", strata_last_error());
    }
    Optimizer *opt = make_opt(m, false, 0.0f);
    L2LOptions o = l2l_options(B);
    o.eager_update = true;
    o.optimizer = opt;
    o.store = *store;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    Scope *s = scope_begin();
    Tensor *x = make_inputs(800, B, w);
    Tensor *y = make_classes(3, B, 10);
    ck_assert_rc(l2l_step(t, x, y, st));
    size_t live = strata_mem_stats().bytes_live;
    ck_assert_rc(l2l_step(t, x, y, st));
    scope_end(s);
    *footprint = st->peak_bytes - base;
    *step_bytes = st->peak_bytes - live;
    l2l_free(t);
    optim_free(opt);
    return m;
}

/* For a deep MLP the step's counted memory with a store holds one layer's weights
 * (and gradients) at a time: without one it holds all of them. */
START_TEST(test_l2l_store_working_peak)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "peak");
    snprintf(path, sizeof path, "%s/deep.safetensors", dir);
    L2LStore *none, *store;
    size_t plain, stored, plain_step, stored_step;
    L2LStats a, b;
    Module *ref = deep_run(NULL, &none, &plain, &plain_step, &a);
    Module *m = deep_run(path, &store, &stored, &stored_step, &b);
    size_t largest, total = param_bytes(m, &largest);
    /* Without a store the model's weights and (after the backward pass) all gradients
     * are counted: at least 2 x total. */
    ck_assert_msg(plain >= 2 * total, "without a store the step reached %zu bytes, less "
                  "than the weights and gradients (%zu)", plain, 2 * total);
    /* With a store the step adds only the stash and the working set (the largest
     * layer's weights and gradients plus one microbatch) to what was live before it,
     * and the step's bookkeeping (the stash's table of cells, headers): under 4 KiB. */
    ck_assert_msg(stored_step <= b.stash_bytes + b.working_peak_bytes + 4096,
                  "with a store the step reached %zu bytes above what was live; the stash "
                  "is %zu and the working set %zu",
                  stored_step, b.stash_bytes, b.working_peak_bytes);
    ck_assert_msg(plain - stored >= 2 * (total - largest),
                  "with a store the peak is %zu bytes, without %zu: it should save at least "
                  "the other layers' weights and gradients, %zu bytes",
                  stored, plain, 2 * (total - largest));
    /* The working set is the same quantity either way: one layer's weights and
     * gradients plus one microbatch. */
    ck_assert_uint_ge(b.working_peak_bytes, 2 * largest);
    ck_assert_uint_eq(b.working_peak_bytes, a.working_peak_bytes);
    assert_params_close(m, ref, 0, 0, "deep MLP with a store vs without");
    l2l_store_free(store);
    nn_module_free(m);
    nn_module_free(ref);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    END;
}
END_TEST

/* Clear errors: an unwritable path (the model unchanged), a store of another model, a
 * store with a whole-model optimizer step, NULL arguments, a corrupt file. */
START_TEST(test_l2l_store_errors)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "errors");
    Module *m = make_mlp(47, 4, 6, 2, 1);
    Module *ref = make_mlp(47, 4, 6, 2, 1);
    size_t before = strata_mem_stats().bytes_live;
    snprintf(path, sizeof path, "%s/missing/model.safetensors", dir);
    ck_assert_ptr_null(l2l_store_create(path, m));
    ck_assert_error("missing/model.safetensors");
    ck_assert_uint_eq(strata_mem_stats().bytes_live, before);
    assert_params_close(m, ref, 0, 0, "the model after a failed l2l_store_create");
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_create(NULL, m));
    ck_assert_error("path");
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_create(path, NULL));
    ck_assert_error("model");

    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    L2LStore *store = l2l_store_create(path, m);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    L2LOptions o = l2l_options(2);
    o.store = store;
    ck_assert_ptr_null(l2l_new(ref, &o));
    ck_assert_error("another model");
    Optimizer *opt = make_opt(m, false, 0.0f);
    o.optimizer = opt;
    ck_assert_ptr_null(l2l_new(m, &o));
    ck_assert_error("eager_update");
    /* A parameter of another model is not in the store. */
    int n;
    Var **ps = nn_parameters(ref, &n);
    ck_assert_ok(ps);
    ck_assert_int_eq(l2l_store_fetch(store, ps, 1), -1);
    ck_assert_error("not a parameter");
    strata_free(ps);
    optim_free(opt);
    l2l_store_free(store);

    /* The file cut short is refused by the reader, naming the path. */
    ck_assert_int_eq(truncate(path, 20), 0);
    ck_assert_int_eq(nn_load(ref, path, true), -1);
    ck_assert_error("model.safetensors");
    nn_module_free(m);
    nn_module_free(ref);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    END;
}
END_TEST

void add_l2l_store_tests(Suite *s)
{
    static bool registered = false;
    if (!registered)
        registered = atexit(remove_tmp_dirs) == 0;
    GRADED(s, test_l2l_store_gradients_match, 3);
    GRADED(s, test_l2l_store_sgd_training_matches, 2);
    GRADED(s, test_l2l_store_adam_training_matches, 2);
    GRADED(s, test_l2l_store_working_peak, 3);
    GRADED(s, test_l2l_store_errors, 2);
}
