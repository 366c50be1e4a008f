/*
 * pool.c - max and average pooling over [N, C, H, W] images, with their backward
 * helpers. Pooling slides the same windows as convolution (conv.c).
 */
#include "tensor_internal.h"

#include <math.h>
#include <string.h>

/* SOLUTION BEGIN week=1 step=12 tier=stretch */
/* ------------------------------------------------------------------- pooling --- */

/* Pooling keeps PyTorch's limit: padding at most half the kernel. */
static int check_pool(const Tensor *input, Window2d w, int64_t *oh, int64_t *ow,
                      const char *fn)
{
    if (tensor_check_image(input, "input", fn) < 0 ||
        tensor_check_window(w, input->shape[2], input->shape[3], oh, ow, fn) < 0)
        return -1;
    if (w.padding_h > w.kernel_h / 2 || w.padding_w > w.kernel_w / 2) {
        strata_set_error("%s: padding %dx%d should be at most half of the kernel %dx%d",
                         fn, w.padding_h, w.padding_w, w.kernel_h, w.kernel_w);
        return -1;
    }
    return 0;
}

/* Taps i in [0, k) whose position start + i*d lies in [0, size): the range [*lo, *hi). */
static void taps_inside(int64_t start, int k, int d, int64_t size, int *lo, int *hi)
{
    int64_t first = start >= 0 ? 0 : (-start + d - 1) / d;
    int64_t last = size - start <= 0 ? 0 : (size - start + d - 1) / d;
    *lo = (int)(first < k ? first : k);
    *hi = (int)(last < k ? last : k);
    if (*hi < *lo)
        *hi = *lo;
}

/*
 * Max of one window in the plane x [H, W] (strides sh, sw), and where it is (h*W + w).
 * PyTorch's rule: a larger value or a NaN takes over, so ties keep the first. The
 * selects below compile to conditional moves: random data would defeat a branch.
 */
static float window_max(const float *x, int64_t sh, int64_t sw, int64_t H, int64_t W,
                        int64_t h0, int64_t w0, Window2d w, int64_t *where)
{
    int i_lo, i_hi, j_lo, j_hi;
    taps_inside(h0, w.kernel_h, w.dilation_h, H, &i_lo, &i_hi);
    taps_inside(w0, w.kernel_w, w.dilation_w, W, &j_lo, &j_hi);
    float best = -INFINITY;
    /* The first tap inside is the answer when every value is -inf. */
    int64_t at = (h0 + (int64_t)i_lo * w.dilation_h) * W + w0 + (int64_t)j_lo * w.dilation_w;
    bool nan = false;
    for (int i = i_lo; i < i_hi; i++) {
        int64_t h = h0 + (int64_t)i * w.dilation_h;
        for (int j = j_lo; j < j_hi; j++) {
            int64_t c = w0 + (int64_t)j * w.dilation_w;
            float v = x[h * sh + c * sw];
            /* One comparison, so the compiler can use conditional moves; it misreads
             * NaNs, which the exact pass below handles. */
            bool take = !(v <= best);
            best = take ? v : best;
            at = take ? h * W + c : at;
            nan |= v != v;
        }
    }
    if (nan) { /* rare: PyTorch's rule, where a NaN takes over and then stays */
        best = -INFINITY;
        for (int i = i_lo; i < i_hi; i++) {
            int64_t h = h0 + (int64_t)i * w.dilation_h;
            for (int j = j_lo; j < j_hi; j++) {
                int64_t c = w0 + (int64_t)j * w.dilation_w;
                float v = x[h * sh + c * sw];
                if (v > best || v != v) {
                    best = v;
                    at = h * W + c;
                }
            }
        }
    }
    *where = at;
    return best;
}

/*
 * Fast path of tensor_max_pool2d for the common window: 2x2, stride 2, no padding, no
 * dilation, on a plane whose rows are contiguous (stride sh between rows). The windows
 * never cross the border, so each output reads its four values directly. The rule is
 * window_max's (a larger value or a NaN takes over, ties keep the first), applied
 * exactly by tensor_max_2x2 (tensor_internal.h), without branches so that the loop over
 * x vectorizes. Indices are computed as floats (exact below 2^24, the caller's limit).
 */
