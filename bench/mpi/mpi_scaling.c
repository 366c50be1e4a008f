/*
 * mpi_scaling.c - data-parallel scaling of the Fashion-MNIST MLP.
 *
 * Run under `mpirun -np 2` (bench/run.sh does): first rank 0 alone trains STEPS steps
 * with the global batch (the 1-rank figure; rank 1 waits), then both ranks train the
 * same steps with half the batch each and gradients averaged by MPI_Allreduce (the
 * 2-rank figure). Every process uses one thread, so 2 ranks use both cores.
 * Prints seconds per step, the speed-up, the time inside allreduce per step and the
 * bytes each rank sends per step; appends CSV rows to $BENCH_CSV.
 */
#include "optim_dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { GLOBAL_BATCH = 128, STEPS = 200 };

static Module *make_mlp(void)
{
    strata_manual_seed(0);
    return nn_sequential(5, nn_linear(784, 256, true), nn_relu(), nn_linear(256, 128, true),
                         nn_relu(), nn_linear(128, 10, true));
}

/* Train STEPS steps on rows of @p ds; returns seconds. */
static double run(Module *model, Optimizer *opt, OptimDDP *ddp, const Dataset *ds, int64_t batch)
{
    Tensor *x = data_dataset_inputs(ds), *y = data_dataset_targets(ds);
    int64_t n = data_dataset_size(ds);
    double t0 = MPI_Wtime();
    for (int step = 0; step < STEPS; step++) {
        int64_t lo = (step * batch) % (n - batch);
        Scope *s = scope_begin();
        Var *input = var_new(tensor_narrow(x, 0, lo, batch), false);
        optim_zero_grad(opt, true);
        Var *loss = nn_cross_entropy(nn_forward(model, input), tensor_narrow(y, 0, lo, batch));
        if (!loss || var_backward(loss) != 0 || (ddp && optim_ddp_allreduce_gradients(ddp) != 0) ||
            optim_step(opt) != 0) {
            fprintf(stderr, "mpi_scaling: %s\n", strata_last_error());
            scope_end(s);
            return -1;
        }
        scope_end(s);
    }
    return MPI_Wtime() - t0;
}

int main(int argc, char **argv)
{
    if (optim_dist_init(&argc, &argv) != 0)
        return 1;
    int rank = optim_dist_rank(), world = optim_dist_world_size();
    strata_set_num_threads(1);
    DataMnistOptions opts = {.flatten = true};
    Dataset *train = data_mnist_load("/usr/share/datasets/fashion-mnist", true, &opts);
    if (!train) {
        if (rank == 0)
            printf("mpi_scaling: skipped (%s)\n", strata_last_error());
        optim_dist_finalize();
        return 0;
    }
    Module *model = make_mlp();
    Optimizer *opt = optim_adam(model, 1e-3f);

    double one = 0;
    if (rank == 0)
        one = run(model, opt, NULL, train, GLOBAL_BATCH);
    MPI_Barrier(MPI_COMM_WORLD);

    Dataset *shard = data_distributed_shard(train, rank, world, 0, 0, true, true);
    OptimDDP *ddp = optim_ddp_new(model, 0);
    double many = run(model, opt, ddp, shard, GLOBAL_BATCH / world);
    double reduce = optim_ddp_allreduce_seconds(ddp);
    if (rank == 0) {
        size_t bytes = optim_ddp_gradient_bytes(ddp);
        printf("MLP 784-256-128-10, Adam, global batch %d, %d steps, 1 thread per rank\n",
               GLOBAL_BATCH, STEPS);
        printf("  1 rank : %7.3f ms/step\n", 1e3 * one / STEPS);
        printf("  %d ranks: %7.3f ms/step  (speed-up %.2fx)\n", world, 1e3 * many / STEPS, one / many);
        printf("  allreduce: %.3f ms/step (%.1f%% of the step), %zu bytes per rank per step, %d call(s)\n",
               1e3 * reduce / STEPS, 100 * reduce / many, bytes, optim_ddp_buckets(ddp));
        printf("  epoch estimate (469 steps): 1 rank %.2f s, %d ranks %.2f s\n",
               one / STEPS * 469, world, many / STEPS * 469);
        const char *csv = getenv("BENCH_CSV");
        FILE *f = csv ? fopen(csv, "a") : NULL;
        if (f) {
            fprintf(f, "mpi_mlp_step_ms,%d_ranks_vs_1,%.4f,%.4f,%.3f\n", world,
                    1e3 * many / STEPS, 1e3 * one / STEPS, many / one);
            fprintf(f, "mpi_allreduce_ms,per_step,%.4f,,\n", 1e3 * reduce / STEPS);
            fclose(f);
        }
    }
    optim_ddp_free(ddp);
    optim_free(opt);
    nn_module_free(model);
    data_dataset_free(shard);
    data_dataset_free(train);
    optim_dist_finalize();
    return 0;
}
