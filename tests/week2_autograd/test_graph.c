/*
 * test_graph.c - backward on small graphs whose gradients are worked out by hand;
 * accumulation, zero_grad, retain_graph, a freed graph, retain_grad, grad_output.
 */
#include "common.h"

/* y = sum(a * b + a), a = [1, 2], b = [3, 4]:
 * dy/da = b + 1 = [4, 5], dy/db = a = [1, 2]; y = (3 + 1) + (8 + 2) = 14. */
START_TEST(test_backward_by_hand)
{
    BEGIN;
    Var *a = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *b = OKV(var_new(MK(DATA(3, 4), 2), true));
    Var *y = OKV(var_sum(OKV(var_add(OKV(var_mul(a, b)), a)), NULL, 0, false));
    ck_assert_float_eq_tol(tensor_item(var_data(y)), 14.0f, 1e-6f);
    OK0(var_backward(y));
    EXPECT_GRAD(a, 1e-6, 4, 5);
    EXPECT_GRAD(b, 1e-6, 1, 2);
    /* Many leaves in one backward: y = sum_k x_k * x_k over 20 leaves x_k = k, so
     * dy/dx_k = 2k. END checks that the engine's bookkeeping for them is all freed. */
    Var *x[20];
    Var *sum = NULL;
    for (int k = 0; k < 20; k++) {
        x[k] = OKV(var_new(OK(tensor_scalar((float)k)), true));
        Var *sq = OKV(var_mul(x[k], x[k]));
        sum = sum ? OKV(var_add(sum, sq)) : sq;
    }
    ck_assert_float_eq_tol(tensor_item(var_data(sum)), 2470.0f, 1e-3f); /* 19*20*39/6 */
    OK0(var_backward(sum));
    for (int k = 0; k < 20; k++)
        ck_assert_msg(var_grad(x[k]) &&
                          fabsf(tensor_item(var_grad(x[k])) - 2.0f * (float)k) <= 1e-5f,
                      "y = sum_k x_k^2 over 20 leaves: dy/dx_%d should be %d", k, 2 * k);
    END;
}
END_TEST

/* A diamond: x = 3, s = x * x, z = s * x + s. dz/dx = 3x^2 + 2x = 27 + 6 = 33.
 * s is used twice: its gradient must be the sum of both paths before it flows to x. */
START_TEST(test_backward_diamond)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(3), 1), true));
    Var *s = OKV(var_mul(x, x));
    Var *z = OKV(var_add(OKV(var_mul(s, x)), s));
    OK0(var_backward(z));
    EXPECT_GRAD(x, 1e-4, 33);
    ck_assert_msg(var_grad(s) == NULL, "a non-leaf keeps no .grad unless retain_grad");
    END;
}
END_TEST

/* Broadcasting undone: a [2, 3] + b [3] (b is repeated along dim 0), y = sum((a + b) * a).
 * dy/db_j = sum_i a_ij (each copy of b_j is multiplied by its a_ij);
 * dy/da_ij = 2 a_ij + b_j.
 * a = [[1, 2, 3], [4, 5, 6]], b = [10, 20, 30]:
 *   grad b = [1 + 4, 2 + 5, 3 + 6] = [5, 7, 9]
 *   grad a = [[12, 24, 36], [18, 30, 42]] */
START_TEST(test_broadcast_undone_by_hand)
{
    BEGIN;
    Var *a = OKV(var_new(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), true));
    Var *b = OKV(var_new(MK(DATA(10, 20, 30), 3), true));
    Var *y = OKV(var_sum(OKV(var_mul(OKV(var_add(a, b)), a)), NULL, 0, false));
    OK0(var_backward(y));
    EXPECT_GRAD(b, 1e-5, 5, 7, 9);
    EXPECT_GRAD(a, 1e-5, 12, 24, 36, 18, 30, 42);
    END;
}
END_TEST

/* y = sum(x @ w): dy/dx = ones @ w^T (row sums of w), dy/dw = x^T @ ones (column sums
 * of x, repeated). x = [[1, 2], [3, 4]], w = [[5, 6], [7, 8]]:
 *   grad x = [[5 + 6, 7 + 8], [11, 15]] = [[11, 15], [11, 15]]
 *   grad w = [[1 + 3, 1 + 3], [2 + 4, 2 + 4]] = [[4, 4], [6, 6]] */
