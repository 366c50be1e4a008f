/*
 * fused.c - ReLU and max pooling in one pass, the pair every small CNN has
 * (Conv2d, ReLU, MaxPool2d(2)).
 *
 * Apart, the two ops cost three trips through the convolution's output, the largest
 * tensor of the step: ReLU reads it and writes a copy as large, pooling reads that
 * copy; backward writes a zeroed plane-sized gradient, and ReLU's backward reads it
 * again with its output and writes a third. Fused, forward reads the convolution's
 * output once and writes only the pooled quarter; backward writes one plane-sized
 * gradient. And the ReLU's output, which the graph kept for backward, is never made.
 *
 * The results are those of the two ops, bit for bit: the window maximum is taken over
 * the ReLU'd values with pooling's own rule, and the gradient is pooling's, masked by
 * ReLU's rule. The mask needs no ReLU output: the input position a window chose holds
 * the pooled value, so "ReLU's output there is not <= 0" is "the pooled value is not"
 * (positive, or NaN: PyTorch's ReLU passes the gradient at NaN).
 */
#include "tensor_internal.h"

#include <math.h>
#include <string.h>

/* Only the usual window is fused: 2x2, stride 2, no padding, no dilation. */
static bool fusable(const Tensor *input, Window2d w)
{
    return input->ndim == 4 && w.kernel_h == 2 && w.kernel_w == 2 && w.stride_h == 2 &&
           w.stride_w == 2 && w.padding_h == 0 && w.padding_w == 0 && w.dilation_h == 1 &&
           w.dilation_w == 1 && input->strides[3] == 1 && input->shape[2] >= 2 &&
           input->shape[3] >= 2 && input->shape[2] * input->shape[3] < (1 << 24);
}

typedef struct {
    const Tensor *input;
    int64_t oh, ow;
    float *out, *idx; /* [N*C, oh, ow] each */
} ReluPoolJob;

/* Planes [begin, end) (plane = n*C + c), on one thread. */
static void relu_pool_planes(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const ReluPoolJob *job = ctx;
    const int64_t *s = job->input->strides, C = job->input->shape[1];
    const int64_t per_plane = job->oh * job->ow;
    (void)chunk;
    (void)thread;
    for (int64_t p = begin; p < end; p++)
        tensor_relu_max_pool_2x2_plane(job->input->data + (p / C) * s[0] + (p % C) * s[1],
                                       s[2], job->input->shape[3], job->oh, job->ow, NULL,
                                       job->out + p * per_plane, job->idx + p * per_plane);
}

Tensor *tensor_relu_max_pool2d(const Tensor *input, Window2d w, Tensor **indices)
{
    STRATA_CHECK_ARG(input, NULL);
    STRATA_CHECK_ARG(indices, NULL);
    *indices = NULL;
    if (!fusable(input, w)) { /* any other window: the two ops, one after the other */
        Tensor *r = tensor_relu(input);
        Tensor *out = r ? tensor_max_pool2d(r, w, indices) : NULL;
        tensor_release(r);
        return out;
    }
    int64_t N = input->shape[0], C = input->shape[1];
    int64_t shape[4] = {N, C, input->shape[2] / 2, input->shape[3] / 2};
    Tensor *out = tensor_new(shape, 4, __func__);
    Tensor *idx = out ? tensor_new(shape, 4, __func__) : NULL;
    if (!idx) {
        tensor_release(out);
        return NULL;
    }
    ReluPoolJob job = {input, shape[2], shape[3], out->data, idx->data};
    int64_t plane = input->shape[2] * input->shape[3];
    strata_parallel_for(N * C, STRATA_GRAIN_ELEMENTS / plane + 1, relu_pool_planes, &job);
    *indices = idx;
    return out;
}

/* ------------------------------------------ convolution, then ReLU and pooling --- */

/*
 * The convolution's output would still make one trip through memory: written whole by
 * the convolution, read back whole by the pooling. But the convolution computes it a
 * step of a few images at a time (conv2d_forward), each step small enough for the
 * cache, so each step is pooled as soon as it is made (a ConvSink), and the
 * full-size output is never written. The values are those of the two ops: the same
 * convolution code writes the same floats, and the same plane kernel pools them
 * (relu_pool.c); the im2col convolution pools straight from its matrix product,
 * adding the bias on the way.
 * Winograd's convolution goes one better: its 2x2 output tiles are the pooling
 * windows, so it pools each tile as it makes it (the sink's pooled and indices) and
 * writes no step's output at all.
 */
typedef struct {
    int64_t C, oh, ow;  /* the convolution's output channels and size */
    int64_t poh, pow;   /* the pooled size */
    float *out, *idx;   /* [N, C, poh, pow] each */
} ConvPoolSink;

/* Pool the step's b images, [b, C, oh, ow] in @p conv, into their pooled planes. */
static void relu_pool_step(void *ctx, int64_t n0, int64_t b, const float *conv, int thread)
{
    const ConvPoolSink *s = ctx;
    (void)thread;
    int64_t plane = s->oh * s->ow, pooled = s->poh * s->pow;
    for (int64_t p = 0; p < b * s->C; p++)
        tensor_relu_max_pool_2x2_plane(conv + p * plane, s->ow, s->ow, s->poh, s->pow, NULL,
                                       s->out + (n0 * s->C + p) * pooled,
                                       s->idx + (n0 * s->C + p) * pooled);
}

