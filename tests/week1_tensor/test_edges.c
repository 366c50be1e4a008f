/*
 * test_edges.c - edge cases that cross the op families: NaN through activations,
 * stride-0 (expanded) operands fed to views, reductions and matmul, -inf in softmax,
 * index shapes smaller than the input, dilated convolution.
 */
#include "common.h"

/* PyTorch propagates NaN through clamp, relu and leaky_relu (NaN is not "below 0"). */
START_TEST(test_nan_through_activations)
{
    BEGIN;
    Tensor *x = MK(DATA(NAN, -1, 2), 3);
    EXPECT_VALUES(OK(tensor_clamp(x, 0, 1)), 0, NAN, 0, 1);
    EXPECT_VALUES(OK(tensor_relu(x)), 0, NAN, 0, 2);
    EXPECT_VALUES(OK(tensor_leaky_relu(x, 0.5f)), 0, NAN, -0.5, 2);
    EXPECT_VALUES(OK(tensor_sigmoid(x)), 1e-6, NAN, 0.26894142, 0.88079708);
    EXPECT_VALUES(OK(tensor_abs(x)), 0, NAN, 1, 2);
    Tensor *y = MK(DATA(NAN, -1, 2), 3);
    OK0(tensor_clamp_(y, 0, 1));
    EXPECT_VALUES(y, 0, NAN, 0, 1);
    END;
}
END_TEST

