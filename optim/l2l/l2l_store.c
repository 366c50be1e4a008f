/*
 * l2l_store.c - the L2L host store: a model's parameters and its optimizer's state in a
 * memory-mapped safetensors file, brought into counted working memory one layer at a
 * time. See docs/l2l.md ("The host store").
 *
 * The file is a standard safetensors file (written by nn_safetensors_save()): 8 bytes of
 * header length n (little-endian), n bytes of JSON header, then each tensor's float32
 * data back to back. Its tensors, in this order:
 *
 *   <param>                  a parameter's values, under its state-dict name
 *   optim.<param>.<buffer>   one slot per optimizer state buffer of that parameter
 *   optim.<param>.step       the parameter's update count, [2] floats: lo + 2^24 * hi
 *   <buffer>                 a module buffer (BatchNorm statistics), kept in RAM too
 *   optim.steps              the optimizer's step count, [2] floats
 *
 * (the model's state-dict order, each parameter followed by its optimizer slots). The
 * store maps the whole file (MAP_SHARED, so stores into the mapping are stores into the
 * file) and gives each parameter Var, and each existing state buffer, a tensor whose
 * storage is its bytes in the mapping (a TensorStorage whose destroy function frees only
 * the header). The mapping is not counted memory: what the counting allocator sees is
 * the working copies of the layer being run.
 *
 *   fetch        W = clone(view)          counted working copy; the Var now holds W
 *   fetch_state  S = clone(slot view)     for each state buffer that exists
 *   evict        [view = W, slot = S, step; msync]   only after a successful update
 *                views back in place; W, S released; madvise(MADV_DONTNEED) on the ranges
 *
 * The ranges' pages are clean after msync, so the kernel can drop them from the
 * process (they are read back from the file, or the page cache, when next touched).
 *
 * Which state buffers a parameter has is learnt from the optimizer itself: its update
 * runs once on a scratch copy of the parameter with a zero gradient and an empty state
 * (probe_state), and the buffers it creates get slots. A buffer exists from the first
 * update on, so "step > 0" says which slots hold live state, in the file as in memory.
 */
#include "l2l.h"
#include "l2l_internal.h"
#include "optim_internal.h"
#include "tensor_internal.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What one tensor of the file is. */
typedef enum EntryKind {
    ENTRY_PARAM,  /* a parameter's values */
    ENTRY_BUFFER, /* a module buffer (its live copy stays in RAM) */
    ENTRY_STATE,  /* one optimizer state buffer of a parameter */
    ENTRY_STEP,   /* a parameter's update count */
    ENTRY_STEPS   /* the optimizer's step count */
} EntryKind;

/* One tensor of the file. */
typedef struct StoreEntry {
    char *name;                     /* its name in the file (owned) */
    EntryKind kind;
    Var *var;                       /* PARAM, STATE, STEP: the parameter (borrowed) */
    OptimParamState *state;         /* STATE, STEP: the parameter's optimizer state */
    char buffer[OPTIM_BUFFER_NAME]; /* STATE: the buffer's name in the state */
    int ndim;                       /* its shape */
    int64_t shape[TENSOR_MAX_DIMS];
    Tensor *view;                   /* PARAM, STATE: its floats in the mapping (owned) */
    size_t offset;                  /* byte offset of its data in the file */
    size_t bytes;                   /* bytes of data */
    bool resident;                  /* PARAM: fetched; STATE, STEP: fetched for an update */
    bool copied;                    /* a working copy made by the store (resident_bytes) */
} StoreEntry;

struct L2LStore {
    char *path;           /* owned */
    Module *model;        /* borrowed */
    Optimizer *opt;       /* borrowed, or NULL: the optimizer state stays in RAM */
    int fd;
    unsigned char *map;   /* the whole file */
    size_t size;          /* bytes mapped */
    int count;
    int capacity;
    StoreEntry *entries;  /* owned */
    size_t resident_bytes;
};

/* SOLUTION BEGIN week=4 step=12 tier=stretch */
/* Counts (step numbers) are stored as two float32s, lo + 2^24 * hi: a float32 holds
 * every integer up to 2^24 exactly, so this is exact up to 2^48 steps. */
#define COUNT_RADIX 16777216.0 /* 2^24 */

/* A storage over floats it does not own: destroying it frees only its header. */
static void mapped_storage_destroy(StrataObject *object)
{
    strata_free(object); /* the floats belong to the mapping */
}

/* A contiguous tensor of the given shape over the floats at @p data (not copied). */
static Tensor *mapped_tensor(const int64_t *shape, int ndim, float *data)
{
    TensorStorage *storage = strata_calloc(1, sizeof *storage);
    if (!storage)
        return NULL;
    /* Storages are never scoped: only tensors hold them. */
    storage->base.refcount = 1;
    storage->base.scope_slot = -1;
    storage->base.destroy = mapped_storage_destroy;
    storage->data = data;
    storage->numel = (size_t)tensor_shape_numel(shape, ndim);
    Tensor carrier;
    memset(&carrier, 0, sizeof carrier);
    carrier.storage = storage;
    int64_t strides[TENSOR_MAX_DIMS];
    tensor_contiguous_strides(shape, ndim, strides);
    Tensor *t = tensor_make_view(&carrier, shape, strides, ndim, 0);
    strata_object_release(&storage->base); /* the view holds it now (or it is freed) */
    return t;
}

