/*
 * winograd.c - 3x3 convolutions of stride 1 by Winograd's minimal filtering F(2x2, 3x3),
 * forward and backward. conv.c sends a convolution here when winograd_applies().
 *
 * im2col + GEMM (conv.c) spends 9 multiplies per input channel on every output value:
 * 36 for a 2x2 block of outputs. Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", CVPR 2016) gets the same 2x2 block
 * from the 4x4 block of inputs it sees with 16 multiplies:
 *
 *     Y = A^T [ (G g G^T) (.) (B^T d B) ] A            ((.) is the elementwise product)
 *
 * d is the 4x4 input tile, g the 3x3 kernel, and B^T (4x4), G (4x3), A^T (2x4) are the
 * constant matrices below, made of 0, +-1 and 1/2. Summed over the input channels, the
 * elementwise products become 16 matrix products, one per position xi of the 4x4 tile:
 *
 *     M[xi] [C_out, tiles] = U[xi] [C_out, C_in] @ V[xi] [C_in, tiles]
 *
 * with U = G g G^T (the kernel transform, once per call) and V = B^T d B (the input
 * transform, once per tile and channel). The GEMMs do 16/36 = 1/2.25 of im2col's
 * multiplies; the transforms are only additions, cheap once C_in and C_out are large.
 *
 * The backward pass differentiates the same three linear steps:
 *     dM = A dY A^T                    per output tile (dY its 2x2 grad_output)
 *     dU[xi] = dM[xi] @ V[xi]^T        summed over tiles; grad_weight = G^T dU G
 *     dV[xi] = U[xi]^T @ dM[xi]        grad_input tile = B dV B^T, overlapping tiles added
 *
 * Tiles cover the output in 2x2 blocks. A tile that sticks out of the output (odd
 * sizes) or reads outside the input (padding) sees zeros there: each input plane is
 * first copied into a zero-bordered buffer, so every tile reads a full 4x4 block.
 *
 * The hot transforms below are the products with B^T, A^T and A written out as
 * additions, one row of tiles at a time, so that the compiler vectorizes them across
 * the tiles of a row. The whole file is the week-1 reference's speed-up, not part of
 * the week-1 handout (its region is cut).
 */
#include "tensor_internal.h"

#include <cblas.h>
#include <string.h>

/* SOLUTION BEGIN week=1 */

/* The transform matrices of F(2x2, 3x3). */
static const float WINO_G[4 * 3] = {
    1.0f, 0.0f, 0.0f, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0.0f, 0.0f, 1.0f,
};

/* Positions of a 4x4 tile: the 16 matrix products. */
#define XI 16

/* Bytes of a chunk's transformed inputs V and products M: about what L2 holds. */
#define WINOGRAD_CHUNK_BYTES ((int64_t)1 << 20)

/* Fewest input and output channels for which the transforms cost less than they save. */
#define WINOGRAD_MIN_CHANNELS 16

bool winograd_applies(Window2d w, int64_t C_in, int64_t C_out)
{
    return w.kernel_h == 3 && w.kernel_w == 3 && w.stride_h == 1 && w.stride_w == 1 &&
           w.dilation_h == 1 && w.dilation_w == 1 && C_in >= WINOGRAD_MIN_CHANNELS &&
           C_out >= WINOGRAD_MIN_CHANNELS;
}

/* The geometry of one call, and how the batch is cut into chunks. */
typedef struct {
    const float *x;   /* input [N, C, H, W], contiguous */
    const float *u;   /* kernel transform [XI, O, C] */
    int64_t N, C, H, W, O, oh, ow, pad_h, pad_w;
    int64_t th, tw;   /* tiles down and across the output of one image */
    int64_t ph, pw;   /* the zero-bordered plane: 2*th + 2 rows of 2*tw + 2 */
    int64_t images;   /* images per chunk, at most */
    int threads;      /* ranges the batch is cut into */
} Winograd;

