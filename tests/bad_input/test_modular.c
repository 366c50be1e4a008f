/*
 * test_modular.c - bad input to modular/ (week 5).
 */
#include "rb.h"

#define L "modular"

START_TEST(modular_linear_zero_size)
{
    BEGIN;
    ROW_FAILS(L, "modular_linear(0, 3)", "fan_out 0", modular_linear(0, 3) == NULL,
              "modular_linear", "0");
    END;
}
END_TEST

START_TEST(modular_forward_wrong_shape)
{
    BEGIN;
    ModularModule *m = modular_linear(3, 4);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(modular_initialize(m), 0);
    Tensor *w = rb_snap(var_data(modular_weight_get(m, 0)));
    Var *x = OKV(var_new(OK(tensor_ones(SHAPE(2, 5), 2)), false));
    ROW_FAILS(L, "modular_forward(linear(3, 4), x)", "x [2, 5]",
              modular_forward(m, x) == NULL, "[2, 5]", NULL);
    rb_assert_same(var_data(modular_weight_get(m, 0)), w, "weight");
    modular_free(m);
    END;
}
END_TEST

START_TEST(modular_orthogonalize_vector)
{
    BEGIN;
    Tensor *v = MK(DATA(1, 2, 3), 3);
    Tensor *sv = rb_snap(v);
    ROW_FAILS(L, "modular_orthogonalize(v)", "v [3] (not a matrix)",
              modular_orthogonalize(v) == NULL, "modular_orthogonalize", "2-D");
    rb_assert_same(v, sv, "v");
    END;
}
END_TEST

START_TEST(modular_compose_null)
{
    BEGIN;
    ROW_FAILS(L, "modular_compose(modular_linear(0, 3), modular_relu())",
              "the inner constructor fails: NULL keeps its message",
              modular_compose(modular_linear(0, 3), modular_relu()) == NULL, "modular_linear",
              NULL);
    END;
}
END_TEST

START_TEST(modular_power_negative)
{
    BEGIN;
    ROW_FAILS(L, "modular_power(modular_relu(), -1)", "n -1",
              modular_power(modular_relu(), -1) == NULL, "modular_power", "-1");
    END;
}
END_TEST

START_TEST(modular_optimizer_bad_options)
{
    BEGIN;
    ModularModule *m = modular_linear(3, 4);
    ck_assert_ptr_nonnull(m);
    ModularOptimOptions o = {.kind = MODULAR_DESCENT, .lr = -1.0f};
    ROW_FAILS(L, "modular_optimizer_new(m, &opts)", "opts.lr -1",
              modular_optimizer_new(m, &o) == NULL, "lr", "-1");
    modular_free(m);
    END;
}
END_TEST

START_TEST(modular_optimizer_null_options)
{
    BEGIN;
    ModularModule *m = modular_linear(3, 4);
    ck_assert_ptr_nonnull(m);
    ROW_FAILS(L, "modular_optimizer_new(m, NULL)", "opts NULL",
              modular_optimizer_new(m, NULL) == NULL, "modular_optimizer_new", "opts");
    modular_free(m);
    END;
}
END_TEST

START_TEST(modular_mul_zero)
{
    BEGIN;
    ROW_FAILS(L, "modular_mul(0)", "alpha 0", modular_mul(0.0f) == NULL, "modular_mul", "0");
    END;
}
END_TEST

void add_modular_rows(Suite *s)
{
    GRADED(s, modular_linear_zero_size, 1);
    GRADED(s, modular_forward_wrong_shape, 1);
    GRADED(s, modular_orthogonalize_vector, 1);
    GRADED(s, modular_compose_null, 1);
    GRADED(s, modular_power_negative, 1);
    GRADED(s, modular_optimizer_bad_options, 1);
    GRADED(s, modular_optimizer_null_options, 1);
    GRADED(s, modular_mul_zero, 1);
}
