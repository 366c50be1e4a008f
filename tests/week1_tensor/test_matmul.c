/*
 * test_matmul.c - tensor_matmul with torch.matmul's rules, against a naive triple loop
 * written here (double accumulation) that reads operands through their strides.
 */
#include "common.h"

/* out[i][j] = sum_k a[i][k] * b[k][j] for 2-D strided a [m, k], b [k, n]. */
static void naive_mm(const Tensor *a, const Tensor *b, float *out)
{
    int64_t m = a->shape[0], kk = a->shape[1], n = b->shape[1];
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t k = 0; k < kk; k++)
                acc += (double)a->data[i * a->strides[0] + k * a->strides[1]] *
                       b->data[k * b->strides[0] + j * b->strides[1]];
            out[i * n + j] = (float)acc;
        }
}

static void check_mm(const Tensor *a, const Tensor *b, const Tensor *c, double tol)
{
    ck_assert_int_eq(c->ndim, 2);
    ck_assert_int_eq(c->shape[0], a->shape[0]);
    ck_assert_int_eq(c->shape[1], b->shape[1]);
    int64_t n = a->shape[0] * b->shape[1];
    float *want = malloc(sizeof(float) * (size_t)(n ? n : 1));
    naive_mm(a, b, want);
    float *got = malloc(sizeof(float) * (size_t)(n ? n : 1));
    read_all(c, got);
    for (int64_t k = 0; k < n; k++)
        if (!close_to(got[k], want[k], tol)) {
            double g = got[k], w = want[k];
            free(want);
            free(got);
            ck_abort_msg("matmul element %lld = %.9g, naive loop gives %.9g", (long long)k,
                         g, w);
        }
    free(want);
    free(got);
}

START_TEST(test_matmul_2d_hand)
{
    BEGIN;
    /* [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[1*5+2*7, 1*6+2*8], [3*5+4*7, 3*6+4*8]] */
    Tensor *a = MK(DATA(1, 2, 3, 4), 2, 2);
    Tensor *b = MK(DATA(5, 6, 7, 8), 2, 2);
    Tensor *c = OK(tensor_matmul(a, b));
    EXPECT_SHAPE(c, 2, 2);
    EXPECT_VALUES(c, 1e-6, 19, 22, 43, 50);
    /* [2, 3] x [3, 1]: [1*1 + 2*0 + 3*-1, 4*1 + 5*0 + 6*-1] = [-2, -2] */
    Tensor *d = OK(tensor_matmul(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), MK(DATA(1, 0, -1), 3, 1)));
    EXPECT_SHAPE(d, 2, 1);
    EXPECT_VALUES(d, 1e-6, -2, -2);
    EXPECT_VALUES(a, 0, 1, 2, 3, 4); /* inputs unchanged */
    END;
}
END_TEST

START_TEST(test_matmul_2d_naive)
{
    BEGIN;
    Tensor *a = PATTERN(51, 5, 7);
    Tensor *b = PATTERN(52, 7, 3);
    check_mm(a, b, OK(tensor_matmul(a, b)), 1e-5);
    Tensor *p = PATTERN(53, 33, 17);
    Tensor *q = PATTERN(54, 17, 29);
    check_mm(p, q, OK(tensor_matmul(p, q)), 1e-5);
    END;
}
END_TEST

START_TEST(test_matmul_1d)
{
    BEGIN;
    /* dot: 1*4 + 2*5 + 3*6 = 32, a 0-d result */
    Tensor *d = OK(tensor_matmul(MK(DATA(1, 2, 3), 3), MK(DATA(4, 5, 6), 3)));
    EXPECT_SCALAR(d);
    ck_assert_close(tensor_item(d), 32, 1e-6);
    /* [3] x [3, 2]: the vector is a [1, 3] row, then the 1 is removed → [2] */
    Tensor *m = MK(DATA(1, 2, 3, 4, 5, 6), 3, 2);
    Tensor *vm = OK(tensor_matmul(MK(DATA(1, 0, -1), 3), m));
    EXPECT_SHAPE(vm, 2);
    EXPECT_VALUES(vm, 1e-6, -4, -4); /* [1 - 5, 2 - 6] */
    /* [2, 3] x [3]: a [3, 1] column → [2] */
    Tensor *mv = OK(tensor_matmul(MK(DATA(1, 2, 3, 4, 5, 6), 2, 3), MK(DATA(1, 1, 1), 3)));
    EXPECT_SHAPE(mv, 2);
    EXPECT_VALUES(mv, 1e-6, 6, 15);
    END;
}
END_TEST

