/*
 * view.c - views (reshape, transpose, permute, squeeze, slicing, expand, ...): new
 * headers over the same storage, made without copying.
 *
 * A tensor is a header (shape, strides, offset) over a refcounted TensorStorage.
 * Element (i0, ..., ik) lives at data[i0*strides[0] + ... + ik*strides[k]], where
 * data = storage->data + offset. A view is just another header over the same storage:
 * changing the header is O(ndim), whatever the tensor's size.
 */
#include "tensor_internal.h"

#include <string.h>

/* ------------------------------------------------------------------------ views --- */

/* SOLUTION BEGIN week=1 step=3 tier=core */
/*
 * Complete a requested shape: at most one -1, inferred from the element count, and
 * the total must match. Fills @p out. Messages follow PyTorch's.
 */
static int infer_shape(const Tensor *t, const int64_t *shape, int ndim, int64_t *out,
                       const char *fn)
{
    char buf[SHAPE_STR_SIZE];
    if (tensor_check_rank(shape, ndim, fn) < 0)
        return -1;
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < ndim; d++) {
        out[d] = shape[d];
        if (shape[d] == -1) {
            if (infer >= 0) {
                strata_set_error("%s: only one dimension can be inferred (shape %s)", fn,
                                 tensor_format_shape(shape, ndim, buf, sizeof buf));
                return -1;
            }
            infer = d;
        } else if (shape[d] < 0) {
            strata_set_error("%s: invalid shape dimension %lld in %s", fn,
                             (long long)shape[d],
                             tensor_format_shape(shape, ndim, buf, sizeof buf));
            return -1;
        } else if (known > 0 && shape[d] > INT64_MAX / known) {
            strata_set_error("%s: shape %s has too many elements", fn,
                             tensor_format_shape(shape, ndim, buf, sizeof buf));
            return -1;
        } else {
            known *= shape[d];
        }
    }
    int64_t numel = tensor_numel(t);
    if (infer >= 0) {
        if (known == 0 || numel % known != 0) {
            strata_set_error("%s: shape %s is invalid for input of size %lld", fn,
                             tensor_format_shape(shape, ndim, buf, sizeof buf),
                             (long long)numel);
            return -1;
        }
        out[infer] = numel / known;
    } else if (known != numel) {
        strata_set_error("%s: shape %s is invalid for input of size %lld", fn,
                         tensor_format_shape(shape, ndim, buf, sizeof buf),
                         (long long)numel);
        return -1;
    }
    return 0;
}

/*
 * Strides for viewing @p t as @p shape without copying, or false when the memory
 * layout does not allow it (PyTorch's computeStride). The old dims are split into
 * chunks that are each contiguous in memory; every chunk must map onto whole new dims.
 */