static void max_pool_2x2(const float *restrict plane, int64_t sh, int64_t W, int64_t oh,
                         int64_t ow, float *restrict out, float *restrict idx)
{
    const float fw = (float)W;
    for (int64_t y = 0; y < oh; y++) {
        const float *r0 = plane + 2 * y * sh, *r1 = r0 + sh;
        const float row_at = (float)(2 * y * W);
        float *o = out + y * ow, *ix = idx + y * ow;
        /* Rows are short (14 outputs after a 28-wide conv): eight lanes, not sixteen,
         * so the vector loop runs at all. */
#pragma omp simd simdlen(8)
        for (int64_t x = 0; x < ow; x++) {
            float at = row_at + 2.0f * (float)x; /* where r0[2 * x] is */
            o[x] = tensor_max_2x2(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], at, fw,
                                  &ix[x]);
        }
    }
}

/* Sum of one window (padding adds zeros) and PyTorch's divisor with padding counted. */
static float window_avg(const float *x, int64_t sh, int64_t sw, int64_t H, int64_t W,
                        int64_t h0, int64_t w0, Window2d w)
{
    int64_t h1 = h0 + w.kernel_h, w1 = w0 + w.kernel_w;
    int64_t hend = h1 < H + w.padding_h ? h1 : H + w.padding_h;
    int64_t wend = w1 < W + w.padding_w ? w1 : W + w.padding_w;
    int64_t divisor = (hend - h0) * (wend - w0);
    double sum = 0;
    for (int64_t h = h0 < 0 ? 0 : h0; h < (hend < H ? hend : H); h++)
        for (int64_t c = w0 < 0 ? 0 : w0; c < (wend < W ? wend : W); c++)
            sum += x[h * sh + c * sw];
    return (float)(sum / (double)divisor);
}

/* The geometry pooling backward needs, checked against grad_output. */
static int check_pool_backward(const Tensor *grad_output, const int64_t *input_shape,
                               Window2d w, bool check_window_fit, const char *fn)
{
    if (tensor_check_image(grad_output, "grad_output", fn) < 0)
        return -1;
    for (int d = 0; d < 4; d++) {
        if (input_shape[d] < 0) {
            strata_set_error("%s: negative size in input_shape", fn);
            return -1;
        }
    }
    int64_t oh = grad_output->shape[2], ow = grad_output->shape[3];
    if (check_window_fit && tensor_check_window(w, input_shape[2], input_shape[3], &oh, &ow, fn) < 0)
        return -1;
    if (grad_output->shape[0] != input_shape[0] || grad_output->shape[1] != input_shape[1] ||
        grad_output->shape[2] != oh || grad_output->shape[3] != ow) {
        char buf[SHAPE_STR_SIZE], want[SHAPE_STR_SIZE];
        int64_t expected[4] = {input_shape[0], input_shape[1], oh, ow};
        strata_set_error("%s: grad_output %s does not match the pooled shape %s", fn,
                         tensor_shape_str(grad_output, buf, sizeof buf),
                         tensor_format_shape(expected, 4, want, sizeof want));
        return -1;
    }
    return 0;
}
/* SOLUTION END */

/* SOLUTION BEGIN week=1 step=12 tier=stretch */
/* Max pooling of whole [H, W] planes: what every range reads and where it writes. */
typedef struct {
    const Tensor *input;
    Window2d w;
    int64_t oh, ow;
    float *out, *idx; /* [N*C, oh, ow] each */
    bool two_by_two;  /* the usual nn.MaxPool2d(2), which has a tight loop */
} MaxPoolJob;

/* Planes [begin, end) (plane = n*C + c) of a max pooling, on one thread. */
static void max_pool_planes(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const MaxPoolJob *job = ctx;
    const Tensor *input = job->input;
    const int64_t *s = input->strides, C = input->shape[1];
    int64_t H = input->shape[2], W = input->shape[3], oh = job->oh, ow = job->ow;
    Window2d w = job->w;
    (void)chunk;
    (void)thread;
    for (int64_t p = begin; p < end; p++) {
        const float *plane = input->data + (p / C) * s[0] + (p % C) * s[1];
        float *out = job->out + p * oh * ow, *idx = job->idx + p * oh * ow;
        if (job->two_by_two) {
            max_pool_2x2(plane, s[2], W, oh, ow, out, idx);
            continue;
        }
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                int64_t where;
                out[y * ow + x] = window_max(plane, s[2], s[3], H, W,
                                             y * w.stride_h - w.padding_h,
                                             x * w.stride_w - w.padding_w, w, &where);
                idx[y * ow + x] = (float)where;
            }
        }
    }
}
/* SOLUTION END */

