/*
 * mpi_scaling.c - data-parallel scaling of the Fashion-MNIST MLP: the measured speed-up
 * of 2 ranks over 1, and what each way of summing the gradients costs.
 *
 * Run under `mpirun -np 2` (bench/run.sh does). Each round times these, STEPS steps
 * each, so that a burst of load from other processes hits all of them alike:
 *   1 rank, B rows       rank 0 alone with the global batch (rank 1 waits asleep);
 *   1 rank, B/2 rows     rank 0 alone with a rank's share: the compute of a 2-rank step;
 *   2 ranks, shared      B/2 rows each, summed through shared memory (the default on
 *                        one machine), gradients gathered during backward;
 *   2 ranks, MPI after   summed by MPI_Allreduce of buckets after backward;
 *   2 ranks, MPI overlap the buckets started during backward (MPI_Iallreduce), as
 *                        across machines.
 * and the 2-rank runs again with a barrier between backward and the summing, so that
 * the time spent summing is communication, not waiting for a rank another process
 * slowed down. Each step is timed alone: the fastest step of each kind is the one least
 * disturbed by other processes; the median is printed beside it. Each step is also timed
 * in parts (forward, backward, summing, the optimizer's step), which show where a 2-rank
 * step loses against half a step of B rows on 1 rank. The target reads the
 * measured speed-up of the default (B rows on 1 rank against B/2 rows on each of 2
 * ranks, per step); from the parts it also estimates 2 ranks on quiet cores (the compute
 * of B/2 rows plus the summing). One thread per process. Usage:
 *   mpirun -np 2 mpi_scaling [global_batch (256)] [rounds (5)]
 * Appends CSV rows to $BENCH_CSV.
 */
#include "optim_dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { STEPS = 50, MAX_ROUNDS = 20, MAX_SAMPLES = STEPS * MAX_ROUNDS };

/* The parts of a step, timed from outside: the batch, forward and loss; backward (with
 * the gradient hooks' copies, and the barrier of the runs that have one); the summing
 * (optim_ddp_allreduce_gradients(), waiting for the other ranks included; nothing on one
 * rank); the optimizer step. */
enum { FORWARD, BACKWARD, SUMMING, UPDATE, PARTS };

static const char *part_name[PARTS] = {"forward", "backward", "summing", "Adam step"};

/* Per-step times of one kind of run, over all rounds. */
typedef struct Samples {
    double step[MAX_SAMPLES], reduce[MAX_SAMPLES], part[PARTS][MAX_SAMPLES];
    int n;
} Samples;

static Module *make_mlp(void)
{
    strata_manual_seed(0);
    return nn_sequential(5, nn_linear(784, 256, true), nn_relu(), nn_linear(256, 128, true),
                         nn_relu(), nn_linear(128, 10, true));
}

/* STEPS steps on rows of @p ds, each step's seconds, its parts' and its seconds inside
 * optim_ddp_allreduce_gradients() appended to @p out. Returns 0, or -1. */
static int run(Module *model, Optimizer *opt, OptimDDP *ddp, const Dataset *ds,
               int64_t batch, bool sync, Samples *out)
{
    Tensor *x = data_dataset_inputs(ds), *y = data_dataset_targets(ds);
    int64_t n = data_dataset_size(ds);
    for (int step = 0; step < STEPS; step++) {
        int64_t lo = (step * batch) % (n - batch);
        double reduce0 = optim_ddp_allreduce_seconds(ddp);
        double t[PARTS + 1];
        t[0] = MPI_Wtime();
        Scope *s = scope_begin();
        Var *input = var_new(tensor_narrow(x, 0, lo, batch), false);
        optim_zero_grad(opt, true);
        Var *loss = nn_cross_entropy(nn_forward(model, input), tensor_narrow(y, 0, lo, batch));
        t[FORWARD + 1] = MPI_Wtime();
        int rc = loss ? var_backward(loss) : -1;
        if (rc == 0 && sync) /* both ranks ready: the reduction waits for nobody */
            MPI_Barrier(MPI_COMM_WORLD);
        t[BACKWARD + 1] = MPI_Wtime();
        if (rc == 0 && ddp)
            rc = optim_ddp_allreduce_gradients(ddp);
        t[SUMMING + 1] = MPI_Wtime();
        if (rc != 0 || optim_step(opt) != 0) {
            fprintf(stderr, "mpi_scaling: %s\n", strata_last_error());
            scope_end(s);
            return -1;
        }
        scope_end(s);
        t[UPDATE + 1] = MPI_Wtime();
        for (int p = 0; p < PARTS; p++)
            out->part[p][out->n] = t[p + 1] - t[p];
        out->step[out->n] = t[PARTS] - t[0];
        out->reduce[out->n++] = optim_ddp_allreduce_seconds(ddp) - reduce0;
    }
    return 0;
}

