/*
 * conv.c - sliding windows over [N, C, H, W] images: the window checks, im2col /
 * col2im, and convolution as one matrix product. Pooling (pool.c) shares the window.
 *
 * im2col turns convolution into matrix multiplication: each column holds the C*kh*kw
 * input values one output position sees, so weight [C_out, C*kh*kw] times the columns
 * gives every output at once, on BLAS. col2im is its adjoint: it adds each column entry
 * back to the input position it came from (what the backward pass needs).
 */
#include "tensor_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

Window2d window2d(int kernel, int stride, int padding)
{
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=(Window2d){0} */
    Window2d w;
    w.kernel_h = w.kernel_w = kernel;
    w.stride_h = w.stride_w = stride;
    w.padding_h = w.padding_w = padding;
    w.dilation_h = w.dilation_w = 1;
    return w;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=12 tier=stretch */
/* Output size along one axis: floor((in + 2p - d*(k-1) - 1) / s) + 1, or 0 if none fit. */
static int64_t window_out(int64_t in, int k, int s, int p, int d)
{
    int64_t span = in + 2 * (int64_t)p - (int64_t)d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

/* Check the window's parameters and that at least one window fits. */
int tensor_check_window(Window2d w, int64_t h, int64_t wd, int64_t *out_h, int64_t *out_w,
                        const char *fn)
{
    if (w.kernel_h < 1 || w.kernel_w < 1 || w.stride_h < 1 || w.stride_w < 1 ||
        w.padding_h < 0 || w.padding_w < 0 || w.dilation_h < 1 || w.dilation_w < 1) {
        strata_set_error("%s: bad window: kernel %dx%d, stride %dx%d, padding %dx%d, "
                         "dilation %dx%d (kernel, stride, dilation >= 1, padding >= 0)",
                         fn, w.kernel_h, w.kernel_w, w.stride_h, w.stride_w, w.padding_h,
                         w.padding_w, w.dilation_h, w.dilation_w);
        return -1;
    }
    *out_h = window_out(h, w.kernel_h, w.stride_h, w.padding_h, w.dilation_h);
    *out_w = window_out(wd, w.kernel_w, w.stride_w, w.padding_w, w.dilation_w);
    if (*out_h < 1 || *out_w < 1) {
        strata_set_error("%s: a %dx%d window (dilation %dx%d, padding %dx%d) does not fit "
                         "in a %lldx%lld input", fn, w.kernel_h, w.kernel_w, w.dilation_h,
                         w.dilation_w, w.padding_h, w.padding_w, (long long)h,
                         (long long)wd);
        return -1;
    }
    return 0;
}

/* Check that @p t is [N, C, H, W]. */
int tensor_check_image(const Tensor *t, const char *what, const char *fn)
{
    if (t->ndim != 4) {
        char buf[SHAPE_STR_SIZE];
        strata_set_error("%s: %s must be 4-D [N, C, H, W], got %s", fn, what,
                         tensor_shape_str(t, buf, sizeof buf));
        return -1;
    }
    return 0;
}

/*
 * Outputs o in [0, n_out) whose tap at offset `tap` (= i*dilation - padding) lands
 * inside [0, size): o*stride + tap in [0, size). Stores the range [*lo, *hi).
 */
static void tap_range(int64_t tap, int64_t stride, int64_t size, int64_t n_out,
                      int64_t *lo, int64_t *hi)
{
    int64_t a = tap >= 0 ? 0 : (-tap + stride - 1) / stride;
    int64_t b = size - tap <= 0 ? 0 : (size - tap + stride - 1) / stride;
    *lo = a < n_out ? a : n_out;
    *hi = b < n_out ? b : n_out;
    if (*hi < *lo)
        *hi = *lo;
}

/*
 * Tap (th, tw) of one plane for a "same" convolution (stride 1, output rows as wide as
 * the input's, rows contiguous: a 3x3 kernel with padding 1): out[y*W + x] =
 * in[(y+th)*W + x+tw] is then one shifted copy of the plane, done as a single run
 * instead of oh runs of W floats. What it copies from neighbouring rows (the lo / hi
 * edge columns) and the rows above / below the image are padding, zeroed afterwards.
 */
static void im2col_same_tap(const float *in, int64_t H, int64_t W, int64_t oh, int64_t th,
                            int64_t tw, int64_t lo, int64_t hi, float *out)
{
    int64_t ylo = th < 0 ? -th : 0, yhi = H - th < oh ? H - th : oh;
    if (yhi < ylo)
        yhi = ylo;
    memset(out, 0, (size_t)(ylo * W) * sizeof(float));
    memset(out + yhi * W, 0, (size_t)((oh - yhi) * W) * sizeof(float));
    if (yhi > ylo && hi > lo) {
        /* from row ylo's first valid column to row yhi-1's last: never outside the plane */
        int64_t first = ylo * W + lo, last = (yhi - 1) * W + hi, shift = th * W + tw;
        memcpy(out + first, in + first + shift, (size_t)(last - first) * sizeof(float));
    }
    for (int64_t y = ylo; y < yhi; y++) {
        for (int64_t x = 0; x < lo; x++)
            out[y * W + x] = 0.0f;
        for (int64_t x = hi; x < W; x++)
            out[y * W + x] = 0.0f;
    }
}

/*
 * Unfold one image x [C, H, W] (strides xs) into the matrix cols [C*kh*kw, out_h*out_w]
 * whose rows are @p ld apart. Row (c, i, j) holds tap (i, j) of channel c for every
 * output position; taps that fall in the padding are 0.
 */
static void im2col_image(const float *x, const int64_t *xs, int64_t C, int64_t H,
                         int64_t W, Window2d w, int64_t oh, int64_t ow, float *cols,
                         int64_t ld)
{
    bool same = w.stride_h == 1 && w.stride_w == 1 && xs[2] == 1 && xs[1] == W && ow == W;
    for (int64_t c = 0; c < C; c++) {
        for (int i = 0; i < w.kernel_h; i++) {
            for (int j = 0; j < w.kernel_w; j++) {
                float *row = cols + ((c * w.kernel_h + i) * w.kernel_w + j) * ld;
                int64_t th = (int64_t)i * w.dilation_h - w.padding_h;
                int64_t tw = (int64_t)j * w.dilation_w - w.padding_w;
                int64_t lo, hi;
                tap_range(tw, w.stride_w, W, ow, &lo, &hi);
                if (same) {
                    im2col_same_tap(x + c * xs[0], H, W, oh, th, tw, lo, hi, row);
                    continue;
                }
                for (int64_t y = 0; y < oh; y++) {
                    float *out = row + y * ow;
                    int64_t ih = y * w.stride_h + th;
                    if (ih < 0 || ih >= H) {
                        memset(out, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *in = x + c * xs[0] + ih * xs[1];
                    for (int64_t o = 0; o < lo; o++)
                        out[o] = 0.0f;
                    if (w.stride_w == 1 && xs[2] == 1) { /* a contiguous run */
                        /* Runs are short (14 floats for a 14x14 image): an inline vector
                         * loop, where a memcpy call would cost more than the copy. */
#pragma omp simd simdlen(8)
                        for (int64_t o = lo; o < hi; o++)
                            out[o] = in[o + tw];
                    } else
                        for (int64_t o = lo; o < hi; o++)
                            out[o] = in[(o * w.stride_w + tw) * xs[2]];
                    for (int64_t o = hi; o < ow; o++)
                        out[o] = 0.0f;
                }
            }
        }
    }
}

/* The adjoint of im2col_image: add cols back into the image x [C, H, W] (contiguous). */
static void col2im_image(const float *cols, int64_t ld, int64_t C, int64_t H, int64_t W,
                         Window2d w, int64_t oh, int64_t ow, float *x)
{
    for (int64_t c = 0; c < C; c++) {
        for (int i = 0; i < w.kernel_h; i++) {
            for (int j = 0; j < w.kernel_w; j++) {
                const float *row = cols + ((c * w.kernel_h + i) * w.kernel_w + j) * ld;
                int64_t th = (int64_t)i * w.dilation_h - w.padding_h;
                int64_t tw = (int64_t)j * w.dilation_w - w.padding_w;
                int64_t lo, hi;
                tap_range(tw, w.stride_w, W, ow, &lo, &hi);
                for (int64_t y = 0; y < oh; y++) {
                    int64_t ih = y * w.stride_h + th;
                    if (ih < 0 || ih >= H)
                        continue;
                    float *out = x + (c * H + ih) * W;
                    const float *in = row + y * ow;
                    if (w.stride_w == 1) { /* a contiguous run: a loop that vectorizes */
#pragma omp simd simdlen(8)
                        for (int64_t o = lo; o < hi; o++)
                            out[o + tw] += in[o];
                    } else {
                        for (int64_t o = lo; o < hi; o++)
                            out[o * w.stride_w + tw] += in[o];
                    }
                }
            }
        }
    }
}
/* SOLUTION END */

Tensor *tensor_im2col(const Tensor *input, Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    int64_t oh, ow;
    if (tensor_check_image(input, "input", __func__) < 0 ||
        tensor_check_window(w, input->shape[2], input->shape[3], &oh, &ow, __func__) < 0)
        return NULL;
    int64_t N = input->shape[0], C = input->shape[1];
    int64_t shape[3] = {N, C * w.kernel_h * w.kernel_w, oh * ow};
    Tensor *out = tensor_new(shape, 3, __func__);
    if (!out)
        return NULL;
    for (int64_t n = 0; n < N; n++)
        im2col_image(input->data + n * input->strides[0], input->strides + 1, C,
                     input->shape[2], input->shape[3], w, oh, ow,
                     out->data + n * shape[1] * shape[2], shape[2]);
    return out;
    /* SOLUTION END */
}

Tensor *tensor_col2im(const Tensor *cols, int64_t channels, int64_t height, int64_t width,
                      Window2d w)
{
    STRATA_CHECK_ARG(cols, NULL);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    int64_t oh, ow;
    if (channels < 0 || height < 0 || width < 0) {
        strata_set_error("tensor_col2im: negative image size %lld x %lld x %lld",
                         (long long)channels, (long long)height, (long long)width);
        return NULL;
    }
    if (tensor_check_window(w, height, width, &oh, &ow, __func__) < 0)
        return NULL;
    int64_t rows = channels * w.kernel_h * w.kernel_w;
    if (cols->ndim != 3 || cols->shape[1] != rows || cols->shape[2] != oh * ow) {
        char buf[SHAPE_STR_SIZE];
        strata_set_error("tensor_col2im: columns %s do not match the window: expected "
                         "[N, %lld, %lld]", tensor_shape_str(cols, buf, sizeof buf),
                         (long long)rows, (long long)(oh * ow));
        return NULL;
    }
    Tensor *c = tensor_contiguous(cols);
    int64_t shape[4] = {cols->shape[0], channels, height, width};
    Tensor *out = c ? tensor_zeros(shape, 4) : NULL;
    if (out)
        for (int64_t n = 0; n < shape[0]; n++)
            col2im_image(c->data + n * rows * oh * ow, oh * ow, channels, height, width, w,
                         oh, ow, out->data + n * channels * height * width);
    tensor_release(c);
    return out;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=12 tier=stretch */
/* Check conv2d's operands against each other and the window. */
static int check_conv(const Tensor *input, const Tensor *weight, const Tensor *bias,
                      Window2d w, int64_t *oh, int64_t *ow)
{
    char a[SHAPE_STR_SIZE], b[SHAPE_STR_SIZE];
    const char *fn = "tensor_conv2d";
    if (tensor_check_image(input, "input", fn) < 0 || tensor_check_image(weight, "weight", fn) < 0)
        return -1;
    if (weight->shape[1] != input->shape[1] || weight->shape[2] != w.kernel_h ||
        weight->shape[3] != w.kernel_w) {
        strata_set_error("tensor_conv2d: weight %s does not fit input %s with a %dx%d "
                         "kernel (expected [C_out, %lld, %d, %d])",
                         tensor_shape_str(weight, a, sizeof a),
                         tensor_shape_str(input, b, sizeof b), w.kernel_h, w.kernel_w,
                         (long long)input->shape[1], w.kernel_h, w.kernel_w);
        return -1;
    }
    if (bias && (bias->ndim != 1 || bias->shape[0] != weight->shape[0])) {
        strata_set_error("tensor_conv2d: bias %s must be [%lld] (one per output channel)",
                         tensor_shape_str(bias, a, sizeof a), (long long)weight->shape[0]);
        return -1;
    }
    return tensor_check_window(w, input->shape[2], input->shape[3], oh, ow, fn);
}

/* Bytes of a chunk's columns and product in conv2d: about what a core's L2 holds. */
#define CONV_CHUNK_BYTES ((int64_t)1 << 20)

/*
 * The batch goes through conv2d in chunks of images. The simple form is one chunk of
 * all N images: cols [K, N*L] and one GEMM. But cols (K*N*L floats: 29 MB for a 32->64
 * channel 3x3 conv on a batch of 128 14x14 images) is then written and read back from
 * memory. Chunks whose columns and product [C_out, b*L] take about CONV_CHUNK_BYTES
 * stay in cache, and their GEMMs are still large enough for BLAS. Images are
 * independent, so the batch is cut into strata_parallel_for()'s chunks (a few per
 * thread, to one image), and each is worked through a step of `images` at a time.
 */
typedef struct {
    const float *x;       /* input [N, C, H, W] (strides xs) */
    const int64_t *xs;    /* input strides */
    const float *wt;      /* weight [C_out, K] (contiguous) */
    const Tensor *bias;   /* [C_out] or NULL */
    Window2d w;
    int64_t N, C, H, W, C_out, K, L, oh, ow;
    int64_t images;       /* images per step (at most) */
    int chunks;           /* chunks the batch is cut into */
    int threads;          /* threads that run them (one scratch each) */
} ConvPlan;

static void conv_plan(ConvPlan *p, const Tensor *input, const float *weight, int64_t C_out,
                      const Tensor *bias, Window2d w, int64_t oh, int64_t ow)
{
    p->x = input->data;
    p->xs = input->strides;
    p->wt = weight;
    p->bias = bias;
    p->w = w;
    p->N = input->shape[0];
    p->C = input->shape[1];
    p->H = input->shape[2];
    p->W = input->shape[3];
    p->C_out = C_out;
    p->K = p->C * w.kernel_h * w.kernel_w;
    p->oh = oh;
    p->ow = ow;
    p->L = oh * ow;
    /* an image's columns and its product (its output before the bias) */
    int64_t per_image = (p->K + C_out > 0 ? p->K + C_out : 1) * (p->L > 0 ? p->L : 1) *
                        (int64_t)sizeof(float);
    int64_t B = CONV_CHUNK_BYTES / per_image;
    p->chunks = strata_parallel_chunks(p->N, 1);
    p->threads = strata_parallel_threads(p->N, 1);
    int64_t share = (p->N + p->chunks - 1) / p->chunks; /* images per chunk, at most */
    p->images = B < 1 ? 1 : B > share ? (share > 0 ? share : 1) : B;
}

/* Columns [K, b*L] (rows ld = b*L apart) of images n0 .. n0+b-1. */
static void im2col_chunk(const ConvPlan *p, int64_t n0, int64_t b, float *cols)
{
    for (int64_t n = 0; n < b; n++)
        im2col_image(p->x + (n0 + n) * p->xs[0], p->xs + 1, p->C, p->H, p->W, p->w, p->oh,
                     p->ow, cols + n * p->L, b * p->L);
}

/* The forward loop's context: the plan, per-thread scratch, and where the output goes. */
typedef struct {
    const ConvPlan *plan;
    float *scratch;       /* per thread: cols [K, B*L], prod [C_out, B*L], and with a
                           * sink that does not pool the step's output [B, C_out, L] */
    float *out;           /* [N, C_out, L], or NULL: each step's output goes to the sink */
    const ConvSink *sink; /* or NULL */
} ConvForward;

/* Floats of one thread's forward scratch (see ConvForward). */
static int64_t conv_forward_scratch(const ConvPlan *p, const ConvSink *sink)
{
    return (p->K + p->C_out + (sink && !sink->pooled ? p->C_out : 0)) * p->images * p->L;
}

/*
 * Images [begin, end) of the forward pass, on one thread, chunk by chunk:
 *     cols [K, b*L] = im2col(images), prod [C_out, b*L] = weight [C_out, K] @ cols,
 *     out[n, co, :] = prod[co, n*L .. n*L+L-1] + bias[co],
 * out being the output tensor, or this thread's scratch that the sink then reads.
 */
static void conv_forward_images(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const ConvForward *f = ctx;
    (void)chunk;
    const ConvPlan *p = f->plan;
    int64_t BL = p->images * p->L;
    float *cols = f->scratch + thread * conv_forward_scratch(p, f->sink);
    float *prod = cols + p->K * BL;
    for (int64_t n0 = begin; n0 < end; n0 += p->images) {
        int64_t b = end - n0 < p->images ? end - n0 : p->images;
        float *out = f->out ? f->out + n0 * p->C_out * p->L : prod + p->C_out * BL;
        if (p->K > 0) {
            im2col_chunk(p, n0, b, cols);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->C_out,
                        (int)(b * p->L), (int)p->K, 1.0f, p->wt, (int)p->K, cols,
                        (int)(b * p->L), 0.0f, prod, (int)(b * p->L));
        } else {
            memset(prod, 0, (size_t)(p->C_out * b * p->L) * sizeof(float));
        }
        if (f->sink && f->sink->pooled) {
            /* A pooling sink: each plane pooled straight from the product, its bias
             * added on the way (the same floats as the copy below), so the step's
             * output is never written. */
            int64_t poh = p->oh / 2, pow = p->ow / 2;
            for (int64_t n = 0; n < b; n++) {
                for (int64_t co = 0; co < p->C_out; co++) {
                    int64_t at = ((n0 + n) * p->C_out + co) * poh * pow;
                    float bias = p->bias ? p->bias->data[co * p->bias->strides[0]] : 0.0f;
                    tensor_relu_max_pool_2x2_plane(prod + co * b * p->L + n * p->L, p->ow,
                                                   p->ow, poh, pow, &bias,
                                                   f->sink->pooled + at,
                                                   f->sink->indices + at);
                }
            }
            continue;
        }
        for (int64_t n = 0; n < b; n++) {
            for (int64_t co = 0; co < p->C_out; co++) {
                const float *src = prod + co * b * p->L + n * p->L;
                float *dst = out + (n * p->C_out + co) * p->L;
                float bias = p->bias ? p->bias->data[co * p->bias->strides[0]] : 0.0f;
                for (int64_t l = 0; l < p->L; l++)
                    dst[l] = src[l] + bias;
            }
        }
        if (f->sink)
            f->sink->fn(f->sink->ctx, n0, b, out, thread);
    }
}
/* SOLUTION END */

int conv2d_check(const Tensor *input, const Tensor *weight, const Tensor *bias, Window2d w,
                 int64_t *oh, int64_t *ow)
{
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=-1 */
    return check_conv(input, weight, bias, w, oh, ow);
    /* SOLUTION END */
}

int conv2d_forward(const Tensor *input, const Tensor *weight, const Tensor *bias, Window2d w,
                   int64_t oh, int64_t ow, float *out, const ConvSink *sink)
{
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=-1 */
    int64_t C_out = weight->shape[0];
    if (input->shape[0] * C_out * oh * ow == 0)
        return 0;
    if (winograd_applies(w, input->shape[1], C_out))
        return winograd_conv2d(input, weight, bias, w, oh, ow, out, sink);
    Tensor *wc = tensor_contiguous(weight);
    ConvPlan plan;
    conv_plan(&plan, input, wc ? wc->data : NULL, C_out, bias, w, oh, ow);
    int64_t scratch_shape[1] = {plan.threads * conv_forward_scratch(&plan, sink)};
    Tensor *scratch = wc ? tensor_new(scratch_shape, 1, "tensor_conv2d") : NULL;
    if (scratch) {
        ConvForward f = {&plan, scratch->data, out, sink};
        strata_parallel_for(plan.N, 1, conv_forward_images, &f);
    }
    tensor_release(wc);
    tensor_release(scratch);
    return scratch ? 0 : -1;
    /* SOLUTION END */
}

Tensor *tensor_conv2d(const Tensor *input, const Tensor *weight, const Tensor *bias,
                      Window2d w)
{
    STRATA_CHECK_ARG(input, NULL);
    STRATA_CHECK_ARG(weight, NULL);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=NULL */
    int64_t oh, ow;
    if (check_conv(input, weight, bias, w, &oh, &ow) < 0)
        return NULL;
    int64_t out_shape[4] = {input->shape[0], weight->shape[0], oh, ow};
    Tensor *out = tensor_new(out_shape, 4, __func__);
    if (out && conv2d_forward(input, weight, bias, w, oh, ow, out->data, NULL) < 0) {
        tensor_release(out);
        return NULL;
    }
    return out;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=12 tier=stretch */
/* The backward loop's context. g is grad_output [N, C_out, L], contiguous. */
typedef struct {
    const ConvPlan *plan;
    const float *g;
    float *scratch;       /* per thread: cols [K, B*L] */
    float *weight_sums;   /* per chunk: its grad_weight sum [C_out, K], or NULL */
    double *bias_sums;    /* per chunk: [C_out], or NULL */
    float *grad_input;    /* [N, C, H, W] contiguous, or NULL */
    bool want_weight;
} ConvBackward;

/* Floats of the backward's scratch: each thread's cols, then each chunk's grad_weight. */
static int64_t conv_backward_scratch(const ConvPlan *p)
{
    return p->threads * p->K * p->images * p->L + p->chunks * p->C_out * p->K;
}

/* Sum of @p n floats in double, eight lanes at a time (the lanes vectorize: `omp simd`
 * keeps the compiler from vectorizing the outer loop instead, which it does with one
 * scalar chain per lane). */
static double row_sum(const float *x, int64_t n)
{
    float lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
#pragma omp simd
        for (int j = 0; j < 8; j++)
            lane[j] += x[i + j];
    }
    double sum = 0;
    for (int j = 0; j < 8; j++)
        sum += lane[j];
    for (; i < n; i++)
        sum += x[i];
    return sum;
}

/*
 * One step of the backward pass: images n0 .. n0+b-1, @p g their grad_output [b, C_out,
 * L], @p cols this thread's scratch, @p gw and @p gb this chunk's sums (or NULL). For
 * each image n of the step, with g[n] its grad_output [C_out, L] and cols[n] its im2col
 * [K, L]:
 *     grad_weight += g[n] @ cols[n]^T             [C_out, L] x [L, K] -> [C_out, K]
 *     grad_bias   += the rows of g[n], summed
 *     grad_input[n] = col2im(weight^T @ g[n])     [K, C_out] x [C_out, L] -> [K, L]
 * The step's columns are unfolded once, while they fit in cache.
 */
static void conv_backward_step(const ConvBackward *bw, const float *g_step, int64_t n0,
                               int64_t b, float *cols, float *gw, double *gb)
{
    const ConvPlan *p = bw->plan;
    int64_t O = p->C_out, K = p->K, L = p->L;
    int64_t image = p->C * p->H * p->W;
    if (bw->want_weight && K > 0)
        im2col_chunk(p, n0, b, cols);
    for (int64_t n = 0; n < b; n++) {
        const float *g = g_step + n * O * L; /* [O, L] */
        for (int64_t o = 0; gb && o < O; o++)
            gb[o] += row_sum(g + o * L, L);
        if (bw->want_weight && K > 0) /* grad_weight += g cols^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)O, (int)K, (int)L,
                        1.0f, g, (int)L, cols + n * L, (int)(b * L), 1.0f, gw, (int)K);
    }
    if (!bw->grad_input)
        return;
    for (int64_t n = 0; n < b; n++) {
        const float *g = g_step + n * O * L;
        float *gx = bw->grad_input + (n0 + n) * image;
        memset(gx, 0, (size_t)image * sizeof(float));
        if (K == 0)
            continue;
        /* cols [K, L] = weight^T g, then back into the image */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)L, (int)O, 1.0f,
                    p->wt, (int)K, g, (int)L, 0.0f, cols, (int)L);
        col2im_image(cols, L, p->C, p->H, p->W, p->w, p->oh, p->ow, gx);
    }
}

/*
 * Images [begin, end) of the backward pass, on one thread, a step at a time
 * (conv_backward_step). grad_weight and grad_bias go into this chunk's own sums; the
 * caller adds them up in chunk order.
 */
static void conv_backward_images(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const ConvBackward *bw = ctx;
    const ConvPlan *p = bw->plan;
    int64_t O = p->C_out, K = p->K, L = p->L;
    /* no scratch when only the bias is wanted (Winograd computes the rest) */
    float *cols = bw->scratch ? bw->scratch + thread * K * p->images * L : NULL;
    float *gw = bw->weight_sums ? bw->weight_sums + chunk * O * K : NULL;
    double *gb = bw->bias_sums ? bw->bias_sums + chunk * O : NULL;
    for (int64_t n0 = begin; n0 < end; n0 += p->images) {
        int64_t b = end - n0 < p->images ? end - n0 : p->images;
        conv_backward_step(bw, bw->g + n0 * O * L, n0, b, cols, gw, gb);
    }
}
/* SOLUTION END */

int tensor_conv2d_backward(const Tensor *grad_output, const Tensor *input,
                           const Tensor *weight, Window2d w, Tensor **grad_input,
                           Tensor **grad_weight, Tensor **grad_bias)
{
    if (grad_input)
        *grad_input = NULL;
    if (grad_weight)
        *grad_weight = NULL;
    if (grad_bias)
        *grad_bias = NULL;
    STRATA_CHECK_ARG(grad_output, -1);
    STRATA_CHECK_ARG(input, -1);
    STRATA_CHECK_ARG(weight, -1);
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=-1 */
    int64_t oh, ow;
    if (check_conv(input, weight, NULL, w, &oh, &ow) < 0)
        return -1;
    int64_t N = input->shape[0], O = weight->shape[0];
    int64_t expected[4] = {N, O, oh, ow};
    if (grad_output->ndim != 4 || memcmp(grad_output->shape, expected, sizeof expected) != 0) {
        char a[SHAPE_STR_SIZE], b[SHAPE_STR_SIZE];
        strata_set_error("tensor_conv2d_backward: grad_output %s does not match the "
                         "output shape %s", tensor_shape_str(grad_output, a, sizeof a),
                         tensor_format_shape(expected, 4, b, sizeof b));
        return -1;
    }
    Tensor *g = tensor_contiguous(grad_output), *wc = g ? tensor_contiguous(weight) : NULL;
    ConvPlan plan;
    conv_plan(&plan, input, wc ? wc->data : NULL, O, NULL, w, oh, ow);
    int chunks = plan.chunks;
    /* Winograd takes grad_input and grad_weight; the loop below then only sums the bias */
    bool winograd = N * O * oh * ow > 0 && winograd_applies(w, input->shape[1], O);
    int64_t scratch_shape[1] = {winograd ? 0 : conv_backward_scratch(&plan)};
    int64_t bias_shape[1] = {O};
    Tensor *scratch = wc ? tensor_new(scratch_shape, 1, __func__) : NULL;
    double *bias_sums = scratch && grad_bias
                            ? strata_calloc((size_t)chunks * (size_t)O, sizeof(double))
                            : NULL;
    Tensor *gi = grad_input && scratch ? tensor_new(input->shape, 4, __func__) : NULL;
    Tensor *gw = grad_weight && scratch ? tensor_zeros(weight->shape, 4) : NULL;
    Tensor *gb = grad_bias && scratch ? tensor_new(bias_shape, 1, __func__) : NULL;
    int rc = -1;
    if (scratch && (!grad_bias || (bias_sums && gb)) && (!grad_input || gi) &&
        (!grad_weight || gw)) {
        int64_t OK = O * plan.K;
        float *weight_sums = winograd ? NULL
                                      : scratch->data + plan.threads * plan.K * plan.images * plan.L;
        ConvBackward bw = {&plan, g->data, winograd ? NULL : scratch->data,
                           gw && !winograd ? weight_sums : NULL, bias_sums,
                           gi && !winograd ? gi->data : NULL, gw && !winograd};
        if (bw.want_weight) /* each chunk's sum starts at 0 */
            memset(weight_sums, 0, (size_t)(chunks * OK) * sizeof(float));
        strata_parallel_for(plan.N, 1, conv_backward_images, &bw);
        /* Each chunk's sums, added in chunk order: the same result on every run. */
        for (int c = 0; bw.want_weight && c < chunks; c++) {
            const float *part = weight_sums + c * OK;
            for (int64_t i = 0; i < OK; i++)
                gw->data[i] += part[i];
        }
        for (int64_t o = 0; gb && o < O; o++) {
            double sum = 0;
            for (int c = 0; c < chunks; c++)
                sum += bias_sums[c * O + o];
            gb->data[o] = (float)sum;
        }
        rc = 0;
        if (winograd && (gi || gw))
            rc = winograd_conv2d_backward(g->data, input, wc, w, oh, ow,
                                          gi ? gi->data : NULL, gw ? gw->data : NULL);
    }
    strata_free(bias_sums);
    tensor_release(scratch);
    tensor_release(wc);
    tensor_release(g);
    if (rc < 0) {
        tensor_release(gi);
        tensor_release(gw);
        tensor_release(gb);
        return -1;
    }
    if (grad_input)
        *grad_input = gi;
    if (grad_weight)
        *grad_weight = gw;
    if (grad_bias)
        *grad_bias = gb;
    return 0;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=12 tier=given */
/*
 * The backward of 2x2 pooling (stride 2) as a gather instead of a scatter. The scatter
 * (pool.c) zeroes the input-sized gradient, then adds each window's gradient at the
 * position its index names: two passes over the largest tensor, the second a scalar
 * loop of random writes. But 2x2 windows with stride 2 do not overlap, so when every
 * index lies inside its own window, each input position receives at most one
 * gradient and can be written once, in order: the window's gradient where the index
 * points, +0 elsewhere. That is a loop over the window's four positions that
 * vectorizes, and no memset.
 *
 * The bits are the scatter's: it adds to +0, so the chosen position holds +0 + g (a -0
 * gradient becomes +0, a masked one +0), and positions no window covers (the last row
 * and column of an odd size) stay +0. The check that each index lies in its window is
 * made on the way; when one does not (the pooling had other windows, or an index is
 * bad), the caller runs the scatter instead, which handles any index and reports bad
 * ones.
 */

/*
 * Outputs x0 .. x0+n-1 of one output row of the gather: the four positions of each
 * window, in the two input rows d0 and d1. Returns whether every index was in its
 * window. Called with n a constant 8 or 4, so that after inlining the loop has a fixed
 * trip count and compiles to straight vector code with no scalar tail.
 */
static inline int unpool_block(const float *restrict g, const float *restrict idx,
                               const float *restrict mask, float row_at, float fw, int64_t x0,
                               const int n, float *restrict d0, float *restrict d1)
{
    int inside = 1;
#pragma omp simd reduction(& : inside)
    for (int64_t x = x0; x < x0 + n; x++) {
        float at = row_at + 2.0f * (float)x; /* where the window's top left is */
        float v = idx[x];
        float s = 0.0f + (mask[x] <= 0.0f ? 0.0f : g[x]); /* the scatter's +0 + g */
        d0[2 * x] = v == at ? s : 0.0f;
        d0[2 * x + 1] = v == at + 1.0f ? s : 0.0f;
        d1[2 * x] = v == at + fw ? s : 0.0f;
        d1[2 * x + 1] = v == at + fw + 1.0f ? s : 0.0f;
        inside &= (v == at) | (v == at + 1.0f) | (v == at + fw) | (v == at + fw + 1.0f);
    }
    return inside;
}
/* SOLUTION END */

/* The gather on one plane: @p g, @p idx and @p mask are its [H/2, W/2] pooled gradient,
 * indices and mask (g passes where the mask is positive), @p dst its [H, W] input
 * gradient. Returns whether every index was in its window. */
bool tensor_max_unpool_2x2_plane(const float *restrict g, const float *restrict idx,
                                 const float *restrict mask, int64_t H, int64_t W,
                                 float *restrict dst)
{
    /* SOLUTION BEGIN week=1 step=12 tier=given fail=false */
    const int64_t oh = H / 2, ow = W / 2;
    const float fw = (float)W;
    int inside = 1;
    for (int64_t y = 0; y < oh; y++) {
        float *d0 = dst + 2 * y * W, *d1 = d0 + W;
        const float *gy = g + y * ow, *iy = idx + y * ow, *my = mask + y * ow;
        const float row_at = (float)(2 * y * W);
        /* Rows are short (14 or 7 outputs in a small CNN): a loop over x would run
         * mostly in its scalar tail. Blocks of 8 (or 4) instead, the last one moved back
         * to end at the row's end: it overlaps its neighbour, whose outputs it writes
         * again with the same values. */
        int64_t n = ow >= 8 ? 8 : ow >= 4 ? 4 : 1;
        for (int64_t x0 = 0; x0 < ow; x0 += n) {
            int64_t at = x0 + n <= ow ? x0 : ow - n;
            inside &= n == 8   ? unpool_block(gy, iy, my, row_at, fw, at, 8, d0, d1)
                      : n == 4 ? unpool_block(gy, iy, my, row_at, fw, at, 4, d0, d1)
                               : unpool_block(gy, iy, my, row_at, fw, at, 1, d0, d1);
        }
        if (W % 2) /* the column no window covers */
            d0[W - 1] = d1[W - 1] = 0.0f;
    }
    if (H % 2) /* the row no window covers */
        memset(dst + (H - 1) * W, 0, (size_t)W * sizeof(float));
    return inside;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=1 step=12 tier=stretch */
/*
 * Convolution, ReLU and 2x2 max pooling (stride 2), backward, for the im2col
 * convolution (a small CNN's first layer: one input channel, where Winograd does not
 * pay). The two backward passes would write the convolution's output gradient [N,
 * C_out, oh, ow] whole (pooling's backward) and read it back (the convolution's): for
 * 32 channels of 28x28 and a batch of 128, 12.8 MB each way, through memory. Here each
 * step of the convolution's backward makes its own images' output gradient in this
 * thread's scratch, from the pooled gradient (tensor_max_unpool_2x2_plane, above),
 * and uses it at once, while it is in cache. The floats are those of the two passes:
 * the same gather writes the same values, the same step (conv_backward_step) reads
 * them, in the same chunks, and the chunks' sums are added in the same order. It is
 * built of the im2col convolution's own parts (its plan and steps), so its tier is
 * theirs: where a handout cuts them, it cuts this too, and the stub's 0 sends the
 * caller to the two passes.
 */
typedef struct {
    ConvBackward bw;
    const float *pg, *pidx, *pmask;   /* pooled gradient, indices, pooled values */
    float *steps;                     /* per thread: a step's gradient [B, C_out, L] */
    bool outside[STRATA_MAX_THREADS]; /* per thread: an index outside its window seen */
} ConvPoolBackward;

/* Images [begin, end), on one thread: conv_backward_images, each step's grad_output
 * made from the pooled gradient first. Stops at an index outside its window. */
static void conv_pool_backward_images(void *ctx, int64_t begin, int64_t end, int chunk,
                                      int thread)
{
    ConvPoolBackward *cp = ctx;
    const ConvBackward *bw = &cp->bw;
    const ConvPlan *p = bw->plan;
    int64_t O = p->C_out, K = p->K, L = p->L, pooled = (p->oh / 2) * (p->ow / 2);
    float *cols = bw->scratch + thread * K * p->images * L;
    float *g = cp->steps + thread * O * p->images * L;
    float *gw = bw->weight_sums ? bw->weight_sums + chunk * O * K : NULL;
    double *gb = bw->bias_sums ? bw->bias_sums + chunk * O : NULL;
    for (int64_t n0 = begin; n0 < end; n0 += p->images) {
        int64_t b = end - n0 < p->images ? end - n0 : p->images;
        for (int64_t q = 0; q < b * O; q++) { /* plane q of the step */
            int64_t at = (n0 * O + q) * pooled;
            if (!tensor_max_unpool_2x2_plane(cp->pg + at, cp->pidx + at, cp->pmask + at,
                                             p->oh, p->ow, g + q * L)) {
                cp->outside[thread] = true;
                return;
            }
        }
        conv_backward_step(bw, g, n0, b, cols, gw, gb);
    }
}
/* SOLUTION END */

int conv2d_relu_max_pool2d_backward_im2col(const Tensor *grad_output, const Tensor *pooled,
                                           const Tensor *indices, const Tensor *input,
                                           const Tensor *weight, Window2d w, int64_t oh,
                                           int64_t ow, Tensor **grad_input,
                                           Tensor **grad_weight, Tensor **grad_bias,
                                           const char *fn)
{
    /* SOLUTION BEGIN week=1 step=12 tier=stretch fail=0 */
    int64_t N = input->shape[0], O = weight->shape[0];
    if (N * O * oh * ow == 0 || winograd_applies(w, input->shape[1], O) ||
        grad_output->shape[2] != oh / 2 || grad_output->shape[3] != ow / 2 ||
        oh * ow >= (1 << 24) || !tensor_is_contiguous(grad_output) ||
        !tensor_is_contiguous(pooled) || !tensor_is_contiguous(indices))
        return 0;
    Tensor *wc = tensor_contiguous(weight);
    ConvPlan plan;
    conv_plan(&plan, input, wc ? wc->data : NULL, O, NULL, w, oh, ow);
    int chunks = plan.chunks;
    int64_t OK = O * plan.K, cols = plan.threads * plan.K * plan.images * plan.L;
    /* as tensor_conv2d_backward's scratch (cols, then each chunk's grad_weight), then
     * each thread's step of grad_output */
    int64_t scratch_shape[1] = {conv_backward_scratch(&plan) +
                                plan.threads * O * plan.images * plan.L};
    int64_t bias_shape[1] = {O};
    Tensor *scratch = wc ? tensor_new(scratch_shape, 1, fn) : NULL;
    double *bias_sums = scratch && grad_bias
                            ? strata_calloc((size_t)chunks * (size_t)O, sizeof(double))
                            : NULL;
    Tensor *gi = grad_input && scratch ? tensor_new(input->shape, 4, fn) : NULL;
    Tensor *gw = grad_weight && scratch ? tensor_zeros(weight->shape, 4) : NULL;
    Tensor *gb = grad_bias && scratch ? tensor_new(bias_shape, 1, fn) : NULL;
    int rc = -1;
    if (scratch && (!grad_bias || (bias_sums && gb)) && (!grad_input || gi) &&
        (!grad_weight || gw)) {
        float *weight_sums = scratch->data + cols;
        ConvPoolBackward cp = {{&plan, NULL, scratch->data, gw ? weight_sums : NULL,
                                bias_sums, gi ? gi->data : NULL, gw != NULL},
                               grad_output->data, indices->data, pooled->data,
                               weight_sums + chunks * OK, {0}};
        if (gw) /* each chunk's sum starts at 0 */
            memset(weight_sums, 0, (size_t)(chunks * OK) * sizeof(float));
        strata_parallel_for(plan.N, 1, conv_pool_backward_images, &cp);
        rc = 1;
        for (int t = 0; t < STRATA_MAX_THREADS; t++)
            if (cp.outside[t])
                rc = 0; /* the caller takes the two passes */
        /* Each chunk's sums, added in chunk order, as tensor_conv2d_backward. */
        for (int c = 0; rc == 1 && gw && c < chunks; c++) {
            const float *part = weight_sums + c * OK;
            for (int64_t i = 0; i < OK; i++)
                gw->data[i] += part[i];
        }
        for (int64_t o = 0; rc == 1 && gb && o < O; o++) {
            double sum = 0;
            for (int c = 0; c < chunks; c++)
                sum += bias_sums[c * O + o];
            gb->data[o] = (float)sum;
        }
    }
    strata_free(bias_sums);
    tensor_release(scratch);
    tensor_release(wc);
    if (rc != 1) {
        tensor_release(gi);
        tensor_release(gw);
        tensor_release(gb);
        return rc;
    }
    if (grad_input)
        *grad_input = gi;
    if (grad_weight)
        *grad_weight = gw;
    if (grad_bias)
        *grad_bias = gb;
    return 1;
    /* SOLUTION END */
}
