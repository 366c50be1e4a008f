/*
 * bench_epoch.c - how long one training epoch on Fashion-MNIST takes.
 *
 *   build/release/bench/bench_epoch [--threads 1,2] [--cnn-images N] [--data DIR]
 *                                   [--contention 0|1] [--repeat N]
 *
 * Cases, for each thread count:
 *   mlp       one epoch of the MLP 784-256-128-10 (Adam, batch 128) with train_epoch()
 *   mlp/gemm  the same epoch's matrix products alone as raw cblas_sgemm calls: per batch
 *             3 forward GEMMs and 5 backward ones (dW3, dH2, dW2, dH1, dW1; no dX) — the
 *             time no framework can beat with this BLAS (on OpenBLAS's own threads)
 *   cnn       the CNN of examples/fashion_cnn.c (Adam, batch 128), timed over the first
 *             N training images (default 12800) and scaled to the 60000 of an epoch
 *   cnn/gemm  the cblas_sgemm calls strata made in the first CNN epoch (recorded with
 *             the linker's --wrap, see the Makefile), replayed alone, spread over the
 *             threads (thread t takes every t-th call), scaled the same way
 * and, when python3 can import torch, the same models in PyTorch (bench/torch_epoch.py,
 * run from here so both figures come from the same run).
 *
 * Each strata epoch and its GEMM floor are timed --repeat times (default 3), taking
 * turns, and each side's fastest time is reported (wall and CPU separately). On a
 * shared machine another program can slow any one run by 10-20%; the fastest of a few
 * runs is the one least disturbed, and taking turns gives both sides the same machine.
 * Every repeat is a whole epoch from a freshly made model. PyTorch runs once.
 *
 * Then the contention rows: the
 * benchmark starts a busy process (one core's worth of spinning), times each epoch on
 * one thread and on the default thread setting beside it, and stops it. Prints a table,
 * the peak RSS, and appends "benchmark,case,strata,reference,ratio" rows to $BENCH_CSV
 * if set.
 *
 * Targets: mlp <= 1.08x its GEMMs, cnn <= 1.5x its GEMMs; mlp and cnn <= 0.5x
 * PyTorch; with a busy process beside it, the default setting <= 1.25x one thread.
 */
#include "optim.h"

#include <cblas.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EPOCH_IMAGES 60000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process (all threads): on a shared machine, the 1-thread
 * figures in CPU time are what stays comparable between runs. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A measurement: wall-clock and CPU seconds. */
typedef struct Timing {
    double wall, cpu;
} Timing;

static void csv_row(const char *bench_case, double strata, double reference)
{
    const char *path = getenv("BENCH_CSV");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    if (reference > 0.0)
        fprintf(f, "epoch,%s,%.4f,%.4f,%.3f\n", bench_case, strata, reference, strata / reference);
    else
        fprintf(f, "epoch,%s,%.4f,,\n", bench_case, strata);
    fclose(f);
}

static Module *mlp(void)
{
    return nn_sequential(5, nn_linear(784, 256, true), nn_relu(), nn_linear(256, 128, true),
                         nn_relu(), nn_linear(128, 10, true));
}

static Module *cnn(void)
{
    return nn_sequential(10, nn_conv2d(1, 32, 3, 1, 1, 1, true), nn_relu(),
                         nn_max_pool2d(2, 0, 0), nn_conv2d(32, 64, 3, 1, 1, 1, true), nn_relu(),
                         nn_max_pool2d(2, 0, 0), nn_flatten(1, -1),
                         nn_linear(64 * 7 * 7, 128, true), nn_relu(), nn_linear(128, 10, true));
}

/* One epoch of @p model over @p ds (Adam lr 1e-3, batch 128, shuffled). */
static Timing time_epoch(Module *model, Dataset *ds)
{
    Optimizer *opt = optim_adam(model, 1e-3f);
    DataLoaderOptions lo = {128, true, 1, false};
    DataLoader *dl = data_loader_new(ds, &lo);
    if (!opt || !dl) {
        fprintf(stderr, "bench_epoch: %s\n", strata_last_error());
        exit(1);
    }
    TrainStats st;
    Timing t = {now(), cpu_now()};
    if (train_epoch(model, opt, dl, NULL, &st) < 0) {
        fprintf(stderr, "bench_epoch: %s\n", strata_last_error());
        exit(1);
    }
    t.wall = now() - t.wall;
    t.cpu = cpu_now() - t.cpu;
    data_loader_free(dl);
    optim_free(opt);
    return t;
}

