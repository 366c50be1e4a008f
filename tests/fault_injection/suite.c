/*
 * suite.c - the fault-injection driver (docs/bad-input.md, "Fault injection"): every
 * allocation and I/O point of representative calls made to fail in turn. Not part of a
 * week's grade; make test, make memcheck and make sanitize run it.
 */
#include "faults.h"

const char *const SUITE_NAME = "fault_injection";

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    add_alloc_tests(s);
    add_io_tests(s);
    add_grader_tests(s);
    return s;
}