/* [3] x [2, 3, 4] → [2, 4]; [2, 3, 4] x [4] → [2, 3]. */
START_TEST(test_matmul_1d_batched)
{
    BEGIN;
    Tensor *b = PATTERN(61, 2, 3, 4);
    Tensor *v = MK(DATA(0.5, -1, 2), 3);
    Tensor *r = OK(tensor_matmul(v, b));
    EXPECT_SHAPE(r, 2, 4);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            double acc = 0.5 * AT(b, i, 0, j) - AT(b, i, 1, j) + 2 * AT(b, i, 2, j);
            ck_assert_close(AT(r, i, j), acc, 1e-5);
        }
    Tensor *w = MK(DATA(1, 2, 3, 4), 4);
    Tensor *s = OK(tensor_matmul(b, w));
    EXPECT_SHAPE(s, 2, 3);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            double acc = 0;
            for (int k = 0; k < 4; k++)
                acc += (k + 1) * AT(b, i, j, k);
            ck_assert_close(AT(s, i, j), acc, 1e-5);
        }
    END;
}
END_TEST

START_TEST(test_matmul_batched)
{
    BEGIN;
    Tensor *a = PATTERN(71, 2, 3, 4);
    Tensor *b = PATTERN(72, 2, 4, 5);
    Tensor *c = OK(tensor_matmul(a, b));
    EXPECT_SHAPE(c, 2, 3, 5);
    for (int64_t i = 0; i < 2; i++)
        check_mm(OK(tensor_select(a, 0, i)), OK(tensor_select(b, 0, i)),
                 OK(tensor_select(c, 0, i)), 1e-5);
    END;
}
END_TEST

/* Batch dims broadcast: [2, 1, 3, 4] x [3, 4, 5] → [2, 3, 3, 5]; [2, 3, 4] x [4, 5]. */
START_TEST(test_matmul_batch_broadcast)
{
    BEGIN;
    Tensor *a = PATTERN(81, 2, 1, 3, 4);
    Tensor *b = PATTERN(82, 3, 4, 5);
    Tensor *c = OK(tensor_matmul(a, b));
    EXPECT_SHAPE(c, 2, 3, 3, 5);
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 3; j++)
            check_mm(OK(tensor_select(OK(tensor_select(a, 0, i)), 0, 0)),
                     OK(tensor_select(b, 0, j)),
                     OK(tensor_select(OK(tensor_select(c, 0, i)), 0, j)), 1e-5);
    Tensor *x = PATTERN(83, 2, 3, 4);
    Tensor *w = PATTERN(84, 4, 5);
    Tensor *y = OK(tensor_matmul(x, w));
    EXPECT_SHAPE(y, 2, 3, 5);
    for (int64_t i = 0; i < 2; i++)
        check_mm(OK(tensor_select(x, 0, i)), w, OK(tensor_select(y, 0, i)), 1e-5);
    /* and a 2-D left operand against a batch: [3, 4] x [2, 4, 5] → [2, 3, 5] */
    Tensor *l = PATTERN(85, 3, 4);
    Tensor *rb = PATTERN(86, 2, 4, 5);
    Tensor *z = OK(tensor_matmul(l, rb));
    EXPECT_SHAPE(z, 2, 3, 5);
    for (int64_t i = 0; i < 2; i++)
        check_mm(l, OK(tensor_select(rb, 0, i)), OK(tensor_select(z, 0, i)), 1e-5);
    /* a batch dim of 1 broadcast to 2: [1, 3, 4] x [2, 4, 5] → [2, 3, 5] */
    Tensor *one = PATTERN(87, 1, 3, 4);
    Tensor *u = OK(tensor_matmul(one, rb));
    EXPECT_SHAPE(u, 2, 3, 5);
    for (int64_t i = 0; i < 2; i++)
        check_mm(OK(tensor_select(one, 0, 0)), OK(tensor_select(rb, 0, i)),
                 OK(tensor_select(u, 0, i)), 1e-5);
    END;
}
END_TEST

