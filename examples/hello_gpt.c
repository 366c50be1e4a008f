/*
 * hello_gpt.c - "Hello, GPT" in C: a character-level transformer built from modules
 * (modular_gpt, the JAX-era Modula compound) and trained by dualized descent with
 * momentum, on the King James Bible (`make corpus` writes build/data/kjv.txt from
 * Debian's bible-kjv; see examples/data/README.md).
 *
 *   make corpus && build/examples/hello_gpt                # the walk-through: ~15 min
 *   build/examples/hello_gpt --optim adam --lr 0.002       # the same model with Adam
 *   build/examples/hello_gpt --steps 300 --d-embed 64 --summary   # one line of results
 *
 * Defaults are Modula's walk-through: 4 heads, d_embed 128, d_query = d_value = 32,
 * 4 blocks, context 64, batch 12, 2,001 steps, lr 0.1 decaying linearly to 0, momentum
 * beta 0.95, and each step
 *
 *   m = beta m + (1 - beta) grad;   w -= lr_t * dualize(m)
 *
 * where dualize is the steepest-descent direction of unit modular norm. The vocabulary
 * is every character of the corpus; the last 10% of the text is the validation split.
 * Training batches are windows at random positions of the training split (seeded);
 * the validation loss is the mean over fixed windows spread evenly across the whole
 * validation split, so every run is scored on the same text.
 *
 * It prints the training loss (mean since the last print), the validation loss every
 * --val-interval steps and at the end, then samples text after a prompt, and the time
 * per step (training steps only, validation excluded), in wall-clock time and in CPU
 * time of the process (the same on an idle machine with --threads 1; on a shared one
 * the wall time also counts the waits for a core).
 */
#include "modular.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Config {
    const char *optim; /* dualized | adam */
    float lr, beta;
    int steps;
    int64_t batch, context, d_embed, heads, d_query, d_value;
    int blocks;
    float attention_scale, final_scale;
    const char *text;
    uint64_t seed;
    int log_interval, val_interval, val_batches, sample;
    const char *prompt;
    int threads;
    bool summary;
} Config;

static void usage(void)
{
    printf("usage: hello_gpt [options]\n"
           "  --optim NAME       dualized (default) or adam\n"
           "  --lr F             peak learning rate, decayed linearly to 0 (default 0.1)\n"
           "  --beta F           momentum of dualized descent (default 0.95)\n"
           "  --steps N          training steps (default 2001)\n"
           "  --batch N          windows per batch (default 12)\n"
           "  --context N        tokens per window (default 64)\n"
           "  --d-embed N        model width (default 128)\n"
           "  --heads N          attention heads (default 4)\n"
           "  --d-query N        query/key size per head, even (default 32)\n"
           "  --d-value N        value size per head (default 32)\n"
           "  --blocks N         transformer blocks (default 4)\n"
           "  --attention-scale F  Softmax's scale in attention (default sqrt(d-query):\n"
           "                     with AttentionQK's 1/d-query, the usual 1/sqrt(d) scores;\n"
           "                     Modula's compound default is 1, which stalls here)\n"
           "  --final-scale F    factor on the logits (default 1, Modula's)\n"
           "  --text PATH        the corpus (default build/data/kjv.txt: `make corpus`)\n"
           "  --seed N           seed of initialization, batches and sampling (default 0)\n"
           "  --log-interval N   steps between training-loss lines (default 100)\n"
           "  --val-interval N   steps between validation losses (default 500)\n"
           "  --val-batches N    validation batches (default 20)\n"
           "  --sample N         characters to sample after training (default 300)\n"
           "  --prompt TEXT      the sample's prompt (default \"And \")\n"
           "  --threads N        strata's threads (default: OpenBLAS's count)\n"
           "  --summary          print only one line of results\n");
}

