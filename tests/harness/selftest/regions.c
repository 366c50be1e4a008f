/*
 * regions.c - a fixture for the handout cutter's self-test (tests/harness/selftest/run.sh):
 * solution regions of weeks 1 to 3 in the shapes the reference uses. Every cut of it
 * (weeks 1..4) must compile with -Wall -Wextra -Wpedantic -Werror.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct Tensor Tensor;
void strata_not_implemented(const char *function, int week);
void strata_error_null(const char *function, const char *argument);
Tensor *fixture_view(const Tensor *a, const int64_t shape[], int ndim,
                     void (*fn)(void *ctx, float x), void *ctx);
void fixture_void(float *out);
int
fixture_count(const float *restrict values, const int64_t dims[static 2], size_t n /* count */);
float fixture_noargs(void);

/* SOLUTION BEGIN week=2 step=1 tier=core */
/* A helper only week 2's solution uses: cut with it, or it would be unused. */
static int helper(int x)
{
    return x + 1;
}
/* SOLUTION END */

Tensor *fixture_view(const Tensor *a, const int64_t shape[], int ndim,
                     void (*fn)(void *ctx, float x), void *ctx)
{
    if (!a) {
        strata_error_null(__func__, "a");
        return NULL;
    }
    /* SOLUTION BEGIN week=2 step=1 tier=core fail=NULL */
    fn(ctx, (float)helper(ndim) + (float)shape[0]); // a comment (with, commas)
    return (Tensor *)a;
    /* SOLUTION END */
}

void fixture_void(float *out)
{
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=void */
    *out = 1.0f;
    /* SOLUTION END */
}

int
fixture_count(const float *restrict values, const int64_t dims[static 2], size_t n /* count */)
{
    /* SOLUTION BEGIN week=3 step=1 tier=core fail=-1 */
    return (int)(values[0] + (float)dims[1] + (float)n);
    /* SOLUTION END */
}

float fixture_noargs(void)
{
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=0.0f */
    return 2.0f;
    /* SOLUTION END */
}
