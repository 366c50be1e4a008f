/*
 * tensor.c - the Tensor object: storage, lifetime, creation and element access. The
 * views that share a tensor's storage are in view.c.
 *
 * A tensor is a header (shape, strides, offset) over a refcounted TensorStorage.
 * Element (i0, ..., ik) lives at data[i0*strides[0] + ... + ik*strides[k]], where
 * data = storage->data + offset. A view is just another header over the same storage:
 * changing the header is O(ndim), whatever the tensor's size.
 */
#include "tensor_internal.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------- storage --- */

/* The floats start one cache line after the header, so they stay 64-byte aligned. */
#define STORAGE_HEADER 64

/* Room for a Tensor header between the storage header and the floats (see tensor_new). */
#define EMBEDDED_TENSOR (((sizeof(Tensor) + 63) / 64) * 64)

static void storage_destroy(StrataObject *object)
{
    strata_free(object);
}

/*
 * The one function that allocates tensor storage (swap a caching allocator in here).
 * One block holds the storage header, @p extra bytes of room for a tensor header, and
 * @p numel floats, so a fresh tensor costs a single allocation.
 */
static TensorStorage *storage_alloc(size_t numel, size_t extra)
{
    _Static_assert(sizeof(TensorStorage) <= STORAGE_HEADER, "storage header too big");
    if (numel > (SIZE_MAX - STORAGE_HEADER - EMBEDDED_TENSOR) / sizeof(float)) {
        strata_set_error("tensor_storage_new: %zu elements is too large", numel);
        return NULL;
    }
    TensorStorage *s = strata_malloc(STORAGE_HEADER + extra + numel * sizeof(float));
    if (!s)
        return NULL;
    /* Storages are never scoped: only tensors hold them, so no strata_object_init. */
    s->base.refcount = 1;
    s->base.scope_slot = -1;
    s->base.destroy = storage_destroy;
    s->data = (float *)((unsigned char *)s + STORAGE_HEADER + extra);
    s->numel = numel;
    return s;
}

/* ------------------------------------------------------------ tensor lifetime --- */

/* Whether @p t lives inside its storage's block (made by tensor_new). */
static bool is_embedded(const Tensor *t)
{
    return (const unsigned char *)t == (const unsigned char *)t->storage + STORAGE_HEADER;
}

static void tensor_destroy(StrataObject *object)
{
    Tensor *t = (Tensor *)object;
    bool embedded = is_embedded(t);
    TensorStorage *storage = t->storage;
    /* An embedded header is freed with its storage's block, when the last view goes. */
    if (!embedded)
        strata_free(t);
    strata_object_release(&storage->base);
}

void tensor_retain(Tensor *t)
{
    if (t)
        strata_object_retain(&t->base);
}

void tensor_release(Tensor *t)
{
    if (t)
        strata_object_release(&t->base);
}

/*
 * Fill the header @p t (or allocate one when NULL) over @p storage, which the tensor
 * takes over, and register it with the open scope.
 */
static Tensor *tensor_header(Tensor *t, TensorStorage *storage, const int64_t *shape,
                             const int64_t *strides, int ndim, int64_t offset)
{
    if (!t)
        t = strata_malloc(sizeof *t);
    if (!t)
        return NULL;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->strides[d] = strides[d];
    }
    for (int d = ndim; d < TENSOR_MAX_DIMS; d++) {
        t->shape[d] = 1;
        t->strides[d] = 1;
    }
    t->offset = offset;
    t->storage = storage;
    t->data = storage->data + offset;
    strata_object_init(&t->base, tensor_destroy);
    return t;
}

/* ----------------------------------------------------------------- shape helpers --- */

int64_t tensor_shape_numel(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

void tensor_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape[d] > 1 ? shape[d] : 1;
    }
}

