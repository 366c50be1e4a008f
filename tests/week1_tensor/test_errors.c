/*
 * test_errors.c - the error and memory conventions across the whole API:
 * a nested expression reports its root cause; a NULL input fails cleanly (no crash)
 * and names the function; a failing call allocates nothing; and with no scope open,
 * every op releases its own temporaries (releasing the result frees everything).
 */
#include "common.h"

START_TEST(test_root_cause_kept)
{
    BEGIN;
    Tensor *a = OK(tensor_ones(SHAPE(2, 3), 2));
    Tensor *b = OK(tensor_ones(SHAPE(4, 5), 2));
    Tensor *x = OK(tensor_ones(SHAPE(2, 5), 2));
    strata_clear_error();
    /* relu(add(matmul(a, b), x)): the matmul fails, everything after gets NULL */
    Tensor *r = tensor_relu(tensor_add(tensor_matmul(a, b), x));
    ck_assert_ptr_null(r);
    const char *m = strata_last_error();
    ck_assert_msg(strstr(m, "tensor_matmul") && strstr(m, "do not align"),
                  "the root cause was lost: \"%s\"", m);
    /* the same through reductions, views and in-place ops */
    strata_clear_error();
    Tensor *s = tensor_softmax(tensor_sum(tensor_transpose(a, 0, 5), NULL, 0, false), 0);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(strata_last_error(), "tensor_transpose"), "root cause lost: \"%s\"",
                  strata_last_error());
    strata_clear_error();
    ck_assert_int_lt(tensor_add_(x, tensor_view(a, SHAPE(7), 1)), 0);
    ck_assert_msg(strstr(strata_last_error(), "tensor_view"), "root cause lost: \"%s\"",
                  strata_last_error());
    END;
}
END_TEST

/* With an empty slot, a NULL argument is reported by the function that got it. */
START_TEST(test_null_input_named)
{
    BEGIN;
    Tensor *a = OK(tensor_ones(SHAPE(2, 2), 2));
    EXPECT_NULL_ERR(tensor_exp(NULL), "tensor_exp", NULL);
    EXPECT_NULL_ERR(tensor_add(a, NULL), "tensor_add", NULL);
    EXPECT_NULL_ERR(tensor_matmul(NULL, a), "tensor_matmul", NULL);
    EXPECT_NULL_ERR(tensor_sum(NULL, NULL, 0, false), "tensor_sum", NULL);
    EXPECT_NULL_ERR(tensor_transpose(NULL, 0, 1), "tensor_transpose", NULL);
    EXPECT_NULL_ERR(tensor_softmax(NULL, 0), "tensor_softmax", NULL);
    EXPECT_NULL_ERR(tensor_where(a, NULL, a), "tensor_where", NULL);
    EXPECT_NULL_ERR(tensor_conv2d(NULL, a, NULL, window2d(1, 1, 0)), "tensor_conv2d", NULL);
    END;
}
END_TEST