Tensor *tensor_max_pool2d(const Tensor *input, Window2d w, Tensor **indices)
{
    STRATA_CHECK_ARG(input, NULL);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    int64_t oh, ow;
    if (check_pool(input, w, &oh, &ow, __func__) < 0)
        return NULL;
    int64_t N = input->shape[0], C = input->shape[1], H = input->shape[2];
    int64_t W = input->shape[3];
    int64_t shape[4] = {N, C, oh, ow};
    Tensor *out = tensor_new(shape, 4, __func__);
    /* The kernels always write indices (no test in their inner loops); unwanted ones
     * are dropped below. */
    Tensor *idx = out ? tensor_new(shape, 4, __func__) : NULL;
    if (!idx) {
        tensor_release(out);
        return NULL;
    }
    const int64_t *s = input->strides;
    MaxPoolJob job = {input, w, oh, ow, out->data, idx->data,
                      w.kernel_h == 2 && w.kernel_w == 2 && w.stride_h == 2 &&
                          w.stride_w == 2 && w.padding_h == 0 && w.padding_w == 0 &&
                          w.dilation_h == 1 && w.dilation_w == 1 && s[3] == 1 &&
                          H * W < (1 << 24)};
    /* Planes are independent: cut them into ranges for strata's threads. */
    strata_parallel_for(N * C, STRATA_GRAIN_ELEMENTS / (H * W > 0 ? H * W : 1) + 1,
                        max_pool_planes, &job);
    if (indices)
        *indices = idx;
    else
        tensor_release(idx);
    return out;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=12 tier=stretch */
/* Max pooling's backward over whole planes: each output's gradient goes back to the
 * one input its window picked. */
typedef struct {
    const float *g, *idx; /* [planes, per_plane] */
    const float *mask;    /* [planes, per_plane] or NULL: stop g where mask <= 0 */
    float *out;           /* [planes, plane] */
    int64_t plane, per_plane;
    int64_t first_bad[STRATA_MAX_THREADS]; /* per thread: lowest index outside its plane */
} MaxPoolBackJob;

/* Planes [begin, end), on one thread: zero each, then scatter its gradients into it. An
 * index outside the plane stops the chunk and is recorded (the lowest this thread
 * found); the caller reports the lowest of all, the first in the tensor. */
static void max_pool_backward_planes(void *ctx, int64_t begin, int64_t end, int chunk,
                                     int thread)
{
    MaxPoolBackJob *job = ctx;
    (void)chunk;
    for (int64_t p = begin; p < end; p++) {
        float *dst = job->out + p * job->plane;
        const int64_t at = p * job->per_plane;
        const float *gp = job->g + at, *ip = job->idx + at;
        const float *mp = job->mask ? job->mask + at : NULL;
        memset(dst, 0, (size_t)job->plane * sizeof(float));
        for (int64_t i = 0; i < job->per_plane; i++) {
            float v = ip[i];
            if (!(v == floorf(v)) || v < 0 || v >= (float)job->plane) {
                if (job->first_bad[thread] < 0 || at + i < job->first_bad[thread])
                    job->first_bad[thread] = at + i;
                return;
            }
            /* A select, not a branch (a mask is a coin toss): a masked window adds +0
             * to a position that holds +0. */
            dst[(int64_t)v] += !mp || !(mp[i] <= 0) ? gp[i] : 0.0f; /* NaN passes */
        }
    }
}
/* SOLUTION END */

Tensor *tensor_max_pool_scatter(const Tensor *grad_output, const Tensor *indices,
                                const Tensor *mask, const int64_t *input_shape,
                                const char *fn)
{
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    int64_t plane = input_shape[2] * input_shape[3], planes = input_shape[0] * input_shape[1];
    Tensor *g = tensor_contiguous(grad_output);
    Tensor *mc = g && mask ? tensor_contiguous(mask) : NULL;
    Tensor *ix = g && (!mask || mc) ? tensor_contiguous(indices) : NULL;
    Tensor *out = ix ? tensor_new(input_shape, 4, fn) : NULL;
    int64_t grain = STRATA_GRAIN_ELEMENTS / (plane > 0 ? plane : 1) + 1; /* planes */
    int T = strata_parallel_threads(planes, grain);
    MaxPoolBackJob job = {g ? g->data : NULL, ix ? ix->data : NULL, mc ? mc->data : NULL,
                          out ? out->data : NULL, plane,
                          planes > 0 ? tensor_numel(grad_output) / planes : 0, {0}};
    for (int t = 0; t < T; t++)
        job.first_bad[t] = -1;
    if (out)
        strata_parallel_for(planes, grain, max_pool_backward_planes, &job);
    int64_t bad = -1; /* the first bad index: the lowest any thread found */
    for (int t = 0; out && t < T; t++)
        if (job.first_bad[t] >= 0 && (bad < 0 || job.first_bad[t] < bad))
            bad = job.first_bad[t];
    if (bad >= 0) {
        strata_set_error("%s: index %g at position %lld is outside the %lld-element plane",
                         fn, (double)ix->data[bad], (long long)bad, (long long)plane);
        tensor_release(out);
        out = NULL;
    }
    tensor_release(ix);
    tensor_release(mc);
    tensor_release(g);
    return out;
    /* SOLUTION END */
}

Tensor *tensor_max_pool2d_backward(const Tensor *grad_output, const Tensor *indices,
                                   const int64_t *input_shape)
{
    STRATA_CHECK_ARG(grad_output, NULL);
    STRATA_CHECK_ARG(indices, NULL);
    STRATA_CHECK_ARG(input_shape, NULL);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    Window2d unused = window2d(1, 1, 0);
    if (check_pool_backward(grad_output, input_shape, unused, false, __func__) < 0)
        return NULL;
    if (!tensor_same_shape(indices, grad_output)) {
        char a[SHAPE_STR_SIZE], b[SHAPE_STR_SIZE];
        strata_set_error("tensor_max_pool2d_backward: indices %s and grad_output %s "
                         "differ in shape", tensor_shape_str(indices, a, sizeof a),
                         tensor_shape_str(grad_output, b, sizeof b));
        return NULL;
    }
    return tensor_max_pool_scatter(grad_output, indices, NULL, input_shape, __func__);
    /* SOLUTION END */
}

Tensor *tensor_avg_pool2d(const Tensor *input, Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    int64_t oh, ow;
    if (check_pool(input, w, &oh, &ow, __func__) < 0)
        return NULL;
    if (w.dilation_h != 1 || w.dilation_w != 1) {
        strata_set_error("tensor_avg_pool2d: dilation %dx%d is not supported (1 only, as "
                         "PyTorch)", w.dilation_h, w.dilation_w);
        return NULL;
    }
    int64_t N = input->shape[0], C = input->shape[1];
    int64_t shape[4] = {N, C, oh, ow};
    Tensor *out = tensor_new(shape, 4, __func__);
    if (!out)
        return NULL;
    const int64_t *s = input->strides;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < oh; y++)
                for (int64_t x = 0; x < ow; x++)
                    out->data[((n * C + c) * oh + y) * ow + x] = window_avg(
                        input->data + n * s[0] + c * s[1], s[2], s[3], input->shape[2],
                        input->shape[3], y * w.stride_h - w.padding_h,
                        x * w.stride_w - w.padding_w, w);
    return out;
    /* SOLUTION END */
}

