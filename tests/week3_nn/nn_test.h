/*
 * nn_test.h - helpers shared by the week-3 test files.
 *
 * Expected values in these tests are computed independently of nn/: by hand (the
 * arithmetic is in a comment), by a naive loop in the test, or by finite differences
 * (var_gradcheck). A module is freed by the test that made it; tensors and Vars live in
 * the test's scope.
 */
#ifndef WEEK3_NN_TEST_H
#define WEEK3_NN_TEST_H

#include "nn.h"
#include "strata_test.h"

/* A tensor of @p shape (@p ndim dims) holding @p values, failing the test otherwise. */
static inline Tensor *make_tensor(const float *values, const int64_t *shape, int ndim)
{
    Tensor *t = tensor_from_data(values, shape, ndim);
    ck_assert_msg(t != NULL, "tensor_from_data failed: %s", strata_last_error());
    return t;
}

/* A Var around make_tensor(...). */
static inline Var *make_var(const float *values, const int64_t *shape, int ndim,
                            bool requires_grad)
{
    Var *v = var_new(make_tensor(values, shape, ndim), requires_grad);
    ck_assert_msg(v != NULL, "var_new failed: %s", strata_last_error());
    return v;
}

/* A Var of standard normal values (seeded by the caller). */
static inline Var *randn_var(const int64_t *shape, int ndim, bool requires_grad)
{
    Tensor *t = tensor_randn(shape, ndim);
    ck_assert_msg(t != NULL, "tensor_randn failed: %s", strata_last_error());
    Var *v = var_new(t, requires_grad);
    ck_assert_msg(v != NULL, "var_new failed: %s", strata_last_error());
    return v;
}

/* A module from a constructor, failing the test with the message if it is NULL. */
static inline Module *must_module(Module *m, const char *what)
{
    ck_assert_msg(m != NULL, "%s failed: %s", what, strata_last_error());
    return m;
}
#define MUST(module_expr) must_module((module_expr), #module_expr)

/* Assert every element of @p t is within @p tol of @p expected (row-major, n values). */
static inline void assert_values(const Tensor *t, const float *expected, int64_t n,
                                 double tol, const char *what)
{
    ck_assert_msg(t != NULL, "%s: tensor is NULL: %s", what, strata_last_error());
    ck_assert_msg(tensor_numel(t) == n, "%s: %lld elements, expected %lld", what,
                  (long long)tensor_numel(t), (long long)n);
    float *got = malloc((size_t)n * sizeof *got + 1);
    ck_assert(tensor_to_array(t, got) == 0);
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], e = expected[i];
        if (!(fabs(g - e) <= tol)) {
            free(got);
            ck_abort_msg("%s: element %lld is %.9g, expected %.9g (tol %g)", what,
                         (long long)i, g, e, tol);
        }
    }
    free(got);
}

/* Assert @p t has shape @p shape. */
static inline void assert_shape(const Tensor *t, const int64_t *shape, int ndim,
                                const char *what)
{
    char got[128];
    ck_assert_msg(t != NULL, "%s: tensor is NULL: %s", what, strata_last_error());
    bool ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = t->shape[d] == shape[d];
    ck_assert_msg(ok, "%s: shape %s is wrong", what, tensor_shape_str(t, got, sizeof got));
}

/* var_gradcheck of a module: inputs[0..n_inputs) go to nn_forward_n(); the rest (the
 * module's parameters) are perturbed in place so their gradients are checked too. */
static inline Var *module_function(Var *const *inputs, int n, void *ctx)
{
    (void)n;
    Module *m = ctx;
    int n_inputs = m->type->forward_n ? 2 : 1;
    if (strcmp(m->type->name, "MultiheadAttention") == 0)
        n_inputs = 3;
    return nn_forward_n(m, inputs, n_inputs);
}

/* Gradcheck @p m on @p x (and target/second input @p y if not NULL) and its parameters. */
static inline void check_module_gradients(Module *m, Var *const *xs, int n_xs)
{
    int count = 0;
    Var **params = nn_parameters(m, &count);
    ck_assert_ok(params);
    Var *inputs[64];
    ck_assert(n_xs + count <= 64);
    for (int i = 0; i < n_xs; i++)
        inputs[i] = xs[i];
    for (int i = 0; i < count; i++)
        inputs[n_xs + i] = params[i];
    strata_free(params);
    bool ok = var_gradcheck(module_function, inputs, n_xs + count, m, GRADCHECK_EPS,
                            GRADCHECK_ATOL, GRADCHECK_RTOL);
    ck_assert_msg(ok, "gradcheck of %s: %s", m->type->name, strata_last_error());
}

void add_module_tests(Suite *s);
void add_hook_tests(Suite *s);
void add_state_tests(Suite *s);
void add_repr_tests(Suite *s);
void add_init_tests(Suite *s);
void add_layer_tests(Suite *s);
void add_norm_tests(Suite *s);
void add_loss_tests(Suite *s);
void add_container_tests(Suite *s);
void add_attention_tests(Suite *s);
void add_error_contract_tests(Suite *s);

#endif