static void winograd_plan(Winograd *p, const Tensor *input, int64_t O, Window2d w, int64_t oh,
                          int64_t ow)
{
    p->x = input->data;
    p->N = input->shape[0];
    p->C = input->shape[1];
    p->H = input->shape[2];
    p->W = input->shape[3];
    p->O = O;
    p->oh = oh;
    p->ow = ow;
    p->pad_h = w.padding_h;
    p->pad_w = w.padding_w;
    p->th = (oh + 1) / 2;
    p->tw = (ow + 1) / 2;
    p->ph = 2 * p->th + 2;
    p->pw = 2 * p->tw + 2;
    int64_t per_image = XI * (p->C + O) * p->th * p->tw * (int64_t)sizeof(float);
    int64_t B = WINOGRAD_CHUNK_BYTES / per_image;
    p->threads = strata_parallel_threads(p->N, 1);
    int64_t share = (p->N + p->threads - 1) / p->threads;
    p->images = B < 1 ? 1 : B > share ? share : B;
}

/* Tiles in one chunk, at most. */
static int64_t chunk_tiles(const Winograd *p)
{
    return p->images * p->th * p->tw;
}

/* Floats of one thread's scratch: V, M, the bordered plane, and eight rows of it. */
static int64_t thread_scratch(const Winograd *p)
{
    return XI * (p->C + p->O) * chunk_tiles(p) + p->ph * p->pw + 8 * p->pw;
}

/* out (r x r) = L X L^T, with L r x k and X k x k: every transform has this form. */
static void sandwich(const float *L, int r, int k, const float *X, float *out)
{
    float LX[4 * 4];
    for (int i = 0; i < r; i++)
        for (int j = 0; j < k; j++) {
            float s = 0;
            for (int m = 0; m < k; m++)
                s += L[i * k + m] * X[m * k + j];
            LX[i * k + j] = s;
        }
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++) {
            float s = 0;
            for (int m = 0; m < k; m++)
                s += LX[i * k + m] * L[j * k + m];
            out[i * r + j] = s;
        }
}

/* U[xi, o, c] = (G g G^T)[xi] for every kernel g = weight[o, c] (contiguous [O, C, 3, 3]). */
static void kernel_transform(const float *weight, int64_t O, int64_t C, float *u)
{
    for (int64_t oc = 0; oc < O * C; oc++) {
        float t[XI];
        sandwich(WINO_G, 4, 3, weight + oc * 9, t);
        for (int xi = 0; xi < XI; xi++)
            u[xi * O * C + oc] = t[xi];
    }
}

/* grad_weight[o, c] = G^T dU[:, o, c] G: the kernel transform's adjoint. */
static void kernel_transform_backward(const float *du, int64_t O, int64_t C, float *grad_weight)
{
    float Gt[3 * 4]; /* G^T */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            Gt[i * 4 + j] = WINO_G[j * 3 + i];
    for (int64_t oc = 0; oc < O * C; oc++) {
        float d[XI];
        for (int xi = 0; xi < XI; xi++)
            d[xi] = du[xi * O * C + oc];
        sandwich(Gt, 3, 4, d, grad_weight + oc * 9);
    }
}

/* Copy input plane [H, W] into the zero-bordered plane: plane[r][c] = x[r - pad_h][c - pad_w]. */
static void border_plane(const Winograd *p, const float *x, float *plane)
{
    memset(plane, 0, (size_t)(p->ph * p->pw) * sizeof(float));
    for (int64_t r = 0; r < p->H && r + p->pad_h < p->ph; r++) {
        int64_t c0 = p->pad_w, n = p->W < p->pw - c0 ? p->W : p->pw - c0;
        if (n > 0)
            memcpy(plane + (r + p->pad_h) * p->pw + c0, x + r * p->W, (size_t)n * sizeof(float));
    }
}

/*
 * V[xi, c, t0 + ty*tw + tx] = (B^T d B)[xi] for every tile of one bordered plane (its
 * channel c's V rows start at v, planes XI apart by @p stride). B^T's rows
 * (1 0 -1 0), (0 1 1 0), (0 -1 1 0), (0 1 0 -1) mix four input rows into e0..e3, then
 * the same mix of four columns gives the tile's four values in each of e's rows.
 */
