/*
 * modular_mnist.c - Fashion-MNIST with a modular MLP and dualized gradient descent, in the
 * setup of Modula's hello-mnist: an MLP of width 256, batch 128, learning rate 0.1, MSE
 * on one-hot targets (or cross-entropy), pixels in [0, 1], batches drawn from the whole
 * training set (shuffled each epoch; hello-mnist's sampler drew from the first 784
 * images only, a bug not copied here).
 *
 * The network is a ModularModule wrapped as an nn Module (modular_nn_module), and the
 * update is the dualized optimizer (modular_optimizer_new) driven by week 4's
 * train_epoch(): each step is w -= lr * dualize(grad), the steepest descent direction of
 * the modular norm, of modular norm exactly lr.
 *
 *   build/examples/modular_mnist                      # defaults below, ~1-2 minutes
 *   build/examples/modular_mnist --loss ce --epochs 3
 */
#include "modular.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Config {
    int epochs;
    int64_t width;
    int depth;
    int64_t batch;
    float lr;
    float momentum;
    const char *loss;     /* mse | ce */
    const char *schedule; /* const | linear (decay to 0 over the run) */
    uint64_t seed;
    int threads;
    const char *data;
    bool quiet;
} Config;

static void usage(const Config *c)
{
    printf("usage: modular_mnist [options]\n"
           "  --epochs N       passes over the training set (default %d)\n"
           "  --width N        hidden width of the MLP (default %lld)\n"
           "  --depth N        Linear layers (default %d)\n"
           "  --batch N        batch size (default %lld)\n"
           "  --lr X           learning rate = modular norm of each step (default %g)\n"
           "  --momentum X     dualize an EMA of the gradient (default %g)\n"
           "  --loss NAME      mse (on one-hot targets) | ce (default %s)\n"
           "  --schedule NAME  const | linear: lr decays linearly to 0 (default %s)\n"
           "  --seed N         initialization and shuffling seed (default %llu)\n"
           "  --threads N      threads (default %d)\n"
           "  --data DIR       the IDX files (default %s)\n"
           "  --quiet          no progress lines\n",
           c->epochs, (long long)c->width, c->depth, (long long)c->batch, (double)c->lr,
           (double)c->momentum, c->loss, c->schedule, (unsigned long long)c->seed,
           c->threads, c->data);
}

static int parse(Config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(c);
            return 1;
        }
        if (!strcmp(a, "--quiet")) {
            c->quiet = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "modular_mnist: %s needs a value (see --help)\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--epochs")) c->epochs = atoi(v);
        else if (!strcmp(a, "--width")) c->width = atoll(v);
        else if (!strcmp(a, "--depth")) c->depth = atoi(v);
        else if (!strcmp(a, "--batch")) c->batch = atoll(v);
        else if (!strcmp(a, "--lr")) c->lr = (float)atof(v);
        else if (!strcmp(a, "--momentum")) c->momentum = (float)atof(v);
        else if (!strcmp(a, "--loss")) c->loss = v;
        else if (!strcmp(a, "--schedule")) c->schedule = v;
        else if (!strcmp(a, "--seed")) c->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--threads")) c->threads = atoi(v);
        else if (!strcmp(a, "--data")) c->data = v;
        else {
            fprintf(stderr, "modular_mnist: unknown option %s (see --help)\n", a);
            return -1;
        }
    }
    if (c->epochs < 1 || c->width < 1 || c->depth < 1 || c->batch < 1 || !(c->lr >= 0) ||
        (strcmp(c->loss, "mse") && strcmp(c->loss, "ce")) ||
        (strcmp(c->schedule, "const") && strcmp(c->schedule, "linear"))) {
        fprintf(stderr, "modular_mnist: bad option value (see --help)\n");
        return -1;
    }
    return 0;
}

/* MSE between the outputs and one-hot targets, averaged over every entry (hello-mnist). */
static Var *mse_one_hot(Module *model, Var *x, const Tensor *y, void *ctx)
{
    (void)ctx;
    Var *out = nn_forward(model, x);
    Tensor *target = tensor_one_hot(y, 10);
    return out && target ? nn_mse_loss(out, target, NN_REDUCTION_MEAN) : NULL;
}

