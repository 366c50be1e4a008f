/*
 * test_tensor.c - bad input to tensor/ (week 1): shapes, dims, indices, sizes, NULLs.
 */
#include "rb.h"

#define L "tensor"

START_TEST(matmul_shapes_do_not_align)
{
    BEGIN;
    Tensor *a = OK(tensor_ones(SHAPE(2, 3), 2)), *b = OK(tensor_ones(SHAPE(4, 5), 2));
    Tensor *sa = rb_snap(a), *sb = rb_snap(b);
    ROW_FAILS(L, "tensor_matmul(a, b)", "a [2, 3], b [4, 5]", tensor_matmul(a, b) == NULL,
              "tensor_matmul", "do not align");
    rb_assert_same(a, sa, "a");
    rb_assert_same(b, sb, "b");
    END;
}
END_TEST

START_TEST(add_shapes_do_not_broadcast)
{
    BEGIN;
    Tensor *a = OK(tensor_ones(SHAPE(2, 3), 2)), *b = OK(tensor_ones(SHAPE(4), 1));
    Tensor *sa = rb_snap(a), *sb = rb_snap(b);
    ROW_FAILS(L, "tensor_add(a, b)", "a [2, 3], b [4]", tensor_add(a, b) == NULL,
              "tensor_add", "broadcast");
    rb_assert_same(a, sa, "a");
    rb_assert_same(b, sb, "b");
    END;
}
END_TEST

START_TEST(inplace_add_wrong_shape)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), *o = OK(tensor_ones(SHAPE(2, 2), 2));
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_add_(t, other)", "t [2, 3], other [2, 2]", tensor_add_(t, o) == -1,
              "tensor_add_", "[2, 2]");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(inplace_broadcast_would_grow_target)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3), 3), *o = OK(tensor_ones(SHAPE(2, 3), 2));
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_mul_(t, other)", "t [3], other [2, 3] (result would be [2, 3])",
              tensor_mul_(t, o) == -1, "tensor_mul_", "[2, 3]");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(copy_wrong_shape)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4), 2, 2), *src = OK(tensor_ones(SHAPE(3), 1));
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_copy_(t, src)", "t [2, 2], src [3]", tensor_copy_(t, src) == -1,
              "tensor_copy_", "[3]");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(reshape_wrong_numel)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_reshape(t, [4, 2])", "t [2, 3] (6 elements)",
              tensor_reshape(t, SHAPE(4, 2), 2) == NULL, "tensor_reshape", "6");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(view_of_non_contiguous)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *tt = OK(tensor_transpose(t, 0, 1));
    Tensor *st = rb_snap(tt);
    ROW_FAILS(L, "tensor_view(t, [6])", "t a transposed [3, 2] (not contiguous)",
              tensor_view(tt, SHAPE(6), 1) == NULL, "tensor_view", NULL);
    rb_assert_same(tt, st, "t");
    END;
}
END_TEST

START_TEST(transpose_dim_out_of_range)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_transpose(t, 0, 2)", "t [2, 3]", tensor_transpose(t, 0, 2) == NULL,
              "tensor_transpose", "2");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(sum_dim_out_of_range)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_sum(t, {5}, 1, false)", "t [2, 3]",
              tensor_sum(t, (const int[]){5}, 1, false) == NULL, "tensor_sum", "5");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(permute_repeated_dim)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_permute(t, {0, 0})", "t [2, 3]",
              tensor_permute(t, (const int[]){0, 0}) == NULL, "tensor_permute", NULL);
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(select_index_out_of_range)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_select(t, 1, 3)", "t [2, 3]", tensor_select(t, 1, 3) == NULL,
              "tensor_select", "3");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(narrow_past_the_end)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_narrow(t, 1, 2, 2)", "t [2, 3] (columns 2..3 of 0..2)",
              tensor_narrow(t, 1, 2, 2) == NULL, "tensor_narrow", NULL);
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(get_index_out_of_range)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_get(t, {2, 0})", "t [2, 3]", isnan(tensor_get(t, SHAPE(2, 0))),
              "tensor_get", "2");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(set_index_out_of_range)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_set(t, {0, -1}, 9)", "t [2, 3]", tensor_set(t, SHAPE(0, -1), 9) == -1,
              "tensor_set", "-1");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(index_select_out_of_range)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), *idx = MK(DATA(0, 7), 2);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_index_select(t, 1, index)", "t [2, 3], index {0, 7}",
              tensor_index_select(t, 1, idx) == NULL, "tensor_index_select", "7");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(gather_index_out_of_range)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), *idx = MK(DATA(0, 3), 2, 1);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_gather(t, 1, index)", "t [2, 3], index [[0], [3]]",
              tensor_gather(t, 1, idx) == NULL, "tensor_gather", "3");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(one_hot_class_out_of_range)
{
    BEGIN;
    Tensor *idx = MK(DATA(1, 4), 2);
    Tensor *st = rb_snap(idx);
    ROW_FAILS(L, "tensor_one_hot(index, 3)", "index {1, 4}", tensor_one_hot(idx, 3) == NULL,
              "tensor_one_hot", "4");
    rb_assert_same(idx, st, "index");
    END;
}
END_TEST