static float *entry_floats(const L2LStore *s, const StoreEntry *e)
{
    return (float *)(void *)(s->map + e->offset);
}

static int64_t read_count(const L2LStore *s, const StoreEntry *e)
{
    const float *f = entry_floats(s, e);
    return (int64_t)f[0] + (int64_t)f[1] * (int64_t)COUNT_RADIX;
}

static void write_count(L2LStore *s, const StoreEntry *e, int64_t count)
{
    float *f = entry_floats(s, e);
    f[0] = (float)(count % (int64_t)COUNT_RADIX);
    f[1] = (float)(count / (int64_t)COUNT_RADIX);
}

/* A count read from a file we did not write: both halves whole numbers in [0, 2^24). */
static bool count_is_valid(const L2LStore *s, const StoreEntry *e)
{
    const float *f = entry_floats(s, e);
    for (int i = 0; i < 2; i++)
        if (!(f[i] >= 0.0f && (double)f[i] < COUNT_RADIX && floorf(f[i]) == f[i]))
            return false;
    return true;
}

/* The page-aligned byte range around entry @p e's bytes. */
static void page_range(const L2LStore *s, const StoreEntry *e, unsigned char **start,
                       size_t *length)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t lo = e->offset / page * page;
    size_t hi = (e->offset + e->bytes + page - 1) / page * page;
    if (hi > s->size)
        hi = s->size;
    *start = s->map + lo;
    *length = hi - lo;
}

/* The PARAM entry of @p p, or NULL. */
static StoreEntry *find_entry(L2LStore *s, const Var *p)
{
    for (int i = 0; i < s->count; i++)
        if (s->entries[i].kind == ENTRY_PARAM && s->entries[i].var == p)
            return &s->entries[i];
    return NULL;
}

/* Whether every one of @p params is a parameter of @p s's model; if not, an error naming
 * @p fn and the first that is not. */
static bool all_in_store(L2LStore *s, Var *const *params, int count, const char *fn)
{
    for (int i = 0; i < count; i++)
        if (!find_entry(s, params[i])) {
            strata_set_error("%s: parameter %d is not a parameter of the store's model", fn,
                             i);
            return false;
        }
    return true;
}

/* Point @p e's Var at @p t (retained), releasing what it held. */
static void set_var_data(StoreEntry *e, Tensor *t)
{
    tensor_retain(t);
    Tensor *old = e->var->data;
    e->var->data = t;
    tensor_release(old);
}

/* A fresh counted copy of @p t, retained (NULL with an error). */
static Tensor *working_copy(const Tensor *t)
{
    Scope *sc = scope_begin();
    Tensor *copy = tensor_clone(t);
    tensor_retain(copy);
    scope_end(sc);
    return copy;
}

/* Give every parameter and every state buffer that holds a view of the mapping an
 * ordinary tensor with its current values (used by l2l_store_free()). */
/*
 * Returns false when a copy could not be made (out of memory): that tensor still reads
 * the mapping, so the caller must keep the mapping alive.
 */
static bool detach_all(L2LStore *s)
{
    bool all = true;
    for (int i = 0; i < s->count; i++) {
        StoreEntry *e = &s->entries[i];
        if (e->kind == ENTRY_PARAM && e->var->data == e->view) {
            Tensor *copy = working_copy(e->view);
            if (copy) {
                set_var_data(e, copy);
                tensor_release(copy);
            }
            all = all && copy;
        } else if (e->kind == ENTRY_STATE && optim_state_find(e->state, e->buffer) == e->view) {
            Tensor *copy = working_copy(e->view);
            if (copy) {
                (void)optim_state_put(e->state, e->buffer, copy); /* replaces: cannot fail */
                tensor_release(copy);
            }
            all = all && copy;
        }
    }
    return all;
}

/* Copy the model's buffers (the BUFFER entries) and the optimizer's step count into
 * the mapping. */
static int write_buffers(L2LStore *s)
{
    NnStateDict *sd = NULL;
    int rc = 0;
    for (int i = 0; i < s->count && rc == 0; i++) {
        StoreEntry *e = &s->entries[i];
        if (e->kind == ENTRY_STEPS) {
            write_count(s, e, s->opt->steps);
            continue;
        }
        if (e->kind != ENTRY_BUFFER)
            continue;
        if (!sd && !(sd = nn_state_dict(s->model)))
            return -1;
        Tensor *t = nn_state_dict_get(sd, e->name);
        if (!t || (size_t)tensor_numel(t) * sizeof(float) != e->bytes) {
            strata_set_error("the model's buffer '%s' is gone or changed size", e->name);
            rc = -1;
            break;
        }
        Scope *sc = scope_begin();
        Tensor *c = tensor_contiguous(t);
        if (c)
            memcpy(s->map + e->offset, c->data, e->bytes);
        else
            rc = -1;
        scope_end(sc);
    }
    nn_state_dict_free(sd);
    return rc;
}

/*
 * The store's file calls, each an I/O point of the failure injection (tensor.h,
 * strata_io_point()): an injected failure fails the call with its errno. OPEN returns
 * the descriptor (or -1); MAP says whether mmap may go ahead (0) or must fail (-1);
 * SYNC is msync of [addr, addr + length).
 */