/* Transposed views (what x W^T in a Linear layer and every backward pass feed in). */
START_TEST(test_matmul_transposed_operands)
{
    BEGIN;
    Tensor *a0 = PATTERN(91, 4, 5);
    Tensor *b0 = PATTERN(92, 3, 4);
    Tensor *at = OK(tensor_transpose(a0, 0, 1)); /* [5, 4], strides [1, 5] */
    Tensor *bt = OK(tensor_transpose(b0, 0, 1)); /* [4, 3], strides [1, 4] */
    check_mm(at, bt, OK(tensor_matmul(at, bt)), 1e-5);
    Tensor *b1 = PATTERN(93, 4, 6);
    check_mm(at, b1, OK(tensor_matmul(at, b1)), 1e-5);       /* A^T B */
    Tensor *a1 = PATTERN(94, 2, 4);
    check_mm(a1, bt, OK(tensor_matmul(a1, bt)), 1e-5);       /* A B^T */
    /* batched: transpose the last two dims of [2, 4, 3] → [2, 3, 4] x [4, 5] */
    Tensor *bb = PATTERN(95, 2, 4, 3);
    Tensor *bbt = OK(tensor_transpose(bb, -1, -2));
    Tensor *w = PATTERN(96, 4, 5);
    Tensor *y = OK(tensor_matmul(bbt, w));
    EXPECT_SHAPE(y, 2, 3, 5);
    for (int64_t i = 0; i < 2; i++)
        check_mm(OK(tensor_select(bbt, 0, i)), w, OK(tensor_select(y, 0, i)), 1e-5);
    /* a permuted batch: [3, 2, 4] permuted (1, 0, 2) → [2, 3, 4] */
    Tensor *pb = PATTERN(97, 3, 2, 4);
    Tensor *pp = OK(tensor_permute(pb, DIMS(1, 0, 2)));
    Tensor *z = OK(tensor_matmul(pp, w));
    for (int64_t i = 0; i < 2; i++)
        check_mm(OK(tensor_select(pp, 0, i)), w, OK(tensor_select(z, 0, i)), 1e-5);
    END;
}
END_TEST

/* Column slices (lda larger than the row), stepped slices and stride-0 operands. */
START_TEST(test_matmul_strided_operands)
{
    BEGIN;
    Tensor *big = PATTERN(101, 6, 10);
    Tensor *cols = OK(tensor_narrow(big, 1, 2, 4));      /* [6, 4], strides [10, 1] */
    Tensor *b = PATTERN(102, 4, 3);
    check_mm(cols, b, OK(tensor_matmul(cols, b)), 1e-5);
    Tensor *step = OK(tensor_slice(big, 1, 0, 10, 3));   /* [6, 4], strides [10, 3] */
    check_mm(step, b, OK(tensor_matmul(step, b)), 1e-5);
    Tensor *rows = OK(tensor_slice(big, 0, 1, 6, 2));    /* [3, 10], strides [20, 1] */
    Tensor *b2 = PATTERN(103, 10, 2);
    check_mm(rows, b2, OK(tensor_matmul(rows, b2)), 1e-5);
    /* an expanded operand: every row of e is [1, 2, 3, 4] (strides [0, 1]) */
    Tensor *e = OK(tensor_expand(MK(DATA(1, 2, 3, 4), 1, 4), SHAPE(5, 4), 2));
    check_mm(e, b, OK(tensor_matmul(e, b)), 1e-5);
    Tensor *ecol = OK(tensor_expand(MK(DATA(1, -1, 2, 0.5), 4, 1), SHAPE(4, 3), 2));
    check_mm(cols, ecol, OK(tensor_matmul(cols, ecol)), 1e-5);
    END;
}
END_TEST

/*
 * A transposed operand goes to cblas_sgemm as CblasTrans with its leading dimension,
 * not copied: the allocator's peak during the call stays below the output (64 x 64
 * floats = 16384 bytes) plus 8192 bytes of small objects. A copied operand would add
 * another 16384 bytes.
 */
