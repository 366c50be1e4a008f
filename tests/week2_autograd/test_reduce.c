/*
 * test_reduce.c - reductions against finite differences (every dim list, keepdim or
 * not, non-contiguous inputs), max/min gradient routing and ties by hand.
 */
#include "common.h"

#define CASE(...) (&(OpCase){__VA_ARGS__})

/* A reduction over: all dims, dim 0, dim -1 with keepdim, dims {0, 2} of a 3-D input,
 * and a transposed input. */
static void check_reduction(OpKind op, bool flag)
{
    CHECK_GRADS(apply_op, CASE(.op = op, .flag = flag), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .flag = flag, .dims = {0}, .ndims = 1), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .flag = flag, .dims = {-1}, .ndims = 1, .keepdim = true),
                SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .flag = flag, .dims = {0, 2}, .ndims = 2),
                SIGNED(2, 3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .flag = flag, .dims = {0, 2}, .ndims = 2, .keepdim = true),
                SIGNED(2, 3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .flag = flag, .dims = {1}, .ndims = 1),
                transposed_leaf(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .flag = flag, .keepdim = true), strided_leaf(2, 3));
}

/* One test per function, so that each reduction done earns its points on its own. */
#define REDUCTION_TEST(name, op, flag)                                                 \
    START_TEST(name)                                                                   \
    {                                                                                  \
        BEGIN;                                                                         \
        check_reduction(op, flag);                                                     \
        END;                                                                           \
    }                                                                                  \
    END_TEST

REDUCTION_TEST(test_grad_sum, OP_SUM, false)
REDUCTION_TEST(test_grad_mean, OP_MEAN, false)
REDUCTION_TEST(test_grad_logsumexp, OP_LOGSUMEXP, false)

/* var, unbiased (flag) and not */
START_TEST(test_grad_var)
{
    BEGIN;
    check_reduction(OP_VAR, true);
    check_reduction(OP_VAR, false);
    END;
}
END_TEST

/* sum and mean by hand: x [2, 3], y = sum over dim 1 -> [2]; grad_output [1, 2]:
 *   grad x = [[1, 1, 1], [2, 2, 2]]; for mean the same / 3. */
START_TEST(test_sum_by_hand)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), true));
    OK0(var_backward_ex(OKV(var_sum(x, DIMS(1), 1, false)), MK(DATA(1, 2), 2), false));
    EXPECT_GRAD(x, 1e-6, 1, 1, 1, 2, 2, 2);
    END;
}
END_TEST

START_TEST(test_mean_by_hand)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), true));
    OK0(var_backward_ex(OKV(var_mean(x, DIMS(-1), 1, false)), MK(DATA(1, 2), 2), false));
    EXPECT_GRAD(x, 1e-6, 1 / 3.f, 1 / 3.f, 1 / 3.f, 2 / 3.f, 2 / 3.f, 2 / 3.f);
    END;
}
END_TEST

/* max or min along a dim: every dim, keepdim or not, on pairwise distinct values */
static void check_extremum_dim(OpKind op)
{
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = 0), DISTINCT(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = -1, .keepdim = true), DISTINCT(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = 1), DISTINCT(2, 3, 2));
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = 0, .keepdim = true), DISTINCT(5));
}

START_TEST(test_grad_max_dim)
{
    BEGIN;
    check_extremum_dim(OP_MAX);
    END;
}
END_TEST

START_TEST(test_grad_min_dim)
{
    BEGIN;
    check_extremum_dim(OP_MIN);
    END;
}
END_TEST

START_TEST(test_grad_max_all)
{
    BEGIN;
    CHECK_GRADS(apply_op, CASE(.op = OP_MAX_ALL), DISTINCT(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = OP_MAX_ALL), DISTINCT(2, 2, 3));
    END;
}
END_TEST

/* Routing by hand (each backward seeded with the output's shape of ones):
 *   max along dim 1 of [[3, 1, 3], [0, 2, 1]] picks the first 3 (index 0, as
 *   tensor_max does) and 2: grad = [[1, 0, 0], [0, 1, 0]];
 *   min along dim 0 of [[4, 1], [2, 5]] (keepdim) picks 2 and 1: grad = [[0, 1], [1, 0]];
 *   max_all of [1, 3, 3, 2] is 3, held twice: the two share, grad = [0, .5, .5, 0]. */
