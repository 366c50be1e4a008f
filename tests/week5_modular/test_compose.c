/*
 * test_compose.c - the combinators: mass, sensitivity, counts and smoothness of
 * compounds against the week-5 handout's table (worked out by hand in the comments), the target
 * split of dualize, the recursive norm, tare, power's deep copies, and ownership errors.
 */
#include "week5.h"

#include <math.h>
#include <stdlib.h>

START_TEST(test_hello_world_mlp_counts)
{
    Scope *s = scope_begin();
    /* Linear(10, 16) o ReLU o Linear(16, 16) o ReLU o Linear(16, 20) */
    ModularModule *mlp = modular_mlp(10, 20, 16, 3);
    ck_assert_msg(mlp != NULL, "modular_mlp failed: %s", strata_last_error());
    ck_assert_int_eq(modular_num_atoms(mlp), 3);
    ck_assert_int_eq(modular_num_bonds(mlp), 2);
    ck_assert_close(modular_mass(mlp), 3.0, 1e-6);
    ck_assert_close(modular_sensitivity(mlp), 1.0, 1e-6);
    ck_assert_msg(!modular_is_smooth(mlp), "an MLP with ReLU is non-smooth");
    /* each Linear gets t/3: all masses 1 of 3, all sensitivities 1 */
    float t[3];
    ck_assert_int_eq(modular_atom_targets(mlp, 0.6f, t), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_close(t[i], 0.2, 1e-6);
    /* atom order is forward order: the first atom reads the input */
    ck_assert_int_eq(modular_weight_get(mlp, 0)->data->shape[1], 20);
    ck_assert_int_eq(modular_weight_get(mlp, 2)->data->shape[0], 10);
    modular_free(mlp);
    scope_end(s);
}
END_TEST

START_TEST(test_compose_and_tuple_algebra)
{
    Scope *s = scope_begin();
    /* M = Linear(4,4) o Mul(3) o Linear(4,4): mass 2, sensitivity 1 * 3 * 1 = 3.
     * Targets: the first Linear (m0 = Linear, m1 = Mul o Linear with s1 = 3) gets
     * t * 1/2 / 3; the last gets t * 1/2. */
    ModularModule *mods[3] = {modular_linear(4, 4), modular_mul(3.0f), modular_linear(4, 4)};
    ModularModule *m = modular_chain(3, mods);
    ck_assert_msg(m != NULL, "modular_chain failed: %s", strata_last_error());
    ck_assert_close(modular_mass(m), 2.0, 1e-6);
    ck_assert_close(modular_sensitivity(m), 3.0, 1e-6);
    ck_assert_msg(modular_is_smooth(m), "Linear and Mul are smooth");
    ck_assert_int_eq(modular_num_bonds(m), 1);
    float t[2];
    ck_assert_int_eq(modular_atom_targets(m, 1.0f, t), 0);
    ck_assert_close(t[0], 1.0 / 6.0, 1e-6);
    ck_assert_close(t[1], 0.5, 1e-6);
    /* tuple (Linear, Mul(2) o Linear, ReLU): mass 2, sensitivity 1 + 2 + 1 = 4; each
     * member of mass 1 gets t * 1/2 (a tuple divides by no sensitivity), and inside
     * Mul(2) o Linear the Linear (m0) gets that / s(Mul) = 1/2 / 2 */
    ModularModule *parts[3] = {modular_linear(3, 5), modular_scale(2.0f, modular_linear(3, 5)),
                               modular_relu()};
    ModularModule *tup = modular_tuple(3, parts);
    ck_assert_msg(tup != NULL, "modular_tuple failed: %s", strata_last_error());
    ck_assert_close(modular_mass(tup), 2.0, 1e-6);
    ck_assert_close(modular_sensitivity(tup), 4.0, 1e-6);
    ck_assert_int_eq(modular_num_atoms(tup), 2);
    ck_assert_int_eq(modular_num_bonds(tup), 2);
    ck_assert_int_eq(modular_atom_targets(tup, 1.0f, t), 0);
    ck_assert_close(t[0], 0.5, 1e-6);
    ck_assert_close(t[1], 0.25, 1e-6);
    modular_free(m);
    modular_free(tup);
    scope_end(s);
}
END_TEST

START_TEST(test_residual_sensitivity)
{
    Scope *s = scope_begin();
    /* (1 - 1/L) Identity + (1/L) B with s_B = 2 and L = 4: sensitivity 0.75 + 0.5 */
    ModularModule *b = modular_scale(2.0f, modular_linear(5, 5));
    ModularModule *blk = modular_sum(modular_scale(0.75f, modular_identity()),
                                     modular_scale(0.25f, b));
    ck_assert_msg(blk != NULL, "modular_sum failed: %s", strata_last_error());
    ck_assert_close(modular_sensitivity(blk), 1.25, 1e-6);
    ck_assert_close(modular_mass(blk), 1.0, 1e-6);
    /* bonds: Add, Mul, Identity, Mul, Mul(2) */
    ck_assert_int_eq(modular_num_bonds(blk), 5);
    /* the sum's output equals 0.75 x + 0.25 * 2 W x */
    ck_assert_int_eq(modular_initialize(blk), 0);
    Var *x = var_new(w5_randn(3, 5), false);
    Var *y = modular_forward(blk, x);
    ck_assert_msg(y != NULL, "forward of a sum failed: %s", strata_last_error());
    Tensor *w = modular_weight_get(blk, 0)->data;
    for (int r = 0; r < 3; r++)
        for (int o = 0; o < 5; o++) {
            double acc = 0.0;
            for (int i = 0; i < 5; i++)
                acc += (double)w->data[o * 5 + i] * x->data->data[r * 5 + i];
            ck_assert_close(y->data->data[r * 5 + o], 0.75 * x->data->data[r * 5 + o] + 0.5 * acc,
                            1e-5);
        }
    modular_free(blk);
    scope_end(s);
}
END_TEST

START_TEST(test_tare)
{
    Scope *s = scope_begin();
    ModularModule *mlp = modular_mlp(4, 4, 4, 4); /* mass 4 */
    ck_assert_int_eq(modular_tare(mlp, 2.0f), 0);
    ck_assert_close(modular_mass(mlp), 2.0, 1e-6);
    /* every atom got the same factor 1/2: the split stays even */
    float t[4];
    ck_assert_int_eq(modular_atom_targets(mlp, 1.0f, t), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_close(t[i], 0.25, 1e-6);
    /* a tared block inside a bigger network: mass(block) = 1 next to a Linear of mass 1,
     * so the Linear gets half the target */
    ModularModule *tail = modular_linear(4, 4);
    ModularModule *net = modular_compose(tail, mlp);
    ck_assert_int_eq(modular_tare(mlp, 1.0f), 0); /* taring a child later still counts */
    ck_assert_close(modular_mass(net), 2.0, 1e-6);
    float t5[5];
    ck_assert_int_eq(modular_atom_targets(net, 1.0f, t5), 0);
    ck_assert_close(t5[4], 0.5, 1e-6);
    ck_assert_close(t5[0], 0.125, 1e-6);
    /* a bond has mass 0: taring it is an error */
    ModularModule *r = modular_relu();
    ck_assert_int_eq(modular_tare(r, 1.0f), -1);
    ck_assert_msg(strstr(strata_last_error(), "mass 0"), "message: %s", strata_last_error());
    ck_assert_int_eq(modular_tare(net, -1.0f), -1);
    modular_free(r);
    modular_free(net);
    scope_end(s);
}
END_TEST

START_TEST(test_power_deep_copies)
{
    Scope *s = scope_begin();
    strata_manual_seed(20);
    ModularModule *lin = modular_linear(3, 3);
    ck_assert_int_eq(modular_initialize(lin), 0);
    ModularModule *p = modular_power(lin, 3);
    ck_assert_msg(p != NULL, "modular_power failed: %s", strata_last_error());
    ck_assert_int_eq(modular_num_atoms(p), 3);
    ck_assert_close(modular_mass(p), 3.0, 1e-6);
    Var *w0 = modular_weight_get(p, 0), *w1 = modular_weight_get(p, 1);
    ck_assert_msg(w0 != w1 && w0->data->data != w1->data->data,
                  "power must deep-copy: copies share a weight");
    ck_assert_msg(tensor_allclose(w0->data, w1->data, 0, 0), "copies start equal");
    w0->data->data[0] += 1.0f;
    ck_assert_msg(w1->data->data[0] != w0->data->data[0], "copies share storage");
    /* taring the power scales every copy once: masses 1/3 each */
    ck_assert_int_eq(modular_tare(p, 1.0f), 0);
    ck_assert_close(modular_mass(p), 1.0, 1e-6);
    ck_assert_close(modular_mass(modular_child_get(p, 1)), 1.0 / 3.0, 1e-6);
    ModularModule *id = modular_power(modular_relu(), 0);
    ck_assert_msg(id && strcmp(modular_name(id), "Identity") == 0, "M^0 is the identity");
    modular_free(id);
    modular_free(p);
    scope_end(s);
}
END_TEST

START_TEST(test_resmlp_counts)
{
    Scope *s = scope_begin();
    int Ls[3] = {2, 4, 8};
    for (int k = 0; k < 3; k++) {
        ModularModule *r = modular_resmlp(6, Ls[k], 1);
        ck_assert_msg(r != NULL, "modular_resmlp failed: %s", strata_last_error());
        ck_assert_int_eq(modular_num_atoms(r), Ls[k]);
        ck_assert_close(modular_mass(r), 1.0, 1e-5);
        ck_assert_close(modular_sensitivity(r), 1.0, 1e-5);
        /* block: Add, Mul, Identity, Mul, RMSDivide, Abs, MeanSubtract = 7 bonds */
        ck_assert_int_eq(modular_num_bonds(r), 7 * Ls[k]);
        float t[8];
        ck_assert_int_eq(modular_atom_targets(r, 1.0f, t), 0);
        for (int i = 0; i < Ls[k]; i++)
            ck_assert_msg(fabs(t[i] - 1.0) < 1e-4,
                          "L = %d: block %d's Linear gets target %g, expected 1 for every L",
                          Ls[k], i, (double)t[i]);
        modular_free(r);
    }
    scope_end(s);
}
END_TEST

START_TEST(test_rescnn)
{
    Scope *s = scope_begin();
    strata_manual_seed(23);
    /* Linear(10, 4) o GlobalAvgPool o stack(2 blocks) o Conv2D(4, 1, 3): atoms 1 + 2 + 1,
     * bonds 7 per block + the pool, mass 1 + 1 (tared stack) + 1 = 3, sensitivity 1 */
    ModularModule *net = modular_rescnn(10, 1, 4, 2, 1, 1.0f);
    ck_assert_msg(net != NULL, "modular_rescnn failed: %s", strata_last_error());
    ck_assert_int_eq(modular_num_atoms(net), 4);
    ck_assert_int_eq(modular_num_bonds(net), 15);
    ck_assert_close(modular_mass(net), 3.0, 1e-5);
    ck_assert_close(modular_sensitivity(net), 1.0, 1e-5);
    ck_assert_int_eq(modular_initialize(net), 0);
    Var *x = var_new(tensor_randn((int64_t[]){2, 1, 6, 6}, 4), false);
    Var *y = modular_forward(net, x);
    ck_assert_msg(y != NULL, "ResCNN forward failed: %s", strata_last_error());
    ck_assert_int_eq(y->data->ndim, 2);
    ck_assert_int_eq(y->data->shape[0], 2);
    ck_assert_int_eq(y->data->shape[1], 10);
    Tensor *g[4], *d[4];
    w5_like_weights(net, g, true);
    w5_like_weights(net, d, false);
    ck_assert_int_eq(modular_dualize(net, g, d, 1.5f), 0);
    ck_assert_close(modular_norm(net, d), 1.5, 0.015);
    /* on an image batch MeanSubtract centres each sample over (C, H, W) */
    ModularModule *ms = modular_mean_subtract();
    Var *z = modular_forward(ms, var_new(tensor_randn((int64_t[]){3, 2, 4, 4}, 4), false));
    ck_assert_ptr_nonnull(z);
    for (int n = 0; n < 3; n++) {
        double sum = 0.0;
        for (int k = 0; k < 32; k++)
            sum += z->data->data[n * 32 + k];
        ck_assert_close(sum, 0.0, 1e-4);
    }
    modular_free(ms);
    modular_free(net);
    scope_end(s);
}
END_TEST

START_TEST(test_rescnn_blocks_mass)
{
    Scope *s = scope_begin();
    /* Modula's ResCNN tares its blocks to mass 20: total 1 + 20 + 1 = 22. Targets for
     * t = 1: the first Conv2D and the output Linear get 1/22; each of the 2 block Conv2Ds
     * has mass 10 and is followed by Mul(1/2) (L = 2; Abs, MeanSubtract, Add, the next
     * block, the pool and the Linear all have sensitivity 1): (10/22) / (1/2) = 10/11 */
    ModularModule *net = modular_rescnn(10, 1, 4, 2, 1, MODULAR_RESCNN_BLOCKS_MASS);
    ck_assert_msg(net != NULL, "modular_rescnn failed: %s", strata_last_error());
    ck_assert_close(modular_mass(net), 22.0, 1e-5);
    ck_assert_close(modular_sensitivity(net), 1.0, 1e-5);
    float t[4];
    ck_assert_int_eq(modular_atom_targets(net, 1.0f, t), 0);
    ck_assert_close(t[0], 1.0 / 22.0, 1e-6);
    ck_assert_close(t[1], 10.0 / 11.0, 1e-6);
    ck_assert_close(t[2], 10.0 / 11.0, 1e-6);
    ck_assert_close(t[3], 1.0 / 22.0, 1e-6);
    ck_assert_ptr_null(modular_rescnn(10, 1, 4, 2, 1, 0.0f));
    ck_assert_msg(strstr(strata_last_error(), "blocks_mass"), "message: %s",
                  strata_last_error());
    modular_free(net);
    scope_end(s);
}
END_TEST

START_TEST(test_compound_dualize_norm)
{
    Scope *s = scope_begin();
    strata_manual_seed(21);
    ModularModule *mlp = modular_mlp(5, 12, 8, 3);
    Tensor *g[3], *d[3];
    w5_like_weights(mlp, g, true);
    w5_like_weights(mlp, d, false);
    ck_assert_int_eq(modular_dualize(mlp, g, d, 0.9f), 0);
    ck_assert_close(modular_norm(mlp, d), 0.9, 0.009);
    for (int i = 0; i < 3; i++) {
        /* independently: each Linear at 0.9/3 in its own norm, aligned with g */
        ck_assert_close(w5_linear_norm(d[i]), 0.3, 0.003);
        ck_assert_msg(w5_dot(g[i], d[i]) > 0, "<g, d> of atom %d must be >= 0", i);
    }
    /* the ResMLP stack too, with a Linear in front: modular norm = target */
    ModularModule *net = modular_compose(modular_resmlp(8, 3, 1), modular_linear(8, 12));
    Tensor *g2[4], *d2[4];
    w5_like_weights(net, g2, true);
    w5_like_weights(net, d2, false);
    ck_assert_int_eq(modular_dualize(net, g2, d2, 2.0f), 0);
    ck_assert_close(modular_norm(net, d2), 2.0, 0.02);
    /* zero gradients: zero, no NaN */
    Tensor *z[3];
    w5_like_weights(mlp, z, false);
    ck_assert_int_eq(modular_dualize(mlp, z, d, 1.0f), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(w5_all_finite(d[i]) && w5_max_abs(d[i]) == 0.0,
                      "dualize of zero gradients must be zero");
    modular_free(mlp);
    modular_free(net);
    scope_end(s);
}
END_TEST

START_TEST(test_compound_initialize)
{
    Scope *s = scope_begin();
    strata_manual_seed(22);
    ModularModule *mlp = modular_mlp(5, 12, 8, 4);
    ck_assert_int_eq(modular_initialize(mlp), 0);
    /* well-normed: every atom at norm 1 ... */
    for (int i = 0; i < 4; i++)
        ck_assert_close(w5_linear_norm(modular_weight_get(mlp, i)->data), 1.0, 1e-4);
    /* ... so the modular norm is max over atoms of (mu / mu_i) * (sensitivity after atom
     * i) * 1 = 4 / 1 * 1: unrolling the composition rule over the chain */
    ck_assert_close(modular_weight_norm(mlp), 4.0, 4e-4);
    ModularModule *one = modular_linear(5, 7);
    ck_assert_int_eq(modular_initialize(one), 0);
    ck_assert_close(modular_weight_norm(one), 1.0, 1e-4);
    modular_free(one);
    modular_free(mlp);
    scope_end(s);
}
END_TEST

START_TEST(test_norm_by_hand)
{
    Scope *s = scope_begin();
    /* Linear(2,2) then Mul(0.5) then Linear(2,2): mass 2, m0 = Linear, m1 = Linear o Mul
     * (s1 = 0.5). With W0 = 4 I and W1 = 3 I (Linear norms 4 and 3):
     * ||w|| = max((2/1) * 0.5 * 4, (2/1) * 3) = max(4, 6) = 6; with W1 = I: max(4, 2) = 4 */
    ModularModule *mods[3] = {modular_linear(2, 2), modular_mul(0.5f), modular_linear(2, 2)};
    ModularModule *m = modular_chain(3, mods);
    float a[4] = {4, 0, 0, 4}, b[4] = {3, 0, 0, 3}, c[4] = {1, 0, 0, 1};
    Tensor *w[2] = {tensor_from_data(a, (int64_t[]){2, 2}, 2),
                    tensor_from_data(b, (int64_t[]){2, 2}, 2)};
    ck_assert_close(modular_norm(m, w), 6.0, 1e-5);
    w[1] = tensor_from_data(c, (int64_t[]){2, 2}, 2);
    ck_assert_close(modular_norm(m, w), 4.0, 1e-5);
    /* a wrong shape is named */
    w[1] = w5_randn(3, 2);
    ck_assert_msg(isnan(modular_norm(m, w)), "a shape mismatch must give NAN");
    ck_assert_msg(strstr(strata_last_error(), "modular_norm"), "message: %s",
                  strata_last_error());
    /* a tuple of two Linear(2, 2) (mass 2, each 1) with W0 = 4 I and W1 = 3 I:
     * max((2/1) * 4, (2/1) * 3) = 8 */
    ModularModule *pair[2] = {modular_linear(2, 2), modular_linear(2, 2)};
    ModularModule *t = modular_tuple(2, pair);
    ck_assert_ptr_nonnull(t);
    Tensor *tw[2] = {tensor_from_data(a, (int64_t[]){2, 2}, 2),
                     tensor_from_data(b, (int64_t[]){2, 2}, 2)};
    ck_assert_close(modular_norm(t, tw), 8.0, 1e-5);
    modular_free(t);
    modular_free(m);
    scope_end(s);
}
END_TEST

START_TEST(test_ownership_errors)
{
    Scope *s = scope_begin();
    ModularModule *lin = modular_linear(2, 2);
    ModularModule *twice[2] = {lin, lin};
    strata_clear_error();
    ck_assert_ptr_null(modular_tuple(2, twice)); /* frees lin once */
    ck_assert_msg(strstr(strata_last_error(), "twice"), "message: %s", strata_last_error());
    ModularModule *a = modular_linear(2, 2);
    ModularModule *net = modular_compose(modular_relu(), a);
    strata_clear_error();
    ck_assert_ptr_null(modular_compose(modular_relu(), a)); /* a already has a parent */
    ck_assert_msg(strstr(strata_last_error(), "already"), "message: %s", strata_last_error());
    ck_assert_close(modular_mass(net), 1.0, 0); /* net is intact */
    /* a NULL child reports the first error and frees the other */
    strata_clear_error();
    ck_assert_ptr_null(modular_compose(modular_linear(2, 2), modular_linear(0, 1)));
    ck_assert_msg(strstr(strata_last_error(), "modular_linear"), "message: %s",
                  strata_last_error());
    modular_free(net);
    scope_end(s);
}
END_TEST

START_TEST(test_summary_print)
{
    Scope *s = scope_begin();
    ModularModule *mlp = modular_mlp(10, 20, 16, 3);
    /* Every string strata returns comes from strata_malloc and goes to strata_free, as
     * tensor_repr's and nn_repr's do: the counting allocator sees it. */
    size_t live0 = strata_mem_stats().bytes_live;
    char *text = modular_repr(mlp);
    ck_assert_msg(text != NULL, "modular_repr failed: %s", strata_last_error());
    ck_assert_msg(strstr(text, "consists of 3 atoms and 2 bonds"), "repr: %s", text);
    ck_assert_msg(strstr(text, "non-smooth"), "repr: %s", text);
    ck_assert_msg(strstr(text, "input sensitivity is 1"), "repr: %s", text);
    ck_assert_msg(strstr(text, "contributes proportion 3"), "repr: %s", text);
    ck_assert_msg(strata_mem_stats().bytes_live > live0,
                  "modular_repr's string is not counted: it must be strata_malloc'd");
    strata_free(text);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live0);
    char *tree = modular_tree_repr(mlp);
    ck_assert_msg(tree && strstr(tree, "Linear(16, 20)"), "tree: %s", tree ? tree : "");
    ck_assert_msg(strata_mem_stats().bytes_live > live0,
                  "modular_tree_repr's string is not counted: it must be strata_malloc'd");
    strata_free(tree);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live0);
    modular_free(mlp);
    scope_end(s);
}
END_TEST

void add_compose_tests(Suite *s)
{
    GRADED(s, test_hello_world_mlp_counts, 4);
    GRADED(s, test_compose_and_tuple_algebra, 3);
    GRADED(s, test_residual_sensitivity, 3);
    GRADED(s, test_tare, 3);
    GRADED(s, test_power_deep_copies, 3);
    GRADED(s, test_resmlp_counts, 3);
    GRADED(s, test_rescnn, 2);
    GRADED(s, test_rescnn_blocks_mass, 2);
    GRADED(s, test_compound_dualize_norm, 4);
    GRADED(s, test_compound_initialize, 2);
    GRADED(s, test_norm_by_hand, 2);
    GRADED(s, test_ownership_errors, 1);
    GRADED(s, test_summary_print, 1);
}
