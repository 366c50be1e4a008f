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

/*
 * What data_csv_load() holds while it reads: the file, the current line, the header's
 * columns and the values read so far. Its phases (read_header, find_label, read_rows,
 * make_dataset) each fill a part and report failures for data_csv_load (r->fn);
 * csv_close() frees whatever was filled, so every phase can simply return -1. The file
 * is closed by data_csv_load itself, between reading and building, so that a failed
 * close fails the load before a dataset exists.
 */
typedef struct CsvReader {
    const char *fn;   /* the public function, for messages */
    const char *path;
    FILE *f;
    char delim;
    char *line;       /* the current line (strata_getline's buffer) */
    size_t cap;
    long lineno;      /* 1-based number of the current line, for messages */
    int ncols;        /* columns of the header; every row must have as many */
    char **fields;    /* ncols pointers into line: the current row, split */
    char **names;     /* ncols column names (owned copies: line is reused) */
    float *values;    /* rows x ncols, row-major, everything read so far */
    int64_t rows, rows_cap;
} CsvReader;

static void csv_close(CsvReader *r)
{
    for (int c = 0; r->names && c < r->ncols; c++)
        strata_free(r->names[c]);
    strata_free(r->names);
    strata_free(r->fields);
    strata_free(r->values);
    strata_free(r->line);
    if (r->f)
        strata_fclose(r->f); /* a phase failed: its message is the one that counts */
}

/* Phase 1: the first non-blank line names the columns; it fixes ncols. */
static int read_header(CsvReader *r)
{
    ptrdiff_t len;
    while ((len = strata_getline(&r->line, &r->cap, r->f)) >= 0) {
        r->lineno++;
        if (!blank(r->line))
            break;
    }
    if (len == -2) {
        strata_set_error("%s: cannot read %s: %s", r->fn, r->path, strata_strerror(errno));
        return -1;
    }
    if (len < 0) {
        strata_set_error("%s: %s is empty (no header line)", r->fn, r->path);
        return -1;
    }
    r->line[strcspn(r->line, "\r\n")] = '\0';
    /* Count the fields on one copy (split_fields cuts its input), keep another whose
     * pieces are copied into names (the line buffer is reused for the rows). */
    char *count = strata_strdup(r->line), *copy = strata_strdup(r->line);
    if (count && copy) {
        r->ncols = split_fields(count, r->delim, NULL, 0);
        r->fields = strata_calloc((size_t)r->ncols, sizeof(char *));
        r->names = strata_calloc((size_t)r->ncols, sizeof(char *));
    }
    bool named = r->fields && r->names;
    if (named) {
        split_fields(copy, r->delim, r->fields, r->ncols);
        for (int c = 0; c < r->ncols; c++)
            named = (r->names[c] = strata_strdup(r->fields[c])) != NULL && named;
    }
    strata_free(count);
    strata_free(copy);
    if (!named) {
        strata_set_error("%s: out of memory reading %s", r->fn, r->path);
        return -1;
    }
    if (r->ncols < 2) {
        strata_set_error("%s: %s: the header has %d column (need a label and at least one "
                         "feature)", r->fn, r->path, r->ncols);
        return -1;
    }
    return 0;
}

/* Phase 2: the label column, by name or by (possibly negative) index; -1 if none. */
static int find_label(const CsvReader *r, const DataCsvOptions *o)
{
    if (o->label_column) {
        for (int c = 0; c < r->ncols; c++)
            if (strcmp(r->names[c], o->label_column) == 0)
                return c;
        strata_set_error("%s: %s: no column named '%s' in the header", r->fn, r->path,
                         o->label_column);
        return -1;
    }
    int label = o->label_index < 0 ? r->ncols + o->label_index : o->label_index;
    if (label < 0 || label >= r->ncols) {
        strata_set_error("%s: %s: label column %d out of range (%d columns)", r->fn, r->path,
                         o->label_index, r->ncols);
        return -1;
    }
    return label;
}