START_TEST(test_matmul_by_hand)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4), 2, 2), true));
    Var *w = OKV(var_new(MK(DATA(5, 6, 7, 8), 2, 2), true));
    OK0(var_backward(OKV(var_sum(OKV(var_matmul(x, w)), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-5, 11, 15, 11, 15);
    EXPECT_GRAD(w, 1e-5, 4, 4, 6, 6);
    END;
}
END_TEST

/* Gradients add up across backward calls until zeroed: y = sum(2 x) gives 2 per call. */
START_TEST(test_accumulation_and_zero_grad)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, -1, 5), 3), true));
    OK0(var_backward(OKV(var_sum(OKV(var_mul_scalar(x, 2)), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 2, 2, 2);
    OK0(var_backward(OKV(var_sum(OKV(var_mul_scalar(x, 2)), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 4, 4, 4);
    var_zero_grad(x, false); /* keep the tensor, fill with zeros */
    EXPECT_GRAD(x, 0, 0, 0, 0);
    OK0(var_backward(OKV(var_sum(OKV(var_mul_scalar(x, 3)), NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 3, 3, 3);
    var_zero_grad(x, true); /* drop it */
    ck_assert_ptr_null(var_grad(x));
    OK0(var_backward(OKV(var_sum(x, NULL, 0, false))));
    EXPECT_GRAD(x, 1e-6, 1, 1, 1);
    END;
}
END_TEST

/* Two leaves fed the same pass-through gradient (add) must not share one .grad tensor:
 * accumulating into one must not change the other. y = sum(a + b), twice, then a
 * third backward through a alone: grad a = 3, grad b = 2. */
START_TEST(test_accumulation_does_not_alias)
{
    BEGIN;
    Var *a = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *b = OKV(var_new(MK(DATA(3, 4), 2), true));
    OK0(var_backward(OKV(var_sum(OKV(var_add(a, b)), NULL, 0, false))));
    OK0(var_backward(OKV(var_sum(OKV(var_add(a, b)), NULL, 0, false))));
    OK0(var_backward(OKV(var_sum(a, NULL, 0, false))));
    EXPECT_GRAD(a, 1e-6, 3, 3);
    EXPECT_GRAD(b, 1e-6, 2, 2);
    END;
}
END_TEST

/* The same, with the shared gradient fresh and dense: mul_scalar's backward makes a new
 * contiguous tensor, which add's backward hands to both leaves. Only its reference
 * count says it is shared, so an engine that updates it in place (or keeps it as one
 * leaf's .grad) without looking at the count makes a and b share one tensor.
 * y = sum(2 * (a + b)): grad a = grad b = 2; then y2 = sum(a): grad a = 3, grad b = 2. */
START_TEST(test_fresh_gradient_does_not_alias)
{
    BEGIN;
    Var *a = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *b = OKV(var_new(MK(DATA(3, 4), 2), true));
    OK0(var_backward(OKV(var_sum(OKV(var_mul_scalar(OKV(var_add(a, b)), 2)), NULL, 0, false))));
    EXPECT_GRAD(a, 1e-6, 2, 2);
    EXPECT_GRAD(b, 1e-6, 2, 2);
    ck_assert_msg(var_grad(a) != var_grad(b) &&
                      var_grad(a)->storage != var_grad(b)->storage,
                  "a.grad and b.grad are one tensor (or share storage): a later "
                  "accumulation into one would change the other");
    OK0(var_backward(OKV(var_sum(a, NULL, 0, false))));
    EXPECT_GRAD(a, 1e-6, 3, 3);
    EXPECT_GRAD(b, 1e-6, 2, 2);
    END;
}
END_TEST

/* retain_graph keeps the saved tensors: y = sum(x^3) at x = [1, 2] has dy/dx = 3x^2 =
 * [3, 12]; two backward calls give [6, 24]. A third, after the second freed the graph,
 * is an error that says what happened. */
START_TEST(test_retain_graph_then_freed)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *y = OKV(var_sum(OKV(var_pow_scalar(x, 3)), NULL, 0, false));
    OK0(var_backward_ex(y, NULL, true));
    EXPECT_GRAD(x, 1e-4, 3, 12);
    OK0(var_backward_ex(y, NULL, false));
    EXPECT_GRAD(x, 1e-4, 6, 24);
    EXPECT_FAIL_ERR(var_backward(y), "second time", "retain_graph");
    EXPECT_GRAD(x, 1e-4, 6, 24); /* the failed call changed nothing */
    END;
}
END_TEST

/* A second backward through a freed graph fails even from a new root that reuses a
 * freed part: h = x * x is freed by the first backward, z = h + 1 reaches it. */
START_TEST(test_freed_subgraph_error)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(2), 1), true));
    Var *h = OKV(var_mul(x, x));
    OK0(var_backward(OKV(var_sum(h, NULL, 0, false))));
    EXPECT_GRAD(x, 1e-5, 4);
    Var *z = OKV(var_sum(OKV(var_add_scalar(h, 1)), NULL, 0, false));
    EXPECT_FAIL_ERR(var_backward(z), "second time", NULL);
    END;
}
END_TEST

/* retain_grad: h = 3 x, y = sum(h * h): dy/dh = 2 h, dy/dx = 3 * 2h = 18 x.
 * x = [1, 2]: h = [3, 6], grad h = [6, 12], grad x = [18, 36]. */
START_TEST(test_retain_grad)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2), 2), true));
    Var *h = OKV(var_mul_scalar(x, 3));
    var_retain_grad(h);
    Var *y = OKV(var_sum(OKV(var_mul(h, h)), NULL, 0, false));
    OK0(var_backward(y));
    EXPECT_GRAD(h, 1e-5, 6, 12);
    EXPECT_GRAD(x, 1e-5, 18, 36);
    END;
}
END_TEST

