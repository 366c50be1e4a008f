/*
 * log.c - the per-epoch metrics CSV and its plot (gnuplot, when installed).
 *
 * The log is a CSV file with a fixed header (TRAIN_LOG_HEADER) and one row per epoch:
 * plain text that a spreadsheet, a plotting tool or `column -s, -t` reads as it is. Each
 * row is flushed as soon as it is written, so a run that dies keeps every finished
 * epoch's row; unlike checkpoints, the log is appended to, not rewritten, except when a
 * resumed run cuts it back to its checkpoint (train_log_resume).
 */
#include "train.h"
#include "optim_internal.h"
#include "train_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ metrics CSV --- */

struct TrainLog {
    FILE *file; /* opened for writing (a new log) or appending (a resumed one) */
};

#define TRAIN_LOG_HEADER "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n"

TrainLog *train_log_open(const char *path)
{
    STRATA_CHECK_ARG(path, NULL);
    TrainLog *log = strata_calloc(1, sizeof *log);
    if (!log)
        return NULL;
    FILE *f = strata_fopen(path, "w"); /* a new run starts a new log: "w" truncates */
    if (!f) {
        strata_set_error("train_log_open: cannot create %s: %s", path, strerror(errno));
        strata_free(log);
        return NULL;
    }
    static const char header[] = TRAIN_LOG_HEADER;
    if (strata_fwrite(header, sizeof header - 1, f) < 0 || strata_fflush(f) != 0) {
        /* a log that cannot take its header would lose every line after it */
        strata_set_error("train_log_open: cannot write %s: %s", path, strerror(errno));
        strata_fclose(f); /* already failing: the write's message is the one to keep */
        remove(path);
        strata_free(log);
        return NULL;
    }
    log->file = f;
    return log;
}

TrainLog *train_log_resume(const char *path, int64_t epochs)
{
    STRATA_CHECK_ARG(path, NULL);
    if (epochs < 0) {
        strata_set_error("%s: epochs %" PRId64 " < 0", __func__, epochs);
        return NULL;
    }
    FILE *in = strata_fopen(path, "r");
    if (!in && errno == ENOENT) /* nothing recorded yet: a new log */
        return train_log_open(path);
    if (!in) {
        strata_set_error("%s: cannot read %s: %s", __func__, path, strerror(errno));
        return NULL;
    }
    /* Keep the header and the rows of epochs 1..epochs; drop later rows (an interrupted
     * run may have logged epochs that the checkpoint does not have). Written to a
     * temporary file and renamed, so a failure leaves the old log as it was. */
    char tmp[4096];
    TrainLog *log = NULL;
    FILE *out = NULL;
    char *line = NULL;
    size_t cap = 0;
    ptrdiff_t len = strata_getline(&line, &cap, in);
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        strata_set_error("%s: path too long", __func__);
        goto fail;
    }
    if (len == -2) {
        strata_set_error("%s: cannot read %s: %s", __func__, path, strata_strerror(errno));
        goto fail;
    }
    if (len < 0 || strcmp(line, TRAIN_LOG_HEADER) != 0) {
        strata_set_error("%s: %s is not a metrics log of train_log_open() (its first line "
                         "is not the header \"epoch,train_loss,...\"); it was left as it is",
                         __func__, path);
        goto fail;
    }
    if (!(log = strata_calloc(1, sizeof *log)))
        goto fail;
    if (!(out = strata_fopen(tmp, "w"))) {
        strata_set_error("%s: cannot create %s: %s", __func__, tmp, strerror(errno));
        goto fail;
    }
    /* The header, then the rows to keep: a row whose first field is not an epoch number
     * in 1..epochs is dropped (a later epoch, or a line that is not a row). */
    int rc = strata_fwrite(line, (size_t)len, out);
    while (rc == 0 && (len = strata_getline(&line, &cap, in)) > 0) {
        char *end = NULL;
        long long e = strtoll(line, &end, 10);
        if (end != line && *end == ',' && e >= 1 && e <= epochs)
            rc = strata_fwrite(line, (size_t)len, out);
    }
    if (rc < 0 || len == -2 || strata_fflush(out) != 0) {
        strata_set_error("%s: cannot rewrite %s: %s", __func__, path, strata_strerror(errno));
        goto fail;
    }
    FILE *done = out;
    out = NULL;
    if (strata_fclose(done) != 0 || strata_rename(tmp, path) != 0) {
        strata_set_error("%s: cannot rewrite %s: %s", __func__, path, strerror(errno));
        remove(tmp);
        goto fail;
    }
    /* The kept rows are in place; new epochs are appended after them. */
    if (!(log->file = strata_fopen(path, "a"))) {
        strata_set_error("%s: cannot append to %s: %s", __func__, path, strerror(errno));
        goto fail;
    }
    strata_free(line);
    strata_fclose(in);
    return log;
fail:
    if (out) {
        strata_fclose(out);
        remove(tmp);
    }
    strata_free(line);
    strata_fclose(in);
    strata_free(log);
    return NULL;
}

