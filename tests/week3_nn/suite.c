/*
 * suite.c - the week-3 graded suite: nn/ (the Module core, hooks, state dicts and
 * safetensors files, repr, init, the layers, norms, losses, containers, attention).
 *
 * Points go from 1 (an edge case) to 4 (something weeks 4 and 5 stand on).
 */
#include "leaks.h"
#include "nn_test.h"

const char *const SUITE_NAME = "week3_nn";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    graded_fixture(leak_check_begin, leak_check_end); /* no test may leak */
    add_module_tests(s);
    add_hook_tests(s);
    add_state_tests(s);
    add_repr_tests(s);
    add_init_tests(s);
    add_layer_tests(s);
    add_norm_tests(s);
    add_loss_tests(s);
    add_container_tests(s);
    add_attention_tests(s);
    add_error_contract_tests(s);
    return s;
}