static bool view_strides(const Tensor *t, const int64_t *shape, int ndim,
                         int64_t *strides)
{
    if (tensor_numel(t) == 0 || t->ndim == 0) {
        tensor_contiguous_strides(shape, ndim, strides);
        return true;
    }
    int view_d = ndim - 1;
    int64_t chunk_stride = t->strides[t->ndim - 1];
    int64_t tensor_numel_chunk = 1, view_numel = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        tensor_numel_chunk *= t->shape[d];
        /* A chunk ends where the next (outer) dim does not continue it in memory. */
        if (d == 0 || (t->shape[d - 1] != 1 &&
                       t->strides[d - 1] != tensor_numel_chunk * chunk_stride)) {
            while (view_d >= 0 && (view_numel < tensor_numel_chunk || shape[view_d] == 1)) {
                strides[view_d] = view_numel * chunk_stride;
                view_numel *= shape[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel_chunk)
                return false;
            if (d > 0) {
                chunk_stride = t->strides[d - 1];
                tensor_numel_chunk = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}
/* SOLUTION END */

Tensor *tensor_view(const Tensor *t, const int64_t *shape, int ndim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=NULL */
    int64_t full[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS];
    if (infer_shape(t, shape, ndim, full, __func__) < 0)
        return NULL;
    if (!view_strides(t, full, ndim, strides)) {
        char a[SHAPE_STR_SIZE], b[SHAPE_STR_SIZE];
        strata_set_error("tensor_view: view size %s is not compatible with input tensor's "
                         "size %s and strides (at least one dimension spans across two "
                         "contiguous subspaces); use tensor_reshape instead",
                         tensor_format_shape(full, ndim, a, sizeof a),
                         tensor_shape_str(t, b, sizeof b));
        return NULL;
    }
    return tensor_make_view(t, full, strides, ndim, t->offset);
    /* SOLUTION END */
}

Tensor *tensor_reshape(const Tensor *t, const int64_t *shape, int ndim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=NULL */
    int64_t full[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS];
    if (infer_shape(t, shape, ndim, full, __func__) < 0)
        return NULL;
    if (view_strides(t, full, ndim, strides))
        return tensor_make_view(t, full, strides, ndim, t->offset);
    /* The layout forbids a view: copy to row-major, which always can be viewed. */
    Tensor *c = tensor_copy_contiguous(t, __func__);
    if (!c)
        return NULL;
    tensor_contiguous_strides(full, ndim, strides);
    Tensor *v = tensor_make_view(c, full, strides, ndim, 0);
    tensor_release(c);
    return v;
    /* SOLUTION END */
}

Tensor *tensor_contiguous(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=NULL */
    if (tensor_is_contiguous(t))
        return tensor_make_view(t, t->shape, t->strides, t->ndim, t->offset);
    return tensor_copy_contiguous(t, __func__);
    /* SOLUTION END */
}

Tensor *tensor_clone(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=NULL */
    return tensor_copy_contiguous(t, __func__);
    /* SOLUTION END */
}

Tensor *tensor_transpose(const Tensor *t, int dim0, int dim1)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    int d0 = tensor_wrap_dim(dim0, t->ndim, __func__);
    int d1 = d0 < 0 ? -1 : tensor_wrap_dim(dim1, t->ndim, __func__);
    if (d1 < 0)
        return NULL;
    Tensor *v = tensor_make_view(t, t->shape, t->strides, t->ndim, t->offset);
    if (v && t->ndim > 0) {
        /* Swapping sizes and strides is the whole transpose: no element moves. */
        v->shape[d0] = t->shape[d1];
        v->shape[d1] = t->shape[d0];
        v->strides[d0] = t->strides[d1];
        v->strides[d1] = t->strides[d0];
    }
    return v;
    /* SOLUTION END */
}

Tensor *tensor_permute(const Tensor *t, const int *dims)
{
    STRATA_CHECK_ARG(t, NULL);
    if (t->ndim > 0)
        STRATA_CHECK_ARG(dims, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    int64_t shape[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS];
    bool seen[TENSOR_MAX_DIMS] = {false};
    for (int i = 0; i < t->ndim; i++) {
        int d = tensor_wrap_dim(dims[i], t->ndim, __func__);
        if (d < 0)
            return NULL;
        if (seen[d]) {
            strata_set_error("tensor_permute: dim %d repeats in the permutation", d);
            return NULL;
        }
        seen[d] = true;
        shape[i] = t->shape[d];
        strides[i] = t->strides[d];
    }
    return tensor_make_view(t, shape, strides, t->ndim, t->offset);
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=2 tier=core */
/* A view of @p t without dim @p dim (which the caller has checked). */
static Tensor *drop_dim(const Tensor *t, int dim, int64_t extra_offset)
{
    int64_t shape[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS];
    int n = tensor_geometry_without_dim(t, dim, shape, strides);
    return tensor_make_view(t, shape, strides, n, t->offset + extra_offset);
}
/* SOLUTION END */

Tensor *tensor_squeeze(const Tensor *t, int dim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    int d = tensor_wrap_dim(dim, t->ndim, __func__);
    if (d < 0)
        return NULL;
    if (t->ndim == 0 || t->shape[d] != 1)
        return tensor_make_view(t, t->shape, t->strides, t->ndim, t->offset);
    return drop_dim(t, d, 0);
    /* SOLUTION END */
}

Tensor *tensor_squeeze_all(const Tensor *t)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    int64_t shape[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 1)
            continue;
        shape[n] = t->shape[d];
        strides[n++] = t->strides[d];
    }
    return tensor_make_view(t, shape, strides, n, t->offset);
    /* SOLUTION END */
}

Tensor *tensor_unsqueeze(const Tensor *t, int dim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    if (t->ndim == TENSOR_MAX_DIMS) {
        strata_set_error("tensor_unsqueeze: the tensor already has %d dims, the most "
                         "supported", TENSOR_MAX_DIMS);
        return NULL;
    }
    if (dim < -t->ndim - 1 || dim > t->ndim) {
        strata_set_error("tensor_unsqueeze: dim %d out of range (expected [%d, %d])", dim,
                         -t->ndim - 1, t->ndim);
        return NULL;
    }
    int at = dim < 0 ? dim + t->ndim + 1 : dim;
    int64_t shape[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS];
    for (int d = 0, n = 0; d <= t->ndim; d++) {
        if (d == at) {
            /* Any stride works for a size-1 dim; this one keeps the view contiguous. */
            shape[d] = 1;
            strides[d] = at < t->ndim ? t->shape[at] * t->strides[at] : 1;
        } else {
            shape[d] = t->shape[n];
            strides[d] = t->strides[n++];
        }
    }
    return tensor_make_view(t, shape, strides, t->ndim + 1, t->offset);
    /* SOLUTION END */
}

Tensor *tensor_narrow(const Tensor *t, int dim, int64_t start, int64_t length)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    if (t->ndim == 0) {
        strata_set_error("tensor_narrow: cannot be applied to a 0-dim tensor");
        return NULL;
    }
    int d = tensor_wrap_dim(dim, t->ndim, __func__);
    if (d < 0)
        return NULL;
    int64_t size = t->shape[d];
    if (start < -size || start > size) {
        strata_set_error("tensor_narrow: start %lld out of range for dim %d of size %lld",
                         (long long)start, d, (long long)size);
        return NULL;
    }
    if (start < 0)
        start += size;
    if (length < 0 || start + length > size) {
        strata_set_error("tensor_narrow: start (%lld) + length (%lld) exceeds dimension "
                         "size (%lld)", (long long)start, (long long)length,
                         (long long)size);
        return NULL;
    }
    Tensor *v = tensor_make_view(t, t->shape, t->strides, t->ndim,
                                 t->offset + start * t->strides[d]);
    if (v)
        v->shape[d] = length;
    return v;
    /* SOLUTION END */
}

Tensor *tensor_slice(const Tensor *t, int dim, int64_t start, int64_t end, int64_t step)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    if (t->ndim == 0) {
        strata_set_error("tensor_slice: cannot slice a 0-dim tensor");
        return NULL;
    }
    int d = tensor_wrap_dim(dim, t->ndim, __func__);
    if (d < 0)
        return NULL;
    if (step <= 0) {
        strata_set_error("tensor_slice: step must be positive (got %lld)", (long long)step);
        return NULL;
    }
    /* Python's rules: negative bounds count from the end, then clamp into [0, size]. */
    int64_t size = t->shape[d];
    if (start < 0)
        start += size;
    if (end < 0)
        end += size;
    start = start < 0 ? 0 : start > size ? size : start;
    end = end < start ? start : end > size ? size : end;
    int64_t length = (end - start + step - 1) / step;
    Tensor *v = tensor_make_view(t, t->shape, t->strides, t->ndim,
                                 t->offset + start * t->strides[d]);
    if (v) {
        v->shape[d] = length;
        v->strides[d] = t->strides[d] * step;
    }
    return v;
    /* SOLUTION END */
}

