/*
 * tabular_regression.c - an MLP regressor trained on a CSV data set with SGD and StepLR,
 * against the closed-form linear-regression baseline: the first traditional task of the
 * course strata follows.
 *
 *   build/examples/tabular_regression                      # run from the repository root
 *   build/examples/tabular_regression --epochs 200 --lr 0.005
 *
 * Data: examples/data/auto_mpg.csv, the StatLib "Auto MPG" cars (392 cars with every
 * value known; public domain; see examples/data/README.md): predict miles per gallon
 * from cylinders, displacement, horsepower, weight, acceleration, model year and origin
 * (one-hot). data_csv_load() reads it with "mpg" as the label column.
 *
 * Split: deterministic, no RNG: car i (in file order, which is sorted by model year) is
 * a test car when i % 5 == 4, so both sets span every year: 314 train / 78 test.
 * Features and target are standardized with the training set's mean and standard
 * deviation; MSEs are reported in the original units (mpg^2).
 *
 * Baseline: ordinary least squares with an intercept, min ||X w - y||, solved in closed
 * form by LAPACK's sgels (QR; OpenBLAS ships LAPACK) on the standardized training set.
 *
 * Model: Linear 9-64, ReLU, Linear 64-64, ReLU, Linear 64-1; SGD (momentum 0.9,
 * weight decay 1e-4), lr 0.01, batch 16, StepLR (every 15 epochs x 0.3), 40 epochs,
 * seed 1. Each epoch prints the train and test MSE (an evaluation pass over each set).
 * With 314 rows the MLP overfits if trained much longer (test MSE creeps back up from
 * ~5 to ~6 by epoch 120): the short schedule is early stopping by design.
 */
#include "optim.h"

#include <lapack.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIDDEN 64

typedef struct Config {
    const char *data;
    int epochs;
    int64_t batch_size;
    float lr;
    int64_t step_size;
    float gamma;
    uint64_t seed;
} Config;

static int parse(Config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s [--data CSV] [--epochs N] [--batch-size N] [--lr X]\n"
                   "          [--step-size N] [--gamma X] [--seed N]\n"
                   "defaults: --data %s --epochs %d --batch-size %lld --lr %g "
                   "--step-size %lld --gamma %g --seed %llu\n",
                   argv[0], c->data, c->epochs, (long long)c->batch_size, (double)c->lr,
                   (long long)c->step_size, (double)c->gamma, (unsigned long long)c->seed);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", argv[0], a);
            return -1;
        }
        i++;
        char *end = NULL;
        if (strcmp(a, "--data") == 0)
            c->data = v;
        else if (strcmp(a, "--epochs") == 0)
            c->epochs = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--batch-size") == 0)
            c->batch_size = strtoll(v, &end, 10);
        else if (strcmp(a, "--lr") == 0)
            c->lr = strtof(v, &end);
        else if (strcmp(a, "--step-size") == 0)
            c->step_size = strtoll(v, &end, 10);
        else if (strcmp(a, "--gamma") == 0)
            c->gamma = strtof(v, &end);
        else if (strcmp(a, "--seed") == 0)
            c->seed = strtoull(v, &end, 10);
        else {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", argv[0], a);
            return -1;
        }
        if (end && *end) {
            fprintf(stderr, "%s: %s: '%s' is not a number\n", argv[0], a, v);
            return -1;
        }
    }
    if (c->epochs < 1 || c->batch_size < 1 || !(c->lr > 0.0f) || c->step_size < 1 ||
        !(c->gamma > 0.0f)) {
        fprintf(stderr, "%s: epochs, batch size, lr, step size and gamma must be positive\n",
                argv[0]);
        return -1;
    }
    return 0;
}

/* Standardize the columns of x [n, d] (row-major) in place with mean/std of rows
 * [0, n_fit); store them in mean/std (a constant column keeps std 1). */
static void standardize(float *x, int64_t n, int64_t d, int64_t n_fit, double *mean,
                        double *std)
{
    for (int64_t j = 0; j < d; j++) {
        double s = 0.0, ss = 0.0;
        for (int64_t i = 0; i < n_fit; i++)
            s += x[i * d + j];
        mean[j] = s / (double)n_fit;
        for (int64_t i = 0; i < n_fit; i++)
            ss += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]);
        std[j] = sqrt(ss / (double)n_fit);
        if (!(std[j] > 0.0))
            std[j] = 1.0;
        for (int64_t i = 0; i < n; i++)
            x[i * d + j] = (float)((x[i * d + j] - mean[j]) / std[j]);
    }
}

/*
 * Least squares with an intercept on the training rows: w = argmin ||[X 1] w - y||.
 * LAPACK is column-major: we hand it A (n x (d+1)) column by column. Returns 0 or -1.
 */
