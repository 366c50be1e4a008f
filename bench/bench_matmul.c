/*
 * bench_matmul.c - tensor_matmul against raw cblas_sgemm on the same operands.
 *
 * For n = 256, 1024, 2048 and two cases - plain A @ B, and A @ B^T where B^T is a
 * transposed view (tensor_matmul must hand it to BLAS with CblasTrans, not copy it) -
 * this times both in the same run, alternating them, and keeps the best of several
 * repetitions. tensor_matmul's time includes allocating its result, as a caller pays.
 *
 * Prints a table (n, case, strata GFLOP/s, cblas GFLOP/s, ratio) and, when the
 * environment variable BENCH_CSV names a file, appends one line per row:
 * "matmul_<n>,<case>,<strata>,<reference>,<ratio>".
 */
#include "tensor.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Repetitions per size: enough for a stable best without taking minutes. */
static int reps_for(int64_t n)
{
    return n <= 256 ? 40 : n <= 1024 ? 8 : 4;
}

typedef struct Result {
    double strata; /* GFLOP/s */
    double cblas;  /* GFLOP/s */
} Result;

/*
 * Best times of C = A @ op(B) through tensor_matmul and through cblas_sgemm. @p b_view
 * is what tensor_matmul receives (B or a transposed view of Bt); @p b_raw and
 * @p b_trans describe the same matrix for cblas.
 */
static int run_case(const Tensor *a, const Tensor *b_view, const float *b_raw,
                    CBLAS_TRANSPOSE b_trans, int64_t n, float *c, Result *out)
{
    double best_strata = 1e30, best_cblas = 1e30;
    int reps = reps_for(n);
    /* strata splits the product among its own threads (OpenBLAS at one thread); the
     * reference is OpenBLAS's own threading with as many threads. Each side runs all
     * its rounds in a row, the first one warming up caches and threads. */
    int threads = strata_get_num_threads();
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now();
        Tensor *p = tensor_matmul(a, b_view);
        double t1 = now();
        if (!p) {
            fprintf(stderr, "bench_matmul: %s\n", strata_last_error());
            return -1;
        }
        tensor_release(p);
        if (r > 0 && t1 - t0 < best_strata)
            best_strata = t1 - t0;
    }
    openblas_set_num_threads(threads);
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, b_trans, (int)n, (int)n, (int)n, 1.0f,
                    a->data, (int)n, b_raw, (int)n, 0.0f, c, (int)n);
        double t1 = now();
        if (r > 0 && t1 - t0 < best_cblas)
            best_cblas = t1 - t0;
    }
    strata_set_num_threads(threads); /* OpenBLAS back to one thread */
    double flops = 2.0 * (double)n * (double)n * (double)n;
    out->strata = flops / best_strata * 1e-9;
    out->cblas = flops / best_cblas * 1e-9;
    return 0;
}

static void report(FILE *csv, int64_t n, const char *name, Result r)
{
    double ratio = r.strata / r.cblas;
    printf("%6lld  %-12s %10.2f %10.2f %8.3f\n", (long long)n, name, r.strata, r.cblas,
           ratio);
    if (csv)
        fprintf(csv, "matmul_%lld,%s,%.3f,%.3f,%.4f\n", (long long)n, name, r.strata,
                r.cblas, ratio);
}

int main(void)
{
    const int64_t sizes[] = {256, 1024, 2048};
    const char *csv_path = getenv("BENCH_CSV");
    FILE *csv = csv_path && *csv_path ? fopen(csv_path, "a") : NULL;
    int status = 0;

    printf("matmul: tensor_matmul vs cblas_sgemm, GFLOP/s (best of several), %d threads\n",
           strata_get_num_threads());
    printf("%6s  %-12s %10s %10s %8s\n", "n", "case", "strata", "cblas", "ratio");
    strata_manual_seed(0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && status == 0; i++) {
        int64_t n = sizes[i];
        int64_t shape[2] = {n, n};
        Scope *scope = scope_begin();
        Tensor *a = tensor_randn(shape, 2);
        Tensor *b = tensor_randn(shape, 2);
        Tensor *bt_storage = tensor_randn(shape, 2);
        Tensor *bt = tensor_transpose(bt_storage, 0, 1); /* a view: strides {1, n} */
        float *c = malloc((size_t)(n * n) * sizeof(float));
        Result plain, trans;
        if (!a || !b || !bt || !c ||
            run_case(a, b, b->data, CblasNoTrans, n, c, &plain) < 0 ||
            run_case(a, bt, bt_storage->data, CblasTrans, n, c, &trans) < 0) {
            status = 1;
        } else {
            report(csv, n, "plain", plain);
            report(csv, n, "b_transposed", trans);
        }
        free(c);
        scope_end(scope);
    }
    if (csv)
        fclose(csv);
    return status;
}