char *tensor_format_shape(const int64_t *shape, int ndim, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "",
                                 (long long)shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

char *tensor_shape_str(const Tensor *t, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0'; /* what a caller prints if nothing else is written */
    if (!t) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=buf */
    return tensor_format_shape(t->shape, t->ndim, buf, size);
    /* SOLUTION END */
}

int tensor_wrap_dim(int dim, int ndim, const char *fn)
{
    int n = ndim > 0 ? ndim : 1; /* a scalar accepts dim 0 and -1, as in PyTorch */
    if (dim < -n || dim >= n) {
        strata_set_error("%s: dim %d out of range for a tensor of %d dims (expected "
                         "[%d, %d])", fn, dim, ndim, -n, n - 1);
        return -1;
    }
    return dim < 0 ? dim + n : dim;
}

int tensor_dim_mask(const int *dims, int ndims, int tensor_ndim, bool *mask,
                    const char *fn)
{
    for (int d = 0; d < TENSOR_MAX_DIMS; d++)
        mask[d] = ndims == 0;
    if (ndims < 0 || (ndims > 0 && !dims)) {
        strata_set_error("%s: bad dim list (%d dims)", fn, ndims);
        return -1;
    }
    for (int i = 0; i < ndims; i++) {
        int d = tensor_wrap_dim(dims[i], tensor_ndim, fn);
        if (d < 0)
            return -1;
        if (tensor_ndim > 0 && mask[d]) {
            strata_set_error("%s: dim %d appears twice in the dim list", fn, d);
            return -1;
        }
        mask[d] = true;
    }
    return 0;
}

/* Check a requested rank: ndim in range, and a shape array when there are dims. */
int tensor_check_rank(const int64_t *shape, int ndim, const char *fn)
{
    if (ndim < 0 || ndim > TENSOR_MAX_DIMS) {
        strata_set_error("%s: %d dims requested, at most %d are supported", fn, ndim,
                         TENSOR_MAX_DIMS);
        return -1;
    }
    if (ndim > 0 && !shape) {
        strata_error_null(fn, "shape");
        return -1;
    }
    return 0;
}

/* Check a shape for creation: ndim in range, sizes >= 0, total size that fits. */
int tensor_check_shape(const int64_t *shape, int ndim, const char *fn)
{
    if (tensor_check_rank(shape, ndim, fn) < 0)
        return -1;
    char buf[SHAPE_STR_SIZE];
    int64_t limit = (int64_t)((SIZE_MAX - STORAGE_HEADER - EMBEDDED_TENSOR) / sizeof(float));
    if (limit < 0 || (uint64_t)limit > (uint64_t)INT64_MAX / 2)
        limit = INT64_MAX / 2;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            strata_set_error("%s: negative size %lld in shape %s", fn,
                             (long long)shape[d], tensor_format_shape(shape, ndim, buf,
                                                                      sizeof buf));
            return -1;
        }
        if (shape[d] > 0 && n > limit / shape[d]) {
            strata_set_error("%s: shape %s has too many elements", fn,
                             tensor_format_shape(shape, ndim, buf, sizeof buf));
            return -1;
        }
        n *= shape[d];
    }
    /* A 0 anywhere makes the product 0, but the other sizes must still be sane. */
    return 0;
}

Tensor *tensor_new(const int64_t *shape, int ndim, const char *fn)
{
    if (tensor_check_shape(shape, ndim, fn) < 0)
        return NULL;
    int64_t strides[TENSOR_MAX_DIMS];
    tensor_contiguous_strides(shape, ndim, strides);
    /* Header and data in one block: one allocation for a fresh tensor. */
    TensorStorage *s = storage_alloc((size_t)tensor_shape_numel(shape, ndim), EMBEDDED_TENSOR);
    if (!s)
        return NULL;
    Tensor *embedded = (Tensor *)((unsigned char *)s + STORAGE_HEADER);
    return tensor_header(embedded, s, shape, strides, ndim, 0);
}