static int least_squares(const float *x, const float *y, int64_t n, int64_t d, float *w)
{
    lapack_int m = (lapack_int)n, k = (lapack_int)(d + 1), nrhs = 1, lda = m, ldb = m;
    lapack_int info = 0, lwork = -1;
    float *a = malloc(sizeof(float) * (size_t)(n * (d + 1)));
    float *b = malloc(sizeof(float) * (size_t)n);
    float query = 0.0f;
    if (!a || !b) {
        free(a);
        free(b);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < d; j++)
            a[j * n + i] = x[i * d + j];
        a[d * n + i] = 1.0f; /* the intercept column */
        b[i] = y[i];
    }
    char trans = 'N';
    LAPACK_sgels(&trans, &m, &k, &nrhs, a, &lda, b, &ldb, &query, &lwork, &info);
    lwork = (lapack_int)query;
    float *work = info == 0 ? malloc(sizeof(float) * (size_t)lwork) : NULL;
    if (work)
        LAPACK_sgels(&trans, &m, &k, &nrhs, a, &lda, b, &ldb, work, &lwork, &info);
    if (work && info == 0)
        memcpy(w, b, sizeof(float) * (size_t)(d + 1)); /* the first d+1 entries of b */
    int rc = work && info == 0 ? 0 : -1;
    free(work);
    free(a);
    free(b);
    return rc;
}

/* The loss of the training loop: MSE of the model's [B, 1] output against y [B]. */
static Var *mse_loss(Module *model, Var *x, const Tensor *y, void *ctx)
{
    (void)ctx;
    Var *out = nn_forward(model, x);
    const int64_t flat[1] = {tensor_numel(y)};
    return out ? nn_mse_loss(var_reshape(out, flat, 1), y, NN_REDUCTION_MEAN) : NULL;
}