Tensor *tensor_conv2d_relu_max_pool2d(const Tensor *input, const Tensor *weight,
                                      const Tensor *bias, Window2d conv, Window2d pool,
                                      Tensor **indices)
{
    STRATA_CHECK_ARG(input, NULL);
    STRATA_CHECK_ARG(weight, NULL);
    STRATA_CHECK_ARG(indices, NULL);
    *indices = NULL;
    int64_t oh, ow;
    if (conv2d_check(input, weight, bias, conv, &oh, &ow) < 0)
        return NULL;
    int64_t N = input->shape[0], C = weight->shape[0];
    /* The window tensor_relu_max_pool_2x2_plane pools (fusable() asks it of a [.., oh, ow] input). */
    bool two_by_two = pool.kernel_h == 2 && pool.kernel_w == 2 && pool.stride_h == 2 &&
                      pool.stride_w == 2 && pool.padding_h == 0 && pool.padding_w == 0 &&
                      pool.dilation_h == 1 && pool.dilation_w == 1 && oh >= 2 && ow >= 2 &&
                      oh * ow < (1 << 24);
    if (!two_by_two || N * C == 0) { /* the two ops, one after the other */
        Tensor *y = tensor_conv2d(input, weight, bias, conv);
        Tensor *out = y ? tensor_relu_max_pool2d(y, pool, indices) : NULL;
        tensor_release(y);
        return out;
    }
    int64_t shape[4] = {N, C, oh / 2, ow / 2};
    Tensor *out = tensor_new(shape, 4, __func__);
    Tensor *idx = out ? tensor_new(shape, 4, __func__) : NULL;
    ConvPoolSink s = {C, oh, ow, shape[2], shape[3], out ? out->data : NULL,
                      idx ? idx->data : NULL};
    ConvSink sink = {relu_pool_step, &s, s.out, s.idx};
    if (!idx || conv2d_forward(input, weight, bias, conv, oh, ow, NULL, &sink) < 0) {
        tensor_release(out);
        tensor_release(idx);
        return NULL;
    }
    *indices = idx;
    return out;
}

/* ----------------------------------------------------------------- backward --- */

typedef struct {
    const float *g, *idx, *mask; /* [planes, oh, ow] each */
    float *out;                  /* [planes, H, W] */
    int64_t H, W;
    bool outside[STRATA_MAX_THREADS]; /* per thread: an index outside its window seen */
} UnpoolJob;

/* Planes [begin, end) of the gather, on one thread; stops at a plane that needs the
 * scatter. */
static void unpool_planes(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    UnpoolJob *job = ctx;
    const int64_t pooled = (job->H / 2) * (job->W / 2), plane = job->H * job->W;
    (void)chunk;
    for (int64_t p = begin; p < end && !job->outside[thread]; p++)
        job->outside[thread] = !tensor_max_unpool_2x2_plane(
            job->g + p * pooled, job->idx + p * pooled, job->mask + p * pooled, job->H,
            job->W, job->out + p * plane);
}

/* The gather for a contiguous [N, C, H/2, W/2] gradient into *out: 1 when done, 0 when
 * it does not apply (the caller then scatters), -1 when memory runs out. */
static int relu_unpool_2x2(const Tensor *grad_output, const Tensor *pooled,
                           const Tensor *indices, const int64_t *input_shape, const char *fn,
                           Tensor **out)
{
    int64_t H = input_shape[2], W = input_shape[3];
    *out = NULL;
    if (grad_output->shape[2] != H / 2 || grad_output->shape[3] != W / 2 ||
        !tensor_is_contiguous(grad_output) || !tensor_is_contiguous(pooled) ||
        !tensor_is_contiguous(indices) || H * W >= (1 << 24))
        return 0;
    Tensor *t = tensor_new(input_shape, 4, fn);
    if (!t)
        return -1;
    int64_t planes = input_shape[0] * input_shape[1];
    UnpoolJob job = {grad_output->data, indices->data, pooled->data, t->data, H, W, {0}};
    strata_parallel_for(planes, STRATA_GRAIN_ELEMENTS / (H * W > 0 ? H * W : 1) + 1,
                        unpool_planes, &job);
    for (int th = 0; th < STRATA_MAX_THREADS; th++) {
        if (job.outside[th]) {
            tensor_release(t);
            return 0;
        }
    }
    *out = t;
    return 1;
}

/* The shapes tensor_relu_max_pool2d_backward() takes: 0, or -1 with an error naming
 * @p fn. */
