/*
 * fashion_common.h - what the Fashion-MNIST trainers share: flags, data, the epoch
 * loop with evaluation, the metrics CSV and plot, checkpoints and resume.
 *
 * Each trainer (fashion_mlp.c, fashion_cnn.c, fashion_transformer.c) changes the
 * defaults it needs, builds its model and calls fashion_main(). Everything here uses only the public API (strata's five
 * headers), so it doubles as an example of a complete training program.
 */
#ifndef FASHION_COMMON_H
#define FASHION_COMMON_H

#include "optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Data-parallel mode. Built by `make` as build/examples/<trainer>_mpi when MPI is
 * installed (the same source with -DSTRATA_MPI) and run as
 *     mpirun -np 2 build/examples/fashion_mlp_mpi --threads 1
 * Every rank builds the same model; rank 0's weights are broadcast; each rank trains on
 * its shard of every epoch (a seeded, epoch-dependent split) with batch_size / ranks
 * rows per step; gradients are averaged across ranks before each step, so the ranks
 * follow the same trajectory as one process with the full batch. Rank 0 alone prints,
 * writes the CSV and the checkpoints; every rank can resume from a checkpoint.
 */
#ifdef STRATA_MPI
#include "optim_dist.h"

static int fashion_allreduce(void *ddp) { return optim_ddp_allreduce_gradients(ddp); }
#endif

/* Fashion-MNIST's training-set pixel mean and standard deviation (after / 255). */
#define FASHION_MEAN 0.2860f
#define FASHION_STD 0.3530f

typedef struct FashionConfig {
    const char *name;     /* "fashion_mlp" */
    int epochs;
    int64_t batch_size;
    float lr;
    float weight_decay;    /* < 0: the optimizer's default */
    const char *optimizer; /* sgd | adam | adamw | rmsprop */
    const char *schedule;  /* none | cosine | step */
    uint64_t seed;
    int threads;
    const char *checkpoint;
    const char *resume;
    const char *data;
    const char *csv;
    int64_t limit;         /* use only the first N training images (0: all) */
    bool flatten;          /* MLP inputs [N, 784]; CNN [N, 1, 28, 28] */
    bool quiet;            /* no progress bar / lines */
} FashionConfig;

static void fashion_usage(const FashionConfig *c)
{
    printf("usage: %s [options]\n"
           "  --epochs N         epochs to train (default %d)\n"
           "  --batch-size N     examples per batch (default %lld)\n"
           "  --lr X             learning rate (default %g)\n"
           "  --weight-decay X   weight decay (default %g; < 0: the optimizer's default)\n"
           "  --optimizer NAME   sgd | adam | adamw | rmsprop (default %s)\n"
           "  --schedule NAME    none | cosine | step: lr per epoch (default %s)\n"
           "  --seed N           seed of the initialisation and the shuffling (default %llu)\n"
           "  --threads N        threads for the kernels and OpenBLAS (default %d)\n"
           "  --checkpoint PATH  save model + optimizer state after every epoch\n"
           "  --resume PATH      continue from a checkpoint\n"
           "  --data DIR         the IDX files (default %s)\n"
           "  --csv PATH         per-epoch metrics (a PNG plot is written beside it when\n"
           "                     gnuplot is installed)\n"
           "  --limit N          train on the first N images only (a quick check)\n"
           "  --quiet            no progress bar\n",
           c->name, c->epochs, (long long)c->batch_size, (double)c->lr,
           (double)c->weight_decay, c->optimizer, c->schedule, (unsigned long long)c->seed,
           c->threads, c->data);
}