int main(int argc, char **argv)
{
    Config c = {"examples/data/auto_mpg.csv", 40, 16, 0.01f, 15, 0.3f, 1};
    int rc = parse(&c, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    strata_manual_seed(c.seed);
    strata_set_num_threads(1); /* tiny matrices: threads cost more than they give */

    int status = 1;
    Dataset *all = NULL, *train = NULL, *test = NULL;
    DataLoader *train_dl = NULL, *train_eval_dl = NULL, *test_dl = NULL;
    Module *model = NULL;
    Optimizer *opt = NULL;
    LRScheduler *sched = NULL;
    float *x = NULL, *y = NULL;
    Scope *scope = scope_begin();

    DataCsvOptions co = {"mpg", 0, ','};
    all = data_csv_load(c.data, &co);
    if (!all) {
        fprintf(stderr, "tabular_regression: %s\n(run from the repository root, or pass "
                        "--data examples/data/auto_mpg.csv)\n", strata_last_error());
        goto done;
    }
    const Tensor *xs = data_dataset_inputs(all), *ys = data_dataset_targets(all);
    int64_t n = xs->shape[0], d = xs->shape[1];

    /* Deterministic split, training rows first: row i goes to the test set if i % 5 == 4. */
    x = malloc(sizeof(float) * (size_t)(n * d));
    y = malloc(sizeof(float) * (size_t)n);
    float *xa = malloc(sizeof(float) * (size_t)(n * d)), *ya = malloc(sizeof(float) * (size_t)n);
    if (!x || !y || !xa || !ya || tensor_to_array(xs, xa) < 0 || tensor_to_array(ys, ya) < 0) {
        free(xa);
        free(ya);
        fprintf(stderr, "tabular_regression: out of memory\n");
        goto done;
    }
    int64_t n_train = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < n; i++)
            if ((i % 5 == 4) == (pass == 1)) {
                int64_t r = pass == 0 ? n_train++ : n_train + (i / 5);
                memcpy(x + r * d, xa + i * d, sizeof(float) * (size_t)d);
                y[r] = ya[i];
            }
    free(xa);
    free(ya);
    int64_t n_test = n - n_train;
    double *mean = malloc(sizeof(double) * (size_t)(d + 1));
    double *sd = malloc(sizeof(double) * (size_t)(d + 1));
    if (!mean || !sd) {
        free(mean);
        free(sd);
        goto done;
    }
    standardize(x, n, d, n_train, mean, sd);
    standardize(y, n, 1, n_train, mean + d, sd + d);
    double y_mean = mean[d], y_var = sd[d] * sd[d]; /* MSE in mpg^2 = standardized * y_var */
    free(mean);
    free(sd);

    /* The closed-form baseline. */
    float *w = malloc(sizeof(float) * (size_t)(d + 1));
    if (!w || least_squares(x, y, n_train, d, w) < 0) {
        free(w);
        fprintf(stderr, "tabular_regression: sgels failed\n");
        goto done;
    }
    double base_train = 0.0, base_test = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double p = w[d];
        for (int64_t j = 0; j < d; j++)
            p += (double)w[j] * x[i * d + j];
        double e2 = (p - y[i]) * (p - y[i]) * y_var;
        if (i < n_train)
            base_train += e2;
        else
            base_test += e2;
    }
    free(w);
    base_train /= (double)n_train;
    base_test /= (double)n_test;

    const int64_t xtr_shape[2] = {n_train, d}, xte_shape[2] = {n_test, d};
    train = data_tensor_dataset_new(tensor_from_data(x, xtr_shape, 2),
                                    tensor_from_data(y, (int64_t[]){n_train}, 1));
    test = data_tensor_dataset_new(tensor_from_data(x + n_train * d, xte_shape, 2),
                                   tensor_from_data(y + n_train, (int64_t[]){n_test}, 1));
    DataLoaderOptions lo = {c.batch_size, true, c.seed, false};
    DataLoaderOptions eo = {512, false, 0, false};
    train_dl = train ? data_loader_new(train, &lo) : NULL;
    train_eval_dl = train ? data_loader_new(train, &eo) : NULL;
    test_dl = test ? data_loader_new(test, &eo) : NULL;
    model = nn_sequential(5, nn_linear(d, HIDDEN, true), nn_relu(),
                          nn_linear(HIDDEN, HIDDEN, true), nn_relu(),
                          nn_linear(HIDDEN, 1, true));
    if (model) {
        OptimHparams hp = optim_sgd_defaults(c.lr);
        hp.momentum = 0.9f;
        hp.weight_decay = 1e-4f;
        int np = 0;
        Var **params = nn_parameters(model, &np);
        opt = params ? optim_sgd_new(params, np, &hp) : NULL;
        strata_free(params);
    }
    sched = opt ? optim_step_lr(opt, c.step_size, c.gamma) : NULL;
    if (!train_dl || !train_eval_dl || !test_dl || !sched) {
        fprintf(stderr, "tabular_regression: %s\n", strata_last_error());
        goto done;
    }
    printf("tabular_regression: %s, %lld features, target 'mpg' (mean %.2f, var %.2f); "
           "%lld train / %lld test rows (row i is a test row when i %% 5 == 4)\n",
           c.data, (long long)d, y_mean, y_var, (long long)n_train, (long long)n_test);
    printf("model: Linear %lld-%d, ReLU, Linear %d-%d, ReLU, Linear %d-1 (%lld parameters); "
           "SGD momentum 0.9, lr %g, batch %lld, StepLR(%lld, %g), %d epochs, seed %llu\n",
           (long long)d, HIDDEN, HIDDEN, HIDDEN, HIDDEN,
           (long long)nn_num_parameters(model, true), (double)c.lr, (long long)c.batch_size,
           (long long)c.step_size, (double)c.gamma, c.epochs, (unsigned long long)c.seed);
    printf("baseline (least squares, LAPACK sgels): train MSE %.3f  test MSE %.3f\n",
           base_train, base_test);

    TrainOptions to;
    memset(&to, 0, sizeof to);
    to.loss_fn = mse_loss;
    TrainStats tr, ev_tr, ev_te;
    double best_test = INFINITY;
    int best_epoch = 0;
    for (int epoch = 1; epoch <= c.epochs; epoch++) {
        float lr = 0.0f;
        optim_scheduler_get_last_lr(sched, &lr, 1);
        if (train_epoch(model, opt, train_dl, &to, &tr) < 0 ||
            train_evaluate(model, train_eval_dl, mse_loss, NULL, &ev_tr) < 0 ||
            train_evaluate(model, test_dl, mse_loss, NULL, &ev_te) < 0 ||
            optim_scheduler_step(sched) < 0) {
            fprintf(stderr, "tabular_regression: %s\n", strata_last_error());
            goto done;
        }
        double mse_tr = ev_tr.loss * y_var, mse_te = ev_te.loss * y_var;
        if (mse_te < best_test) {
            best_test = mse_te;
            best_epoch = epoch;
        }
        printf("epoch %3d/%d  lr %.2e  train MSE %7.3f  test MSE %7.3f  (baseline test %.3f)\n",
               epoch, c.epochs, (double)lr, mse_tr, mse_te, base_test);
    }
    printf("tabular_regression: MLP test MSE %.3f (RMSE %.2f mpg) vs least squares %.3f "
           "(RMSE %.2f mpg) after %d epochs (best epoch %d: %.3f)\n",
           ev_te.loss * y_var, sqrt(ev_te.loss * y_var), base_test, sqrt(base_test), c.epochs,
           best_epoch, best_test);
    status = 0;
done:
    scope_end(scope);
    optim_scheduler_free(sched);
    optim_free(opt);
    nn_module_free(model);
    data_loader_free(train_dl);
    data_loader_free(train_eval_dl);
    data_loader_free(test_dl);
    data_dataset_free(train);
    data_dataset_free(test);
    data_dataset_free(all);
    free(x);
    free(y);
    return status;
}