/* A non-scalar root needs grad_output: y = 2 x, grad_output g gives grad x = 2 g. */
START_TEST(test_grad_output)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), true));
    Var *y = OKV(var_mul_scalar(x, 2));
    Tensor *g = MK(DATA(1, 0, -1, 2, 0.5f, 3), 2, 3);
    OK0(var_backward_ex(y, g, false));
    EXPECT_GRAD(x, 1e-6, 2, 0, -2, 4, 1, 6);
    ck_assert_float_eq(AT(g, 1, 2), 3.0f); /* grad_output is not modified */
    END;
}
END_TEST

/* Backward from a leaf: d x / d x = 1. Inputs that do not require grad get nothing. */
START_TEST(test_leaf_root_and_constants)
{
    BEGIN;
    Var *x = OKV(var_new(MK(DATA(5), 1), true));
    OK0(var_backward(x));
    EXPECT_GRAD(x, 0, 1);
    Var *c = OKV(var_new(MK(DATA(2, 3), 2), false));
    Var *w = OKV(var_new(MK(DATA(4, 5), 2), true));
    Var *y = OKV(var_sum(OKV(var_mul(c, w)), NULL, 0, false));
    ck_assert(var_data(y) != NULL && y->requires_grad && !var_is_leaf(y));
    OK0(var_backward(y));
    EXPECT_GRAD(w, 1e-6, 2, 3);
    ck_assert_ptr_null(var_grad(c));
    END;
}
END_TEST

void add_graph_tests(Suite *s)
{
    GRADED(s, test_backward_by_hand, 5);
    GRADED(s, test_backward_diamond, 4);
    GRADED(s, test_broadcast_undone_by_hand, 4);
    GRADED(s, test_matmul_by_hand, 3);
    GRADED(s, test_accumulation_and_zero_grad, 4);
    GRADED(s, test_accumulation_does_not_alias, 2);
    GRADED(s, test_fresh_gradient_does_not_alias, 2);
    GRADED(s, test_retain_graph_then_freed, 4);
    GRADED(s, test_freed_subgraph_error, 2);
    GRADED(s, test_retain_grad, 2);
    GRADED(s, test_grad_output, 3);
    GRADED(s, test_leaf_root_and_constants, 2);
}