/* Parse argv into @p c; returns 0, 1 for --help, or -1 on a bad flag. */
static int fashion_parse(FashionConfig *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fashion_usage(c);
            return 1;
        }
        if (strcmp(a, "--quiet") == 0) {
            c->quiet = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", c->name, a);
            return -1;
        }
        i++;
        char *end = NULL;
        if (strcmp(a, "--epochs") == 0)
            c->epochs = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--batch-size") == 0)
            c->batch_size = strtoll(v, &end, 10);
        else if (strcmp(a, "--lr") == 0)
            c->lr = strtof(v, &end);
        else if (strcmp(a, "--weight-decay") == 0)
            c->weight_decay = strtof(v, &end);
        else if (strcmp(a, "--seed") == 0)
            c->seed = strtoull(v, &end, 10);
        else if (strcmp(a, "--threads") == 0)
            c->threads = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--limit") == 0)
            c->limit = strtoll(v, &end, 10);
        else if (strcmp(a, "--optimizer") == 0)
            c->optimizer = v;
        else if (strcmp(a, "--schedule") == 0)
            c->schedule = v;
        else if (strcmp(a, "--checkpoint") == 0)
            c->checkpoint = v;
        else if (strcmp(a, "--resume") == 0)
            c->resume = v;
        else if (strcmp(a, "--data") == 0)
            c->data = v;
        else if (strcmp(a, "--csv") == 0)
            c->csv = v;
        else {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", c->name, a);
            return -1;
        }
        if (end && *end) {
            fprintf(stderr, "%s: %s: '%s' is not a number\n", c->name, a, v);
            return -1;
        }
    }
    if (c->epochs < 1 || c->batch_size < 1 || !(c->lr > 0.0f) || c->threads < 1 ||
        c->limit < 0) {
        fprintf(stderr, "%s: epochs, batch size, lr and threads must be positive\n", c->name);
        return -1;
    }
    return 0;
}

/*
 * The defaults every trainer starts from: 10 epochs of Adam, lr 1e-3 with cosine
 * annealing, batch 128, seed 1, 2 threads, images [N, 1, 28, 28] from Debian's copy of
 * the data set. A trainer changes what differs before fashion_start().
 */
static FashionConfig fashion_defaults(const char *name)
{
    return (FashionConfig){
        .name = name,
        .epochs = 10,
        .batch_size = 128,
        .lr = 1e-3f,
        .weight_decay = -1.0f,
        .optimizer = "adam",
        .schedule = "cosine",
        .seed = 1,
        .threads = 2,
        .data = "/usr/share/datasets/fashion-mnist",
        .flatten = false,
    };
}

/*
 * Parse the flags into @p c (its defaults are what a flag does not set), then set the
 * threads and the seed. True to go on; false when the program should end with *status
 * (0 after --help, 2 on a bad flag).
 */
static bool fashion_start(FashionConfig *c, int argc, char **argv, int *status)
{
    int rc = fashion_parse(c, argc, argv);
    if (rc != 0) {
        *status = rc > 0 ? 0 : 2;
        return false;
    }
    strata_set_num_threads(c->threads);
    strata_manual_seed(c->seed);
    return true;
}

static double fashion_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The optimizer the flags ask for, over every parameter of @p model. */
static Optimizer *fashion_optimizer(const FashionConfig *c, Module *model)
{
    OptimHparams hp;
    if (strcmp(c->optimizer, "sgd") == 0) {
        hp = optim_sgd_defaults(c->lr);
        hp.momentum = 0.9f;
        hp.nesterov = true;
    } else if (strcmp(c->optimizer, "adam") == 0) {
        hp = optim_adam_defaults(c->lr);
    } else if (strcmp(c->optimizer, "adamw") == 0) {
        hp = optim_adamw_defaults(c->lr);
    } else if (strcmp(c->optimizer, "rmsprop") == 0) {
        hp = optim_rmsprop_defaults(c->lr);
    } else {
        hp = optim_sgd_defaults(c->lr); /* optim_by_name reports the unknown name */
    }
    if (c->weight_decay >= 0.0f) /* < 0: the optimizer's own default */
        hp.weight_decay = c->weight_decay;
    int n = 0;
    Var **params = nn_parameters(model, &n);
    if (!params)
        return NULL;
    Optimizer *opt = optim_by_name(c->optimizer, params, n, &hp);
    strata_free(params);
    return opt;
}

static LRScheduler *fashion_scheduler(const FashionConfig *c, Optimizer *opt)
{
    if (strcmp(c->schedule, "cosine") == 0)
        return optim_cosine_lr(opt, c->epochs, 0.0f);
    if (strcmp(c->schedule, "step") == 0)
        return optim_step_lr(opt, c->epochs > 3 ? c->epochs / 3 : 1, 0.3f);
    fprintf(stderr, "%s: unknown schedule '%s' (none, cosine, step)\n", c->name, c->schedule);
    return NULL;
}

