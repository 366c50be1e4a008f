/*
 * suite.c - the runtime suite: what tensor/core.c, alloc.c and threads.c give every week (the error slot,
 * the counting allocator, reference-counted objects and scopes, the seeded generator,
 * threads) and the tensor lifetime in tensor/tensor.c (retain, release, storage).
 *
 * Students are given this code solved in every handout, so it is not part of any
 * week's grade (weeks/handout-check.sh and `make grade` read only tests/weekN_*);
 * `make test` and `make memcheck` run it like any suite. Each test is registered with
 * GRADED(s, name, 1) so the runner treats it as a normal test case.
 */
#include "runtime.h"

const char *const SUITE_NAME = "runtime_tensor";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    add_error_alloc_tests(s);
    add_object_scope_tests(s);
    add_rng_thread_tests(s);
    return s;
}