static void input_transform(const Winograd *p, const float *plane, float *rows, float *v,
                            int64_t stride)
{
    int64_t pw = p->pw, tw = p->tw;
    float *e[4] = {rows, rows + pw, rows + 2 * pw, rows + 3 * pw};
    for (int64_t ty = 0; ty < p->th; ty++) {
        const float *d0 = plane + 2 * ty * pw, *d1 = d0 + pw, *d2 = d1 + pw, *d3 = d2 + pw;
        for (int64_t c = 0; c < pw; c++) {
            e[0][c] = d0[c] - d2[c];
            e[1][c] = d1[c] + d2[c];
            e[2][c] = d2[c] - d1[c];
            e[3][c] = d1[c] - d3[c];
        }
        for (int i = 0; i < 4; i++) {
            const float *r = e[i];
            float *v0 = v + (4 * i) * stride + ty * tw, *v1 = v0 + stride, *v2 = v1 + stride,
                  *v3 = v2 + stride;
            for (int64_t tx = 0; tx < tw; tx++) {
                float a = r[2 * tx], b = r[2 * tx + 1], c = r[2 * tx + 2], d = r[2 * tx + 3];
                v0[tx] = a - c;
                v1[tx] = b + c;
                v2[tx] = c - b;
                v3[tx] = b - d;
            }
        }
    }
}

/* V for every channel of images n0 .. n0+b-1: [XI, C, T] with T = b*th*tw tiles. */
static void input_transform_chunk(const Winograd *p, int64_t n0, int64_t b, float *v,
                                  float *plane, float *rows)
{
    int64_t tiles = p->th * p->tw, T = b * tiles;
    for (int64_t n = 0; n < b; n++)
        for (int64_t c = 0; c < p->C; c++) {
            border_plane(p, p->x + ((n0 + n) * p->C + c) * p->H * p->W, plane);
            input_transform(p, plane, rows, v + c * T + n * tiles, p->C * T);
        }
}

/*
 * One output plane [oh, ow] from its products m (planes XI apart by @p stride):
 * Y = A^T m A with A^T's rows (1 1 1 0) and (0 1 -1 -1), plus the bias.
 */
static void output_transform(const Winograd *p, const float *m, int64_t stride, float bias,
                             float *rows, float *out)
{
    int64_t tw = p->tw;
    float *y0 = rows, *y1 = rows + 2 * tw; /* the tile row's two output rows, 2*tw wide */
    for (int64_t ty = 0; ty < p->th; ty++) {
        const float *mt = m + ty * tw;
        for (int64_t tx = 0; tx < tw; tx++) {
            float s0[4], s1[4];
            for (int j = 0; j < 4; j++) {
                float m0 = mt[j * stride + tx], m1 = mt[(4 + j) * stride + tx];
                float m2 = mt[(8 + j) * stride + tx], m3 = mt[(12 + j) * stride + tx];
                s0[j] = m0 + m1 + m2;
                s1[j] = m1 - m2 - m3;
            }
            y0[2 * tx] = s0[0] + s0[1] + s0[2] + bias;
            y0[2 * tx + 1] = s0[1] - s0[2] - s0[3] + bias;
            y1[2 * tx] = s1[0] + s1[1] + s1[2] + bias;
            y1[2 * tx + 1] = s1[1] - s1[2] - s1[3] + bias;
        }
        memcpy(out + 2 * ty * p->ow, y0, (size_t)p->ow * sizeof(float));
        if (2 * ty + 1 < p->oh)
            memcpy(out + (2 * ty + 1) * p->ow, y1, (size_t)p->ow * sizeof(float));
    }
}

/*
 * dM = A dY A^T for every tile of one grad_output plane g [oh, ow] (zeros past its
 * edge), into m (planes XI apart by @p stride). A's columns (1 1 1 0) and (0 1 -1 -1)
 * send a pair (u, v) to (u, u + v, u - v, -v), down the rows and then across.
 */
