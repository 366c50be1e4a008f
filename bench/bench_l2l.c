/*
 * bench_l2l.c - L2L (layer-to-layer) execution against plain training: working memory
 * and time per step as the model gets deeper.
 *
 * Models: [Linear(W, W), ReLU] x depth + Linear(W, 10), for depth 4, 16, 64 at W = 256,
 * a batch of B = 256 rows, L2L microbatches of 64 rows (K = 4), cross-entropy loss, no
 * optimizer (a step computes the gradients).
 *
 * Working memory is the counting allocator's high-water mark above the host store (the
 * parameters, their gradients and, for L2L, the boundary stash):
 * - plain: after a warm-up step (so the gradients exist), the peak of bytes_live during
 *   forward + loss + backward, minus bytes_live before it: every layer's activations
 *   and the graph's saved tensors, which grow with depth;
 * - L2L: L2LStats::working_peak_bytes, the largest layer's weights and gradients plus
 *   the largest unit (one layer, one microbatch), which should not grow at all (target:
 *   within 10% from depth 4 to 64), whether or not every layer is recomputed.
 * Time is the CPU time of the process (CLOCK_PROCESS_CPUTIME_ID) for one step, the best
 * of several steps after a warm-up, plain, L2L and L2L recomputing every layer
 * alternating, on one thread: CPU time does not count the time other jobs on a shared
 * machine take, which wall-clock time does (target: L2L at most 1.35x plain at depth 16
 * and 64).
 *
 * Two L2L rows: the default, where a Linear layer's backward runs from the stash (its
 * graph would hold nothing else) and only the ReLUs are recomputed, and
 * L2LOptions::recompute_all, the textbook algorithm, which runs every layer's forward
 * again (4/3 of plain at best: four products per Linear layer against three).
 *
 * Beside each, its GEMM floor: the matrix products of one Linear(W, W) layer over the
 * batch, timed alone with cblas_sgemm, as L2L runs them on microbatches (the forward,
 * the input gradient and the weight gradient; with recompute_all the forward twice)
 * against plain training (forward, input gradient, weight gradient on the whole batch).
 * GEMMs are almost all of both steps, so this ratio is what each variant can reach: on
 * fewer rows each product repacks the same weights, so 1 and 4/3 become more.
 *
 * Prints a table and, when BENCH_CSV names a file, appends rows
 * "benchmark,case,strata,reference,ratio":
 *   l2l_working_bytes,depth_<d>,<L2L bytes>,<plain bytes>,<L2L/plain>
 *   l2l_step_ms,depth_<d>,<L2L ms>,<plain ms>,<L2L/plain>
 *   l2l_step_ms_recompute_all,depth_<d>,<L2L ms>,<plain ms>,<L2L/plain>
 *   l2l_gemm_floor,mb_64,,,<ratio>   l2l_gemm_floor_recompute_all,mb_64,,,<ratio>
 *   l2l_working_flatness,depth_64_vs_4,<L2L bytes at 64>,<L2L bytes at 4>,<ratio>
 *   l2l_step_ms,depth_16_mb_<mb>,<L2L ms>,<plain ms>,<L2L/plain>   (microbatch sweep)
 *   l2l_store_bytes,depth_<d>,<with a store>,<without>,<ratio>        (host store)
 *   l2l_store_state_bytes,depth_<d>,<Adam state in the store>,<in RAM>,<ratio>
 */
#include "optim.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WIDTH 256
#define CLASSES 10
#define BATCH 256
#define MICROBATCH 64
#define REPS 9

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double best(const double *v, int n)
{
    double b = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < b)
            b = v[i];
    return b;
}

static Module *make_model(int depth)
{
    strata_manual_seed(1);
    Module *m = nn_sequential(0);
    for (int i = 0; m && i < depth; i++)
        if (nn_sequential_append(m, nn_linear(WIDTH, WIDTH, true)) < 0 ||
            nn_sequential_append(m, nn_relu()) < 0) {
            nn_module_free(m);
            return NULL;
        }
    if (m && nn_sequential_append(m, nn_linear(WIDTH, CLASSES, true)) < 0) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}

/* One plain step: forward over the whole batch, loss, backward. Returns seconds, or a
 * negative value on error; *working receives the peak bytes above what was live. */