START_TEST(test_max_routing_by_hand)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(3, 1, 3, 0, 2, 1), 2, 3), true));
    OK0(var_backward_ex(OKV(var_max(x, 1, false)), MK(DATA(1, 1), 2), false));
    EXPECT_GRAD(x, 0, 1, 0, 0, 0, 1, 0);
    END;
}
END_TEST

START_TEST(test_min_routing_by_hand)
{
    BEGIN;
    Var *z = OKV(var_new(MK(DATA(4, 1, 2, 5), 2, 2), true));
    OK0(var_backward_ex(OKV(var_min(z, 0, true)), MK(DATA(1, 1), 1, 2), false));
    EXPECT_GRAD(z, 0, 0, 1, 1, 0);
    END;
}
END_TEST

START_TEST(test_max_all_ties_by_hand)
{
    BEGIN;
    Var *y = OKV(var_new(MK(DATA(1, 3, 3, 2), 4), true));
    Var *m = OKV(var_max_all(y));
    ck_assert_int_eq(var_data(m)->ndim, 0);
    OK0(var_backward(m));
    EXPECT_GRAD(y, 1e-6, 0, 0.5f, 0.5f, 0);
    /* NaN is the max and the NaNs share the gradient (PyTorch's max() backward:
     * torch.tensor([1, nan, 3, nan]).max() gives grad [0, .5, 0, .5]) */
    Var *z = OKV(var_new(MK(DATA(1, NAN, 3, NAN), 4), true));
    Var *mz = OKV(var_max_all(z));
    ck_assert(isnan(tensor_item(var_data(mz))));
    OK0(var_backward(mz));
    EXPECT_GRAD(z, 1e-6, 0, 0.5f, 0, 0.5f);
    END;
}
END_TEST

static void check_softmax(OpKind op)
{
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = 1), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = 0), SIGNED(3, 4));
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = -1), SIGNED(2, 2, 3));
    CHECK_GRADS(apply_op, CASE(.op = op, .dim = 1), transposed_leaf(3, 4));
}

START_TEST(test_grad_softmax)
{
    BEGIN;
    check_softmax(OP_SOFTMAX);
    END;
}
END_TEST

START_TEST(test_grad_log_softmax)
{
    BEGIN;
    check_softmax(OP_LOG_SOFTMAX);
    END;
}
END_TEST

/* softmax rows sum to 1, so a backward seeded with ones (the gradient of their sum)
 * gives 0 whatever x is. */
START_TEST(test_softmax_by_hand)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3), 3), true));
    OK0(var_backward_ex(OKV(var_softmax(x, 0)), MK(DATA(1, 1, 1), 3), false));
    EXPECT_GRAD(x, 1e-6, 0, 0, 0);
    END;
}
END_TEST

/* log_softmax seeded with ones: d/dx_j sum_i log_softmax(x)_i = 1 - n softmax(x)_j;
 * x = [ln 3, 0] (softmax [0.75, 0.25]): [1 - 1.5, 1 - 0.5] = [-0.5, 0.5]. */
START_TEST(test_log_softmax_by_hand)
{
    BEGIN;
    Var *y = OKV(var_new(MK(DATA(logf(3.0f), 0), 2), true));
    OK0(var_backward_ex(OKV(var_log_softmax(y, 0)), MK(DATA(1, 1), 2), false));
    EXPECT_GRAD(y, 1e-6, -0.5f, 0.5f);
    END;
}
END_TEST

void add_reduce_tests(Suite *s)
{
    GRADED(s, test_grad_sum, 3);
    GRADED(s, test_grad_mean, 2);
    GRADED(s, test_sum_by_hand, 1);
    GRADED(s, test_mean_by_hand, 1);
    GRADED(s, test_grad_var, 2);
    GRADED(s, test_grad_logsumexp, 1);
    GRADED(s, test_grad_max_dim, 1);
    GRADED(s, test_grad_min_dim, 1);
    GRADED(s, test_grad_max_all, 1);
    GRADED(s, test_max_routing_by_hand, 1);
    GRADED(s, test_min_routing_by_hand, 1);
    GRADED(s, test_max_all_ties_by_hand, 1);
    GRADED(s, test_grad_softmax, 2);
    GRADED(s, test_grad_log_softmax, 2);
    GRADED(s, test_softmax_by_hand, 1);
    GRADED(s, test_log_softmax_by_hand, 1);
}
