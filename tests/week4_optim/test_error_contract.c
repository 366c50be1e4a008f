/*
 * test_error_contract.c - week 4's failure paths: an optimizer step and the data
 * readers when memory runs out, or a file call fails, half way (tests/harness/
 * faultwalk.h fails each allocation, then each file call, in turn). Every time: the
 * failure value with a message, nothing leaked, the parameters and the optimizer's
 * state as they were; with nothing failing, the right result.
 *
 * The step is the hard one: a first step creates each parameter's state buffers, and
 * running out of memory for the second parameter's after the first parameter has moved
 * is a half-taken step. Allocate everything first, then update.
 */
#include "faultwalk.h"
#include "helpers.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

static const float P0_CONTRACT[2] = {1.0f, -2.0f};

typedef struct Step {
    Optimizer *opt;
    Var *p[2];
} Step;

static int step_call(void *ctx) { return optim_step(((Step *)ctx)->opt); }

static uint64_t step_state(void *ctx)
{
    Step *s = ctx;
    uint64_t h = fw_hash_tensor(fw_hash_tensor(FW_HASH_INIT, var_data(s->p[0])),
                                var_data(s->p[1]));
    NnStateDict *sd = optim_state_dict(s->opt);
    ck_assert_msg(sd != NULL, "optim_state_dict: %s", strata_last_error());
    for (int i = 0; i < sd->num_tensors; i++)
        h = fw_hash_tensor(fw_hash_bytes(h, sd->names[i], strlen(sd->names[i])),
                           sd->tensors[i]);
    for (int i = 0; i < sd->num_meta; i++)
        h = fw_hash_bytes(h, sd->meta_values[i], strlen(sd->meta_values[i]));
    nn_state_dict_free(sd);
    return h;
}

START_TEST(test_step_out_of_memory)
{
    Scope *sc = scope_begin();
    Step s = {NULL, {make_param((const float[]){1, 2}, 2), make_param((const float[]){3, 4, 5}, 3)}};
    set_grad(s.p[0], (const float[]){0.5f, -2});
    set_grad(s.p[1], (const float[]){-1, 1, 4});
    OptimHparams hp = optim_adam_defaults(0.1f);
    s.opt = optim_adam_new(s.p, 2, &hp);
    ck_assert_msg(s.opt != NULL, "%s", strata_last_error());
    /* Adam's first step: m_hat = g, v_hat = g^2, so p -= 0.1 g / (|g| + 1e-8), 0.1 sign(g) */
    FW_WALK_ALLOC("optim_step (Adam, first step)", step_call, step_state, &s);
    assert_param(s.p[0], (const float[]){0.9f, 2.1f}, 2, 1e-6, "p0 after the first step");
    assert_param(s.p[1], (const float[]){3.1f, 3.9f, 4.9f}, 3, 1e-6, "p1 after the first step");
    ck_assert_int_eq(s.opt->steps, 1);
    /* the second step: the same gradients keep the moment ratio 1: another 0.1 sign(g) */
    FW_WALK_ALLOC("optim_step (Adam, second step)", step_call, step_state, &s);
    assert_param(s.p[0], (const float[]){0.8f, 2.2f}, 2, 1e-5, "p0 after the second step");
    assert_param(s.p[1], (const float[]){3.2f, 3.8f, 4.8f}, 3, 1e-5, "p1 after the second step");
    optim_free(s.opt);
    scope_end(sc);
}
END_TEST

/* optim_step's status is 0 or -1, nothing else, also when memory runs out. */
static int step_status_call(void *ctx)
{
    int rc = optim_step(((Step *)ctx)->opt);
    ck_assert_msg(rc == 0 || rc == -1, "optim_step returned %d (0 or -1 expected)", rc);
    return rc;
}

/* A strided gradient (a transposed view) is made dense before the update: that copy is
 * allocated with the rest, before anything moves, and its failure is a plain -1. */