/* Every function given NULL returns its failure value without crashing. */
START_TEST(test_null_sweep)
{
    BEGIN;
    Tensor *a = OK(tensor_ones(SHAPE(2, 2), 2));
    Tensor *idx = MK(DATA(0, 1), 2);
    Tensor *i2 = MK(DATA(0, 1, 1, 0), 2, 2);
    Window2d w = window2d(1, 1, 0);
    const int64_t shp[4] = {1, 1, 2, 2};
    const void *ptrs[] = {
        tensor_clone(NULL), tensor_ones_like(NULL), tensor_full_like(NULL, 1),
        tensor_view(NULL, SHAPE(4), 1), tensor_reshape(NULL, SHAPE(4), 1),
        tensor_contiguous(NULL), tensor_permute(NULL, DIMS(0, 1)), tensor_squeeze(NULL, 0),
        tensor_squeeze_all(NULL), tensor_unsqueeze(NULL, 0), tensor_narrow(NULL, 0, 0, 1),
        tensor_slice(NULL, 0, 0, 1, 1), tensor_select(NULL, 0, 0),
        tensor_expand(NULL, SHAPE(2, 2), 2), tensor_flatten(NULL, 0, -1),
        tensor_sub(NULL, a), tensor_mul(a, NULL), tensor_div(NULL, NULL), tensor_pow(NULL, a),
        tensor_maximum(NULL, a), tensor_minimum(a, NULL), tensor_eq(NULL, a), tensor_ne(a, NULL),
        tensor_lt(NULL, a), tensor_le(NULL, a), tensor_gt(NULL, a), tensor_ge(NULL, a),
        tensor_where(NULL, a, a), tensor_add_scalar(NULL, 1), tensor_mul_scalar(NULL, 1),
        tensor_pow_scalar(NULL, 2), tensor_neg(NULL), tensor_abs(NULL), tensor_sign(NULL),
        tensor_log(NULL), tensor_sqrt(NULL), tensor_rsqrt(NULL), tensor_sin(NULL),
        tensor_cos(NULL), tensor_tanh(NULL), tensor_sigmoid(NULL), tensor_relu(NULL),
        tensor_gelu(NULL), tensor_leaky_relu(NULL, 0.1f), tensor_clamp(NULL, 0, 1),
        tensor_mean(NULL, NULL, 0, false), tensor_var(NULL, NULL, 0, true, false),
        tensor_std(NULL, NULL, 0, true, false), tensor_logsumexp(NULL, NULL, 0, false),
        tensor_max(NULL, 0, false, NULL), tensor_min(NULL, 0, false, NULL),
        tensor_max_all(NULL), tensor_min_all(NULL), tensor_argmax(NULL, 0, false),
        tensor_argmin(NULL, 0, false), tensor_log_softmax(NULL, 0),
        tensor_matmul_naive(NULL, a), tensor_index_select(NULL, 0, idx),
        tensor_index_select(a, 0, NULL), tensor_gather(NULL, 0, i2), tensor_gather(a, 0, NULL),
        tensor_scatter_add(NULL, 0, i2, a), tensor_scatter_add(a, 0, i2, NULL),
        tensor_one_hot(NULL, 3), tensor_masked_fill(NULL, a, 0), tensor_masked_fill(a, NULL, 0),
        tensor_im2col(NULL, w), tensor_col2im(NULL, 1, 2, 2, w),
        tensor_max_pool2d(NULL, w, NULL), tensor_max_pool2d_backward(NULL, a, shp),
        tensor_avg_pool2d(NULL, w), tensor_avg_pool2d_backward(NULL, shp, w),
        tensor_cat(NULL, 2, 0), tensor_stack(NULL, 2, 0),
    };
    for (size_t k = 0; k < sizeof ptrs / sizeof ptrs[0]; k++) {
        ck_assert_msg(ptrs[k] == NULL, "call %zu of the NULL sweep did not return NULL", k);
    }
    ck_assert_msg(strata_last_error()[0] != '\0', "no error was recorded");
    ck_assert_int_lt(tensor_mul_scalar_(NULL, 2), 0);
    ck_assert_int_lt(tensor_copy_(a, NULL), 0);
    ck_assert_int_lt(tensor_zero_(NULL), 0);
    ck_assert_int_lt(tensor_to_array(NULL, (float[4]){0}), 0);
    ck_assert_int_lt(tensor_set(NULL, SHAPE(0), 1), 0);
    ck_assert(isnan(tensor_item(NULL)));
    ck_assert(isnan(tensor_get(NULL, SHAPE(0))));
    ck_assert_int_eq(tensor_size(NULL, 0), -1);
    ck_assert(!tensor_allclose(NULL, a, 1, 1));
    ck_assert(!tensor_same_shape(a, NULL));
    EXPECT_VALUES(a, 0, 1, 1, 1, 1);
    END;
}
END_TEST

