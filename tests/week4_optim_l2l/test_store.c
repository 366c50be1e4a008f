/*
 * test_store.c - the host store (optim/l2l/l2l_store.c): the model's parameters in a
 * memory-mapped safetensors file, one layer at a time in counted memory.
 *
 * The references are the same L2L training without a store (itself checked against
 * plain training by the other files): a store moves where the weights and the
 * optimizer state live, not the arithmetic, so gradients, weights and state must be the
 * same floats, and training resumed from a reopened file must be the floats of training
 * that never stopped. Files are made in a
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
static const char *const tmp_tags[] = {"grad",       "sgd",      "adam",     "peak",
                                       "errors",     "st-adam",  "st-sgd",   "st-more",
                                       "resident",   "resume",   "mismatch", "corrupt",
                                       "no-opt"};

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
    L2LStore *store = l2l_store_create(path, m, NULL);
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
        ck_assert_status(l2l_step(t_ref, x, y, &a));
        int n;
        Tensor **want = snapshot_grads(ref, &n);
        ck_assert_status(l2l_step(t, x, y, &b));
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
/*
 * Two eager trainers (microbatch 4) fed the same batches: the reference without a store
 * and the one under test with @p store.
 */
static void eager_pair(Module *ref, Optimizer *opt_ref, Module *m, Optimizer *opt,
                       L2LStore *store, L2LTrainer **t_ref, L2LTrainer **t)
{
    L2LOptions o = l2l_options(4);
    o.eager_update = true;
    o.optimizer = opt_ref;
    *t_ref = l2l_new(ref, &o);
    ck_assert_ok(*t_ref);
    o.optimizer = opt;
    o.store = store;
    *t = l2l_new(m, &o);
    ck_assert_ok(*t);
}

static void store_training(bool adam)
{
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, adam ? "adam" : "sgd");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Module *ref = make_mlp(43, 5, 12, 3, 2);
    Module *m = make_mlp(43, 5, 12, 3, 2);
    L2LStore *store = l2l_store_create(path, m, NULL);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    Optimizer *opt_ref = make_opt(ref, adam, 0.9f), *opt = make_opt(m, adam, 0.9f);
    L2LTrainer *t_ref, *t;
    eager_pair(ref, opt_ref, m, opt, store, &t_ref, &t);
    for (int s = 0; s < 4; s++) {
        Tensor *x = make_inputs(600 + (uint64_t)s, 10, 5);
        Tensor *y = make_classes((uint64_t)s, 10, 3);
        L2LStats a, b;
        ck_assert_status(l2l_step(t_ref, x, y, &a));
        ck_assert_status(l2l_step(t, x, y, &b));
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
        *store = l2l_store_create(path, m, NULL);
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
    ck_assert_status(l2l_step(t, x, y, st));
    size_t live = strata_mem_stats().bytes_live;
    ck_assert_status(l2l_step(t, x, y, st));
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

/* A rule with only a whole-step update (as a dualized optimizer): nothing to run per
 * layer, so its state cannot be brought in layer by layer. */
static int whole_step(Optimizer *opt)
{
    (void)opt;
    return 0;
}

static const OptimizerOps whole_step_ops = {"whole", NULL, whole_step, NULL};

/* The first parameter of @p m (borrowed). */
static Var *first_param(Module *m)
{
    int n;
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    Var *p = ps[0];
    strata_free(ps);
    return p;
}

/* Clear errors: an unwritable path (the model unchanged), a store of another model, a
 * store with a whole-model optimizer step, NULL arguments, optimizers the store cannot
 * hold or that are not the store's, a state whose buffers disagree with its step count,
 * a corrupt file. */
START_TEST(test_l2l_store_errors)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "errors");
    Module *m = make_mlp(47, 4, 6, 2, 1);
    Module *ref = make_mlp(47, 4, 6, 2, 1);
    size_t before = strata_mem_stats().bytes_live;
    snprintf(path, sizeof path, "%s/missing/model.safetensors", dir);
    ck_assert_ptr_null(l2l_store_create(path, m, NULL));
    ck_assert_error("missing/model.safetensors");
    ck_assert_uint_eq(strata_mem_stats().bytes_live, before);
    assert_params_close(m, ref, 0, 0, "the model after a failed l2l_store_create");
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_create(NULL, m, NULL));
    ck_assert_error("path");
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_create(path, NULL, NULL));
    ck_assert_error("model");

    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    L2LStore *store = l2l_store_create(path, m, NULL);
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

    /* Optimizers the store cannot hold: one over another model's parameters, one with
     * only a whole-step rule; and a trainer given another optimizer than the store's. */
    Optimizer *other = make_opt(ref, true, 0.0f);
    ck_assert_ptr_null(l2l_store_create(path, m, other));
    ck_assert_error("is not a parameter of the model");
    assert_params_close(m, ref, 0, 0, "the model after a refused optimizer");
    Optimizer *whole = optim_new(&whole_step_ops, NULL, (Var *[]){first_param(m)}, 1,
                                 &(OptimHparams){.lr = 0.1f});
    ck_assert_ok(whole);
    ck_assert_ptr_null(l2l_store_create(path, m, whole));
    ck_assert_error("no per-parameter update");
    optim_free(whole);
    opt = make_opt(m, true, 0.0f);
    store = l2l_store_create(path, m, opt);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    o = l2l_options(2);
    o.store = store;
    o.eager_update = true;
    Optimizer *second = make_opt(m, true, 0.0f);
    o.optimizer = second;
    ck_assert_ptr_null(l2l_new(m, &o));
    ck_assert_error("another optimizer");
    l2l_store_free(store);
    optim_free(second);
    optim_free(opt);
    optim_free(other);

    /* A state the store cannot keep whole (all of a parameter's buffers from its first
     * update on, none before): Adam's first parameter claiming an update without its
     * moments, then, after a real update, claiming none while holding them. */
    opt = make_opt(m, true, 0.0f);
    opt->groups[0].state[0].step = 1;
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_create(path, m, opt));
    ck_assert_error("no state buffer");
    opt->groups[0].state[0].step = 0;
    plain_backward(m, make_inputs(48, 3, 4), make_classes(1, 3, 2), NULL);
    ck_assert_status(optim_step(opt));
    ck_assert_int_eq(opt->groups[0].state[0].step, 1);
    opt->groups[0].state[0].step = 0;
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_create(path, m, opt));
    ck_assert_error("already has state buffer");
    /* A buffer Adam's update never makes (SGD's momentum) would have no slot. */
    opt->groups[0].state[0].step = 1;
    ck_assert_ok(optim_state_buffer(&opt->groups[0].state[0], "momentum_buffer",
                                    var_data(first_param(m))));
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_create(path, m, opt));
    ck_assert_error("momentum_buffer");
    ck_assert_error("does not create");
    optim_free(opt);

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

