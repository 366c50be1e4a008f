/*
 * hidden.c - week 1's hidden tests (instructor-only; see tests/hidden/README.md).
 * Expected values are worked out by hand in the comments.
 */
#include "harness.h"
#include "tensor.h"

const char *const SUITE_NAME = "week1_tensor_hidden";

static Tensor *must(Tensor *t, const char *what)
{
    ck_assert_msg(t != NULL, "%s returned NULL; error: \"%s\"", what, strata_last_error());
    return t;
}

/* [[1, 2, 3], [4, 5, 6]] @ [[7, 8], [9, 10], [11, 12]]:
 * row 0: 1*7 + 2*9 + 3*11 = 58, 1*8 + 2*10 + 3*12 = 64;
 * row 1: 4*7 + 5*9 + 6*11 = 139, 4*8 + 5*10 + 6*12 = 154. */
START_TEST(test_hidden_matmul_by_hand)
{
    Scope *s = scope_begin();
    const float a_data[] = {1, 2, 3, 4, 5, 6}, b_data[] = {7, 8, 9, 10, 11, 12};
    Tensor *a = must(tensor_from_data(a_data, (const int64_t[]){2, 3}, 2), "tensor_from_data");
    Tensor *b = must(tensor_from_data(b_data, (const int64_t[]){3, 2}, 2), "tensor_from_data");
    Tensor *c = must(tensor_matmul(a, b), "tensor_matmul(a [2, 3], b [3, 2])");
    ck_assert_msg(c->ndim == 2 && c->shape[0] == 2 && c->shape[1] == 2,
                  "tensor_matmul: [2, 3] @ [3, 2] must be [2, 2]");
    const float want[] = {58, 64, 139, 154};
    for (int i = 0; i < 4; i++)
        ck_assert_close(tensor_get(c, (const int64_t[]){i / 2, i % 2}), want[i], 1e-4);
    scope_end(s);
}
END_TEST

/* softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6, and each row of a [2, 3] input separately:
 * the second row [ln 3, ln 2, 0] gives [3, 2, 1] / 6. */
START_TEST(test_hidden_softmax_of_logs)
{
    Scope *s = scope_begin();
    const float l2 = logf(2.0f), l3 = logf(3.0f);
    const float data[] = {0, l2, l3, l3, l2, 0};
    Tensor *t = must(tensor_from_data(data, (const int64_t[]){2, 3}, 2), "tensor_from_data");
    Tensor *p = must(tensor_softmax(t, 1), "tensor_softmax(t [2, 3], dim 1)");
    const float want[] = {1, 2, 3, 3, 2, 1};
    for (int i = 0; i < 6; i++)
        ck_assert_close(tensor_get(p, (const int64_t[]){i / 3, i % 3}), want[i] / 6.0, 1e-6);
    scope_end(s);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create(SUITE_NAME);
    GRADED(s, test_hidden_matmul_by_hand, 2);
    GRADED(s, test_hidden_softmax_of_logs, 2);
    return s;
}