START_TEST(test_matmul_no_copy_transposed)
{
    BEGIN;
    Tensor *a = PATTERN(111, 64, 64);
    Tensor *b = PATTERN(112, 64, 64);
    Tensor *at = OK(tensor_transpose(a, 0, 1));
    Tensor *bt = OK(tensor_transpose(b, 0, 1));
    const Tensor *pairs[4][2] = {{a, b}, {at, b}, {a, bt}, {at, bt}};
    const char *names[4] = {"A B", "A^T B", "A B^T", "A^T B^T"};
    for (int p = 0; p < 4; p++) {
        size_t before = strata_mem_stats().bytes_live;
        strata_mem_reset_peak();
        Tensor *c = OK(tensor_matmul(pairs[p][0], pairs[p][1]));
        size_t extra = strata_mem_stats().bytes_peak - before;
        ck_assert_msg(extra < 16384 + 8192,
                      "matmul(%s) allocated up to %zu bytes for a 16384-byte result: "
                      "a transposed operand was copied instead of passed with CblasTrans",
                      names[p], extra);
        check_mm(pairs[p][0], pairs[p][1], c, 1e-4);
    }
    END;
}
END_TEST

START_TEST(test_matmul_errors)
{
    BEGIN;
    Tensor *a = OK(tensor_zeros(SHAPE(2, 3), 2));
    Tensor *b = OK(tensor_zeros(SHAPE(4, 5), 2));
    EXPECT_NULL_ERR(tensor_matmul(a, b), "tensor_matmul", "do not align");
    check_message_("tensor_matmul([2, 3], [4, 5])", "tensor_matmul", "[2, 3]");
    check_message_("tensor_matmul([2, 3], [4, 5])", "tensor_matmul", "[4, 5]");
    /* 1-D mismatch, batch mismatch, 0-d operand */
    EXPECT_NULL_ERR(tensor_matmul(OK(tensor_zeros(SHAPE(3), 1)), OK(tensor_zeros(SHAPE(4), 1))),
                    "tensor_matmul", NULL);
    EXPECT_NULL_ERR(tensor_matmul(OK(tensor_zeros(SHAPE(2, 3, 4), 3)),
                                  OK(tensor_zeros(SHAPE(3, 4, 5), 3))),
                    "tensor_matmul", NULL);
    EXPECT_NULL_ERR(tensor_matmul(OK(tensor_scalar(2)), a), "tensor_matmul", NULL);
    END;
}
END_TEST

START_TEST(test_matmul_naive_reference)
{
    BEGIN;
    Tensor *a = MK(DATA(1, 2, 3, 4, 5, 6), 2, 3);
    Tensor *b = MK(DATA(1, 0, 0, 1, 1, 1), 3, 2);
    /* [[1 + 3, 2 + 3], [4 + 6, 5 + 6]] */
    Tensor *c = OK(tensor_matmul_naive(a, b));
    EXPECT_SHAPE(c, 2, 2);
    EXPECT_VALUES(c, 1e-6, 4, 5, 10, 11);
    Tensor *p = PATTERN(121, 9, 5);
    Tensor *pt = OK(tensor_transpose(PATTERN(122, 6, 5), 0, 1));
    check_mm(p, pt, OK(tensor_matmul_naive(p, pt)), 1e-6);
    EXPECT_NULL_ERR(tensor_matmul_naive(a, a), "tensor_matmul_naive", NULL);
    END;
}
END_TEST

/* K = 0 gives zeros (an empty sum); M = 0 gives an empty result. */
START_TEST(test_matmul_empty)
{
    BEGIN;
    Tensor *c = OK(tensor_matmul(OK(tensor_ones(SHAPE(2, 0), 2)), OK(tensor_ones(SHAPE(0, 3), 2))));
    EXPECT_SHAPE(c, 2, 3);
    EXPECT_VALUES(c, 0, 0, 0, 0, 0, 0, 0);
    Tensor *d = OK(tensor_matmul(OK(tensor_ones(SHAPE(0, 3), 2)), OK(tensor_ones(SHAPE(3, 4), 2))));
    EXPECT_SHAPE(d, 0, 4);
    END;
}
END_TEST