static void grad_output_transform(const Winograd *p, const float *g, float *rows, float *m,
                                  int64_t stride)
{
    int64_t tw = p->tw;
    float *g0 = rows, *g1 = rows + 2 * tw; /* the tile row's two grad rows, zero-padded */
    for (int64_t ty = 0; ty < p->th; ty++) {
        memset(g0, 0, (size_t)(4 * tw) * sizeof(float));
        memcpy(g0, g + 2 * ty * p->ow, (size_t)p->ow * sizeof(float));
        if (2 * ty + 1 < p->oh)
            memcpy(g1, g + (2 * ty + 1) * p->ow, (size_t)p->ow * sizeof(float));
        float *mt = m + ty * tw;
        for (int64_t tx = 0; tx < tw; tx++) {
            float a = g0[2 * tx], b = g0[2 * tx + 1], c = g1[2 * tx], d = g1[2 * tx + 1];
            float u[4] = {a, a + c, a - c, -c}, v[4] = {b, b + d, b - d, -d};
            for (int i = 0; i < 4; i++) {
                mt[(4 * i) * stride + tx] = u[i];
                mt[(4 * i + 1) * stride + tx] = u[i] + v[i];
                mt[(4 * i + 2) * stride + tx] = u[i] - v[i];
                mt[(4 * i + 3) * stride + tx] = -v[i];
            }
        }
    }
}

/*
 * Add B dV B^T of every tile of one channel (dv: planes XI apart by @p stride) into the
 * bordered gradient plane. B's rows are B^T's columns: a four-vector (w0 w1 w2 w3) goes
 * to (w0, w1 - w2 + w3, w1 + w2 - w0, -w3), down the rows and then across. Neighbouring
 * tiles overlap by two rows and two columns, so their parts add up.
 */
static void grad_input_transform(const Winograd *p, const float *dv, int64_t stride,
                                 float *rows, float *plane)
{
    int64_t tw = p->tw, pw = p->pw;
    float *h = rows; /* h[(4r + s) * tw + tx]: row r, column s of tile tx's B dV B^T */
    for (int64_t ty = 0; ty < p->th; ty++) {
        const float *vt = dv + ty * tw;
        for (int64_t tx = 0; tx < tw; tx++) {
            float q[4][4];
            for (int j = 0; j < 4; j++) {
                float w0 = vt[j * stride + tx], w1 = vt[(4 + j) * stride + tx];
                float w2 = vt[(8 + j) * stride + tx], w3 = vt[(12 + j) * stride + tx];
                q[0][j] = w0;
                q[1][j] = w1 - w2 + w3;
                q[2][j] = w1 + w2 - w0;
                q[3][j] = -w3;
            }
            for (int r = 0; r < 4; r++) {
                h[(4 * r) * tw + tx] = q[r][0];
                h[(4 * r + 1) * tw + tx] = q[r][1] - q[r][2] + q[r][3];
                h[(4 * r + 2) * tw + tx] = q[r][1] + q[r][2] - q[r][0];
                h[(4 * r + 3) * tw + tx] = -q[r][3];
            }
        }
        for (int r = 0; r < 4; r++) {
            const float *h0 = h + 4 * r * tw, *h1 = h0 + tw, *h2 = h1 + tw, *h3 = h2 + tw;
            float *out = plane + (2 * ty + r) * pw;
            for (int64_t tx = 0; tx < tw; tx++) {
                out[2 * tx] += h0[tx];
                out[2 * tx + 1] += h1[tx];
            }
            for (int64_t tx = 0; tx < tw; tx++) {
                out[2 * tx + 2] += h2[tx];
                out[2 * tx + 3] += h3[tx];
            }
        }
    }
}

