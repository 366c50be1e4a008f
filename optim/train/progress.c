/*
 * progress.c - the progress bar: rate, loss and ETA redrawn in place on a terminal,
 * plain lines elsewhere.
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

double train_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --------------------------------------------------------------------- progress --- */

struct TrainProgress {
    FILE *stream;
    bool tty;
    int64_t total;
    int64_t every;
    int64_t last_line; /* items at the last plain line */
    double start;
    double last_draw;
    double loss;
    int64_t done;
    char label[64];
};

TrainProgress *train_progress_begin(FILE *stream, int64_t total, const char *label,
                                    int64_t every)
{
    STRATA_CHECK_ARG(stream, NULL);
    TrainProgress *p = strata_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->stream = stream;
    p->tty = isatty(fileno(stream)) == 1;
    p->total = total > 0 ? total : 0;
    p->every = every > 0 ? every : 100;
    p->start = train_now_seconds();
    p->last_draw = -1.0;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    return p;
}

static void format_duration(char *buf, size_t size, double seconds)
{
    if (!(seconds >= 0.0) || seconds > 359999.0) {
        snprintf(buf, size, "?");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

static void progress_draw(TrainProgress *p, double t)
{
    double elapsed = t - p->start;
    double rate = elapsed > 0.0 ? (double)p->done / elapsed : 0.0;
    char eta[32];
    format_duration(eta, sizeof eta,
                    rate > 0.0 && p->total ? (double)(p->total - p->done) / rate : -1.0);
    if (p->tty) {
        enum { WIDTH = 30 };
        char bar[WIDTH + 1];
        int filled = p->total ? (int)((double)WIDTH * (double)p->done / (double)p->total) : 0;
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        bar[WIDTH] = '\0';
        fprintf(p->stream, "\r%s [%s] %" PRId64 "/%" PRId64 " %.1f it/s loss %.4f ETA %s\033[K",
                p->label, bar, p->done, p->total, rate, p->loss, eta);
    } else {
        fprintf(p->stream, "%s %" PRId64 "/%" PRId64 " %.1f it/s loss %.4f ETA %s\n", p->label,
                p->done, p->total, rate, p->loss, eta);
    }
    fflush(p->stream);
}

void train_progress_update(TrainProgress *p, int64_t done, double loss)
{
    if (!p)
        return;
    p->done = done;
    p->loss = loss;
    double t = train_now_seconds();
    if (p->tty) {
        if (t - p->last_draw >= 0.1 || done == p->total) {
            progress_draw(p, t);
            p->last_draw = t;
        }
    } else if (done - p->last_line >= p->every) {
        progress_draw(p, t);
        p->last_line = done;
    }
}

void train_progress_end(TrainProgress *p)
{
    if (!p)
        return;
    if (p->tty) {
        progress_draw(p, train_now_seconds());
        fputc('\n', p->stream);
        fflush(p->stream);
    }
    strata_free(p);
}
