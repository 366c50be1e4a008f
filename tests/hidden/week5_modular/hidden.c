/*
 * hidden.c - week 5's hidden tests (instructor-only; see tests/hidden/README.md).
 * Expected values are worked out by hand in the comments.
 */
#include "harness.h"
#include "modular.h"

const char *const SUITE_NAME = "week5_modular_hidden";

/* Linear(4, 3) o ReLU o Linear(3, 2): masses add (1 + 0 + 1 = 2), sensitivities
 * multiply (1 * 1 * 1 = 1), two atoms (the Linears), one bond (the ReLU). */
START_TEST(test_hidden_composition_attributes)
{
    ModularModule *m = modular_compose(modular_linear(4, 3),
                                       modular_compose(modular_relu(), modular_linear(3, 2)));
    ck_assert_msg(m != NULL, "modular_compose returned NULL; error: \"%s\"", strata_last_error());
    ck_assert_close(modular_mass(m), 2.0, 1e-6);
    ck_assert_close(modular_sensitivity(m), 1.0, 1e-6);
    ck_assert_int_eq(modular_num_atoms(m), 2);
    ck_assert_int_eq(modular_num_bonds(m), 1);
    modular_free(m);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    GRADED(s, test_hidden_composition_attributes, 2);
    return s;
}
