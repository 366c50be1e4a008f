/*
 * faults.c - the walker of the fault-injection driver, and the helpers its scenarios
 * share (see faults.h).
 */
#include "faults.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* ---------------------------------------------------------------- state as bytes --- */

void fault_bytes_add(FaultBytes *b, const void *data, size_t n)
{
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        ck_assert_msg(grown != NULL, "faults: out of memory in the test itself");
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->size, data, n);
    b->size += n;
}

void fault_bytes_free(FaultBytes *b)
{
    free(b->data);
    *b = (FaultBytes){0};
}

void fault_bytes_tensor(FaultBytes *b, const char *name, const Tensor *t)
{
    fault_bytes_add(b, name, strlen(name) + 1);
    if (!t) {
        fault_bytes_add(b, "(none)", 6);
        return;
    }
    fault_bytes_add(b, &t->ndim, sizeof t->ndim);
    fault_bytes_add(b, t->shape, (size_t)t->ndim * sizeof t->shape[0]);
    int64_t n = tensor_numel(t);
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) { /* element by element: views of any strides */
        float v = tensor_get(t, idx);
        fault_bytes_add(b, &v, sizeof v);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

static void bytes_dict(FaultBytes *b, const NnStateDict *sd)
{
    ck_assert_msg(sd != NULL, "faults: a state dict for the snapshot: %s", strata_last_error());
    for (int i = 0; i < sd->num_tensors; i++)
        fault_bytes_tensor(b, sd->names[i], sd->tensors[i]);
    for (int i = 0; i < sd->num_meta; i++) {
        fault_bytes_add(b, sd->meta_keys[i], strlen(sd->meta_keys[i]) + 1);
        fault_bytes_add(b, sd->meta_values[i], strlen(sd->meta_values[i]) + 1);
    }
}

void fault_bytes_module(FaultBytes *b, const Module *m)
{
    Scope *s = scope_begin();
    NnStateDict *sd = nn_state_dict(m);
    bytes_dict(b, sd);
    nn_state_dict_free(sd);
    NnNamedVars *params = nn_named_parameters(m);
    ck_assert_ptr_nonnull(params);
    for (int i = 0; i < params->count; i++) {
        fault_bytes_tensor(b, params->names[i], var_grad(params->vars[i]));
        bool rg = params->vars[i]->requires_grad;
        fault_bytes_add(b, &rg, sizeof rg);
    }
    nn_named_vars_free(params);
    bool training = nn_is_training(m);
    fault_bytes_add(b, &training, sizeof training);
    scope_end(s);
}

void fault_bytes_optim(FaultBytes *b, const Optimizer *opt)
{
    Scope *s = scope_begin();
    NnStateDict *sd = optim_state_dict(opt);
    bytes_dict(b, sd);
    nn_state_dict_free(sd);
    scope_end(s);
}

void fault_bytes_file(FaultBytes *b, const char *path)
{
    fault_bytes_add(b, path, strlen(path) + 1);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fault_bytes_add(b, "(absent)", 8);
        return;
    }
    unsigned char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        fault_bytes_add(b, buf, got);
    fclose(f);
}

/* Every file of the test's directory, by name: a failed save must leave no file behind. */
static void bytes_dir(FaultBytes *b)
{
    DIR *d = opendir(fault_dir());
    ck_assert_ptr_nonnull(d);
    char *names[64];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.' && n < 64)
            names[n++] = strdup(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++) /* sorted: readdir's order is not stable */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        fault_bytes_file(b, fault_path(names[i]));
        free(names[i]);
    }
}

/* ----------------------------------------------------------------------- walking --- */

/*
 * Which N to try. Every N up to FAULT_DENSE; past it the walk samples, trying about
 * FAULT_PER_DECADE values per factor of ten (N grows by a fixed ratio), so a call with
 * thousands of points still fits the time limit. STRATA_FAULTS_ALL=1 tries every N.
 * Under valgrind (make memcheck) the walk is sparser: it checks the memory, not the
 * coverage, which make test and make sanitize give.
 */
