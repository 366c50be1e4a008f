/*
 * test_trainer.c - what a user writing their own trainer runs into: checkpoints that must
 * not take NaN weights or the wrong model, learning rates and optimizer options that do
 * not apply, errors that are about the failure at hand, the end of an epoch told apart
 * from an error, the metrics log across a resume, and the strings strata returns.
 */
#include "rb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define L "optim"

/* An MLP with SGD over it (lr 0.1, momentum 0.9). */
static Optimizer *sgd_over(Module *m)
{
    Optimizer *opt = optim_sgd(m, 0.1f, 0.9f);
    ck_assert_msg(opt != NULL, "optim_sgd: %s", strata_last_error());
    return opt;
}

/* Four examples of 4 features, 2 classes, in one tensor dataset. */
static Dataset *tiny_dataset(int64_t n)
{
    Tensor *x = OK(tensor_randn(SHAPE(n, 4), 2));
    Tensor *y = OK(tensor_zeros(SHAPE(n), 1));
    Dataset *ds = data_tensor_dataset_new(x, y);
    ck_assert_msg(ds != NULL, "%s", strata_last_error());
    return ds;
}

/* ------------------------------------------------------------------ the error slot --- */

START_TEST(error_null_after_a_handled_failure)
{
    BEGIN;
    Module *m = rb_mlp();
    /* A failure the caller has read (and handled) ... */
    strata_clear_error();
    Tensor *a = OK(tensor_zeros(SHAPE(2, 3), 2));
    ck_assert_ptr_null(tensor_matmul(a, a));
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "tensor_matmul"));
    /* ... is not the message of a later, unrelated NULL argument. */
    ROW_FAILS("tensor", "nn_save(NULL, path) after a handled tensor_matmul failure",
              "m = NULL; the slot still holds the earlier, already read message",
              nn_save(NULL, rb_path("m.st")) < 0, "nn_save", "NULL");
    /* An unread failure is still the root cause of the NULL it produced. */
    strata_clear_error();
    Tensor *y = tensor_relu(tensor_matmul(a, a));
    ck_assert_ptr_null(y);
    ck_assert_msg(strstr(strata_last_error(), "tensor_matmul") != NULL,
                  "the root cause was lost: '%s'", strata_last_error());
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

/* ------------------------------------------------------------------- checkpoints --- */

