/*
 * l2l_test.h - helpers shared by the L2L test files (week 4, bonus section).
 *
 * The expected values of these tests are never taken from the L2L trainer: they come
 * from plain training on the same model (nn_forward over the whole batch, one
 * var_backward), or from plain gradient accumulation over the same microbatches when
 * the layers make the microbatch matter (Dropout's masks, BatchNorm's statistics), both
 * written out here with nn/ and autograd/ only.
 *
 * Every test is written BEGIN; ...; END; as in week 1: BEGIN opens a scope, END closes it
 * and asserts that the counting allocator is back where it was. Modules, trainers and
 * optimizers are freed by the test before END.
 */
#ifndef WEEK4_L2L_TEST_H
#define WEEK4_L2L_TEST_H

#include "optim.h"
#include "strata_test.h"

/* The float32 tolerance L2L gradients are held to against plain backprop: rtol 1e-5, atol 1e-6. */
#define L2L_RTOL 1e-5
#define L2L_ATOL 1e-6

/* ------------------------------------------------------------------ comparisons --- */

/* Max over elements of |a - b| - rtol*|b| (<= atol means allclose); a naive walk. */
static inline void assert_tensors_close(const Tensor *a, const Tensor *b, double rtol,
                                        double atol, const char *what)
{
    ck_assert_msg(a != NULL && b != NULL, "%s: missing tensor (%p vs %p)", what, (void *)a,
                  (void *)b);
    ck_assert_msg(tensor_same_shape(a, b), "%s: shapes differ", what);
    int64_t n = tensor_numel(a);
    float *va = malloc((size_t)n * sizeof *va), *vb = malloc((size_t)n * sizeof *vb);
    ck_assert(va && vb);
    ck_assert_int_eq(tensor_to_array(a, va), 0);
    ck_assert_int_eq(tensor_to_array(b, vb), 0);
    int64_t worst = -1;
    double worst_excess = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double excess = fabs((double)va[i] - (double)vb[i]) - rtol * fabs((double)vb[i]) - atol;
        if (!(excess <= worst_excess) || isnan(va[i]) != isnan(vb[i])) {
            worst_excess = isnan(excess) ? INFINITY : excess;
            worst = i;
        }
    }
    double got = worst >= 0 ? va[worst] : 0.0, want = worst >= 0 ? vb[worst] : 0.0;
    free(va);
    free(vb);
    ck_assert_msg(worst < 0, "%s: element %lld is %.9g, expected %.9g (rtol %g, atol %g)",
                  what, (long long)worst, got, want, rtol, atol);
}

/* Whether two tensors hold exactly the same floats. */
static inline bool tensors_equal(const Tensor *a, const Tensor *b)
{
    if (!a || !b || !tensor_same_shape(a, b))
        return false;
    int64_t n = tensor_numel(a);
    float *va = malloc((size_t)n * sizeof *va), *vb = malloc((size_t)n * sizeof *vb);
    ck_assert(va && vb);
    tensor_to_array(a, va);
    tensor_to_array(b, vb);
    bool same = memcmp(va, vb, (size_t)n * sizeof *va) == 0;
    free(va);
    free(vb);
    return same;
}

/* ------------------------------------------------------------- models and data --- */

/* Append @p layer to @p seq, failing the test with the message otherwise. */
static inline void add_layer(Module *seq, Module *layer)
{
    ck_assert_msg(layer != NULL, "a layer constructor failed: %s", strata_last_error());
    ck_assert_msg(nn_sequential_append(seq, layer) == 0, "nn_sequential_append: %s",
                  strata_last_error());
}

static inline Module *new_sequential(void)
{
    Module *seq = nn_sequential(0);
    ck_assert_ok(seq);
    return seq;
}

/*
 * The MLP the tests use, seeded: Linear(in, h), ReLU, then @p hidden blocks
 * Linear(h, h), Tanh, then Linear(h, out).
 */
static inline Module *make_mlp(uint64_t seed, int64_t in, int64_t h, int64_t out, int hidden)
{
    strata_manual_seed(seed);
    Module *m = new_sequential();
    add_layer(m, nn_linear(in, h, true));
    add_layer(m, nn_relu());
    for (int i = 0; i < hidden; i++) {
        add_layer(m, nn_linear(h, h, true));
        add_layer(m, nn_tanh());
    }
    add_layer(m, nn_linear(h, out, true));
    return m;
}

/* Standard normal inputs [rows, cols] from @p seed. */
static inline Tensor *make_inputs(uint64_t seed, int64_t rows, int64_t cols)
{
    strata_manual_seed(seed);
    Tensor *x = tensor_randn((const int64_t[]){rows, cols}, 2);
    ck_assert_ok(x);
    return x;
}

/* Class indices (i * 7 + seed) % classes for i in 0..rows-1, as floats. */
static inline Tensor *make_classes(uint64_t seed, int64_t rows, int64_t classes)
{
    float *v = malloc((size_t)rows * sizeof *v);
    ck_assert(v);
    for (int64_t i = 0; i < rows; i++)
        v[i] = (float)((i * 7 + (int64_t)seed) % classes);
    Tensor *y = tensor_from_data(v, &rows, 1);
    free(v);
    ck_assert_ok(y);
    return y;
}