static int parse(Config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 1;
        }
        if (!strcmp(a, "--summary")) {
            c->summary = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "hello_gpt: %s needs a value (see --help)\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--optim")) c->optim = v;
        else if (!strcmp(a, "--lr")) c->lr = strtof(v, NULL);
        else if (!strcmp(a, "--beta")) c->beta = strtof(v, NULL);
        else if (!strcmp(a, "--steps")) c->steps = atoi(v);
        else if (!strcmp(a, "--batch")) c->batch = atoll(v);
        else if (!strcmp(a, "--context")) c->context = atoll(v);
        else if (!strcmp(a, "--d-embed")) c->d_embed = atoll(v);
        else if (!strcmp(a, "--heads")) c->heads = atoll(v);
        else if (!strcmp(a, "--d-query")) c->d_query = atoll(v);
        else if (!strcmp(a, "--d-value")) c->d_value = atoll(v);
        else if (!strcmp(a, "--blocks")) c->blocks = atoi(v);
        else if (!strcmp(a, "--attention-scale")) c->attention_scale = strtof(v, NULL);
        else if (!strcmp(a, "--final-scale")) c->final_scale = strtof(v, NULL);
        else if (!strcmp(a, "--text")) c->text = v;
        else if (!strcmp(a, "--seed")) c->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--log-interval")) c->log_interval = atoi(v);
        else if (!strcmp(a, "--val-interval")) c->val_interval = atoi(v);
        else if (!strcmp(a, "--val-batches")) c->val_batches = atoi(v);
        else if (!strcmp(a, "--sample")) c->sample = atoi(v);
        else if (!strcmp(a, "--prompt")) c->prompt = v;
        else if (!strcmp(a, "--threads")) c->threads = atoi(v);
        else {
            fprintf(stderr, "hello_gpt: unknown option %s (see --help)\n", a);
            return -1;
        }
    }
    bool adam = !strcmp(c->optim, "adam");
    if ((!adam && strcmp(c->optim, "dualized")) || !(c->lr > 0) || !(c->beta >= 0) ||
        !(c->beta < 1) || c->steps < 1 || c->batch < 1 || c->context < 1 ||
        c->log_interval < 1 || c->val_interval < 1 || c->val_batches < 1 || c->sample < 0) {
        fprintf(stderr, "hello_gpt: bad options (optim %s, lr %g, beta %g, steps %d, batch "
                        "%lld, context %lld; see --help)\n",
                c->optim, (double)c->lr, (double)c->beta, c->steps, (long long)c->batch,
                (long long)c->context);
        return -1;
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Mean cross-entropy (nats per character) of the logits [B, T, V] against y [B, T]. */
static Var *next_char_loss(Var *logits, const Tensor *y)
{
    int64_t v = logits->data->shape[2], n = tensor_numel(y);
    int64_t flat[2] = {n, v};
    return nn_cross_entropy(var_reshape(logits, flat, 2), tensor_reshape(y, &n, 1));
}

/* The validation loss: fixed windows spread evenly over the whole validation split. */
static double validate(ModularModule *model, const TextCorpus *text, const Config *c)
{
    int64_t windows = data_text_split_length(text, true) - c->context; /* valid starts */
    int64_t total = (int64_t)c->val_batches * c->batch;
    int64_t *starts = malloc((size_t)c->batch * sizeof *starts);
    double sum = 0.0;
    autograd_no_grad_begin();
    for (int b = 0; b < c->val_batches && starts; b++) {
        Scope *s = scope_begin();
        for (int64_t i = 0; i < c->batch; i++)
            starts[i] = (b * c->batch + i) * (windows - 1) / (total > 1 ? total - 1 : 1);
        Tensor *x, *y;
        Var *loss = NULL;
        if (data_text_batch(text, true, starts, c->batch, c->context, &x, &y) == 0)
            loss = next_char_loss(modular_forward(model, var_new(x, false)), y);
        sum = loss ? sum + var_data(loss)->data[0] : NAN;
        scope_end(s);
    }
    autograd_no_grad_end();
    free(starts);
    return starts ? sum / c->val_batches : NAN;
}

/* Sample @p n characters after @p prompt at temperature 0.5 (as the walk-through). */
static void sample_text(ModularModule *model, const TextCorpus *text, const Config *c)
{
    int64_t plen = (int64_t)strlen(c->prompt), total = plen + c->sample;
    float *tokens = malloc((size_t)total * sizeof *tokens);
    char *out = malloc((size_t)total + 1);
    if (!tokens || !out || data_text_encode(text, c->prompt, plen, tokens) != 0) {
        fprintf(stderr, "hello_gpt: cannot sample: %s\n", strata_last_error());
        free(tokens), free(out);
        return;
    }
    int vocab = data_text_vocab_size(text);
    autograd_no_grad_begin();
    for (int64_t n = plen; n < total; n++) {
        Scope *s = scope_begin();
        int64_t len = n < c->context ? n : c->context, shape[2] = {1, len};
        Tensor *x = tensor_from_data(tokens + n - len, shape, 2);
        Var *logits = modular_forward(model, var_new(x, false));
        if (!logits) {
            scope_end(s);
            break;
        }
        const float *last = var_data(logits)->data + (len - 1) * vocab; /* contiguous */
        double mx = -INFINITY, z = 0.0;
        for (int k = 0; k < vocab; k++)
            mx = fmax(mx, last[k] / 0.5);
        for (int k = 0; k < vocab; k++)
            z += exp(last[k] / 0.5 - mx);
        double u = strata_rng_uniform() * z, acc = 0.0;
        int pick = vocab - 1;
        for (int k = 0; k < vocab; k++) {
            acc += exp(last[k] / 0.5 - mx);
            if (u < acc) {
                pick = k;
                break;
            }
        }
        tokens[n] = (float)pick;
        scope_end(s);
    }
    autograd_no_grad_end();
    if (data_text_decode(text, tokens, total, out) == 0)
        printf("--- sample (temperature 0.5) ---\n%s\n-------------------------------\n", out);
    free(tokens), free(out);
}

int main(int argc, char **argv)
{
    /* attention_scale 0 stands for "not given": sqrt(d_query), set after parsing */
    Config c = {"dualized", 0.1f, 0.95f, 2001, 12, 64, 128, 4, 32, 32, 4, 0.0f, 1.0f,
                "build/data/kjv.txt", 0, 100, 500, 20, 300, "And ", 0, false};
    int rc = parse(&c, argc, argv);
    if (rc != 0)
        return rc < 0 ? 2 : 0;
    if (c.attention_scale == 0)
        c.attention_scale = sqrtf((float)c.d_query);
    if (c.threads > 0)
        strata_set_num_threads(c.threads);
    strata_manual_seed(c.seed);
    TextCorpus *text = data_text_load(c.text, 0.1);
    if (!text) {
        fprintf(stderr, "hello_gpt: %s\n(the default corpus comes from `make corpus`)\n",
                strata_last_error());
        return 1;
    }
    int vocab = data_text_vocab_size(text);
    ModularModule *model = modular_gpt(vocab, c.heads, c.d_embed, c.d_query, c.d_value,
                                       c.blocks, MODULAR_GPT_BLOCKS_MASS, c.attention_scale,
                                       c.final_scale);
    if (!model || modular_initialize(model) != 0) {
        fprintf(stderr, "hello_gpt: %s\n", strata_last_error());
        modular_free(model);
        data_text_free(text);
        return 1;
    }
    bool adam = !strcmp(c.optim, "adam");
    int n = modular_num_atoms(model);
    Var **params = malloc((size_t)n * sizeof *params);
    Optimizer *opt = NULL;
    if (params && modular_weights(model, params) == n) {
        if (adam) {
            OptimHparams hp = optim_adam_defaults(c.lr);
            opt = optim_adam_new(params, n, &hp);
        } else {
            ModularOptimOptions o = {0};
            o.kind = MODULAR_DESCENT;
            o.lr = c.lr;
            o.momentum = c.beta;
            opt = modular_optimizer_new(model, &o);
        }
    }
    free(params);
    if (!opt) {
        fprintf(stderr, "hello_gpt: %s\n", strata_last_error());
        modular_free(model);
        data_text_free(text);
        return 1;
    }
    if (!c.summary) {
        printf("corpus %s: %lld characters, vocabulary %d, train %lld, validation %lld\n",
               c.text, (long long)(data_text_split_length(text, false) +
                                   data_text_split_length(text, true)),
               vocab, (long long)data_text_split_length(text, false),
               (long long)data_text_split_length(text, true));
        modular_fprint(stdout, model);
        printf("attention scale %g, final scale %g\n", (double)c.attention_scale,
               (double)c.final_scale);
        printf("%s, lr %g (linear decay to 0), %s%g, %d steps, batch %lld x %lld tokens, "
               "seed %llu\n",
               adam ? "Adam" : "dualized descent", (double)c.lr,
               adam ? "betas (0.9, 0.999)" : "momentum beta ", adam ? 0.0 : (double)c.beta,
               c.steps, (long long)c.batch, (long long)c.context,
               (unsigned long long)c.seed);
    }
    double train_time = 0.0, train_cpu = 0.0, since = 0.0, last_window = 0.0, val = NAN;
    int since_n = 0, window_n = 0, window = c.steps < 100 ? c.steps : 100;
    for (int step = 0; step < c.steps && rc == 0; step++) {
        double t0 = now();
        clock_t c0 = clock();
        optim_set_lr(opt, 0, c.lr * (float)(c.steps - step) / (float)c.steps);
        Scope *s = scope_begin();
        Tensor *x, *y;
        Var *loss = NULL;
        if (data_text_random_batch(text, false, c.batch, c.context, &x, &y) == 0)
            loss = next_char_loss(modular_forward(model, var_new(x, false)), y);
        optim_zero_grad(opt, true);
        if (!loss || var_backward(loss) != 0 || optim_step(opt) != 0) {
            fprintf(stderr, "hello_gpt: step %d: %s\n", step, strata_last_error());
            rc = 1;
        }
        double l = loss ? var_data(loss)->data[0] : NAN;
        scope_end(s);
        train_time += now() - t0;
        train_cpu += (double)(clock() - c0) / CLOCKS_PER_SEC;
        since += l, since_n++;
        if (step >= c.steps - window)
            last_window += l, window_n++;
        if (!isfinite(l)) {
            fprintf(stderr, "hello_gpt: the loss diverged at step %d\n", step);
            rc = 1;
        }
        if (!c.summary && (step % c.log_interval == 0 || step == c.steps - 1)) {
            printf("step %5d  train loss %.4f  (%.0f ms/step)\n", step, since / since_n,
                   1e3 * train_time / (step + 1));
            fflush(stdout);
            since = 0.0, since_n = 0;
        }
        if (step % c.val_interval == 0 || step == c.steps - 1) {
            val = validate(model, text, &c);
            if (!c.summary) {
                printf("step %5d  --> validation loss %.4f\n", step, val);
                fflush(stdout);
            }
        }
    }
    double ms = 1e3 * train_time / c.steps, cpu_ms = 1e3 * train_cpu / c.steps;
    if (rc == 0 && c.summary)
        printf("summary optim=%s lr=%g d_embed=%lld blocks=%d steps=%d train=%.4f val=%.4f "
               "ms_per_step=%.1f cpu_ms_per_step=%.1f\n",
               c.optim, (double)c.lr, (long long)c.d_embed, c.blocks, c.steps,
               last_window / window_n, val, ms, cpu_ms);
    if (rc == 0 && !c.summary) {
        printf("final: training loss %.4f (mean of the last %d steps), validation loss "
               "%.4f nats/char\n",
               last_window / window_n, window_n, val);
        if (c.sample > 0)
            sample_text(model, text, &c);
        /* wall time counts the waits of a shared machine; CPU time is the work itself */
        printf("time per step: %.1f ms wall, %.1f ms CPU (%d steps, %d thread(s))\n", ms,
               cpu_ms, c.steps, strata_get_num_threads());
    }
    optim_free(opt);
    modular_free(model);
    data_text_free(text);
    return rc;
}
