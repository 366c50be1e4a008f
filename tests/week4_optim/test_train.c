/*
 * test_train.c - the training loop end to end: a separable toy problem, micro-batch
 * accumulation, evaluation, progress lines, the metrics CSV and checkpoints.
 */
#include "helpers.h"

#include <math.h>

/* n points in the plane; class 1 when x0 + x1 > 0, kept at least 0.2 from the line. */
static Dataset *toy_dataset(int64_t n, uint64_t seed)
{
    strata_manual_seed(seed);
    Tensor *x = tensor_empty((int64_t[]){n, 2}, 2);
    Tensor *y = tensor_empty(&n, 1);
    for (int64_t i = 0; i < n;) {
        float a = (float)(strata_rng_uniform() * 4.0 - 2.0);
        float b = (float)(strata_rng_uniform() * 4.0 - 2.0);
        if (fabsf(a + b) < 0.2f)
            continue;
        x->data[2 * i] = a;
        x->data[2 * i + 1] = b;
        y->data[i] = a + b > 0.0f ? 1.0f : 0.0f;
        i++;
    }
    Dataset *ds = data_tensor_dataset_new(x, y);
    ck_assert_msg(ds != NULL, "data_tensor_dataset_new: %s", strata_last_error());
    return ds;
}

static Module *toy_model(void)
{
    Module *m = nn_sequential(3, nn_linear(2, 8, true), nn_relu(), nn_linear(8, 2, true));
    ck_assert_msg(m != NULL, "nn_sequential: %s", strata_last_error());
    return m;
}

START_TEST(test_end_to_end_separable)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(200, 1);
    strata_manual_seed(2);
    Module *model = toy_model();
    Optimizer *opt = optim_adam(model, 0.05f);
    ck_assert_msg(opt != NULL, "optim_adam: %s", strata_last_error());
    DataLoaderOptions o = {20, true, 3, false};
    DataLoader *dl = data_loader_new(ds, &o);
    DataLoaderOptions eo = {64, false, 0, false};
    DataLoader *eval = data_loader_new(ds, &eo);
    ck_assert(dl && eval);
    TrainStats before, st, ev;
    ck_assert_int_eq(train_evaluate(model, eval, NULL, NULL, &before), 0);
    /* an untrained 2-class model starts near ln 2 */
    ck_assert_msg(before.loss > 0.3 && before.loss < 1.5, "initial loss %g", before.loss);
    for (int epoch = 0; epoch < 20; epoch++)
        ck_assert_msg(train_epoch(model, opt, dl, NULL, &st) == 0, "train_epoch: %s",
                      strata_last_error());
    ck_assert_int_eq(st.examples, 200);
    ck_assert_int_eq(st.batches, 10);
    ck_assert_int_eq(train_evaluate(model, eval, NULL, NULL, &ev), 0);
    ck_assert_msg(ev.loss < 0.1, "loss after training %g (started at %g)", ev.loss, before.loss);
    ck_assert_msg(ev.accuracy >= 0.97, "accuracy %g", ev.accuracy);
    ck_assert_int_eq(ev.examples, 200);
    ck_assert(nn_is_training(model)); /* evaluate restored the mode */
    data_loader_free(dl);
    data_loader_free(eval);
    optim_free(opt);
    nn_module_free(model);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* Copy every parameter of @p from into @p to (same architecture). */
static void copy_params(Module *to, Module *from)
{
    int n1 = 0, n2 = 0;
    Var **a = nn_parameters(to, &n1), **b = nn_parameters(from, &n2);
    ck_assert(a && b && n1 == n2);
    for (int i = 0; i < n1; i++)
        ck_assert_int_eq(tensor_copy_(var_data(a[i]), var_data(b[i])), 0);
    strata_free(a);
    strata_free(b);
}

/* Assert that two models of one architecture hold the same parameters (to float
 * rounding); @p runs names the two runs that made them, for the message. */