/* An expanded tensor (stride 0) cannot be flattened as a view; reshape copies. */
START_TEST(test_views_of_expanded)
{
    BEGIN;
    Tensor *col = MK(DATA(1, 2, 3), 3, 1);
    Tensor *e = OK(tensor_expand(col, SHAPE(3, 4), 2));
    EXPECT_NULL_ERR(tensor_view(e, SHAPE(12), 1), "tensor_view", NULL);
    Tensor *r = OK(tensor_reshape(e, SHAPE(12), 1));
    EXPECT_VALUES(r, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    ck_assert(!SHARES(r, col));
    /* splitting the expanded dim is a view (stride 0 stays 0) */
    Tensor *v = OK(tensor_view(e, SHAPE(3, 2, 2), 3));
    ck_assert(SHARES(v, col));
    ck_assert_close(AT(v, 2, 1, 1), 3, 0);
    /* transposing and slicing an expanded tensor */
    Tensor *t = OK(tensor_transpose(e, 0, 1));
    EXPECT_VALUES(OK(tensor_contiguous(OK(tensor_slice(t, 0, 1, 4, 2)))), 0, 1, 2, 3, 1, 2, 3);
    END;
}
END_TEST

/* Reductions and matmul over stride-0 operands. */
START_TEST(test_ops_on_expanded)
{
    BEGIN;
    Tensor *col = MK(DATA(1, 2, 3), 3, 1);
    Tensor *e = OK(tensor_expand(col, SHAPE(3, 4), 2));
    EXPECT_VALUES(OK(tensor_sum(e, DIMS(1), 1, false)), 0, 4, 8, 12);
    EXPECT_VALUES(OK(tensor_sum(e, DIMS(0), 1, false)), 0, 6, 6, 6, 6);
    EXPECT_VALUES(OK(tensor_var(e, DIMS(1), 1, true, false)), 0, 0, 0, 0);
    EXPECT_VALUES(OK(tensor_softmax(e, 1)), 1e-6, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25,
                  0.25, 0.25, 0.25, 0.25, 0.25);
    Tensor *idx = NULL;
    EXPECT_VALUES(OK(tensor_max(e, 1, false, &idx)), 0, 1, 2, 3);
    EXPECT_VALUES(idx, 0, 0, 0, 0);
    /* a batch made by expanding one matrix: [1, 2, 3] → [4, 2, 3], times [3, 2] */
    Tensor *m = MK(DATA(1, 2, 3, 4, 5, 6), 1, 2, 3);
    Tensor *b = OK(tensor_expand(m, SHAPE(4, 2, 3), 3));
    Tensor *w = MK(DATA(1, 0, 0, 1, 1, 1), 3, 2);
    Tensor *y = OK(tensor_matmul(b, w));
    EXPECT_SHAPE(y, 4, 2, 2);
    /* each batch: [[1 + 3, 2 + 3], [4 + 6, 5 + 6]] */
    for (int64_t i = 0; i < 4; i++) {
        ck_assert_close(AT(y, i, 0, 0), 4, 1e-6);
        ck_assert_close(AT(y, i, 0, 1), 5, 1e-6);
        ck_assert_close(AT(y, i, 1, 0), 10, 1e-6);
        ck_assert_close(AT(y, i, 1, 1), 11, 1e-6);
    }
    /* a dot product of stepped slices: [0, 2, 4] . [1, 3, 5] = 0 + 6 + 20 */
    Tensor *a = OK(tensor_arange(0, 6, 1));
    Tensor *d = OK(tensor_matmul(OK(tensor_slice(a, 0, 0, 6, 2)), OK(tensor_slice(a, 0, 1, 6, 2))));
    EXPECT_SCALAR(d);
    ck_assert_close(tensor_item(d), 26, 1e-6);
    END;
}
END_TEST

/* softmax with -inf entries: exp(-inf) = 0; a size-1 dim gives 1. */
START_TEST(test_softmax_edges)
{
    BEGIN;
    Tensor *x = MK(DATA(-INFINITY, 0, -INFINITY, 1), 4);
    EXPECT_VALUES(OK(tensor_softmax(x, 0)), 1e-6, 0, 0.26894142, 0, 0.73105858);
    Tensor *l = OK(tensor_log_softmax(x, 0));
    ck_assert(isinf(l->data[0]) && l->data[0] < 0);
    ck_assert_close(l->data[1], -1.31326169, 1e-5);
    EXPECT_VALUES(OK(tensor_softmax(MK(DATA(5, -7), 2, 1), 1)), 0, 1, 1);
    EXPECT_VALUES(OK(tensor_log_softmax(MK(DATA(5, -7), 2, 1), -1)), 0, 0, 0);
    /* a +inf entry makes the whole lane NaN, in both (torch.softmax and
     * torch.log_softmax of [inf, 1, 0] are [nan, nan, nan] in PyTorch 1.13: inf - inf);
     * 20 rows of 3 take the sixteen-rows-at-once path too */
    EXPECT_VALUES(OK(tensor_softmax(MK(DATA(INFINITY, 1, 0), 3), 0)), 0, NAN, NAN, NAN);
    EXPECT_VALUES(OK(tensor_log_softmax(MK(DATA(INFINITY, 1, 0), 3), 0)), 0, NAN, NAN, NAN);
    float rows[60];
    for (int i = 0; i < 60; i++)
        rows[i] = i == 31 ? INFINITY : (float)(i % 3);
    Tensor *sr = OK(tensor_softmax(OK(tensor_from_data(rows, SHAPE(20, 3), 2)), 1));
    for (int i = 0; i < 60; i++) /* row 10 (elements 30..32) holds the +inf */
        ck_assert_msg((i / 3 == 10) == isnan(sr->data[i]), "softmax row %d: %g", i / 3,
                      (double)sr->data[i]);
    /* logsumexp of [-inf, -inf] is -inf (log 0), not NaN */
    Tensor *ninf = MK(DATA(-INFINITY, -INFINITY), 2);
    float lse = tensor_item(OK(tensor_logsumexp(ninf, NULL, 0, false)));
    ck_assert_msg(isinf(lse) && lse < 0, "logsumexp([-inf, -inf]) = %g, expected -inf",
                  (double)lse);
    END;
}
END_TEST

/* torch.gather allows index.size(d) <= input.size(d) for d != dim. */
START_TEST(test_gather_smaller_index)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6, 7, 8, 9), 3, 3);
    Tensor *g = OK(tensor_gather(t, 1, MK(DATA(2, 0), 2, 1)));
    EXPECT_SHAPE(g, 2, 1);
    EXPECT_VALUES(g, 0, 3, 4); /* t[0][2], t[1][0] */
    Tensor *z = OK(tensor_zeros(SHAPE(3, 3), 2));
    Tensor *s = OK(tensor_scatter_add(z, 0, MK(DATA(2, 2), 1, 2), MK(DATA(5, 7), 1, 2)));
    EXPECT_VALUES(s, 0, 0, 0, 0, 0, 0, 0, 5, 7, 0);
    END;
}
END_TEST

/* torch.index_select rejects negative indices ("index out of range"). */
START_TEST(test_index_select_negative)
{
    BEGIN;
    Tensor *t = OK(tensor_zeros(SHAPE(3, 2), 2));
    EXPECT_NULL_ERR(tensor_index_select(t, 0, MK(DATA(-1), 1)), "tensor_index_select", NULL);
    EXPECT_NULL_ERR(tensor_gather(t, 0, MK(DATA(-1, 0), 1, 2)), "tensor_gather", NULL);
    END;
}
END_TEST