START_TEST(test_step_out_of_memory_strided_grad)
{
    Scope *sc = scope_begin();
    const float w[4] = {1, 2, 3, 4};
    Tensor *wt = tensor_from_data(w, (int64_t[]){2, 2}, 2);
    ck_assert_ok(wt);
    Var *m = var_new(wt, true);
    ck_assert_ok(m);
    Step s = {NULL, {m, make_param((const float[]){3, 4, 5}, 3)}};
    const float gd[4] = {0.5f, -1, 2, -3};
    Tensor *gt = tensor_transpose(tensor_from_data(gd, (int64_t[]){2, 2}, 2), 0, 1);
    ck_assert_ok(gt);
    ck_assert(!tensor_is_contiguous(gt)); /* [[0.5, 2], [-1, -3]], strided */
    tensor_retain(gt); /* the Var's reference */
    tensor_release(m->grad);
    m->grad = gt;
    set_grad(s.p[1], (const float[]){-1, 1, 4});
    OptimHparams hp = optim_adam_defaults(0.1f);
    s.opt = optim_adam_new(s.p, 2, &hp);
    ck_assert_msg(s.opt != NULL, "%s", strata_last_error());
    FW_WALK_ALLOC("optim_step (Adam, a strided gradient)", step_status_call, step_state, &s);
    /* the first step moves each element by 0.1 against its gradient's sign */
    const float want[4] = {0.9f, 1.9f, 3.1f, 4.1f};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabsf(var_data(m)->data[i] - want[i]) <= 1e-6f,
                      "element %d is %g, expected %g", i, (double)var_data(m)->data[i],
                      (double)want[i]);
    optim_free(s.opt);
    scope_end(sc);
}
END_TEST

typedef struct Clip {
    Var *p[2];
    float norm;
} Clip;

static int clip_call(void *ctx)
{
    Clip *c = ctx;
    c->norm = optim_clip_grad_norm(c->p, 2, 1.0f, 2.0f);
    return c->norm < 0.0f ? -1 : 0;
}

static uint64_t clip_state(void *ctx)
{
    Clip *c = ctx;
    return fw_hash_tensor(fw_hash_tensor(FW_HASH_INIT, var_grad(c->p[0])), var_grad(c->p[1]));
}

/* Clipping reads strided gradients through dense copies: when one cannot be made, the
 * call fails (a negative value with a message), leaks nothing and scales nothing. */
START_TEST(test_clip_out_of_memory)
{
    Scope *sc = scope_begin();
    Clip c = {{make_param((const float[]){1, 2, 3, 4}, 4), make_param((const float[]){1, 2}, 2)},
              0};
    for (int i = 0; i < 2; i++) {
        /* strided gradients, column 0 of a [n, 2]: [3, 0, 0, 4] and [3, 0] */
        const float gd[8] = {3, -1, 0, -1, 0, -1, 4, -1};
        int64_t n = i == 0 ? 4 : 2;
        Tensor *base = tensor_from_data(gd, (int64_t[]){n, 2}, 2);
        Tensor *g = tensor_select(base, 1, 0);
        ck_assert_ok(g);
        ck_assert(!tensor_is_contiguous(g));
        tensor_retain(g);
        tensor_release(c.p[i]->grad);
        c.p[i]->grad = g;
    }
    FW_WALK_ALLOC("optim_clip_grad_norm (strided gradients)", clip_call, clip_state, &c);
    /* the norm of [3, 0, 0, 4] and [3, 0] is sqrt(34); then scaled to 1 */
    ck_assert_close(c.norm, sqrt(34.0), 1e-5);
    ck_assert_close(tensor_get(var_grad(c.p[0]), (int64_t[]){3}), 4.0 / sqrt(34.0), 1e-5);
    var_retain(c.p[0]);
    scope_end(sc);
    /* A failed call closes every scope it opened. Outside any scope an object made after
     * the failure belongs to its caller; a scope left open would have taken it. */
    strata_alloc_fail_at(1, false);
    float norm = optim_clip_grad_norm(c.p, 1, 1.0f, 2.0f);
    strata_alloc_fail_at(0, false);
    ck_assert_msg(norm < 0.0f, "a failed dense copy of the gradient: the norm was %g", norm);
    Tensor *probe = tensor_zeros((int64_t[]){1}, 1);
    ck_assert_ok(probe);
    ck_assert_msg(scope_depth_objects() == 0, "optim_clip_grad_norm failed and left a scope "
                  "open: an object made afterwards went into it");
    tensor_release(probe);
    var_release(c.p[0]);
}
END_TEST