/* A failing call leaves no allocation behind (outside any scope, so nothing hides it). */
START_TEST(test_failure_allocates_nothing)
{
    BEGIN;
    scope_end(scope_);
    Tensor *a = OK(tensor_ones(SHAPE(2, 3), 2));
    Tensor *b = OK(tensor_ones(SHAPE(4, 5), 2));
    size_t live = strata_mem_stats().bytes_live;
    ck_assert_ptr_null(tensor_matmul(a, b));
    ck_assert_ptr_null(tensor_add(a, b));
    ck_assert_ptr_null(tensor_sum(a, DIMS(3), 1, false));
    ck_assert_ptr_null(tensor_view(a, SHAPE(5), 1));
    ck_assert_ptr_null(tensor_cat((Tensor *const[]){a, b}, 2, 0));
    ck_assert_ptr_null(tensor_conv2d(a, b, NULL, window2d(1, 1, 0)));
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live);
    tensor_release(a);
    tensor_release(b);
    scope_ = scope_begin();
    END;
}
END_TEST

/*
 * With no scope open, each op must release its own temporaries: releasing the result
 * (and the indices output) brings bytes_live back to where it was.
 */
START_TEST(test_no_scope_no_leak)
{
    BEGIN;
    scope_end(scope_);
    Tensor *x = PATTERN(301, 4, 6);
    Tensor *w = PATTERN(302, 6, 3);
    Tensor *xt = OK(tensor_transpose(x, 0, 1));
    Tensor *img = PATTERN(303, 2, 3, 5, 5);
    Tensor *k = PATTERN(304, 4, 3, 3, 3);
    Tensor *bias = PATTERN(305, 4);
    Tensor *idx = MK(DATA(0, 2, 1, 3), 4);
    Tensor *idx2 = MK(DATA(0, 2, 1, 3), 4, 1);
    Tensor *wt = OK(tensor_transpose(w, 0, 1));
    Tensor *xc = OK(tensor_contiguous(xt));
    Tensor *zero = OK(tensor_scalar(0));
    Tensor *pos = OK(tensor_gt(x, zero));
    Tensor *neg = OK(tensor_lt(x, zero));
    Tensor *src = OK(tensor_ones(SHAPE(4, 1), 2));
    Tensor *pidx = NULL;
    Tensor *pooled = OK(tensor_max_pool2d(img, window2d(2, 1, 0), &pidx));
    ck_assert_ptr_nonnull(pidx);
    size_t live = strata_mem_stats().bytes_live;
    size_t held = scope_depth_objects();
#define NO_LEAK(expr)                                                                  \
    do {                                                                               \
        Tensor *r_ = (expr);                                                           \
        ck_assert_msg(r_ != NULL, "%s failed: %s", #expr, strata_last_error());        \
        tensor_release(r_);                                                            \
        ck_assert_msg(strata_mem_stats().bytes_live == live,                           \
                      "%s leaves %zd bytes behind once its result is released", #expr, \
                      (ssize_t)(strata_mem_stats().bytes_live - live));               \
        ck_assert_uint_eq(scope_depth_objects(), held);                                \
    } while (0)
    NO_LEAK(tensor_matmul(x, w));
    NO_LEAK(tensor_matmul(wt, xt));
    NO_LEAK(tensor_matmul(xt, x));
    NO_LEAK(tensor_reshape(xt, SHAPE(24), 1));
    NO_LEAK(tensor_contiguous(xt));
    NO_LEAK(tensor_flatten(xt, 0, 1));
    NO_LEAK(tensor_add(xt, xc));
    NO_LEAK(tensor_softmax(x, 1));
    NO_LEAK(tensor_log_softmax(xt, 0));
    NO_LEAK(tensor_logsumexp(x, DIMS(1), 1, true));
    NO_LEAK(tensor_std(x, DIMS(0), 1, true, false));
    NO_LEAK(tensor_mean(xt, NULL, 0, false));
    NO_LEAK(tensor_where(pos, x, zero));
    NO_LEAK(tensor_index_select(x, 1, idx));
    NO_LEAK(tensor_gather(x, 1, idx2));
    NO_LEAK(tensor_scatter_add(x, 1, idx2, src));
    NO_LEAK(tensor_one_hot(idx, 5));
    NO_LEAK(tensor_masked_fill(x, neg, 0));
    NO_LEAK(tensor_cat((Tensor *const[]){x, x}, 2, 0));
    NO_LEAK(tensor_stack((Tensor *const[]){x, x}, 2, 1));
    NO_LEAK(tensor_im2col(img, window2d(3, 1, 1)));
    NO_LEAK(tensor_conv2d(img, k, bias, window2d(3, 1, 1)));
    NO_LEAK(tensor_avg_pool2d(img, window2d(2, 2, 0)));
    NO_LEAK(tensor_max_pool2d_backward(pooled, pidx, img->shape));
    NO_LEAK(tensor_avg_pool2d_backward(pooled, img->shape, window2d(2, 1, 0)));
    Tensor *pi2 = NULL;
    Tensor *p2 = OK(tensor_max_pool2d(img, window2d(3, 2, 1), &pi2));
    tensor_release(p2);
    tensor_release(pi2);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live);
    Tensor *mi = NULL;
    Tensor *mx = OK(tensor_max(xt, 1, true, &mi));
    tensor_release(mx);
    tensor_release(mi);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, live);
