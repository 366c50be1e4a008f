/*
 * csv.c - the CSV dataset: numeric columns of a text file, chosen as inputs and targets.
 */
#include "data.h"
#include "data_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

/* ------------------------------------------------------------------ CSV dataset --- */

/* SOLUTION BEGIN week=4 step=9 tier=stretch */
/* Split @p line in place at @p delim into at most @p max fields (trimmed); returns the
 * number of fields found (which may exceed max: the rest are counted, not stored). */
static int split_fields(char *line, char delim, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *end = strchr(p, delim);
        if (end)
            *end = '\0';
        while (isspace((unsigned char)*p))
            p++;
        char *q = p + strlen(p);
        while (q > p && isspace((unsigned char)q[-1]))
            *--q = '\0';
        if (n < max)
            fields[n] = p;
        n++;
        if (!end)
            return n;
        p = end + 1;
    }
}

static bool blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}
/* SOLUTION END */

Dataset *data_csv_load(const char *path, const DataCsvOptions *opts)
{
    STRATA_CHECK_ARG(path, NULL);
    /* SOLUTION BEGIN week=4 step=9 tier=stretch fail=NULL */
    DataCsvOptions o = {NULL, -1, ','};
    if (opts)
        o = *opts;
    if (o.delimiter == '\0')
        o.delimiter = ',';
    FILE *f = strata_fopen(path, "r");
    if (!f) {
        strata_set_error("%s: cannot open %s: %s", __func__, path, strerror(errno));
        return NULL;
    }
    char *line = NULL, **fields = NULL, **names = NULL;
    size_t cap = 0;
    float *values = NULL;
    int64_t rows = 0, rows_cap = 0;
    int ncols = 0, label = -1;
    long lineno = 0;
    Dataset *ds = NULL;
    ssize_t len;
    /* the header */
    while ((len = strata_getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (!blank(line))
            break;
    }
    if (len == -2) {
        strata_set_error("%s: cannot read %s: %s", __func__, path, strerror(errno));
        goto done;
    }
    if (len < 0) {
        strata_set_error("%s: %s is empty (no header line)", __func__, path);
        goto done;
    }
    line[strcspn(line, "\r\n")] = '\0';
    {
        /* count the fields on one copy (split_fields cuts its input), keep another */
        char *count = strdup(line), *copy = strdup(line);
        if (count && copy) {
            ncols = split_fields(count, o.delimiter, NULL, 0);
            fields = strata_calloc((size_t)ncols, sizeof(char *));
            names = strata_calloc((size_t)ncols, sizeof(char *));
        }
        if (fields && names) {
            split_fields(copy, o.delimiter, fields, ncols);
            for (int c = 0; c < ncols; c++)
                names[c] = strdup(fields[c]);
        }
        free(count);
        free(copy);
        if (!fields || !names) {
            strata_set_error("%s: out of memory reading %s", __func__, path);
            goto done;
        }
    }
    if (ncols < 2) {
        strata_set_error("%s: %s: the header has %d column (need a label and at least one "
                         "feature)", __func__, path, ncols);
        goto done;
    }
    if (o.label_column) {
        for (int c = 0; c < ncols && label < 0; c++)
            if (names[c] && strcmp(names[c], o.label_column) == 0)
                label = c;
        if (label < 0) {
            strata_set_error("%s: %s: no column named '%s' in the header", __func__, path,
                             o.label_column);
            goto done;
        }
    } else {
        label = o.label_index < 0 ? ncols + o.label_index : o.label_index;
        if (label < 0 || label >= ncols) {
            strata_set_error("%s: %s: label column %d out of range (%d columns)", __func__, path,
                             o.label_index, ncols);
            goto done;
        }
    }
    /* the rows */
    while ((len = strata_getline(&line, &cap, f)) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (blank(line))
            continue;
        int got = split_fields(line, o.delimiter, fields, ncols);
        if (got != ncols) {
            strata_set_error("%s: %s: line %ld: %d fields, expected %d", __func__, path, lineno,
                             got, ncols);
            goto done;
        }
        if (rows == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 256;
            float *grown = strata_realloc(values, sizeof(float) * (size_t)(rows_cap * ncols));
            if (!grown)
                goto done;
            values = grown;
        }
        for (int c = 0; c < ncols; c++) {
            char *end = NULL;
            errno = 0;
            float v = strtof(fields[c], &end);
            if (fields[c][0] == '\0' || *end != '\0' || errno == ERANGE) {
                strata_set_error("%s: %s: line %ld, column '%s': '%s' is not a number", __func__,
                                 path, lineno, names[c] ? names[c] : "?", fields[c]);
                goto done;
            }
            values[rows * ncols + c] = v;
        }
        rows++;
    }
    if (len == -2) { /* a read error is not the end of the file */
        strata_set_error("%s: cannot read %s after line %ld: %s", __func__, path, lineno,
                         strerror(errno));
        goto done;
    }
    if (rows == 0) {
        strata_set_error("%s: %s has a header but no data rows", __func__, path);
        goto done;
    }
    {
        Scope *s = scope_begin();
        Tensor *x = tensor_empty((int64_t[]){rows, ncols - 1}, 2);
        Tensor *y = x ? tensor_empty(&rows, 1) : NULL;
        if (y) {
            for (int64_t r = 0; r < rows; r++) {
                int k = 0;
                for (int c = 0; c < ncols; c++) {
                    float v = values[r * ncols + c];
                    if (c == label)
                        y->data[r] = v;
                    else
                        x->data[r * (ncols - 1) + k++] = v;
                }
            }
            ds = data_tensor_dataset_new(x, y);
        }
        scope_end(s);
    }
done:
    for (int c = 0; names && c < ncols; c++)
        free(names[c]);
    strata_free(names);
    strata_free(fields);
    strata_free(values);
    free(line);
    fclose(f);
    return ds;
    /* SOLUTION END */
}