/* An update hook (optim_sgd_update, ... called directly, as a user's rule delegating to
 * a built-in one does) whose state buffer cannot be allocated fails: -1 with a message,
 * never a success that updated nothing. Each attempt starts from a fresh state. */
typedef int (*UpdateFn)(Optimizer *, OptimParamGroup *, Var *, const Tensor *,
                        OptimParamState *);

static void walk_update(const char *what, UpdateFn update, Optimizer *(*make)(Var *const *, int,
                        const OptimHparams *), const OptimHparams *hp)
{
    for (size_t n = 1;; n++) {
        Scope *sc = scope_begin();
        Var *p = make_param(P0_CONTRACT, 2);
        set_grad(p, (const float[]){0.5f, 1.0f});
        Optimizer *opt = make(&p, 1, hp);
        ck_assert_msg(opt != NULL, "%s: %s", what, strata_last_error());
        strata_clear_error();
        strata_alloc_fail_at(n, false);
        int rc = update(opt, &opt->groups[0], p, var_grad(p), &opt->groups[0].state[0]);
        bool reached = strata_alloc_points() >= n;
        strata_alloc_fail_at(0, false);
        float p0 = var_data(p)->data[0];
        optim_free(opt);
        scope_end(sc);
        if (!reached) {
            ck_assert_msg(rc == 0, "%s failed with nothing made to fail: %s", what,
                          strata_last_error());
            ck_assert_msg(p0 != P0_CONTRACT[0], "%s succeeded but did not move the parameter",
                          what);
            return;
        }
        ck_assert_msg(rc == -1, "%s: allocation %zu failed, but it returned %d", what, n, rc);
        ck_assert_msg(strata_last_error()[0] != '\0', "%s: allocation %zu failed: no error "
                      "message", what, n);
    }
}

START_TEST(test_update_hooks_out_of_memory)
{
    OptimHparams sgd = optim_sgd_defaults(0.1f);
    sgd.momentum = 0.9f;
    walk_update("optim_sgd_update (momentum)", optim_sgd_update, optim_sgd_new, &sgd);
    OptimHparams adam = optim_adam_defaults(0.1f);
    adam.amsgrad = true;
    walk_update("optim_adam_update (amsgrad)", optim_adam_update, optim_adam_new, &adam);
    OptimHparams rms = optim_rmsprop_defaults(0.01f);
    rms.centered = true;
    rms.momentum = 0.5f;
    walk_update("optim_rmsprop_update (centered, momentum)", optim_rmsprop_update,
                optim_rmsprop_new, &rms);
}
END_TEST

/* ------------------------------------------------------------------ the readers --- */

typedef struct Reader {
    char path[256];
    float last;    /* the last value read */
    int64_t count; /* elements (IDX) or rows (CSV) */
} Reader;

static int idx_call(void *ctx)
{
    Reader *r = ctx;
    Tensor *t = data_read_idx(r->path);
    if (!t)
        return -1;
    r->count = tensor_numel(t);
    r->last = t->data[r->count - 1];
    return 0;
}

START_TEST(test_read_idx_failures)
{
    Scope *sc = scope_begin();
    /* 3 images of 2 x 2 bytes, 0..11, gzip'd */
    unsigned char bytes[28] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    for (int i = 0; i < 12; i++)
        bytes[16 + i] = (unsigned char)i;
    Reader r = {"", 0, 0};
    tmp_path(r.path, sizeof r.path, "contract.idx.gz");
    gzFile g = gzopen(r.path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, bytes, 28), 28);
    gzclose(g);
    FW_WALK_ALLOC("data_read_idx", idx_call, NULL, &r);
    ck_assert_int_eq(r.count, 12);
    ck_assert_float_eq(r.last, 11.0f);
    r.count = 0;
    FW_WALK_IO("data_read_idx", idx_call, NULL, &r);
    ck_assert_int_eq(r.count, 12);
    remove(r.path);
    scope_end(sc);
}
END_TEST

static int csv_call(void *ctx)
{
    Reader *r = ctx;
    Dataset *ds = data_csv_load(r->path, NULL);
    if (!ds)
        return -1;
    r->count = data_dataset_size(ds);
    r->last = data_dataset_targets(ds)->data[r->count - 1];
    data_dataset_free(ds);
    return 0;
}