#undef NO_LEAK
    Tensor *all[] = {x, w, xt, img, k, bias, idx, idx2, wt, xc, zero, pos, neg, src, pooled, pidx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tensor_release(all[i]);
    scope_ = scope_begin();
    END;
}
END_TEST

/*
 * Inside an open scope, an op leaves exactly its result in the scope: its temporaries
 * (operand copies, im2col columns, intermediates) are gone when it returns, so a
 * training step's memory does not grow with every op until scope_end.
 */
START_TEST(test_temporaries_not_left_in_scope)
{
    BEGIN;
    Tensor *x = PATTERN(311, 8, 6);
    Tensor *w = PATTERN(312, 12, 6);
    Tensor *stepped = OK(tensor_slice(w, 0, 0, 12, 2)); /* [6, 6], needs a copy for BLAS */
    Tensor *img = PATTERN(313, 2, 3, 6, 6);
    Tensor *k = PATTERN(314, 4, 3, 3, 3);
#define ONLY_RESULT(expr)                                                                \
    do {                                                                                 \
        size_t held_ = scope_depth_objects();                                            \
        size_t live_ = strata_mem_stats().bytes_live;                                    \
        Tensor *r_ = (expr);                                                             \
        ck_assert_msg(r_ != NULL, "%s failed: %s", #expr, strata_last_error());          \
        ck_assert_msg(scope_depth_objects() == held_ + 1,                                \
                      "%s left %zu objects in the caller's scope (expected 1: the result)", \
                      #expr, scope_depth_objects() - held_);                             \
        size_t grew_ = strata_mem_stats().bytes_live - live_;                            \
        size_t need_ = (size_t)shape_numel(r_) * sizeof(float);                          \
        ck_assert_msg(grew_ <= need_ + 4096,                                             \
                      "%s keeps %zu bytes for a %zu-byte result", #expr, grew_, need_);  \
    } while (0)
    Tensor *st = OK(tensor_transpose(stepped, 0, 1));
    Tensor *xt = OK(tensor_transpose(x, 0, 1));
    ONLY_RESULT(tensor_matmul(x, st));
    ONLY_RESULT(tensor_reshape(xt, SHAPE(48), 1));
    ONLY_RESULT(tensor_log_softmax(xt, 1));
    ONLY_RESULT(tensor_softmax(xt, 0));
    ONLY_RESULT(tensor_logsumexp(xt, DIMS(0), 1, false));
    ONLY_RESULT(tensor_std(xt, DIMS(1), 1, true, false));
    ONLY_RESULT(tensor_conv2d(img, k, NULL, window2d(3, 1, 1)));
    ONLY_RESULT(tensor_cat((Tensor *const[]){xt, xt}, 2, 1));
#undef ONLY_RESULT
    END;
}
END_TEST

void add_error_tests(Suite *s)
{
    GRADED(s, test_root_cause_kept, 4);
    GRADED(s, test_null_input_named, 1);
    GRADED(s, test_null_sweep, 2);
    GRADED(s, test_failure_allocates_nothing, 3);
    GRADED(s, test_no_scope_no_leak, 4);
    GRADED(s, test_temporaries_not_left_in_scope, 2);
}