/* The pass of test_matmul_then: v -> 2v + 1, so an element passed twice (4v + 3) or
 * never (v) shows. It writes only its band (bands may run at once on two threads). */
static void twice_plus_one(void *ctx, float *out, int64_t ld, int64_t row0, int64_t row1,
                           int64_t col0, int64_t col1)
{
    (void)ctx;
    for (int64_t r = row0; r < row1; r++)
        for (int64_t j = col0; j < col1; j++)
            out[r * ld + j] = 2.0f * out[r * ld + j] + 1.0f;
}

/* tensor_matmul_then(a, b, pass) is tensor_matmul(a, b) with the pass applied exactly
 * once to every element (the product's own bits, then 2v + 1 in float), on one thread
 * and on two: a small product, an empty sum (k = 0), one large enough to be cut into bands (of columns; and
 * of rows, through a transposed operand), a stacked batch and a broadcast one; and a
 * NULL pass is the plain product. */
START_TEST(test_matmul_then)
{
    BEGIN;
    static const struct {
        int64_t a[4], b[4];
        int na, nb;
        bool transpose_b;
    } cases[] = {
        {{3, 4}, {4, 5}, 2, 2, false},        {{6, 0}, {0, 7}, 2, 2, false},
        {{32, 256}, {256, 512}, 2, 2, false},
        {{200, 300}, {96, 300}, 2, 2, true},  {{3, 4, 5}, {5, 6}, 3, 2, false},
        {{2, 3, 4, 3}, {2, 1, 3, 2}, 4, 4, false},
    };
    for (int threads = 1; threads <= 2; threads++) {
        strata_set_num_threads(threads);
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            Tensor *a = pattern_tensor(cases[k].a, cases[k].na, 401 + (uint32_t)k);
            Tensor *b = pattern_tensor(cases[k].b, cases[k].nb, 411 + (uint32_t)k);
            Tensor *bv = cases[k].transpose_b ? OK(tensor_transpose(b, 0, 1)) : b;
            Tensor *plain = OK(tensor_matmul(a, bv));
            Tensor *passed = OK(tensor_matmul_then(a, bv, twice_plus_one, NULL));
            check_shape_(passed, plain->shape, plain->ndim, "tensor_matmul_then");
            int64_t n = shape_numel(plain);
            for (int64_t i = 0; i < n; i++) {
                float want = 2.0f * plain->data[i] + 1.0f;
                ck_assert_msg(memcmp(&passed->data[i], &want, sizeof want) == 0,
                              "case %d, %d thread(s): element %lld = %.9g, the product then "
                              "the pass once gives %.9g",
                              (int)k, threads, (long long)i, (double)passed->data[i],
                              (double)want);
            }
        }
    }
    strata_set_num_threads(1);
    Tensor *a = PATTERN(421, 3, 4, 5), *b = PATTERN(422, 5, 6);
    Tensor *plain = OK(tensor_matmul(a, b)), *none = OK(tensor_matmul_then(a, b, NULL, NULL));
    ck_assert(memcmp(plain->data, none->data, sizeof(float) * 3 * 4 * 6) == 0);
    /* with tensor_matmul()'s errors, naming the function called */
    EXPECT_NULL_ERR(tensor_matmul_then(PATTERN(423, 2, 3), PATTERN(424, 4, 5), twice_plus_one,
                                       NULL),
                    "tensor_matmul_then", "do not align");
    END;
}
END_TEST

void add_matmul_tests(Suite *s)
{
    GRADED(s, test_matmul_2d_hand, 5);
    GRADED(s, test_matmul_2d_naive, 5);
    GRADED(s, test_matmul_1d, 3);
    GRADED(s, test_matmul_1d_batched, 2);
    GRADED(s, test_matmul_batched, 4);
    GRADED(s, test_matmul_batch_broadcast, 4);
    GRADED(s, test_matmul_transposed_operands, 5);
    GRADED(s, test_matmul_strided_operands, 3);
    GRADED(s, test_matmul_no_copy_transposed, 3);
    GRADED(s, test_matmul_errors, 3);
    GRADED(s, test_matmul_naive_reference, 2);
    GRADED(s, test_matmul_empty, 1);
    GRADED(s, test_matmul_then, 2);
}