START_TEST(test_read_csv_failures)
{
    Scope *sc = scope_begin();
    Reader r = {"", 0, 0};
    tmp_path(r.path, sizeof r.path, "contract.csv");
    FILE *f = fopen(r.path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x1,x2,label\n1,2,0\n3,4,1\n5,6,2\n", f);
    fclose(f);
    FW_WALK_ALLOC("data_csv_load", csv_call, NULL, &r);
    ck_assert_int_eq(r.count, 3);
    ck_assert_float_eq(r.last, 2.0f);
    r.count = 0;
    /* a read error half way is an error, not the end of the file (not 1 or 2 rows) */
    FW_WALK_IO("data_csv_load", csv_call, NULL, &r);
    ck_assert_int_eq(r.count, 3);
    remove(r.path);
    scope_end(sc);
}
END_TEST

typedef struct Loading {
    Dataset *ds;
    float first_y; /* the target of the first batch's first row */
} Loading;

/* A fresh shuffled loader, its first batch, freed: every allocation of both calls. */
static int loader_call(void *ctx)
{
    Loading *l = ctx;
    DataLoaderOptions o = {3, true, 8, false};
    DataLoader *dl = data_loader_new(l->ds, &o);
    if (!dl)
        return -1;
    Batch b;
    bool ok = data_loader_next(dl, &b);
    if (ok)
        l->first_y = b.y->data[0];
    else
        ck_assert_msg(data_loader_failed(dl), "data_loader_next failed without saying so");
    data_loader_free(dl);
    return ok ? 0 : -1;
}

START_TEST(test_loader_out_of_memory)
{
    Scope *sc = scope_begin();
    Tensor *x = tensor_empty((int64_t[]){7, 2}, 2), *y = tensor_empty((int64_t[]){7}, 1);
    ck_assert(x && y);
    for (int i = 0; i < 7; i++) {
        x->data[2 * i] = x->data[2 * i + 1] = (float)i;
        y->data[i] = (float)(10 + i);
    }
    Loading l = {data_tensor_dataset_new(x, y), -1.0f};
    ck_assert_msg(l.ds != NULL, "%s", strata_last_error());
    FW_WALK_ALLOC("data_loader_new + data_loader_next", loader_call, NULL, &l);
    ck_assert_msg(l.first_y >= 10.0f && l.first_y <= 16.0f, "first target %g", (double)l.first_y);
    data_dataset_free(l.ds);
    scope_end(sc);
}
END_TEST

static int text_call(void *ctx)
{
    Reader *r = ctx;
    TextCorpus *c = data_text_load(r->path, 0.25);
    if (!c)
        return -1;
    r->count = data_text_split_length(c, false) + data_text_split_length(c, true);
    r->last = (float)data_text_vocab_size(c);
    data_text_free(c);
    return 0;
}

START_TEST(test_read_text_failures)
{
    Scope *sc = scope_begin();
    Reader r = {"", 0, 0};
    tmp_path(r.path, sizeof r.path, "contract.txt");
    FILE *f = fopen(r.path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("abracadabra!", f); /* 12 bytes, 6 distinct */
    fclose(f);
    FW_WALK_ALLOC("data_text_load", text_call, NULL, &r);
    ck_assert_int_eq(r.count, 12);
    ck_assert_float_eq(r.last, 6.0f);
    r.count = 0;
    /* a read or a close that fails is an error, not a shorter text */
    FW_WALK_IO("data_text_load", text_call, NULL, &r);
    ck_assert_int_eq(r.count, 12);
    remove(r.path);
    scope_end(sc);
}
END_TEST

void add_error_contract_tests(Suite *s)
{
    GRADED(s, test_step_out_of_memory, 3);
    GRADED(s, test_step_out_of_memory_strided_grad, 2);
    GRADED(s, test_update_hooks_out_of_memory, 2);
    GRADED(s, test_clip_out_of_memory, 1);
    GRADED(s, test_read_idx_failures, 2);
    GRADED(s, test_read_csv_failures, 2);
    GRADED(s, test_loader_out_of_memory, 1);
    GRADED(s, test_read_text_failures, 1);
}