/*
 * Counted bytes one batch's forward pass keeps alive: the batch itself and every
 * activation the graph holds for backward (measured, not counted by formula).
 */
static double batch_activation_bytes(Module *model, Dataset *ds)
{
    DataLoaderOptions lo = {128, false, 1, false};
    DataLoader *dl = data_loader_new(ds, &lo);
    Batch b;
    double bytes = -1.0;
    Scope *scope = scope_begin();
    size_t before = strata_mem_stats().bytes_live;
    if (dl && data_loader_next(dl, &b)) {
        Var *out = nn_forward(model, b.x);
        if (out)
            bytes = (double)(strata_mem_stats().bytes_live - before);
    }
    scope_end(scope);
    data_loader_free(dl);
    return bytes;
}

/*
 * The MLP epoch's memory against its budget: the counted peak above what was live
 * before the model existed, against 2 x (parameters + Adam's two moments + one batch's
 * activations). Gradients, temporaries and the loader fit in the factor 2.
 */
static void report_epoch_memory(int threads, double peak, Module *model, Dataset *ds)
{
    double params = (double)nn_num_parameters(model, false) * (double)sizeof(float);
    double acts = batch_activation_bytes(model, ds);
    double budget = params + 2.0 * params + acts;
    printf("%-8d %-10s %9.2f MB peak = %.2fx (parameters %.2f + Adam state %.2f + one "
           "batch's activations %.2f MB)   (target <= 2)\n", threads, "mlp/memory",
           peak / 1048576.0, peak / budget, params / 1048576.0, 2.0 * params / 1048576.0,
           acts / 1048576.0);
    char name[64];
    snprintf(name, sizeof name, "mlp_epoch_peak_vs_budget_t%d", threads);
    csv_row(name, peak, budget);
}

/* The MLP epoch's GEMMs alone: row-major, weights [out, in] as nn stores them. */
static Timing time_floor(void)
{
    const int sizes[4] = {784, 256, 128, 10};
    float *w[3], *dw[3], *act[4], *dact[4];
    const int bmax = 128;
    for (int l = 0; l < 3; l++) {
        w[l] = calloc((size_t)sizes[l] * (size_t)sizes[l + 1], sizeof(float));
        dw[l] = calloc((size_t)sizes[l] * (size_t)sizes[l + 1], sizeof(float));
    }
    for (int l = 0; l < 4; l++) {
        act[l] = calloc((size_t)bmax * (size_t)sizes[l], sizeof(float));
        dact[l] = calloc((size_t)bmax * (size_t)sizes[l], sizeof(float));
        for (int i = 0; i < bmax * sizes[l]; i++)
            act[l][i] = dact[l][i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    }
    Timing t = {now(), cpu_now()};
    for (int done = 0; done < EPOCH_IMAGES; done += bmax) {
        int b = EPOCH_IMAGES - done < bmax ? EPOCH_IMAGES - done : bmax;
        for (int l = 0; l < 3; l++) /* act[l+1] = act[l] W^T : [b, in] x [in, out] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, sizes[l + 1], sizes[l], 1.0f,
                        act[l], sizes[l], w[l], sizes[l], 0.0f, act[l + 1], sizes[l + 1]);
        for (int l = 2; l >= 0; l--) {
            /* dW = dact[l+1]^T act[l] : [out, b] x [b, in] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, sizes[l + 1], sizes[l], b, 1.0f,
                        dact[l + 1], sizes[l + 1], act[l], sizes[l], 0.0f, dw[l], sizes[l]);
            if (l > 0) /* dact[l] = dact[l+1] W : [b, out] x [out, in] */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, sizes[l], sizes[l + 1],
                            1.0f, dact[l + 1], sizes[l + 1], w[l], sizes[l], 0.0f, dact[l],
                            sizes[l]);
        }
    }
    t.wall = now() - t.wall;
    t.cpu = cpu_now() - t.cpu;
    for (int l = 0; l < 3; l++) {
        free(w[l]);
        free(dw[l]);
    }
    for (int l = 0; l < 4; l++) {
        free(act[l]);
        free(dact[l]);
    }
    return t;
}

/* ------------------------------------------------- the CNN's GEMMs, recorded --- */

/* One cblas_sgemm call's shape (row-major, as strata makes them). */
typedef struct GemmCall {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float beta;
} GemmCall;

static struct {
    pthread_mutex_t lock;
    bool on;
    GemmCall *calls;
    size_t count, cap;
} rec = {PTHREAD_MUTEX_INITIALIZER, false, NULL, 0, 0};