Tensor *tensor_new_like(const Tensor *t, const char *fn)
{
    return tensor_new(t->shape, t->ndim, fn);
}

/* @p t's shape and strides without dim @p dim, into @p shape and @p strides. */
int tensor_geometry_without_dim(const Tensor *t, int dim, int64_t *shape, int64_t *strides)
{
    int n = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d == dim)
            continue;
        shape[n] = t->shape[d];
        strides[n++] = t->strides[d];
    }
    return n;
}

Tensor *tensor_make_view(const Tensor *t, const int64_t *shape, const int64_t *strides,
                         int ndim, int64_t offset)
{
    strata_object_retain(&t->storage->base);
    Tensor *v = tensor_header(NULL, t->storage, shape, strides, ndim, offset);
    if (!v)
        strata_object_release(&t->storage->base);
    return v;
}

/* ------------------------------------------------------------------ creation --- */

/* SOLUTION BEGIN week=1 step=1 tier=core */
static void fill_floats(float *data, int64_t n, float value)
{
    for (int64_t i = 0; i < n; i++)
        data[i] = value;
}
/* SOLUTION END */

Tensor *tensor_empty(const int64_t *shape, int ndim)
{
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    return tensor_new(shape, ndim, __func__);
    /* SOLUTION END */
}

Tensor *tensor_zeros(const int64_t *shape, int ndim)
{
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    Tensor *t = tensor_new(shape, ndim, __func__);
    if (t)
        memset(t->data, 0, (size_t)tensor_numel(t) * sizeof(float));
    return t;
    /* SOLUTION END */
}

Tensor *tensor_ones(const int64_t *shape, int ndim)
{
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    Tensor *t = tensor_new(shape, ndim, __func__);
    if (t)
        fill_floats(t->data, tensor_numel(t), 1.0f);
    return t;
    /* SOLUTION END */
}

Tensor *tensor_full(const int64_t *shape, int ndim, float value)
{
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    Tensor *t = tensor_new(shape, ndim, __func__);
    if (t)
        fill_floats(t->data, tensor_numel(t), value);
    return t;
    /* SOLUTION END */
}

Tensor *tensor_scalar(float value)
{
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    Tensor *t = tensor_new(NULL, 0, __func__);
    if (t)
        t->data[0] = value;
    return t;
    /* SOLUTION END */
}

Tensor *tensor_arange(double start, double end, double step)
{
    /* SOLUTION BEGIN week=1 step=7 tier=stretch fail=NULL */
    if (step == 0 || isnan(step) || isnan(start) || isnan(end) || isinf(start) ||
        isinf(end)) {
        strata_set_error("tensor_arange: bad range start=%g end=%g step=%g", start, end,
                         step);
        return NULL;
    }
    if ((step > 0 && end < start) || (step < 0 && end > start)) {
        strata_set_error("tensor_arange: upper bound and larger bound inconsistent with "
                         "step sign (start=%g end=%g step=%g)", start, end, step);
        return NULL;
    }
    double count = ceil((end - start) / step);
    if (!(count < 1e15)) {
        strata_set_error("tensor_arange: too many elements (start=%g end=%g step=%g)",
                         start, end, step);
        return NULL;
    }
    int64_t n = (int64_t)count;
    Tensor *t = tensor_new(&n, 1, __func__);
    if (t)
        for (int64_t i = 0; i < n; i++)
            t->data[i] = (float)(start + (double)i * step);
    return t;
    /* SOLUTION END */
}

Tensor *tensor_linspace(double start, double end, int64_t steps)
{
    /* SOLUTION BEGIN week=1 step=7 tier=stretch fail=NULL */
    if (steps < 0) {
        strata_set_error("tensor_linspace: number of steps must be non-negative (got "
                         "%lld)", (long long)steps);
        return NULL;
    }
    Tensor *t = tensor_new(&steps, 1, __func__);
    if (!t)
        return NULL;
    if (steps == 1)
        t->data[0] = (float)start;
    /* Fill from both ends, as PyTorch does, so the last value is exactly end. */
    double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
    int64_t half = steps / 2;
    for (int64_t i = 0; i < steps && steps > 1; i++)
        t->data[i] = (float)(i < half ? start + step * (double)i
                                      : end - step * (double)(steps - 1 - i));
    return t;
    /* SOLUTION END */
}

