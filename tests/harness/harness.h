/**
 * @file harness.h
 * @brief What a graded test file needs: Check, the point registry, and helpers.
 *
 * Every graded test is its own Check test case (named after the test) carrying a number
 * of points, so the grader can run, time and score each one alone. A week's suite
 * provides one function, make_suite(), that registers its tests with GRADED().
 *
 * @code
 * START_TEST(test_zeros_shape) { ... ck_assert_...; }
 * END_TEST
 *
 * void add_creation_tests(Suite *s) { GRADED(s, test_zeros_shape, 2); }
 * @endcode
 */
#ifndef STRATA_HARNESS_H
#define STRATA_HARNESS_H

#include <check.h>
#include <math.h>
#include <string.h>

/** Default per-test time limit in seconds (Check multiplies it by CK_TIMEOUT_MULTIPLIER). */
#define GRADED_TIMEOUT 10.0

/**
 * @brief Register @p test as its own test case worth @p points, with the default limit.
 * @param[in,out] suite the suite being built
 * @param[in] name the test's name (unique within the suite)
 * @param[in] test the test function (the name given to START_TEST)
 * @param[in] points points it is worth (> 0)
 * @param[in] timeout seconds before Check kills it
 */
void graded_add(Suite *suite, const char *name, const TTest *test, int points,
                double timeout);

/** Register a test worth @p points with the default time limit. */
#define GRADED(suite, test, points) graded_add((suite), #test, (test), (points), GRADED_TIMEOUT)
/** Register a test worth @p points with its own time limit in seconds. */
#define GRADED_TIMED(suite, test, points, seconds) \
    graded_add((suite), #test, (test), (points), (seconds))

/**
 * @brief Run @p setup before and @p teardown after the body of every test registered
 *        from now on (Check's checked fixtures: they run in the test's own process, and
 *        an assertion in @p teardown fails the test). NULL for none.
 * @param[in] setup called first in each test's process, or NULL
 * @param[in] teardown called after each test body that returned, or NULL
 */
void graded_fixture(void (*setup)(void), void (*teardown)(void));

/**
 * @brief Build the week's suite. Each week defines it once (its suite.c); the runner
 *        may call it several times, so it must only create and register.
 */
Suite *make_suite(void);

/** The suite's name, e.g. "week1_tensor"; defined by each week next to make_suite(). */
extern const char *const SUITE_NAME;

/** Assert two floats agree within an absolute tolerance, naming both values. */
#define ck_assert_close(actual, expected, tol)                                          \
    do {                                                                                \
        double ck_a_ = (double)(actual), ck_e_ = (double)(expected);                    \
        ck_assert_msg(fabs(ck_a_ - ck_e_) <= (tol), "%s = %.9g, expected %.9g (tol %g)", \
                      #actual, ck_a_, ck_e_, (double)(tol));                            \
    } while (0)

#endif