/* The real cblas_sgemm, and the wrapper every call in this program goes through (the
 * Makefile links bench_epoch with -Wl,--wrap=cblas_sgemm): it notes the call's shape
 * while recording is on. */
void __real_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc);
void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc);
void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc)
{
    if (rec.on) {
        pthread_mutex_lock(&rec.lock);
        if (rec.count == rec.cap) {
            size_t cap = rec.cap ? 2 * rec.cap : 4096;
            GemmCall *grown = realloc(rec.calls, cap * sizeof *grown);
            if (grown) {
                rec.calls = grown;
                rec.cap = cap;
            }
        }
        if (rec.count < rec.cap)
            rec.calls[rec.count++] = (GemmCall){ta == CblasTrans, tb == CblasTrans, m, n, k,
                                                lda, ldb, ldc, beta};
        pthread_mutex_unlock(&rec.lock);
    }
    __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* One replaying thread: calls first, first + step, ... on its own buffers. */
typedef struct {
    size_t first, step;
} Replay;

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static void *replay_calls(void *arg)
{
    const Replay *r = arg;
    size_t na = 1, nb = 1, nc = 1;
    for (size_t i = r->first; i < rec.count; i += r->step) {
        const GemmCall *g = &rec.calls[i];
        na = max_size(na, (size_t)(g->ta ? g->k : g->m) * (size_t)g->lda);
        nb = max_size(nb, (size_t)(g->tb ? g->n : g->k) * (size_t)g->ldb);
        nc = max_size(nc, (size_t)g->m * (size_t)g->ldc);
    }
    float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
    float *c = calloc(nc, sizeof(float));
    if (!a || !b || !c) {
        fprintf(stderr, "bench_epoch: out of memory replaying the GEMMs\n");
        exit(1);
    }
    for (size_t i = 0; i < na; i++)
        a[i] = (float)((i * 37) % 101) / 1010.0f;
    for (size_t i = 0; i < nb; i++)
        b[i] = (float)((i * 53) % 97) / 970.0f;
    for (size_t i = r->first; i < rec.count; i += r->step) {
        const GemmCall *g = &rec.calls[i];
        __real_cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                           g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0f, a,
                           g->lda, b, g->ldb, g->beta, c, g->ldc);
    }
    free(a);
    free(b);
    free(c);
    return NULL;
}

/* The recorded calls alone, spread over @p threads threads (OpenBLAS at one thread
 * each, as strata runs it): no framework on this BLAS computes them in less. */
