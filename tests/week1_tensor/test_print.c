/*
 * test_print.c - tensor_repr/tensor_fprint/tensor_print against PyTorch's format:
 * "tensor(" + nested brackets; 4 decimals; every element right-aligned to the widest;
 * ", " between elements; rows on new lines indented to line up under the first
 * bracket; a blank line between 2-D blocks; over 1000 elements, 3 items at each edge
 * around "...".
 *
 * PyTorch's two other modes (all-integer tensors print "1."; a max/min ratio over 1000
 * switches to scientific notation) have their own tests; the others avoid them.
 */
#include "common.h"

static void check_repr(const Tensor *t, const char *want)
{
    char *got = tensor_repr(t);
    ck_assert_msg(got != NULL, "tensor_repr returned NULL: %s", strata_last_error());
    int same = strcmp(got, want) == 0;
    if (!same) {
        char msg[2048];
        snprintf(msg, sizeof msg, "tensor_repr gave\n%s\nexpected\n%s", got, want);
        strata_free(got);
        ck_abort_msg("%s", msg);
    }
    strata_free(got);
}

/* The example in tensor.h. */
START_TEST(test_repr_header_example)
{
    BEGIN;
    check_repr(MK(DATA(1.5, 2, 3, 4), 2, 2),
               "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])");
    END;
}
END_TEST

/* PyTorch prints all-integer values as "1." (its int mode), padded like any other. */
START_TEST(test_repr_integer_values)
{
    BEGIN;
    check_repr(MK(DATA(1, 2, 3, 4), 2, 2), "tensor([[1., 2.],\n        [3., 4.]])");
    check_repr(MK(DATA(-1, 20, 3), 3), "tensor([-1., 20.,  3.])");
    check_repr(OK(tensor_scalar(3)), "tensor(3.)");
    END;
}
END_TEST

/*
 * PyTorch switches to scientific notation ("%.4e") when the largest magnitude over the
 * smallest nonzero one exceeds 1000, or values are below 1e-4 or above 1e8.
 */
START_TEST(test_repr_scientific)
{
    BEGIN;
    check_repr(MK(DATA(1e-5f, 1.5f), 2), "tensor([1.0000e-05, 1.5000e+00])");
    check_repr(MK(DATA(0.5f, 5000.5f), 2), "tensor([5.0000e-01, 5.0005e+03])");
    END;
}
END_TEST

START_TEST(test_repr_0d)
{
    BEGIN;
    check_repr(OK(tensor_scalar(3.5f)), "tensor(3.5000)");
    check_repr(OK(tensor_scalar(-0.25f)), "tensor(-0.2500)");
    END;
}
END_TEST

START_TEST(test_repr_1d)
{
    BEGIN;
    /* widths: "1.5000" 6, "2.2500" 6, "-0.1250" 7 → all padded to 7 */
    check_repr(MK(DATA(1.5, 2.25, -0.125), 3), "tensor([ 1.5000,  2.2500, -0.1250])");
    check_repr(MK(DATA(0.5), 1), "tensor([0.5000])");
    END;
}
END_TEST

START_TEST(test_repr_2d_widths)
{
    BEGIN;
    /* widest is "100.1250" (8 characters) */
    check_repr(MK(DATA(10.5, -1.25, 0.5, 100.125), 2, 2),
               "tensor([[ 10.5000,  -1.2500],\n"
               "        [  0.5000, 100.1250]])");
    END;
}
END_TEST

START_TEST(test_repr_3d)
{
    BEGIN;
    check_repr(MK(DATA(1.5, 2, 3, 4, 5, 6, 7, 8), 2, 2, 2),
               "tensor([[[1.5000, 2.0000],\n"
               "         [3.0000, 4.0000]],\n"
               "\n"
               "        [[5.0000, 6.0000],\n"
               "         [7.0000, 8.0000]]])");
    END;
}
END_TEST

/* A view prints in its own (logical) order. */
START_TEST(test_repr_view)
{
    BEGIN;
    Tensor *t = MK(DATA(1.5, 2.5, 3.5, 4.5), 2, 2);
    check_repr(OK(tensor_transpose(t, 0, 1)),
               "tensor([[1.5000, 3.5000],\n        [2.5000, 4.5000]])");
    check_repr(OK(tensor_select(t, 1, 1)), "tensor([2.5000, 4.5000])");
    END;
}
END_TEST

