/*
 * helpers.h - small helpers shared by the week-4 test files.
 */
#ifndef WEEK4_HELPERS_H
#define WEEK4_HELPERS_H

#include "optim.h"
#include "strata_test.h"

/* A 1-D parameter (requires grad) holding @p n values. */
static inline Var *make_param(const float *values, int64_t n)
{
    Tensor *t = tensor_from_data(values, &n, 1);
    ck_assert_msg(t != NULL, "tensor_from_data failed: %s", strata_last_error());
    Var *v = var_new(t, true);
    ck_assert_msg(v != NULL, "var_new failed: %s", strata_last_error());
    return v;
}

/* Give @p p the gradient @p values (replacing any), as backward would leave it. */
static inline void set_grad(Var *p, const float *values)
{
    Tensor *g = tensor_from_data(values, p->data->shape, p->data->ndim);
    ck_assert_msg(g != NULL, "tensor_from_data failed: %s", strata_last_error());
    tensor_retain(g); /* the Var's reference */
    tensor_release(p->grad);
    p->grad = g;
}

/* Assert that the 1-D parameter holds @p expected within @p tol. */
static inline void assert_param(const Var *p, const float *expected, int64_t n, double tol,
                                const char *what)
{
    const Tensor *t = p->data;
    ck_assert_int_eq(tensor_numel(t), n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)t->data[i] - (double)expected[i]) <= tol,
                      "%s: element %lld is %.9g, expected %.9g (tol %g)", what, (long long)i,
                      (double)t->data[i], (double)expected[i], tol);
}

void add_optimizer_tests(Suite *s);
void add_scheduler_tests(Suite *s);
void add_clip_state_tests(Suite *s);
void add_data_tests(Suite *s);
void add_data_extra_tests(Suite *s);
void add_text_tests(Suite *s);
void add_train_tests(Suite *s);
void add_error_contract_tests(Suite *s);

/* A data-loader sampler that fails: -1 with its own message, naming the epoch. */
static inline int64_t refusing_sampler(int64_t *order, int64_t capacity, int64_t n,
                                       int64_t epoch, void *ctx)
{
    (void)order;
    (void)capacity;
    (void)n;
    (void)ctx;
    strata_set_error("refusing_sampler: no order for epoch %lld", (long long)epoch);
    return -1;
}

#endif
