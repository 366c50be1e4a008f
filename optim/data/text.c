/*
 * text.c - a character-level text corpus: the vocabulary is the set of bytes that occur,
 * the text is split into a training part (the beginning) and a validation part (the
 * end), and a batch is B windows of T + 1 consecutive characters: the first T are the
 * input, the last T (shifted by one) the targets of next-character prediction.
 *
 * Characters are bytes: a UTF-8 letter of several bytes becomes several tokens, which
 * is what a byte-level model sees (the King James Bible in Debian is plain ASCII).
 */
#include "data.h"
#include "data_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct TextCorpus {
    unsigned char *text;   /* the whole file */
    int64_t length;        /* bytes */
    int64_t train_length;  /* the first train_length bytes are the training split */
    int vocab_size;        /* distinct bytes */
    unsigned char itos[256]; /* token -> byte, in byte order */
    int stoi[256];         /* byte -> token, -1 when the byte never occurs */
};

/* SOLUTION BEGIN week=4 step=9 tier=stretch */
/* The whole file in a new corpus (no vocabulary yet), or NULL with an error. */
static TextCorpus *read_text(const char *path)
{
    FILE *f = strata_fopen(path, "rb"); /* through tensor/io.c: the fault walks see it */
    if (!f) {
        strata_set_error("data_text_load: cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    TextCorpus *c = strata_calloc(1, sizeof *c);
    bool out_of_memory = c == NULL;
    long size = -1;
    if (c && fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (c && size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        c->text = strata_malloc((size_t)size + 1);
        out_of_memory = c->text == NULL;
        if (c->text && strata_fread(c->text, (size_t)size, f) == (size_t)size)
            c->length = size;
        else
            size = -1;
    }
    if (strata_fclose(f) != 0) /* a close that fails is a read that failed */
        size = -1;
    if (out_of_memory || size < 0) {
        /* The allocator has said "out of memory" already; anything else is the file's fault. */
        if (!out_of_memory)
            strata_set_error("data_text_load: cannot read '%s'", path);
        data_text_free(c);
        return NULL;
    }
    return c;
}

/* The vocabulary: every byte that occurs, numbered in byte order (as sorted(set(text))). */
static void build_vocab(TextCorpus *c)
{
    bool seen[256] = {false};
    for (int64_t i = 0; i < c->length; i++)
        seen[c->text[i]] = true;
    c->vocab_size = 0;
    for (int b = 0; b < 256; b++) {
        c->stoi[b] = seen[b] ? c->vocab_size : -1;
        if (seen[b])
            c->itos[c->vocab_size++] = (unsigned char)b;
    }
}
/* SOLUTION END */

TextCorpus *data_text_load(const char *path, double val_fraction)
{
    STRATA_CHECK_ARG(path, NULL);
    if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
        strata_set_error("data_text_load: val_fraction must be in (0, 1), got %g", val_fraction);
        return NULL;
    }
    /* SOLUTION BEGIN week=4 step=9 tier=stretch fail=NULL */
    TextCorpus *c = read_text(path);
    if (!c)
        return NULL;
    int64_t val = (int64_t)floor((double)c->length * val_fraction);
    c->train_length = c->length - val;
    if (c->train_length < 2 || val < 2) {
        strata_set_error("data_text_load: '%s' has %lld bytes: too short for two splits of "
                         "at least 2 characters each with val_fraction %g",
                         path, (long long)c->length, val_fraction);
        data_text_free(c);
        return NULL;
    }
    build_vocab(c);
    return c;
    /* SOLUTION END */
}

void data_text_free(TextCorpus *c)
{
    if (!c)
        return;
    strata_free(c->text);
    strata_free(c);
}

int data_text_vocab_size(const TextCorpus *c)
{
    STRATA_CHECK_ARG(c, -1);
    return c->vocab_size;
}

int64_t data_text_split_length(const TextCorpus *c, bool val)
{
    STRATA_CHECK_ARG(c, -1);
    return val ? c->length - c->train_length : c->train_length;
}

int data_text_encode(const TextCorpus *c, const char *s, int64_t n, float *out)
{
    STRATA_CHECK_ARG(c, -1);
    STRATA_CHECK_ARG(s, -1);
    STRATA_CHECK_ARG(out, -1);
    /* SOLUTION BEGIN week=4 step=9 tier=stretch fail=-1 */
    for (int64_t i = 0; i < n; i++) { /* check all first: nothing written on failure */
        unsigned char b = (unsigned char)s[i];
        if (c->stoi[b] < 0) {
            strata_set_error("data_text_encode: character %d ('%c') at position %lld is not "
                             "in the corpus's vocabulary",
                             b, b >= 32 && b < 127 ? b : '?', (long long)i);
            return -1;
        }
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)c->stoi[(unsigned char)s[i]];
    return 0;
    /* SOLUTION END */
}

int data_text_decode(const TextCorpus *c, const float *tokens, int64_t n, char *out)
{
    STRATA_CHECK_ARG(c, -1);
    STRATA_CHECK_ARG(tokens, -1);
    STRATA_CHECK_ARG(out, -1);
    /* SOLUTION BEGIN week=4 step=9 tier=stretch fail=-1 */
    for (int64_t i = 0; i < n; i++) {
        float t = tokens[i];
        if (!(t >= 0.0f && t < (float)c->vocab_size) || t != floorf(t)) {
            strata_set_error("data_text_decode: token %g at position %lld is not in [0, %d)",
                             (double)t, (long long)i, c->vocab_size);
            return -1;
        }
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = (char)c->itos[(int)tokens[i]];
    out[n] = '\0';
    return 0;
    /* SOLUTION END */
}

int data_text_batch(const TextCorpus *c, bool val, const int64_t *starts, int64_t batch,
                    int64_t context, Tensor **x, Tensor **y)
{
    STRATA_CHECK_ARG(c, -1);
    STRATA_CHECK_ARG(starts, -1);
    STRATA_CHECK_ARG(x, -1);
    STRATA_CHECK_ARG(y, -1);
    int64_t len = data_text_split_length(c, val);
    if (batch < 1 || context < 1 || context + 1 > len) {
        strata_set_error("data_text_batch: need batch >= 1 and 1 <= context < %lld (the %s "
                         "split's length), got batch %lld, context %lld",
                         (long long)len, val ? "validation" : "training", (long long)batch,
                         (long long)context);
        return -1;
    }
    for (int64_t b = 0; b < batch; b++)
        if (starts[b] < 0 || starts[b] + context + 1 > len) {
            strata_set_error("data_text_batch: window %lld starts at %lld, but windows of "
                             "%lld + 1 characters must start in [0, %lld]",
                             (long long)b, (long long)starts[b], (long long)context,
                             (long long)(len - context - 1));
            return -1;
        }
    /* SOLUTION BEGIN week=4 step=9 tier=stretch fail=-1 */
    const unsigned char *text = c->text + (val ? c->train_length : 0);
    int64_t shape[2] = {batch, context};
    Tensor *xs = tensor_zeros(shape, 2), *ys = tensor_zeros(shape, 2);
    if (!xs || !ys) { /* drop the one that was made, unless a scope holds it */
        if (xs && xs->base.scope_slot < 0)
            tensor_release(xs);
        if (ys && ys->base.scope_slot < 0)
            tensor_release(ys);
        return -1;
    }
    for (int64_t b = 0; b < batch; b++)
        for (int64_t t = 0; t < context; t++) {
            xs->data[b * context + t] = (float)c->stoi[text[starts[b] + t]];
            ys->data[b * context + t] = (float)c->stoi[text[starts[b] + t + 1]];
        }
    *x = xs;
    *y = ys;
    return 0;
    /* SOLUTION END */
}

int data_text_random_batch(const TextCorpus *c, bool val, int64_t batch, int64_t context,
                           Tensor **x, Tensor **y)
{
    STRATA_CHECK_ARG(c, -1);
    int64_t len = data_text_split_length(c, val);
    if (batch < 1 || batch > (1 << 20) || context < 1 || context + 1 > len) {
        strata_set_error("data_text_random_batch: need 1 <= batch <= 2^20 and 1 <= context < "
                         "%lld, got batch %lld, context %lld",
                         (long long)len, (long long)batch, (long long)context);
        return -1;
    }
    /* SOLUTION BEGIN week=4 step=9 tier=stretch fail=-1 */
    int64_t *starts = strata_malloc((size_t)batch * sizeof *starts);
    if (!starts)
        return -1;
    int64_t windows = len - context; /* starts 0 .. len - context - 1 */
    for (int64_t b = 0; b < batch; b++) {
        int64_t s = (int64_t)(strata_rng_uniform() * (double)windows);
        starts[b] = s < windows ? s : windows - 1; /* guard the rounding at the top */
    }
    int rc = data_text_batch(c, val, starts, batch, context, x, y);
    strata_free(starts);
    return rc;
    /* SOLUTION END */
}