/* 1001 elements t[i] = 1 + 0.25 * (i % 4): first 3 and last 3 around "...". */
START_TEST(test_repr_summarized)
{
    BEGIN;
    float *buf = malloc(sizeof(float) * 1001);
    for (int i = 0; i < 1001; i++)
        buf[i] = 1.0f + 0.25f * (float)(i % 4);
    Tensor *t = OK(tensor_from_data(buf, SHAPE(1001), 1));
    free(buf);
    check_repr(t, "tensor([1.0000, 1.2500, 1.5000,  ..., 1.5000, 1.7500, 1.0000])");
    /* exactly 1000 elements are not summarized: the text holds all of them */
    Tensor *k = OK(tensor_narrow(t, 0, 0, 1000));
    char *s = tensor_repr(k);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(strstr(s, "..."));
    strata_free(s);
    END;
}
END_TEST

/* A [40, 40] tensor: 3 rows and 3 columns at each edge, "..." rows between. */
START_TEST(test_repr_summarized_2d)
{
    BEGIN;
    float *buf = malloc(sizeof(float) * 1600);
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 40; j++)
            buf[i * 40 + j] = 1.0f + 0.25f * (float)((i + j) % 4);
    Tensor *t = OK(tensor_from_data(buf, SHAPE(40, 40), 2));
    free(buf);
    /* row i starts with 1 + 0.25 * (i % 4) and ends at j = 37..39 */
    check_repr(t, "tensor([[1.0000, 1.2500, 1.5000,  ..., 1.2500, 1.5000, 1.7500],\n"
                  "        [1.2500, 1.5000, 1.7500,  ..., 1.5000, 1.7500, 1.0000],\n"
                  "        [1.5000, 1.7500, 1.0000,  ..., 1.7500, 1.0000, 1.2500],\n"
                  "        ...,\n"
                  "        [1.2500, 1.5000, 1.7500,  ..., 1.5000, 1.7500, 1.0000],\n"
                  "        [1.5000, 1.7500, 1.0000,  ..., 1.7500, 1.0000, 1.2500],\n"
                  "        [1.7500, 1.0000, 1.2500,  ..., 1.0000, 1.2500, 1.5000]])");
    END;
}
END_TEST

/*
 * Lines wrap at 80 columns: each element takes width + 2 = 8 characters, and
 * floor((80 - 7) / 8) = 9 fit after "tensor(".
 */
START_TEST(test_repr_line_wrap)
{
    BEGIN;
    Tensor *t = OK(tensor_full(SHAPE(12), 1, 1.5f));
    check_repr(t, "tensor([1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000,\n"
                  "        1.5000, 1.5000, 1.5000])");
    END;
}
END_TEST

/* nan and inf print as words, padded to the common width; 1e10 forces scientific. */
START_TEST(test_repr_nonfinite_and_large)
{
    BEGIN;
    check_repr(MK(DATA(1.5, NAN, INFINITY), 3), "tensor([1.5000,    nan,    inf])");
    check_repr(MK(DATA(1e10f, 1), 2), "tensor([1.0000e+10, 1.0000e+00])");
    END;
}
END_TEST

START_TEST(test_repr_empty)
{
    BEGIN;
    check_repr(OK(tensor_zeros(SHAPE(0), 1)), "tensor([])");
    check_repr(OK(tensor_zeros(SHAPE(0, 3), 2)), "tensor([], size=(0, 3))");
    END;
}
END_TEST

START_TEST(test_fprint)
{
    BEGIN;
    Tensor *t = MK(DATA(0.5, -0.5), 2);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    OK0(tensor_fprint(f, t));
    rewind(f);
    char line[128] = {0};
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    ck_assert_str_eq(line, "tensor([ 0.5000, -0.5000])\n");
    OK0(tensor_print(t)); /* to stdout */
    fflush(stdout);
    EXPECT_FAIL_ERR(tensor_print(NULL), "tensor_", NULL);
    EXPECT_NULL_ERR(tensor_repr(NULL), "tensor_repr", NULL);
    END;
}
END_TEST

void add_print_tests(Suite *s)
{
    GRADED(s, test_repr_header_example, 2);
    GRADED(s, test_repr_integer_values, 2);
    GRADED(s, test_repr_scientific, 2);
    GRADED(s, test_repr_0d, 1);
    GRADED(s, test_repr_1d, 2);
    GRADED(s, test_repr_2d_widths, 2);
    GRADED(s, test_repr_3d, 2);
    GRADED(s, test_repr_view, 2);
    GRADED(s, test_repr_summarized, 2);
    GRADED(s, test_repr_summarized_2d, 2);
    GRADED(s, test_repr_line_wrap, 2);
    GRADED(s, test_repr_nonfinite_and_large, 1);
    GRADED(s, test_repr_empty, 1);
    GRADED(s, test_fprint, 1);
}