START_TEST(cat_shapes_differ)
{
    BEGIN;
    Tensor *a = OK(tensor_ones(SHAPE(2, 3), 2)), *b = OK(tensor_ones(SHAPE(2, 4), 2));
    ROW_FAILS(L, "tensor_cat({a, b}, 2, 0)", "a [2, 3], b [2, 4]",
              tensor_cat((Tensor *const[]){a, b}, 2, 0) == NULL, "tensor_cat", NULL);
    END;
}
END_TEST

START_TEST(size_overflows)
{
    BEGIN;
    int64_t before = (int64_t)strata_mem_stats().bytes_live;
    ROW_FAILS(L, "tensor_zeros([2^40, 2^40], 2)", "2^80 elements",
              tensor_zeros(SHAPE(INT64_C(1) << 40, INT64_C(1) << 40), 2) == NULL,
              "tensor_zeros", "too many elements");
    ck_assert_int_eq((int64_t)strata_mem_stats().bytes_live, before);
    END;
}
END_TEST

START_TEST(negative_size)
{
    BEGIN;
    ROW_FAILS(L, "tensor_empty([2, -3], 2)", "a negative size",
              tensor_empty(SHAPE(2, -3), 2) == NULL, "tensor_empty", "-3");
    END;
}
END_TEST

START_TEST(too_many_dims)
{
    BEGIN;
    ROW_FAILS(L, "tensor_ones(shape, 9)", "9 dims (TENSOR_MAX_DIMS is 8)",
              tensor_ones(SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), 9) == NULL, "tensor_ones", "9");
    END;
}
END_TEST

START_TEST(item_of_non_scalar)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2), 2);
    ROW_FAILS(L, "tensor_item(t)", "t [2]", isnan(tensor_item(t)), "tensor_item", "[2]");
    END;
}
END_TEST

START_TEST(arange_zero_step)
{
    BEGIN;
    ROW_FAILS(L, "tensor_arange(0, 10, 0)", "step 0", tensor_arange(0, 10, 0) == NULL,
              "tensor_arange", "step");
    END;
}
END_TEST

START_TEST(conv2d_channels_mismatch)
{
    BEGIN;
    Tensor *x = OK(tensor_ones(SHAPE(1, 3, 5, 5), 4)), *w = OK(tensor_ones(SHAPE(2, 4, 3, 3), 4));
    Tensor *sx = rb_snap(x), *sw = rb_snap(w);
    ROW_FAILS(L, "tensor_conv2d(x, w, NULL, window2d(3, 1, 0))",
              "x [1, 3, 5, 5], w [2, 4, 3, 3]",
              tensor_conv2d(x, w, NULL, window2d(3, 1, 0)) == NULL, "tensor_conv2d", NULL);
    rb_assert_same(x, sx, "x");
    rb_assert_same(w, sw, "w");
    END;
}
END_TEST

START_TEST(conv2d_backward_grad_shape)
{
    BEGIN;
    Tensor *x = OK(tensor_ones(SHAPE(2, 3, 5, 5), 4)), *w = OK(tensor_ones(SHAPE(4, 3, 3, 3), 4));
    Tensor *g = OK(tensor_ones(SHAPE(2, 4, 4, 4), 4)); /* the output is [2, 4, 5, 5] */
    Tensor *sx = rb_snap(x), *sw = rb_snap(w), *sg = rb_snap(g);
    Tensor *gx = x, *gw = w, *gb = w; /* stale values: a failure must reset them */
    ROW_FAILS(L, "tensor_conv2d_backward(g, x, w, window2d(3, 1, 1), &gx, &gw, &gb)",
              "g [2, 4, 4, 4] for an output [2, 4, 5, 5]",
              tensor_conv2d_backward(g, x, w, window2d(3, 1, 1), &gx, &gw, &gb) < 0 &&
                  !gx && !gw && !gb,
              "tensor_conv2d_backward", "[2, 4, 5, 5]");
    rb_assert_same(x, sx, "x");
    rb_assert_same(w, sw, "w");
    rb_assert_same(g, sg, "g");
    END;
}
END_TEST