static double plain_step(Module *m, Tensor *x, Tensor *y, size_t *working)
{
    nn_zero_grad(m, false); /* keep the gradient tensors: they are host store */
    Scope *s = scope_begin();
    size_t base = strata_mem_stats().bytes_live;
    strata_mem_reset_peak();
    double t0 = now();
    Var *out = nn_forward(m, var_new(x, false));
    Var *loss = out ? nn_cross_entropy(out, y) : NULL;
    int rc = loss ? var_backward(loss) : -1;
    double t = now() - t0;
    size_t peak = strata_mem_stats().bytes_peak;
    scope_end(s);
    if (working)
        *working = peak - base;
    return rc < 0 ? -1.0 : t;
}

/*
 * The GEMM floors of an L2L step against a plain one at microbatch @p mb (see the top):
 * the best of several timings of each product, summed over the batch's microbatches.
 * Returns L2L's GEMM seconds over plain's without the recomputed forward (and, in
 * *recompute_all, with it), or a negative value when memory is short.
 */
static double gemm_floor(int64_t mb, double *recompute_all)
{
    const int n = WIDTH, b = BATCH, m = (int)mb, k = (b + m - 1) / m;
    float *x = calloc((size_t)b * n, sizeof(float)), *y = calloc((size_t)b * n, sizeof(float));
    float *w = calloc((size_t)n * n, sizeof(float)), *dw = calloc((size_t)n * n, sizeof(float));
    double ratio = -1.0;
    if (x && y && w && dw) {
        for (int i = 0; i < b * n; i++)
            x[i] = (float)(i % 13) * 0.01f;
        for (int i = 0; i < n * n; i++)
            w[i] = (float)(i % 7) * 0.01f;
        double fwd[2] = {1e9, 1e9}, dx[2] = {1e9, 1e9}, dwt[2] = {1e9, 1e9};
        for (int rep = 0; rep < 20; rep++)
            for (int plain = 0; plain < 2; plain++) {
                const int rows = plain ? b : m, parts = plain ? 1 : k;
                double t0 = now();
                for (int p = 0; p < parts; p++) /* y = x w^T */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, n, 1.0f,
                                x + (size_t)p * rows * n, n, w, n, 0.0f,
                                y + (size_t)p * rows * n, n);
                double t1 = now();
                for (int p = 0; p < parts; p++) /* dx = dy w */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n, n, 1.0f,
                                y + (size_t)p * rows * n, n, w, n, 0.0f,
                                x + (size_t)p * rows * n, n);
                double t2 = now();
                for (int p = 0; p < parts; p++) /* dw (+)= dy^T x */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, rows, 1.0f,
                                y + (size_t)p * rows * n, n, x + (size_t)p * rows * n, n,
                                p ? 1.0f : 0.0f, dw, n);
                double t3 = now();
                fwd[plain] = t1 - t0 < fwd[plain] ? t1 - t0 : fwd[plain];
                dx[plain] = t2 - t1 < dx[plain] ? t2 - t1 : dx[plain];
                dwt[plain] = t3 - t2 < dwt[plain] ? t3 - t2 : dwt[plain];
            }
        ratio = (fwd[0] + dx[0] + dwt[0]) / (fwd[1] + dx[1] + dwt[1]);
        *recompute_all = (2 * fwd[0] + dx[0] + dwt[0]) / (fwd[1] + dx[1] + dwt[1]);
    }
    free(x);
    free(y);
    free(w);
    free(dw);
    return ratio;
}

typedef struct Measure {
    size_t plain_bytes, l2l_bytes, all_bytes, stash_bytes;
    double plain_ms, l2l_ms, all_ms; /* all: with L2LOptions::recompute_all */
} Measure;

/* One timed L2L step: seconds, or a negative value on error. */
static double l2l_timed(L2LTrainer *t, Tensor *x, Tensor *y, L2LStats *st)
{
    double t0 = now();
    int rc = l2l_step(t, x, y, st);
    double t1 = now();
    return rc < 0 ? -1.0 : t1 - t0;
}

/* Working bytes and best step times of plain training and L2L (by default, and with
 * every layer recomputed) at @p depth, @p mb. */
