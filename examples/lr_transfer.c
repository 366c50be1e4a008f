/*
 * lr_transfer.c - the learning-rate-transfer experiment of "Scalable Optimization in the
 * Modular Norm" (Large et al., NeurIPS 2024), reproduced small on Fashion-MNIST.
 *
 * For every width of an MLP (3 Linear layers, ReLU, the same orthogonal initialization
 * for every optimizer) and every learning rate of a grid of powers of two, train for a
 * fixed number of steps and record the mean training loss (cross-entropy) over the last
 * 50 steps. Three optimizers train the same nets on the same batches:
 *
 *   dualized     w -= lr * dualize(grad)   (steepest descent in the modular norm)
 *   normed_adam  the paper's driver: Adam's m/sqrt(v), normalized in the modular norm to
 *                lr * (1 - t/T) by power iteration, weight decay 0.01 split by mass
 *   adam         torch.optim.Adam's rule on the raw gradients
 *   sgd          plain gradient descent on the raw gradients
 *
 * The claim to check: the best learning rate of dualized descent stays put (within one
 * grid step) as the width grows, while the baselines' best learning rate moves.
 *
 * Output: a table per optimizer (the best lr of each width marked with '*'), a summary
 * of how far the best lr moves, a CSV (optimizer,width,lr,log2_lr,loss) and a PNG plot
 * (one panel per optimizer, one curve per width) through gnuplot when it is installed.
 *
 *   build/examples/lr_transfer                     # the default small grid (< 15 min, 2 cores)
 *   build/examples/lr_transfer --widths 64,128,256,512,1024 --steps 500
 *
 * Runs are spread over --jobs worker processes (fork), one strata thread each: on two cores
 * two independent runs beat one run with two threads at these sizes.
 */
#include "modular.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 16
#define LAST 50 /* the loss is averaged over this many final steps */

typedef enum OptKind { OPT_DUALIZED, OPT_NORMED, OPT_ADAM, OPT_SGD, NUM_OPTS } OptKind;
static const char *const OPT_NAMES[NUM_OPTS] = {"dualized", "normed_adam", "adam", "sgd"};
static const char *const OPT_TITLES[NUM_OPTS] = {"dualized descent (modular)",
                                                 "normed Adam (modular)", "Adam", "SGD"};

typedef struct Config {
    int64_t widths[MAX_LIST]; /* MLP widths, or ResMLP block counts with --depths */
    int num_widths;
    int lo[NUM_OPTS], hi[NUM_OPTS]; /* log2 lr grid per optimizer, inclusive */
    bool use[NUM_OPTS];
    int depth;
    int steps;
    int64_t batch;
    uint64_t seed;
    int jobs;
    const char *data;
    const char *csv;
    const char *png;
    bool resmlp;      /* sweep the depth of a ResMLP instead of the width of an MLP */
    int64_t res_width;
    const char *from_csv; /* no training: tables and plot from an earlier CSV */
} Config;

typedef struct Run {
    OptKind opt;
    int64_t width;
    int log2_lr;
    double loss; /* INFINITY when it diverged */
    double seconds;
    double cpu;  /* CPU seconds of the run */
} Run;

