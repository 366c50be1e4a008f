/*
 * print.c - tensor_repr(): PyTorch's text for a tensor, character for character.
 *
 * This follows torch/_tensor_str.py with its default print options (precision 4,
 * threshold 1000, edgeitems 3, linewidth 80):
 *  - one formatter for the whole tensor, chosen from the values that are shown:
 *    integers only -> "1.", large ranges or tiny values -> "1.0000e-05",
 *    otherwise "1.2346"; every entry is right-aligned to the widest;
 *  - rows wrap at 80 columns; nested dims are separated by "," and dim-1 newlines;
 *  - over 1000 elements, each dim longer than 6 shows its first and last 3 entries
 *    around "...".
 * Printing is part of week 1 (write it early: it is how you look at your tensors).
 */
#include "tensor_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRINT_PRECISION 4
#define PRINT_THRESHOLD 1000
#define PRINT_EDGEITEMS 3
#define PRINT_LINEWIDTH 80

/* SOLUTION BEGIN week=1 step=11 tier=stretch */
/* Pad with @p n spaces (none if n <= 0: "%*s" would read a negative width as
 * left-justify). tensor_repr's text is a StrataText (tensor_internal.h), freed with
 * strata_free() like every string strata returns. */
static void text_spaces(StrataText *t, int n)
{
    if (n > 0)
        strata_text_printf(t, "%*s", n, "");
}

/* ----------------------------------------------------------------- the formatter --- */

typedef struct Formatter {
    bool int_mode; /* every shown finite value is an integer: "3." */
    bool sci_mode; /* "3.0000e+00" */
    int width;     /* entries are right-aligned to this width */
} Formatter;

/* One value as PyTorch writes it, before alignment. */
static void format_raw(const Formatter *f, double v, char *out, size_t size)
{
    if (isnan(v))
        snprintf(out, size, "nan");
    else if (isinf(v))
        snprintf(out, size, v > 0 ? "inf" : "-inf");
    else if (f->sci_mode)
        snprintf(out, size, "%.*e", PRINT_PRECISION, v);
    else if (f->int_mode)
        snprintf(out, size, "%.0f.", v);
    else
        snprintf(out, size, "%.*f", PRINT_PRECISION, v);
}

/* Choose the formatter from the values shown (PyTorch's _Formatter). */
static Formatter make_formatter(const float *values, int64_t n)
{
    Formatter f = {true, false, 1};
    double lo = INFINITY, hi = 0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v) || v == 0)
            continue;
        count++;
        lo = fabs(v) < lo ? fabs(v) : lo;
        hi = fabs(v) > hi ? fabs(v) : hi;
        if (v != ceil(v))
            f.int_mode = false;
    }
    if (count == 0)
        return f;
    f.sci_mode = hi / lo > 1000.0 || hi > 1.0e8 || (!f.int_mode && lo < 1.0e-4);
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v) || v == 0)
            continue;
        format_raw(&f, v, buf, sizeof buf);
        int len = (int)strlen(buf);
        f.width = len > f.width ? len : f.width;
    }
    return f;
}

static void put_value(StrataText *t, const Formatter *f, float v)
{
    char buf[64];
    format_raw(f, v, buf, sizeof buf);
    text_spaces(t, f->width - (int)strlen(buf));
    strata_text_printf(t, "%s", buf);
}

/* ------------------------------------------------------------------- the layout --- */

/*
 * Which indices of a dim of @p size are shown: all, or the first and last
 * PRINT_EDGEITEMS when summarizing. Returns how many; -1 in @p idx marks "...".
 */
static int shown_indices(int64_t size, bool summarize, int64_t *idx)
{
    if (!summarize || size <= 2 * PRINT_EDGEITEMS)
        return -1; /* every index: the caller loops 0..size-1 */
    int n = 0;
    for (int i = 0; i < PRINT_EDGEITEMS; i++)
        idx[n++] = i;
    idx[n++] = -1;
    for (int i = PRINT_EDGEITEMS; i > 0; i--)
        idx[n++] = size - i;
    return n;
}

/* Gather the values that will be shown (PyTorch's get_summarized_data). */
static void collect_shown(const Tensor *t, int d, const float *base, bool summarize,
                          float *out, int64_t *n)
{
    if (d == t->ndim) {
        out[(*n)++] = *base;
        return;
    }
    int64_t idx[2 * PRINT_EDGEITEMS + 1];
    int k = shown_indices(t->shape[d], summarize, idx);
    int64_t count = k < 0 ? t->shape[d] : k;
    for (int64_t i = 0; i < count; i++) {
        int64_t at = k < 0 ? i : idx[i];
        if (at >= 0)
            collect_shown(t, d + 1, base + at * t->strides[d], summarize, out, n);
    }
}