static Timing time_recorded_gemms(int threads)
{
    pthread_t tid[STRATA_MAX_THREADS];
    Replay r[STRATA_MAX_THREADS];
    openblas_set_num_threads(1);
    Timing t = {now(), cpu_now()};
    for (int i = 0; i < threads; i++) {
        r[i] = (Replay){(size_t)i, (size_t)threads};
        if (i > 0 && pthread_create(&tid[i], NULL, replay_calls, &r[i]) != 0) {
            fprintf(stderr, "bench_epoch: cannot start a replay thread\n");
            exit(1);
        }
    }
    replay_calls(&r[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(tid[i], NULL);
    t.wall = now() - t.wall;
    t.cpu = cpu_now() - t.cpu;
    return t;
}

/* ------------------------------------------------------------------ contention --- */

/* A busy process: one core's worth of spinning, the way another user's job takes one. */
static pid_t competitor_start(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        volatile unsigned long spin = 0;
        for (;;)
            spin++;
    }
    if (pid < 0)
        fprintf(stderr, "bench_epoch: fork: cannot start the busy process\n");
    return pid;
}

static void competitor_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Keep in *fastest the smaller wall and the smaller CPU time of *fastest and @p t
 * (the first call, with no time yet, takes @p t's). */
static void keep_fastest(Timing *fastest, Timing t, int repeat)
{
    if (repeat == 0 || t.wall < fastest->wall)
        fastest->wall = t.wall;
    if (repeat == 0 || t.cpu < fastest->cpu)
        fastest->cpu = t.cpu;
}

/* @p t times @p factor: the CNN's partial epoch scaled to a whole one. */
static Timing scaled(Timing t, double factor)
{
    return (Timing){t.wall * factor, t.cpu * factor};
}

/* Lower *best to @p seconds when it is a time (> 0) and *best has none or a larger one. */
static void keep_best(double *best, double seconds)
{
    if (seconds > 0 && (*best < 0 || seconds < *best))
        *best = seconds;
}

/* One "best" row: strata's fastest thread setting against PyTorch's fastest. */
static void report_best(const char *name, const char *csv_name, double strata_s, double torch_s)
{
    if (strata_s <= 0 || torch_s <= 0)
        return;
    printf("%-8s %-10s %9.3f %9.3f %6.2f   (each side's best thread setting; target <= 0.5)\n",
           "best", name, strata_s, torch_s, strata_s / torch_s);
    csv_row(csv_name, strata_s, torch_s);
}

/* PyTorch's figures for @p threads threads, or negative when torch is unavailable. */
static void torch_epoch(int threads, int cnn_images, Timing *mlp_s, Timing *cnn_s)
{
    mlp_s->wall = cnn_s->wall = mlp_s->cpu = cnn_s->cpu = -1.0;
    const char *skip = getenv("BENCH_TORCH");
    if (skip && strcmp(skip, "0") == 0)
        return;
    const char *script = getenv("BENCH_TORCH_SCRIPT");
    if (!script)
        script = "bench/torch_epoch.py";
    char cmd[1024];
    /* The first python3 that imports torch (Debian's python3-torch lives under
     * /usr/bin/python3, which a pyenv or venv python3 earlier on PATH does not see). */
    snprintf(cmd, sizeof cmd,
             "for py in python3 /usr/bin/python3; do if $py -c 'import torch' 2>/dev/null; "
             "then exec $py %s --threads %d --cnn-images %d 2>/dev/null; fi; done",
             script, threads, cnn_images);
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    char line[256];
    while (fgets(line, sizeof line, p)) {
        double v;
        if (sscanf(line, "mlp_epoch_s=%lf", &v) == 1)
            mlp_s->wall = v;
        else if (sscanf(line, "cnn_epoch_s=%lf", &v) == 1)
            cnn_s->wall = v;
        else if (sscanf(line, "mlp_epoch_cpu_s=%lf", &v) == 1)
            mlp_s->cpu = v;
        else if (sscanf(line, "cnn_epoch_cpu_s=%lf", &v) == 1)
            cnn_s->cpu = v;
    }
    pclose(p);
}

/*
 * The contention rows: a busy process started here, then each epoch on one thread and
 * on the default setting beside it (in this order, in one run), then the process
 * stopped. On a machine with c cores and one busy process, the default setting has
 * c - 1 free cores plus a share of the busy one: it should never be much slower than
 * one thread.
 */
static void report_contention(int default_threads, int cnn_images, Dataset *ds_flat,
                              Dataset *ds_img)
{
    pid_t busy = competitor_start();
    if (busy <= 0)
        return;
    double scale = (double)EPOCH_IMAGES / (double)cnn_images;
    Timing t[2][2]; /* [mlp, cnn][one thread, default] */
    for (int model = 0; model < 2; model++) {
        for (int d = 0; d < 2; d++) {
            strata_set_num_threads(d ? default_threads : 1);
            strata_manual_seed(1);
            Module *m = model ? cnn() : mlp();
            t[model][d] = scaled(time_epoch(m, model ? ds_img : ds_flat), model ? scale : 1.0);
            nn_module_free(m);
        }
    }
    competitor_stop(busy);
    strata_set_num_threads(default_threads);
    printf("with one busy process beside it (started and stopped by this benchmark):\n");
    const char *names[2] = {"mlp", "cnn"};
    for (int model = 0; model < 2; model++) {
        double ratio = t[model][1].wall / t[model][0].wall;
        printf("%-8s %-10s %9.3f %9.3f %6.2f   (default %d threads against 1 thread, "
               "wall s; target <= 1.25)\n", "busy", names[model], t[model][1].wall,
               t[model][0].wall, ratio, default_threads);
        char name[64];
        snprintf(name, sizeof name, "contention_%s_default_vs_1thread", names[model]);
        csv_row(name, t[model][1].wall, t[model][0].wall);
    }
}

static void usage(FILE *to)
{
    fprintf(to, "usage: bench_epoch [--threads LIST] [--cnn-images N] [--data DIR]\n"
                "                   [--contention 0|1] [--repeat N]\n"
                "  --threads LIST    thread counts to time, comma-separated (default 1,2)\n"
                "  --cnn-images N    CNN images timed, then scaled to an epoch: 128..%d "
                "(default 12800)\n"
                "  --data DIR        Fashion-MNIST's IDX files (default "
                "/usr/share/datasets/fashion-mnist)\n"
                "  --contention 0|1  the rows beside a busy process (default 1)\n"
                "  --repeat N        turns per epoch and floor, fastest kept: 1..100 (default 3)\n"
                "  BENCH_TORCH=0     skips PyTorch; BENCH_CSV=FILE appends the ratios as CSV\n",
                EPOCH_IMAGES);
}

/* The whole of @p text as an integer in [lo, hi], or false with a message naming @p option. */
static bool parse_int(const char *option, const char *text, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_epoch: %s wants a whole number from %d to %d, not '%s'\n",
                option, lo, hi, text);
        return false;
    }
    *out = (int)v;
    return true;
}