/*
 * Train @p model (owned: freed here) as @p c says. Returns the process exit status.
 */
static int fashion_main(const FashionConfig *c, Module *model)
{
    int status = 1;
    Dataset *train = NULL, *test = NULL;
    DataLoader *train_dl = NULL, *test_dl = NULL;
    Optimizer *opt = NULL;
    LRScheduler *sched = NULL;
    TrainLog *log = NULL;
    int rank = 0, world = 1;
    Dataset *shard = NULL;
    void *ddp = NULL; /* OptimDDP * in the MPI build */
#ifdef STRATA_MPI
    if (optim_dist_init(NULL, NULL) < 0) {
        fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
        return 1;
    }
    rank = optim_dist_rank();
    world = optim_dist_world_size();
    if (c->batch_size % world != 0) {
        fprintf(stderr, "%s: batch size %lld does not split over %d ranks\n", c->name,
                (long long)c->batch_size, world);
        return 1;
    }
    if (rank != 0 && !freopen("/dev/null", "w", stdout)) /* rank 0 alone reports */
        return 1;
#endif
    if (!model) {
        fprintf(stderr, "%s: cannot build the model: %s\n", c->name, strata_last_error());
        return 1;
    }
    double t_load = fashion_now();
    DataMnistOptions mo = {c->flatten, true, FASHION_MEAN, FASHION_STD, c->limit};
    train = data_mnist_load(c->data, true, &mo);
    mo.limit = 0;
    test = train ? data_mnist_load(c->data, false, &mo) : NULL;
    if (!test) {
        fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
        goto done;
    }
    DataLoaderOptions lo = {c->batch_size, true, c->seed, false};
    DataLoaderOptions eo = {256, false, 0, false}; /* bounds the CNN's im2col buffers */
    train_dl = data_loader_new(train, &lo);
    test_dl = data_loader_new(test, &eo);
    opt = train_dl && test_dl ? fashion_optimizer(c, model) : NULL;
    if (!opt) {
        fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
        goto done;
    }
    if (strcmp(c->schedule, "none") != 0 && !(sched = fashion_scheduler(c, opt))) {
        fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
        goto done;
    }
    int64_t n_params = nn_num_parameters(model, true);
    printf("%s: %lld parameters, %lld train / %lld test images (loaded in %.1f s), "
           "%s lr %g, batch %lld, %d epochs, schedule %s, seed %llu, %d threads\n",
           c->name, (long long)n_params, (long long)data_dataset_size(train),
           (long long)data_dataset_size(test), fashion_now() - t_load, c->optimizer,
           (double)c->lr, (long long)c->batch_size, c->epochs, c->schedule,
           (unsigned long long)c->seed, c->threads);
    int64_t start_epoch = 0;
    if (c->resume) {
        if (train_checkpoint_load(c->resume, model, opt, sched, &start_epoch) < 0) {
            fprintf(stderr, "%s: cannot resume: %s\n", c->name, strata_last_error());
            goto done;
        }
        /* The checkpoint holds the model, optimizer, scheduler and generator; the
         * loader's epoch (which seeds its shuffle) is set here. */
        data_loader_set_epoch(train_dl, start_epoch);
        printf("resumed from %s after epoch %lld: loader at epoch %lld, lr %g%s\n", c->resume,
               (long long)start_epoch, (long long)data_loader_epoch(train_dl),
               (double)optim_get_lr(opt, 0), c->csv ? ", metrics log continued" : "");
    }
#ifdef STRATA_MPI
    if (world > 1 && !(ddp = optim_ddp_new(model, 0))) { /* after resume: rank 0 wins */
        fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
        goto done;
    }
    if (world > 1)
        printf("data parallel: %d ranks x %lld rows per step, gradients averaged across "
               "ranks %s (%zu bytes per rank per step)\n", world,
               (long long)(c->batch_size / world),
               optim_ddp_shared_memory(ddp) ? "through shared memory (all on this machine)"
                                            : "by MPI, started during backward",
               optim_ddp_gradient_bytes(ddp));
#endif
    /* On resume the log keeps the epochs already done, so the CSV and its plot cover
     * the whole run. */
    if (c->csv && rank == 0 &&
        !(log = c->resume ? train_log_resume(c->csv, start_epoch) : train_log_open(c->csv))) {
        fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
        goto done;
    }
    double t_all = fashion_now();
    TrainStats tr = {0}, te = {0};
    for (int64_t epoch = start_epoch; epoch < c->epochs; epoch++) {
        char label[64];
        snprintf(label, sizeof label, "epoch %lld/%d", (long long)epoch + 1, c->epochs);
        TrainOptions to;
        memset(&to, 0, sizeof to);
        to.progress = c->quiet ? NULL : stdout;
        to.log_every = 100;
        to.label = label;
#ifdef STRATA_MPI
        if (ddp) {
            /* This rank's shard of this epoch, in the sampler's (shuffled) order. */
            data_loader_free(train_dl);
            data_dataset_free(shard);
            DataLoaderOptions so = lo;
            so.batch_size = c->batch_size / world;
            so.shuffle = false;
            shard = data_distributed_shard(train, rank, world, c->seed, epoch, true, true);
            train_dl = shard ? data_loader_new(shard, &so) : NULL;
            if (!train_dl) {
                fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
                goto done;
            }
            to.before_step = fashion_allreduce;
            to.before_step_ctx = ddp;
        }
#endif
        float lr = optim_get_lr(opt, 0);
        if (train_epoch(model, opt, train_dl, &to, &tr) < 0 ||
            train_evaluate(model, test_dl, NULL, NULL, &te) < 0) {
            fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
            goto done;
        }
        if (sched)
            optim_scheduler_step(sched);
        printf("epoch %lld/%d  lr %.2e  train loss %.4f acc %.4f  |  test loss %.4f acc %.4f"
               "  |  %.1f s (%.0f img/s)\n",
               (long long)epoch + 1, c->epochs, (double)lr, tr.loss, tr.accuracy, te.loss,
               te.accuracy, tr.seconds + te.seconds, (double)tr.examples / tr.seconds);
        fflush(stdout);
        if (log && train_log_append(log, epoch + 1, &tr, &te, lr, tr.seconds + te.seconds) < 0)
            fprintf(stderr, "%s: %s\n", c->name, strata_last_error());
        if (c->checkpoint && rank == 0 && train_checkpoint_save(c->checkpoint, model, opt, sched, epoch + 1) < 0)
            fprintf(stderr, "%s: cannot save the checkpoint: %s\n", c->name, strata_last_error());
    }
    printf("%s: test accuracy %.4f after %d epochs in %.1f s\n", c->name, te.accuracy,
           c->epochs, fashion_now() - t_all);
    if (log) {
        train_log_close(log);
        log = NULL;
        char png[4096];
        snprintf(png, sizeof png, "%s", c->csv);
        char *dot = strrchr(png, '.');
        if (dot && strcmp(dot, ".csv") == 0)
            *dot = '\0';
        strncat(png, ".png", sizeof png - strlen(png) - 1);
        int rc = train_plot_csv(c->csv, png);
        if (rc == 0)
            printf("metrics in %s, curves in %s\n", c->csv, png);
        else if (rc == 1)
            printf("metrics in %s (no plot: gnuplot is not installed)\n", c->csv);
        else
            printf("metrics in %s (no plot: %s)\n", c->csv, strata_last_error());
    }
    status = 0;
done:
    train_log_close(log);
    optim_scheduler_free(sched);
    optim_free(opt);
    data_loader_free(train_dl);
    data_loader_free(test_dl);
    data_dataset_free(train);
    data_dataset_free(test);
    data_dataset_free(shard);
    nn_module_free(model);
#ifdef STRATA_MPI
    optim_ddp_free(ddp);
    optim_dist_finalize();
#endif
    (void)rank;
    (void)world;
    (void)ddp;
    return status;
}

#endif
