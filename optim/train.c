/*
 * train.c - the training loop, evaluation, progress reporting, the metrics CSV and its
 * plot, and checkpoints.
 */
#include "optim.h"
#include "optim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------------- losses --- */

Var *train_cross_entropy_loss(Module *model, Var *x, const Tensor *y, void *ctx)
{
    (void)ctx;
    if (!model || !x || !y) {
        strata_error_null("train_cross_entropy_loss", !model ? "model" : !x ? "x" : "y");
        return NULL;
    }
    return nn_cross_entropy(nn_forward(model, x), y);
}

double train_accuracy(const Tensor *logits, const Tensor *targets)
{
    const char *fn = "train_accuracy";
    if (!logits || !targets) {
        strata_error_null(fn, !logits ? "logits" : "targets");
        return NAN;
    }
    if (logits->ndim != 2 || targets->ndim != 1 || targets->shape[0] != logits->shape[0]) {
        char a[128], b[128];
        strata_set_error("%s: need logits [B, C] and targets [B], got %s and %s", fn,
                         tensor_shape_str(logits, a, sizeof a),
                         tensor_shape_str(targets, b, sizeof b));
        return NAN;
    }
    /* SOLUTION BEGIN week=4 fail=NAN */
    int64_t rows = logits->shape[0], cols = logits->shape[1];
    if (rows == 0)
        return 0.0;
    int64_t correct = 0;
    for (int64_t i = 0; i < rows; i++) {
        const float *row = logits->data + i * logits->strides[0];
        int64_t best = 0;
        for (int64_t j = 1; j < cols; j++)
            if (row[j * logits->strides[1]] > row[best * logits->strides[1]])
                best = j;
        float t = targets->data[i * targets->strides[0]];
        correct += (float)best == t;
    }
    return (double)correct / (double)rows;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=4 */
/* Loss (and, for the default loss, accuracy count) of one (micro-)batch. */
static Var *batch_loss(Module *model, Var *x, const Tensor *y, TrainLossFn loss_fn,
                       void *ctx, int64_t *correct)
{
    if (loss_fn)
        return loss_fn(model, x, y, ctx);
    Var *logits = nn_forward(model, x);
    if (!logits)
        return NULL;
    double acc = train_accuracy(var_data(logits), y);
    if (isnan(acc))
        return NULL;
    *correct += (int64_t)llround(acc * (double)y->shape[0]);
    return nn_cross_entropy(logits, y);
}
/* SOLUTION END */

/* ------------------------------------------------------------------ train_epoch --- */

int train_epoch(Module *model, Optimizer *opt, DataLoader *loader, const TrainOptions *opts,
                TrainStats *stats)
{
    const char *fn = "train_epoch";
    if (!model || !opt || !loader) {
        strata_error_null(fn, !model ? "model" : !opt ? "opt" : "loader");
        return -1;
    }
    TrainOptions o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (o.micro_batch_size < 0 || o.clip_grad_norm < 0.0f) {
        strata_set_error("%s: negative micro_batch_size (%" PRId64 ") or clip_grad_norm (%g)",
                         fn, o.micro_batch_size, (double)o.clip_grad_norm);
        return -1;
    }
    /* SOLUTION BEGIN week=4 fail=-1 */
    double t0 = now_seconds();
    int64_t total_batches = data_loader_num_batches(loader);
    TrainProgress *progress = o.progress
        ? train_progress_begin(o.progress, total_batches, o.label ? o.label : "train",
                               o.log_every > 0 ? o.log_every : 100)
        : NULL;
    nn_train(model, true);
    double loss_sum = 0.0;
    int64_t examples = 0, batches = 0, correct = 0;
    int rc = 0;
    Batch b;
    while (rc == 0 && data_loader_next(loader, &b)) {
        Scope *s = scope_begin();
        optim_zero_grad(opt, true);
        int64_t micro = o.micro_batch_size > 0 ? o.micro_batch_size : b.size;
        double batch_loss_sum = 0.0;
        int64_t batch_correct = 0; /* counted only if the whole batch succeeds */
        for (int64_t start = 0; start < b.size && rc == 0; start += micro) {
            int64_t len = b.size - start < micro ? b.size - start : micro;
            Scope *ms = scope_begin();
            Var *x = b.x;
            const Tensor *y = b.y;
            if (len != b.size) {
                x = var_new(tensor_narrow(var_data(b.x), 0, start, len), false);
                y = tensor_narrow(b.y, 0, start, len);
            }
            /* Each micro-batch's mean loss, weighted by its share of the batch, sums to
             * the batch's mean loss: the accumulated gradient is the whole batch's. */
            Var *loss = x && y ? batch_loss(model, x, y, o.loss_fn, o.loss_ctx, &batch_correct) : NULL;
            float value = loss ? tensor_item(var_data(loss)) : NAN;
            if (loss && len != b.size)
                loss = var_mul_scalar(loss, (float)len / (float)b.size);
            if (!loss || isnan(value) || var_backward(loss) < 0) {
                if (loss && isnan(value))
                    strata_set_error("%s: the loss of batch %" PRId64 " is NaN", fn, b.index);
                rc = -1;
            }
            batch_loss_sum += (double)value * (double)len;
            scope_end(ms);
        }
        /* The gradients are complete: let the caller see them first (data-parallel
         * training averages them across ranks here), then clip and step. */
        if (rc == 0 && o.before_step && o.before_step(o.before_step_ctx) < 0)
            rc = -1;
        if (rc == 0 && o.clip_grad_norm > 0.0f) {
            float norm = optim_clip_grad_norm_opt(opt, o.clip_grad_norm);
            if (norm < 0.0f) {
                rc = -1;
            } else if (!isfinite(norm)) { /* a step now would write NaN into the weights */
                strata_set_error("%s: the gradient norm of batch %" PRId64 " is %g (NaN or "
                                 "infinite gradients; nothing was updated)", fn, b.index,
                                 (double)norm);
                rc = -1;
            }
        }
        if (rc == 0 && optim_step(opt) < 0)
            rc = -1;
        if (rc == 0 && o.step_scheduler && optim_scheduler_step(o.step_scheduler) < 0)
            rc = -1;
        scope_end(s);
        if (rc == 0) {
            loss_sum += batch_loss_sum;
            correct += batch_correct;
            examples += b.size;
            batches++;
            train_progress_update(progress, batches, loss_sum / (double)examples);
        }
    }
    if (rc == 0 && data_loader_failed(loader)) /* not the end of the epoch: an error */
        rc = -1;
    if (rc != 0) /* skip the rest of the epoch: the loader starts the next one */
        data_loader_set_epoch(loader, data_loader_epoch(loader) + 1);
    train_progress_end(progress);
    if (stats) {
        stats->loss = examples ? loss_sum / (double)examples : NAN;
        stats->accuracy = o.loss_fn || !examples ? NAN : (double)correct / (double)examples;
        stats->examples = examples;
        stats->batches = batches;
        stats->seconds = now_seconds() - t0;
    }
    return rc;
    /* SOLUTION END */
}

int train_evaluate(Module *model, DataLoader *loader, TrainLossFn loss_fn, void *loss_ctx,
                   TrainStats *stats)
{
    const char *fn = "train_evaluate";
    if (!model || !loader) {
        strata_error_null(fn, !model ? "model" : "loader");
        return -1;
    }
    /* SOLUTION BEGIN week=4 fail=-1 */
    double t0 = now_seconds();
    bool was_training = nn_is_training(model);
    nn_eval(model);
    autograd_no_grad_begin();
    double loss_sum = 0.0;
    int64_t examples = 0, batches = 0, correct = 0;
    int rc = 0;
    Batch b;
    while (rc == 0 && data_loader_next(loader, &b)) {
        Scope *s = scope_begin();
        int64_t batch_correct = 0;
        Var *loss = batch_loss(model, b.x, b.y, loss_fn, loss_ctx, &batch_correct);
        if (!loss) {
            rc = -1; /* the stats count the batches before this one */
        } else {
            loss_sum += (double)tensor_item(var_data(loss)) * (double)b.size;
            correct += batch_correct;
            examples += b.size;
            batches++;
        }
        scope_end(s);
    }
    autograd_no_grad_end();
    if (rc == 0 && data_loader_failed(loader))
        rc = -1;
    if (rc != 0)
        data_loader_set_epoch(loader, data_loader_epoch(loader) + 1);
    nn_train(model, was_training);
    if (stats) {
        stats->loss = examples ? loss_sum / (double)examples : NAN;
        stats->accuracy = loss_fn || !examples ? NAN : (double)correct / (double)examples;
        stats->examples = examples;
        stats->batches = batches;
        stats->seconds = now_seconds() - t0;
    }
    return rc;
    /* SOLUTION END */
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
    if (!stream) {
        strata_error_null("train_progress_begin", "stream");
        return NULL;
    }
    TrainProgress *p = strata_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->stream = stream;
    p->tty = isatty(fileno(stream)) == 1;
    p->total = total > 0 ? total : 0;
    p->every = every > 0 ? every : 100;
    p->start = now_seconds();
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
    double t = now_seconds();
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
        progress_draw(p, now_seconds());
        fputc('\n', p->stream);
        fflush(p->stream);
    }
    strata_free(p);
}