static int measure(int depth, int64_t mb, Tensor *x, Tensor *y, Measure *out)
{
    Module *m = make_model(depth);
    L2LOptions o;
    memset(&o, 0, sizeof o);
    o.microbatch_size = mb;
    L2LTrainer *t = m ? l2l_new(m, &o) : NULL;
    o.recompute_all = true;
    L2LTrainer *t_all = m ? l2l_new(m, &o) : NULL;
    int status = t && t_all ? 0 : -1;
    /* Warm-up: gradients allocated, allocator cache filled, the dry runs done. */
    L2LStats st, st_all;
    if (status == 0 && (plain_step(m, x, y, NULL) < 0 || l2l_step(t, x, y, &st) < 0 ||
                        l2l_step(t_all, x, y, &st_all) < 0))
        status = -1;
    double tp[REPS], tl[REPS], ta[REPS];
    for (int r = 0; r < REPS && status == 0; r++) {
        tp[r] = plain_step(m, x, y, &out->plain_bytes);
        tl[r] = l2l_timed(t, x, y, &st);
        ta[r] = l2l_timed(t_all, x, y, &st_all);
        if (tp[r] < 0 || tl[r] < 0 || ta[r] < 0)
            status = -1;
    }
    if (status == 0) {
        out->l2l_bytes = st.working_peak_bytes;
        out->all_bytes = st_all.working_peak_bytes;
        out->stash_bytes = st.stash_bytes;
        out->plain_ms = 1e3 * best(tp, REPS);
        out->l2l_ms = 1e3 * best(tl, REPS);
        out->all_ms = 1e3 * best(ta, REPS);
    } else {
        fprintf(stderr, "bench_l2l: %s\n", strata_last_error());
    }
    l2l_free(t);
    l2l_free(t_all);
    nn_module_free(m);
    return status;
}

/* Where measure_store() keeps the model: all in RAM, the weights in a store file, or the
 * weights and the optimizer's state in it. */
typedef enum StoreMode { IN_RAM, WEIGHTS_IN_FILE, STATE_IN_FILE } StoreMode;

/*
 * The host store: counted bytes an eager L2L step (SGD, or Adam with @p adam) reaches
 * above what was live before the model existed (weights, gradients, optimizer state,
 * stash, working set), as @p mode places the model, with files under TMPDIR; and the
 * step's best CPU time.
 */
static int measure_store(int depth, StoreMode mode, bool adam, Tensor *x, Tensor *y,
                         size_t *bytes, double *ms)
{
    const bool with_store = mode != IN_RAM;
    char path[512];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/bench_l2l_store_%d.safetensors", dir && *dir ? dir : "/tmp",
             depth);
    size_t base = strata_mem_stats().bytes_live;
    Module *m = make_model(depth);
    int n = 0;
    Var **ps = m ? nn_parameters(m, &n) : NULL;
    OptimHparams hp = adam ? optim_adam_defaults(1e-3f) : optim_sgd_defaults(0.01f);
    Optimizer *opt = !ps ? NULL : adam ? optim_adam_new(ps, n, &hp) : optim_sgd_new(ps, n, &hp);
    strata_free(ps);
    L2LStore *store = opt && with_store
                          ? l2l_store_create(path, m, mode == STATE_IN_FILE ? opt : NULL)
                          : NULL;
    L2LOptions o;
    memset(&o, 0, sizeof o);
    o.microbatch_size = MICROBATCH;
    o.optimizer = opt;
    o.eager_update = true;
    o.store = store;
    L2LTrainer *t = opt && (store || !with_store) ? l2l_new(m, &o) : NULL;
    L2LStats st;
    int status = t && l2l_step(t, x, y, &st) == 0 ? 0 : -1;
    double tl[REPS];
    for (int r = 0; r < REPS && status == 0; r++) {
        double t0 = now();
        status = l2l_step(t, x, y, &st);
        tl[r] = now() - t0;
    }
    if (status == 0) {
        *bytes = st.peak_bytes - base;
        *ms = 1e3 * best(tl, REPS);
    } else {
        fprintf(stderr, "bench_l2l: %s\n", strata_last_error());
    }
    l2l_free(t);
    l2l_store_free(store); /* before the optimizer whose state it may hold */
    optim_free(opt);
    nn_module_free(m);
    if (with_store)
        remove(path);
    return status;
}

