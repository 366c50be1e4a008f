/*
 * test_text.c - the character-level text corpus: vocabulary, train/validation split,
 * encode/decode, batches of windows with next-character targets, seeded random
 * batches, and bad input. The expected values come from a small text written here.
 */
#include "helpers.h"

#include <stdio.h>
#include <string.h>

/* "abracadabra, cadabra!" (21 bytes): distinct bytes in byte order are
 * ' ' (32), '!' (33), ',' (44), 'a', 'b', 'c', 'd', 'r' = 8 tokens 0..7. */
static const char TEXT[] = "abracadabra, cadabra!";

static const char *write_text(char *path, size_t size, const char *text)
{
    tmp_path(path, size, "corpus.txt");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return path;
}

START_TEST(test_text_vocab_and_split)
{
    Scope *s = scope_begin();
    char path[512];
    TextCorpus *c = data_text_load(write_text(path, sizeof path, TEXT), 0.25);
    ck_assert_msg(c != NULL, "data_text_load: %s", strata_last_error());
    ck_assert_int_eq(data_text_vocab_size(c), 8);
    /* validation: floor(21 * 0.25) = 5 bytes at the end ("abra!"), training the 16 first */
    ck_assert_int_eq(data_text_split_length(c, true), 5);
    ck_assert_int_eq(data_text_split_length(c, false), 16);
    float tok[4];
    ck_assert_int_eq(data_text_encode(c, " !ab", 4, tok), 0);
    ck_assert_close(tok[0], 0, 0);
    ck_assert_close(tok[1], 1, 0);
    ck_assert_close(tok[2], 3, 0);
    ck_assert_close(tok[3], 4, 0);
    float r[1] = {7}; /* 'r' is the last byte in order */
    char out[12];
    ck_assert_int_eq(data_text_decode(c, r, 1, out), 0);
    ck_assert_str_eq(out, "r");
    /* round trip of the whole text */
    float all[21];
    ck_assert_int_eq(data_text_encode(c, TEXT, 21, all), 0);
    char back[22];
    ck_assert_int_eq(data_text_decode(c, all, 21, back), 0);
    ck_assert_str_eq(back, TEXT);
    /* characters outside the vocabulary and tokens outside [0, 8) */
    float keep[2] = {-1, -1};
    ck_assert_int_eq(data_text_encode(c, "az", 2, keep), -1);
    ck_assert_msg(strstr(strata_last_error(), "'z'"), "message: %s", strata_last_error());
    ck_assert_close(keep[0], -1, 0); /* nothing written */
    float bad[1] = {8};
    ck_assert_int_eq(data_text_decode(c, bad, 1, out), -1);
    ck_assert_msg(strstr(strata_last_error(), "[0, 8)"), "message: %s", strata_last_error());
    data_text_free(c);
    remove(path);
    /* every byte that occurs is in the vocabulary, control bytes too: "\1" sorts first */
    c = data_text_load(write_text(path, sizeof path, "ab\1ab\1ab\1"), 0.25);
    ck_assert_msg(c != NULL, "data_text_load: %s", strata_last_error());
    ck_assert_int_eq(data_text_vocab_size(c), 3);
    ck_assert_int_eq(data_text_encode(c, "\1ba", 3, tok), 0);
    ck_assert_close(tok[0], 0, 0);
    ck_assert_close(tok[1], 2, 0);
    ck_assert_close(tok[2], 1, 0);
    data_text_free(c);
    remove(path);
    scope_end(s);
}
END_TEST

