/*
 * l2l_store.c - the L2L host store: a model's parameters in a memory-mapped safetensors
 * file, brought into counted working memory one layer at a time. See docs/l2l.md
 * ("The host store").
 *
 * The file is the model's state dict written by nn_safetensors_save(): 8 bytes of header
 * length n (little-endian), n bytes of JSON header padded with spaces to a multiple of
 * 8, then each tensor's float32 data in the dict's order, back to back. The store maps
 * the whole file (MAP_SHARED, so stores into the mapping are stores into the file) and
 * gives each parameter Var a tensor whose storage is its bytes in the mapping (a
 * TensorStorage whose destroy function frees only the header). The mapping is not
 * counted memory: what the counting allocator sees of the model is the working copies
 * of the layer being run.
 *
 *   fetch  W = clone(view)          counted working copy; the Var now holds W
 *   evict  [view = W; msync]        only after a successful update (write_back)
 *          Var holds the view again; W released; madvise(MADV_DONTNEED) on the range
 *
 * The range's pages are clean after msync, so the kernel can drop them from the
 * process (they are read back from the file, or the page cache, when next touched).
 */
#include "optim.h"
#include "tensor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* One tensor of the file. */
typedef struct StoreEntry {
    char *name;        /* the state-dict name (owned) */
    Var *var;          /* the parameter (borrowed), or NULL for a buffer */
    Tensor *view;      /* the parameter's view of the mapping (owned), NULL for a buffer */
    size_t offset;     /* byte offset of its data in the file */
    size_t bytes;      /* bytes of data */
    bool resident;     /* the Var holds a working copy instead of the view */
} StoreEntry;

struct L2LStore {
    char *path;           /* owned */
    Module *model;        /* borrowed */
    int fd;
    unsigned char *map;   /* the whole file */
    size_t size;          /* bytes mapped */
    int count;
    StoreEntry *entries;  /* owned */
    size_t resident_bytes;
};

/* SOLUTION BEGIN week=4 */
static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = strata_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A storage over @p numel floats at @p data that it does not own. */
static void mapped_storage_destroy(StrataObject *object)
{
    strata_free(object); /* the floats belong to the mapping */
}

/* A contiguous tensor of @p like's shape over the floats at @p data (not copied). */
static Tensor *mapped_tensor(const Tensor *like, float *data)
{
    TensorStorage *storage = strata_calloc(1, sizeof *storage);
    if (!storage)
        return NULL;
    /* Storages are never scoped: only tensors hold them. */
    storage->base.refcount = 1;
    storage->base.scope_slot = -1;
    storage->base.destroy = mapped_storage_destroy;
    storage->data = data;
    storage->numel = (size_t)tensor_numel(like);
    Tensor carrier;
    memset(&carrier, 0, sizeof carrier);
    carrier.storage = storage;
    int64_t strides[TENSOR_MAX_DIMS];
    tensor_contiguous_strides(like->shape, like->ndim, strides);
    Tensor *t = tensor_make_view(&carrier, like->shape, strides, like->ndim, 0);
    strata_object_release(&storage->base); /* the view holds it now (or it is freed) */
    return t;
}

/* The page-aligned byte range around [offset, offset + bytes) of the file. */
static void page_range(const L2LStore *s, size_t offset, size_t bytes, unsigned char **start,
                       size_t *length)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t lo = offset / page * page;
    size_t hi = (offset + bytes + page - 1) / page * page;
    if (hi > s->size)
        hi = s->size;
    *start = s->map + lo;
    *length = hi - lo;
}

static StoreEntry *find_entry(L2LStore *s, const Var *p)
{
    for (int i = 0; i < s->count; i++)
        if (s->entries[i].var == p)
            return &s->entries[i];
    return NULL;
}

/* Point @p e's Var at @p t (retained), releasing what it held. */
static void set_var_data(StoreEntry *e, Tensor *t)
{
    tensor_retain(t);
    Tensor *old = e->var->data;
    e->var->data = t;
    tensor_release(old);
}

/* Give every parameter an ordinary tensor with its current values (used by free and
 * on a failed create). Returns -1 if a copy could not be made (that Var keeps its view). */
static int detach_all(L2LStore *s)
{
    int rc = 0;
    for (int i = 0; i < s->count; i++) {
        StoreEntry *e = &s->entries[i];
        if (!e->var || e->resident || e->var->data != e->view)
            continue;
        Scope *sc = scope_begin();
        Tensor *copy = tensor_clone(e->view);
        if (copy)
            set_var_data(e, copy);
        else
            rc = -1;
        scope_end(sc);
    }
    return rc;
}