/* ------------------------------------------------- optimizer state in the store --- */

/* The optimizers the state tests use, by name: each keeps a different set of buffers. */
static Optimizer *make_kind(Module *m, const char *kind)
{
    int n;
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    Optimizer *opt = NULL;
    if (strcmp(kind, "adam") == 0) { /* exp_avg, exp_avg_sq */
        OptimHparams hp = optim_adam_defaults(1e-2f);
        opt = optim_adam_new(ps, n, &hp);
    } else if (strcmp(kind, "adamw-amsgrad") == 0) { /* and max_exp_avg_sq */
        OptimHparams hp = optim_adamw_defaults(1e-2f);
        hp.amsgrad = true;
        opt = optim_adamw_new(ps, n, &hp);
    } else if (strcmp(kind, "sgd-momentum") == 0) {
        /* momentum_buffer; with dampening the first step (b = g) differs from the others
         * (b = mu b + (1 - d) g): a buffer made too early would change the floats. */
        OptimHparams hp = optim_sgd_defaults(0.05f);
        hp.momentum = 0.9f;
        hp.dampening = 0.1f;
        hp.weight_decay = 1e-3f;
        opt = optim_sgd_new(ps, n, &hp);
    } else if (strcmp(kind, "rmsprop-centered") == 0) { /* square_avg, grad_avg, momentum */
        OptimHparams hp = optim_rmsprop_defaults(1e-3f);
        hp.centered = true;
        hp.momentum = 0.5f;
        opt = optim_rmsprop_new(ps, n, &hp);
    }
    strata_free(ps);
    ck_assert_msg(opt != NULL, "optimizer '%s': %s", kind, strata_last_error());
    return opt;
}

/* Assert two optimizers hold the same state: every buffer the same floats, the same
 * step counts and hyperparameters (optim_state_dict() of each, compared by name). */