#define FAULT_DENSE 300
#define FAULT_PER_DECADE 60

bool fault_under_valgrind(void) { return RUNNING_ON_VALGRIND; }

size_t fault_next_n(size_t n)
{
    static int all = -1;
    if (all < 0) {
        const char *e = getenv("STRATA_FAULTS_ALL");
        all = e && *e && strcmp(e, "0") != 0;
    }
    if (all)
        return n + 1;
    size_t dense = RUNNING_ON_VALGRIND ? 30 : FAULT_DENSE;
    size_t per_decade = RUNNING_ON_VALGRIND ? 8 : FAULT_PER_DECADE;
    if (n < dense)
        return n + 1;
    /* 10^(1/per_decade) ~ 1 + 2.3/per_decade */
    size_t step = (size_t)((double)n * 2.302585 / (double)per_decade);
    return n + (step ? step : 1);
}

typedef enum { KIND_ALLOC, KIND_IO } FaultKind;

static const char *io_fault_name(StrataIoFault f)
{
    return f == STRATA_IO_SHORT ? "short" : f == STRATA_IO_ENOSPC ? "ENOSPC" : "EIO";
}

static void arm(FaultKind kind, size_t n, StrataIoFault io, bool persistent)
{
    if (kind == KIND_ALLOC)
        strata_alloc_fail_at(n, persistent);
    else
        strata_io_fail_at(n, io, persistent);
}

static void disarm(void)
{
    strata_alloc_fail_at(0, false);
    strata_io_fail_at(0, STRATA_IO_OK, false);
}

static size_t points(FaultKind kind)
{
    return kind == KIND_ALLOC ? strata_alloc_points() : strata_io_points();
}

static size_t last_points; /* points the last call passed */

static void state_of(const FaultScenario *sc, FaultBytes *out)
{
    if (sc->state)
        sc->state(sc->ctx, out);
    bytes_dir(out);
    uint64_t rng = strata_rng_get_state();
    fault_bytes_add(out, &rng, sizeof rng);
}

/*
 * One call with point @p n failing. Returns true when the call got that far (the fault
 * fired), after checking the contract; false when it completed first (it must then
 * have succeeded).
 */
static bool one_call(const FaultScenario *sc, FaultKind kind, size_t n, StrataIoFault io,
                     bool persistent)
{
    char how[96];
    snprintf(how, sizeof how, "%s point %zu%s%s%s", kind == KIND_ALLOC ? "allocation" : "I/O",
             n, kind == KIND_IO ? " (" : "", kind == KIND_IO ? io_fault_name(io) : "",
             kind == KIND_IO ? ")" : "");
    if (persistent)
        strncat(how, " and every later one", sizeof how - strlen(how) - 1);

    FaultBytes before = {0}, after = {0};
    state_of(sc, &before);
    size_t live = strata_mem_stats().bytes_live;
    Scope *s = scope_begin();
    strata_clear_error();
    arm(kind, n, io, persistent);
    int rc = sc->call(sc->ctx);
    last_points = points(kind);
    bool fired = last_points >= n;
    disarm();
    char message[512];
    snprintf(message, sizeof message, "%s", strata_last_error());
    if (fired && rc != 0 && sc->after_failure)
        sc->after_failure(sc->ctx);
    scope_end(s);
    size_t live_after = strata_mem_stats().bytes_live;
    if (!fired) {
        ck_assert_msg(rc == 0, "%s: the call fails with no fault injected: %s", sc->name,
                      message);
        fault_bytes_free(&before);
        return false;
    }
    ck_assert_msg(rc != 0, "%s: %s failed, but the call reported success", sc->name, how);
    ck_assert_msg(message[0] != '\0', "%s: %s failed: the call failed without a message",
                  sc->name, how);
    /* Out of memory must be reported as such, not as something else (a "truncated"
     * file, a missing key): the message keeps strata_malloc's words. */
    ck_assert_msg(kind != KIND_ALLOC || strstr(message, "out of memory"),
                  "%s: %s failed, but the message does not say so: \"%s\"", sc->name, how,
                  message);
    ck_assert_msg(live_after == live,
                  "%s: %s failed (\"%s\"): %zu bytes live before the call, %zu after "
                  "(%s)", sc->name, how, message, live, live_after,
                  live_after > live ? "a leak" : "freed what it did not own");
    state_of(sc, &after);
    ck_assert_msg(after.size == before.size && memcmp(after.data, before.data, after.size) == 0,
                  "%s: %s failed (\"%s\"): the call changed its objects or files",
                  sc->name, how, message);
    fault_bytes_free(&before);
    fault_bytes_free(&after);
    return true;
}