START_TEST(parallel_for_null_body)
{
    BEGIN;
    ROW_FAILS(L, "strata_parallel_for(10, 1, NULL, NULL)", "fn NULL",
              (strata_parallel_for(10, 1, NULL, NULL), strata_last_error()[0] != '\0'),
              "strata_parallel_for", "fn");
    END;
}
END_TEST

START_TEST(expand_incompatible)
{
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3), 3);
    ROW_FAILS(L, "tensor_expand(t, [2, 4], 2)", "t [3]",
              tensor_expand(t, SHAPE(2, 4), 2) == NULL, "tensor_expand", NULL);
    END;
}
END_TEST

START_TEST(null_argument)
{
    BEGIN;
    Tensor *b = MK(DATA(1, 2), 2);
    ROW_FAILS(L, "tensor_add(NULL, b)", "a NULL", tensor_add(NULL, b) == NULL, "tensor_add",
              "NULL");
    END;
}
END_TEST

START_TEST(null_propagation_keeps_root_cause)
{
    BEGIN;
    Tensor *a = OK(tensor_ones(SHAPE(2, 3), 2)), *b = OK(tensor_ones(SHAPE(4, 5), 2));
    ROW_FAILS(L, "tensor_sum(tensor_relu(tensor_matmul(a, b)), NULL, 0, false)",
              "a [2, 3], b [4, 5]: the inner call fails",
              tensor_sum(tensor_relu(tensor_matmul(a, b)), NULL, 0, false) == NULL,
              "tensor_matmul", "do not align");
    END;
}
END_TEST

START_TEST(expand_count_overflows)
{
    /* Found by this table: the view was made and tensor_numel overflowed int64_t. */
    BEGIN;
    Tensor *t = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *st = rb_snap(t);
    ROW_FAILS(L, "tensor_expand(t, [2^62, 2, 3], 3)", "t [2, 3]; 2^62 * 6 elements overflow",
              tensor_expand(t, SHAPE(INT64_C(1) << 62, 2, 3), 3) == NULL, "tensor_expand",
              "too many elements");
    rb_assert_same(t, st, "t");
    END;
}
END_TEST

START_TEST(randperm_null_array)
{
    /* Found by this table: a NULL array was written to (segfault). */
    BEGIN;
    uint64_t rng = strata_rng_get_state();
    ROW_FAILS(L, "strata_randperm(NULL, 5)", "perm NULL",
              (strata_randperm(NULL, 5), strata_last_error()[0] != '\0'), "strata_randperm",
              "NULL");
    ck_assert_uint_eq(strata_rng_get_state(), rng);
    END;
}
END_TEST

void add_tensor_rows(Suite *s)
{
    GRADED(s, matmul_shapes_do_not_align, 1);
    GRADED(s, add_shapes_do_not_broadcast, 1);
    GRADED(s, inplace_add_wrong_shape, 1);
    GRADED(s, inplace_broadcast_would_grow_target, 1);
    GRADED(s, copy_wrong_shape, 1);
    GRADED(s, reshape_wrong_numel, 1);
    GRADED(s, view_of_non_contiguous, 1);
    GRADED(s, transpose_dim_out_of_range, 1);
    GRADED(s, sum_dim_out_of_range, 1);
    GRADED(s, permute_repeated_dim, 1);
    GRADED(s, select_index_out_of_range, 1);
    GRADED(s, narrow_past_the_end, 1);
    GRADED(s, get_index_out_of_range, 1);
    GRADED(s, set_index_out_of_range, 1);
    GRADED(s, index_select_out_of_range, 1);
    GRADED(s, gather_index_out_of_range, 1);
    GRADED(s, one_hot_class_out_of_range, 1);
    GRADED(s, cat_shapes_differ, 1);
    GRADED(s, size_overflows, 1);
    GRADED(s, negative_size, 1);
    GRADED(s, too_many_dims, 1);
    GRADED(s, item_of_non_scalar, 1);
    GRADED(s, arange_zero_step, 1);
    GRADED(s, conv2d_channels_mismatch, 1);
    GRADED(s, conv2d_backward_grad_shape, 1);
    GRADED(s, parallel_for_null_body, 1);
    GRADED(s, expand_incompatible, 1);
    GRADED(s, null_argument, 1);
    GRADED(s, null_propagation_keeps_root_cause, 1);
    GRADED(s, expand_count_overflows, 1);
    GRADED(s, randperm_null_array, 1);
}
