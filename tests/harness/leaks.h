/**
 * @file leaks.h
 * @brief A per-test check that nothing a test allocated through strata is left live.
 *
 * A suite calls graded_fixture(leak_check_begin, leak_check_end) before registering its
 * tests: each test then records the counting allocator's live bytes before its body and
 * fails if they differ after it ("... bytes ... still live after the test"). Weeks 1, 2
 * and L2L write the same assertion into each test (their BEGIN/END); this gives it to
 * every test of a suite at once. A test must therefore free what it made: close its
 * scopes, free its modules and optimizers.
 */
#ifndef STRATA_HARNESS_LEAKS_H
#define STRATA_HARNESS_LEAKS_H

#include "harness.h"
#include "tensor.h"

static StrataMemStats leak_check_start_;

static inline void leak_check_begin(void) { leak_check_start_ = strata_mem_stats(); }

static inline void leak_check_end(void)
{
    StrataMemStats now = strata_mem_stats();
    ck_assert_msg(now.bytes_live == leak_check_start_.bytes_live,
                  "%ld bytes allocated in this test are still live after it (%zu before, "
                  "%zu after): something leaks (a Module, Optimizer or DataLoader not "
                  "freed, a reference kept past its scope)",
                  (long)(now.bytes_live - leak_check_start_.bytes_live),
                  leak_check_start_.bytes_live, now.bytes_live);
}

#endif
