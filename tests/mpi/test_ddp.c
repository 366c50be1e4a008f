/*
 * test_ddp.c - data-parallel training under `mpirun -np 2`.
 *
 * Checks, on two ranks:
 *  1. two ranks with B/2 rows each, gradients averaged by optim_ddp_allreduce_gradients,
 *     end with the same parameters as one process trained on all B rows (the reference
 *     is computed on every rank, from rank 0's initial weights);
 *  2. the distributed sampler gives every example to exactly one rank per epoch (n
 *     divisible by the world), pads by wrapping around otherwise, and reshuffles per epoch;
 *  3. ranks that build different models get a clear error, not a hang;
 *  4. every way of summing gives the same bits as one MPI_Allreduce of all gradients
 *     laid end to end (the reduction before buckets were overlapped), with one backward
 *     per step and with two (accumulated gradients): through shared memory (both ranks
 *     run on this machine, so that is the default) with the gradients gathered during
 *     backward or after it, and through MPI's buckets started during backward or after.
 * Each rank prints PASS/FAIL lines; the exit status is nonzero if any rank failed.
 */
#include "optim_dist.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static int rank, world;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            printf("rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);     \
            printf(__VA_ARGS__);                                           \
            printf(" (last error: %s)\n", strata_last_error());            \
        }                                                                  \
    } while (0)

enum { BATCH = 16, IN = 8, HIDDEN = 16, CLASSES = 3, STEPS = 5 };

static Module *make_mlp(uint64_t seed)
{
    strata_manual_seed(seed);
    return nn_sequential(3, nn_linear(IN, HIDDEN, true), nn_relu(),
                         nn_linear(HIDDEN, CLASSES, true));
}

/* One SGD step on rows [lo, hi) of (x, y); the gradients are averaged if ddp is given. */
static void train_step(Module *model, Optimizer *opt, OptimDDP *ddp, Tensor *x, Tensor *y,
                       int64_t lo, int64_t hi)
{
    Scope *s = scope_begin();
    Var *input = var_new(tensor_narrow(x, 0, lo, hi - lo), false);
    Tensor *target = tensor_narrow(y, 0, lo, hi - lo);
    optim_zero_grad(opt, true);
    Var *loss = nn_cross_entropy(nn_forward(model, input), target);
    CHECK(loss && var_backward(loss) == 0, "forward/backward");
    if (ddp)
        CHECK(optim_ddp_allreduce_gradients(ddp) == 0, "allreduce");
    CHECK(optim_step(opt) == 0, "step");
    scope_end(s);
}

static float max_param_diff(Module *a, Module *b)
{
    int na = 0, nb = 0;
    Var **pa = nn_parameters(a, &na), **pb = nn_parameters(b, &nb);
    float worst = na == nb ? 0.0f : INFINITY;
    for (int i = 0; i < na && i < nb; i++) {
        Tensor *ta = var_data(pa[i]), *tb = var_data(pb[i]);
        for (int64_t k = 0; k < tensor_numel(ta); k++)
            worst = fmaxf(worst, fabsf(ta->data[k] - tb->data[k]));
    }
    strata_free(pa);
    strata_free(pb);
    return worst;
}

static Optimizer *make_sgd(Module *model)
{
    OptimHparams hp = optim_sgd_defaults(0.1f);
    hp.momentum = 0.9f;
    int n = 0;
    Var **params = nn_parameters(model, &n);
    Optimizer *opt = optim_sgd_new(params, n, &hp);
    strata_free(params);
    return opt;
}

static void test_same_as_one_process(void)
{
    /* Rank 1 starts from other weights: the broadcast must overwrite them. */
    Module *model = make_mlp(rank == 0 ? 1 : 99);
    Module *reference = make_mlp(1);
    OptimDDP *ddp = optim_ddp_new(model, 256); /* small buckets: several allreduce calls */
    CHECK(ddp != NULL, "optim_ddp_new");
    if (!ddp)
        return;
    CHECK(max_param_diff(model, reference) == 0.0f, "broadcast did not copy rank 0's weights");

    strata_manual_seed(7); /* the same data on every rank */
    int64_t xs[2] = {BATCH, IN};
    Tensor *x = tensor_randn(xs, 2);
    int64_t ys[1] = {BATCH};
    Tensor *y = tensor_empty(ys, 1);
    for (int i = 0; i < BATCH; i++)
        y->data[i] = (float)(i % CLASSES);

    Optimizer *opt = make_sgd(model), *ref_opt = make_sgd(reference);
    int64_t half = BATCH / world;
    for (int step = 0; step < STEPS; step++) {
        train_step(model, opt, ddp, x, y, rank * half, (rank + 1) * half);
        train_step(reference, ref_opt, NULL, x, y, 0, BATCH);
    }
    CHECK(optim_ddp_buckets(ddp) > 1, "expected several buckets, got %d", optim_ddp_buckets(ddp));
    float diff = max_param_diff(model, reference);
    CHECK(diff < 1e-5f, "after %d steps parameters differ by %g", STEPS, diff);
    if (diff < 1e-5f)
        printf("rank %d: PASS 2 ranks x B/2 == 1 process x B after %d SGD steps (max diff %.2g)\n",
               rank, STEPS, diff);
    optim_free(opt);
    optim_free(ref_opt);
    optim_ddp_free(ddp);
    tensor_release(x);
    tensor_release(y);
    nn_module_free(model);
    nn_module_free(reference);
}

