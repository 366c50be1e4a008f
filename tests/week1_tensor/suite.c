/*
 * suite.c - the week-1 graded suite: tensor/ (creation, accessors, views, elementwise
 * math, reductions, matmul, indexing, convolution helpers, printing). The runtime the
 * handout gives solved (tensor/core.c, alloc.c, threads.c, the tensor lifetime) is
 * tests/runtime_tensor.
 *
 * Each test file registers its tests with GRADED(s, name, points); points go from 1
 * (an edge case) to 5 (something every later week stands on).
 */
#include "common.h"

const char *const SUITE_NAME = "week1_tensor";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    add_core_tests(s);
    add_creation_tests(s);
    add_access_tests(s);
    add_view_tests(s);
    add_elementwise_tests(s);
    add_inplace_tests(s);
    add_reduce_tests(s);
    add_matmul_tests(s);
    add_index_tests(s);
    add_conv_tests(s);
    add_print_tests(s);
    add_error_tests(s);
    add_edge_tests(s);
    add_error_contract_tests(s);
    return s;
}