START_TEST(test_text_batches)
{
    Scope *s = scope_begin();
    char path[512];
    TextCorpus *c = data_text_load(write_text(path, sizeof path, TEXT), 0.25);
    ck_assert_ptr_nonnull(c);
    /* windows at 0 and 5 of the training split, context 3: "abr" -> "bra", "ada" ->
     * "dab" (tokens a=3 b=4 c=5 d=6 r=7) */
    int64_t starts[2] = {0, 5};
    Tensor *x = NULL, *y = NULL;
    ck_assert_msg(data_text_batch(c, false, starts, 2, 3, &x, &y) == 0, "data_text_batch: %s",
                  strata_last_error());
    ck_assert_int_eq(x->ndim, 2);
    ck_assert_int_eq(x->shape[0], 2);
    ck_assert_int_eq(x->shape[1], 3);
    const float wx[6] = {3, 4, 7, 3, 6, 3}, wy[6] = {4, 7, 3, 6, 3, 4};
    for (int i = 0; i < 6; i++) {
        ck_assert_close(x->data[i], wx[i], 0);
        ck_assert_close(y->data[i], wy[i], 0);
    }
    /* the validation split "abra!": window 1 of context 3 is "bra" -> "ra!" */
    int64_t v1[1] = {1};
    ck_assert_int_eq(data_text_batch(c, true, v1, 1, 3, &x, &y), 0);
    ck_assert_close(x->data[0], 4, 0);
    ck_assert_close(y->data[2], 1, 0);
    /* a window that runs past the split's end: start 2 + 3 + 1 > 5 */
    Tensor *keep = NULL;
    int64_t v2[1] = {2};
    ck_assert_int_eq(data_text_batch(c, true, v2, 1, 3, &keep, &y), -1);
    ck_assert_msg(strstr(strata_last_error(), "must start in [0, 1]"), "message: %s",
                  strata_last_error());
    ck_assert_ptr_null(keep);
    /* random batches: seeded, inside the split, y is x shifted by one */
    strata_manual_seed(7);
    Tensor *a = NULL, *b = NULL;
    ck_assert_int_eq(data_text_random_batch(c, false, 4, 5, &a, &b), 0);
    float text_tok[21];
    ck_assert_int_eq(data_text_encode(c, TEXT, 21, text_tok), 0);
    for (int r = 0; r < 4; r++) {
        int found = -1; /* the window's start: where the 6 tokens occur in the split */
        for (int st = 0; st + 6 <= 16 && found < 0; st++) {
            bool same = true;
            for (int t = 0; t < 5; t++)
                same = same && a->data[r * 5 + t] == text_tok[st + t] &&
                       b->data[r * 5 + t] == text_tok[st + t + 1];
            if (same)
                found = st;
        }
        ck_assert_msg(found >= 0, "random window %d is not a window of the training split", r);
    }
    strata_manual_seed(7);
    Tensor *a2 = NULL, *b2 = NULL;
    ck_assert_int_eq(data_text_random_batch(c, false, 4, 5, &a2, &b2), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_close(a2->data[i], a->data[i], 0);
    ck_assert_int_eq(data_text_random_batch(c, true, 1, 5, &a, &b), -1); /* 5 + 1 > 5 */
    data_text_free(c);
    remove(path);
    scope_end(s);
}
END_TEST

START_TEST(test_text_bad_input)
{
    Scope *s = scope_begin();
    ck_assert_ptr_null(data_text_load("/nonexistent/corpus.txt", 0.1));
    ck_assert_msg(strstr(strata_last_error(), "/nonexistent/corpus.txt"), "message: %s",
                  strata_last_error());
    char path[512];
    write_text(path, sizeof path, "abc");
    ck_assert_ptr_null(data_text_load(path, 0.1)); /* floor(0.3) = 0 validation bytes */
    ck_assert_msg(strstr(strata_last_error(), "too short"), "message: %s", strata_last_error());
    /* each split needs 2 characters: 8 bytes split 6 + 2 load, 7 + 1 and 1 + 7 do not */
    remove(path);
    write_text(path, sizeof path, "abcdefgh");
    TextCorpus *c = data_text_load(path, 0.25);
    ck_assert_msg(c != NULL, "8 bytes, val_fraction 0.25 (6 + 2): %s", strata_last_error());
    ck_assert_int_eq(data_text_split_length(c, true), 2);
    data_text_free(c);
    ck_assert_ptr_null(data_text_load(path, 0.2)); /* floor(1.6) = 1 validation byte */
    ck_assert_msg(strstr(strata_last_error(), "too short"), "message: %s", strata_last_error());
    ck_assert_ptr_null(data_text_load(path, 0.9)); /* 7 validation bytes, 1 to train on */
    ck_assert_msg(strstr(strata_last_error(), "too short"), "message: %s", strata_last_error());
    ck_assert_ptr_null(data_text_load(path, 1.0));
    ck_assert_msg(strstr(strata_last_error(), "val_fraction"), "message: %s",
                  strata_last_error());
    remove(path);
    scope_end(s);
}
END_TEST

void add_text_tests(Suite *s)
{
    GRADED(s, test_text_vocab_and_split, 2);
    GRADED(s, test_text_batches, 3);
    GRADED(s, test_text_bad_input, 1);
}
