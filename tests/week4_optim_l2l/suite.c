/*
 * suite.c - the L2L graded suite (week 4, bonus section): layer-to-layer execution
 * (optim/l2l/l2l.c) gives plain training's loss, gradients and updates with a working set
 * that does not grow with depth, and refuses what it cannot run.
 */
#include "l2l_test.h"

const char *const SUITE_NAME = "week4_optim_l2l";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    add_l2l_gradient_tests(s);
    add_l2l_training_tests(s);
    add_l2l_memory_tests(s);
    add_l2l_store_tests(s);
    add_l2l_error_contract_tests(s);
    return s;
}
