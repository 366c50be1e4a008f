/*
 * test_schedulers.c - learning-rate sequences against PyTorch's closed forms.
 */
#include "helpers.h"

#include <math.h>

/* An SGD optimizer on one fresh parameter with lr @p lr (the scheduler's base). */
static Optimizer *sgd_with_lr(float lr)
{
    static const float p0[2] = {0.0f, 0.0f};
    Var *p = make_param(p0, 2);
    OptimHparams hp = optim_sgd_defaults(lr);
    Optimizer *opt = optim_sgd_new(&p, 1, &hp);
    ck_assert_msg(opt != NULL, "optim_sgd_new: %s", strata_last_error());
    return opt;
}

/* Check that epochs 0..n-1 give the lrs @p expected (epoch 0 right after creation). */
static void check_sequence(Optimizer *opt, LRScheduler *sched, const double *expected, int n,
                           const char *what)
{
    ck_assert_msg(sched != NULL, "%s: constructor failed: %s", what, strata_last_error());
    for (int t = 0; t < n; t++) {
        if (t > 0)
            ck_assert_int_eq(optim_scheduler_step(sched), 0);
        ck_assert_int_eq(optim_scheduler_epoch(sched), t);
        float last = NAN;
        ck_assert_int_eq(optim_scheduler_get_last_lr(sched, &last, 1), 1);
        ck_assert_msg(fabs((double)optim_get_lr(opt, 0) - expected[t]) <= 1e-7 &&
                          fabs((double)last - expected[t]) <= 1e-7,
                      "%s: epoch %d lr %.9g (last_lr %.9g), expected %.9g", what, t,
                      (double)optim_get_lr(opt, 0), (double)last, expected[t]);
    }
}

START_TEST(test_step_lr)
{
    Scope *s = scope_begin();
    Optimizer *opt = sgd_with_lr(0.1f);
    /* lr = 0.1 * 0.5^floor(t / 2) */
    const double want[6] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025};
    LRScheduler *sched = optim_step_lr(opt, 2, 0.5f);
    check_sequence(opt, sched, want, 6, "StepLR");
    optim_scheduler_free(sched);
    ck_assert_ptr_null(optim_step_lr(opt, 0, 0.5f));
    ck_assert_error("step_size");
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_cosine_lr)
{
    Scope *s = scope_begin();
    Optimizer *opt = sgd_with_lr(0.1f);
    /* lr = 0.01 + 0.09 (1 + cos(pi t / 4)) / 2: cos = 1, 0.70710678, 0, -0.70710678, -1 */
    const double want[5] = {0.1, 0.01 + 0.09 * 1.70710678 / 2, 0.055,
                            0.01 + 0.09 * 0.29289322 / 2, 0.01};
    LRScheduler *sched = optim_cosine_lr(opt, 4, 0.01f);
    check_sequence(opt, sched, want, 5, "CosineAnnealingLR");
    optim_scheduler_free(sched);
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_linear_exponential_lambda)
{
    Scope *s = scope_begin();
    Optimizer *opt = sgd_with_lr(0.1f);
    /* LinearLR(0.25 -> 1 over 3): 0.1 (0.25 + 0.75 min(t, 3) / 3) */
    const double lin[5] = {0.025, 0.05, 0.075, 0.1, 0.1};
    LRScheduler *sched = optim_linear_lr(opt, 0.25f, 1.0f, 3);
    check_sequence(opt, sched, lin, 5, "LinearLR");
    optim_scheduler_free(sched);
    /* ExponentialLR(0.9): 0.1 * 0.9^t */
    const double ex[4] = {0.1, 0.09, 0.081, 0.0729};
    sched = optim_exponential_lr(opt, 0.9f);
    check_sequence(opt, sched, ex, 4, "ExponentialLR");
    optim_scheduler_free(sched);
    optim_free(opt);
    scope_end(s);
}
END_TEST

static float inverse_epoch(int64_t epoch, void *ctx)
{
    int *calls = ctx;
    (*calls)++;
    return 1.0f / (float)(epoch + 1);
}