START_TEST(checkpoint_refuses_nan_weights)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = sgd_over(m);
    const char *path = rb_path("good.st");
    ck_assert_msg(train_checkpoint_save(path, m, opt, NULL, 1) == 0, "%s", strata_last_error());
    size_t n;
    unsigned char *before = rb_read(path, &n);
    ck_assert_ptr_nonnull(before);
    int np;
    Var **ps = nn_parameters(m, &np);
    var_data(ps[2])->data[1] = NAN; /* the second Linear's weight, element 1 */
    ROW_FAILS(L, "train_checkpoint_save(path, model, opt, NULL, 2)",
              "a weight is NaN (a diverged run); path holds a good checkpoint",
              train_checkpoint_save(path, m, opt, NULL, 2) < 0, "2.weight", "nothing was written");
    rb_assert_file_same(path, before, n);
    free(before);
    strata_free(ps);
    optim_free(opt);
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(checkpoint_refuses_nan_optimizer_state)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = sgd_over(m);
    int np;
    Var **ps = nn_parameters(m, &np);
    for (int i = 0; i < np; i++) {
        Tensor *g = OK(tensor_ones(var_data(ps[i])->shape, var_data(ps[i])->ndim));
        ck_assert_int_eq(var_set_grad(ps[i], g), 0);
    }
    ck_assert_int_eq(optim_step(opt), 0); /* creates the momentum buffers */
    Tensor *buf = optim_state_find(&opt->groups[0].state[0], "momentum_buffer");
    ck_assert_ptr_nonnull(buf);
    buf->data[0] = INFINITY;
    const char *path = rb_path("never.st");
    ROW_FAILS(L, "train_checkpoint_save(path, model, opt, NULL, 1)",
              "a momentum buffer holds Inf", train_checkpoint_save(path, m, opt, NULL, 1) < 0,
              "optim.", "inf");
    size_t n;
    unsigned char *after = rb_read(path, &n);
    ck_assert_msg(after == NULL, "a refused checkpoint left a file behind");
    strata_free(ps);
    optim_free(opt);
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(checkpoint_of_another_architecture)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = sgd_over(m);
    const char *path = rb_path("mlp.st");
    ck_assert_msg(train_checkpoint_save(path, m, opt, NULL, 1) == 0, "%s", strata_last_error());
    Module *other = nn_sequential(1, nn_linear(4, 2, true));
    ck_assert_ptr_nonnull(other);
    Optimizer *other_opt = sgd_over(other);
    NnStateDict *snap = rb_snap_module(other);
    NnStateDict *osnap = rb_snap_optim(other_opt);
    int64_t epoch = -5;
    /* The model's keys are the news, not the optimizer's parameter counts. */
    ROW_FAILS(L, "train_checkpoint_load(path, model, opt, NULL, &epoch)",
              "a checkpoint of Linear-ReLU-Linear into a single Linear",
              train_checkpoint_load(path, other, other_opt, NULL, &epoch) < 0,
              "does not fit this model", "'0.weight'");
    ck_assert_msg(strstr(strata_last_error(), "group 0") == NULL, "%s", strata_last_error());
    ck_assert_int_eq(epoch, -5);
    rb_assert_module_same(other, snap);
    rb_assert_optim_same(other_opt, osnap);
    nn_state_dict_free(snap);
    nn_state_dict_free(osnap);
    optim_free(other_opt);
    nn_module_free(other);
    optim_free(opt);
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(state_dict_key_list_is_not_cut)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    NnStateDict *sd = nn_state_dict_new();
    char key[64];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "encoder.layers.%d.self_attention.in_proj_weight", i);
        ck_assert_int_eq(nn_state_dict_set(sd, key, OK(tensor_zeros(SHAPE(1), 1))), 0);
    }
    ROW_FAILS("nn", "nn_load_state_dict(model, sd, true, NULL, NULL)",
              "100 unexpected keys of 48 characters, all 4 of the model's missing",
              nn_load_state_dict(m, sd, true, NULL, NULL) < 0, "more", "nothing was loaded");
    const char *msg = strata_last_error();
    ck_assert_msg(strstr(msg, "'0.weight'") && strstr(msg, "... and "),
                  "the list must end with '... and N more': %s", msg);
    /* The count is right: the keys shown plus N make 100. */
    int shown = 0;
    for (const char *p = strstr(msg, "unexpected keys"); p && (p = strstr(p, "'encoder")); p++)
        shown++;
    int more = atoi(strstr(msg, "... and ") + 8);
    ck_assert_int_eq(shown + more, 100);
    rb_assert_module_same(m, snap);
    nn_state_dict_free(snap);
    nn_state_dict_free(sd);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(state_dict_get_absent_key)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *sd = nn_state_dict(m);
    ROW_FAILS("nn", "nn_state_dict_get(sd, \"0.wieght\")", "a key the dict does not have",
              nn_state_dict_get(sd, "0.wieght") == NULL, "nn_state_dict_get", "'0.wieght'");
    ck_assert(!nn_state_dict_contains(sd, "0.wieght"));
    ck_assert(nn_state_dict_contains(sd, "0.weight"));
    nn_state_dict_free(sd);
    nn_module_free(m);
    END;
}
END_TEST

/* ------------------------------------------------------------ optimizer settings --- */