/*
 * The reduction as it was before overlap, written out independently: every gradient
 * laid end to end in registration order, one MPI_Allreduce, times 1 / world.
 */
static void allreduce_in_one_call(Module *model)
{
    int n = 0;
    Var **params = nn_parameters(model, &n);
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += tensor_numel(var_data(params[i]));
    float *flat = malloc(sizeof(float) * (size_t)total);
    int64_t pos = 0;
    for (int i = 0; i < n; i++) {
        int64_t len = tensor_numel(var_data(params[i]));
        memcpy(flat + pos, var_grad(params[i])->data, sizeof(float) * (size_t)len);
        pos += len;
    }
    MPI_Allreduce(MPI_IN_PLACE, flat, (int)total, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    pos = 0;
    for (int i = 0; i < n; i++) {
        float *g = var_grad(params[i])->data;
        for (int64_t k = 0; k < tensor_numel(var_data(params[i])); k++)
            g[k] = flat[pos++] * (1.0f / (float)world);
    }
    free(flat);
    strata_free(params);
}

enum { SHARED_OVERLAP, SHARED_AFTER, MPI_OVERLAP, MPI_AFTER, ONE_CALL, WAYS };

/* STEPS Adam steps of a wider MLP on this rank's rows, with @p backwards backward passes
 * per step (gradients accumulated), reduced one of the five ways. */
static Module *train_reduced(int way, int backwards, long *started_in_backward)
{
    strata_manual_seed(3);
    Module *model = nn_sequential(5, nn_linear(IN, 64, true), nn_relu(), nn_linear(64, 32, true),
                                  nn_relu(), nn_linear(32, CLASSES, true));
    OptimDDP *ddp = way == ONE_CALL ? NULL : optim_ddp_new(model, 1024);
    if (ddp) {
        optim_ddp_set_overlap(ddp, way == SHARED_OVERLAP || way == MPI_OVERLAP);
        bool shared = way == SHARED_OVERLAP || way == SHARED_AFTER;
        CHECK(optim_ddp_shared_memory(ddp), "two ranks on one machine: shared memory is not "
              "the default");
        optim_ddp_set_shared_memory(ddp, shared);
        CHECK(optim_ddp_shared_memory(ddp) == shared, "shared memory not switched %s",
              shared ? "on" : "off");
    }
    Optimizer *opt = optim_adam(model, 1e-2f);
    strata_manual_seed(11);
    int64_t xs[2] = {BATCH, IN}, ys[1] = {BATCH};
    Tensor *x = tensor_randn(xs, 2), *y = tensor_empty(ys, 1);
    for (int i = 0; i < BATCH; i++)
        y->data[i] = (float)((i * 7) % CLASSES);
    int64_t half = BATCH / world, part = half / backwards;
    for (int step = 0; step < STEPS; step++) {
        Scope *s = scope_begin();
        optim_zero_grad(opt, true);
        for (int b = 0; b < backwards; b++) {
            int64_t lo = rank * half + b * part;
            Var *input = var_new(tensor_narrow(x, 0, lo, part), false);
            Var *loss = nn_cross_entropy(nn_forward(model, input), tensor_narrow(y, 0, lo, part));
            CHECK(loss && var_backward(loss) == 0, "forward/backward");
        }
        if (ddp)
            CHECK(optim_ddp_allreduce_gradients(ddp) == 0, "allreduce");
        else
            allreduce_in_one_call(model);
        CHECK(optim_step(opt) == 0, "step");
        scope_end(s);
    }
    *started_in_backward = optim_ddp_buckets_started_in_backward(ddp);
    optim_free(opt);
    optim_ddp_free(ddp);
    tensor_release(x);
    tensor_release(y);
    return model;
}

/* Whether every parameter of @p a has the same bits as @p b's. */
static bool same_bits(Module *a, Module *b)
{
    int na = 0, nb = 0;
    Var **pa = nn_parameters(a, &na), **pb = nn_parameters(b, &nb);
    bool same = na == nb;
    for (int i = 0; same && i < na; i++)
        same = memcmp(var_data(pa[i])->data, var_data(pb[i])->data,
                      sizeof(float) * (size_t)tensor_numel(var_data(pa[i]))) == 0;
    strata_free(pa);
    strata_free(pb);
    return same;
}

static void test_overlap_same_bits(void)
{
    const char *names[WAYS] = {"shared memory, gathered in backward",
                               "shared memory, gathered after backward",
                               "MPI buckets started in backward",
                               "MPI buckets started after backward", "in one call"};
    for (int backwards = 1; backwards <= 2; backwards++) {
        Module *models[WAYS];
        long started[WAYS];
        for (int way = 0; way < WAYS; way++)
            models[way] = train_reduced(way, backwards, &started[way]);
        /* one backward per step: after the first step (which lays the buckets out) the
         * hooks start the first bucket of every step, before backward returns */
        if (backwards == 1)
            CHECK(started[MPI_OVERLAP] >= STEPS - 1, "only %ld buckets started in backward",
                  started[MPI_OVERLAP]);
        for (int way = 0; way < WAYS; way++)
            if (way != MPI_OVERLAP)
                CHECK(started[way] == 0, "%s started %ld MPI buckets in backward", names[way],
                      started[way]);
        for (int way = 0; way < ONE_CALL; way++) {
            bool same = same_bits(models[way], models[ONE_CALL]);
            CHECK(same, "%d backward(s) per step: %s and one MPI_Allreduce differ", backwards,
                  names[way]);
            if (same)
                printf("rank %d: PASS %d backward(s) per step: %s == one MPI_Allreduce, bit "
                       "for bit (%ld buckets started in backward)\n", rank, backwards,
                       names[way], started[way]);
        }
        for (int way = 0; way < WAYS; way++)
            nn_module_free(models[way]);
    }
}

/* Gather every rank's indices on all ranks and count how often each example appears. */
static void count_coverage(int64_t n, bool drop_last, int64_t epoch, int *counts, int64_t *first)
{
    int64_t count = 0;
    int64_t *mine = data_distributed_indices(n, rank, world, 42, epoch, true, drop_last, &count);
    CHECK(mine != NULL, "data_distributed_indices");
    if (!mine)
        return;
    long long *all = malloc(sizeof(long long) * (size_t)(count * world));
    long long *local = malloc(sizeof(long long) * (size_t)count);
    for (int64_t i = 0; i < count; i++)
        local[i] = mine[i];
    MPI_Allgather(local, (int)count, MPI_LONG_LONG, all, (int)count, MPI_LONG_LONG, MPI_COMM_WORLD);
    memset(counts, 0, sizeof(int) * (size_t)n);
    for (int64_t i = 0; i < count * world; i++)
        counts[all[i]]++;
    *first = mine[0];
    free(all);
    free(local);
    strata_free(mine);
}

static void test_sampler(void)
{
    int counts[103];
    int64_t first0 = 0, first1 = 0;
    count_coverage(100, false, 0, counts, &first0);
    int once = 1;
    for (int i = 0; i < 100; i++)
        once &= counts[i] == 1;
    CHECK(once, "n=100 over 2 ranks: some example is not seen exactly once");
    count_coverage(100, false, 1, counts, &first1);
    CHECK(first0 != first1 || rank == 1, "epoch 1 should reshuffle");

    count_coverage(103, false, 0, counts, &first0);
    int total = 0, missing = 0;
    for (int i = 0; i < 103; i++) {
        total += counts[i];
        missing += counts[i] == 0;
    }
    CHECK(total == 104 && missing == 0, "n=103: padded total %d (want 104), %d missing", total, missing);
    count_coverage(103, true, 0, counts, &first0);
    total = 0;
    for (int i = 0; i < 103; i++)
        total += counts[i];
    CHECK(total == 102, "n=103 drop_last: %d examples (want 102)", total);
    if (failures == 0)
        printf("rank %d: PASS sampler covers each example once per epoch, pads/drops as PyTorch\n", rank);
}

static void test_mismatched_models(void)
{
    strata_clear_error();
    Module *model = rank == 0 ? make_mlp(1) : nn_linear(IN, CLASSES, true);
    OptimDDP *ddp = optim_ddp_new(model, 0);
    CHECK(ddp == NULL && strstr(strata_last_error(), "ranks disagree"),
          "different models must be refused");
    if (!ddp)
        printf("rank %d: PASS mismatched models refused: %s\n", rank, strata_last_error());
    optim_ddp_free(ddp);
    nn_module_free(model);
}

int main(int argc, char **argv)
{
    if (optim_dist_init(&argc, &argv) != 0) {
        fprintf(stderr, "%s\n", strata_last_error());
        return 1;
    }
    rank = optim_dist_rank();
    world = optim_dist_world_size();
    if (world != 2) {
        if (rank == 0)
            fprintf(stderr, "test_ddp: run with mpirun -np 2 (got %d ranks)\n", world);
        optim_dist_finalize();
        return 1;
    }
    test_same_as_one_process();
    test_overlap_same_bits();
    test_sampler();
    test_mismatched_models();
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("mpi: %s (%d failure%s across %d ranks)\n", total ? "FAILED" : "all passed",
               total, total == 1 ? "" : "s", world);
    optim_dist_finalize();
    return total ? 1 : 0;
}
