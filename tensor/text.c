/*
 * text.c - the strings every layer builds: a growing printf buffer (StrataText) and a
 * copy of a C string, both on the counting allocator.
 *
 * Every string strata hands out (tensor_repr, nn_repr, modular_repr, a key of a state
 * dict, an error message put together from parts) is freed by its owner with
 * strata_free(), so it must come from strata_malloc(): one builder here serves all
 * five layers instead of one per file. The shape formatter that goes with it is
 * tensor_format_shape() in tensor.c.
 */
#include "tensor_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Make room for @p more characters and the NUL. The capacity doubles, so building a
 * string of n characters costs O(n) copies in all. A failure is remembered in the
 * builder (the first failure stops it; strata_text_finish() reports it), so callers can
 * append without checking each call.
 */
static bool text_reserve(StrataText *text, size_t more)
{
    if (text->failed)
        return false;
    if (text->len + more + 1 <= text->cap)
        return true;
    size_t cap = text->cap ? text->cap : 64;
    while (cap < text->len + more + 1)
        cap *= 2;
    char *grown = strata_realloc(text->data, cap);
    if (!grown) {
        text->failed = true;
        return false;
    }
    text->data = grown;
    text->cap = cap;
    return true;
}

void strata_text_put(StrataText *text, const char *s, size_t n)
{
    if (!text_reserve(text, n))
        return;
    memcpy(text->data + text->len, s, n);
    text->len += n;
    text->data[text->len] = '\0';
}

void strata_text_printf(StrataText *text, const char *fmt, ...)
{
    if (text->failed)
        return;
    /* Measure first (vsnprintf into no buffer), then write into room made for it. */
    va_list args;
    va_start(args, fmt);
    va_list again;
    va_copy(again, args);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (n < 0)
        text->failed = true; /* an encoding error: nothing sensible to append */
    else if (text_reserve(text, (size_t)n)) {
        vsnprintf(text->data + text->len, text->cap - text->len, fmt, again);
        text->len += (size_t)n;
    }
    va_end(again);
}

char *strata_text_finish(StrataText *text, const char *fn)
{
    if (!text->failed && !text->data)
        strata_text_put(text, "", 0); /* nothing was appended: the empty string */
    if (text->failed) {
        strata_free(text->data);
        *text = (StrataText){0};
        strata_set_error("%s: out of memory", fn);
        return NULL;
    }
    char *s = text->data;
    *text = (StrataText){0};
    return s;
}

void strata_text_clear(StrataText *text)
{
    strata_free(text->data);
    *text = (StrataText){0};
}

char *strata_strdup(const char *s)
{
    STRATA_CHECK_ARG(s, NULL);
    size_t n = strlen(s) + 1;
    char *copy = strata_malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}