static void usage(void)
{
    printf("usage: lr_transfer [options]\n"
           "  --widths A,B,...     MLP widths (default 64,128,256,512)\n"
           "  --depths A,B,...     sweep depth instead: Linear o ResMLP(width, L blocks) o\n"
           "                       Linear for each L (the blocks tared to mass 1)\n"
           "  --width N            ResMLP width with --depths (default 64)\n"
           "  --depth N            Linear layers (default 3)\n"
           "  --steps N            training steps per run (default 300; loss = mean of the\n"
           "                       last %d)\n"
           "  --batch N            batch size (default 128)\n"
           "  --dualized LO:HI     log2 lr grid of dualized descent (default -7:1)\n"
           "  --normed LO:HI       log2 lr grid of normed Adam (default -7:1)\n"
           "  --adam LO:HI         log2 lr grid of Adam (default -13:-5)\n"
           "  --sgd LO:HI          log2 lr grid of SGD (default -5:3)\n"
           "  --only NAME[,NAME]   run only these optimizers (dualized, normed_adam, adam,\n"
           "                       sgd)\n"
           "  --jobs N             worker processes (default 2)\n"
           "  --seed N             seed of initialization and batch order (default 0)\n"
           "  --data DIR           Fashion-MNIST IDX files (default\n"
           "                       /usr/share/datasets/fashion-mnist)\n"
           "  --csv PATH           results (default lr_transfer.csv)\n"
           "  --png PATH           plot (default lr_transfer.png)\n"
           "  --from-csv PATH      no training: the tables and the plot of an earlier run\n"
           "                       (pass its --steps/--depths/--width for the titles)\n",
           LAST);
}

static int parse_range(const char *v, int *lo, int *hi)
{
    return sscanf(v, "%d:%d", lo, hi) == 2 && *lo <= *hi && *hi - *lo < MAX_LIST ? 0 : -1;
}