Tensor *tensor_select(const Tensor *t, int dim, int64_t index)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    if (t->ndim == 0) {
        strata_set_error("tensor_select: cannot be applied to a 0-dim tensor");
        return NULL;
    }
    int d = tensor_wrap_dim(dim, t->ndim, __func__);
    if (d < 0)
        return NULL;
    int64_t size = t->shape[d];
    if (index < -size || index >= size) {
        strata_set_error("tensor_select: index %lld out of range for dim %d of size %lld",
                         (long long)index, d, (long long)size);
        return NULL;
    }
    if (index < 0)
        index += size;
    return drop_dim(t, d, index * t->strides[d]);
    /* SOLUTION END */
}

Tensor *tensor_expand(const Tensor *t, const int64_t *shape, int ndim)
{
    STRATA_CHECK_ARG(t, NULL);
    if (ndim > 0)
        STRATA_CHECK_ARG(shape, NULL);
    /* SOLUTION BEGIN week=1 step=2 tier=core fail=NULL */
    char a[SHAPE_STR_SIZE], b[SHAPE_STR_SIZE];
    if (ndim < t->ndim || ndim > TENSOR_MAX_DIMS) {
        strata_set_error("tensor_expand: cannot expand %s to %d dims (need %d to %d)",
                         tensor_shape_str(t, a, sizeof a), ndim, t->ndim, TENSOR_MAX_DIMS);
        return NULL;
    }
    int64_t out[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS];
    int lead = ndim - t->ndim; /* new dims are added in front */
    for (int d = 0; d < ndim; d++) {
        int64_t want = shape[d];
        int64_t have = d >= lead ? t->shape[d - lead] : -2;
        if (want == -1 && have != -2)
            want = have;
        if (want < 0 && have == -2) {
            strata_set_error("tensor_expand: the expanded size %lld is not allowed in a "
                             "leading, new dim %d (shape %s to %s)", (long long)want, d,
                             tensor_shape_str(t, a, sizeof a),
                             tensor_format_shape(shape, ndim, b, sizeof b));
            return NULL;
        }
        if (want < 0 || (have != -2 && have != 1 && have != want)) {
            strata_set_error("tensor_expand: the expanded size %lld must match the "
                             "existing size %lld at dim %d (shape %s to %s)",
                             (long long)shape[d], (long long)have, d,
                             tensor_shape_str(t, a, sizeof a),
                             tensor_format_shape(shape, ndim, b, sizeof b));
            return NULL;
        }
        out[d] = want;
        /* Stride 0: every index along an expanded dim reads the same element. */
        strides[d] = have == want ? t->strides[d - lead] : 0;
    }
    /* A stride-0 view costs no memory, but its element count must still fit in int64_t
     * (expanding [2, 3] to [2^62, 2, 3] overflowed tensor_numel). */
    if (tensor_check_shape(out, ndim, "tensor_expand") < 0)
        return NULL;
    return tensor_make_view(t, out, strides, ndim, t->offset);
    /* SOLUTION END */
}

Tensor *tensor_flatten(const Tensor *t, int start_dim, int end_dim)
{
    STRATA_CHECK_ARG(t, NULL);
    /* SOLUTION BEGIN week=1 step=3 tier=core fail=NULL */
    int s = tensor_wrap_dim(start_dim, t->ndim, __func__);
    int e = s < 0 ? -1 : tensor_wrap_dim(end_dim, t->ndim, __func__);
    if (e < 0)
        return NULL;
    if (s > e) {
        strata_set_error("tensor_flatten: start_dim (%d) cannot come after end_dim (%d)",
                         s, e);
        return NULL;
    }
    if (t->ndim == 0) {
        int64_t one = 1;
        return tensor_reshape(t, &one, 1);
    }
    int64_t shape[TENSOR_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d > s && d <= e)
            shape[n - 1] *= t->shape[d];
        else
            shape[n++] = t->shape[d];
    }
    return tensor_reshape(t, shape, n);
    /* SOLUTION END */
}