int main(void)
{
    const int depths[] = {4, 16, 64};
    const int ndepths = (int)(sizeof depths / sizeof *depths);
    const int64_t sweep[] = {32, 64, 128, 256};
    const int nsweep = (int)(sizeof sweep / sizeof *sweep);
    const char *csv_path = getenv("BENCH_CSV");
    FILE *csv = csv_path && *csv_path ? fopen(csv_path, "a") : NULL;
    Measure at[3];
    int status = 0;

    strata_set_num_threads(1);
    Scope *outer = scope_begin();
    strata_manual_seed(2);
    Tensor *x = tensor_randn((const int64_t[]){BATCH, WIDTH}, 2);
    float labels[BATCH];
    for (int i = 0; i < BATCH; i++)
        labels[i] = (float)(i % CLASSES);
    Tensor *y = tensor_from_data(labels, (const int64_t[]){BATCH}, 1);
    if (!x || !y) {
        fprintf(stderr, "bench_l2l: %s\n", strata_last_error());
        return 1;
    }

    printf("l2l: layer-to-layer execution vs plain training, [Linear(%d,%d), ReLU] x depth, "
           "B = %d, microbatch %d, %d thread(s), CPU time\n",
           WIDTH, WIDTH, BATCH, MICROBATCH, strata_get_num_threads());
    printf("L2L: a Linear layer's backward runs from the stash; recomp.: every layer "
           "recomputed (L2LOptions::recompute_all)\n");
    printf("%6s %14s %14s %8s %14s %14s %10s %10s %8s %10s %8s\n", "depth", "plain work B",
           "L2L work B", "ratio", "recomp. wk B", "L2L stash B", "plain ms", "L2L ms", "ratio",
           "recomp. ms", "ratio");
    for (int d = 0; d < ndepths && status == 0; d++) {
        Measure *r = &at[d];
        if (measure(depths[d], MICROBATCH, x, y, r) < 0) {
            status = 1;
            break;
        }
        double mem_ratio = (double)r->l2l_bytes / (double)r->plain_bytes;
        printf("%6d %14zu %14zu %8.3f %14zu %14zu %10.2f %10.2f %8.2f %10.2f %8.2f\n",
               depths[d], r->plain_bytes, r->l2l_bytes, mem_ratio, r->all_bytes,
               r->stash_bytes, r->plain_ms, r->l2l_ms, r->l2l_ms / r->plain_ms, r->all_ms,
               r->all_ms / r->plain_ms);
        if (csv) {
            fprintf(csv, "l2l_working_bytes,depth_%d,%zu,%zu,%.4f\n", depths[d], r->l2l_bytes,
                    r->plain_bytes, mem_ratio);
            fprintf(csv, "l2l_step_ms,depth_%d,%.3f,%.3f,%.4f\n", depths[d], r->l2l_ms,
                    r->plain_ms, r->l2l_ms / r->plain_ms);
            fprintf(csv, "l2l_step_ms_recompute_all,depth_%d,%.3f,%.3f,%.4f\n", depths[d],
                    r->all_ms, r->plain_ms, r->all_ms / r->plain_ms);
        }
    }
    if (status == 0) {
        double floor_all, floor64 = gemm_floor(MICROBATCH, &floor_all);
        double worst = 0, worst_all = 0;
        for (int d = 0; d < ndepths; d++)
            if (depths[d] >= 16) {
                if (at[d].l2l_ms / at[d].plain_ms > worst)
                    worst = at[d].l2l_ms / at[d].plain_ms;
                if (at[d].all_ms / at[d].plain_ms > worst_all)
                    worst_all = at[d].all_ms / at[d].plain_ms;
            }
        printf("L2L/plain at depth 16 and 64: at most %.2f (target: at most 1.35) %s; the GEMMs "
               "alone at microbatch %d: %.2f\n", worst, worst <= 1.35 ? "ok" : "MISSED",
               MICROBATCH, floor64);
        printf("recomputing every layer: at most %.2f (4/3 at best); the GEMMs alone, the "
               "forward twice: %.2f\n", worst_all, floor_all);
        if (csv) {
            fprintf(csv, "l2l_gemm_floor,mb_%d,,,%.4f\n", MICROBATCH, floor64);
            fprintf(csv, "l2l_gemm_floor_recompute_all,mb_%d,,,%.4f\n", MICROBATCH, floor_all);
        }
        double flat = (double)at[ndepths - 1].l2l_bytes / (double)at[0].l2l_bytes;
        double flat_all = (double)at[ndepths - 1].all_bytes / (double)at[0].all_bytes;
        printf("L2L working set, depth %d vs %d: %.4f, recomputing every layer %.4f (target: "
               "within 10%%) %s\n",
               depths[ndepths - 1], depths[0], flat, flat_all,
               flat <= 1.10 && flat >= 0.90 && flat_all <= 1.10 && flat_all >= 0.90 ? "ok"
                                                                                  : "MISSED");
        if (csv)
            fprintf(csv, "l2l_working_flatness,depth_%d_vs_%d,%zu,%zu,%.4f\n",
                    depths[ndepths - 1], depths[0], at[ndepths - 1].l2l_bytes, at[0].l2l_bytes,
                    flat);
    }

    /* The microbatch trades working memory for time: each microbatch repacks every
     * weight matrix and adds into every gradient. */
    if (status == 0)
        printf("\nmicrobatch sweep at depth 16 (B = %d)\n%6s %14s %10s %10s %8s %10s %10s %8s "
               "%10s\n",
               BATCH, "mb", "L2L work B", "plain ms", "L2L ms", "ratio", "GEMM floor",
               "recomp. ms", "ratio", "GEMM floor");
    for (int i = 0; i < nsweep && status == 0; i++) {
        Measure r;
        if (measure(16, sweep[i], x, y, &r) < 0) {
            status = 1;
            break;
        }
        double floor_all, floor = gemm_floor(sweep[i], &floor_all);
        printf("%6lld %14zu %10.2f %10.2f %8.2f %10.2f %10.2f %8.2f %10.2f\n",
               (long long)sweep[i], r.l2l_bytes, r.plain_ms, r.l2l_ms, r.l2l_ms / r.plain_ms,
               floor, r.all_ms, r.all_ms / r.plain_ms, floor_all);
        if (csv)
            fprintf(csv, "l2l_step_ms,depth_16_mb_%lld,%.3f,%.3f,%.4f\n", (long long)sweep[i],
                    r.l2l_ms, r.plain_ms, r.l2l_ms / r.plain_ms);
    }
    /* The host store: the weights leave the counted memory, one layer at a time comes
     * back (eager SGD: each layer's gradients go once it is updated). */
    if (status == 0)
        printf("\nhost store (eager SGD, microbatch %d): counted bytes of the step above "
               "what was live before the model\n%6s %14s %14s %8s %10s %10s\n",
               MICROBATCH, "depth", "no store B", "store B", "ratio", "no st. ms",
               "store ms");
    for (int d = 0; d < ndepths && status == 0; d++) {
        size_t plain_b = 0, store_b = 0;
        double plain_ms = 0, store_ms = 0;
        if (measure_store(depths[d], IN_RAM, false, x, y, &plain_b, &plain_ms) < 0 ||
            measure_store(depths[d], WEIGHTS_IN_FILE, false, x, y, &store_b, &store_ms) < 0) {
            status = 1;
            break;
        }
        printf("%6d %14zu %14zu %8.3f %10.2f %10.2f\n", depths[d], plain_b, store_b,
               (double)store_b / (double)plain_b, plain_ms, store_ms);
        if (csv)
            fprintf(csv, "l2l_store_bytes,depth_%d,%zu,%zu,%.4f\n", depths[d], store_b,
                    plain_b, (double)store_b / (double)plain_b);
    }
    /* With Adam the optimizer state is twice the weights: it leaves the counted memory
     * only when the store holds it too. */
    if (status == 0)
        printf("\nhost store with Adam (eager, microbatch %d): counted bytes of the step above "
               "what was live before the model\n%6s %14s %14s %14s %8s %10s %10s\n",
               MICROBATCH, "depth", "no store B", "weights B", "w.+state B", "ratio",
               "weights ms", "w.+st. ms");
    for (int d = 0; d < ndepths && status == 0; d++) {
        size_t ram_b = 0, weights_b = 0, state_b = 0;
        double ram_ms = 0, weights_ms = 0, state_ms = 0;
        if (measure_store(depths[d], IN_RAM, true, x, y, &ram_b, &ram_ms) < 0 ||
            measure_store(depths[d], WEIGHTS_IN_FILE, true, x, y, &weights_b, &weights_ms) < 0 ||
            measure_store(depths[d], STATE_IN_FILE, true, x, y, &state_b, &state_ms) < 0) {
            status = 1;
            break;
        }
        printf("%6d %14zu %14zu %14zu %8.3f %10.2f %10.2f\n", depths[d], ram_b, weights_b,
               state_b, (double)state_b / (double)weights_b, weights_ms, state_ms);
        if (csv)
            fprintf(csv, "l2l_store_state_bytes,depth_%d,%zu,%zu,%.4f\n", depths[d], state_b,
                    weights_b, (double)state_b / (double)weights_b);
    }
    scope_end(outer);
    if (csv)
        fclose(csv);
    return status;
}
