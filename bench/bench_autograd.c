/*
 * bench_autograd.c - the cost of recording and differentiating a tiny graph.
 *
 * The graph is the smallest useful one: 4x4 tensors, loss = sum(relu(x @ W) + b), forward
 * and backward, four recorded ops per step, single thread. With tensors this small the
 * arithmetic is negligible: what is timed is autograd's own overhead (allocating the
 * output tensors and nodes, the topological walk, accumulating into the leaves,
 * freeing the graph). Each step runs inside a scope, the way a training loop does.
 *
 * Prints microseconds per recorded op (best of several rounds) and, when BENCH_CSV
 * names a file, appends "autograd_tiny_graph,<case>,<strata>,<reference>,<ratio>".
 * The reference is PyTorch's eager CPU cost on the same graph, measured in the same run
 * by bench/torch_autograd.py when a python3 on the machine imports torch (Debian's
 * python3-torch); without one the row says PyTorch is unavailable. ratio = reference /
 * strata: how many times faster.
 */
#include "autograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPS_PER_STEP 4

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One training-like step: forward, backward, drop the graph. Returns 0 or -1. */
static int step(Var *x, Var *w, Var *b)
{
    Scope *s = scope_begin();
    Var *loss = var_sum(var_add(var_relu(var_matmul(x, w)), b), NULL, 0, false);
    int rc = loss ? var_backward(loss) : -1;
    scope_end(s);
    var_zero_grad(x, true);
    var_zero_grad(w, true);
    var_zero_grad(b, true);
    return rc;
}

/* PyTorch's microseconds per op on the same graph, or a negative number when no python3
 * imports torch (BENCH_TORCH=0 skips it; BENCH_TORCH_AUTOGRAD_SCRIPT names the script). */
static double torch_us_per_op(void)
{
    const char *skip = getenv("BENCH_TORCH");
    if (skip && strcmp(skip, "0") == 0)
        return -1.0;
    const char *script = getenv("BENCH_TORCH_AUTOGRAD_SCRIPT");
    if (!script)
        script = "bench/torch_autograd.py";
    char cmd[1024];
    /* The first python3 that imports torch (Debian's python3-torch lives under
     * /usr/bin/python3, which a pyenv or venv python3 earlier on PATH does not see). */
    snprintf(cmd, sizeof cmd,
             "for py in python3 /usr/bin/python3; do if $py -c 'import torch' 2>/dev/null; "
             "then exec $py %s 2>/dev/null; fi; done", script);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1.0;
    char line[256];
    double us = -1.0, v;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "torch_us_per_op=%lf", &v) == 1)
            us = v;
    pclose(p);
    return us;
}

int main(void)
{
    strata_set_num_threads(1);
    strata_manual_seed(1);
    int64_t shape[2] = {4, 4};
    Var *x = var_new(tensor_randn(shape, 2), true);
    Var *w = var_new(tensor_randn(shape, 2), true);
    Var *b = var_new(tensor_randn(shape, 2), true);
    /* var_new retained the tensors: drop the creation references (no scope is open). */
    tensor_release(x ? x->data : NULL);
    tensor_release(w ? w->data : NULL);
    tensor_release(b ? b->data : NULL);
    if (!x || !w || !b) {
        fprintf(stderr, "bench_autograd: %s\n", strata_last_error());
        return 1;
    }

    const int steps = 20000, rounds = 7;
    for (int i = 0; i < 2000; i++) /* warm up: caches, the allocator's free lists */
        if (step(x, w, b) < 0) {
            fprintf(stderr, "bench_autograd: %s\n", strata_last_error());
            return 1;
        }
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (int i = 0; i < steps; i++)
            step(x, w, b);
        double t = (now() - t0) / steps;
        best = t < best ? t : best;
    }
    double us_per_op = best * 1e6 / OPS_PER_STEP;
    double reference = torch_us_per_op();
    printf("tiny graph (4x4: matmul, relu, add, sum; forward + backward, 1 thread)\n");
    printf("  strata     %8.3f us/op   (%.3f us per step of %d ops; target <= 0.7 us/op)\n",
           us_per_op, best * 1e6, OPS_PER_STEP);
    if (reference > 0) {
        printf("  PyTorch    %8.3f us/op   (the same graph, measured now: "
               "bench/torch_autograd.py)\n", reference);
        printf("  ratio      %8.1fx faster\n", reference / us_per_op);
    } else {
        printf("  PyTorch    unavailable   (no python3 imports torch: Debian's "
               "python3-torch)\n");
    }

    const char *csv_path = getenv("BENCH_CSV");
    if (csv_path && csv_path[0]) {
        FILE *csv = fopen(csv_path, "a");
        if (csv) {
            if (reference > 0)
                fprintf(csv, "autograd_tiny_graph,us_per_op,%.4f,%.4f,%.3f\n", us_per_op,
                        reference, reference / us_per_op);
            else
                fprintf(csv, "autograd_tiny_graph,us_per_op,%.4f,,\n", us_per_op);
            fclose(csv);
        }
    }
    var_release(x);
    var_release(w);
    var_release(b);
    return 0;
}