static void assert_opt_state_equal(const Optimizer *got, const Optimizer *want,
                                   const char *what)
{
    NnStateDict *a = optim_state_dict(got), *b = optim_state_dict(want);
    ck_assert_ok(a);
    ck_assert_ok(b);
    ck_assert_msg(a->num_tensors == b->num_tensors, "%s: %d state buffers, expected %d", what,
                  a->num_tensors, b->num_tensors);
    for (int i = 0; i < b->num_tensors; i++) {
        Tensor *t = nn_state_dict_get(a, b->names[i]);
        ck_assert_msg(t != NULL, "%s: state '%s' missing", what, b->names[i]);
        ck_assert_msg(tensors_equal(t, b->tensors[i]), "%s: state '%s' differs", what,
                      b->names[i]);
    }
    ck_assert_int_eq(a->num_meta, b->num_meta);
    for (int i = 0; i < b->num_meta; i++) {
        const char *v = nn_state_dict_get_meta(a, b->meta_keys[i]);
        ck_assert_msg(v && strcmp(v, b->meta_values[i]) == 0, "%s: '%s' is %s, expected %s",
                      what, b->meta_keys[i], v ? v : "(none)", b->meta_values[i]);
    }
    nn_state_dict_free(a);
    nn_state_dict_free(b);
}

/* Assert the file holds parameter 0's ("0.weight") state as @p want holds it: each
 * buffer under "optim.0.weight.<buffer>" and the step count [lo, hi] = [step, 0]. */
static void assert_file_holds_state(const char *path, const Optimizer *want)
{
    NnStateDict *file = nn_safetensors_load(path);
    ck_assert_msg(file != NULL, "nn_safetensors_load: %s", strata_last_error());
    const OptimParamState *st = &want->groups[0].state[0];
    char name[128];
    for (int b = 0; b < st->num_buffers; b++) {
        snprintf(name, sizeof name, "optim.0.weight.%s", st->names[b]);
        Tensor *t = nn_state_dict_get(file, name);
        ck_assert_msg(t != NULL, "the file has no '%s'", name);
        ck_assert_msg(tensors_equal(t, st->buffers[b]), "the file's '%s' differs", name);
    }
    Tensor *step = nn_state_dict_get(file, "optim.0.weight.step");
    ck_assert_msg(step != NULL && tensor_numel(step) == 2, "the file has no step count");
    float v[2];
    tensor_to_array(step, v);
    ck_assert_msg(v[0] == (float)st->step && v[1] == 0.0f, "the file's step is [%g, %g], "
                  "expected [%lld, 0]", (double)v[0], (double)v[1], (long long)st->step);
    Tensor *steps = nn_state_dict_get(file, "optim.steps");
    ck_assert_msg(steps != NULL && tensor_numel(steps) == 2, "the file has no optim.steps");
    tensor_to_array(steps, v);
    ck_assert_msg(v[0] == (float)want->steps, "optim.steps is %g, expected %lld",
                  (double)v[0], (long long)want->steps);
    nn_state_dict_free(file);
}

/*
 * Eager L2L training with the optimizer's state in the store gives the floats of the
 * same training with the state in ordinary memory: loss, weights and every state
 * buffer, step after step; the file holds the state; nothing is resident between
 * steps; after l2l_store_free() the optimizer holds ordinary tensors and training goes
 * on identically without the store.
 */
