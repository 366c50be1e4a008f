/*
 * runtime.h - helpers of the runtime suite (tests/runtime_tensor): the shared runtime
 * in tensor/core.c, alloc.c and threads.c and the tensor lifetime in tensor/tensor.c,
 * which every handout ships solved. `make test` and `make memcheck` run this suite; it is not part of any
 * week's grade (students do not write this code), and it passes on every handout.
 *
 * It creates tensors only with tensor_new() (tensor_internal.h: the storage
 * allocation, solved in every handout), never with the week-1 creation functions,
 * so a stubbed week-1 handout still passes it.
 */
#ifndef RUNTIME_TENSOR_H
#define RUNTIME_TENSOR_H

#include "strata_test.h"
#include "tensor_internal.h"

void add_error_alloc_tests(Suite *s);
void add_object_scope_tests(Suite *s);
void add_rng_thread_tests(Suite *s);

#endif