/* Copy the model's buffers (every state-dict entry that is not a parameter) into the
 * mapping. */
static int write_buffers(L2LStore *s)
{
    bool any = false;
    for (int i = 0; i < s->count && !any; i++)
        any = s->entries[i].var == NULL;
    if (!any)
        return 0;
    NnStateDict *sd = nn_state_dict(s->model);
    if (!sd)
        return -1;
    int rc = 0;
    for (int i = 0; i < s->count && rc == 0; i++) {
        StoreEntry *e = &s->entries[i];
        if (e->var)
            continue;
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

/* Map the file written from @p sd and check it holds the dict's tensors, laid out as
 * nn_safetensors_save() lays them out; fill s->entries (views not made yet). */
static int map_and_check(L2LStore *s, const NnStateDict *sd)
{
    const char *fn = "l2l_store_create";
    s->fd = open(s->path, O_RDWR);
    if (s->fd < 0) {
        strata_set_error("%s: cannot open '%s': %s", fn, s->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0 || st.st_size < 8) {
        strata_set_error("%s: '%s' is not a safetensors file (too short)", fn, s->path);
        return -1;
    }
    s->size = (size_t)st.st_size;
    void *map = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (map == MAP_FAILED) {
        strata_set_error("%s: cannot map '%s': %s", fn, s->path, strerror(errno));
        return -1;
    }
    s->map = map;
    uint64_t header = 0;
    for (int i = 0; i < 8; i++)
        header |= (uint64_t)s->map[i] << (8 * i);
    size_t data = 0;
    for (int i = 0; i < sd->num_tensors; i++)
        data += (size_t)tensor_numel(sd->tensors[i]) * sizeof(float);
    if (header % 8 != 0 || header > s->size - 8 || s->size - 8 - header != data) {
        strata_set_error("%s: '%s' has a header of %llu bytes and %zu bytes in all, where "
                         "%zu bytes of data were written",
                         fn, s->path, (unsigned long long)header, s->size, data);
        return -1;
    }
    s->entries = strata_calloc((size_t)sd->num_tensors + 1, sizeof *s->entries);
    if (!s->entries)
        return -1;
    size_t offset = 8 + (size_t)header; /* a multiple of 8: the floats are aligned */
    for (int i = 0; i < sd->num_tensors; i++) {
        StoreEntry *e = &s->entries[s->count++];
        e->name = dup_string(sd->names[i]);
        if (!e->name)
            return -1;
        e->offset = offset;
        e->bytes = (size_t)tensor_numel(sd->tensors[i]) * sizeof(float);
        offset += e->bytes;
        /* The bytes must be the tensor's values (the file is what we think it is). */
        Scope *sc = scope_begin();
        Tensor *c = tensor_contiguous(sd->tensors[i]);
        bool same = c && memcmp(s->map + e->offset, c->data, e->bytes) == 0;
        scope_end(sc);
        if (!same) {
            strata_set_error("%s: '%s' does not hold tensor '%s' where expected", fn,
                             s->path, e->name);
            return -1;
        }
    }
    return 0;
}
/* SOLUTION END */

L2LStore *l2l_store_create(const char *path, Module *model)
{
    const char *fn = "l2l_store_create";
    if (!path) {
        strata_error_null(fn, "path");
        return NULL;
    }
    if (!model) {
        strata_error_null(fn, "model");
        return NULL;
    }
    /* SOLUTION BEGIN week=4 fail=NULL */
    int nparams = 0;
    Var **params = nn_parameters(model, &nparams);
    NnStateDict *sd = params ? nn_state_dict(model) : NULL;
    L2LStore *s = sd ? strata_calloc(1, sizeof *s) : NULL;
    if (!s) {
        nn_state_dict_free(sd);
        strata_free(params);
        return NULL;
    }
    s->fd = -1;
    s->model = model;
    s->path = dup_string(path);
    int rc = s->path ? nn_safetensors_save(sd, path) : -1;
    if (rc == 0)
        rc = map_and_check(s, sd);
    /* Each parameter's entry: the one whose tensor is the parameter's tensor. */
    for (int i = 0; rc == 0 && i < s->count; i++) {
        StoreEntry *e = &s->entries[i];
        for (int j = 0; j < nparams && !e->var; j++)
            if (var_data(params[j]) == sd->tensors[i])
                e->var = params[j];
        if (!e->var)
            continue;
        Scope *sc = scope_begin();
        e->view = mapped_tensor(sd->tensors[i], (float *)(void *)(s->map + e->offset));
        tensor_retain(e->view);
        scope_end(sc);
        if (!e->view)
            rc = -1;
    }
    /* Every parameter must be in the file (a parameter the state dict skips would not). */
    for (int j = 0; rc == 0 && j < nparams; j++)
        if (!find_entry(s, params[j])) {
            strata_set_error("%s: a parameter of the model is not in its state dict", fn);
            rc = -1;
        }
    strata_free(params);
    nn_state_dict_free(sd); /* drops the dict's references to the model's tensors */
    if (rc < 0) {
        store_destroy(s);
        return NULL;
    }
    /* Nothing can fail now: the parameters move to the mapping (their ordinary tensors
     * are freed unless something else holds them). */
    for (int i = 0; i < s->count; i++)
        if (s->entries[i].var)
            set_var_data(&s->entries[i], s->entries[i].view);
    return s;
    /* SOLUTION END */
}

int l2l_store_sync(L2LStore *store)
{
    if (!store) {
        strata_error_null(__func__, "store");
        return -1;
    }
    /* SOLUTION BEGIN week=4 fail=-1 */
    if (write_buffers(store) < 0) {
        strata_set_error("l2l_store_sync: '%s': %s", store->path, strata_last_error());
        return -1;
    }
    if (msync(store->map, store->size, MS_SYNC) != 0) {
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
    /* SOLUTION BEGIN week=4 fail=void */
    /* A resident parameter's working copy is its latest value: keep it as its tensor. */
    for (int i = 0; i < store->count; i++)
        store->entries[i].resident = false;
    (void)l2l_store_sync(store);
    (void)detach_all(store);
    store_destroy(store);
    /* SOLUTION END */
}

Module *l2l_store_model(const L2LStore *store)
{
    if (!store) {
        strata_error_null(__func__, "store");
        return NULL;
    }
    return store->model;
}

const char *l2l_store_path(const L2LStore *store)
{
    if (!store) {
        strata_error_null(__func__, "store");
        return NULL;
    }
    return store->path;
}

size_t l2l_store_resident_bytes(const L2LStore *store)
{
    return store ? store->resident_bytes : 0;
}

int l2l_store_fetch(L2LStore *store, Var *const *params, int count)
{
    const char *fn = "l2l_store_fetch";
    if (!store || (!params && count > 0)) {
        strata_error_null(fn, !store ? "store" : "params");
        return -1;
    }
    /* SOLUTION BEGIN week=4 fail=-1 */
    for (int i = 0; i < count; i++)
        if (!find_entry(store, params[i])) {
            strata_set_error("%s: parameter %d is not a parameter of the store's model", fn, i);
            return -1;
        }
    for (int i = 0; i < count; i++) {
        StoreEntry *e = find_entry(store, params[i]);
        if (e->resident)
            continue;
        Scope *sc = scope_begin();
        Tensor *work = tensor_clone(e->view); /* counted: the working set */
        if (work)
            set_var_data(e, work);
        scope_end(sc);
        if (!work) {
            (void)l2l_store_evict(store, params, i, false);
            return -1;
        }
        e->resident = true;
        store->resident_bytes += e->bytes;
    }
    return 0;
    /* SOLUTION END */
}

int l2l_store_evict(L2LStore *store, Var *const *params, int count, bool write_back)
{
    const char *fn = "l2l_store_evict";
    if (!store || (!params && count > 0)) {
        strata_error_null(fn, !store ? "store" : "params");
        return -1;
    }
    /* SOLUTION BEGIN week=4 fail=-1 */
    int rc = 0;
    for (int i = 0; i < count; i++) {
        StoreEntry *e = find_entry(store, params[i]);
        if (!e || !e->resident)
            continue;
        unsigned char *start;
        size_t length;
        page_range(store, e->offset, e->bytes, &start, &length);
        if (write_back) {
            /* The working tensor (the optimizer may have replaced it) into the file. */
            tensor_copy_(e->view, var_data(e->var));
            if (msync(start, length, MS_SYNC) != 0 && rc == 0) {
                strata_set_error("%s: cannot flush '%s': %s", fn, store->path,
                                 strerror(errno));
                rc = -1;
            }
        }
        set_var_data(e, e->view); /* releases the working copy */
        e->resident = false;
        store->resident_bytes -= e->bytes;
        /* Clean pages of a shared file mapping: dropping them loses nothing. */
        (void)madvise(start, length, MADV_DONTNEED);
    }
    return rc;
    /* SOLUTION END */
}