START_TEST(set_lr_infinite)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = sgd_over(m);
    NnStateDict *snap = rb_snap_optim(opt);
    ROW_FAILS(L, "optim_set_lr(opt, 0, INFINITY)", "lr = Inf (the next step writes NaN)",
              optim_set_lr(opt, 0, INFINITY) < 0, "optim_set_lr", "finite");
    ROW_FAILS(L, "optim_set_lr(opt, -1, NAN)", "lr = NaN", optim_set_lr(opt, -1, NAN) < 0,
              "optim_set_lr", "nan");
    rb_assert_optim_same(opt, snap);
    nn_state_dict_free(snap);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(optimizer_option_does_not_apply)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    OptimHparams sgd = optim_sgd_defaults(0.1f);
    sgd.amsgrad = true;
    ROW_FAILS(L, "optim_sgd_new(params, n, &hp)", "hp.amsgrad = true (an Adam option)",
              optim_sgd_new(p, n, &sgd) == NULL, "'amsgrad' does not apply to sgd", NULL);
    OptimHparams adam = optim_adam_defaults(0.1f);
    adam.nesterov = true;
    ROW_FAILS(L, "optim_adam_new(params, n, &hp)", "hp.nesterov = true (an SGD option)",
              optim_adam_new(p, n, &adam) == NULL, "'nesterov' does not apply to adam", NULL);
    OptimHparams rms = optim_rmsprop_defaults(0.1f);
    rms.beta1 = 0.9f;
    ROW_FAILS(L, "optim_rmsprop_new(params, n, &hp)", "hp.beta1 = 0.9 (an Adam option)",
              optim_rmsprop_new(p, n, &rms) == NULL, "'beta1' does not apply to rmsprop", NULL);
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(adam_zero_initialised_hparams)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    OptimHparams hp = {0};
    hp.lr = 1e-3f;
    ROW_FAILS(L, "optim_adam_new(params, n, &hp)",
              "OptimHparams hp = {0}; hp.lr = 1e-3 (eps = 0, not optim_adam_defaults())",
              optim_adam_new(p, n, &hp) == NULL, "eps 0", "> 0");
    hp = optim_adam_defaults(1e-3f);
    hp.eps = -1e-8f;
    ROW_FAILS(L, "optim_adam_new(params, n, &hp)", "hp.eps = -1e-8",
              optim_adam_new(p, n, &hp) == NULL, "eps", NULL);
    hp = optim_adam_defaults(1e-3f);
    hp.beta2 = -0.5f;
    ROW_FAILS(L, "optim_adam_new(params, n, &hp)", "hp.beta2 = -0.5",
              optim_adam_new(p, n, &hp) == NULL, "beta2", "[0, 1)");
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

/* ------------------------------------------------------------------ the trainer --- */

/* before_step hook: fail on the second batch. */
static int fail_second(void *ctx)
{
    int *calls = ctx;
    if (++*calls == 2) {
        strata_set_error("before_step: refusing batch 2");
        return -1;
    }
    return 0;
}

START_TEST(failed_epoch_stats_are_consistent)
{
    BEGIN;
    Module *m = rb_mlp();
    Optimizer *opt = optim_sgd(m, 0.0f, 0.0f); /* lr 0: the predictions never change */
    ck_assert_ptr_nonnull(opt);
    /* Targets = the model's own predictions: every example is counted correct. */
    Tensor *x = OK(tensor_randn(SHAPE(8, 4), 2));
    autograd_no_grad_begin();
    Var *out = nn_forward(m, var_new(x, false));
    autograd_no_grad_end();
    ck_assert_ptr_nonnull(out);
    Tensor *y = OK(tensor_argmax(var_data(out), 1, false));
    Dataset *ds = data_tensor_dataset_new(x, y);
    DataLoaderOptions lo = {.batch_size = 4};
    DataLoader *dl = data_loader_new(ds, &lo);
    ck_assert_ptr_nonnull(dl);
    int calls = 0;
    TrainOptions to = {.before_step = fail_second, .before_step_ctx = &calls};
    TrainStats st;
    ck_assert_int_eq(train_epoch(m, opt, dl, &to, &st), -1);
    ck_assert_ptr_nonnull(strstr(strata_last_error(), "refusing batch 2"));
    /* The stats are those of the one batch that completed. */
    ck_assert_int_eq(st.batches, 1);
    ck_assert_int_eq(st.examples, 4);
    ck_assert_msg(st.accuracy == 1.0, "accuracy %g of a failed epoch (1 expected)", st.accuracy);
    data_loader_free(dl);
    data_dataset_free(ds);
    optim_free(opt);
    nn_module_free(m);
    END;
}
END_TEST

/* A collate function that fails on the second batch. */
static int collate_fails(const Dataset *ds, const int64_t *idx, int64_t count, Tensor **x,
                         Tensor **y, void *ctx)
{
    (void)idx;
    int *calls = ctx;
    if (++*calls == 2) {
        strata_set_error("collate: disk read error");
        return -1;
    }
    *x = tensor_narrow(data_dataset_inputs(ds), 0, 0, count);
    *y = tensor_narrow(data_dataset_targets(ds), 0, 0, count);
    return 0;
}