static int parse(Config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 1;
        }
        if (!v) {
            fprintf(stderr, "lr_transfer: %s needs a value (see --help)\n", a);
            return -1;
        }
        i++;
        int bad = 0;
        if (!strcmp(a, "--widths") || !strcmp(a, "--depths")) {
            c->resmlp = !strcmp(a, "--depths");
            c->num_widths = 0;
            char *copy = strdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t && c->num_widths < MAX_LIST;
                 t = strtok_r(NULL, ",", &save))
                c->widths[c->num_widths++] = atoll(t);
            free(copy);
            bad = c->num_widths == 0;
        } else if (!strcmp(a, "--depth")) c->depth = atoi(v);
        else if (!strcmp(a, "--width")) c->res_width = atoll(v);
        else if (!strcmp(a, "--steps")) c->steps = atoi(v);
        else if (!strcmp(a, "--batch")) c->batch = atoll(v);
        else if (!strcmp(a, "--jobs")) c->jobs = atoi(v);
        else if (!strcmp(a, "--seed")) c->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--data")) c->data = v;
        else if (!strcmp(a, "--csv")) c->csv = v;
        else if (!strcmp(a, "--png")) c->png = v;
        else if (!strcmp(a, "--from-csv")) c->from_csv = v;
        else if (!strcmp(a, "--dualized")) bad = parse_range(v, &c->lo[0], &c->hi[0]);
        else if (!strcmp(a, "--normed")) bad = parse_range(v, &c->lo[1], &c->hi[1]);
        else if (!strcmp(a, "--adam")) bad = parse_range(v, &c->lo[2], &c->hi[2]);
        else if (!strcmp(a, "--sgd")) bad = parse_range(v, &c->lo[3], &c->hi[3]);
        else if (!strcmp(a, "--only")) {
            for (int k = 0; k < NUM_OPTS; k++) { /* whole names: "adam" is in "normed_adam" */
                c->use[k] = false;
                char *copy = strdup(v), *save = NULL;
                for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                    c->use[k] = c->use[k] || !strcmp(t, OPT_NAMES[k]);
                free(copy);
            }
        } else {
            fprintf(stderr, "lr_transfer: unknown option %s (see --help)\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "lr_transfer: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    if (c->depth < 2 || c->steps <= LAST || c->batch < 1 || c->jobs < 1) {
        fprintf(stderr, "lr_transfer: need depth >= 2, steps > %d, batch >= 1, jobs >= 1\n",
                LAST);
        return -1;
    }
    for (int i = 0; i < c->num_widths; i++)
        if (c->widths[i] < 1) {
            fprintf(stderr, "lr_transfer: widths must be >= 1\n");
            return -1;
        }
    return 0;
}

/* One training run; returns the mean loss of the last LAST steps, or INFINITY. */
static double train_run(const Config *c, Dataset *train, OptKind kind, int64_t width,
                        float lr)
{
    strata_manual_seed(c->seed * 1000003u + (uint64_t)width); /* same init for every run */
    ModularModule *m =
        c->resmlp ? modular_chain(3, (ModularModule *[]){modular_linear(c->res_width, 784),
                                                         modular_resmlp(c->res_width, (int)width, 1),
                                                         modular_linear(10, c->res_width)})
                  : modular_mlp(10, 784, width, c->depth);
    if (!m || modular_initialize(m) != 0)
        return NAN;
    int n = modular_num_atoms(m);
    Var *params[64];
    modular_weights(m, params);
    Optimizer *opt = NULL;
    if (kind == OPT_DUALIZED || kind == OPT_NORMED) {
        ModularOptimOptions o = {0};
        o.kind = kind == OPT_DUALIZED ? MODULAR_DESCENT : MODULAR_NORMED_ADAM;
        o.lr = lr;
        if (kind == OPT_NORMED) { /* the paper's defaults */
            o.beta1 = 0.9f;
            o.beta2 = 0.99f;
            o.weight_decay = 0.01f;
            o.total_steps = c->steps;
        }
        opt = modular_optimizer_new(m, &o);
    } else {
        OptimHparams hp = kind == OPT_ADAM ? optim_adam_defaults(lr) : optim_sgd_defaults(lr);
        opt = kind == OPT_ADAM ? optim_adam_new(params, n, &hp) : optim_sgd_new(params, n, &hp);
    }
    /* the same batches in every run */
    DataLoaderOptions lo = {.batch_size = c->batch, .shuffle = true, .seed = c->seed,
                            .drop_last = true};
    DataLoader *dl = data_loader_new(train, &lo);
    if (!opt || !dl) {
        optim_free(opt);
        data_loader_free(dl);
        modular_free(m);
        return NAN;
    }
    double tail = 0.0, first = NAN, result = 0.0;
    for (int t = 0; t < c->steps; t++) {
        Batch b;
        if (!data_loader_next(dl, &b) && !data_loader_next(dl, &b)) { /* next epoch */
            result = NAN;
            break;
        }
        Scope *s = scope_begin();
        optim_zero_grad(opt, true);
        Var *loss = nn_cross_entropy(modular_forward(m, b.x), b.y);
        double value = loss ? tensor_item(loss->data) : NAN;
        if (!loss || var_backward(loss) != 0 || optim_step(opt) != 0)
            value = NAN;
        scope_end(s);
        if (t == 0)
            first = value;
        /* diverged: NaN, or far above where it started (ln 10 = 2.3 at chance) */
        if (!isfinite(value) || value > 3.0 * first + 5.0) {
            result = INFINITY;
            break;
        }
        if (t >= c->steps - LAST)
            tail += value;
    }
    if (result == 0.0)
        result = tail / LAST;
    optim_free(opt);
    data_loader_free(dl);
    modular_free(m);
    return result;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Run the runs i with i % jobs == worker, appending "i loss seconds" lines to @p out. */
static void worker(const Config *c, Dataset *train, Run *runs, int nruns, int worker_id,
                   FILE *out)
{
    for (int i = worker_id; i < nruns; i += c->jobs) {
        double t0 = now();
        clock_t c0 = clock();
        float lr = ldexpf(1.0f, runs[i].log2_lr);
        double loss = train_run(c, train, runs[i].opt, runs[i].width, lr);
        double secs = now() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
        fprintf(out, "%d %.9g %.3f %.3f\n", i, loss, secs, cpu);
        fflush(out);
        fprintf(stderr, "  %-11s %s %5lld  lr 2^%-3d  loss %8.4f  (%.1f s)\n",
                OPT_NAMES[runs[i].opt], c->resmlp ? "blocks" : "width", (long long)runs[i].width,
                runs[i].log2_lr, loss, secs);
    }
}

static int write_plot(const Config *c)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "lr_transfer: gnuplot not found, no plot written\n");
        return 1;
    }
    char script[] = "/tmp/lr_transfer_XXXXXX";
    int fd = mkstemp(script);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    int panels = 0;
    for (int k = 0; k < NUM_OPTS; k++)
        panels += c->use[k];
    int rows = panels > 2 ? 2 : 1, cols = (panels + rows - 1) / rows;
    fprintf(f, "set terminal pngcairo size %d,%d font ',10'\n", 460 * cols + 40, 400 * rows + 40);
    fprintf(f, "set output '%s'\nset datafile separator ','\n", c->png);
    if (c->resmlp)
        fprintf(f, "set multiplot layout %d,%d title 'ResMLP (width %lld) on Fashion-MNIST: mean "
                   "training loss of the last %d of %d steps (batch %lld)'\n",
                rows, cols, (long long)c->res_width, LAST, c->steps, (long long)c->batch);
    else
        fprintf(f, "set multiplot layout %d,%d title 'MLP on Fashion-MNIST: mean training loss "
                   "of the last %d of %d steps (depth %d, batch %lld)'\n",
                rows, cols, LAST, c->steps, c->depth, (long long)c->batch);
    fprintf(f, "set xlabel 'log2 learning rate'\nset ylabel 'training loss'\n"
               "set yrange [0:2.5]\nset key top left\nset grid\n");
    for (int k = 0; k < NUM_OPTS; k++) {
        if (!c->use[k])
            continue;
        fprintf(f, "set title '%s'\nplot ", OPT_TITLES[k]);
        for (int w = 0; w < c->num_widths; w++)
            fprintf(f,
                    "%s'%s' using (strcol(1) eq '%s' && $2 == %lld ? $4 : 1/0):($5 > 100 ? 1/0 : $5) "
                    "with linespoints title '%s %lld'",
                    w ? ", " : "", c->csv, OPT_NAMES[k], (long long)c->widths[w],
                    c->resmlp ? "blocks" : "width", (long long)c->widths[w]);
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "gnuplot %s", script);
    int rc = system(cmd);
    unlink(script);
    return rc == 0 ? 0 : -1;
}

