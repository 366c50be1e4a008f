/*
 * rb.h - helpers of the bad-input suite (docs/bad-input.md): one test per table row.
 *
 * Each test opens a scope (BEGIN), snapshots every object the bad call could touch,
 * makes the call, checks the failure value and the message (ROW_FAILS), and checks the
 * snapshots are unchanged. With RB_DUMP=file set, ROW_FAILS appends a line
 * "test<TAB>layer<TAB>call<TAB>input<TAB>message" to the file: tests/bad_input/table.sh
 * makes docs/bad-input.md from it, so the message column is what strata really prints.
 */
#ifndef STRATA_RB_H
#define STRATA_RB_H

#include "modular.h"
#include "strata_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * ROW_FAILS(layer, call, input, failed, key1, key2): @p failed (an expression that is
 * true when the call failed as it must) is asserted, then the message must contain
 * key1 and key2 (either may be NULL).
 */
#define ROW_FAILS(layer, call, input, failed, k1, k2)                                     \
    do {                                                                                  \
        strata_clear_error();                                                             \
        bool rb_failed_ = (failed);                                                       \
        rb_row(__func__, (layer), (call), (input), rb_failed_, #failed, (k1), (k2));                \
    } while (0)

void rb_row(const char *test, const char *layer, const char *call, const char *input, bool failed,
            const char *expr, const char *k1, const char *k2);

/* Snapshots: a deep copy taken before the call and compared after. */
Tensor *rb_snap(const Tensor *t);                   /* clone, retained by the scope */
void rb_assert_same(const Tensor *t, const Tensor *snap, const char *what);
NnStateDict *rb_snap_module(const Module *m);       /* cloned tensors; free with nn_state_dict_free */
void rb_assert_module_same(const Module *m, const NnStateDict *snap);
void rb_assert_dict_same(const NnStateDict *a, const NnStateDict *b);
NnStateDict *rb_snap_optim(const Optimizer *opt);
void rb_assert_optim_same(const Optimizer *opt, const NnStateDict *snap);
void rb_assert_var_same(const Var *v, const Tensor *data_snap, const Tensor *grad_snap,
                        bool requires_grad);

/* Files in a private directory (removed with its content by rb_dir_remove). */
const char *rb_dir(void);                          /* mkdtemp'd, per test */
void rb_dir_remove(void);
const char *rb_path(const char *name);             /* rb_dir()/name, static ring buffer */
void rb_write(const char *path, const void *data, size_t size);
unsigned char *rb_read(const char *path, size_t *size); /* malloc'd, NULL if absent */
void rb_assert_file_same(const char *path, const unsigned char *before, size_t size);

/* A small safetensors file body: header JSON and payload, with an 8-byte length. */
void rb_write_safetensors(const char *path, const char *json, const void *payload,
                          size_t payload_size);
/* An IDX file: the 4-byte magic, ndim big-endian sizes, then payload bytes. */
void rb_write_idx(const char *path, int dtype, int ndim, const uint32_t *dims,
                  const void *payload, size_t payload_size);

/* A small MLP: Sequential(Linear(4, 3), ReLU, Linear(3, 2)), seeded. */
Module *rb_mlp(void);

void add_tensor_rows(Suite *s);
void add_autograd_rows(Suite *s);
void add_nn_rows(Suite *s);
void add_trainer_rows(Suite *s);
void add_file_rows(Suite *s);
void add_optim_rows(Suite *s);
void add_data_rows(Suite *s);
void add_modular_rows(Suite *s);
void add_atomic_tests(Suite *s);

#endif