/* Test accuracy: argmax of the outputs against the labels, under no-grad. */
static double evaluate(ModularModule *m, DataLoader *dl)
{
    double correct = 0.0;
    int64_t seen = 0;
    Batch b;
    autograd_no_grad_begin();
    while (data_loader_next(dl, &b)) {
        Scope *s = scope_begin();
        Var *out = modular_forward(m, b.x);
        double acc = out ? train_accuracy(out->data, b.y) : -1.0;
        scope_end(s);
        if (acc < 0) {
            autograd_no_grad_end();
            return -1.0;
        }
        correct += acc * (double)b.size;
        seen += b.size;
    }
    autograd_no_grad_end();
    return seen ? correct / (double)seen : 0.0;
}

/* Linear decay of the lr to 0 over the run (a LambdaLR factor, stepped per batch). */
static float linear_decay(int64_t t, void *ctx)
{
    int64_t total = *(const int64_t *)ctx;
    return t >= total ? 0.0f : 1.0f - (float)t / (float)total;
}

int main(int argc, char **argv)
{
    Config c = {5, 256, 3, 128, 0.1f, 0.0f, "mse", "const", 0, 2,
                "/usr/share/datasets/fashion-mnist", false};
    int p = parse(&c, argc, argv);
    if (p != 0)
        return p > 0 ? 0 : 2;
    strata_set_num_threads(c.threads);
    strata_manual_seed(c.seed);

    DataMnistOptions dopt = {.flatten = true, .std = 1.0f}; /* pixels in [0, 1] */
    Dataset *train = data_mnist_load(c.data, true, &dopt);
    Dataset *test = data_mnist_load(c.data, false, &dopt);
    if (!train || !test) {
        fprintf(stderr, "modular_mnist: %s\n", strata_last_error());
        return 1;
    }
    DataLoaderOptions lo = {.batch_size = c.batch, .shuffle = true, .seed = c.seed,
                           .drop_last = true};
    DataLoaderOptions to = {.batch_size = 1000};
    DataLoader *train_dl = data_loader_new(train, &lo);
    DataLoader *test_dl = data_loader_new(test, &to);

    ModularModule *mlp = modular_mlp(10, 784, c.width, c.depth);
    if (!mlp || modular_initialize(mlp) != 0) {
        fprintf(stderr, "modular_mnist: %s\n", strata_last_error());
        return 1;
    }
    char *summary = modular_repr(mlp);
    printf("MLP(10, 784, width %lld, depth %d)\n%s\n", (long long)c.width, c.depth,
           summary ? summary : "");
    strata_free(summary);
    Module *net = modular_nn_module(mlp); /* owns mlp from here */
    ModularOptimOptions oo = {0};
    oo.kind = MODULAR_DESCENT;
    oo.lr = c.lr;
    oo.momentum = c.momentum;
    Optimizer *opt = modular_optimizer_new(mlp, &oo);
    int64_t total = data_loader_num_batches(train_dl) * c.epochs;
    LRScheduler *sched = !strcmp(c.schedule, "linear")
                             ? optim_lambda_lr(opt, linear_decay, &total)
                             : NULL;
    if (!net || !opt || (!strcmp(c.schedule, "linear") && !sched)) {
        fprintf(stderr, "modular_mnist: %s\n", strata_last_error());
        return 1;
    }

    bool mse = !strcmp(c.loss, "mse");
    TrainOptions topt;
    memset(&topt, 0, sizeof topt);
    topt.loss_fn = mse ? mse_one_hot : NULL;
    topt.progress = c.quiet ? NULL : stderr;
    topt.log_every = 100;
    topt.step_scheduler = sched;
    printf("dualized descent, lr %g (%s), momentum %g, loss %s, batch %lld, %lld steps\n",
           (double)c.lr, c.schedule, (double)c.momentum, c.loss, (long long)c.batch,
           (long long)total);
    double accuracy = 0.0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int e = 0; e < c.epochs; e++) {
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", e + 1, c.epochs);
        topt.label = label;
        TrainStats tr;
        double acc = -1.0;
        if (train_epoch(net, opt, train_dl, &topt, &tr) != 0 ||
            (acc = evaluate(mlp, test_dl)) < 0) {
            fprintf(stderr, "modular_mnist: %s\n", strata_last_error());
            return 1;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        printf("epoch %d: train loss %.4f, test accuracy %.4f (%.0f s)\n", e + 1, tr.loss,
               acc, secs);
        fflush(stdout);
        accuracy = acc;
    }
    printf("final test accuracy %.4f; modular norm of the weights %.3f\n", accuracy,
           (double)modular_weight_norm(mlp));
    optim_scheduler_free(sched);
    optim_free(opt);
    nn_module_free(net);
    data_loader_free(train_dl);
    data_loader_free(test_dl);
    data_dataset_free(train);
    data_dataset_free(test);
    return accuracy >= 0.88 ? 0 : 3;
}