Tensor *tensor_from_data(const float *data, const int64_t *shape, int ndim)
{
    STRATA_CHECK_ARG(data, NULL);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    Tensor *t = tensor_new(shape, ndim, __func__);
    if (t && tensor_numel(t) > 0)
        memcpy(t->data, data, (size_t)tensor_numel(t) * sizeof(float));
    return t;
    /* SOLUTION END */
}

Tensor *tensor_rand(const int64_t *shape, int ndim)
{
    /* SOLUTION BEGIN week=1 step=7 tier=stretch fail=NULL */
    Tensor *t = tensor_new(shape, ndim, __func__);
    if (t)
        for (int64_t i = 0, n = tensor_numel(t); i < n; i++)
            t->data[i] = (float)strata_rng_uniform();
    return t;
    /* SOLUTION END */
}

Tensor *tensor_randn(const int64_t *shape, int ndim)
{
    /* SOLUTION BEGIN week=1 step=7 tier=stretch fail=NULL */
    Tensor *t = tensor_new(shape, ndim, __func__);
    if (t)
        for (int64_t i = 0, n = tensor_numel(t); i < n; i++)
            t->data[i] = (float)strata_rng_normal();
    return t;
    /* SOLUTION END */
}

Tensor *tensor_bernoulli(const int64_t *shape, int ndim, float p)
{
    /* SOLUTION BEGIN week=1 step=7 tier=stretch fail=NULL */
    if (!(p >= 0.0f && p <= 1.0f)) {
        strata_set_error("tensor_bernoulli: p must be in [0, 1] (got %g)", (double)p);
        return NULL;
    }
    Tensor *t = tensor_new(shape, ndim, __func__);
    if (t)
        for (int64_t i = 0, n = tensor_numel(t); i < n; i++)
            t->data[i] = strata_rng_uniform() < (double)p ? 1.0f : 0.0f;
    return t;
    /* SOLUTION END */
}

Tensor *tensor_zeros_like(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    return tensor_zeros(t->shape, t->ndim);
    /* SOLUTION END */
}

Tensor *tensor_ones_like(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    return tensor_ones(t->shape, t->ndim);
    /* SOLUTION END */
}

Tensor *tensor_full_like(const Tensor *t, float value)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NULL */
    return tensor_full(t->shape, t->ndim, value);
    /* SOLUTION END */
}

/* --------------------------------------------------------------- element access --- */

int64_t tensor_numel(const Tensor *t)
{
    if (!t)
        return 0;
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=0 */
    return tensor_shape_numel(t->shape, t->ndim);
    /* SOLUTION END */
}

int64_t tensor_size(const Tensor *t, int dim)
{
    STRATA_CHECK_ARG(t, -1);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=-1 */
    if (t->ndim == 0) {
        strata_set_error("tensor_size: dim %d specified but the tensor has no dims (0-d)",
                         dim);
        return -1;
    }
    int d = tensor_wrap_dim(dim, t->ndim, __func__);
    return d < 0 ? -1 : t->shape[d];
    /* SOLUTION END */
}

bool tensor_same_shape(const Tensor *a, const Tensor *b)
{
    if (!a || !b || a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

/* SOLUTION BEGIN week=1 step=1 tier=core */
/* Offset of the multi-index @p index, or -1 with an error when one is out of range. */
static int64_t index_offset(const Tensor *t, const int64_t *index, const char *fn)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (index[d] < 0 || index[d] >= t->shape[d]) {
            char buf[SHAPE_STR_SIZE];
            strata_set_error("%s: index %lld out of range for dim %d of a tensor of "
                             "shape %s", fn, (long long)index[d], d,
                             tensor_shape_str(t, buf, sizeof buf));
            return -1;
        }
        off += index[d] * t->strides[d];
    }
    return off;
}
/* SOLUTION END */