Tensor *tensor_avg_pool2d_backward(const Tensor *grad_output, const int64_t *input_shape,
                                   Window2d w)
{
    STRATA_CHECK_ARG(grad_output, NULL);
    STRATA_CHECK_ARG(input_shape, NULL);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    if (check_pool_backward(grad_output, input_shape, w, true, __func__) < 0)
        return NULL;
    Tensor *g = tensor_contiguous(grad_output);
    Tensor *out = g ? tensor_zeros(input_shape, 4) : NULL;
    int64_t H = input_shape[2], W = input_shape[3];
    int64_t oh = grad_output->shape[2], ow = grad_output->shape[3];
    int64_t planes = input_shape[0] * input_shape[1];
    /* Each input in a window received 1/divisor of the window's sum. */
    for (int64_t p = 0; out && p < planes; p++) {
        float *dst = out->data + p * H * W;
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                int64_t h0 = y * w.stride_h - w.padding_h, w0 = x * w.stride_w - w.padding_w;
                int64_t h1 = h0 + w.kernel_h < H + w.padding_h ? h0 + w.kernel_h : H + w.padding_h;
                int64_t w1 = w0 + w.kernel_w < W + w.padding_w ? w0 + w.kernel_w : W + w.padding_w;
                float share = g->data[(p * oh + y) * ow + x] / (float)((h1 - h0) * (w1 - w0));
                for (int64_t h = h0 < 0 ? 0 : h0; h < (h1 < H ? h1 : H); h++)
                    for (int64_t c = w0 < 0 ? 0 : w0; c < (w1 < W ? w1 : W); c++)
                        dst[h * W + c] += share;
            }
        }
    }
    tensor_release(g);
    return out;
    /* SOLUTION END */
}
