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
 *   within 10% from depth 4 to 64).
 * Time is the best of several steps after a warm-up, plain and L2L alternating (the
 * best, not the median, because other work on the machine only ever adds time;
 * target: L2L at most 1.5x plain, the price of recomputing each layer's forward).
 *
 * Prints a table and, when BENCH_CSV names a file, appends rows
 * "benchmark,case,strata,reference,ratio":
 *   l2l_working_bytes,depth_<d>,<L2L bytes>,<plain bytes>,<L2L/plain>
 *   l2l_step_ms,depth_<d>,<L2L ms>,<plain ms>,<L2L/plain>
 *   l2l_working_flatness,depth_64_vs_4,<L2L bytes at 64>,<L2L bytes at 4>,<ratio>
 */
#include "optim.h"

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
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

int main(void)
{
    const int depths[] = {4, 16, 64};
    const int ndepths = (int)(sizeof depths / sizeof *depths);
    const char *csv_path = getenv("BENCH_CSV");
    FILE *csv = csv_path && *csv_path ? fopen(csv_path, "a") : NULL;
    size_t l2l_bytes[3] = {0};
    int status = 0;

    printf("l2l: layer-to-layer execution vs plain training, [Linear(%d,%d), ReLU] x depth, "
           "B = %d, microbatch %d, %d threads\n",
           WIDTH, WIDTH, BATCH, MICROBATCH, strata_get_num_threads());
    printf("%6s %14s %14s %8s %14s %10s %10s %8s\n", "depth", "plain work B", "L2L work B",
           "ratio", "L2L stash B", "plain ms", "L2L ms", "ratio");

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

    for (int d = 0; d < ndepths && status == 0; d++) {
        Module *m = make_model(depths[d]);
        L2LOptions o;
        memset(&o, 0, sizeof o);
        o.microbatch_size = getenv("BENCH_L2L_MICROBATCH") ? atoll(getenv("BENCH_L2L_MICROBATCH")) : MICROBATCH;
        L2LTrainer *t = m ? l2l_new(m, &o) : NULL;
        if (!t) {
            fprintf(stderr, "bench_l2l: %s\n", strata_last_error());
            nn_module_free(m);
            status = 1;
            break;
        }
        /* Warm-up: gradients allocated, caches filled, the dry run done. */
        size_t plain_work = 0;
        L2LStats st;
        if (plain_step(m, x, y, NULL) < 0 || l2l_step(t, x, y, &st) < 0) {
            fprintf(stderr, "bench_l2l: %s\n", strata_last_error());
            status = 1;
        }
        double tp[REPS], tl[REPS];
        for (int r = 0; r < REPS && status == 0; r++) {
            tp[r] = plain_step(m, x, y, &plain_work);
            double t0 = now();
            int rc = l2l_step(t, x, y, &st);
            tl[r] = now() - t0;
            if (tp[r] < 0 || rc < 0) {
                fprintf(stderr, "bench_l2l: %s\n", strata_last_error());
                status = 1;
            }
        }
        if (status == 0) {
            double mp = 1e3 * best(tp, REPS), ml = 1e3 * best(tl, REPS);
            l2l_bytes[d] = st.working_peak_bytes;
            double mem_ratio = (double)st.working_peak_bytes / (double)plain_work;
            printf("%6d %14zu %14zu %8.3f %14zu %10.2f %10.2f %8.2f\n", depths[d], plain_work,
                   st.working_peak_bytes, mem_ratio, st.stash_bytes, mp, ml, ml / mp);
            if (csv) {
                fprintf(csv, "l2l_working_bytes,depth_%d,%zu,%zu,%.4f\n", depths[d],
                        st.working_peak_bytes, plain_work, mem_ratio);
                fprintf(csv, "l2l_step_ms,depth_%d,%.3f,%.3f,%.4f\n", depths[d], ml, mp,
                        ml / mp);
            }
        }
        l2l_free(t);
        nn_module_free(m);
    }
    scope_end(outer);
    if (status == 0) {
        double flat = (double)l2l_bytes[ndepths - 1] / (double)l2l_bytes[0];
        printf("L2L working set, depth %d vs %d: %.4f (target: within 10%%) %s\n",
               depths[ndepths - 1], depths[0], flat,
               flat <= 1.10 && flat >= 0.90 ? "ok" : "MISSED");
        if (csv)
            fprintf(csv, "l2l_working_flatness,depth_%d_vs_%d,%zu,%zu,%.4f\n",
                    depths[ndepths - 1], depths[0], l2l_bytes[ndepths - 1], l2l_bytes[0],
                    flat);
    }
    if (csv)
        fclose(csv);
    return status;
}
