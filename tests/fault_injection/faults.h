/*
 * faults.h - the fault-injection driver (docs/bad-input.md, "Fault injection").
 *
 * A scenario is a call strata promises to make atomic: it either succeeds, or fails
 * with its failure value and a message, leaking nothing and changing nothing. The
 * walker runs the call again and again with allocation point N failing (N = 1, 2, ...
 * until the call completes; strata_alloc_fail_at()), or I/O point N failing in each way
 * a file can fail (strata_io_fail_at()), and checks at every N:
 *   - the call returned its failure value (a wrapper returns -1) and recorded a message;
 *   - the counting allocator's live bytes are back where they were;
 *   - the state the scenario names (its objects' bytes, the files it writes) is unchanged.
 * The scenario's success afterwards is checked too: the walk ends with a clean call.
 */
#ifndef STRATA_FAULTS_H
#define STRATA_FAULTS_H

#include "harness.h"
#include "modular.h"

#include <stdbool.h>
#include <stddef.h>

/* Bytes that stand for the state a call must not change (plain malloc, not counted). */
typedef struct FaultBytes {
    unsigned char *data;
    size_t size, cap;
} FaultBytes;

void fault_bytes_add(FaultBytes *b, const void *data, size_t n);
void fault_bytes_tensor(FaultBytes *b, const char *name, const Tensor *t);
void fault_bytes_module(FaultBytes *b, const Module *m);      /* state dict and gradients */
void fault_bytes_optim(FaultBytes *b, const Optimizer *opt);  /* its state dict */
void fault_bytes_file(FaultBytes *b, const char *path);       /* content, or "absent" */
void fault_bytes_free(FaultBytes *b);

typedef struct FaultScenario {
    const char *name;
    /* The call under test: 0 on success, -1 on failure (the scenario turns a NULL
     * result into -1 and releases what it made). Runs inside a scope. */
    int (*call)(void *ctx);
    /* Appends the state the call must leave as it was when it fails. */
    void (*state)(void *ctx, FaultBytes *out);
    void *ctx;
    /* Optional: what a failed call is allowed to leave, cleared before the checks (the
     * L2L step keeps the gradients of the layers it finished: see its test). */
    void (*after_failure)(void *ctx);
} FaultScenario;

/* What one walk did. */
typedef struct FaultWalk {
    size_t points;   /* points of a complete call (the count the walk had to cover) */
    size_t tested;   /* values of N tried (all, or a sample when points is large) */
} FaultWalk;

/*
 * Walk every allocation point of @p sc (each alone, then persistently: N and all after).
 * Fails the current test at the first N where the contract breaks.
 */
FaultWalk fault_walk_alloc(const FaultScenario *sc);

/* Walk every I/O point of @p sc with each kind of failure (short, ENOSPC, EIO). */
FaultWalk fault_walk_io(const FaultScenario *sc);

/* Whether the suite runs under valgrind (make memcheck). */
bool fault_under_valgrind(void);

/* The N a walk tries after @p n: every N at first, then a sample (faults.c says how). */
size_t fault_next_n(size_t n);

/* A private directory for the current test, and a path inside it. */
const char *fault_dir(void);
const char *fault_path(const char *name);
void fault_dir_remove(void);

/* Small seeded models. */
Module *fault_mlp(void);   /* Sequential(Linear(4, 8), ReLU, Linear(8, 3)) */
Module *fault_cnn(void);   /* Conv2d(1, 4, 3, pad 1), BatchNorm2d, ReLU, MaxPool 2, Flatten, Linear */

void add_alloc_tests(Suite *s);
void add_io_tests(Suite *s);
void add_grader_tests(Suite *s);

#endif
