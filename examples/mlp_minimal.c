/*
 * mlp_minimal.c - the shortest complete trainer (docs/user-guide.md walks through it):
 * an MLP on Fashion-MNIST with Adam, a checkpoint per epoch, resume, a metrics log.
 *
 *   build/examples/mlp_minimal [EPOCHS]     # trains, or resumes from mlp.st if present
 */
#include <strata.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FAIL(w) do { fprintf(stderr, "%s: %s\n", w, strata_last_error()); return 1; } while (0)

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 3;
    strata_set_num_threads(2);
    strata_manual_seed(1);
    DataMnistOptions mo = {.flatten = true, .standardize = true, .mean = 0.286f, .std = 0.353f};
    Dataset *train = data_mnist_load("/usr/share/datasets/fashion-mnist", true, &mo);
    Dataset *test = data_mnist_load("/usr/share/datasets/fashion-mnist", false, &mo);
    if (!train || !test)
        FAIL("data");
    DataLoaderOptions lo = {.batch_size = 128, .shuffle = true, .seed = 1};
    DataLoader *train_dl = data_loader_new(train, &lo);
    DataLoader *test_dl = data_loader_new(test, &(DataLoaderOptions){.batch_size = 256});
    Module *model = nn_sequential(3, nn_linear(784, 128, true), nn_relu(),
                                  nn_linear(128, 10, true));
    Optimizer *opt = optim_adam(model, 1e-3f);
    if (!train_dl || !test_dl || !opt)
        FAIL("setup");

    int64_t done = 0; /* epochs already trained: resume if a checkpoint exists */
    if (access("mlp.st", F_OK) == 0) {
        if (train_checkpoint_load("mlp.st", model, opt, NULL, &done) < 0)
            FAIL("resume");
        data_loader_set_epoch(train_dl, done); /* the loader is not in the checkpoint */
        printf("resumed after epoch %lld\n", (long long)done);
    }
    TrainLog *log = done ? train_log_resume("mlp.csv", done) : train_log_open("mlp.csv");
    if (!log)
        FAIL("log");

    for (int64_t epoch = done; epoch < epochs; epoch++) {
        TrainStats tr, te;
        if (train_epoch(model, opt, train_dl, NULL, &tr) < 0 ||
            train_evaluate(model, test_dl, NULL, NULL, &te) < 0)
            FAIL("train");
        printf("epoch %lld: train loss %.4f, test accuracy %.4f\n", (long long)epoch + 1,
               tr.loss, te.accuracy);
        if (train_log_append(log, epoch + 1, &tr, &te, optim_get_lr(opt, 0), tr.seconds) < 0 ||
            train_checkpoint_save("mlp.st", model, opt, NULL, epoch + 1) < 0)
            FAIL("save");
    }
    train_log_close(log);
    train_plot_csv("mlp.csv", "mlp.png"); /* 1 (nothing done) without gnuplot */
    optim_free(opt);
    nn_module_free(model);
    data_loader_free(train_dl);
    data_loader_free(test_dl);
    data_dataset_free(train);
    data_dataset_free(test);
    return 0;
}