/* Phase 3: every non-blank line after the header is a row of ncols numbers. */
static int read_rows(CsvReader *r)
{
    ptrdiff_t len;
    while ((len = strata_getline(&r->line, &r->cap, r->f)) >= 0) {
        r->lineno++;
        r->line[strcspn(r->line, "\r\n")] = '\0';
        if (blank(r->line))
            continue;
        int got = split_fields(r->line, r->delim, r->fields, r->ncols);
        if (got != r->ncols) {
            strata_set_error("%s: %s: line %ld: %d fields, expected %d", r->fn, r->path,
                             r->lineno, got, r->ncols);
            return -1;
        }
        if (r->rows == r->rows_cap) { /* doubling: O(rows) copies in all */
            int64_t rows_cap = r->rows_cap ? 2 * r->rows_cap : 256;
            float *grown = strata_realloc(r->values, sizeof(float) * (size_t)(rows_cap * r->ncols));
            if (!grown)
                return -1; /* strata_realloc's message says "out of memory" */
            r->values = grown;
            r->rows_cap = rows_cap;
        }
        for (int c = 0; c < r->ncols; c++) {
            char *end = NULL;
            errno = 0;
            float v = strtof(r->fields[c], &end);
            if (r->fields[c][0] == '\0' || *end != '\0' || errno == ERANGE) {
                strata_set_error("%s: %s: line %ld, column '%s': '%s' is not a number", r->fn,
                                 r->path, r->lineno, r->names[c], r->fields[c]);
                return -1;
            }
            r->values[r->rows * r->ncols + c] = v;
        }
        r->rows++;
    }
    if (len == -2) { /* a read error is not the end of the file */
        strata_set_error("%s: cannot read %s after line %ld: %s", r->fn, r->path, r->lineno,
                         strata_strerror(errno));
        return -1;
    }
    if (r->rows == 0) {
        strata_set_error("%s: %s has a header but no data rows", r->fn, r->path);
        return -1;
    }
    return 0;
}

/* Phase 4: the label column becomes y [rows], the others x [rows, ncols - 1]. */
static Dataset *make_dataset(const CsvReader *r, int label)
{
    Scope *s = scope_begin();
    Dataset *ds = NULL;
    int64_t rows = r->rows;
    Tensor *x = tensor_empty((int64_t[]){rows, r->ncols - 1}, 2);
    Tensor *y = x ? tensor_empty(&rows, 1) : NULL;
    if (y) {
        for (int64_t i = 0; i < rows; i++) {
            const float *row = r->values + i * r->ncols;
            float *xi = x->data + i * (r->ncols - 1);
            for (int c = 0; c < r->ncols; c++) {
                if (c == label)
                    y->data[i] = row[c];
                else
                    *xi++ = row[c];
            }
        }
        ds = data_tensor_dataset_new(x, y); /* retains x and y past the scope */
    }
    scope_end(s);
    return ds;
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
    CsvReader r = {.fn = __func__, .path = path, .delim = o.delimiter};
    r.f = strata_fopen(path, "r");
    if (!r.f) {
        strata_set_error("%s: cannot open %s: %s", __func__, path, strerror(errno));
        return NULL;
    }
    Dataset *ds = NULL;
    int label = read_header(&r) < 0 ? -1 : find_label(&r, &o);
    if (label >= 0 && read_rows(&r) == 0) {
        /* Every row is read. Close the file through strata_fclose (as every file opened
         * by strata_fopen is closed, so the I/O fault injection counts it) before the
         * dataset is built: a close that fails is a read that failed, and nothing has
         * to be undone yet. */
        FILE *f = r.f;
        r.f = NULL;
        if (strata_fclose(f) != 0)
            strata_set_error("%s: cannot read %s: %s", __func__, path, strata_strerror(errno));
        else
            ds = make_dataset(&r, label);
    }
    csv_close(&r);
    return ds;
    /* SOLUTION END */
}