float tensor_item(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NAN);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NAN */
    if (tensor_numel(t) != 1) {
        char buf[SHAPE_STR_SIZE];
        strata_set_error("tensor_item: a tensor with %lld elements (shape %s) cannot be "
                         "converted to a scalar", (long long)tensor_numel(t),
                         tensor_shape_str(t, buf, sizeof buf));
        return NAN;
    }
    return t->data[0];
    /* SOLUTION END */
}

float tensor_get(const Tensor *t, const int64_t *index)
{
    STRATA_CHECK_ARG(t, NAN);
    if (t->ndim > 0)
        STRATA_CHECK_ARG(index, NAN);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=NAN */
    int64_t off = index_offset(t, index, __func__);
    return off < 0 ? NAN : t->data[off];
    /* SOLUTION END */
}

int tensor_set(Tensor *t, const int64_t *index, float value)
{
    STRATA_CHECK_ARG(t, -1);
    if (t->ndim > 0)
        STRATA_CHECK_ARG(index, -1);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=-1 */
    int64_t off = index_offset(t, index, __func__);
    if (off < 0)
        return -1;
    t->data[off] = value;
    return 0;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=1 tier=core */
/*
 * Copy the elements into @p out in row-major order: a plain odometer over the
 * multi-index, moving the offset by one stride per step (tensor_to_array, allclose).
 */
static void walk_elements(const Tensor *t, float *out)
{
    int64_t n = tensor_numel(t);
    if (n == 0)
        return;
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        out[i] = t->data[off];
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) {
                off += t->strides[d];
                break;
            }
            off -= (idx[d] - 1) * t->strides[d];
            idx[d] = 0;
        }
    }
}

static bool is_row_major(const Tensor *t)
{
    int64_t expected = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] == 0)
            return true;
        if (t->shape[d] != 1 && t->strides[d] != expected)
            return false;
        expected *= t->shape[d];
    }
    return true;
}
/* SOLUTION END */

int tensor_to_array(const Tensor *t, float *out)
{
    STRATA_CHECK_ARG(t, -1);
    STRATA_CHECK_ARG(out, -1);
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=-1 */
    if (is_row_major(t)) {
        if (tensor_numel(t) > 0)
            memcpy(out, t->data, (size_t)tensor_numel(t) * sizeof(float));
    } else {
        walk_elements(t, out);
    }
    return 0;
    /* SOLUTION END */
}

bool tensor_allclose(const Tensor *a, const Tensor *b, float rtol, float atol)
{
    if (!a || !b)
        return false;
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=false */
    if (!tensor_same_shape(a, b))
        return false;
    int64_t n = tensor_numel(a);
    float *buf = strata_malloc(2 * (size_t)n * sizeof(float) + 1);
    if (!buf)
        return false;
    walk_elements(a, buf);
    walk_elements(b, buf + n);
    bool close = true;
    for (int64_t i = 0; i < n && close; i++) {
        float x = buf[i], y = buf[n + i];
        if (x == y)
            continue; /* equal infinities */
        /* An infinity is close only to itself (rtol * inf would admit anything). */
        close = !isinf(x) && !isinf(y) && fabsf(x - y) <= atol + rtol * fabsf(y);
    }
    strata_free(buf);
    return close;
    /* SOLUTION END */
}

bool tensor_is_contiguous(const Tensor *t)
{
    if (!t)
        return false;
    /* SOLUTION BEGIN week=1 step=1 tier=core fail=false */
    /* Sizes 1 and 0 never step, so their strides do not matter (PyTorch's rule). */
    return is_row_major(t);
    /* SOLUTION END */
}
