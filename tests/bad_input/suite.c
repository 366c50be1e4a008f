/*
 * suite.c - the bad-input suite: one test per row of docs/bad-input.md, across
 * all five layers, plus atomic saving (a child killed mid-save). Not graded per week;
 * `make test` and `make memcheck` run it. RB_DUMP=file regenerates the table's messages
 * (tests/bad_input/table.sh).
 */
#include "rb.h"

const char *const SUITE_NAME = "bad_input";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    add_tensor_rows(s);
    add_autograd_rows(s);
    add_nn_rows(s);
    add_file_rows(s);
    add_optim_rows(s);
    add_data_rows(s);
    add_modular_rows(s);
    add_trainer_rows(s);
    add_atomic_tests(s);
    return s;
}