/*
 * Wait until every rank gets here, asleep: rank 1 waits so while rank 0 times the
 * 1-rank runs. In MPI_Barrier it would poll (Open MPI spins, yielding only to
 * processes on its own core), keeping the second core busy: a process that really ran
 * alone would leave that core to the rest of the machine, and with other processes
 * about, the spinning rank pushed them onto rank 0's core (the 1-rank step's fastest
 * time rose 2-6% beside a loaded machine's builds), which flattered the speed-up.
 */
static void wait_asleep(void)
{
    MPI_Request all_here;
    int done = 0;
    MPI_Ibarrier(MPI_COMM_WORLD, &all_here);
    for (MPI_Test(&all_here, &done, MPI_STATUS_IGNORE); !done;
         MPI_Test(&all_here, &done, MPI_STATUS_IGNORE))
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); /* 1 ms */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The fastest (q = 0) or median (q = 0.5) of @p n values, in milliseconds. */
static double quantile_ms(const double *v, int n, double q)
{
    double sorted[MAX_SAMPLES];
    memcpy(sorted, v, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(double), cmp_double);
    return 1e3 * sorted[(int)(q * (n - 1))];
}

/*
 * Where the steps of @p k go: the mean of each part over the fastest fifth of its steps
 * (the parts of one step add up to it, which the fastest or the median of each part
 * alone would not), in milliseconds, into @p ms.
 */
static void parts_ms(const Samples *k, double ms[PARTS])
{
    double cut = quantile_ms(k->step, k->n, 0.2) / 1e3;
    int count = 0;
    for (int p = 0; p < PARTS; p++)
        ms[p] = 0.0;
    for (int i = 0; i < k->n; i++)
        if (k->step[i] <= cut) {
            count++;
            for (int p = 0; p < PARTS; p++)
                ms[p] += k->part[p][i];
        }
    for (int p = 0; p < PARTS; p++)
        ms[p] *= 1e3 / (count ? count : 1);
}

/* The kinds of run; the 2-rank ones come in the order of Way, then again with a barrier. */
enum { ONE_FULL, ONE_HALF, TWO = 2, SYNC = TWO + 3, KINDS = SYNC + 3 };

/* The ways of summing a 2-rank step's gradients. */
typedef enum Way { SHARED, MPI_AFTER, MPI_OVERLAP, WAYS } Way;

static const char *way_name[WAYS] = {"shared memory (default)", "MPI after backward",
                                     "MPI in backward"};

/* The 1-rank speed-up that counts as scaling (the target). */
#define TARGET 1.8