int train_log_append(TrainLog *log, int64_t epoch, const TrainStats *train,
                     const TrainStats *test, float lr, double seconds)
{
    STRATA_CHECK_ARG(log, -1);
    double nan = NAN; /* a missing train or test part is written as nan */
    char line[512];
    int n = snprintf(line, sizeof line, "%" PRId64 ",%.6f,%.6f,%.6f,%.6f,%.9g,%.3f\n", epoch,
                     train ? train->loss : nan, train ? train->accuracy : nan,
                     test ? test->loss : nan, test ? test->accuracy : nan, (double)lr, seconds);
    if (n < 0 || (size_t)n >= sizeof line || strata_fwrite(line, (size_t)n, log->file) < 0 ||
        strata_fflush(log->file) != 0) {
        strata_set_error("train_log_append: cannot write the metrics file: %s",
                         strerror(errno));
        return -1;
    }
    return 0;
}

void train_log_close(TrainLog *log)
{
    if (!log)
        return;
    /* Plain fclose, not strata_fclose: every line was flushed by train_log_append, so
     * the close loses nothing, and a function returning void could not report a fault
     * injected here (the fault walks require every failing file call to be seen). */
    fclose(log->file);
    strata_free(log);
}

/* Whether an executable @p name is on PATH: the plot is optional, and a missing gnuplot
 * is reported as "not plotted" (1), not as an error. */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char buf[4096];
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len + strlen(name) + 2 < sizeof buf) {
            memcpy(buf, path, len);
            buf[len] = '/';
            strcpy(buf + len + 1, name);
            if (access(buf, X_OK) == 0)
                return true;
        }
        path += len + (end ? 1 : 0);
    }
    return false;
}

/* Whether @p path holds a line break, which would end its quoted name in gnuplot's
 * script and start a command there. */
static bool has_line_break(const char *path)
{
    return strchr(path, '\n') || strchr(path, '\r');
}

/* Whether gnuplot would take @p path for a shell command: it reads a name starting with
 * '<' from one ("plot '<cmd'") and writes a name starting with '|' to one ("set output
 * '|cmd'"). */
static bool names_a_command(const char *path)
{
    return path[0] == '<' || path[0] == '|';
}

int train_plot_csv(const char *csv, const char *png)
{
    STRATA_CHECK_ARG(csv, -1);
    STRATA_CHECK_ARG(png, -1);
    /* Refused rather than escaped: gnuplot's single-quoted names have no escapes. */
    if (strchr(csv, '\'') || strchr(png, '\'')) {
        strata_set_error("%s: paths with quotes are not supported ('%s', '%s')", __func__, csv,
                         png);
        return -1;
    }
    if (has_line_break(csv) || has_line_break(png)) {
        strata_set_error("%s: a path holding a line break is not supported (gnuplot would "
                         "run the rest of the line as a command)", __func__);
        return -1;
    }
    if (names_a_command(csv) || names_a_command(png)) {
        strata_set_error("%s: gnuplot would run '%s' as a command (a path starting with '<' "
                         "or '|'; \"./%s\" names a file)", __func__,
                         names_a_command(csv) ? csv : png, names_a_command(csv) ? csv : png);
        return -1;
    }
    /* gnuplot says little about a file it cannot plot: check for epochs here. */
    FILE *in = strata_fopen(csv, "r");
    if (!in) {
        strata_set_error("%s: cannot read %s: %s", __func__, csv, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    ptrdiff_t len = 0;
    while (lines < 2 && (len = strata_getline(&line, &cap, in)) >= 0)
        lines++;
    strata_free(line);
    strata_fclose(in);
    if (lines < 2 && len == -2) {
        strata_set_error("%s: cannot read %s: %s", __func__, csv, strata_strerror(errno));
        return -1;
    }
    if (lines < 2) {
        strata_set_error("%s: %s has no epochs to plot (%s)", __func__, csv,
                         lines ? "only the header" : "it is empty");
        return -1;
    }
    if (!on_path("gnuplot"))
        return 1;
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) {
        strata_set_error("%s: cannot run gnuplot", __func__);
        return -1;
    }
    fprintf(g,
            "set terminal png size 1000,400\n"
            "set output '%s'\n"
            "set datafile separator ','\n"
            "set key autotitle columnhead\n"
            "set multiplot layout 1,2\n"
            "set xlabel 'epoch'\n"
            "set title 'loss'\n"
            "plot '%s' using 1:2 with linespoints title 'train', '' using 1:4 with "
            "linespoints title 'test'\n"
            "set title 'accuracy'\n"
            "plot '%s' using 1:3 with linespoints title 'train', '' using 1:5 with "
            "linespoints title 'test'\n"
            "unset multiplot\n",
            png, csv, csv);
    int status = pclose(g);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        strata_set_error("%s: gnuplot failed to plot %s into %s", __func__, csv, png);
        return -1;
    }
    return 0;
}
