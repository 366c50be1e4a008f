/*
 * suite.c - the week-4 graded suite: optimizers, schedulers, clipping, optimizer state,
 * IDX files, datasets, the DataLoader, text corpora and the training loop.
 */
#include "leaks.h"
#include "helpers.h"

const char *const SUITE_NAME = "week4_optim";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    graded_fixture(leak_check_begin, leak_check_end); /* no test may leak */
    add_optimizer_tests(s);
    add_scheduler_tests(s);
    add_clip_state_tests(s);
    add_data_tests(s);
    add_data_extra_tests(s);
    add_text_tests(s);
    add_train_tests(s);
    add_error_contract_tests(s);
    return s;
}
