/*
 * test_gradcheck.c - var_gradcheck itself: it accepts a correct gradient, rejects a wrong
 * one with a message naming the element, and leaves the inputs (values and .grad) as
 * they were.
 */
#include "common.h"

static Var *sum_of_squares(Var *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return var_sum(var_mul(in[0], in[0]), NULL, 0, false);
}

/* x * detach(x): backward sees x as a constant on one side, so its gradient is x, while
 * the function's true derivative is 2x. gradcheck must notice. */
static Var *wrong_gradient(Var *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return var_mul(in[0], var_detach(in[0]));
}

START_TEST(test_gradcheck_accepts_and_restores)
{
    BEGIN;
    Var *x = transposed_leaf(3, 4);
    OK0(var_backward(OKV(var_sum(x, NULL, 0, false)))); /* a .grad of ones to keep */
    float before[12];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            before[i * 4 + j] = AT(var_data(x), i, j);
    strata_manual_seed(77);
    uint64_t rng = strata_rng_get_state();
    bool ok = var_gradcheck(sum_of_squares, &x, 1, NULL, GRADCHECK_EPS, GRADCHECK_ATOL,
                            GRADCHECK_RTOL);
    ck_assert_msg(ok, "var_gradcheck rejected a correct gradient: \"%s\"", strata_last_error());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_msg(AT(var_data(x), i, j) == before[i * 4 + j],
                          "var_gradcheck changed input element [%d, %d]", i, j);
    EXPECT_GRAD(x, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    ck_assert_msg(strata_rng_get_state() == rng, "var_gradcheck moved the caller's RNG");
    END;
}
END_TEST

START_TEST(test_gradcheck_rejects_wrong_gradient)
{
    BEGIN;
    Var *x = SIGNED(2, 3);
    strata_clear_error();
    bool ok = var_gradcheck(wrong_gradient, &x, 1, NULL, GRADCHECK_EPS, GRADCHECK_ATOL,
                            GRADCHECK_RTOL);
    ck_assert_msg(!ok, "var_gradcheck accepted a gradient that is off by a factor of 2");
    check_message_("var_gradcheck(wrong_gradient)", "input 0", "analytic");
    ck_assert_ptr_null(var_grad(x));
    END;
}
END_TEST

void add_gradcheck_tests(Suite *s)
{
    GRADED(s, test_gradcheck_accepts_and_restores, 2);
    GRADED(s, test_gradcheck_rejects_wrong_gradient, 2);
}