typedef enum StoreIo { STORE_OPEN, STORE_MAP, STORE_SYNC } StoreIo;

static int store_io(StoreIo op, const L2LStore *s, void *addr, size_t length)
{
    StrataIoFault fault = strata_io_point();
    if (fault != STRATA_IO_OK) {
        errno = strata_io_errno(fault);
        return -1;
    }
    switch (op) {
    case STORE_OPEN:
        return open(s->path, O_RDWR);
    case STORE_SYNC:
        return msync(addr, length, MS_SYNC);
    default:
        return 0;
    }
}

static void store_destroy(L2LStore *s)
{
    for (int i = 0; s->entries && i < s->count; i++) {
        tensor_release(s->entries[i].view);
        strata_free(s->entries[i].name);
    }
    strata_free(s->entries);
    if (s->map)
        munmap(s->map, s->size);
    if (s->fd >= 0)
        close(s->fd);
    strata_free(s->path);
    strata_free(s);
}

/* ------------------------------------------------------------- the file's plan --- */

/* Append an entry named @p name (copied) of @p kind and shape; NULL on failure. */
static StoreEntry *add_entry(L2LStore *s, const char *name, EntryKind kind,
                             const int64_t *shape, int ndim)
{
    if (s->count == s->capacity) {
        int cap = s->capacity ? 2 * s->capacity : 16;
        StoreEntry *grown = strata_realloc(s->entries, (size_t)cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->entries = grown;
        s->capacity = cap;
    }
    StoreEntry *e = &s->entries[s->count];
    memset(e, 0, sizeof *e);
    e->name = strata_strdup(name);
    if (!e->name)
        return NULL;
    s->count++;
    e->kind = kind;
    e->ndim = ndim;
    if (ndim > 0)
        memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->bytes = (size_t)tensor_shape_numel(shape, ndim) * sizeof(float);
    return e;
}

/*
 * The buffers one update of @p p creates from an empty state, learnt by running the
 * optimizer's own update on a scratch copy of @p p with a zero gradient: no table of
 * which rule keeps what, and a user-written rule works too. @p probe receives them (the
 * caller releases its buffers).
 */
static int probe_state(Optimizer *opt, OptimParamGroup *group, Var *p, OptimParamState *probe)
{
    memset(probe, 0, sizeof *probe);
    Scope *sc = scope_begin();
    Tensor *data = tensor_clone(var_data(p));
    Tensor *grad = data ? tensor_zeros_like(data) : NULL;
    Var *scratch = grad ? var_new(data, false) : NULL;
    int rc = -1;
    if (scratch) {
        autograd_no_grad_begin();
        rc = opt->ops->update(opt, group, scratch, grad, probe);
        autograd_no_grad_end();
    }
    scope_end(sc);
    return rc;
}

static void probe_free(OptimParamState *probe)
{
    for (int b = 0; b < probe->num_buffers; b++)
        tensor_release(probe->buffers[b]);
    probe->num_buffers = 0;
}

/* Add @p p's optimizer slots (named after @p pname) after its PARAM entry, checking that
 * its current state fits them: all the probed buffers with step > 0, none with step 0. */
static int plan_state(L2LStore *s, Var *p, const char *pname, const char *fn)
{
    OptimParamGroup *group = NULL;
    OptimParamState *state = optim_param_state(s->opt, p, &group);
    if (!state)
        return 0; /* a parameter the optimizer does not train: no state */
    OptimParamState probe;
    if (probe_state(s->opt, group, p, &probe) < 0) {
        probe_free(&probe);
        return -1;
    }
    int rc = 0;
    char name[512];
    const Tensor *pdata = var_data(p);
    for (int b = 0; b < probe.num_buffers && rc == 0; b++) {
        snprintf(name, sizeof name, "optim.%s.%s", pname, probe.names[b]);
        StoreEntry *e = add_entry(s, name, ENTRY_STATE, pdata->shape, pdata->ndim);
        if (!e) {
            rc = -1;
            break;
        }
        e->var = p;
        e->state = state;
        strcpy(e->buffer, probe.names[b]);
        bool has = optim_state_find(state, probe.names[b]) != NULL;
        if (has != (state->step > 0)) {
            strata_set_error("%s: parameter '%s' has taken %lld update(s) but %s state "
                             "buffer '%s'; the store keeps a parameter's state whole (all "
                             "of its buffers after its first update, none before)",
                             fn, pname, (long long)state->step, has ? "already has" : "no",
                             probe.names[b]);
            rc = -1;
        }
    }
    /* A buffer the probe did not create would have no slot. */
    for (int b = 0; b < state->num_buffers && rc == 0; b++)
        if (!optim_state_find(&probe, state->names[b])) {
            strata_set_error("%s: parameter '%s' has a state buffer '%s' that one update "
                             "does not create; the store has no slot for it",
                             fn, pname, state->names[b]);
            rc = -1;
        }
    probe_free(&probe);
    if (rc == 0) {
        const int64_t two = 2;
        snprintf(name, sizeof name, "optim.%s.step", pname);
        StoreEntry *e = add_entry(s, name, ENTRY_STEP, &two, 1);
        if (!e)
            return -1;
        e->var = p;
        e->state = state;
    }
    return rc;
}

/*
 * The file's tensors, in order, without their offsets: every state-dict entry of the
 * model, each parameter followed by its optimizer slots, then "optim.steps". @p sd is
 * nn_state_dict(model). Checks that every parameter of the model and of the optimizer is
 * in the plan, and that no two names clash.
 */
static int plan_entries(L2LStore *s, const NnStateDict *sd, const char *fn)
{
    int nparams = 0;
    Var **params = nn_parameters(s->model, &nparams);
    if (!params)
        return -1;
    int rc = 0;
    for (int i = 0; i < sd->num_tensors && rc == 0; i++) {
        const Tensor *t = sd->tensors[i];
        Var *p = NULL;
        for (int j = 0; j < nparams && !p; j++)
            if (var_data(params[j]) == t)
                p = params[j];
        StoreEntry *e = add_entry(s, sd->names[i], p ? ENTRY_PARAM : ENTRY_BUFFER, t->shape,
                                  t->ndim);
        if (!e) {
            rc = -1;
            break;
        }
        e->var = p;
        if (p && s->opt)
            rc = plan_state(s, p, sd->names[i], fn);
    }
    if (rc == 0 && s->opt) {
        const int64_t two = 2;
        rc = add_entry(s, "optim.steps", ENTRY_STEPS, &two, 1) ? 0 : -1;
    }
    /* Every parameter must be in the file (a parameter the state dict skips would not). */
    for (int j = 0; rc == 0 && j < nparams; j++)
        if (!find_entry(s, params[j])) {
            strata_set_error("%s: parameter %d of the model is not in its state dict", fn, j);
            rc = -1;
        }
    strata_free(params);
    for (int g = 0; rc == 0 && s->opt && g < s->opt->num_groups; g++)
        for (int i = 0; rc == 0 && i < s->opt->groups[g].num_params; i++)
            if (!find_entry(s, s->opt->groups[g].params[i])) {
                strata_set_error("%s: parameter %d of the optimizer's group %d is not a "
                                 "parameter of the model",
                                 fn, i, g);
                rc = -1;
            }
    for (int i = 0; rc == 0 && i < s->count; i++)
        for (int j = i + 1; rc == 0 && j < s->count; j++)
            if (strcmp(s->entries[i].name, s->entries[j].name) == 0) {
                strata_set_error("%s: two tensors of the store would be called '%s' (a "
                                 "module named like an optimizer slot?)",
                                 fn, s->entries[i].name);
                rc = -1;
            }
    return rc;
}

/* A new store for @p model and @p opt with its plan, or NULL. */
static L2LStore *store_new(const char *path, Module *model, Optimizer *opt, const char *fn)
{
    if (opt && (!opt->ops || !opt->ops->update)) {
        strata_set_error("%s: optimizer '%s' has no per-parameter update (it only updates "
                         "every parameter at once), so its state cannot be brought in "
                         "layer by layer",
                         fn, opt->ops && opt->ops->name ? opt->ops->name : "?");
        return NULL;
    }
    NnStateDict *sd = nn_state_dict(model);
    L2LStore *s = sd ? strata_calloc(1, sizeof *s) : NULL;
    if (!s) {
        nn_state_dict_free(sd);
        return NULL;
    }
    s->fd = -1;
    s->model = model;
    s->opt = opt;
    s->path = strata_strdup(path);
    if (!s->path || plan_entries(s, sd, fn) < 0) {
        nn_state_dict_free(sd);
        store_destroy(s);
        return NULL;
    }
    nn_state_dict_free(sd);
    return s;
}

/* ------------------------------------------------------------ reading the file --- */

/* Whether cJSON number @p v is a whole number in [0, limit]; stores it in *out. */
static bool json_size(const cJSON *v, double limit, size_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= limit && floor(d) == d))
        return false;
    *out = (size_t)d;
    return true;
}