START_TEST(test_lambda_lr)
{
    Scope *s = scope_begin();
    Optimizer *opt = sgd_with_lr(0.1f);
    int calls = 0;
    /* lr = 0.1 / (t + 1) */
    const double want[4] = {0.1, 0.05, 0.1 / 3, 0.025};
    LRScheduler *sched = optim_lambda_lr(opt, inverse_epoch, &calls);
    check_sequence(opt, sched, want, 4, "LambdaLR");
    ck_assert_int_ge(calls, 4);
    optim_scheduler_free(sched);
    strata_clear_error(); /* a NULL argument keeps an earlier message */
    ck_assert_ptr_null(optim_lambda_lr(opt, NULL, NULL));
    ck_assert_error("optim_lambda_lr");
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_sequential_lr_and_resume)
{
    Scope *s = scope_begin();
    Optimizer *opt = sgd_with_lr(0.1f);
    /* warm-up LinearLR(0.1 -> 1 over 2) for 2 epochs, then CosineAnnealingLR(4, 0) from 0:
     *   t=0: 0.1*0.1 = 0.01; t=1: 0.1*(0.1 + 0.9/2) = 0.055;
     *   t=2..6: cosine at 0..4 = 0.1, 0.0853553, 0.05, 0.0146447, 0 */
    LRScheduler *parts[2] = {optim_linear_lr(opt, 0.1f, 1.0f, 2), optim_cosine_lr(opt, 4, 0.0f)};
    ck_assert_ptr_nonnull(parts[0]);
    ck_assert_ptr_nonnull(parts[1]);
    const int64_t milestones[1] = {2};
    LRScheduler *sched = optim_sequential_lr(opt, parts, milestones, 2);
    const double want[7] = {0.01, 0.055, 0.1, 0.1 * 1.70710678 / 2, 0.05, 0.1 * 0.29289322 / 2,
                            0.0};
    check_sequence(opt, sched, want, 7, "SequentialLR");
    /* resuming at epoch 3 gives epoch 3's lr */
    ck_assert_int_eq(optim_scheduler_set_epoch(sched, 3), 0);
    ck_assert_close(optim_get_lr(opt, 0), want[3], 1e-7);
    optim_scheduler_free(sched);

    /* milestones must increase; the schedulers given are freed on failure */
    LRScheduler *bad[3] = {optim_step_lr(opt, 1, 0.5f), optim_step_lr(opt, 1, 0.5f),
                           optim_step_lr(opt, 1, 0.5f)};
    const int64_t backwards[2] = {3, 2};
    ck_assert_ptr_null(optim_sequential_lr(opt, bad, backwards, 3));
    ck_assert_error("increasing");
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_get_last_lr_two_groups)
{
    Scope *s = scope_begin();
    Optimizer *opt = sgd_with_lr(0.1f);
    static const float p0[2] = {0.0f, 0.0f};
    Var *q = make_param(p0, 2);
    OptimHparams hp = optim_sgd_defaults(0.01f);
    ck_assert_int_eq(optim_add_param_group(opt, &q, 1, &hp), 1);
    LRScheduler *sched = optim_step_lr(opt, 1, 0.1f);
    ck_assert_ptr_nonnull(sched);
    ck_assert_int_eq(optim_scheduler_step(sched), 0);
    float lrs[2] = {0, 0};
    /* each group decays from its own initial lr: 0.1*0.1, 0.01*0.1 */
    ck_assert_int_eq(optim_scheduler_get_last_lr(sched, lrs, 2), 2);
    ck_assert_close(lrs[0], 0.01, 1e-8);
    ck_assert_close(lrs[1], 0.001, 1e-9);
    ck_assert_close(optim_get_lr(opt, 1), 0.001, 1e-9);
    optim_scheduler_free(sched);
    optim_free(opt);
    scope_end(s);
}
END_TEST

START_TEST(test_chained_lr)
{
    Scope *s = scope_begin();
    Optimizer *opt = sgd_with_lr(0.1f);
    /* LinearLR(0.5 -> 1 over 2) times ExponentialLR(0.5):
     *   t=0: 0.1 * 0.5 * 1 = 0.05; t=1: 0.1 * 0.75 * 0.5 = 0.0375;
     *   t=2: 0.1 * 1 * 0.25 = 0.025; t=3: 0.1 * 1 * 0.125 = 0.0125 */
    LRScheduler *parts[2] = {optim_linear_lr(opt, 0.5f, 1.0f, 2), optim_exponential_lr(opt, 0.5f)};
    ck_assert(parts[0] && parts[1]);
    LRScheduler *sched = optim_chained_lr(opt, parts, 2);
    const double want[4] = {0.05, 0.0375, 0.025, 0.0125};
    check_sequence(opt, sched, want, 4, "ChainedScheduler");
    optim_scheduler_free(sched);
    optim_free(opt);
    scope_end(s);
}
END_TEST

void add_scheduler_tests(Suite *s)
{
    GRADED(s, test_step_lr, 2);
    GRADED(s, test_cosine_lr, 2);
    GRADED(s, test_linear_exponential_lambda, 2);
    GRADED(s, test_lambda_lr, 1);
    GRADED(s, test_sequential_lr_and_resume, 3);
    GRADED(s, test_get_last_lr_two_groups, 2);
    GRADED(s, test_chained_lr, 2);
}