/* The 16 products of a chunk of T tiles: M[xi] = U[xi] @ V[xi]. */
static void products(const Winograd *p, const float *v, float *m, int64_t T)
{
    int64_t O = p->O, C = p->C;
    for (int xi = 0; xi < XI; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)O, (int)T, (int)C, 1.0f,
                    p->u + xi * O * C, (int)C, v + xi * C * T, (int)T, 0.0f, m + xi * O * T,
                    (int)T);
}

/* The forward loop's context. */
typedef struct {
    const Winograd *plan;
    const Tensor *bias; /* [O] or NULL */
    float *scratch;     /* thread_scratch() floats per thread */
    float *out;         /* [N, O, oh, ow] */
} WinogradForward;

/* Images [begin, end) of the forward pass on one thread, a chunk at a time. */
static void forward_images(void *ctx, int64_t begin, int64_t end, int thread)
{
    const WinogradForward *f = ctx;
    const Winograd *p = f->plan;
    int64_t TB = chunk_tiles(p), tiles = p->th * p->tw, L = p->oh * p->ow;
    float *v = f->scratch + thread * thread_scratch(p), *m = v + XI * p->C * TB;
    float *plane = m + XI * p->O * TB, *rows = plane + p->ph * p->pw;
    for (int64_t n0 = begin; n0 < end; n0 += p->images) {
        int64_t b = end - n0 < p->images ? end - n0 : p->images, T = b * tiles;
        input_transform_chunk(p, n0, b, v, plane, rows);
        products(p, v, m, T);
        for (int64_t n = 0; n < b; n++)
            for (int64_t o = 0; o < p->O; o++) {
                float bias = f->bias ? f->bias->data[o * f->bias->strides[0]] : 0.0f;
                output_transform(p, m + o * T + n * tiles, p->O * T, bias, rows,
                                 f->out + ((n0 + n) * p->O + o) * L);
            }
    }
}

/* The kernel transform of @p weight, in a new [XI, O, C] tensor (NULL on failure). */
static Tensor *transformed_kernel(const Tensor *weight)
{
    Tensor *wc = tensor_contiguous(weight);
    int64_t O = weight->shape[0], C = weight->shape[1];
    int64_t shape[3] = {XI, O, C};
    Tensor *u = wc ? tensor_new(shape, 3, "tensor_conv2d") : NULL;
    if (u)
        kernel_transform(wc->data, O, C, u->data);
    tensor_release(wc);
    return u;
}

int winograd_conv2d(const Tensor *input, const Tensor *weight, const Tensor *bias, Window2d w,
                    Tensor *out)
{
    Tensor *x = tensor_contiguous(input), *u = x ? transformed_kernel(weight) : NULL;
    Winograd plan;
    int64_t scratch_shape[1] = {0};
    Tensor *scratch = NULL;
    if (u) {
        winograd_plan(&plan, x, weight->shape[0], w, out->shape[2], out->shape[3]);
        plan.u = u->data;
        scratch_shape[0] = plan.threads * thread_scratch(&plan);
        scratch = tensor_new(scratch_shape, 1, "tensor_conv2d");
    }
    if (scratch) {
        WinogradForward f = {&plan, bias, scratch->data, out->data};
        strata_parallel_for(plan.N, 1, forward_images, &f);
    }
    int rc = scratch ? 0 : -1;
    tensor_release(scratch);
    tensor_release(u);
    tensor_release(x);
    return rc;
}

/* The backward loop's context. */
typedef struct {
    const Winograd *plan;
    const float *g;      /* grad_output [N, O, oh, ow], contiguous */
    float *scratch;      /* per thread: thread_scratch() floats */
    float *du;           /* per thread: its dU sum [XI, O, C], or NULL */
    float *grad_input;   /* [N, C, H, W], or NULL */
} WinogradBackward;

/* Write the inside of the bordered gradient plane to the image's plane [H, W]. */
static void unborder_plane(const Winograd *p, const float *plane, float *gx)
{
    for (int64_t r = 0; r < p->H; r++)
        memcpy(gx + r * p->W, plane + (r + p->pad_h) * p->pw + p->pad_w,
               (size_t)p->W * sizeof(float));
}