static void state_training(const char *kind, const char *tag)
{
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, tag);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Module *ref = make_mlp(53, 5, 12, 3, 2);
    Module *m = make_mlp(53, 5, 12, 3, 2);
    Optimizer *opt_ref = make_kind(ref, kind), *opt = make_kind(m, kind);
    L2LStore *store = l2l_store_create(path, m, opt);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    ck_assert_ptr_eq(l2l_store_optimizer(store), opt);

    L2LTrainer *t_ref, *t;
    eager_pair(ref, opt_ref, m, opt, store, &t_ref, &t);
    for (int s = 0; s < 4; s++) {
        Tensor *x = make_inputs(900 + (uint64_t)s, 10, 5);
        Tensor *y = make_classes((uint64_t)s, 10, 3);
        L2LStats a, b;
        ck_assert_status(l2l_step(t_ref, x, y, &a));
        size_t live = strata_mem_stats().bytes_live;
        ck_assert_status(l2l_step(t, x, y, &b));
        ck_assert_msg(a.loss == b.loss, "%s step %d: loss %.9g with the state in the store, "
                      "%.9g without", kind, s, b.loss, a.loss);
        assert_params_close(m, ref, 0, 0, "weights with the state in the store vs in RAM");
        assert_opt_state_equal(opt, opt_ref, "the optimizer state");
        ck_assert_uint_eq(l2l_store_resident_bytes(store), 0);
        /* The state did not stay in counted memory: the step leaves it as it found it. */
        ck_assert_msg(strata_mem_stats().bytes_live <= live,
                      "step %d left %zu more bytes live (the state should be in the file)", s,
                      strata_mem_stats().bytes_live - live);
    }
    assert_file_holds_state(path, opt_ref);

    /* Freed, the store gives the optimizer ordinary tensors: training goes on alike. */
    l2l_free(t);
    l2l_store_free(store);
    L2LOptions o = l2l_options(4);
    o.eager_update = true;
    o.optimizer = opt;
    t = l2l_new(m, &o);
    ck_assert_ok(t);
    Tensor *x = make_inputs(990, 10, 5);
    Tensor *y = make_classes(4, 10, 3);
    ck_assert_status(l2l_step(t_ref, x, y, NULL));
    ck_assert_status(l2l_step(t, x, y, NULL));
    assert_params_close(m, ref, 0, 0, "weights after the store was freed");
    assert_opt_state_equal(opt, opt_ref, "the optimizer state after the store was freed");
    l2l_free(t);
    l2l_free(t_ref);
    optim_free(opt);
    optim_free(opt_ref);
    nn_module_free(m);
    nn_module_free(ref);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}

START_TEST(test_l2l_store_adam_state_matches)
{
    BEGIN;
    state_training("adam", "st-adam");
    END;
}
END_TEST

START_TEST(test_l2l_store_sgd_momentum_state_matches)
{
    BEGIN;
    state_training("sgd-momentum", "st-sgd");
    END;
}
END_TEST

START_TEST(test_l2l_store_amsgrad_rmsprop_state_matches)
{
    BEGIN;
    state_training("adamw-amsgrad", "st-more");
    state_training("rmsprop-centered", "st-more");
    END;
}
END_TEST

/*
 * Watching the update: an Adam whose per-parameter update records, before running the
 * real one, how many bytes the store has brought in. The trainer calls it in the
 * middle of layer l's turn, when layer l's weights and state are in.
 */
static L2LStore *watch_store;
static size_t watch_max;   /* largest l2l_store_resident_bytes() seen by an update */
static int watch_calls;

static int watch_update(Optimizer *opt, OptimParamGroup *group, Var *param, const Tensor *grad,
                        OptimParamState *state)
{
    size_t resident = l2l_store_resident_bytes(watch_store);
    if (resident > watch_max)
        watch_max = resident;
    watch_calls++;
    return optim_adam_update(opt, group, param, grad, state);
}

static const OptimizerOps watch_ops = {"adam", watch_update, NULL, NULL};

/* Two eager Adam steps on the deep MLP with a store; @p with_state puts the optimizer's
 * state in it too. *step_peak receives the second step's peak above what was live
 * before the model existed. The model is freed. */
static void deep_adam_run(const char *path, bool with_state, size_t *step_peak,
                          L2LStats *second, size_t *resident_first, size_t *resident_second)
{
    const int64_t B = 8, w = 128;
    size_t base = strata_mem_stats().bytes_live;
    Module *m = make_mlp(45, w, w, 10, 10);
    int n;
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    OptimHparams hp = optim_adam_defaults(1e-3f);
    Optimizer *opt = optim_new(&watch_ops, NULL, ps, n, &hp);
    strata_free(ps);
    ck_assert_ok(opt);
    L2LStore *store = l2l_store_create(path, m, with_state ? opt : NULL);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    watch_store = store;
    L2LOptions o = l2l_options(B);
    o.eager_update = true;
    o.optimizer = opt;
    o.store = store;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    Scope *s = scope_begin();
    Tensor *x = make_inputs(800, B, w);
    Tensor *y = make_classes(3, B, 10);
    watch_max = 0;
    watch_calls = 0;
    ck_assert_status(l2l_step(t, x, y, NULL));
    ck_assert_int_eq(watch_calls, n);
    *resident_first = watch_max;
    watch_max = 0;
    ck_assert_status(l2l_step(t, x, y, second));
    *resident_second = watch_max;
    *step_peak = second->peak_bytes - base;
    scope_end(s);
    l2l_free(t);
    l2l_store_free(store);
    watch_store = NULL;
    optim_free(opt);
    nn_module_free(m);
    ck_assert_int_eq(remove(path), 0);
}