/* A comma-separated list of thread counts, each 1..256, at most 63 characters. */
static bool thread_list_ok(const char *list)
{
    char copy[64];
    if (strlen(list) >= sizeof copy) {
        fprintf(stderr, "bench_epoch: --threads list too long: '%s'\n", list);
        return false;
    }
    snprintf(copy, sizeof copy, "%s", list);
    int count = 0, threads;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","), count++)
        if (!parse_int("--threads", tok, 1, 256, &threads))
            return false;
    if (count == 0)
        fprintf(stderr, "bench_epoch: --threads wants at least one thread count\n");
    return count > 0;
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/datasets/fashion-mnist";
    const char *thread_list = "1,2";
    int cnn_images = 12800, contention = 1, repeats = 3;
    /* the default setting, before anything here sets one */
    const int default_threads = strata_get_num_threads();
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = value != NULL;
        if (!ok)
            fprintf(stderr, "bench_epoch: %s wants a value\n", argv[i]);
        else if (strcmp(argv[i], "--threads") == 0)
            ok = thread_list_ok(value), thread_list = value;
        else if (strcmp(argv[i], "--contention") == 0)
            ok = parse_int(argv[i], value, 0, 1, &contention);
        else if (strcmp(argv[i], "--cnn-images") == 0)
            ok = parse_int(argv[i], value, 128, EPOCH_IMAGES, &cnn_images);
        else if (strcmp(argv[i], "--data") == 0)
            data = value;
        else if (strcmp(argv[i], "--repeat") == 0)
            ok = parse_int(argv[i], value, 1, 100, &repeats);
        else {
            fprintf(stderr, "bench_epoch: unknown option '%s'\n", argv[i]);
            ok = false;
        }
        if (!ok) {
            usage(stderr);
            return 2;
        }
    }
    DataMnistOptions flat = {true, true, 0.2860f, 0.3530f, 0};
    DataMnistOptions image = {false, true, 0.2860f, 0.3530f, cnn_images};
    Dataset *ds_flat = data_mnist_load(data, true, &flat);
    Dataset *ds_img = ds_flat ? data_mnist_load(data, true, &image) : NULL;
    if (!ds_img) {
        fprintf(stderr, "bench_epoch: %s\n", strata_last_error());
        return 1;
    }
    printf("one Fashion-MNIST epoch (60000 images, batch 128, Adam); CNN timed on %d images "
           "and scaled; strata and its floors: fastest of %d runs each\n", cnn_images, repeats);
    printf("%-8s %-10s %9s %9s %6s %9s %9s %6s\n", "threads", "case", "strata_s", "ref_s",
           "ratio", "cpu_s", "ref_cpu", "ratio");
    int status = 0;
    /* the speed targets compare each side's best thread setting */
    double best_mlp = -1, best_cnn = -1, best_torch_mlp = -1, best_torch_cnn = -1;
    char list[64];
    snprintf(list, sizeof list, "%s", thread_list);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int threads = atoi(tok); /* checked by thread_list_ok() */
        const double cnn_scale = (double)EPOCH_IMAGES / (double)cnn_images;
        Timing mlp_s = {0, 0}, floor_s = {0, 0}, cnn_s = {0, 0}, cnn_floor = {0, 0};
        char name[64];
        for (int r = 0; r < repeats; r++) {
            strata_set_num_threads(threads);
            strata_manual_seed(1);
            strata_mem_reset_peak();
            size_t live_before = strata_mem_stats().bytes_live;
            Module *m = mlp();
            keep_fastest(&mlp_s, time_epoch(m, ds_flat), r);
            double mlp_peak = (double)(strata_mem_stats().bytes_peak - live_before);
            if (r == 0)
                report_epoch_memory(threads, mlp_peak, m, ds_flat);
            nn_module_free(m);
            openblas_set_num_threads(threads); /* the floor is OpenBLAS's own threading */
            keep_fastest(&floor_s, time_floor(), r);
            strata_set_num_threads(threads); /* strata's threads, OpenBLAS back to one */
        }
        for (int r = 0; r < repeats; r++) {
            strata_manual_seed(1);
            strata_mem_reset_peak();
            size_t live_before = strata_mem_stats().bytes_live;
            Module *c = cnn();
            rec.on = rec.count == 0; /* the first CNN epoch's GEMMs are the floor's */
            keep_fastest(&cnn_s, scaled(time_epoch(c, ds_img), cnn_scale), r);
            rec.on = false;
            double cnn_peak = (double)(strata_mem_stats().bytes_peak - live_before);
            if (r == 0) {
                printf("%-8d %-10s %9.2f MB peak (model, Adam state, activations and scratch, "
                       "counted by strata's allocator)\n", threads, "cnn/memory",
                       cnn_peak / 1048576.0);
                snprintf(name, sizeof name, "cnn_epoch_peak_bytes_t%d", threads);
                csv_row(name, cnn_peak, -1.0);
            }
            nn_module_free(c);
            keep_fastest(&cnn_floor, scaled(time_recorded_gemms(threads), cnn_scale), r);
        }
        Timing torch_mlp, torch_cnn;
        torch_epoch(threads, cnn_images, &torch_mlp, &torch_cnn);
        keep_best(&best_mlp, mlp_s.wall);
        keep_best(&best_cnn, cnn_s.wall);
        keep_best(&best_torch_mlp, torch_mlp.wall);
        keep_best(&best_torch_cnn, torch_cnn.wall);
        const struct {
            const char *name, *target;
            Timing a, b;
        } rows[4] = {{"mlp/gemm", "1.08", mlp_s, floor_s},
                     {"mlp/torch", "0.5", mlp_s, torch_mlp},
                     {"cnn/gemm", "1.5", cnn_s, cnn_floor},
                     {"cnn/torch", "0.5", cnn_s, torch_cnn}};
        const char *csv_names[4] = {"mlp_vs_cblas_floor", "mlp_vs_torch", "cnn_vs_cblas_floor",
                                    "cnn_vs_torch"};
        for (int r = 0; r < 4; r++) {
            if (rows[r].b.wall <= 0.0) {
                const char *skip = getenv("BENCH_TORCH");
                printf("%-8d %-10s %9.3f %9s %6s %9.3f %9s %6s   (PyTorch %s)\n", threads,
                       rows[r].name, rows[r].a.wall, "-", "-", rows[r].a.cpu, "-", "-",
                       skip && strcmp(skip, "0") == 0 ? "skipped: BENCH_TORCH=0"
                                                      : "not available: no python3 imports torch");
                snprintf(name, sizeof name, "%s_t%d", r == 3 ? "cnn_epoch" : "mlp_epoch", threads);
                if (r == 1 || r == 3)
                    csv_row(name, rows[r].a.wall, -1.0);
                continue;
            }
            printf("%-8d %-10s %9.3f %9.3f %6.2f %9.3f %9.3f %6.2f   (target <= %s)\n", threads,
                   rows[r].name, rows[r].a.wall, rows[r].b.wall, rows[r].a.wall / rows[r].b.wall,
                   rows[r].a.cpu, rows[r].b.cpu,
                   rows[r].b.cpu > 0 ? rows[r].a.cpu / rows[r].b.cpu : 0.0, rows[r].target);
            snprintf(name, sizeof name, "%s_t%d", csv_names[r], threads);
            csv_row(name, rows[r].a.wall, rows[r].b.wall);
            if (rows[r].b.cpu > 0) {
                snprintf(name, sizeof name, "%s_t%d_cpu", csv_names[r], threads);
                csv_row(name, rows[r].a.cpu, rows[r].b.cpu);
            }
        }
    }
    report_best("mlp/torch", "mlp_best_vs_torch_best", best_mlp, best_torch_mlp);
    report_best("cnn/torch", "cnn_best_vs_torch_best", best_cnn, best_torch_cnn);
    if (contention)
        report_contention(default_threads, cnn_images, ds_flat, ds_img);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB; strata allocator peak %.1f MB\n", (double)ru.ru_maxrss / 1024.0,
           (double)strata_mem_stats().bytes_peak / 1048576.0);
    csv_row("peak_rss_mb", (double)ru.ru_maxrss / 1024.0, -1.0);
    data_dataset_free(ds_flat);
    data_dataset_free(ds_img);
    return status;
}