START_TEST(loader_end_of_epoch_or_error)
{
    BEGIN;
    Dataset *ds = tiny_dataset(4);
    DataLoaderOptions lo = {.batch_size = 2};
    DataLoader *dl = data_loader_new(ds, &lo);
    Batch b;
    ck_assert(!data_loader_failed(dl));
    ck_assert(data_loader_next(dl, &b) && data_loader_next(dl, &b));
    ck_assert(!data_loader_next(dl, &b)); /* the end of the epoch ... */
    ck_assert(!data_loader_failed(dl));   /* ... is not an error */
    int calls = 0;
    ck_assert_int_eq(data_loader_set_collate(dl, collate_fails, &calls), 0);
    ck_assert(data_loader_next(dl, &b));
    ROW_FAILS(L, "data_loader_next(loader, &batch); data_loader_failed(loader)",
              "the collate function fails on batch 2",
              !data_loader_next(dl, &b) && data_loader_failed(dl), "disk read error", NULL);
    /* train_epoch reports it (it used to end the epoch as if it were complete). */
    Module *m = rb_mlp();
    Optimizer *opt = sgd_over(m);
    calls = 0;
    data_loader_set_epoch(dl, 5);
    ROW_FAILS(L, "train_epoch(model, opt, loader, NULL, &stats)",
              "the loader fails on batch 2", train_epoch(m, opt, dl, NULL, NULL) < 0,
              "disk read error", NULL);
    optim_free(opt);
    nn_module_free(m);
    data_loader_free(dl);
    data_dataset_free(ds);
    END;
}
END_TEST

START_TEST(clip_bad_argument_or_nan_gradient)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n);
    Tensor *g = OK(tensor_full(var_data(p[0])->shape, var_data(p[0])->ndim, NAN));
    ck_assert_int_eq(var_set_grad(p[0], g), 0);
    strata_clear_error();
    float norm = optim_clip_grad_norm(p, n, 1.0f, 2.0f);
    ck_assert_msg(isnan(norm) && !strata_error_pending(),
                  "NaN gradients: norm %g (NaN expected, no error), '%s'", (double)norm,
                  strata_last_error());
    ROW_FAILS(L, "optim_clip_grad_norm(params, n, -1, 2)", "max_norm = -1 (returns -1, not NaN)",
              optim_clip_grad_norm(p, n, -1.0f, 2.0f) == -1.0f, "max_norm", NULL);
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(set_grad_wrong_shape)
{
    BEGIN;
    Module *m = rb_mlp();
    int n;
    Var **p = nn_parameters(m, &n); /* p[0]: the first weight, [3, 4] */
    Tensor *g = OK(tensor_ones(SHAPE(3, 4), 2));
    ck_assert_int_eq(var_set_grad(p[0], g), 0);
    g->data[0] = 7.0f; /* a copy: later changes do not reach the gradient */
    ck_assert_float_eq(var_grad(p[0])->data[0], 1.0f);
    Tensor *snap = rb_snap(var_grad(p[0]));
    ROW_FAILS("autograd", "var_set_grad(p, g)", "g [4, 3] for a [3, 4] parameter",
              var_set_grad(p[0], OK(tensor_ones(SHAPE(4, 3), 2))) < 0, "[4, 3]", "[3, 4]");
    rb_assert_same(var_grad(p[0]), snap, "the gradient");
    ck_assert_int_eq(var_set_grad(p[0], NULL), 0); /* p.grad = None */
    ck_assert_ptr_null(var_grad(p[0]));
    strata_free(p);
    nn_module_free(m);
    END;
}
END_TEST

/* --------------------------------------------------------------- the metrics log --- */

START_TEST(plot_of_an_empty_log)
{
    BEGIN;
    const char *csv = rb_path("m.csv");
    TrainLog *log = train_log_open(csv);
    ck_assert_ptr_nonnull(log);
    train_log_close(log);
    ROW_FAILS(L, "train_plot_csv(csv, png)", "a log with only its header (no epoch yet)",
              train_plot_csv(csv, rb_path("m.png")) < 0, "no epochs", "header");
    rb_dir_remove();
    END;
}
END_TEST

/*
 * gnuplot runs a command for a file name starting with '<' (to read) or '|' (to write),
 * and a line break ends the quoted name in its script: such paths are refused before
 * gnuplot starts, and no command runs (the marker file stays absent).
 */