/* Reductions of 0-d tensors along dim 0 / -1, and keepdim on 0-d. */
START_TEST(test_reduce_0d)
{
    BEGIN;
    Tensor *s = OK(tensor_scalar(-2));
    Tensor *idx = NULL;
    Tensor *m = OK(tensor_max(s, 0, false, &idx));
    EXPECT_SCALAR(m);
    ck_assert_close(tensor_item(m), -2, 0);
    ck_assert_close(tensor_item(idx), 0, 0);
    EXPECT_SCALAR(OK(tensor_argmin(s, -1, true)));
    EXPECT_SCALAR(OK(tensor_mean(s, DIMS(-1), 1, true)));
    Tensor *sm = OK(tensor_softmax(s, 0));
    EXPECT_SCALAR(sm);
    ck_assert_close(tensor_item(sm), 1, 0);
    END;
}
END_TEST

/* Dilated convolution and a rectangular window against the naive sum. */
START_TEST(test_conv2d_dilated)
{
    BEGIN;
    Tensor *x = PATTERN(401, 1, 2, 7, 6);
    Tensor *wt = PATTERN(402, 3, 2, 2, 3);
    Window2d w = {.kernel_h = 2, .kernel_w = 3, .stride_h = 2, .stride_w = 1,
                  .padding_h = 1, .padding_w = 2, .dilation_h = 2, .dilation_w = 2};
    int64_t OH = (7 + 2 - 2 * 1 - 1) / 2 + 1, OW = (6 + 4 - 2 * 2 - 1) / 1 + 1;
    Tensor *y = OK(tensor_conv2d(x, wt, NULL, w));
    EXPECT_SHAPE(y, 1, 3, OH, OW);
    for (int64_t o = 0; o < 3; o++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                double acc = 0;
                for (int64_t c = 0; c < 2; c++)
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 3; j++) {
                            int64_t h = oh * 2 - 1 + 2 * i, ww = ow - 2 + 2 * j;
                            if (h >= 0 && h < 7 && ww >= 0 && ww < 6)
                                acc += (double)AT(wt, o, c, i, j) * AT(x, 0, c, h, ww);
                        }
                ck_assert_close(AT(y, 0, o, oh, ow), acc, 1e-5);
            }
    END;
}
END_TEST

/* More PyTorch rules: narrow's start may be negative; expand's -1 cannot make a new
   leading dim, 0 can (and a dim of size 1 can expand to 0); a 0-d tensor cannot be concatenated; stack needs at least one tensor. */
START_TEST(test_more_shape_rules)
{
    BEGIN;
    Tensor *base = MK(DATA(0, 1, 2, 3, 4, 5, 6, 7), 2, 4);
    EXPECT_VALUES(OK(tensor_narrow(base, 1, -2, 2)), 0, 2, 3, 6, 7);
    EXPECT_SHAPE(OK(tensor_slice(base, 1, 20, 30, 1)), 2, 0);
    EXPECT_NULL_ERR(tensor_expand(MK(DATA(1, 2), 2), SHAPE(-1, 2), 2), "tensor_expand", NULL);
    /* but a new leading dim, or a dim of size 1, may expand to 0: no elements */
    EXPECT_SHAPE(OK(tensor_expand(MK(DATA(1, 2), 2), SHAPE(0, 2), 2)), 0, 2);
    EXPECT_SHAPE(OK(tensor_expand(MK(DATA(1, 2), 1, 2), SHAPE(0, 2), 2)), 0, 2);
    EXPECT_NULL_ERR(tensor_cat((Tensor *const[]){OK(tensor_scalar(1)), OK(tensor_scalar(2))}, 2, 0),
                    "tensor_cat", NULL);
    EXPECT_NULL_ERR(tensor_stack((Tensor *const[]){base}, 0, 0), "tensor_stack", NULL);
    EXPECT_NULL_ERR(tensor_one_hot(MK(DATA(0.5), 1), 3), "tensor_one_hot", NULL);
    END;
}
END_TEST

void add_edge_tests(Suite *s)
{
    GRADED(s, test_nan_through_activations, 1);
    GRADED(s, test_views_of_expanded, 2);
    GRADED(s, test_ops_on_expanded, 2);
    GRADED(s, test_softmax_edges, 2);
    GRADED(s, test_gather_smaller_index, 1);
    GRADED(s, test_index_select_negative, 1);
    GRADED(s, test_reduce_0d, 1);
    GRADED(s, test_conv2d_dilated, 2);
    GRADED(s, test_more_shape_rules, 1);
}