/* Train every run of the grid with forked workers and write the CSV; the number of
 * failed workers (0 when all went well), or -1 when nothing could run. */
static int train_all(Config *c, Run *runs, int *nruns_out)
{
    DataMnistOptions dopt = {.flatten = true, .std = 1.0f};
    Dataset *train = data_mnist_load(c->data, true, &dopt);
    if (!train) {
        fprintf(stderr, "lr_transfer: %s\n", strata_last_error());
        return -1;
    }

    /* The runs, widest first so the slow ones start early and the workers stay busy. */
    int nruns = 0;
    for (int w = c->num_widths - 1; w >= 0; w--)
        for (int k = 0; k < NUM_OPTS; k++)
            for (int e = c->lo[k]; c->use[k] && e <= c->hi[k]; e++)
                runs[nruns++] = (Run){(OptKind)k, c->widths[w], e, NAN, 0.0, 0.0};
    fprintf(stderr, "lr_transfer: %d runs of %d steps on %d worker(s)\n", nruns, c->steps,
            c->jobs);

    /* Fork the workers; each writes its results to its own temporary file. */
    char paths[MAX_LIST][64];
    pid_t pids[MAX_LIST];
    int jobs = c->jobs < MAX_LIST ? c->jobs : MAX_LIST;
    c->jobs = jobs;
    fflush(stdout);
    fflush(stderr);
    for (int j = 0; j < jobs; j++) {
        snprintf(paths[j], sizeof paths[j], "/tmp/lr_transfer_%d_%d.txt", (int)getpid(), j);
        pids[j] = fork();
        if (pids[j] == 0) {
            strata_set_num_threads(1);
            FILE *out = fopen(paths[j], "w");
            if (!out)
                _exit(1);
            worker(c, train, runs, nruns, j, out);
            fclose(out);
            _exit(0);
        }
        if (pids[j] < 0) {
            perror("lr_transfer: fork");
            data_dataset_free(train);
            return -1;
        }
    }
    int failed = 0;
    for (int j = 0; j < jobs; j++) {
        int status = 0;
        waitpid(pids[j], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        FILE *in = fopen(paths[j], "r");
        int i;
        double loss, secs, cpu;
        while (in && fscanf(in, "%d %lf %lf %lf", &i, &loss, &secs, &cpu) == 4)
            if (i >= 0 && i < nruns)
                runs[i].loss = loss, runs[i].seconds = secs, runs[i].cpu = cpu;
        if (in)
            fclose(in);
        unlink(paths[j]);
    }
    if (failed)
        fprintf(stderr, "lr_transfer: a worker failed; missing runs show as nan\n");

    /* CSV */
    FILE *csv = fopen(c->csv, "w");
    if (!csv) {
        perror(c->csv);
        data_dataset_free(train);
        return -1;
    }
    fprintf(csv, "optimizer,width,lr,log2_lr,loss\n");
    for (int i = 0; i < nruns; i++)
        fprintf(csv, "%s,%lld,%.9g,%d,%.6f\n", OPT_NAMES[runs[i].opt], (long long)runs[i].width,
                (double)ldexpf(1.0f, runs[i].log2_lr), runs[i].log2_lr,
                isinf(runs[i].loss) ? 1e9 : runs[i].loss);
    fclose(csv);
    data_dataset_free(train);
    *nruns_out = nruns;
    return failed;
}

/* Read an earlier run's CSV into @p runs, and the grid it covers into @p c. 0 or -1. */
static int read_csv(Config *c, Run *runs, int *nruns)
{
    FILE *in = fopen(c->from_csv, "r");
    if (!in) {
        perror(c->from_csv);
        return -1;
    }
    char line[256], name[32];
    long long width;
    double lr, loss;
    int e;
    c->num_widths = 0;
    for (int k = 0; k < NUM_OPTS; k++)
        c->use[k] = false, c->lo[k] = 99, c->hi[k] = -99;
    while (fgets(line, sizeof line, in)) {
        if (sscanf(line, "%31[^,],%lld,%lf,%d,%lf", name, &width, &lr, &e, &loss) != 5)
            continue; /* the header */
        int k = 0;
        while (k < NUM_OPTS && strcmp(name, OPT_NAMES[k]))
            k++;
        if (k == NUM_OPTS || *nruns >= NUM_OPTS * MAX_LIST * MAX_LIST)
            continue;
        runs[(*nruns)++] = (Run){(OptKind)k, width, e, loss >= 1e9 ? INFINITY : loss, 0.0, 0.0};
        c->use[k] = true;
        c->lo[k] = e < c->lo[k] ? e : c->lo[k];
        c->hi[k] = e > c->hi[k] ? e : c->hi[k];
        int w = 0;
        while (w < c->num_widths && c->widths[w] != width)
            w++;
        if (w == c->num_widths && w < MAX_LIST) { /* insert, keeping the list sorted */
            while (w > 0 && c->widths[w - 1] > width) {
                c->widths[w] = c->widths[w - 1];
                w--;
            }
            c->widths[w] = width;
            c->num_widths++;
        }
    }
    fclose(in);
    c->csv = c->from_csv;
    if (*nruns == 0) {
        fprintf(stderr, "lr_transfer: no results in %s\n", c->from_csv);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    Config c = {{64, 128, 256, 512}, 4, {-7, -7, -13, -5}, {1, 1, -5, 3}, {true, true, true, true},
                3, 300, 128, 0, 2, "/usr/share/datasets/fashion-mnist", "lr_transfer.csv",
                "lr_transfer.png", false, 64, NULL};
    int p = parse(&c, argc, argv);
    if (p != 0)
        return p > 0 ? 0 : 2;

    Run *runs = calloc(NUM_OPTS * MAX_LIST * MAX_LIST, sizeof *runs);
    int nruns = 0, failed = 0;
    double t0 = now();
    if (c.from_csv) {
        if (read_csv(&c, runs, &nruns) != 0)
            return 1;
    } else {
        failed = train_all(&c, runs, &nruns);
        if (failed < 0)
            return 1;
    }

    /* Tables: rows = widths, columns = lrs; '*' marks the best lr of each width. */
    const char *dim = c.resmlp ? "blocks" : "width";
    if (c.resmlp)
        printf("\nMean training loss over the last %d of %d steps (ResMLP width %lld, batch "
               "%lld, Fashion-MNIST); * = best lr of the row, div = diverged\n",
               LAST, c.steps, (long long)c.res_width, (long long)c.batch);
    else
        printf("\nMean training loss over the last %d of %d steps (MLP depth %d, batch %lld, "
               "Fashion-MNIST); * = best lr of the row, div = diverged\n",
               LAST, c.steps, c.depth, (long long)c.batch);
    int best[NUM_OPTS][MAX_LIST];
    for (int k = 0; k < NUM_OPTS; k++) {
        if (!c.use[k])
            continue;
        printf("\n%s\n%8s", OPT_NAMES[k], dim);
        for (int e = c.lo[k]; e <= c.hi[k]; e++)
            printf("  lr 2^%-3d", e);
        printf("\n");
        for (int w = 0; w < c.num_widths; w++) {
            double losses[MAX_LIST];
            best[k][w] = c.lo[k];
            double bl = INFINITY;
            for (int e = c.lo[k]; e <= c.hi[k]; e++) {
                losses[e - c.lo[k]] = NAN;
                for (int i = 0; i < nruns; i++)
                    if (runs[i].opt == (OptKind)k && runs[i].width == c.widths[w] &&
                        runs[i].log2_lr == e)
                        losses[e - c.lo[k]] = runs[i].loss;
                if (losses[e - c.lo[k]] < bl)
                    bl = losses[e - c.lo[k]], best[k][w] = e;
            }
            printf("%8lld", (long long)c.widths[w]);
            for (int e = c.lo[k]; e <= c.hi[k]; e++) {
                double l = losses[e - c.lo[k]];
                if (isinf(l))
                    printf("  %8s", "div");
                else
                    printf("  %7.4f%c", l, e == best[k][w] ? '*' : ' ');
            }
            printf("\n");
        }
    }
    printf("\nBest log2 lr per %s (and how far it moves across %s %lld..%lld):\n", dim, dim,
           (long long)c.widths[0], (long long)c.widths[c.num_widths - 1]);
    for (int k = 0; k < NUM_OPTS; k++) {
        if (!c.use[k])
            continue;
        int mn = 99, mx = -99;
        printf("  %-11s", OPT_NAMES[k]);
        for (int w = 0; w < c.num_widths; w++) {
            printf(" %4d", best[k][w]);
            mn = best[k][w] < mn ? best[k][w] : mn;
            mx = best[k][w] > mx ? best[k][w] : mx;
        }
        printf("   moves by %d grid step%s\n", mx - mn, mx - mn == 1 ? "" : "s");
    }
    if (c.from_csv)
        printf("\nread %s\n", c.csv);
    else {
        double cpu = 0.0;
        for (int i = 0; i < nruns; i++)
            cpu += runs[i].cpu;
        printf("\nwrote %s; %.0f s in all (%.0f CPU seconds of training: about %.0f s of "
               "wall time on %d idle cores)\n",
               c.csv, now() - t0, cpu, cpu / c.jobs, c.jobs);
    }
    if (write_plot(&c) == 0)
        printf("wrote %s\n", c.png);
    free(runs);
    return failed;
}