/* ------------------------------------------------------------------ metrics CSV --- */

struct TrainLog {
    FILE *file;
};

#define TRAIN_LOG_HEADER "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n"

TrainLog *train_log_open(const char *path)
{
    if (!path) {
        strata_error_null("train_log_open", "path");
        return NULL;
    }
    TrainLog *log = strata_calloc(1, sizeof *log);
    if (!log)
        return NULL;
    FILE *f = strata_fopen(path, "w");
    if (!f) {
        strata_set_error("train_log_open: cannot create %s: %s", path, strerror(errno));
        strata_free(log);
        return NULL;
    }
    static const char header[] = TRAIN_LOG_HEADER;
    if (strata_fwrite(header, sizeof header - 1, f) < 0 || strata_fflush(f) != 0) {
        /* a log that cannot take its header would lose every line after it */
        strata_set_error("train_log_open: cannot write %s: %s", path, strerror(errno));
        fclose(f);
        remove(path);
        strata_free(log);
        return NULL;
    }
    log->file = f;
    return log;
}

TrainLog *train_log_resume(const char *path, int64_t epochs)
{
    const char *fn = "train_log_resume";
    if (!path) {
        strata_error_null(fn, "path");
        return NULL;
    }
    if (epochs < 0) {
        strata_set_error("%s: epochs %" PRId64 " < 0", fn, epochs);
        return NULL;
    }
    FILE *in = strata_fopen(path, "r");
    if (!in && errno == ENOENT) /* nothing recorded yet: a new log */
        return train_log_open(path);
    if (!in) {
        strata_set_error("%s: cannot read %s: %s", fn, path, strerror(errno));
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
        strata_set_error("%s: path too long", fn);
        goto fail;
    }
    if (len == -2) {
        strata_set_error("%s: cannot read %s: %s", fn, path, strerror(errno));
        goto fail;
    }
    if (len < 0 || strcmp(line, TRAIN_LOG_HEADER) != 0) {
        strata_set_error("%s: %s is not a metrics log of train_log_open() (its first line "
                         "is not the header \"epoch,train_loss,...\"); it was left as it is",
                         fn, path);
        goto fail;
    }
    if (!(log = strata_calloc(1, sizeof *log)))
        goto fail;
    if (!(out = strata_fopen(tmp, "w"))) {
        strata_set_error("%s: cannot create %s: %s", fn, tmp, strerror(errno));
        goto fail;
    }
    int rc = strata_fwrite(line, (size_t)len, out);
    while (rc == 0 && (len = strata_getline(&line, &cap, in)) > 0) {
        char *end = NULL;
        long long e = strtoll(line, &end, 10);
        if (end != line && *end == ',' && e >= 1 && e <= epochs)
            rc = strata_fwrite(line, (size_t)len, out);
    }
    if (rc < 0 || len == -2 || strata_fflush(out) != 0) {
        strata_set_error("%s: cannot rewrite %s: %s", fn, path, strerror(errno));
        goto fail;
    }
    FILE *done = out;
    out = NULL;
    if (strata_fclose(done) != 0 || strata_rename(tmp, path) != 0) {
        strata_set_error("%s: cannot rewrite %s: %s", fn, path, strerror(errno));
        remove(tmp);
        goto fail;
    }
    if (!(log->file = strata_fopen(path, "a"))) {
        strata_set_error("%s: cannot append to %s: %s", fn, path, strerror(errno));
        goto fail;
    }
    free(line);
    strata_fclose(in);
    return log;
fail:
    if (out) {
        strata_fclose(out);
        remove(tmp);
    }
    free(line);
    strata_fclose(in);
    strata_free(log);
    return NULL;
}

