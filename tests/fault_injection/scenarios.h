/*
 * scenarios.h - the calls the fault-injection walks make fail, and their contexts
 * (scenarios.c). Each call returns 0 on success and -1 on failure; each state function
 * appends the bytes of what the call must leave unchanged when it fails.
 */
#ifndef STRATA_FAULT_SCENARIOS_H
#define STRATA_FAULT_SCENARIOS_H

#include "faults.h"

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* The memory a test starts with must be there at its end (what the walks create and
 * free in between included). */
#define MEM_BEGIN size_t fault_live0_ = strata_mem_stats().bytes_live
#define MEM_END ck_assert_uint_eq(strata_mem_stats().bytes_live, fault_live0_)

typedef struct NetCtx {
    Module *model;
    Tensor *x, *y;
} NetCtx;

typedef struct StepCtx {
    NetCtx net;
    Optimizer *opt;
} StepCtx;

typedef struct FileCtx {
    StepCtx s;
    LRScheduler *sched;
    const char *path;
} FileCtx;

typedef struct L2LCtx {
    StepCtx s;
    L2LStore *store;
    L2LTrainer *trainer;
} L2LCtx;

Tensor *seeded(const int64_t *shape, int ndim, uint64_t seed);
int tensors_call(void *ctx);
int forward_backward_call(void *ctx);
void params_state(void *ctx, FaultBytes *out);
void module_state(void *ctx, FaultBytes *out);
NetCtx mlp_ctx(void);
NetCtx cnn_ctx(void);
void net_free(NetCtx *c);
int forward_call(void *ctx);
void step_state(void *ctx, FaultBytes *out);
int save_call(void *ctx);
int load_call(void *ctx);
int checkpoint_save_call(void *ctx);
int checkpoint_load_call(void *ctx);
void file_state(void *ctx, FaultBytes *out);
FileCtx file_ctx(const char *name);
void file_free(FileCtx *c);
void perturb(FileCtx *c);
int l2l_call(void *ctx);
void l2l_state(void *ctx, FaultBytes *out);
void l2l_drop_grads(void *ctx);
int store_create_call(void *ctx);
int store_open_call(void *ctx);
L2LTrainer *l2l_trainer(L2LCtx *c);
int step_call(void *ctx);

#endif