/* The last dim: entries separated by ", ", wrapped to the line width. */
static void put_vector(StrataText *out, const Tensor *t, const float *base, int indent,
                       bool summarize, const Formatter *f)
{
    int d = t->ndim - 1;
    int per_line = (PRINT_LINEWIDTH - indent) / (f->width + 2);
    if (per_line < 1)
        per_line = 1;
    int64_t idx[2 * PRINT_EDGEITEMS + 1];
    int k = shown_indices(t->shape[d], summarize, idx);
    int64_t count = k < 0 ? t->shape[d] : k;
    strata_text_printf(out, "[");
    for (int64_t i = 0; i < count; i++) {
        if (i > 0) {
            strata_text_printf(out, ",");
            if (i % per_line == 0) {
                strata_text_printf(out, "\n");
                text_spaces(out, indent + 1);
            } else {
                strata_text_printf(out, " ");
            }
        }
        int64_t at = k < 0 ? i : idx[i];
        if (at < 0)
            strata_text_printf(out, " ...");
        else
            put_value(out, f, base[at * t->strides[d]]);
    }
    strata_text_printf(out, "]");
}

/* Dim @p d and everything inside it, starting at @p base. */
static void put_dims(StrataText *out, const Tensor *t, int d, const float *base, int indent,
                     bool summarize, const Formatter *f)
{
    if (d == t->ndim - 1) {
        put_vector(out, t, base, indent, summarize, f);
        return;
    }
    int64_t idx[2 * PRINT_EDGEITEMS + 1];
    int k = shown_indices(t->shape[d], summarize, idx);
    int64_t count = k < 0 ? t->shape[d] : k;
    int inner_dims = t->ndim - d; /* the dim count of the slices joined here */
    strata_text_printf(out, "[");
    for (int64_t i = 0; i < count; i++) {
        if (i > 0) {
            strata_text_printf(out, ",");
            for (int nl = 0; nl < inner_dims - 1; nl++)
                strata_text_printf(out, "\n");
            text_spaces(out, indent + 1);
        }
        int64_t at = k < 0 ? i : idx[i];
        if (at < 0)
            strata_text_printf(out, "...");
        else
            put_dims(out, t, d + 1, base + at * t->strides[d], indent + 1, summarize, f);
    }
    strata_text_printf(out, "]");
}

/* ", size=(0, 3)" for empty tensors that are not 1-D, as Python prints a tuple. */
static void put_size_suffix(StrataText *out, const Tensor *t)
{
    strata_text_printf(out, ", size=(");
    for (int d = 0; d < t->ndim; d++)
        strata_text_printf(out, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    strata_text_printf(out, t->ndim == 1 ? ",)" : ")");
}
/* SOLUTION END */

char *tensor_repr(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=11 tier=stretch fail=NULL */
    StrataText out = {0};
    const int indent = 7; /* strlen("tensor(") */
    strata_text_printf(&out, "tensor(");
    int64_t numel = tensor_numel(t);
    if (numel == 0) {
        strata_text_printf(&out, "[]");
        if (t->ndim != 1)
            put_size_suffix(&out, t);
    } else {
        bool summarize = numel > PRINT_THRESHOLD;
        /* Room for the shown values only: at most 2 * PRINT_EDGEITEMS per long dim. */
        int64_t room = 1;
        for (int d = 0; d < t->ndim; d++)
            room *= summarize && t->shape[d] > 2 * PRINT_EDGEITEMS ? 2 * PRINT_EDGEITEMS
                                                                   : t->shape[d];
        float *shown = strata_malloc((size_t)room * sizeof(float));
        if (!shown) {
            strata_text_clear(&out);
            strata_set_error("tensor_repr: out of memory");
            return NULL;
        }
        int64_t n = 0;
        collect_shown(t, 0, t->data, summarize, shown, &n);
        Formatter f = make_formatter(shown, n);
        strata_free(shown);
        if (t->ndim == 0)
            put_value(&out, &f, t->data[0]);
        else
            put_dims(&out, t, 0, t->data, indent, summarize, &f);
    }
    strata_text_printf(&out, ")");
    return strata_text_finish(&out, __func__); /* NULL + "tensor_repr: out of memory" */
    /* SOLUTION END */
}

int tensor_fprint(FILE *stream, const Tensor *t)
{
    STRATA_CHECK_ARG(stream, -1);
    /* SOLUTION BEGIN week=1 step=11 tier=stretch fail=-1 */
    char *s = tensor_repr(t);
    if (!s)
        return -1;
    int status = fprintf(stream, "%s\n", s) < 0 ? -1 : 0;
    strata_free(s);
    if (status < 0)
        strata_set_error("tensor_fprint: could not write to the stream");
    return status;
    /* SOLUTION END */
}

int tensor_print(const Tensor *t)
{
    return tensor_fprint(stdout, t);
}