static void assert_same_parameters(Module *m1, Module *m2, const char *runs)
{
    int n = 0;
    Var **p1 = nn_parameters(m1, &n), **p2 = nn_parameters(m2, &n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(tensor_allclose(var_data(p1[i]), var_data(p2[i]), 1e-5f, 1e-6f),
                      "parameter %d differs between %s", i, runs);
    strata_free(p1);
    strata_free(p2);
}

/* Free two training runs side by side: their loaders, optimizers and models. */
static void free_two_runs(DataLoader *d1, DataLoader *d2, Optimizer *o1, Optimizer *o2,
                          Module *m1, Module *m2)
{
    data_loader_free(d1);
    data_loader_free(d2);
    optim_free(o1);
    optim_free(o2);
    nn_module_free(m1);
    nn_module_free(m2);
}

START_TEST(test_micro_batches_match_full_batch)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(10, 4);
    strata_manual_seed(5);
    Module *m1 = toy_model(), *m2 = toy_model();
    copy_params(m2, m1);
    Optimizer *o1 = optim_sgd(m1, 0.5f, 0.0f), *o2 = optim_sgd(m2, 0.5f, 0.0f);
    ck_assert(o1 && o2);
    DataLoaderOptions lo = {10, false, 0, false};
    DataLoader *d1 = data_loader_new(ds, &lo), *d2 = data_loader_new(ds, &lo);
    TrainOptions micro;
    memset(&micro, 0, sizeof micro);
    micro.micro_batch_size = 3; /* 3 + 3 + 3 + 1, weighted 0.3, 0.3, 0.3, 0.1 */
    TrainStats s1, s2;
    ck_assert_int_eq(train_epoch(m1, o1, d1, NULL, &s1), 0);
    ck_assert_msg(train_epoch(m2, o2, d2, &micro, &s2) == 0, "%s", strata_last_error());
    ck_assert_close(s1.loss, s2.loss, 1e-5);
    ck_assert_close(s1.accuracy, s2.accuracy, 1e-12);
    assert_same_parameters(m1, m2, "full and micro-batched steps");
    free_two_runs(d1, d2, o1, o2, m1, m2);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

START_TEST(test_accuracy_progress_and_log)
{
    Scope *s = scope_begin();
    /* rows' argmax: 1, 0, 2 against targets 1, 2, 2 -> 2/3 */
    const float lg[9] = {0.1f, 0.9f, 0.0f, 5.0f, 1.0f, 2.0f, -1.0f, 0.0f, 3.0f};
    const float tg[3] = {1.0f, 2.0f, 2.0f};
    Tensor *logits = tensor_from_data(lg, (int64_t[]){3, 3}, 2);
    Tensor *targets = tensor_from_data(tg, (int64_t[]){3}, 1);
    ck_assert_close(train_accuracy(logits, targets), 2.0 / 3.0, 1e-12);
    /* a batch of one row: 1 when its argmax is the target, 0 when not */
    Tensor *row = tensor_from_data(lg, (int64_t[]){1, 3}, 2);
    ck_assert_close(train_accuracy(row, tensor_from_data(tg, (int64_t[]){1}, 1)), 1.0, 1e-12);
    ck_assert_close(train_accuracy(row, tensor_from_data(tg + 1, (int64_t[]){1}, 1)), 0.0, 1e-12);
    ck_assert(isnan(train_accuracy(targets, targets)));
    ck_assert_error("train_accuracy");

    /* progress to a file (not a terminal): a plain line every 2 items */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    TrainProgress *p = train_progress_begin(f, 5, "epoch 1/1", 2);
    ck_assert_ptr_nonnull(p);
    for (int i = 1; i <= 5; i++)
        train_progress_update(p, i, 1.0 / i);
    train_progress_end(p);
    rewind(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        ck_assert_msg(strstr(line, "epoch 1/1") && strstr(line, "it/s") &&
                          strstr(line, "loss") && strstr(line, "ETA"),
                      "progress line lacks a field: %s", line);
    }
    fclose(f);
    ck_assert_int_eq(lines, 2); /* at 2 and 4 */

    /* the metrics CSV */
    char csv[512], png[512];
    tmp_path(csv, sizeof csv, "metrics.csv");
    tmp_path(png, sizeof png, "metrics.png");
    TrainLog *log = train_log_open(csv);
    ck_assert_msg(log != NULL, "train_log_open: %s", strata_last_error());
    TrainStats tr = {0.5, 0.8, 100, 2, 1.0}, te = {0.6, 0.75, 50, 1, 0.5};
    ck_assert_int_eq(train_log_append(log, 1, &tr, &te, 0.001f, 1.5), 0);
    tr.loss = 0.4;
    ck_assert_int_eq(train_log_append(log, 2, &tr, &te, 0.001f, 1.5), 0);
    train_log_close(log);
    f = fopen(csv, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_msg(strncmp(line, "1,0.500000,0.800000,0.600000,0.750000,", 38) == 0, "row: %s", line);
    fclose(f);
    int rc = train_plot_csv(csv, png);
    ck_assert_msg(rc == 0 || rc == 1, "train_plot_csv: %s", strata_last_error());
    if (rc == 0) {
        f = fopen(png, "rb");
        ck_assert_msg(f != NULL, "gnuplot ran but wrote no %s", png);
        fclose(f);
    }
    remove(csv);
    remove(png);
    ck_assert_ptr_null(train_log_open("/nonexistent/dir/m.csv"));
    ck_assert_error("/nonexistent/dir/m.csv");
    scope_end(s);
}
END_TEST

START_TEST(test_checkpoint_resume)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(40, 6);
    strata_manual_seed(7);
    Module *m = toy_model();
    Optimizer *opt = optim_adam(m, 0.01f);
    LRScheduler *sched = optim_step_lr(opt, 1, 0.5f);
    DataLoaderOptions lo = {8, true, 11, false};
    DataLoader *dl = data_loader_new(ds, &lo);
    ck_assert(opt && sched && dl);
    char path[512];
    tmp_path(path, sizeof path, "ckpt.safetensors");
    /* epoch 0, checkpoint, then epoch 1: remember where A ends */
    ck_assert_int_eq(train_epoch(m, opt, dl, NULL, NULL), 0);
    ck_assert_int_eq(optim_scheduler_step(sched), 0);
    ck_assert_msg(train_checkpoint_save(path, m, opt, sched, 1) == 0, "save: %s",
                  strata_last_error());
    ck_assert_int_eq(train_epoch(m, opt, dl, NULL, NULL), 0);
    int n = 0;
    Var **pa = nn_parameters(m, &n);
    /* B: a fresh model, optimizer and scheduler resume from the checkpoint */
    strata_manual_seed(100);
    Module *m2 = toy_model();
    Optimizer *opt2 = optim_adam(m2, 0.01f);
    LRScheduler *sched2 = optim_step_lr(opt2, 1, 0.5f);
    DataLoader *dl2 = data_loader_new(ds, &lo);
    int64_t epoch = -1;
    ck_assert_msg(train_checkpoint_load(path, m2, opt2, sched2, &epoch) == 0, "load: %s",
                  strata_last_error());
    ck_assert_int_eq(epoch, 1);
    ck_assert_int_eq(optim_scheduler_epoch(sched2), 1);
    ck_assert_close(optim_get_lr(opt2, 0), 0.005, 1e-9);
    ck_assert_int_eq(data_loader_set_epoch(dl2, epoch), 0);
    ck_assert_int_eq(train_epoch(m2, opt2, dl2, NULL, NULL), 0);
    Var **pb = nn_parameters(m2, &n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(memcmp(var_data(pa[i])->data, var_data(pb[i])->data,
                             sizeof(float) * (size_t)tensor_numel(var_data(pa[i]))) == 0,
                      "parameter %d differs after resuming from the checkpoint", i);
    strata_free(pa);
    strata_free(pb);
    /* a checkpoint for another architecture is refused and changes nothing */
    Module *wide = nn_sequential(3, nn_linear(2, 16, true), nn_relu(), nn_linear(16, 2, true));
    Optimizer *wopt = optim_adam(wide, 0.01f);
    ck_assert_int_eq(train_checkpoint_load(path, wide, wopt, NULL, NULL), -1);
    ck_assert_int_eq(wopt->steps, 0);
    remove(path);
    optim_free(wopt);
    nn_module_free(wide);
    optim_scheduler_free(sched);
    optim_scheduler_free(sched2);
    data_loader_free(dl);
    data_loader_free(dl2);
    optim_free(opt);
    optim_free(opt2);
    nn_module_free(m);
    nn_module_free(m2);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* Cross-entropy that fails on its third call. */
static Var *failing_loss(Module *model, Var *x, const Tensor *y, void *ctx)
{
    int *calls = ctx;
    if (++*calls == 3) {
        strata_set_error("failing_loss: refused batch %d", *calls);
        return NULL;
    }
    return train_cross_entropy_loss(model, x, y, NULL);
}

/* A before_step hook that refuses its second call. */
static int refuse_second(void *ctx)
{
    int *calls = ctx;
    if (++*calls == 2) {
        strata_set_error("refuse_second: no step for call %d", *calls);
        return -1;
    }
    return 0;
}

START_TEST(test_epoch_stops_on_error)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(50, 8);
    Module *m = toy_model();
    Optimizer *opt = optim_sgd(m, 0.1f, 0.0f);
    DataLoaderOptions lo = {10, false, 0, false};
    DataLoader *dl = data_loader_new(ds, &lo);
    ck_assert(opt && dl);
    int calls = 0;
    TrainOptions to;
    memset(&to, 0, sizeof to);
    to.loss_fn = failing_loss;
    to.loss_ctx = &calls;
    TrainStats st;
    ck_assert_int_eq(train_epoch(m, opt, dl, &to, &st), -1);
    ck_assert_error("refused batch 3");
    ck_assert_int_eq(calls, 3);      /* it stopped at the failing batch */
    ck_assert_int_eq(st.batches, 2); /* two batches trained */
    ck_assert_int_eq(opt->steps, 2);
    ck_assert(isnan(st.accuracy));   /* a custom loss reports no accuracy */
    /* the loader moved on to the next epoch, from its first batch */
    ck_assert_int_eq(data_loader_epoch(dl), 1);
    Batch b;
    ck_assert(data_loader_next(dl, &b));
    ck_assert_int_eq(b.index, 0);
    /* a before_step hook's failure stops the epoch too, before that batch's step */
    DataLoader *dl2 = data_loader_new(ds, &lo);
    ck_assert_ptr_nonnull(dl2);
    int hooks = 0;
    memset(&to, 0, sizeof to);
    to.before_step = refuse_second;
    to.before_step_ctx = &hooks;
    int64_t steps = opt->steps;
    ck_assert_int_eq(train_epoch(m, opt, dl2, &to, &st), -1);
    ck_assert_error("no step for call 2");
    ck_assert_int_eq(hooks, 2);
    ck_assert_int_eq(opt->steps, steps + 1);
    ck_assert_int_eq(st.batches, 1);
    data_loader_free(dl2);
    data_loader_free(dl);
    optim_free(opt);
    nn_module_free(m);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* What before_step saw: the lr of each batch's step, in order. */
typedef struct {
    Optimizer *opt;
    float lr[8];
    int calls;
} LrProbe;

static int record_lr(void *ctx)
{
    LrProbe *p = ctx;
    if (p->calls < 8)
        p->lr[p->calls] = optim_get_lr(p->opt, 0);
    p->calls++;
    return 0;
}

/* The options reach the loop: the scheduler is stepped after every optimizer step (so
 * batch k steps with lr 0.1 * 0.5^k, and the epoch leaves 0.1 * 0.5^3), and a progress
 * stream that is not a terminal gets a plain line every log_every batches, each naming
 * the label. */
START_TEST(test_epoch_scheduler_and_progress)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(12, 13);
    strata_manual_seed(14);
    Module *m = toy_model();
    Optimizer *opt = optim_sgd(m, 0.1f, 0.0f);
    LRScheduler *sched = optim_step_lr(opt, 1, 0.5f);
    DataLoaderOptions lo = {4, false, 0, false};
    DataLoader *dl = data_loader_new(ds, &lo);
    FILE *f = tmpfile();
    ck_assert(m && opt && sched && dl && f);
    LrProbe probe = {opt, {0}, 0};
    TrainOptions to;
    memset(&to, 0, sizeof to);
    to.step_scheduler = sched;
    to.before_step = record_lr;
    to.before_step_ctx = &probe;
    to.progress = f;
    to.log_every = 1;
    to.label = "sched epoch";
    TrainStats st;
    ck_assert_msg(train_epoch(m, opt, dl, &to, &st) == 0, "train_epoch: %s", strata_last_error());
    ck_assert_int_eq(st.batches, 3);
    ck_assert_int_eq(opt->steps, 3);
    ck_assert_int_eq(probe.calls, 3);
    for (int k = 0; k < 3; k++)
        ck_assert_msg(fabs(probe.lr[k] - 0.1 * pow(0.5, k)) < 1e-7,
                      "batch %d stepped with lr %g, expected %g", k, (double)probe.lr[k],
                      0.1 * pow(0.5, k));
    ck_assert_int_eq(optim_scheduler_epoch(sched), 3);
    ck_assert_close(optim_get_lr(opt, 0), 0.0125, 1e-9);
    rewind(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        ck_assert_msg(strstr(line, "sched epoch") != NULL, "progress line without the label: %s",
                      line);
    }
    fclose(f);
    ck_assert_int_eq(lines, 3); /* one per batch */
    data_loader_free(dl);
    optim_scheduler_free(sched);
    optim_free(opt);
    nn_module_free(m);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* What a loss saw: how many calls, and the rows of each call's inputs. */
typedef struct {
    int calls;
    int64_t rows[16];
} RowsProbe;

static Var *rows_loss(Module *model, Var *x, const Tensor *y, void *ctx)
{
    RowsProbe *p = ctx;
    if (p->calls < 16)
        p->rows[p->calls] = var_data(x)->shape[0];
    p->calls++;
    return train_cross_entropy_loss(model, x, y, NULL);
}

/* micro_batch_size 1 splits each batch into single rows: the loss runs once per row, on
 * one row, and the step is still the whole batch's (the same weights as without a split). */
START_TEST(test_micro_batch_size_one)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(5, 15);
    strata_manual_seed(16);
    Module *m1 = toy_model(), *m2 = toy_model();
    copy_params(m2, m1);
    Optimizer *o1 = optim_sgd(m1, 0.5f, 0.0f), *o2 = optim_sgd(m2, 0.5f, 0.0f);
    DataLoaderOptions lo = {5, false, 0, false};
    DataLoader *d1 = data_loader_new(ds, &lo), *d2 = data_loader_new(ds, &lo);
    ck_assert(o1 && o2 && d1 && d2);
    RowsProbe whole = {0, {0}}, single = {0, {0}};
    TrainOptions to;
    memset(&to, 0, sizeof to);
    to.loss_fn = rows_loss;
    to.loss_ctx = &whole;
    TrainStats s1, s2;
    ck_assert_msg(train_epoch(m1, o1, d1, &to, &s1) == 0, "%s", strata_last_error());
    to.loss_ctx = &single;
    to.micro_batch_size = 1;
    ck_assert_msg(train_epoch(m2, o2, d2, &to, &s2) == 0, "%s", strata_last_error());
    ck_assert_int_eq(whole.calls, 1);
    ck_assert_int_eq(whole.rows[0], 5);
    ck_assert_int_eq(single.calls, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(single.rows[i] == 1, "micro-batch %d has %lld rows, expected 1", i,
                      (long long)single.rows[i]);
    ck_assert_close(s1.loss, s2.loss, 1e-5);
    assert_same_parameters(m1, m2, "the whole batch and single rows");
    free_two_runs(d1, d2, o1, o2, m1, m2);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* Cross-entropy that records whether gradients were being recorded when it ran, and
 * fails on the call numbered fail_at (0: never). */
typedef struct {
    int calls, fail_at, grad_calls;
} EvalProbe;

static Var *probing_loss(Module *model, Var *x, const Tensor *y, void *ctx)
{
    EvalProbe *p = ctx;
    p->grad_calls += autograd_is_grad_enabled();
    if (++p->calls == p->fail_at) {
        strata_set_error("probing_loss: refused batch %d", p->calls);
        return NULL;
    }
    return train_cross_entropy_loss(model, x, y, NULL);
}

/* The first batch's inputs after @p dl: which examples, in which order, come next. */
static void next_inputs(DataLoader *dl, float *out, int64_t n)
{
    Batch b;
    ck_assert_msg(data_loader_next(dl, &b), "data_loader_next: %s", strata_last_error());
    ck_assert_int_eq(b.index, 0);
    ck_assert_int_eq(b.size, n);
    memcpy(out, var_data(b.x)->data, (size_t)(2 * n) * sizeof(float));
}

/* train_evaluate runs the loss under no-grad mode, restores grad mode and the model's
 * mode, and, like reading the loader by hand, leaves it at the start of the next epoch:
 * the shuffled order after one evaluation is that of epoch 1, after a full or a failed
 * pass alike. The reference orders come from a second loader with the same seed. */
START_TEST(test_evaluate_no_grad_and_next_epoch)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(12, 9);
    strata_manual_seed(10);
    Module *m = toy_model();
    DataLoaderOptions lo = {12, true, 21, false}; /* one shuffled batch per epoch */
    DataLoader *dl = data_loader_new(ds, &lo), *ref = data_loader_new(ds, &lo);
    ck_assert(m && dl && ref);
    float want[24], got[24];
    Batch b;
    ck_assert(data_loader_next(ref, &b)); /* epoch 0 of the reference loader */
    ck_assert(!data_loader_next(ref, &b) && !data_loader_failed(ref));
    next_inputs(ref, want, 12); /* its epoch 1 */

    EvalProbe p = {0, 0, 0};
    TrainStats st;
    ck_assert_msg(train_evaluate(m, dl, probing_loss, &p, &st) == 0, "train_evaluate: %s",
                  strata_last_error());
    ck_assert_int_eq(p.calls, 1);
    ck_assert_msg(p.grad_calls == 0, "the loss ran with gradients recorded");
    ck_assert(autograd_is_grad_enabled());
    ck_assert(nn_is_training(m));
    next_inputs(dl, got, 12);
    ck_assert_msg(memcmp(got, want, sizeof want) == 0,
                  "after a full evaluation the loader is not at epoch 1's first batch");

    /* a failing pass: the loader also moves on to the start of the next epoch */
    DataLoader *dl2 = data_loader_new(ds, &lo);
    ck_assert(dl2);
    EvalProbe q = {0, 1, 0};
    nn_eval(m);
    ck_assert_int_eq(train_evaluate(m, dl2, probing_loss, &q, &st), -1);
    ck_assert_error("refused batch 1");
    ck_assert(autograd_is_grad_enabled());
    ck_assert(!nn_is_training(m)); /* the mode it was found in */
    next_inputs(dl2, got, 12);
    ck_assert_msg(memcmp(got, want, sizeof want) == 0,
                  "after a failed evaluation the loader is not at epoch 1's first batch");
    /* a loader that fails (its sampler refuses) fails the evaluation */
    DataLoader *dl3 = data_loader_new(ds, &lo);
    ck_assert(dl3);
    ck_assert_int_eq(data_loader_set_sampler(dl3, refusing_sampler, NULL), 0);
    EvalProbe r = {0, 0, 0};
    ck_assert_int_eq(train_evaluate(m, dl3, probing_loss, &r, &st), -1);
    ck_assert_error("refusing_sampler");
    ck_assert_int_eq(r.calls, 0);
    ck_assert(autograd_is_grad_enabled());
    data_loader_free(dl);
    data_loader_free(dl2);
    data_loader_free(dl3);
    data_loader_free(ref);
    nn_module_free(m);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* The accuracy of an epoch counts the examples whose argmax is the target over all its
 * batches (4 + 4 + 2 here). With a learning rate of 0 the weights stay as they are, so
 * the expected count comes from one forward pass over the whole set, argmax by hand;
 * train_evaluate counts the same. */
START_TEST(test_epoch_accuracy_counts_every_batch)
{
    Scope *s = scope_begin();
    Dataset *ds = toy_dataset(10, 11);
    strata_manual_seed(12);
    Module *m = toy_model();
    Optimizer *opt = optim_sgd(m, 0.0f, 0.0f);
    DataLoaderOptions lo = {4, false, 0, false};
    DataLoader *dl = data_loader_new(ds, &lo);
    ck_assert(m && opt && dl);
    autograd_no_grad_begin();
    Var *out = nn_forward(m, var_new(data_dataset_inputs(ds), false));
    autograd_no_grad_end();
    ck_assert_msg(out != NULL, "nn_forward: %s", strata_last_error());
    const Tensor *logits = var_data(out), *y = data_dataset_targets(ds);
    int right = 0;
    for (int i = 0; i < 10; i++) {
        float l0 = logits->data[2 * i], l1 = logits->data[2 * i + 1];
        right += (l1 > l0 ? 1.0f : 0.0f) == y->data[i];
    }
    TrainStats st, ev;
    ck_assert_msg(train_epoch(m, opt, dl, NULL, &st) == 0, "train_epoch: %s",
                  strata_last_error());
    ck_assert_int_eq(st.examples, 10);
    ck_assert_int_eq(st.batches, 3);
    ck_assert_msg(fabs(st.accuracy - right / 10.0) < 1e-12, "train_epoch: accuracy %g, %d of 10 "
                  "are right", st.accuracy, right);
    ck_assert_int_eq(train_evaluate(m, dl, NULL, NULL, &ev), 0);
    ck_assert_msg(fabs(ev.accuracy - right / 10.0) < 1e-12, "train_evaluate: accuracy %g, %d "
                  "of 10 are right", ev.accuracy, right);
    data_loader_free(dl);
    optim_free(opt);
    nn_module_free(m);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

void add_train_tests(Suite *s)
{
    GRADED_TIMED(s, test_end_to_end_separable, 5, 30.0);
    GRADED(s, test_micro_batches_match_full_batch, 3);
    GRADED(s, test_accuracy_progress_and_log, 3);
    GRADED(s, test_checkpoint_resume, 4);
    GRADED(s, test_epoch_stops_on_error, 2);
    GRADED(s, test_evaluate_no_grad_and_next_epoch, 2);
    GRADED(s, test_epoch_accuracy_counts_every_batch, 2);
    GRADED(s, test_epoch_scheduler_and_progress, 2);
    GRADED(s, test_micro_batch_size_one, 2);
}