int train_log_append(TrainLog *log, int64_t epoch, const TrainStats *train,
                     const TrainStats *test, float lr, double seconds)
{
    if (!log) {
        strata_error_null("train_log_append", "log");
        return -1;
    }
    double nan = NAN;
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
    fclose(log->file);
    strata_free(log);
}

/* Whether an executable @p name is on PATH. */
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

int train_plot_csv(const char *csv, const char *png)
{
    const char *fn = "train_plot_csv";
    if (!csv || !png) {
        strata_error_null(fn, !csv ? "csv" : "png");
        return -1;
    }
    if (strchr(csv, '\'') || strchr(png, '\'')) {
        strata_set_error("%s: paths with quotes are not supported ('%s', '%s')", fn, csv, png);
        return -1;
    }
    /* gnuplot says little about a file it cannot plot: check for epochs here. */
    FILE *in = strata_fopen(csv, "r");
    if (!in) {
        strata_set_error("%s: cannot read %s: %s", fn, csv, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    ptrdiff_t len = 0;
    while (lines < 2 && (len = strata_getline(&line, &cap, in)) >= 0)
        lines++;
    free(line);
    strata_fclose(in);
    if (lines < 2 && len == -2) {
        strata_set_error("%s: cannot read %s: %s", fn, csv, strerror(errno));
        return -1;
    }
    if (lines < 2) {
        strata_set_error("%s: %s has no epochs to plot (%s)", fn, csv,
                         lines ? "only the header" : "it is empty");
        return -1;
    }
    if (!on_path("gnuplot"))
        return 1;
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) {
        strata_set_error("%s: cannot run gnuplot", fn);
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
        strata_set_error("%s: gnuplot failed to plot %s into %s", fn, csv, png);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ checkpoints --- */

/* -1 with an error naming the first tensor of @p sd (keys shown with @p prefix) that
 * holds a NaN or an infinity; 0 when every value is finite. */
static int check_finite(const NnStateDict *sd, const char *prefix, const char *path)
{
    for (int i = 0; i < sd->num_tensors; i++) {
        Scope *s = scope_begin();
        Tensor *c = tensor_contiguous(sd->tensors[i]);
        int64_t n = c ? tensor_numel(c) : 0, bad = -1;
        for (int64_t k = 0; k < n && bad < 0; k++)
            if (!isfinite(c->data[k]))
                bad = k;
        float value = bad >= 0 ? c->data[bad] : 0.0f;
        scope_end(s);
        if (!c)
            return -1;
        if (bad >= 0) {
            strata_set_error("train_checkpoint_save: %s%s holds %g (element %" PRId64 " of %"
                             PRId64 "): a checkpoint with NaN or Inf would poison every run "
                             "that resumes from it, so nothing was written (%s is as it was)",
                             prefix, sd->names[i], (double)value, bad, n, path);
            return -1;
        }
    }
    return 0;
}

int train_checkpoint_save(const char *path, Module *model, const Optimizer *opt,
                          const LRScheduler *sched, int64_t epoch)
{
    const char *fn = "train_checkpoint_save";
    if (!path || !model || !opt) {
        strata_error_null(fn, !path ? "path" : !model ? "model" : "opt");
        return -1;
    }
    NnStateDict *msd = nn_state_dict(model);
    NnStateDict *osd = msd ? optim_state_dict(opt) : NULL;
    NnStateDict *all = osd ? nn_state_dict_new() : NULL;
    int rc = all ? 0 : -1;
    if (rc == 0)
        rc = check_finite(msd, "model.", path) < 0 || check_finite(osd, "optim.", path) < 0
                 ? -1 : 0;
    char key[512], value[64];
    for (int i = 0; rc == 0 && i < msd->num_tensors; i++) {
        snprintf(key, sizeof key, "model.%s", msd->names[i]);
        rc = nn_state_dict_set(all, key, msd->tensors[i]);
    }
    for (int i = 0; rc == 0 && i < osd->num_tensors; i++) {
        snprintf(key, sizeof key, "optim.%s", osd->names[i]);
        rc = nn_state_dict_set(all, key, osd->tensors[i]);
    }
    for (int i = 0; rc == 0 && i < osd->num_meta; i++) {
        snprintf(key, sizeof key, "optim.%s", osd->meta_keys[i]);
        rc = nn_state_dict_set_meta(all, key, osd->meta_values[i]);
    }
    if (rc == 0) {
        snprintf(value, sizeof value, "%" PRId64, epoch);
        rc = nn_state_dict_set_meta(all, "epoch", value);
    }
    if (rc == 0) {
        snprintf(value, sizeof value, "%" PRIu64, strata_rng_get_state());
        rc = nn_state_dict_set_meta(all, "rng_state", value);
    }
    if (rc == 0 && sched) {
        snprintf(value, sizeof value, "%" PRId64, optim_scheduler_epoch(sched));
        rc = nn_state_dict_set_meta(all, "scheduler_epoch", value);
    }
    if (rc == 0)
        rc = nn_safetensors_save(all, path);
    nn_state_dict_free(all);
    nn_state_dict_free(osd);
    nn_state_dict_free(msd);
    return rc;
}

/* Parse an integer metadata value. */
static int meta_i64(const NnStateDict *sd, const char *key, int64_t *out, const char *fn)
{
    const char *v = nn_state_dict_get_meta(sd, key);
    char *end = NULL;
    if (!v) {
        strata_set_error("%s: the checkpoint has no '%s'", fn, key);
        return -1;
    }
    long long x = strtoll(v, &end, 10);
    if (end == v || *end) {
        strata_set_error("%s: '%s' = '%s' is not an integer", fn, key, v);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

/* The model's part of a checkpoint, loaded between the optimizer's check and commit. */
typedef struct ModelLoad {
    Module *model;
    const NnStateDict *sd;
} ModelLoad;

static int load_model(void *ctx)
{
    const ModelLoad *load = ctx;
    return nn_load_state_dict(load->model, load->sd, true, NULL, NULL);
}

/* 1 when @p sd has exactly @p model's keys, with its shapes (what a strict
 * nn_load_state_dict() checks before it copies anything), 0 when not, -1 with an error
 * when the model's own state dict cannot be made. */
static int model_matches(Module *model, const NnStateDict *sd)
{
    NnStateDict *own = nn_state_dict(model);
    if (!own)
        return -1;
    bool ok = own->num_tensors == sd->num_tensors;
    for (int i = 0; ok && i < own->num_tensors; i++)
        ok = nn_state_dict_contains(sd, own->names[i]) &&
             tensor_same_shape(own->tensors[i], nn_state_dict_get(sd, own->names[i]));
    nn_state_dict_free(own);
    return ok ? 1 : 0;
}

int train_checkpoint_load(const char *path, Module *model, Optimizer *opt, LRScheduler *sched,
                          int64_t *epoch)
{
    const char *fn = "train_checkpoint_load";
    if (!path || !model || !opt) {
        strata_error_null(fn, !path ? "path" : !model ? "model" : "opt");
        return -1;
    }
    NnStateDict *all = nn_safetensors_load(path);
    if (!all)
        return -1;
    NnStateDict *msd = nn_state_dict_new(), *osd = nn_state_dict_new();
    int rc = msd && osd ? 0 : -1;
    for (int i = 0; rc == 0 && i < all->num_tensors; i++) {
        if (strncmp(all->names[i], "model.", 6) == 0)
            rc = nn_state_dict_set(msd, all->names[i] + 6, all->tensors[i]);
        else if (strncmp(all->names[i], "optim.", 6) == 0)
            rc = nn_state_dict_set(osd, all->names[i] + 6, all->tensors[i]);
    }
    for (int i = 0; rc == 0 && i < all->num_meta; i++)
        if (strncmp(all->meta_keys[i], "optim.", 6) == 0)
            rc = nn_state_dict_set_meta(osd, all->meta_keys[i] + 6, all->meta_values[i]);
    int64_t saved_epoch = 0, sched_epoch = -1;
    const char *rng_text = nn_state_dict_get_meta(all, "rng_state");
    if (rc == 0)
        rc = meta_i64(all, "epoch", &saved_epoch, fn);
    if (rc == 0 && !rng_text) {
        strata_set_error("%s: %s has no 'rng_state'", fn, path);
        rc = -1;
    }
    if (rc == 0 && sched)
        rc = meta_i64(all, "scheduler_epoch", &sched_epoch, fn);
    /* A checkpoint of another architecture must be reported as such, not by the
     * optimizer's parameter counts: check the model's keys and shapes first. */
    int fits = rc == 0 ? model_matches(model, msd) : 1;
    if (fits < 0)
        rc = -1;
    if (fits == 0) {
        char msg[1024];
        nn_load_state_dict(model, msd, true, NULL, NULL); /* fails, loads nothing, names the keys */
        snprintf(msg, sizeof msg, "%s", strata_last_error());
        strata_set_error("%s: %s does not fit this model: %s", fn, path, msg);
        rc = -1;
    }
    /* The optimizer's state is validated and allocated first; the model loads (all or
     * nothing) in between; only then does the optimizer take its new state, a step
     * that cannot fail. So a model that refuses its tensors, or memory that runs out,
     * leaves both untouched. */
    if (rc == 0) {
        ModelLoad load = {model, msd};
        rc = optim_load_state_dict_then(opt, osd, load_model, &load);
    }
    if (rc == 0) {
        strata_rng_set_state((uint64_t)strtoull(rng_text, NULL, 10));
        if (sched)
            optim_scheduler_set_epoch(sched, sched_epoch);
        if (epoch)
            *epoch = saved_epoch;
    }
    nn_state_dict_free(msd);
    nn_state_dict_free(osd);
    nn_state_dict_free(all);
    return rc;
}