/* One header entry against the plan's entry @p e: dtype, shape, offsets; sets e->offset. */
static int check_header_entry(L2LStore *s, const cJSON *item, StoreEntry *e, size_t data_start,
                              const char *fn)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2) {
        strata_set_error("%s: '%s' is corrupt: tensor '%s' needs \"dtype\", \"shape\" and "
                         "two \"data_offsets\"",
                         fn, s->path, e->name);
        return -1;
    }
    if (strcmp(dtype->valuestring, "F32") != 0) {
        strata_set_error("%s: '%s': tensor '%s' is %s; the store maps float32 (F32) only", fn,
                         s->path, e->name, dtype->valuestring);
        return -1;
    }
    char want[SHAPE_STR_SIZE], got[SHAPE_STR_SIZE] = "[";
    tensor_format_shape(e->shape, e->ndim, want, sizeof want);
    bool same = cJSON_GetArraySize(shape) == e->ndim;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape)
    {
        size_t n = 0;
        bool ok = json_size(dim, 9007199254740992.0, &n);
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s", d ? ", " : "", ok ? "" : "?");
        len = strlen(got);
        if (ok)
            snprintf(got + len, sizeof got - len, "%zu", n);
        same = same && ok && d < e->ndim && (int64_t)n == e->shape[d];
        d++;
    }
    size_t len = strlen(got);
    snprintf(got + len, sizeof got - len, "]");
    if (!same) {
        strata_set_error("%s: '%s': tensor '%s' has shape %s in the file but %s in the "
                         "model",
                         fn, s->path, e->name, got, want);
        return -1;
    }
    size_t begin, end, data_size = s->size - data_start;
    if (!json_size(cJSON_GetArrayItem(offsets, 0), 1e18, &begin) ||
        !json_size(cJSON_GetArrayItem(offsets, 1), 1e18, &end) || end < begin ||
        end - begin != e->bytes) {
        strata_set_error("%s: '%s' is corrupt: tensor '%s' has data_offsets that do not "
                         "span its %zu bytes",
                         fn, s->path, e->name, e->bytes);
        return -1;
    }
    if (end > data_size) {
        strata_set_error("%s: '%s' is truncated: tensor '%s' ends at byte %zu of the data "
                         "but the file holds %zu bytes of data",
                         fn, s->path, e->name, end, data_size);
        return -1;
    }
    if ((data_start + begin) % sizeof(float) != 0) {
        strata_set_error("%s: '%s': tensor '%s' starts at byte %zu of the file, not a "
                         "multiple of 4: its floats cannot be used in place",
                         fn, s->path, e->name, data_start + begin);
        return -1;
    }
    e->offset = data_start + begin;
    return 0;
}