/*
 * With the state in the store, what the store brings in during an update is one layer's
 * weights and Adam moments (3 x that layer's parameter bytes; the weights alone on the
 * first step, when the moments do not exist yet): the largest layer's, never the
 * model's. The step's counted peak is lower than with the state in RAM by at least the
 * other layers' moments.
 */
START_TEST(test_l2l_store_state_resident_one_layer)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "resident");
    snprintf(path, sizeof path, "%s/deep.safetensors", dir);
    Module *probe = make_mlp(45, 128, 128, 10, 10);
    size_t largest, total = param_bytes(probe, &largest);
    nn_module_free(probe);

    size_t in_ram, in_file, r1_ram, r2_ram, r1, r2;
    L2LStats a, b;
    deep_adam_run(path, false, &in_ram, &a, &r1_ram, &r2_ram);
    deep_adam_run(path, true, &in_file, &b, &r1, &r2);
    /* Without the state in the store, an update sees the layer's weights only. */
    ck_assert_uint_eq(r1_ram, largest);
    ck_assert_uint_eq(r2_ram, largest);
    /* With it: the weights on the first step (Adam creates its moments then), the
     * weights and both moments after: 3 x the largest layer, out of 3 x the model. */
    ck_assert_uint_eq(r1, largest);
    ck_assert_msg(r2 == 3 * largest, "an update saw %zu bytes in from the store; one layer's "
                  "weights and moments are 3 x %zu", r2, largest);
    ck_assert_uint_lt(r2, 3 * total);
    /* The update's working set counts the layer's weights, gradients and moments. */
    ck_assert_uint_ge(b.working_need_bytes, 4 * largest);
    ck_assert_uint_le(b.working_peak_bytes, b.working_need_bytes);
    /* The moments of every other layer left the counted memory. */
    ck_assert_msg(in_ram >= in_file + 2 * (total - largest),
                  "the step's peak is %zu bytes with the state in the store and %zu with it "
                  "in RAM; it should save at least the other layers' moments, %zu bytes",
                  in_file, in_ram, 2 * (total - largest));
    ck_assert_int_eq(rmdir(dir), 0);
    END;
}
END_TEST

/* A store without an optimizer, under a trainer without one (gradients only): each
 * step still ends with the store's sync, so the file holds the model's BatchNorm
 * statistics of that step, not those of its creation. */
START_TEST(test_l2l_store_without_optimizer_syncs)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "no-opt");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    strata_manual_seed(81);
    Module *m = new_sequential();
    add_layer(m, nn_linear(5, 6, true));
    add_layer(m, nn_batch_norm1d(6));
    add_layer(m, nn_relu());
    add_layer(m, nn_linear(6, 3, true));
    L2LStore *store = l2l_store_create(path, m, NULL);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    L2LOptions o = l2l_options(4);
    o.store = store;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    for (int s = 0; s < 2; s++) {
        ck_assert_status(l2l_step(t, make_inputs(90 + (uint64_t)s, 8, 5), make_classes(1, 8, 3),
                                  NULL));
        ck_assert_msg(tensor_item(nn_get_buffer(m, "1.num_batches_tracked")) > 0.0f,
                      "BatchNorm did not count the step");
        assert_file_holds(path, m, "the file after a step without an optimizer");
    }
    l2l_free(t);
    l2l_store_free(store);
    nn_module_free(m);
    remove_dir(dir);
    END;
}
END_TEST

/* ----------------------------------------------------------- reopen to resume --- */

/* Adam over @p m (the resume tests' optimizer). */
static Optimizer *resume_opt(Module *m)
{
    return make_kind(m, "adam");
}

static void resume_step(L2LTrainer *t, int s)
{
    Tensor *x = make_inputs(1000 + (uint64_t)s, 10, 5);
    Tensor *y = make_classes((uint64_t)s, 10, 3);
    ck_assert_status(l2l_step(t, x, y, NULL));
}