static FaultWalk walk(const FaultScenario *sc, FaultKind kind)
{
    FaultWalk w = {0, 0};
    static const StrataIoFault io_kinds[] = {STRATA_IO_SHORT, STRATA_IO_ENOSPC, STRATA_IO_EIO};
    int kinds = kind == KIND_ALLOC ? 1 : 3;
    size_t n = 1;
    for (;;) {
        bool fired = false;
        for (int k = 0; k < kinds; k++) {
            StrataIoFault io = kind == KIND_IO ? io_kinds[k] : STRATA_IO_OK;
            fired = one_call(sc, kind, n, io, false);
            if (!fired)
                break;
            one_call(sc, kind, n, io, true);
        }
        if (!fired)
            break;
        w.tested++;
        n = fault_next_n(n);
    }
    /* The last call ran clean: it had fewer than n points. Count them exactly. */
    w.points = last_points;
    printf("faults: %-28s %5zu %s points, %zu tried (each alone and with all later ones "
           "failing%s): all clean\n", sc->name, w.points, kind == KIND_ALLOC ? "allocation" : "I/O",
           w.tested, kind == KIND_IO ? "; short, ENOSPC, EIO" : "");
    fflush(stdout);
    return w;
}

FaultWalk fault_walk_alloc(const FaultScenario *sc) { return walk(sc, KIND_ALLOC); }
FaultWalk fault_walk_io(const FaultScenario *sc) { return walk(sc, KIND_IO); }

/* --------------------------------------------------------------------- the files --- */

static char dir_path[256];

const char *fault_dir(void)
{
    if (!dir_path[0]) {
        snprintf(dir_path, sizeof dir_path, "/tmp/strata-faults-XXXXXX");
        ck_assert_msg(mkdtemp(dir_path) != NULL, "mkdtemp: %s", strerror(errno));
    }
    return dir_path;
}

const char *fault_path(const char *name)
{
    static char ring[4][512];
    static int next;
    char *p = ring[next++ % 4];
    snprintf(p, sizeof ring[0], "%s/%s", fault_dir(), name);
    return p;
}

void fault_dir_remove(void)
{
    if (!dir_path[0])
        return;
    DIR *d = opendir(dir_path);
    if (d) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(fault_path(e->d_name));
        closedir(d);
    }
    rmdir(dir_path);
    dir_path[0] = '\0';
}

/* ----------------------------------------------------------------------- models --- */

Module *fault_mlp(void)
{
    strata_manual_seed(7);
    Module *m = nn_sequential(3, nn_linear(4, 8, true), nn_relu(), nn_linear(8, 3, true));
    ck_assert_msg(m != NULL, "%s", strata_last_error());
    return m;
}

Module *fault_cnn(void)
{
    strata_manual_seed(11);
    Module *m = nn_sequential(6, nn_conv2d(1, 4, 3, 1, 1, 1, true), nn_batch_norm2d(4),
                              nn_relu(), nn_max_pool2d(2, 0, 0), nn_flatten(1, -1),
                              nn_linear(4 * 3 * 3, 3, true));
    ck_assert_msg(m != NULL, "%s", strata_last_error());
    return m;
}