static int by_offset(const void *a, const void *b)
{
    const StoreEntry *x = *(const StoreEntry *const *)a, *y = *(const StoreEntry *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* The tensors must tile the data section: sorted by offset, each starts where the one
 * before ended, and the last ends at the end of the file. */
static int check_tiling(L2LStore *s, size_t data_start, const char *fn)
{
    StoreEntry **order = strata_malloc(((size_t)s->count + 1) * sizeof *order);
    if (!order)
        return -1;
    for (int i = 0; i < s->count; i++)
        order[i] = &s->entries[i];
    qsort(order, (size_t)s->count, sizeof *order, by_offset);
    size_t at = data_start;
    int rc = 0;
    for (int i = 0; i < s->count && rc == 0; i++) {
        if (order[i]->offset != at) {
            strata_set_error("%s: '%s' is corrupt: tensor '%s' starts at byte %zu where the "
                             "previous one ends at %zu (overlapping or holed data)",
                             fn, s->path, order[i]->name, order[i]->offset, at);
            rc = -1;
        }
        at += order[i]->bytes;
    }
    if (rc == 0 && at != s->size) {
        strata_set_error("%s: '%s' has %zu bytes after its last tensor", fn, s->path,
                         s->size - at);
        rc = -1;
    }
    strata_free(order);
    return rc;
}

/* Match the header (JSON at s->map + 8, @p header bytes) against the plan. */
static int check_header(L2LStore *s, size_t header, const char *fn)
{
    cJSON *root = cJSON_ParseWithLength((const char *)s->map + 8, header);
    if (!cJSON_IsObject(root)) {
        strata_set_error("%s: '%s' is corrupt: its header is not a JSON object", fn, s->path);
        cJSON_Delete(root);
        return -1;
    }
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (rc < 0)
            break;
        if (item->string && strcmp(item->string, "__metadata__") == 0)
            continue;
        StoreEntry *e = NULL;
        for (int i = 0; i < s->count && !e; i++)
            if (item->string && strcmp(s->entries[i].name, item->string) == 0)
                e = &s->entries[i];
        if (!e) {
            strata_set_error(s->opt ? "%s: '%s' holds a tensor '%s' that neither the model "
                                      "nor the optimizer has"
                                    : "%s: '%s' holds a tensor '%s' that the model does not "
                                      "have (and no optimizer was given)",
                             fn, s->path, item->string ? item->string : "?");
            rc = -1;
        } else if (e->resident) { /* used as "seen" until the entries go live */
            strata_set_error("%s: '%s' is corrupt: tensor '%s' appears twice", fn, s->path,
                             e->name);
            rc = -1;
        } else {
            e->resident = true;
            rc = check_header_entry(s, item, e, 8 + header, fn);
        }
    }
    cJSON_Delete(root);
    for (int i = 0; rc == 0 && i < s->count; i++)
        if (!s->entries[i].resident) {
            strata_set_error("%s: '%s' has no tensor '%s' (written for another model or "
                             "optimizer?)",
                             fn, s->path, s->entries[i].name);
            rc = -1;
        }
    for (int i = 0; i < s->count; i++)
        s->entries[i].resident = false;
    if (rc == 0)
        rc = check_tiling(s, 8 + header, fn);
    return rc;
}

/*
 * Map the file at s->path and check it holds the planned tensors; the counts must be
 * whole numbers. Makes the views. Changes nothing outside the store.
 */
static int map_and_check(L2LStore *s, const char *fn)
{
    s->fd = store_io(STORE_OPEN, s, NULL, 0);
    if (s->fd < 0) {
        strata_set_error("%s: cannot open '%s': %s", fn, s->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        strata_set_error("%s: cannot stat '%s': %s", fn, s->path, strerror(errno));
        return -1;
    }
    if (st.st_size < 8) {
        strata_set_error("%s: '%s' is truncated or not a safetensors file (%lld bytes)", fn,
                         s->path, (long long)st.st_size);
        return -1;
    }
    s->size = (size_t)st.st_size;
    void *map = store_io(STORE_MAP, s, NULL, 0) == 0
                    ? mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0)
                    : MAP_FAILED;
    if (map == MAP_FAILED) {
        strata_set_error("%s: cannot map '%s': %s", fn, s->path, strerror(errno));
        return -1;
    }
    s->map = map;
    uint64_t header = 0;
    for (int i = 0; i < 8; i++)
        header |= (uint64_t)s->map[i] << (8 * i);
    if (header > s->size - 8) {
        strata_set_error("%s: '%s' is truncated: its header says %llu bytes but the file "
                         "has %zu after the length",
                         fn, s->path, (unsigned long long)header, s->size - 8);
        return -1;
    }
    if (check_header(s, (size_t)header, fn) < 0)
        return -1;
    for (int i = 0; i < s->count; i++) {
        StoreEntry *e = &s->entries[i];
        if ((e->kind == ENTRY_STEP || e->kind == ENTRY_STEPS) && !count_is_valid(s, e)) {
            strata_set_error("%s: '%s' is corrupt: the count '%s' is not two whole numbers "
                             "in [0, 2^24)",
                             fn, s->path, e->name);
            return -1;
        }
        if (e->kind != ENTRY_PARAM && e->kind != ENTRY_STATE)
            continue;
        Scope *sc = scope_begin();
        e->view = mapped_tensor(e->shape, e->ndim, entry_floats(s, e));
        tensor_retain(e->view); /* owned by the entry, past the scope */
        scope_end(sc);
        if (!e->view)
            return -1;
    }
    return 0;
}

/*
 * Point the model and the optimizer at the file (nothing can fail now): parameters to
 * their views, the model's buffers set from the file, each parameter's state to the
 * file's (its step count; its buffers as views when the count is above 0), and the
 * optimizer's step count.
 */
static void attach(L2LStore *s)
{
    NnStateDict *sd = NULL;
    for (int i = 0; i < s->count; i++) {
        StoreEntry *e = &s->entries[i];
        switch (e->kind) {
        case ENTRY_PARAM:
            set_var_data(e, e->view); /* the ordinary tensor is freed unless held */
            break;
        case ENTRY_BUFFER: {
            if (!sd)
                sd = nn_state_dict(s->model);
            Tensor *buf = nn_state_dict_contains(sd, e->name) ? nn_state_dict_get(sd, e->name)
                                                              : NULL;
            Scope *sc = scope_begin();
            Tensor *from = buf ? mapped_tensor(e->shape, e->ndim, entry_floats(s, e)) : NULL;
            if (from)
                tensor_copy_(buf, from);
            scope_end(sc);
            break;
        }
        case ENTRY_STEP:
            /* The state is the file's: drop what the optimizer held, then the slots
             * (the STATE entries of this parameter come just before it). */
            e->state->step = read_count(s, e);
            while (e->state->num_buffers > 0)
                optim_state_drop(e->state, e->state->names[0]);
            for (int k = 0; k < s->count; k++) {
                StoreEntry *slot = &s->entries[k];
                if (slot->kind == ENTRY_STATE && slot->state == e->state && e->state->step > 0)
                    (void)optim_state_put(e->state, slot->buffer, slot->view); /* fits */
            }
            break;
        case ENTRY_STEPS:
            s->opt->steps = read_count(s, e);
            break;
        case ENTRY_STATE:
            break;
        }
    }
    nn_state_dict_free(sd);
}

/* How creating and opening a store end: a store whose file is ready (@p rc 0) takes
 * over the model and the optimizer and is returned; one that failed is destroyed,
 * leaving them as they were, and NULL returned. */
static L2LStore *attach_or_destroy(L2LStore *s, int rc)
{
    if (rc < 0) {
        store_destroy(s);
        return NULL;
    }
    attach(s);
    return s;
}

/* Write @p s's planned tensors to s->path (the parameters', buffers' and state's current
 * values; zeros for the slots of buffers not created yet). */
static int write_new_file(L2LStore *s)
{
    NnStateDict *model_sd = nn_state_dict(s->model);
    NnStateDict *sd = model_sd ? nn_state_dict_new() : NULL;
    int rc = sd ? 0 : -1;
    Scope *sc = scope_begin();
    Tensor *zero = tensor_zeros(NULL, 0);
    if (!zero)
        rc = -1;
    for (int i = 0; i < s->count && rc == 0; i++) {
        StoreEntry *e = &s->entries[i];
        Tensor *t = NULL;
        switch (e->kind) {
        case ENTRY_PARAM:
        case ENTRY_BUFFER:
            t = nn_state_dict_get(model_sd, e->name);
            break;
        case ENTRY_STATE:
            t = optim_state_find(e->state, e->buffer);
            if (!t) /* not created yet: zeros, as a view of one zero (no memory) */
                t = tensor_expand(zero, e->shape, e->ndim);
            break;
        case ENTRY_STEP:
        case ENTRY_STEPS: {
            int64_t n = e->kind == ENTRY_STEP ? e->state->step : s->opt->steps;
            float halves[2] = {(float)(n % (int64_t)COUNT_RADIX),
                               (float)(n / (int64_t)COUNT_RADIX)};
            t = tensor_from_data(halves, e->shape, 1);
            break;
        }
        }
        rc = t ? nn_state_dict_set(sd, e->name, t) : -1;
    }
    scope_end(sc);
    if (rc == 0)
        rc = nn_safetensors_save(sd, s->path);
    nn_state_dict_free(sd);
    nn_state_dict_free(model_sd);
    return rc;
}
/* SOLUTION END */

L2LStore *l2l_store_create(const char *path, Module *model, Optimizer *opt)
{
    STRATA_CHECK_ARG(path, NULL);
    STRATA_CHECK_ARG(model, NULL);
    /* SOLUTION BEGIN week=4 step=12 tier=stretch fail=NULL */
    L2LStore *s = store_new(path, model, opt, __func__);
    if (!s)
        return NULL;
    /* Build and check the file beside its place ("<path>.new"); only a store that is
     * complete and mapped replaces what was at @p path, so a failure leaves no new file
     * and the old one as it was. */
    char *final = s->path;
    size_t len = strlen(final);
    s->path = strata_malloc(len + 5);
    int rc = s->path ? 0 : -1;
    if (rc == 0) {
        memcpy(s->path, final, len);
        memcpy(s->path + len, ".new", 5);
        rc = write_new_file(s);
        if (rc == 0)
            rc = map_and_check(s, __func__);
        if (rc == 0 && strata_rename(s->path, final) != 0) {
            strata_set_error("%s: cannot rename '%s' to '%s': %s", __func__, s->path, final,
                             strerror(errno));
            rc = -1;
        }
        if (rc < 0)
            remove(s->path);
    }
    strata_free(s->path);
    s->path = final;
    /* The file holds the current values: the model and the optimizer move to it. */
    return attach_or_destroy(s, rc);
    /* SOLUTION END */
}

L2LStore *l2l_store_open(const char *path, Module *model, Optimizer *opt)
{
    STRATA_CHECK_ARG(path, NULL);
    STRATA_CHECK_ARG(model, NULL);
    /* SOLUTION BEGIN week=4 step=14 tier=stretch fail=NULL */
    L2LStore *s = store_new(path, model, opt, __func__);
    if (!s)
        return NULL;
    /* Every check before anything changes. */
    return attach_or_destroy(s, map_and_check(s, __func__));
    /* SOLUTION END */
}

int l2l_store_sync(L2LStore *store)
{
    STRATA_CHECK_ARG(store, -1);
    /* SOLUTION BEGIN week=4 step=12 tier=stretch fail=-1 */
    if (write_buffers(store) < 0) {
        char inner[1024]; /* a copy: the slot cannot be both source and destination */
        snprintf(inner, sizeof inner, "%s", strata_last_error());
        strata_set_error("l2l_store_sync: '%s': %s", store->path, inner);
        return -1;
    }
    if (store_io(STORE_SYNC, store, store->map, store->size) != 0) {
        strata_set_error("l2l_store_sync: cannot flush '%s': %s", store->path, strerror(errno));
        return -1;
    }
    return 0;
    /* SOLUTION END */
}

void l2l_store_free(L2LStore *store)
{
    if (!store)
        return;
    /* SOLUTION BEGIN week=4 step=12 tier=stretch fail=void */
    /* A resident working copy is its latest value: it stays where it is. */
    for (int i = 0; i < store->count; i++)
        store->entries[i].resident = false;
    (void)l2l_store_sync(store);
    if (!detach_all(store)) {
        /* Out of memory: some parameters still read the file's mapping. Keep it (and
         * the file) rather than pull their memory away; the error slot says so. */
        strata_set_error("l2l_store_free: out of memory copying the model back from '%s': "
                         "its mapping stays in place", store->path);
        store->map = NULL;
        store->fd = -1;
    }
    store_destroy(store);
    /* SOLUTION END */
}

Module *l2l_store_model(const L2LStore *store)
{
    STRATA_CHECK_ARG(store, NULL);
    return store->model;
}

Optimizer *l2l_store_optimizer(const L2LStore *store)
{
    STRATA_CHECK_ARG(store, NULL);
    return store->opt;
}

const char *l2l_store_path(const L2LStore *store)
{
    STRATA_CHECK_ARG(store, NULL);
    return store->path;
}

size_t l2l_store_resident_bytes(const L2LStore *store)
{
    return store ? store->resident_bytes : 0;
}

size_t l2l_store_state_bytes(const L2LStore *store, Var *const *params, int count)
{
    /* SOLUTION BEGIN week=4 step=13 tier=stretch fail=0 */
    size_t bytes = 0;
    for (int i = 0; store && i < store->count; i++)
        for (int j = 0; j < count; j++)
            if (store->entries[i].kind == ENTRY_STATE && store->entries[i].var == params[j])
                bytes += store->entries[i].bytes;
    return bytes;
    /* SOLUTION END */
}

int l2l_store_fetch(L2LStore *store, Var *const *params, int count)
{
    STRATA_CHECK_ARG(store, -1);
    if (count > 0)
        STRATA_CHECK_ARG(params, -1);
    /* SOLUTION BEGIN week=4 step=12 tier=stretch fail=-1 */
    if (!all_in_store(store, params, count, __func__))
        return -1;
    for (int i = 0; i < count; i++) {
        StoreEntry *e = find_entry(store, params[i]);
        if (e->resident)
            continue;
        Tensor *work = working_copy(e->view); /* counted: the working set */
        if (!work) {
            (void)l2l_store_evict(store, params, i, false);
            return -1;
        }
        set_var_data(e, work);
        tensor_release(work);
        e->resident = e->copied = true;
        store->resident_bytes += e->bytes;
    }
    return 0;
    /* SOLUTION END */
}

int l2l_store_fetch_state(L2LStore *store, Var *const *params, int count)
{
    STRATA_CHECK_ARG(store, -1);
    if (count > 0)
        STRATA_CHECK_ARG(params, -1);
    /* SOLUTION BEGIN week=4 step=13 tier=stretch fail=-1 */
    if (!all_in_store(store, params, count, __func__))
        return -1;
    for (int j = 0; j < store->count; j++) {
        StoreEntry *e = &store->entries[j];
        bool wanted = false;
        for (int i = 0; i < count && !wanted; i++)
            wanted = e->var == params[i];
        if (!wanted || e->resident || (e->kind != ENTRY_STATE && e->kind != ENTRY_STEP))
            continue;
        /* A buffer that exists is its view: the update gets a counted copy. One that does
         * not exist yet (step 0) is left to the update to create. */
        if (e->kind == ENTRY_STATE && optim_state_find(e->state, e->buffer) == e->view) {
            Tensor *work = working_copy(e->view);
            if (!work || optim_state_put(e->state, e->buffer, work) < 0) {
                tensor_release(work);
                (void)l2l_store_evict(store, params, count, false);
                return -1;
            }
            tensor_release(work);
            e->copied = true;
            store->resident_bytes += e->bytes;
        }
        e->resident = true;
    }
    return 0;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=4 step=12 tier=stretch */
/* Evict one resident entry: write it to the file first if @p write_back. Returns -1 with
 * an error if the flush failed (the entry is evicted anyway). */
static int evict_entry(L2LStore *s, StoreEntry *e, bool write_back)
{
    int rc = 0;
    unsigned char *start;
    size_t length;
    page_range(s, e, &start, &length);
    switch (e->kind) {
    case ENTRY_PARAM:
        if (write_back) /* the working tensor (the optimizer may have replaced it) */
            tensor_copy_(e->view, var_data(e->var));
        set_var_data(e, e->view); /* releases the working copy */
        break;
    case ENTRY_STATE: {
        Tensor *work = optim_state_find(e->state, e->buffer);
        if (write_back && work) {
            if (work != e->view)
                tensor_copy_(e->view, work);
            (void)optim_state_put(e->state, e->buffer, e->view); /* replaces */
        } else if (!write_back) {
            /* Back to the file: the buffer exists iff the file's step count is > 0 (the
             * STEP entry follows this parameter's slots and still holds it). */
            const StoreEntry *step = e;
            while (step->kind != ENTRY_STEP)
                step++;
            if (read_count(s, step) > 0)
                (void)optim_state_put(e->state, e->buffer, e->view);
            else
                optim_state_drop(e->state, e->buffer);
        }
        break;
    }
    case ENTRY_STEP:
        if (write_back)
            write_count(s, e, e->state->step);
        else
            e->state->step = read_count(s, e);
        break;
    default:
        break;
    }
    if (write_back && store_io(STORE_SYNC, s, start, length) != 0) {
        strata_set_error("l2l_store_evict: cannot flush '%s': %s", s->path, strerror(errno));
        rc = -1;
    }
    if (e->copied)
        s->resident_bytes -= e->bytes;
    e->resident = e->copied = false;
    /* Clean pages of a shared file mapping: dropping them loses nothing. */
    (void)madvise(start, length, MADV_DONTNEED);
    return rc;
}
/* SOLUTION END */

int l2l_store_evict(L2LStore *store, Var *const *params, int count, bool write_back)
{
    STRATA_CHECK_ARG(store, -1);
    if (count > 0)
        STRATA_CHECK_ARG(params, -1);
    /* SOLUTION BEGIN week=4 step=12 tier=stretch fail=-1 */
    int rc = 0;
    for (int i = 0; i < count; i++) {
        /* A state buffer the update created but the store has no slot for would be lost. */
        OptimParamState *state = optim_param_state(store->opt, params[i], NULL);
        for (int b = 0; write_back && state && b < state->num_buffers && rc == 0; b++) {
            bool slot = false;
            for (int j = 0; j < store->count && !slot; j++)
                slot = store->entries[j].kind == ENTRY_STATE &&
                       store->entries[j].state == state &&
                       strcmp(store->entries[j].buffer, state->names[b]) == 0;
            if (!slot) {
                strata_set_error("%s: the update created state buffer '%s', which the store "
                                 "has no slot for; it stays in ordinary memory",
                                 __func__, state->names[b]);
                rc = -1;
            }
        }
    }
    for (int j = 0; j < store->count; j++) {
        StoreEntry *e = &store->entries[j];
        bool wanted = false;
        for (int i = 0; i < count && !wanted; i++)
            wanted = e->var == params[i];
        /* Slots before the step count: a slot reads the file's count when not written. */
        if (wanted && e->resident && evict_entry(store, e, write_back) < 0 && rc == 0)
            rc = -1;
    }
    return rc;
    /* SOLUTION END */
}