/*
 * K = 3 steps with a store, everything freed, the file reopened with a fresh model
 * (initialised differently) and a fresh optimizer, M = 2 more steps: the weights and the
 * optimizer state are the floats of K + M steps of uninterrupted training.
 */
START_TEST(test_l2l_store_reopen_resumes)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "resume");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const int K = 3, M = 2;
    L2LOptions o = l2l_options(4);
    o.eager_update = true;

    /* The reference: K + M steps without a store, weights kept after K. */
    Module *ref = make_mlp(61, 5, 12, 3, 2);
    Optimizer *opt_ref = resume_opt(ref);
    o.optimizer = opt_ref;
    L2LTrainer *t_ref = l2l_new(ref, &o);
    ck_assert_ok(t_ref);
    for (int s = 0; s < K; s++)
        resume_step(t_ref, s);
    int n;
    Tensor **after_k = snapshot_params(ref, &n);
    for (int s = K; s < K + M; s++)
        resume_step(t_ref, s);

    /* K steps with a store, then everything goes. */
    Module *m = make_mlp(61, 5, 12, 3, 2);
    Optimizer *opt = resume_opt(m);
    L2LStore *store = l2l_store_create(path, m, opt);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    o.optimizer = opt;
    o.store = store;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    for (int s = 0; s < K; s++)
        resume_step(t, s);
    l2l_free(t);
    l2l_store_free(store);
    optim_free(opt);
    nn_module_free(m);

    /* A fresh model (other initial weights) and optimizer resume from the file. */
    m = make_mlp(62, 5, 12, 3, 2);
    opt = resume_opt(m);
    store = l2l_store_open(path, m, opt);
    ck_assert_msg(store != NULL, "l2l_store_open: %s", strata_last_error());
    ck_assert_int_eq(opt->steps, K);
    ck_assert_int_eq(opt->groups[0].state[0].step, K);
    ck_assert_int_eq(opt->groups[0].state[0].num_buffers, 2);
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    for (int i = 0; i < n; i++)
        ck_assert_msg(tensors_equal(var_data(ps[i]), after_k[i]),
                      "parameter %d after l2l_store_open is not the one after %d steps", i, K);
    strata_free(ps);
    free(after_k);
    o.optimizer = opt;
    o.store = store;
    t = l2l_new(m, &o);
    ck_assert_ok(t);
    for (int s = K; s < K + M; s++)
        resume_step(t, s);
    assert_params_close(m, ref, 0, 0, "weights resumed from the file vs uninterrupted");
    assert_opt_state_equal(opt, opt_ref, "the optimizer resumed from the file");
    l2l_free(t);
    l2l_store_free(store);
    l2l_free(t_ref);
    optim_free(opt);
    optim_free(opt_ref);
    nn_module_free(m);
    nn_module_free(ref);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    END;
}
END_TEST

/* The whole file in a malloc'd buffer (*size bytes). */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *data = malloc((size_t)n + 1);
    ck_assert(data != NULL);
    ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

/* "'optim.0.weight.exp_avg...'": the first of parameter 0's Adam moments in the store
 * file's header, quoted as the error naming the first unexpected tensor quotes it. */
static void first_moment_slot(const char *path, char *out, size_t size)
{
    size_t n;
    unsigned char *bytes = slurp(path, &n);
    ck_assert_uint_ge(n, 8);
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)bytes[i] << (8 * i);
    ck_assert_uint_le(len, n - 8);
    char *header = strndup((const char *)bytes + 8, (size_t)len);
    ck_assert(header != NULL);
    const char *at = strstr(header, "\"optim.0.weight.exp_avg");
    ck_assert_msg(at != NULL, "the store file holds no Adam moment of parameter 0");
    const char *end = strchr(at + 1, '"');
    ck_assert(end != NULL);
    snprintf(out, size, "'%.*s'", (int)(end - at - 1), at + 1);
    free(header);
    free(bytes);
}