/*
 * Images [begin, end) of the backward pass on one thread, a chunk at a time:
 * dM from grad_output; dU += dM @ V^T (V recomputed from the input); dV = U^T @ dM,
 * added back into the images' gradient planes.
 */
static void backward_images(void *ctx, int64_t begin, int64_t end, int thread)
{
    const WinogradBackward *bw = ctx;
    const Winograd *p = bw->plan;
    int64_t O = p->O, C = p->C, TB = chunk_tiles(p), tiles = p->th * p->tw;
    float *v = bw->scratch + thread * thread_scratch(p), *m = v + XI * C * TB;
    float *plane = m + XI * O * TB, *rows = plane + p->ph * p->pw;
    float *du = bw->du ? bw->du + thread * XI * O * C : NULL;
    for (int64_t n0 = begin; n0 < end; n0 += p->images) {
        int64_t b = end - n0 < p->images ? end - n0 : p->images, T = b * tiles;
        for (int64_t n = 0; n < b; n++)
            for (int64_t o = 0; o < O; o++)
                grad_output_transform(p, bw->g + ((n0 + n) * O + o) * p->oh * p->ow, rows,
                                      m + o * T + n * tiles, O * T);
        if (du) {
            input_transform_chunk(p, n0, b, v, plane, rows);
            for (int xi = 0; xi < XI; xi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)O, (int)C, (int)T,
                            1.0f, m + xi * O * T, (int)T, v + xi * C * T, (int)T, 1.0f,
                            du + xi * O * C, (int)C);
        }
        if (!bw->grad_input)
            continue;
        for (int xi = 0; xi < XI; xi++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)T, (int)O, 1.0f,
                        p->u + xi * O * C, (int)C, m + xi * O * T, (int)T, 0.0f,
                        v + xi * C * T, (int)T);
        for (int64_t n = 0; n < b; n++)
            for (int64_t c = 0; c < C; c++) {
                memset(plane, 0, (size_t)(p->ph * p->pw) * sizeof(float));
                grad_input_transform(p, v + c * T + n * tiles, C * T, rows, plane);
                unborder_plane(p, plane, bw->grad_input + ((n0 + n) * C + c) * p->H * p->W);
            }
    }
}

int winograd_conv2d_backward(const float *grad_output, const Tensor *input,
                             const Tensor *weight, Window2d w, int64_t oh, int64_t ow,
                             float *grad_input, float *grad_weight)
{
    Tensor *x = tensor_contiguous(input), *u = x ? transformed_kernel(weight) : NULL;
    Winograd plan;
    Tensor *scratch = NULL;
    float *du = NULL;
    if (u) {
        winograd_plan(&plan, x, weight->shape[0], w, oh, ow);
        plan.u = u->data;
        int64_t per_thread = thread_scratch(&plan) + (grad_weight ? XI * plan.O * plan.C : 0);
        int64_t scratch_shape[1] = {plan.threads * per_thread};
        scratch = tensor_new(scratch_shape, 1, "tensor_conv2d_backward");
        if (scratch && grad_weight) { /* each thread's dU sum, after all the scratches */
            du = scratch->data + plan.threads * thread_scratch(&plan);
            memset(du, 0, (size_t)(plan.threads * XI * plan.O * plan.C) * sizeof(float));
        }
    }
    if (scratch) {
        WinogradBackward bw = {&plan, grad_output, scratch->data, du, grad_input};
        strata_parallel_for(plan.N, 1, backward_images, &bw);
        /* Each thread's dU, added in thread order: the same result on every run. */
        int64_t n = XI * plan.O * plan.C;
        for (int t = 1; du && t < plan.threads; t++)
            for (int64_t i = 0; i < n; i++)
                du[i] += du[t * n + i];
        if (du)
            kernel_transform_backward(du, plan.O, plan.C, grad_weight);
    }
    int rc = scratch ? 0 : -1;
    tensor_release(scratch);
    tensor_release(u);
    tensor_release(x);
    return rc;
}

/* SOLUTION END */
