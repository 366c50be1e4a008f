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

#include "harness.h"
#include "tensor.h"
#include "tensor_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* BEGIN opens a scope and clears the error slot; END closes it and checks for leaks. */
#define BEGIN                                                   \
    StrataMemStats mem_start_ = strata_mem_stats();             \
    Scope *scope_ = scope_begin();                              \
    strata_clear_error()

#define END                                                                        \
    do {                                                                           \
        scope_end(scope_);                                                         \
        StrataMemStats mem_end_ = strata_mem_stats();                              \
        ck_assert_msg(mem_end_.bytes_live == mem_start_.bytes_live,               \
                      "%zu bytes were allocated in this test and are still live "   \
                      "after scope_end (%zu before, %zu after): something leaks",  \
                      mem_end_.bytes_live - mem_start_.bytes_live,                 \
                      mem_start_.bytes_live, mem_end_.bytes_live);                 \
    } while (0)

/* The error slot must name @p fn, must not be a stub's, and must contain @p detail. */
static inline void check_message_(const char *what, const char *fn, const char *detail)
{
    const char *m = strata_last_error();
    ck_assert_msg(m != NULL && m[0] != '\0', "%s failed without recording an error", what);
    ck_assert_msg(strstr(m, "not implemented") == NULL, "%s: \"%s\"", what, m);
    ck_assert_msg(strstr(m, fn) != NULL, "%s: the error \"%s\" should name %s", what, m, fn);
    if (detail)
        ck_assert_msg(strstr(m, detail) != NULL,
                      "%s: the error \"%s\" should mention \"%s\"", what, m, detail);
}

void add_error_alloc_tests(Suite *s);
void add_object_scope_tests(Suite *s);
void add_rng_thread_tests(Suite *s);

#endif