static int check_relu_pool_backward(const Tensor *grad_output, const Tensor *pooled,
                                    const Tensor *indices, const int64_t *input_shape,
                                    const char *fn)
{
    char a[SHAPE_STR_SIZE], b[SHAPE_STR_SIZE], c[SHAPE_STR_SIZE];
    if (!tensor_same_shape(grad_output, pooled) || !tensor_same_shape(grad_output, indices) ||
        grad_output->ndim != 4 || grad_output->shape[0] != input_shape[0] ||
        grad_output->shape[1] != input_shape[1] || input_shape[2] < 0 || input_shape[3] < 0) {
        strata_set_error("%s: grad_output %s, pooled %s and indices %s must have one "
                         "[N, C, oh, ow] shape, N and C those of the input", fn,
                         tensor_shape_str(grad_output, a, sizeof a),
                         tensor_shape_str(pooled, b, sizeof b),
                         tensor_shape_str(indices, c, sizeof c));
        return -1;
    }
    return 0;
}

/* tensor_relu_max_pool2d_backward() for checked shapes, its errors naming @p fn. */
static Tensor *relu_pool_backward(const Tensor *grad_output, const Tensor *pooled,
                                  const Tensor *indices, const int64_t *input_shape,
                                  const char *fn)
{
    /* Pooling's scatter, masked by ReLU's rule: the position a window chose holds the
     * pooled value, so ReLU let it through exactly when that value is not <= 0. Windows
     * that share a position (overlapping ones) share its pooled value, so its mask too.
     * 2x2 windows take the same gradient by a gather (tensor_max_unpool_2x2_plane). */
    Tensor *out;
    int done = relu_unpool_2x2(grad_output, pooled, indices, input_shape, fn, &out);
    if (done != 0)
        return out;
    return tensor_max_pool_scatter(grad_output, indices, pooled, input_shape, fn);
}

Tensor *tensor_relu_max_pool2d_backward(const Tensor *grad_output, const Tensor *pooled,
                                        const Tensor *indices, const int64_t *input_shape)
{
    STRATA_CHECK_ARG(grad_output, NULL);
    STRATA_CHECK_ARG(pooled, NULL);
    STRATA_CHECK_ARG(indices, NULL);
    STRATA_CHECK_ARG(input_shape, NULL);
    if (check_relu_pool_backward(grad_output, pooled, indices, input_shape, __func__) < 0)
        return NULL;
    return relu_pool_backward(grad_output, pooled, indices, input_shape, __func__);
}

/*
 * The convolution's backward pass reads the gradient of its output: the pooling's
 * backward writes it whole, zero but for one position per window, and the convolution
 * reads it back. Winograd's needs only each 2x2 tile's gradient, and a tile is a
 * pooling window: it makes its tiles straight from the pooled gradient and the chosen
 * positions (winograd.c), and that whole gradient is never written. im2col's makes
 * each step's output gradient from the pooled one while the step is in cache (conv.c).
 * Indices outside their windows take the two backward passes.
 */
int tensor_conv2d_relu_max_pool2d_backward(const Tensor *grad_output, const Tensor *pooled,
                                           const Tensor *indices, const Tensor *input,
                                           const Tensor *weight, Window2d conv,
                                           Tensor **grad_input, Tensor **grad_weight,
                                           Tensor **grad_bias)
{
    Tensor **outs[3] = {grad_input, grad_weight, grad_bias};
    for (int k = 0; k < 3; k++)
        if (outs[k])
            *outs[k] = NULL;
    STRATA_CHECK_ARG(grad_output, -1);
    STRATA_CHECK_ARG(pooled, -1);
    STRATA_CHECK_ARG(indices, -1);
    STRATA_CHECK_ARG(input, -1);
    STRATA_CHECK_ARG(weight, -1);
    const char *fn = __func__;
    int64_t oh, ow;
    if (conv2d_check(input, weight, NULL, conv, &oh, &ow) < 0)
        return -1;
    int64_t conv_shape[4] = {input->shape[0], weight->shape[0], oh, ow};
    if (check_relu_pool_backward(grad_output, pooled, indices, conv_shape, fn) < 0)
        return -1;
    /* Winograd's convolution makes its tiles from the pooled gradient (the 2x2 windows
     * are its tiles); it declines any other convolution */
    if (grad_output->shape[2] == oh / 2 && grad_output->shape[3] == ow / 2 &&
        oh * ow < (1 << 24)) {
        int done = winograd_conv2d_relu_max_pool2d_backward(
            grad_output, pooled, indices, input, weight, conv, oh, ow, grad_input, grad_weight,
            grad_bias);
        if (done != 0)
            return done < 0 ? -1 : 0;
        /* im2col's convolution makes each step's output gradient in cache (conv.c); it
         * declines a convolution for Winograd */
        done = conv2d_relu_max_pool2d_backward_im2col(grad_output, pooled, indices, input,
                                                      weight, conv, oh, ow, grad_input,
                                                      grad_weight, grad_bias, fn);
        if (done != 0)
            return done < 0 ? -1 : 0;
    }
    /* the two backward passes: pooling and ReLU's, then the convolution's */
    Tensor *g_conv = relu_pool_backward(grad_output, pooled, indices, conv_shape, fn);
    if (!g_conv)
        return -1;
    int rc = tensor_conv2d_backward(g_conv, input, weight, conv, grad_input, grad_weight,
                                    grad_bias);
    tensor_release(g_conv);
    return rc;
}