static void spit(const char *path, const unsigned char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

/* A store file of the 5-12-3 MLP with Adam after one step, at @p path. */
static void write_trained_store(const char *path)
{
    Module *m = make_mlp(63, 5, 12, 3, 2);
    Optimizer *opt = resume_opt(m);
    L2LStore *store = l2l_store_create(path, m, opt);
    ck_assert_msg(store != NULL, "l2l_store_create: %s", strata_last_error());
    L2LOptions o = l2l_options(4);
    o.eager_update = true;
    o.optimizer = opt;
    o.store = store;
    L2LTrainer *t = l2l_new(m, &o);
    ck_assert_ok(t);
    resume_step(t, 0);
    l2l_free(t);
    l2l_store_free(store);
    optim_free(opt);
    nn_module_free(m);
}

/* Write @p good (@p size bytes) to @p path with the count @p name set to [lo, hi]. */
static void spit_count(const char *path, const unsigned char *good, size_t size,
                       const char *name, float lo, float hi)
{
    spit(path, good, size);
    NnStateDict *sd = nn_safetensors_load(path);
    ck_assert_msg(sd != NULL, "nn_safetensors_load: %s", strata_last_error());
    Tensor *count = nn_state_dict_get(sd, name);
    ck_assert_msg(count != NULL && tensor_numel(count) == 2, "the file has no count '%s'", name);
    count->data[0] = lo;
    count->data[1] = hi;
    ck_assert_msg(nn_safetensors_save(sd, path) == 0, "nn_safetensors_save: %s",
                  strata_last_error());
    nn_state_dict_free(sd);
}

/* l2l_store_open(path, m, opt) must fail with an error containing @p needle, leaving
 * the model, a fresh optimizer, the counted memory and the file as they were. */
static void assert_open_refused(const char *path, Module *m, Module *twin, Optimizer *opt,
                                const char *needle)
{
    size_t before_size;
    unsigned char *before = slurp(path, &before_size);
    size_t live = strata_mem_stats().bytes_live;
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_open(path, m, opt));
    ck_assert_error(needle);
    ck_assert_error(path);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live);
    assert_params_close(m, twin, 0, 0, "the model after a refused l2l_store_open");
    if (opt) {
        ck_assert_int_eq(opt->steps, 0);
        for (int i = 0; i < opt->groups[0].num_params; i++) {
            ck_assert_int_eq(opt->groups[0].state[i].step, 0);
            ck_assert_int_eq(opt->groups[0].state[i].num_buffers, 0);
        }
    }
    size_t after_size;
    unsigned char *after = slurp(path, &after_size);
    ck_assert_msg(after_size == before_size && memcmp(before, after, before_size) == 0,
                  "a refused l2l_store_open changed the file");
    free(before);
    free(after);
}

/*
 * Reopening with a model or an optimizer that does not match the file is a clear error
 * naming the path and the first mismatch, and changes nothing: a layer of another
 * shape, a model with a layer more, no optimizer, an optimizer with other state.
 */
START_TEST(test_l2l_store_reopen_mismatch)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "mismatch");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_trained_store(path);

    /* Hidden width 10 instead of 12: "0.weight" is [10, 5] here, [12, 5] in the file. */
    Module *m = make_mlp(64, 5, 10, 3, 2), *twin = make_mlp(64, 5, 10, 3, 2);
    Optimizer *opt = resume_opt(m);
    assert_open_refused(path, m, twin, opt, "shape [12, 5] in the file but [10, 5]");
    optim_free(opt);
    nn_module_free(m);
    nn_module_free(twin);

    /* A layer more at the end: the file lacks its tensors. */
    m = make_mlp(64, 5, 12, 3, 2);
    add_layer(m, nn_linear(3, 3, true));
    twin = make_mlp(64, 5, 12, 3, 2);
    add_layer(twin, nn_linear(3, 3, true));
    opt = resume_opt(m);
    assert_open_refused(path, m, twin, opt, "has no tensor '7.weight'");
    optim_free(opt);

    /* The right model without an optimizer: the file's state is unexpected. */
    nn_module_free(m);
    nn_module_free(twin);
    m = make_mlp(64, 5, 12, 3, 2);
    twin = make_mlp(64, 5, 12, 3, 2);
    assert_open_refused(path, m, twin, NULL, "optim.0.weight.");
    ck_assert_error("does not have");

    /* SGD with momentum keeps a momentum buffer, not Adam's moments. The first of them
     * in the file is named: exp_avg or exp_avg_sq, whichever Adam's rule created first
     * (the slots follow the order the rule creates its buffers, and that is the rule's
     * choice), so the test reads which one the file lists first. */
    char first[128];
    first_moment_slot(path, first, sizeof first);
    opt = make_kind(m, "sgd-momentum");
    assert_open_refused(path, m, twin, opt, "that neither");
    ck_assert_error(first);
    optim_free(opt);

    /* NULL arguments. */
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_open(NULL, m, NULL));
    ck_assert_error("path");
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_open(path, NULL, NULL));
    ck_assert_error("model");
    nn_module_free(m);
    nn_module_free(twin);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    END;
}
END_TEST