/* L2LOptions with a microbatch size and the rest zero. */
static inline L2LOptions l2l_options(int64_t microbatch)
{
    L2LOptions o;
    memset(&o, 0, sizeof o);
    o.microbatch_size = microbatch;
    return o;
}

/* ------------------------------------------------------------ plain references --- */

/* Clones of every parameter's gradient (NULL entries for none), in nn_parameters order,
 * held by the open scope; *count receives the number. */
static inline Tensor **snapshot_grads(Module *m, int *count)
{
    Var **ps = nn_parameters(m, count);
    ck_assert_ok(ps);
    Tensor **g = calloc((size_t)*count + 1, sizeof *g);
    ck_assert(g);
    for (int i = 0; i < *count; i++)
        g[i] = ps[i]->grad ? tensor_clone(ps[i]->grad) : NULL;
    strata_free(ps);
    return g;
}

/* Clones of every parameter's value, held by the open scope. */
static inline Tensor **snapshot_params(Module *m, int *count)
{
    Var **ps = nn_parameters(m, count);
    ck_assert_ok(ps);
    Tensor **p = calloc((size_t)*count + 1, sizeof *p);
    ck_assert(p);
    for (int i = 0; i < *count; i++)
        p[i] = tensor_clone(ps[i]->data);
    strata_free(ps);
    return p;
}

/* Assert @p m's gradients equal @p expected (a snapshot_grads() of the reference). */
static inline void assert_grads_close(Module *m, Tensor **expected, int count, double rtol,
                                      double atol, const char *what)
{
    int n;
    Var **ps = nn_parameters(m, &n);
    ck_assert_ok(ps);
    ck_assert_int_eq(n, count);
    for (int i = 0; i < n; i++) {
        char label[160];
        snprintf(label, sizeof label, "%s: gradient of parameter %d", what, i);
        if (!expected[i]) {
            ck_assert_msg(ps[i]->grad == NULL, "%s should be NULL (frozen)", label);
            continue;
        }
        ck_assert_msg(ps[i]->grad != NULL, "%s is NULL", label);
        assert_tensors_close(ps[i]->grad, expected[i], rtol, atol, label);
    }
    strata_free(ps);
}

/* Assert the parameters of two models are close. */
static inline void assert_params_close(Module *a, Module *b, double rtol, double atol,
                                       const char *what)
{
    int na, nb;
    Var **pa = nn_parameters(a, &na), **pb = nn_parameters(b, &nb);
    ck_assert_ok(pa);
    ck_assert_ok(pb);
    ck_assert_int_eq(na, nb);
    for (int i = 0; i < na; i++) {
        char label[160];
        snprintf(label, sizeof label, "%s: parameter %d", what, i);
        assert_tensors_close(pa[i]->data, pb[i]->data, rtol, atol, label);
    }
    strata_free(pa);
    strata_free(pb);
}

/*
 * Plain training's gradient: the whole batch through the model, the loss, one backward.
 * Gradients are set to none first. Returns the loss.
 */
static inline double plain_backward(Module *m, Tensor *x, Tensor *y, L2LLossFn loss_fn)
{
    nn_zero_grad(m, true);
    Var *out = nn_forward(m, var_new(x, false));
    ck_assert_ok(out);
    Var *loss = (loss_fn ? loss_fn : l2l_cross_entropy_loss)(out, y, NULL);
    ck_assert_ok(loss);
    ck_assert_status(var_backward(loss));
    return (double)tensor_item(var_data(loss));
}

/*
 * Plain gradient accumulation over the microbatches L2L uses (rows k*mb ...), each
 * loss weighted by rows/B. With @p seeded, the generator is seeded with
 * l2l_unit_seed(seed, step, l, k) before layer l runs on microbatch k: the dropout
 * masks L2L promises. The generator state is restored after. Returns the loss.
 */
static inline double accumulate_backward(Module *m, Tensor *x, Tensor *y, int64_t mb,
                                         L2LLossFn loss_fn, bool seeded, uint64_t seed,
                                         int64_t step)
{
    uint64_t saved = strata_rng_get_state();
    nn_zero_grad(m, true);
    int64_t B = x->shape[0];
    double total = 0.0;
    for (int64_t k = 0, r0 = 0; r0 < B; k++, r0 += mb) {
        int64_t rows = B - r0 < mb ? B - r0 : mb;
        Var *h = var_new(tensor_narrow(x, 0, r0, rows), false);
        for (int l = 0; l < nn_num_children(m); l++) {
            if (seeded)
                strata_manual_seed(l2l_unit_seed(seed, step, l, k));
            h = nn_forward(nn_child_at(m, l), h);
            ck_assert_ok(h);
        }
        Var *loss = (loss_fn ? loss_fn : l2l_cross_entropy_loss)(h, tensor_narrow(y, 0, r0, rows),
                                                                  NULL);
        ck_assert_ok(loss);
        double w = (double)rows / (double)B;
        total += w * tensor_item(var_data(loss));
        ck_assert_status(var_backward(var_mul_scalar(loss, (float)w)));
    }
    strata_rng_set_state(saved);
    return total;
}

void add_l2l_gradient_tests(Suite *s);
void add_l2l_training_tests(Suite *s);
void add_l2l_memory_tests(Suite *s);
void add_l2l_store_tests(Suite *s);
void add_l2l_error_contract_tests(Suite *s);

#endif
