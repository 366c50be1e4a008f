/*
 * suite.c - week 5 (modular): the graded suite. One add_*_tests() per test file.
 */
#include "leaks.h"
#include "week5.h"

const char *const SUITE_NAME = "week5_modular";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    graded_fixture(leak_check_begin, leak_check_end); /* no test may leak */
    add_orthogonalize_tests(s);
    add_atom_tests(s);
    add_compose_tests(s);
    add_train_tests(s);
    add_error_contract_tests(s);
    add_attention_tests(s);
    return s;
}