/*
 * A truncated or corrupt file is refused by l2l_store_open(), naming the path and the
 * problem, with the model and the optimizer unchanged: cut inside the data, cut inside
 * the header, a header that is not JSON, bytes after the last tensor, step counts that
 * are not whole numbers in range, a missing file.
 */
START_TEST(test_l2l_store_reopen_truncated)
{
    BEGIN;
    char dir[600], path[700];
    make_tmp_dir(dir, sizeof dir, "corrupt");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_trained_store(path);
    size_t size;
    unsigned char *good = slurp(path, &size);
    Module *m = make_mlp(65, 5, 12, 3, 2), *twin = make_mlp(65, 5, 12, 3, 2);
    Optimizer *opt = resume_opt(m);

    /* The good file opens (so the refusals below are about the damage). */
    L2LStore *store = l2l_store_open(path, m, opt);
    ck_assert_msg(store != NULL, "l2l_store_open of the intact file: %s", strata_last_error());
    l2l_store_free(store);
    optim_free(opt);
    nn_module_free(m);
    m = make_mlp(65, 5, 12, 3, 2);
    opt = resume_opt(m);

    /* The last 4 bytes (one float of "optim.steps") are gone. */
    spit(path, good, size - 4);
    assert_open_refused(path, m, twin, opt, "truncated");
    /* Cut inside the header. */
    spit(path, good, 40);
    assert_open_refused(path, m, twin, opt, "truncated");
    /* Shorter than the header's length field. */
    spit(path, good, 5);
    assert_open_refused(path, m, twin, opt, "truncated");
    /* The header's first byte ('{') replaced: not JSON. */
    unsigned char *bad = malloc(size + 8);
    ck_assert(bad != NULL);
    memcpy(bad, good, size);
    bad[8] = 'x';
    spit(path, bad, size);
    assert_open_refused(path, m, twin, opt, "corrupt");
    /* Eight bytes after the last tensor. */
    memcpy(bad, good, size);
    memset(bad + size, 0, 8);
    spit(path, bad, size + 8);
    assert_open_refused(path, m, twin, opt, "after its last tensor");
    /* A count is two whole numbers in [0, 2^24) (lo + 2^24 * hi): a fraction in either
     * half, a negative, 2^24 itself, a NaN are corrupt, in a parameter's count as in the
     * optimizer's. */
    const struct { const char *name; float lo, hi; } counts[] = {
        {"optim.0.weight.step", 1.5f, 0.0f},  {"optim.0.weight.step", 1.0f, 0.5f},
        {"optim.0.weight.step", -1.0f, 0.0f}, {"optim.0.weight.step", 16777216.0f, 0.0f},
        {"optim.0.weight.step", NAN, 0.0f},   {"optim.2.bias.step", 1.0f, -1.0f},
        {"optim.steps", 0.25f, 0.0f},         {"optim.steps", 1.0f, 16777216.0f},
    };
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        spit_count(path, good, size, counts[i].name, counts[i].lo, counts[i].hi);
        assert_open_refused(path, m, twin, opt, "corrupt");
    }
    free(bad);
    free(good);
    ck_assert_int_eq(remove(path), 0);
    /* No file at all. */
    strata_clear_error();
    ck_assert_ptr_null(l2l_store_open(path, m, opt));
    ck_assert_error("cannot open");
    optim_free(opt);
    nn_module_free(m);
    nn_module_free(twin);
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
    GRADED(s, test_l2l_store_adam_state_matches, 3);
    GRADED(s, test_l2l_store_sgd_momentum_state_matches, 2);
    GRADED(s, test_l2l_store_amsgrad_rmsprop_state_matches, 2);
    GRADED(s, test_l2l_store_state_resident_one_layer, 3);
    GRADED(s, test_l2l_store_reopen_resumes, 3);
    GRADED(s, test_l2l_store_reopen_mismatch, 2);
    GRADED(s, test_l2l_store_reopen_truncated, 2);
    GRADED(s, test_l2l_store_without_optimizer_syncs, 1);
}