int main(int argc, char **argv)
{
    if (optim_dist_init(&argc, &argv) != 0)
        return 1;
    int rank = optim_dist_rank(), world = optim_dist_world_size();
    int64_t global = argc > 1 ? atoll(argv[1]) : 256;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (global < 2 * world || rounds < 1 || rounds > MAX_ROUNDS) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np 2 mpi_scaling [global_batch >= %d] [rounds 1..%d]\n",
                    2 * world, MAX_ROUNDS);
        optim_dist_finalize();
        return 1;
    }
    strata_set_num_threads(1);
    DataMnistOptions opts = {.flatten = true};
    Dataset *train = data_mnist_load("/usr/share/datasets/fashion-mnist", true, &opts);
    if (!train) {
        if (rank == 0)
            printf("mpi_scaling: skipped (%s)\n", strata_last_error());
        optim_dist_finalize();
        return 0;
    }
    Module *model = make_mlp(), *alone = make_mlp();
    Optimizer *opt = optim_adam(model, 1e-3f), *alone_opt = optim_adam(alone, 1e-3f);
    Dataset *shard = data_distributed_shard(train, rank, world, 0, 0, true, true);
    OptimDDP *ddp = optim_ddp_new(model, 0);
    Samples *kind = calloc(KINDS, sizeof *kind);
    if (!shard || !ddp || !kind) {
        fprintf(stderr, "mpi_scaling: %s\n", strata_last_error());
        return 1;
    }
    int rc = 0;
    for (int r = 0; r < rounds && rc == 0; r++) {
        if (rank == 0)
            rc = run(alone, alone_opt, NULL, train, global, false, &kind[ONE_FULL]) |
                 run(alone, alone_opt, NULL, train, global / world, false, &kind[ONE_HALF]);
        wait_asleep();
        for (int sync = 0; sync < 2; sync++)
            for (int way = 0; way < WAYS; way++) {
                optim_ddp_set_shared_memory(ddp, way == SHARED);
                optim_ddp_set_overlap(ddp, way != MPI_AFTER);
                rc |= run(model, opt, ddp, shard, global / world, sync,
                          &kind[(sync ? SYNC : TWO) + way]);
            }
        optim_ddp_set_shared_memory(ddp, true);
    }
    if (rank == 0 && rc == 0) {
        double fast[KINDS], mid[KINDS], sums[WAYS];
        for (int k = 0; k < KINDS; k++) {
            fast[k] = quantile_ms(kind[k].step, kind[k].n, 0.0);
            mid[k] = quantile_ms(kind[k].step, kind[k].n, 0.5);
        }
        /* The summing of a step when both ranks are ready and nothing else runs (the
         * fastest synchronized step); with MPI in backward, what backward left of it. */
        for (int w = 0; w < WAYS; w++)
            sums[w] = quantile_ms(kind[SYNC + w].reduce, kind[SYNC + w].n, 0.0);
        printf("MLP 784-256-128-10, Adam, global batch %lld, 1 thread per rank, %d rounds of "
               "%d steps; per step: fastest (median) ms\n", (long long)global, rounds, STEPS);
        char label[64];
        snprintf(label, sizeof label, "1 rank,  %lld rows", (long long)global);
        printf("  %-33s : %7.3f (%7.3f)\n", label, fast[ONE_FULL], mid[ONE_FULL]);
        snprintf(label, sizeof label, "1 rank,  %lld rows", (long long)(global / world));
        printf("  %-33s : %7.3f (%7.3f)  the compute of a %d-rank step\n", label,
               fast[ONE_HALF], mid[ONE_HALF], world);
        for (int w = 0; w < WAYS; w++) {
            snprintf(label, sizeof label, "%d ranks, %s", world, way_name[w]);
            printf("  %-33s : %7.3f (%7.3f)  speed-up %.2fx (%.2fx)\n", label, fast[TWO + w],
                   mid[TWO + w], fast[ONE_FULL] / fast[TWO + w], mid[ONE_FULL] / mid[TWO + w]);
        }
        printf("  summing with both ranks ready (fastest ms): shared memory %.3f, MPI after "
               "backward %.3f, MPI left by backward %.3f\n", sums[SHARED], sums[MPI_AFTER],
               sums[MPI_OVERLAP]);
        printf("  %zu bytes per rank per step; MPI: %d buckets (%ld started in backward)\n",
               optim_ddp_gradient_bytes(ddp), optim_ddp_buckets(ddp),
               optim_ddp_buckets_started_in_backward(ddp));
        printf("  where a step goes, ms (means over the fastest fifth of its steps):\n    %-33s", "");
        for (int p = 0; p < PARTS; p++)
            printf(" %9s", part_name[p]);
        printf("\n");
        const int shown[3] = {ONE_FULL, ONE_HALF, TWO + SHARED};
        for (int j = 0; j < 3; j++) {
            double ms[PARTS];
            parts_ms(&kind[shown[j]], ms);
            if (j < 2)
                snprintf(label, sizeof label, "1 rank,  %lld rows",
                         (long long)(j == 0 ? global : global / world));
            else
                snprintf(label, sizeof label, "%d ranks, shared memory", world);
            printf("    %-33s", label);
            for (int p = 0; p < PARTS; p++)
                printf(" %9.3f", ms[p]);
            printf("\n");
        }
        double quiet = fast[ONE_HALF] + sums[SHARED];
        printf("  estimate from the parts, on quiet cores: %.3f + %.3f = %.3f ms/step, "
               "speed-up %.2fx\n", fast[ONE_HALF], sums[SHARED], quiet, fast[ONE_FULL] / quiet);
        double measured = fast[ONE_FULL] / fast[TWO + SHARED];
        printf("measured %d-rank speed-up, fastest steps: %.2fx (medians %.2fx; target %.1fx) "
               "%s\n", world, measured, mid[ONE_FULL] / mid[TWO + SHARED], TARGET,
               measured >= TARGET ? "ok" : "MISSED");
        const char *csv = getenv("BENCH_CSV");
        FILE *f = csv ? fopen(csv, "a") : NULL;
        if (f) {
            const char *tag[WAYS] = {"shared", "mpi_after", "mpi_overlap"};
            for (int w = 0; w < WAYS; w++)
                fprintf(f, "mpi_mlp_step_ms,%d_ranks_vs_1_%s,%.4f,%.4f,%.3f\n", world, tag[w],
                        fast[TWO + w], fast[ONE_FULL], fast[ONE_FULL] / fast[TWO + w]);
            for (int w = 0; w < WAYS; w++)
                fprintf(f, "mpi_sum_ms,%s,%.4f,,\n", tag[w], sums[w]);
            fclose(f);
        }
    }
    free(kind);
    optim_ddp_free(ddp);
    optim_free(opt);
    optim_free(alone_opt);
    nn_module_free(model);
    nn_module_free(alone);
    data_dataset_free(shard);
    data_dataset_free(train);
    optim_dist_finalize();
    return rc;
}