START_TEST(plot_paths_gnuplot_would_run)
{
    BEGIN;
    const char *csv = strdup(rb_path("m.csv"));
    char *marker = strdup(rb_path("ran"));
    TrainLog *log = train_log_open(csv);
    ck_assert_ptr_nonnull(log);
    TrainStats st = {0.5, 0.75, 10, 1, 0.1};
    ck_assert_int_eq(train_log_append(log, 1, &st, &st, 0.1f, 0.1), 0);
    train_log_close(log);
    char to_pipe[512], from_pipe[512], broken[512];
    snprintf(to_pipe, sizeof to_pipe, "|touch %s", marker);
    snprintf(from_pipe, sizeof from_pipe, "<touch %s", marker);
    snprintf(broken, sizeof broken, "%s.png\nsystem(\"touch %s\")\n#", marker, marker);
    ROW_FAILS(L, "train_plot_csv(csv, png)", "png \"|touch FILE\" (gnuplot writes to a command)",
              train_plot_csv(csv, to_pipe) < 0, "command", "|touch");
    ROW_FAILS(L, "train_plot_csv(csv, png)", "csv \"<touch FILE\" (gnuplot reads a command)",
              train_plot_csv(from_pipe, rb_path("m.png")) < 0, "command", "<touch");
    ROW_FAILS(L, "train_plot_csv(csv, png)", "png with a line break and a system() call",
              train_plot_csv(csv, broken) < 0, "line break", "command");
    ck_assert_msg(access(marker, F_OK) != 0, "a command named in a path ran");
    free((void *)csv);
    free(marker);
    rb_dir_remove();
    END;
}
END_TEST

/* The epochs (first column) of the rows of a metrics CSV, as a string "1,2,3". */
static void log_epochs(const char *path, char *out, size_t size)
{
    size_t n;
    char *text = (char *)rb_read(path, &n);
    ck_assert_ptr_nonnull(text);
    out[0] = '\0';
    const char *line = memchr(text, '\n', n); /* skip the header */
    while (line && (size_t)(line + 1 - text) < n) {
        line++;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%ld", used ? "," : "", strtol(line, NULL, 10));
        line = memchr(line, '\n', n - (size_t)(line - text));
    }
    free(text);
}

START_TEST(log_resume_keeps_the_epochs)
{
    BEGIN;
    const char *csv = rb_path("m.csv");
    TrainStats st = {.loss = 0.5, .accuracy = 0.75, .examples = 4, .batches = 1};
    TrainLog *log = train_log_open(csv);
    for (int e = 1; e <= 3; e++)
        ck_assert_int_eq(train_log_append(log, e, &st, &st, 0.1f, 1.0), 0);
    train_log_close(log);
    /* The checkpoint was saved after epoch 2 (epoch 3 was logged, then the run died). */
    log = train_log_resume(csv, 2);
    ck_assert_msg(log != NULL, "%s", strata_last_error());
    ck_assert_int_eq(train_log_append(log, 3, &st, &st, 0.1f, 1.0), 0);
    ck_assert_int_eq(train_log_append(log, 4, &st, &st, 0.1f, 1.0), 0);
    train_log_close(log);
    char epochs[64];
    log_epochs(csv, epochs, sizeof epochs);
    ck_assert_str_eq(epochs, "1,2,3,4");
    /* A file that is not a metrics log is refused and left alone. */
    const char *other = rb_path("notes.csv");
    rb_write(other, "a,b\n1,2\n", 8);
    size_t n;
    unsigned char *before = rb_read(other, &n);
    ROW_FAILS(L, "train_log_resume(path, 2)", "a CSV that train_log_open() did not write",
              train_log_resume(other, 2) == NULL, "not a metrics log", NULL);
    rb_assert_file_same(other, before, n);
    free(before);
    rb_dir_remove();
    END;
}
END_TEST

void add_trainer_rows(Suite *s)
{
    GRADED(s, error_null_after_a_handled_failure, 1);
    GRADED(s, checkpoint_refuses_nan_weights, 1);
    GRADED(s, checkpoint_refuses_nan_optimizer_state, 1);
    GRADED(s, checkpoint_of_another_architecture, 1);
    GRADED(s, state_dict_key_list_is_not_cut, 1);
    GRADED(s, state_dict_get_absent_key, 1);
    GRADED(s, set_lr_infinite, 1);
    GRADED(s, optimizer_option_does_not_apply, 1);
    GRADED(s, adam_zero_initialised_hparams, 1);
    GRADED(s, failed_epoch_stats_are_consistent, 1);
    GRADED(s, loader_end_of_epoch_or_error, 1);
    GRADED(s, clip_bad_argument_or_nan_gradient, 1);
    GRADED(s, set_grad_wrong_shape, 1);
    GRADED(s, plot_of_an_empty_log, 1);
    GRADED(s, plot_paths_gnuplot_would_run, 1);
    GRADED(s, log_resume_keeps_the_epochs, 1);
}
