/*
 * test_error_contract.c - week 5's failure paths: the modular norm and dualization when
 * memory runs out half way (tests/harness/faultwalk.h fails each allocation in turn).
 * Every time: NAN or -1 with a message, nothing leaked, and dualize's outputs as they
 * were (it writes them only once every atom has succeeded); with nothing failing, a
 * dual of the asked norm.
 *
 * Two traps: fmax(x, NAN) is x, so a composite norm that takes the max of its
 * children's must pass a failed child's NAN on itself; and a dualize that writes each
 * atom's output as it goes leaves half of them written when a later atom fails.
 */
#include "faultwalk.h"
#include "week5.h"

#include <math.h>

typedef struct Dual {
    ModularModule *m;
    Tensor *g[3], *out[3];
} Dual;

static int dual_call(void *ctx)
{
    Dual *d = ctx;
    if (isnan(modular_norm(d->m, d->g)))
        return -1;
    return modular_dualize(d->m, d->g, d->out, 1.0f) != 0 ? -1 : 0;
}

static uint64_t dual_state(void *ctx)
{
    Dual *d = ctx;
    uint64_t h = FW_HASH_INIT;
    for (int i = 0; i < 3; i++)
        h = fw_hash_tensor(fw_hash_tensor(h, d->g[i]), d->out[i]);
    return h;
}

START_TEST(test_norm_and_dualize_out_of_memory)
{
    Scope *s = scope_begin();
    StrataMemStats start = strata_mem_stats();
    strata_manual_seed(5);
    Dual d = {modular_mlp(3, 6, 8, 3), {NULL}, {NULL}};
    ck_assert_ptr_nonnull(d.m);
    ck_assert_int_eq(modular_initialize(d.m), 0);
    ck_assert_int_eq(modular_num_atoms(d.m), 3);
    for (int i = 0; i < 3; i++) {
        Tensor *w = var_data(modular_weight_get(d.m, i));
        d.g[i] = w5_randn(w->shape[0], w->shape[1]);
        d.out[i] = tensor_zeros(w->shape, w->ndim);
        ck_assert_ptr_nonnull(d.out[i]);
    }
    FW_WALK_ALLOC("modular_norm and modular_dualize", dual_call, dual_state, &d);
    float norm = modular_norm(d.m, d.out);
    /* Newton-Schulz orthogonalizes approximately: within a few percent */
    ck_assert_msg(fabsf(norm - 1.0f) < 0.05f, "the dual's modular norm is %g, not 1",
                  (double)norm);
    double inner = 0;
    for (int i = 0; i < 3; i++)
        inner += w5_dot(d.g[i], d.out[i]);
    ck_assert_msg(inner > 0, "<g, dualize(g)> = %g should be > 0", inner);
    modular_free(d.m);
    /* A Conv2D works kernel position by kernel position: a position that fails must
     * fail the whole call, not leave the others' result standing */
    Dual c = {modular_conv2d(3, 2, 2, 1, 0), {NULL}, {NULL}};
    ck_assert_ptr_nonnull(c.m);
    ck_assert_int_eq(modular_initialize(c.m), 0);
    Tensor *cw = var_data(modular_weight_get(c.m, 0));
    c.g[0] = tensor_randn(cw->shape, cw->ndim);
    c.out[0] = tensor_zeros(cw->shape, cw->ndim);
    ck_assert_ptr_nonnull(c.out[0]);
    FW_WALK_ALLOC("Conv2D's modular_norm and modular_dualize", dual_call, dual_state, &c);
    ck_assert_msg(w5_dot(c.g[0], c.out[0]) > 0, "Conv2D: <g, dualize(g)> should be > 0");
    modular_free(c.m);
    scope_end(s);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, start.bytes_live);
}
END_TEST

void add_error_contract_tests(Suite *s)
{
    GRADED(s, test_norm_and_dualize_out_of_memory, 2);
}
